using System;
using System.Runtime.InteropServices;
using PrecomputedTools.Engine.Codecs;

namespace PrecomputedTools.Engine.Precomputed;

/// <summary>Encodes and decodes one chunk of a scale according to its encoding and data type.</summary>
public static class ChunkCodec
{
    /// <summary>
    /// The largest encoded (un-gzipped) size a valid chunk of this shape can have: raw is exactly
    /// the voxels; compressed_segmentation at most a header per block plus, per block, a full
    /// value table and 32-bit indices (the spec's widest encoding). Reads stop beyond it (gzip bombs).
    /// </summary>
    public static int MaxEncodedLength(VoxelType dataType, int channels, ScaleInfo scale, Int3 shape)
    {
        long element = VoxelTypes.SizeOf(dataType);
        long voxels = shape.Volume * Math.Max(1, channels);
        long bound;
        if (scale.Encoding == ChunkEncodings.CompressedSegmentation)
        {
            Int3 block = scale.BlockSize ?? new Int3(8, 8, 8);
            long blocks = Int3.CeilDiv(shape, block).Volume * Math.Max(1, channels);
            bound = (4L * Math.Max(1, channels)) + (blocks * (8 + (block.Volume * (element + 4))));
        }
        else if (scale.Encoding == ChunkEncodings.Raw)
        {
            bound = voxels * element;
        }
        else
        {
            // Image codecs (jpeg, png, ...) are never larger than a generous multiple of the raw voxels.
            bound = (voxels * element * 2) + (1 << 16);
        }

        return (int)Math.Min(bound, int.MaxValue - 64);
    }

    /// <summary>
    /// Encodes the voxels of a chunk (native element type, x fastest, exactly the clipped chunk
    /// shape) into the bytes of its chunk file (before any gzip).
    /// </summary>
    public static byte[] Encode(VoxelType dataType, ScaleInfo scale, Int3 shape, ReadOnlySpan<byte> voxels)
    {
        CheckLength(dataType, shape, voxels.Length, "encode");
        switch (scale.Encoding)
        {
            case ChunkEncodings.Raw:
                return voxels.ToArray();
            case ChunkEncodings.CompressedSegmentation:
                Int3 block = scale.BlockSize ?? new Int3(8, 8, 8);
                return dataType switch
                {
                    VoxelType.UInt64 => CompressedSegmentation.Encode(MemoryMarshal.Cast<byte, ulong>(voxels), shape, block),
                    VoxelType.UInt32 => CompressedSegmentation.Encode(MemoryMarshal.Cast<byte, uint>(voxels), shape, block),
                    _ => throw Unsupported(dataType, scale),
                };
            case ChunkEncodings.Jpeg when dataType == VoxelType.UInt8:
                return ImageChunkCodecs.EncodeJpeg(voxels, shape, scale.JpegQuality ?? ImageChunkCodecs.DefaultJpegQuality);
            case ChunkEncodings.Png when dataType is VoxelType.UInt8 or VoxelType.UInt16:
                return ImageChunkCodecs.EncodePng(voxels, VoxelTypes.SizeOf(dataType), shape, scale.PngLevel ?? ImageChunkCodecs.DefaultPngLevel);
            default:
                throw Unsupported(dataType, scale);
        }
    }

    /// <summary>Decodes a chunk file's bytes into native voxels of the clipped chunk shape.</summary>
    public static void Decode(VoxelType dataType, ScaleInfo scale, Int3 shape, ReadOnlySpan<byte> encoded, Span<byte> destination, string? chunkName = null)
    {
        CheckLength(dataType, shape, destination.Length, "decode");
        switch (scale.Encoding)
        {
            case ChunkEncodings.Raw:
                if (encoded.Length != destination.Length)
                {
                    throw new EngineException(
                        "ChunkSizeMismatch",
                        EngineErrorKind.InvalidData,
                        $"Raw chunk {chunkName} of scale {scale.Key} has {encoded.Length} bytes; its shape {shape} needs {destination.Length}.",
                        chunkName);
                }

                encoded.CopyTo(destination);
                return;
            case ChunkEncodings.CompressedSegmentation:
                Int3 block = scale.BlockSize ?? new Int3(8, 8, 8);
                switch (dataType)
                {
                    case VoxelType.UInt64:
                        CompressedSegmentation.Decode(encoded, shape, block, MemoryMarshal.Cast<byte, ulong>(destination));
                        return;
                    case VoxelType.UInt32:
                        CompressedSegmentation.Decode(encoded, shape, block, MemoryMarshal.Cast<byte, uint>(destination));
                        return;
                    default:
                        throw Unsupported(dataType, scale);
                }

            case ChunkEncodings.Jpeg when dataType == VoxelType.UInt8:
                ImageChunkCodecs.DecodeJpeg(encoded, shape, destination, chunkName);
                return;
            case ChunkEncodings.Png when dataType is VoxelType.UInt8 or VoxelType.UInt16:
                ImageChunkCodecs.DecodePng(encoded, VoxelTypes.SizeOf(dataType), shape, destination, chunkName);
                return;
            default:
                throw Unsupported(dataType, scale);
        }
    }

