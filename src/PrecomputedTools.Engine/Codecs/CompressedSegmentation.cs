using System;
using System.Runtime.InteropServices;

namespace PrecomputedTools.Engine.Codecs;

/// <summary>
/// The neuroglancer compressed_segmentation encoding (FORMATS.md §5), one channel per chunk,
/// byte-identical to Google's reference encoder.
/// </summary>
/// <remarks>
/// The static <c>Encode</c> methods use a per-thread <see cref="CompressedSegmentationEncoder"/> and
/// return a fresh array of the exact size. Callers that encode many chunks on one thread can keep their
/// own encoder and use its buffer directly, which allocates nothing once the buffers have grown.
/// </remarks>
public static class CompressedSegmentation
{
    /// <summary>Largest offset (in words, channel-relative) a block header can hold: offsets are 24-bit.</summary>
    public const int MaxOffsetWords = (1 << 24) - 1;

    [ThreadStatic]
    private static CompressedSegmentationEncoder? t_encoder;

    private static CompressedSegmentationEncoder ThreadEncoder => t_encoder ??= new CompressedSegmentationEncoder();

    /// <summary>Encodes a uint64 chunk of <paramref name="shape"/> (x fastest) into a complete chunk file (with the channel-offset word).</summary>
    public static byte[] Encode(ReadOnlySpan<ulong> voxels, Int3 shape, Int3 blockSize)
    {
        CompressedSegmentationEncoder encoder = ThreadEncoder;
        byte[] result = encoder.EncodeToBuffer(voxels, shape, blockSize).ToArray();
        encoder.TrimIfLarge();
        return result;
    }

    /// <summary>Encodes a uint32 chunk.</summary>
    public static byte[] Encode(ReadOnlySpan<uint> voxels, Int3 shape, Int3 blockSize)
    {
        CompressedSegmentationEncoder encoder = ThreadEncoder;
        byte[] result = encoder.EncodeToBuffer(voxels, shape, blockSize).ToArray();
        encoder.TrimIfLarge();
        return result;
    }

    /// <summary>Decodes a single-channel uint64 chunk file into <paramref name="destination"/> (x fastest).</summary>
    /// <remarks>
    /// Accepts any layout that follows FORMATS.md §5.1-5.3, not only the reference encoder's. The first
    /// <c>shape.Volume</c> elements of <paramref name="destination"/> are written.
    /// </remarks>
    /// <exception cref="EngineException">ErrorId <c>CompressedSegmentationCorrupt</c> when the data is not a valid chunk of this shape.</exception>
    public static unsafe void Decode(ReadOnlySpan<byte> encoded, Int3 shape, Int3 blockSize, Span<ulong> destination)
    {
        CheckShapes(shape, blockSize, destination.Length, nameof(destination));
        fixed (ulong* dst = destination)
        {
            DecodeCore<U64>(encoded, shape, blockSize, dst);
        }
    }

    /// <summary>Decodes a single-channel uint32 chunk file.</summary>
    /// <exception cref="EngineException">ErrorId <c>CompressedSegmentationCorrupt</c> when the data is not a valid chunk of this shape.</exception>
    public static unsafe void Decode(ReadOnlySpan<byte> encoded, Int3 shape, Int3 blockSize, Span<uint> destination)
    {
        CheckShapes(shape, blockSize, destination.Length, nameof(destination));
        fixed (uint* dst = destination)
        {
            DecodeCore<U32>(encoded, shape, blockSize, dst);
        }
    }

    internal static void CheckShapes(Int3 shape, Int3 blockSize, int length, string paramName)
    {
        if (!blockSize.AllPositive)
        {
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "Block size must be positive on every axis.");
        }

