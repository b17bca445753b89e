using System;

namespace PrecomputedTools.Engine.Codecs;

/// <summary>Block reductions between scales (FORMATS.md §7.1).</summary>
public static class Downsampling
{
    /// <summary>
    /// Mode of each factor-sized block of <paramref name="source"/> (x fastest); ties go to the smallest
    /// label, 0 is an ordinary label, edge blocks use only the real voxels. Destination shape is
    /// ceil(sourceShape / factor).
    /// </summary>
    public static void Majority(ReadOnlySpan<ulong> source, Int3 sourceShape, Int3 factor, Span<ulong> destination) =>
        throw new NotSupportedException("majority downsampling not built yet");

    /// <summary>Mean of each block (rounded to nearest for integer types), for image data.</summary>
    public static void Average(ReadOnlySpan<byte> source, VoxelType type, Int3 sourceShape, Int3 factor, Span<byte> destination) =>
        throw new NotSupportedException("average downsampling not built yet");

    /// <summary>The first voxel of each block, for image data.</summary>
    public static void Stride(ReadOnlySpan<byte> source, VoxelType type, Int3 sourceShape, Int3 factor, Span<byte> destination) =>
        throw new NotSupportedException("stride downsampling not built yet");
}
