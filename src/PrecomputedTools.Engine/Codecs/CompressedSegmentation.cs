using System;
using System.Runtime.InteropServices;
#if NET
using System.Runtime.Intrinsics;
#endif

namespace PrecomputedTools.Engine.Codecs;

/// <summary>
/// The neuroglancer compressed_segmentation encoding (neuroglancer precomputed volume.md, 'compressed_segmentation
/// chunk encoding', and its compressed_segmentation README), one channel per chunk,
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
    private static CompressedSegmentationEncoder? s_threadEncoder;

    private static CompressedSegmentationEncoder ThreadEncoder => s_threadEncoder ??= new CompressedSegmentationEncoder();

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
    /// Accepts any layout that follows neuroglancer's compressed_segmentation README ('Format specification',
    /// 'Multi-channel format'), not only the reference encoder's. The first
    /// <c>shape.Volume</c> elements of <paramref name="destination"/> are written.
    /// </remarks>
    /// <exception cref="EngineException">ErrorId <c>CompressedSegmentationCorrupt</c> when the data is not a valid chunk of this shape.</exception>
    public static unsafe void Decode(ReadOnlySpan<byte> encoded, Int3 shape, Int3 blockSize, Span<ulong> destination)
    {
        CheckShapes(shape, blockSize, destination.Length, nameof(destination));
        fixed (ulong* dst = destination)
        {
            DecodeCore<U64>(encoded, shape, blockSize, dst, shape.X, (long)shape.X * shape.Y);
        }
    }

    /// <summary>
    /// Decodes a uint64 chunk of <paramref name="shape"/> into a region of a larger volume: its voxels land at
    /// <paramref name="destinationOffset"/> inside <paramref name="destination"/>, a volume of
    /// <paramref name="destinationShape"/> (x fastest). Voxels outside the region are left alone.
    /// </summary>
    /// <exception cref="EngineException">ErrorId <c>CompressedSegmentationCorrupt</c> when the data is not a valid chunk of this shape.</exception>
    public static unsafe void Decode(ReadOnlySpan<byte> encoded, Int3 shape, Int3 blockSize, Span<ulong> destination, Int3 destinationShape, Int3 destinationOffset)
    {
        long start = CheckRegion(destinationShape, new Box3(destinationOffset, destinationOffset + shape), blockSize, destination.Length, nameof(destination));
        fixed (ulong* dst = destination)
        {
            DecodeCore<U64>(encoded, shape, blockSize, dst + start, destinationShape.X, (long)destinationShape.X * destinationShape.Y);
        }
    }

    /// <summary>Decodes a uint32 chunk into a region of a larger volume; see the uint64 overload.</summary>
    /// <exception cref="EngineException">ErrorId <c>CompressedSegmentationCorrupt</c> when the data is not a valid chunk of this shape.</exception>
    public static unsafe void Decode(ReadOnlySpan<byte> encoded, Int3 shape, Int3 blockSize, Span<uint> destination, Int3 destinationShape, Int3 destinationOffset)
    {
        long start = CheckRegion(destinationShape, new Box3(destinationOffset, destinationOffset + shape), blockSize, destination.Length, nameof(destination));
        fixed (uint* dst = destination)
        {
            DecodeCore<U32>(encoded, shape, blockSize, dst + start, destinationShape.X, (long)destinationShape.X * destinationShape.Y);
        }
    }

    /// <summary>Decodes a single-channel uint32 chunk file.</summary>
    /// <exception cref="EngineException">ErrorId <c>CompressedSegmentationCorrupt</c> when the data is not a valid chunk of this shape.</exception>
    public static unsafe void Decode(ReadOnlySpan<byte> encoded, Int3 shape, Int3 blockSize, Span<uint> destination)
    {
        CheckShapes(shape, blockSize, destination.Length, nameof(destination));
        fixed (uint* dst = destination)
        {
            DecodeCore<U32>(encoded, shape, blockSize, dst, shape.X, (long)shape.X * shape.Y);
        }
    }

    /// <summary>
    /// Decodes only z planes [<paramref name="planeBegin"/>, <paramref name="planeEnd"/>) of a uint64 chunk, so a
    /// reader can stream a chunk block layer by block layer. <paramref name="planeBegin"/> must be a multiple of
    /// the block depth and <paramref name="planeEnd"/> a multiple of it or the chunk depth;
    /// <paramref name="destination"/> holds exactly those planes (x fastest).
    /// </summary>
    public static unsafe void DecodePlanes(ReadOnlySpan<byte> encoded, Int3 shape, Int3 blockSize, int planeBegin, int planeEnd, Span<ulong> destination)
    {
        CheckPlanes(shape, blockSize, planeBegin, planeEnd, destination.Length);
        fixed (ulong* dst = destination)
        {
            DecodeCore<U64>(encoded, shape, blockSize, dst, shape.X, (long)shape.X * shape.Y, planeBegin, planeEnd);
        }
    }

    /// <summary>uint32 form of <see cref="DecodePlanes(ReadOnlySpan{byte}, Int3, Int3, int, int, Span{ulong})"/>.</summary>
    public static unsafe void DecodePlanes(ReadOnlySpan<byte> encoded, Int3 shape, Int3 blockSize, int planeBegin, int planeEnd, Span<uint> destination)
    {
        CheckPlanes(shape, blockSize, planeBegin, planeEnd, destination.Length);
        fixed (uint* dst = destination)
        {
            DecodeCore<U32>(encoded, shape, blockSize, dst, shape.X, (long)shape.X * shape.Y, planeBegin, planeEnd);
        }
    }

    /// <summary>
    /// Decodes planes [<paramref name="planeBegin"/>, <paramref name="planeEnd"/>) of a uint64 chunk into a larger
    /// buffer: the chunk's voxel (x, y, z) lands at <c>destination[offset + x + y·strideY + (z - planeBegin)·strideZ]</c>;
    /// nothing else is written. Plane rules as <see cref="DecodePlanes(ReadOnlySpan{byte}, Int3, Int3, int, int, Span{ulong})"/>.
    /// </summary>
    internal static unsafe void DecodePlanes(ReadOnlySpan<byte> encoded, Int3 shape, Int3 blockSize, int planeBegin, int planeEnd, Span<ulong> destination, long offset, long strideY, long strideZ)
    {
        CheckStridedPlanes(shape, blockSize, planeBegin, planeEnd, destination.Length, offset, strideY, strideZ);
        fixed (ulong* dst = destination)
        {
            DecodeCore<U64>(encoded, shape, blockSize, dst + offset, strideY, strideZ, planeBegin, planeEnd);
        }
    }

    /// <summary>uint32 form of <see cref="DecodePlanes(ReadOnlySpan{byte}, Int3, Int3, int, int, Span{ulong}, long, long, long)"/>.</summary>
    internal static unsafe void DecodePlanes(ReadOnlySpan<byte> encoded, Int3 shape, Int3 blockSize, int planeBegin, int planeEnd, Span<uint> destination, long offset, long strideY, long strideZ)
    {
        CheckStridedPlanes(shape, blockSize, planeBegin, planeEnd, destination.Length, offset, strideY, strideZ);
        fixed (uint* dst = destination)
        {
            DecodeCore<U32>(encoded, shape, blockSize, dst + offset, strideY, strideZ, planeBegin, planeEnd);
        }
    }

    private static void CheckStridedPlanes(Int3 shape, Int3 blockSize, int planeBegin, int planeEnd, int length, long offset, long strideY, long strideZ)
    {
        CheckPlanes(shape, blockSize, planeBegin, planeEnd, int.MaxValue);
        if (offset < 0 || strideY < shape.X || strideZ < strideY * shape.Y)
        {
            throw new ArgumentException($"Invalid destination: offset {offset}, strides {strideY}/{strideZ} for a {shape} chunk.");
        }

        if (shape.Volume != 0 && offset + (shape.X - 1) + ((shape.Y - 1) * strideY) + ((planeEnd - planeBegin - 1) * strideZ) >= length)
        {
            throw new ArgumentException($"The destination holds {length} voxels; planes [{planeBegin}, {planeEnd}) of a {shape} chunk from {offset} with strides {strideY}/{strideZ} do not fit.");
        }
    }

    private static void CheckPlanes(Int3 shape, Int3 blockSize, int planeBegin, int planeEnd, int length)
    {
        if (!blockSize.AllPositive || planeBegin < 0 || planeBegin % blockSize.Z != 0 || planeEnd <= planeBegin || planeEnd > shape.Z || (planeEnd % blockSize.Z != 0 && planeEnd != shape.Z))
        {
            throw new ArgumentException($"Planes [{planeBegin}, {planeEnd}) of a {shape} chunk must start on a block layer ({blockSize.Z}) and end on one or at the chunk's depth.");
        }

        long expected = (long)shape.X * shape.Y * (planeEnd - planeBegin);
        if (length < expected)
        {
            throw new ArgumentException($"The destination holds {length} voxels; planes [{planeBegin}, {planeEnd}) need {expected}.");
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

    /// <summary>Checks that <paramref name="region"/> lies inside a volume of <paramref name="volumeShape"/>; returns the index of its first voxel.</summary>
    internal static long CheckRegion(Int3 volumeShape, Box3 region, Int3 blockSize, int length, string paramName)
    {
        CheckShapes(volumeShape, blockSize, length, paramName);
        Int3 b = region.Begin, e = region.End;
        if (b.X < 0 || b.Y < 0 || b.Z < 0 || e.X < b.X || e.Y < b.Y || e.Z < b.Z || e.X > volumeShape.X || e.Y > volumeShape.Y || e.Z > volumeShape.Z)
        {
            throw new ArgumentOutOfRangeException(nameof(region), region, $"The region {region} is not inside the {volumeShape} volume.");
        }

        return region.IsEmpty ? 0 : b.X + ((long)volumeShape.X * (b.Y + ((long)volumeShape.Y * b.Z)));
    }

    private static EngineException Corrupt(string detail) =>
        new("CompressedSegmentationCorrupt", EngineErrorKind.InvalidData, "The compressed_segmentation chunk is corrupt: " + detail + ".");

    /// <summary>
    /// Decodes into the chunk whose voxel (x, y, z) is dst[x + y·strideY + (z - planeBegin)·strideZ], for the block
    /// layers covering planes [planeBegin, planeEnd) only.
    /// </summary>
    private static unsafe void DecodeCore<T>(ReadOnlySpan<byte> encoded, Int3 shape, Int3 blockSize, void* dst, long strideY, long strideZ, int planeBegin = 0, int planeEnd = int.MaxValue)
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

        // Blocks are decoded one block row (fixed y and z block index) at a time, writing whole voxel rows
        // across the blocks: sequential writes instead of one stream per block row and plane.
        BlockInfo[]? heapInfo = gx > 256 ? new BlockInfo[gx] : null;
        BlockInfo* stackInfo = stackalloc BlockInfo[heapInfo is null ? gx : 1];
        fixed (uint* ch = channel)
        fixed (BlockInfo* heapPtr = heapInfo)
        {
            BlockInfo* info = heapInfo is null ? stackInfo : heapPtr;
            // Only the block layers covering [planeBegin, planeEnd); dst starts at planeBegin.
            int layerFrom = planeBegin / bz;
            int layerTo = Math.Min(gz, Int3.CeilDiv(Math.Min(planeEnd, sz), bz));
            int zBase = layerFrom * bz;
            long blockIndex = (long)layerFrom * gx * gy;
            for (int gzI = layerFrom; gzI < layerTo; gzI++)
            {
                int z0 = gzI * bz, az = Math.Min(bz, sz - z0);
                for (int gyI = 0; gyI < gy; gyI++)
                {
                    int y0 = gyI * by, ay = Math.Min(by, sy - y0);

                    // Validate the headers of this block row.
                    for (int gxI = 0; gxI < gx; gxI++, blockIndex++)
                    {
                        uint h0 = ch[2 * blockIndex];
                        long tableOffset = h0 & 0xFFFFFF;
                        int bits = (int)(h0 >> 24);
                        long valuesOffset = ch[(2 * blockIndex) + 1] & 0xFFFFFF;
                        if (tableOffset + wpv > channelWords)
                        {
                            throw Corrupt($"block {blockIndex} has its lookup table at word {tableOffset}, outside the channel of {channelWords} words");
                        }

                        if (bits != 0 && bits != 1 && bits != 2 && bits != 4 && bits != 8 && bits != 16 && bits != 32)
                        {
                            throw Corrupt($"block {blockIndex} has an encoded bit width of {bits}, not one of 0, 1, 2, 4, 8, 16, 32");
                        }

                        long valueWords = ((bits * blockVolume) + 31) / 32;
                        if (bits != 0 && valuesOffset + valueWords > channelWords)
                        {
                            throw Corrupt($"block {blockIndex} has its {valueWords} value words at word {valuesOffset}, outside the channel of {channelWords} words");
                        }

                        info[gxI] = new BlockInfo
                        {
                            Table = ch + tableOffset,
                            TableCount = (channelWords - tableOffset) / wpv,
                            Values = ch + valuesOffset,
                            Bits = bits,
                            Mask = bits == 32 ? uint.MaxValue : (1u << bits) - 1,
                            First = default(T).LoadTable(ch + tableOffset, 0),
                        };
                    }

                    for (int z = 0; z < az; z++)
                    {
                        for (int y = 0; y < ay; y++)
                        {
                            long row = ((y0 + y) * strideY) + ((z0 - zBase + z) * strideZ);
                            long local = bx * (y + ((long)by * z));
                            for (int gxI = 0; gxI < gx; gxI++)
                            {
                                int x0 = gxI * bx, ax = Math.Min(bx, sx - x0);
                                BlockInfo* bi = info + gxI;
                                int bits = bi->Bits;
                                if (bits == 0)
                                {
#if NET
                                    if (ax == 8 && typeof(T) == typeof(U64))
                                    {
                                        // A uniform block row of the usual 8-voxel width: two vector stores.
                                        Vector256<ulong> fill = Vector256.Create(bi->First);
                                        fill.Store((ulong*)dst + row + x0);
                                        fill.Store((ulong*)dst + row + x0 + 4);
                                        continue;
                                    }
#endif
                                    default(T).Fill(dst, row + x0, ax, bi->First);
                                    continue;
                                }

                                uint* values = bi->Values;
                                uint* table = bi->Table;
                                uint mask = bi->Mask;
                                long tableCount = bi->TableCount;
                                long bitPos = bits * local;
                                long d = row + x0;
                                if (tableCount > mask)
                                {
                                    // Every index the bit width can hold lies inside the channel: no check per voxel.
                                    if (ax == 8 && bits <= 4)
                                    {
                                        // The row's eight indices fill 8·bits bits of one word (rows start at multiples of 8·bits).
                                        uint word = values[bitPos >> 5] >> (int)(bitPos & 31);
                                        for (int x = 0; x < 8; x++, word >>= bits)
                                        {
                                            default(T).Store(dst, d + x, default(T).LoadTable(table, word & mask));
                                        }

                                        continue;
                                    }

                                    // Widths divide 32, so an index never straddles two words.
                                    for (int x = 0; x < ax; x++, bitPos += bits)
                                    {
                                        uint index = (values[bitPos >> 5] >> (int)(bitPos & 31)) & mask;
                                        default(T).Store(dst, d + x, default(T).LoadTable(table, index));
                                    }

                                    continue;
                                }

                                for (int x = 0; x < ax; x++, bitPos += bits)
                                {
                                    uint index = (values[bitPos >> 5] >> (int)(bitPos & 31)) & mask;
                                    if (index >= tableCount)
                                    {
                                        throw Corrupt($"a block uses table entry {index}, past the end of the channel");
                                    }

                                    default(T).Store(dst, d + x, default(T).LoadTable(table, index));
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    private unsafe struct BlockInfo
    {
        public uint* Table;
        public long TableCount;
        public uint* Values;
        public int Bits;
        public uint Mask;
        public ulong First;
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

    // One unaligned 64-bit load (the table is little-endian words; decoding requires a little-endian machine).
    public unsafe ulong LoadTable(uint* table, long index) => System.Runtime.CompilerServices.Unsafe.ReadUnaligned<ulong>(table + (2 * index));

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