        if (shape.X < 0 || shape.Y < 0 || shape.Z < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(shape), shape, "Chunk shape must not be negative.");
        }

        if (shape.Volume > length)
        {
            throw new ArgumentException($"The buffer holds {length} voxels but the chunk shape {shape} needs {shape.Volume}.", paramName);
        }

        if (blockSize.Volume > int.MaxValue / 32)
        {
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "Block size is too large.");
        }
    }

    private static EngineException Corrupt(string detail) =>
        new("CompressedSegmentationCorrupt", EngineErrorKind.InvalidData, "The compressed_segmentation chunk is corrupt: " + detail + ".");

    private static unsafe void DecodeCore<T>(ReadOnlySpan<byte> encoded, Int3 shape, Int3 blockSize, void* dst)
        where T : struct, IValueTraits
    {
        long volume = shape.Volume;
        if (encoded.Length < 4 || (encoded.Length & 3) != 0)
        {
            throw Corrupt($"its length ({encoded.Length} bytes) is not a positive multiple of 4");
        }

        if (!BitConverter.IsLittleEndian)
        {
            throw new EngineException("CompressedSegmentationBigEndian", EngineErrorKind.NotSupported, "compressed_segmentation decoding needs a little-endian machine.");
        }

        ReadOnlySpan<uint> file = MemoryMarshal.Cast<byte, uint>(encoded);
        long totalWords = file.Length;
        if (volume == 0)
        {
            return;
        }

        long channelStart = file[0];
        if (channelStart < 1 || channelStart >= totalWords)
        {
            throw Corrupt($"the channel offset {channelStart} is outside the file of {totalWords} words");
        }

        ReadOnlySpan<uint> channel = file.Slice((int)channelStart);
        int wpv = default(T).WordsPerValue;
        int sx = shape.X, sy = shape.Y, sz = shape.Z;
        int bx = blockSize.X, by = blockSize.Y, bz = blockSize.Z;
        int gx = Int3.CeilDiv(sx, bx), gy = Int3.CeilDiv(sy, by), gz = Int3.CeilDiv(sz, bz);
        long blocks = (long)gx * gy * gz;
        long channelWords = channel.Length;
        if (2 * blocks > channelWords)
        {
            throw Corrupt($"{blocks} block headers do not fit in a channel of {channelWords} words (wrong shape or block size?)");
        }

        long blockVolume = blockSize.Volume;
        Span<ulong> lut = stackalloc ulong[256];
        fixed (uint* ch = channel)
        {
            long blockIndex = 0;
            for (int gzI = 0; gzI < gz; gzI++)
            {
                int z0 = gzI * bz, az = Math.Min(bz, sz - z0);
                for (int gyI = 0; gyI < gy; gyI++)
                {
                    int y0 = gyI * by, ay = Math.Min(by, sy - y0);
                    for (int gxI = 0; gxI < gx; gxI++, blockIndex++)
                    {
                        int x0 = gxI * bx, ax = Math.Min(bx, sx - x0);
                        uint h0 = ch[2 * blockIndex];
                        long tableOffset = h0 & 0xFFFFFF;
                        int bits = (int)(h0 >> 24);
                        long valuesOffset = ch[(2 * blockIndex) + 1] & 0xFFFFFF;
                        if (tableOffset + wpv > channelWords)
                        {
                            throw Corrupt($"block {blockIndex} has its lookup table at word {tableOffset}, outside the channel of {channelWords} words");
                        }

                        long tableCount = (channelWords - tableOffset) / wpv;
                        long dstBase = x0 + ((long)sx * (y0 + ((long)sy * z0)));
                        uint* table = ch + tableOffset;
                        if (bits == 0)
                        {
                            ulong value = default(T).LoadTable(table, 0);
                            for (int z = 0; z < az; z++)
                            {
                                for (int y = 0; y < ay; y++)
                                {
                                    long row = dstBase + ((long)sx * (y + ((long)sy * z)));
                                    default(T).Fill(dst, row, ax, value);
                                }
                            }

                            continue;
                        }

                        if (bits != 1 && bits != 2 && bits != 4 && bits != 8 && bits != 16 && bits != 32)
                        {
                            throw Corrupt($"block {blockIndex} has an encoded bit width of {bits}, not one of 0, 1, 2, 4, 8, 16, 32");
                        }

                        long valueWords = ((bits * blockVolume) + 31) / 32;
                        if (valuesOffset + valueWords > channelWords)
                        {
                            throw Corrupt($"block {blockIndex} has its {valueWords} value words at word {valuesOffset}, outside the channel of {channelWords} words");
                        }

                        uint* values = ch + valuesOffset;
                        uint mask = bits == 32 ? uint.MaxValue : (1u << bits) - 1;
                        if (bits <= 8)
                        {
                            int lutCount = (int)Math.Min(1L << bits, tableCount);
                            for (int i = 0; i < lutCount; i++)
                            {
                                lut[i] = default(T).LoadTable(table, i);
                            }

                            for (int z = 0; z < az; z++)
                            {
                                for (int y = 0; y < ay; y++)
                                {
                                    long row = dstBase + ((long)sx * (y + ((long)sy * z)));
                                    long bitPos = (long)bits * (bx * (y + ((long)by * z)));
                                    for (int x = 0; x < ax; x++, bitPos += bits)
                                    {
                                        uint index = (values[bitPos >> 5] >> (int)(bitPos & 31)) & mask;
                                        if (index >= (uint)lutCount)
                                        {
                                            throw Corrupt($"block {blockIndex} uses table entry {index}, past the end of the channel");
                                        }

                                        default(T).Store(dst, row + x, lut[(int)index]);
                                    }
                                }
                            }
                        }
                        else
                        {
                            for (int z = 0; z < az; z++)
                            {
                                for (int y = 0; y < ay; y++)
                                {
                                    long row = dstBase + ((long)sx * (y + ((long)sy * z)));
                                    long bitPos = (long)bits * (bx * (y + ((long)by * z)));
                                    for (int x = 0; x < ax; x++, bitPos += bits)
                                    {
                                        uint index = (values[bitPos >> 5] >> (int)(bitPos & 31)) & mask;
                                        if (index >= tableCount)
                                        {
                                            throw Corrupt($"block {blockIndex} uses table entry {index}, past the end of the channel");
                                        }

                                        default(T).Store(dst, row + x, default(T).LoadTable(table, index));
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// <summary>Element access specialised per voxel type (JIT-inlined through struct generics).</summary>
internal interface IValueTraits
{
    int WordsPerValue { get; }

    int Size { get; }

    unsafe ulong Load(void* p, long i);

    unsafe void Store(void* p, long i, ulong value);

    unsafe void Fill(void* p, long start, int count, ulong value);

    unsafe ulong LoadTable(uint* table, long index);

    unsafe void WriteTable(uint* table, long index, ulong value);
}

internal readonly struct U64 : IValueTraits
{
    public int WordsPerValue => 2;

    public int Size => 8;

    public unsafe ulong Load(void* p, long i) => ((ulong*)p)[i];

    public unsafe void Store(void* p, long i, ulong value) => ((ulong*)p)[i] = value;

    public unsafe void Fill(void* p, long start, int count, ulong value) => new Span<ulong>((ulong*)p + start, count).Fill(value);

    public unsafe ulong LoadTable(uint* table, long index) => table[2 * index] | ((ulong)table[(2 * index) + 1] << 32);

    public unsafe void WriteTable(uint* table, long index, ulong value)
    {
        table[2 * index] = (uint)value;
        table[(2 * index) + 1] = (uint)(value >> 32);
    }
}

internal readonly struct U32 : IValueTraits
{
    public int WordsPerValue => 1;

    public int Size => 4;

    public unsafe ulong Load(void* p, long i) => ((uint*)p)[i];

    public unsafe void Store(void* p, long i, ulong value) => ((uint*)p)[i] = (uint)value;

    public unsafe void Fill(void* p, long start, int count, ulong value) => new Span<uint>((uint*)p + start, count).Fill((uint)value);

    public unsafe ulong LoadTable(uint* table, long index) => table[index];

    public unsafe void WriteTable(uint* table, long index, ulong value) => table[index] = (uint)value;
}
