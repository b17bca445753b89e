using System;

namespace PrecomputedTools.Engine;

/// <summary>Element types a volume can hold. Names match the precomputed "data_type" strings.</summary>
public enum VoxelType
{
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Float32,
}

public static class VoxelTypes
{
    public static int SizeOf(VoxelType type) => type switch
    {
        VoxelType.UInt8 => 1,
        VoxelType.UInt16 => 2,
        VoxelType.UInt32 => 4,
        VoxelType.UInt64 => 8,
        VoxelType.Float32 => 4,
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    /// <summary>The precomputed/numpy spelling: "uint8", "uint64", "float32".</summary>
    public static string ToInfoName(VoxelType type) => type switch
    {
        VoxelType.UInt8 => "uint8",
        VoxelType.UInt16 => "uint16",
        VoxelType.UInt32 => "uint32",
        VoxelType.UInt64 => "uint64",
        VoxelType.Float32 => "float32",
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    public static bool TryParse(string? name, out VoxelType type)
    {
        switch (name?.Trim().ToLowerInvariant())
        {
            case "uint8": type = VoxelType.UInt8; return true;
            case "uint16": type = VoxelType.UInt16; return true;
            case "uint32": type = VoxelType.UInt32; return true;
            case "uint64": type = VoxelType.UInt64; return true;
            case "float32": type = VoxelType.Float32; return true;
            default: type = default; return false;
        }
    }

    public static bool IsLabelType(VoxelType type) => type is VoxelType.UInt32 or VoxelType.UInt64;
}
