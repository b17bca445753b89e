using System;

namespace PrecomputedTools.Engine.Codecs;

/// <summary>
/// The neuroglancer compressed_segmentation encoding (FORMATS.md §5), one channel per chunk,
/// byte-identical to Google's reference encoder.
/// </summary>
public static class CompressedSegmentation
{
    /// <summary>Encodes a uint64 chunk of <paramref name="shape"/> (x fastest) into a complete chunk file (with the channel-offset word).</summary>
    public static byte[] Encode(ReadOnlySpan<ulong> voxels, Int3 shape, Int3 blockSize) =>
        throw new NotSupportedException("compressed_segmentation encoder not built yet");

    /// <summary>Encodes a uint32 chunk.</summary>
    public static byte[] Encode(ReadOnlySpan<uint> voxels, Int3 shape, Int3 blockSize) =>
        throw new NotSupportedException("compressed_segmentation encoder not built yet");

    /// <summary>Decodes a single-channel uint64 chunk file into <paramref name="destination"/> (x fastest).</summary>
    public static void Decode(ReadOnlySpan<byte> encoded, Int3 shape, Int3 blockSize, Span<ulong> destination) =>
        throw new NotSupportedException("compressed_segmentation decoder not built yet");

    /// <summary>Decodes a single-channel uint32 chunk file.</summary>
    public static void Decode(ReadOnlySpan<byte> encoded, Int3 shape, Int3 blockSize, Span<uint> destination) =>
        throw new NotSupportedException("compressed_segmentation decoder not built yet");
}