    /// <summary>
    /// Checks that a chunk file decodes to <paramref name="shape"/> (throws the decoder's error if not),
    /// one block layer at a time so that large chunks need little memory.
    /// </summary>
    public static void Verify(VoxelType dataType, ScaleInfo scale, Int3 shape, ReadOnlySpan<byte> encoded, string? chunkName = null)
    {
        int element = VoxelTypes.SizeOf(dataType);
        if (scale.Encoding == ChunkEncodings.Raw)
        {
            if (encoded.Length != shape.Volume * element)
            {
                throw new EngineException("ChunkSizeMismatch", EngineErrorKind.InvalidData, $"Raw chunk {chunkName} of scale {scale.Key} has {encoded.Length} bytes; its shape {shape} needs {shape.Volume * element}.", chunkName);
            }

            return;
        }

        if (ChunkEncodings.IsImageCodec(scale.Encoding))
        {
            // An image decodes whole; chunks are small enough (a 64³ uint16 chunk is 512 KiB).
            int bytes = checked((int)(shape.Volume * element));
            byte[] image = EngineBuffers.Bytes.Rent(Math.Max(1, bytes));
            try
            {
                Decode(dataType, scale, shape, encoded, image.AsSpan(0, bytes), chunkName);
            }
            finally
            {
                EngineBuffers.Bytes.Return(image);
            }

            return;
        }

        if (scale.Encoding != ChunkEncodings.CompressedSegmentation || !VoxelTypes.IsLabelType(dataType))
        {
            throw Unsupported(dataType, scale);
        }

        Int3 block = scale.BlockSize ?? new Int3(8, 8, 8);
        int planeVoxels = shape.X * shape.Y;
        byte[] buffer = EngineBuffers.Bytes.Rent(planeVoxels * block.Z * element);
        try
        {
            for (int z = 0; z < shape.Z; z += block.Z)
            {
                int end = Math.Min(shape.Z, z + block.Z);
                Span<byte> layer = buffer.AsSpan(0, planeVoxels * (end - z) * element);
                if (dataType == VoxelType.UInt64)
                {
                    CompressedSegmentation.DecodePlanes(encoded, shape, block, z, end, MemoryMarshal.Cast<byte, ulong>(layer));
                }
                else
                {
                    CompressedSegmentation.DecodePlanes(encoded, shape, block, z, end, MemoryMarshal.Cast<byte, uint>(layer));
                }
            }
        }
        finally
        {
            EngineBuffers.Bytes.Return(buffer);
        }
    }

    private static void CheckLength(VoxelType dataType, Int3 shape, int length, string what)
    {
        long expected = shape.Volume * VoxelTypes.SizeOf(dataType);
        if (expected != length)
        {
            throw new ArgumentException($"Cannot {what} a {shape} chunk of {VoxelTypes.ToInfoName(dataType)}: the buffer has {length} bytes, expected {expected}.");
        }
    }

    private static EngineException Unsupported(VoxelType dataType, ScaleInfo scale) => new(
        "UnsupportedEncoding",
        EngineErrorKind.NotSupported,
        $"Scale {scale.Key}: encoding '{scale.Encoding}' with data type {VoxelTypes.ToInfoName(dataType)} is not supported (compressed_segmentation needs uint32/uint64, jpeg uint8, png uint8/uint16; raw works for every type).",
        scale.Key);
}
