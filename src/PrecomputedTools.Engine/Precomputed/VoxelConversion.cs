using System;
using System.Runtime.InteropServices;

namespace PrecomputedTools.Engine.Precomputed;

/// <summary>Copies voxels between element types (widening labels, e.g. uint8 slices to uint64 chunks).</summary>
public static class VoxelConversion
{
    /// <summary>
    /// Converts every element of <paramref name="destination"/>. Narrowing fails with a clear error when a value
    /// does not fit, so labels are never silently changed.
    /// </summary>
    public static void Convert(ReadOnlySpan<byte> source, VoxelType sourceType, Span<byte> destination, VoxelType destinationType, string? context = null)
    {
        if (sourceType == destinationType)
        {
            source.CopyTo(destination);
            return;
        }

        if (sourceType == VoxelType.Float32 || destinationType == VoxelType.Float32)
        {
            throw new EngineException("UnsupportedConversion", EngineErrorKind.InvalidArgument, $"Cannot convert {VoxelTypes.ToInfoName(sourceType)} voxels to {VoxelTypes.ToInfoName(destinationType)}{Where(context)}.", context);
        }

        switch (destinationType)
        {
            case VoxelType.UInt64:
                Widen(source, sourceType, MemoryMarshal.Cast<byte, ulong>(destination));
                return;
            case VoxelType.UInt32:
                Narrow(source, sourceType, MemoryMarshal.Cast<byte, uint>(destination), uint.MaxValue, context);
                return;
            case VoxelType.UInt16:
                Narrow(source, sourceType, MemoryMarshal.Cast<byte, ushort>(destination), ushort.MaxValue, context);
                return;
            case VoxelType.UInt8:
                Narrow(source, sourceType, destination, byte.MaxValue, context);
                return;
            default:
                throw new ArgumentOutOfRangeException(nameof(destinationType));
        }
    }

    private static void Widen(ReadOnlySpan<byte> source, VoxelType sourceType, Span<ulong> destination)
    {
        switch (sourceType)
        {
            case VoxelType.UInt8:
                for (int i = 0; i < destination.Length; i++)
                {
                    destination[i] = source[i];
                }

                return;
            case VoxelType.UInt16:
                ReadOnlySpan<ushort> u16 = MemoryMarshal.Cast<byte, ushort>(source);
                for (int i = 0; i < destination.Length; i++)
                {
                    destination[i] = u16[i];
                }

                return;
            case VoxelType.UInt32:
                ReadOnlySpan<uint> u32 = MemoryMarshal.Cast<byte, uint>(source);
                for (int i = 0; i < destination.Length; i++)
                {
                    destination[i] = u32[i];
                }

                return;
            default:
                throw new ArgumentOutOfRangeException(nameof(sourceType));
        }
    }

    private static void Narrow<T>(ReadOnlySpan<byte> source, VoxelType sourceType, Span<T> destination, ulong max, string? context)
        where T : unmanaged
    {
        for (int i = 0; i < destination.Length; i++)
        {
            ulong value = sourceType switch
            {
                VoxelType.UInt8 => source[i],
                VoxelType.UInt16 => MemoryMarshal.Read<ushort>(source.Slice(i * 2)),
                VoxelType.UInt32 => MemoryMarshal.Read<uint>(source.Slice(i * 4)),
                VoxelType.UInt64 => MemoryMarshal.Read<ulong>(source.Slice(i * 8)),
                _ => throw new ArgumentOutOfRangeException(nameof(sourceType)),
            };
            if (value > max)
            {
                throw new EngineException("LabelOutOfRange", EngineErrorKind.InvalidData, $"Label {value} does not fit the target data type (maximum {max}){Where(context)}.", context);
            }

            if (typeof(T) == typeof(uint))
            {
                MemoryMarshal.Cast<T, uint>(destination)[i] = (uint)value;
            }
            else if (typeof(T) == typeof(ushort))
            {
                MemoryMarshal.Cast<T, ushort>(destination)[i] = (ushort)value;
            }
            else
            {
                MemoryMarshal.Cast<T, byte>(destination)[i] = (byte)value;
            }
        }
    }

    private static string Where(string? context) => context is null ? "" : " in " + context;
}
