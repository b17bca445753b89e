using System;
using System.Runtime.InteropServices;

namespace PrecomputedTools.Engine.Codecs;

/// <summary>
/// A reusable compressed_segmentation encoder producing the layout of neuroglancer's reference encoder
/// (values then a new lookup table per block, in the compressed_segmentation README's typical order) byte for
/// byte. It keeps its scratch and output buffers between calls, so encoding allocates nothing once they
/// have grown. Not thread-safe: use one instance per thread.
/// </summary>
public sealed class CompressedSegmentationEncoder
{
    // Distinct values of a block are found by linear search up to this many, then through a hash.
    private const int LinearLimit = 16;
    private const int TrimThresholdWords = 8 << 20;

    private uint[] _out = new uint[1024];
    private int _len;

    // Per block: the unsorted distinct-value index of every actual voxel, at its block-local position.
    private int[] _voxelIndex = new int[512];
    private ulong[] _distinct = new ulong[64];
    private ulong[] _sortKeys = new ulong[64];
    private int[] _sortOrder = new int[64];
    private int[] _rank = new int[64];

    // Value -> unsorted index hash, for blocks with many distinct values (stamped, never cleared).
    private ulong[] _valueKeys = new ulong[64];
    private int[] _valueSlots = new int[64];
    private int[] _valueStamp = new int[64];
    private int _valueGeneration;

    // Table-reuse dictionary: sorted value list -> channel offset. Keys live in the output itself.
    private int[] _tableStamp = new int[256];
    private uint[] _tableHash = new uint[256];
    private int[] _tableOffset = new int[256];
    private int[] _tableCount = new int[256];
    private int _tableGeneration;
    private int _tableUsed;

    // Streaming state: the chunk being encoded block layer by block layer.
    private Int3 _streamShape;
    private Int3 _streamBlock;
    private int _streamHeader;
    private int _streamLayer = -1;
    private long _streamStrideY;
    private long _streamStrideZ;

    /// <summary>
    /// Starts encoding a chunk of <paramref name="shape"/> one block layer at a time, so a caller
    /// never needs the whole chunk in memory. Feed every layer with <see cref="AppendLayers(ReadOnlySpan{ulong}, int)"/>
    /// (or the uint32 overload) in z order, then call <see cref="FinishStream"/>. The output is
    /// byte-identical to <see cref="EncodeToBuffer(ReadOnlySpan{ulong}, Int3, Int3)"/>.
    /// </summary>
    public void BeginStream(Int3 shape, Int3 blockSize)
    {
        if (!shape.AllPositive && shape.Volume != 0)
        {
            throw new ArgumentException($"Invalid chunk shape {shape}.", nameof(shape));
        }

        if (!blockSize.AllPositive)
        {
            throw new ArgumentException($"Invalid block size {blockSize}.", nameof(blockSize));
        }

        BeginCore(shape, blockSize);
        _streamStrideY = shape.X;
        _streamStrideZ = (long)shape.X * shape.Y;
    }

    /// <summary>Number of z planes the next <paramref name="layerCount"/> block layers cover (the last layer may be partial).</summary>
    public int PlanesFor(int layerCount) => Math.Max(0, Math.Min(_streamShape.Z, (_streamLayer + layerCount) * _streamBlock.Z) - (_streamLayer * _streamBlock.Z));

    /// <summary>The next z plane the stream expects.</summary>
    public int NextPlane => Math.Max(0, _streamLayer) * _streamBlock.Z;

    /// <summary>Encodes the next <paramref name="layerCount"/> block layers; <paramref name="planes"/> holds exactly <see cref="PlanesFor"/> z planes (x fastest).</summary>
    public unsafe void AppendLayers(ReadOnlySpan<ulong> planes, int layerCount)
    {
        CheckLayers(planes.Length, layerCount);
        fixed (ulong* p = planes)
        {
            EncodeLayersCore<U64>(p, layerCount);
        }
    }

    /// <summary>uint32 form of <see cref="AppendLayers(ReadOnlySpan{ulong}, int)"/>.</summary>
    public unsafe void AppendLayers(ReadOnlySpan<uint> planes, int layerCount)
    {
        CheckLayers(planes.Length, layerCount);
        fixed (uint* p = planes)
        {
            EncodeLayersCore<U32>(p, layerCount);
        }
    }

    /// <summary>
    /// Encodes the next <paramref name="layerCount"/> block layers straight from a larger volume
    /// (no copy into a chunk-shaped buffer first): the stream's voxel (x, y, z) is
    /// <c>volume[offset + x + y·strideY + (z - NextPlane)·strideZ]</c>. Output as <see cref="AppendLayers(ReadOnlySpan{ulong}, int)"/>.
    /// </summary>
    internal unsafe void AppendLayers(ReadOnlySpan<ulong> volume, long offset, long strideY, long strideZ, int layerCount)
    {
        CheckStrided(volume.Length, offset, strideY, strideZ, layerCount);
        fixed (ulong* p = volume)
        {
            EncodeStrided<U64>(p + offset, strideY, strideZ, layerCount);
        }
    }

    /// <summary>uint32 form of <see cref="AppendLayers(ReadOnlySpan{ulong}, long, long, long, int)"/>.</summary>
    internal unsafe void AppendLayers(ReadOnlySpan<uint> volume, long offset, long strideY, long strideZ, int layerCount)
    {
        CheckStrided(volume.Length, offset, strideY, strideZ, layerCount);
        fixed (uint* p = volume)
        {
            EncodeStrided<U32>(p + offset, strideY, strideZ, layerCount);
        }
    }

    private unsafe void EncodeStrided<T>(void* first, long strideY, long strideZ, int layerCount)
        where T : struct, IValueTraits
    {
        long chunkY = _streamStrideY, chunkZ = _streamStrideZ;
        _streamStrideY = strideY;
        _streamStrideZ = strideZ;
        try
        {
            EncodeLayersCore<T>(first, layerCount);
        }
        finally
        {
            _streamStrideY = chunkY;
            _streamStrideZ = chunkZ;
        }
    }

    private void CheckStrided(int length, long offset, long strideY, long strideZ, int layerCount)
    {
        if (_streamLayer < 0)
        {
            throw new InvalidOperationException("Call BeginStream first.");
        }

        int planes = PlanesFor(layerCount);
        Int3 s = _streamShape;
        if (layerCount < 1 || offset < 0 || strideY < s.X || strideZ < strideY * s.Y)
        {
            throw new ArgumentException($"Invalid strided layers: offset {offset}, strides {strideY}/{strideZ} for {s.X}x{s.Y} planes, {layerCount} layer(s).");
        }

        if (s.Volume != 0 && planes > 0 && offset + (s.X - 1) + ((s.Y - 1) * strideY) + ((planes - 1) * strideZ) >= length)
        {
            throw new ArgumentException($"The volume holds {length} voxels; {planes} planes of {s.X}x{s.Y} from {offset} with strides {strideY}/{strideZ} do not fit.");
        }
    }

    /// <summary>Ends the stream and returns the complete chunk file (valid until the next call on this instance).</summary>
    public ReadOnlySpan<byte> FinishStream()
    {
        int gz = _streamBlock.Z > 0 ? Int3.CeilDiv(_streamShape.Z, _streamBlock.Z) : 0;
        if (_streamShape.Volume != 0 && _streamLayer != gz)
        {
            throw new InvalidOperationException($"The stream has {_streamLayer} of {gz} block layers.");
        }

        _streamLayer = -1;
        return MemoryMarshal.AsBytes(new ReadOnlySpan<uint>(_out, 0, _len));
    }

    private void CheckLayers(int length, int layerCount)
    {
        if (_streamLayer < 0)
        {
            throw new InvalidOperationException("Call BeginStream first.");
        }

        long expected = (long)_streamShape.X * _streamShape.Y * PlanesFor(layerCount);
        if (layerCount < 1 || length != expected)
        {
            throw new ArgumentException($"Expected {expected} voxels ({PlanesFor(layerCount)} planes of {_streamShape.X}x{_streamShape.Y}), got {length}.");
        }
    }

    /// <summary>Bytes of the last encoded chunk (the view returned by the last EncodeToBuffer call).</summary>
    public int EncodedLength => _len * 4;

    /// <summary>
    /// Encodes a uint64 chunk (x fastest) into this encoder's buffer and returns a view of the complete
    /// chunk file. The view is valid until the next call on this instance.
    /// </summary>
    /// <exception cref="EngineException">ErrorId <c>CompressedSegmentationTooLarge</c> when an offset would pass the 24-bit limit.</exception>
    public unsafe ReadOnlySpan<byte> EncodeToBuffer(ReadOnlySpan<ulong> voxels, Int3 shape, Int3 blockSize)
    {
        CompressedSegmentation.CheckShapes(shape, blockSize, voxels.Length, nameof(voxels));
        fixed (ulong* p = voxels)
        {
            EncodeCore<U64>(p, shape, blockSize, shape.X, (long)shape.X * shape.Y);
        }

        return MemoryMarshal.AsBytes(new ReadOnlySpan<uint>(_out, 0, _len));
    }

    /// <summary>
    /// Encodes the chunk <paramref name="region"/> of a larger uint64 <paramref name="volume"/> of
    /// <paramref name="volumeShape"/> (x fastest) without copying it out first; otherwise as
    /// <see cref="EncodeToBuffer(ReadOnlySpan{ulong}, Int3, Int3)"/>.
    /// </summary>
    public unsafe ReadOnlySpan<byte> EncodeToBuffer(ReadOnlySpan<ulong> volume, Int3 volumeShape, Box3 region, Int3 blockSize)
    {
        long start = CompressedSegmentation.CheckRegion(volumeShape, region, blockSize, volume.Length, nameof(volume));
        fixed (ulong* p = volume)
        {
            EncodeCore<U64>(p + start, region.Size, blockSize, volumeShape.X, (long)volumeShape.X * volumeShape.Y);
        }

        return MemoryMarshal.AsBytes(new ReadOnlySpan<uint>(_out, 0, _len));
    }

    /// <summary>Encodes a region of a larger uint32 volume; see the uint64 overload.</summary>
    public unsafe ReadOnlySpan<byte> EncodeToBuffer(ReadOnlySpan<uint> volume, Int3 volumeShape, Box3 region, Int3 blockSize)
    {
        long start = CompressedSegmentation.CheckRegion(volumeShape, region, blockSize, volume.Length, nameof(volume));
        fixed (uint* p = volume)
        {
            EncodeCore<U32>(p + start, region.Size, blockSize, volumeShape.X, (long)volumeShape.X * volumeShape.Y);
        }

        return MemoryMarshal.AsBytes(new ReadOnlySpan<uint>(_out, 0, _len));
    }

    /// <summary>Encodes a uint32 chunk into this encoder's buffer; see the uint64 overload.</summary>
    public unsafe ReadOnlySpan<byte> EncodeToBuffer(ReadOnlySpan<uint> voxels, Int3 shape, Int3 blockSize)
    {
        CompressedSegmentation.CheckShapes(shape, blockSize, voxels.Length, nameof(voxels));
        fixed (uint* p = voxels)
        {
            EncodeCore<U32>(p, shape, blockSize, shape.X, (long)shape.X * shape.Y);
        }

        return MemoryMarshal.AsBytes(new ReadOnlySpan<uint>(_out, 0, _len));
    }

    /// <summary>Drops the output buffer if it grew very large, so an idle thread does not keep it.</summary>
    public void TrimIfLarge()
    {
        if (_out.Length > TrimThresholdWords)
        {
            _out = new uint[1024];
            _len = 0;
        }

        if (_voxelIndex.Length > 1 << 16)
        {
            _voxelIndex = new int[512];
        }

        if (_valueKeys.Length > 1 << 16)
        {
            _valueKeys = new ulong[64];
            _valueSlots = new int[64];
            _valueStamp = new int[64];
            _distinct = new ulong[64];
            _sortKeys = new ulong[64];
            _sortOrder = new int[64];
            _rank = new int[64];
        }
    }

    /// <summary>Encodes the chunk of <paramref name="shape"/> whose voxel (x, y, z) is voxels[x + y·strideY + z·strideZ].</summary>
    private unsafe void EncodeCore<T>(void* voxels, Int3 shape, Int3 blockSize, long strideY, long strideZ)
        where T : struct, IValueTraits
    {
        BeginCore(shape, blockSize);
        _streamStrideY = strideY;
        _streamStrideZ = strideZ;
        EncodeLayersCore<T>(voxels, int.MaxValue);
    }

    private void BeginCore(Int3 shape, Int3 blockSize)
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new EngineException("CompressedSegmentationBigEndian", EngineErrorKind.NotSupported, "compressed_segmentation encoding needs a little-endian machine.");
        }

        int sx = shape.X, sy = shape.Y, sz = shape.Z;
        int bx = blockSize.X, by = blockSize.Y, bz = blockSize.Z;
        int blockVolume = bx * by * bz;
        _len = 0;
        if (shape.Volume == 0)
        {
            EnsureCapacity(1);
            _out[_len++] = 1;
            _streamShape = shape;
            _streamBlock = blockSize;
            _streamHeader = 1;
            _streamLayer = 0;
            return;
        }

        int gx = Int3.CeilDiv(sx, bx), gy = Int3.CeilDiv(sy, by), gz = Int3.CeilDiv(sz, bz);
        long blocks = (long)gx * gy * gz;
        if (2 * blocks > CompressedSegmentation.MaxOffsetWords)
        {
            throw TooLarge(shape, blockSize);
        }

        if (_voxelIndex.Length < blockVolume)
        {
            _voxelIndex = new int[blockVolume];
        }

        NewTableDictionary();
        int headerWords = (int)(2 * blocks);
        EnsureCapacity(1 + headerWords + 64);
        _out[0] = 1;
        _len = 1 + headerWords;
        _streamShape = shape;
        _streamBlock = blockSize;
        _streamHeader = 1;
        _streamLayer = 0;
    }

    // Encodes the next block layers (z rows of blocks) of the chunk begun by BeginCore. voxels
    // points at the first z plane of those layers; the x/y strides are the chunk's.
    private unsafe void EncodeLayersCore<T>(void* voxels, int layerCount)
        where T : struct, IValueTraits
    {
        Int3 shape = _streamShape;
        Int3 blockSize = _streamBlock;
        if (shape.Volume == 0)
        {
            return;
        }

        int sx = shape.X, sy = shape.Y, sz = shape.Z;
        int bx = blockSize.X, by = blockSize.Y, bz = blockSize.Z;
        int blockVolume = bx * by * bz;
        int wpv = default(T).WordsPerValue;
        int gx = Int3.CeilDiv(sx, bx), gy = Int3.CeilDiv(sy, by), gz = Int3.CeilDiv(sz, bz);
        int header = _streamHeader;
        int[] voxelIndex = _voxelIndex;
        long strideY = _streamStrideY, strideZ = _streamStrideZ;
        int zBase = _streamLayer * bz;
        int layerEnd = Math.Min(gz, _streamLayer + layerCount);
        for (int gzI = _streamLayer; gzI < layerEnd; gzI++)
        {
            int z0 = gzI * bz, az = Math.Min(bz, sz - z0);
            for (int gyI = 0; gyI < gy; gyI++)
            {
                int y0 = gyI * by, ay = Math.Min(by, sy - y0);
                for (int gxI = 0; gxI < gx; gxI++, header += 2)
                {
                    int x0 = gxI * bx, ax = Math.Min(bx, sx - x0);
                    long origin = x0 + (y0 * strideY) + ((z0 - zBase) * strideZ);

                    // Pass 1: is the block one value? (The common case on label data.)
                    ulong first = default(T).Load(voxels, origin);
                    bool uniform = true;
                    for (int z = 0; z < az && uniform; z++)
                    {
                        for (int y = 0; y < ay; y++)
                        {
                            long row = origin + (y * strideY) + (z * strideZ);
                            int x = 0;
                            while (x < ax && default(T).Load(voxels, row + x) == first)
                            {
                                x++;
                            }

                            if (x < ax)
                            {
                                uniform = false;
                                break;
                            }
                        }
                    }

                    int valuesOffset = _len - 1;
                    if (uniform)
                    {
                        _sortKeys[0] = first;
                        int tableOffset = FindOrAppendTable<T>(1, valuesOffset);
                        WriteHeader(header, tableOffset, 0, valuesOffset, shape, blockSize);
                        continue;
                    }

                    // Pass 2: distinct values in order of appearance, and each voxel's index among them.
                    int n = 0;
                    ulong previous = first;
                    int previousIndex = -1;
                    for (int z = 0; z < az; z++)
                    {
                        for (int y = 0; y < ay; y++)
                        {
                            long row = origin + (y * strideY) + (z * strideZ);
                            int local = bx * (y + (by * z));
                            for (int x = 0; x < ax; x++)
                            {
                                ulong v = default(T).Load(voxels, row + x);
                                if (v != previous || previousIndex < 0)
                                {
                                    previous = v;
                                    previousIndex = IndexOf(v, ref n);
                                }

                                voxelIndex[local + x] = previousIndex;
                            }
                        }
                    }

                    // Sort the distinct values (unsigned) and rank each.
                    SortDistinct(n);
                    int bits = BitsFor(n);
                    long valueWordsLong = (((long)bits * blockVolume) + 31) / 32;
                    if (valuesOffset + valueWordsLong > CompressedSegmentation.MaxOffsetWords)
                    {
                        throw TooLarge(shape, blockSize);
                    }

                    int valueWords = (int)valueWordsLong;
                    EnsureCapacity(valueWords + (n * wpv));
                    int valuesStart = _len;
                    _len += valueWords;
                    int[] rank = _rank;
                    fixed (uint* outp = _out)
                    {
                        uint* words = outp + valuesStart;
                        if (ax == bx && ay == by && az == bz)
                        {
                            // Full block: voxel order equals bit order, so pack through an accumulator.
                            ulong acc = 0;
                            int accBits = 0;
                            int w = 0;
                            for (int p = 0; p < blockVolume; p++)
                            {
                                acc |= (ulong)(uint)rank[voxelIndex[p]] << accBits;
                                accBits += bits;
                                if (accBits >= 32)
                                {
                                    words[w++] = (uint)acc;
                                    acc >>= 32;
                                    accBits -= 32;
                                }
                            }

                            if (accBits > 0)
                            {
                                words[w] = (uint)acc;
                            }
                        }
                        else
                        {
                            // Partial block: padding positions keep index 0.
                            new Span<uint>(words, valueWords).Clear();
                            for (int z = 0; z < az; z++)
                            {
                                for (int y = 0; y < ay; y++)
                                {
                                    int local = bx * (y + (by * z));
                                    for (int x = 0; x < ax; x++)
                                    {
                                        long bitPos = (long)bits * (local + x);
                                        words[bitPos >> 5] |= (uint)rank[voxelIndex[local + x]] << (int)(bitPos & 31);
                                    }
                                }
                            }
                        }
                    }

                    int table = FindOrAppendTable<T>(n, valuesOffset + valueWords);
                    WriteHeader(header, table, bits, valuesOffset, shape, blockSize);
                }
            }
        }
    
        _streamHeader = header;
        _streamLayer = layerEnd;
    }

    private static int BitsFor(int n)
    {
        if (n <= 1)
        {
            return 0;
        }

        if (n <= 2)
        {
            return 1;
        }

        if (n <= 4)
        {
            return 2;
        }

        if (n <= 16)
        {
            return 4;
        }

        if (n <= 256)
        {
            return 8;
        }

        return n <= 65536 ? 16 : 32;
    }

    private static EngineException TooLarge(Int3 shape, Int3 blockSize) => new(
        "CompressedSegmentationTooLarge",
        EngineErrorKind.LimitsExceeded,
        $"The compressed_segmentation encoding of a {shape} chunk with {blockSize} blocks needs offsets of 2^24 words (64 MiB) or more, which the format's 24-bit header fields cannot hold. Use a smaller chunk size.",
        shape.ToString(),
        recommendedAction: "Choose a smaller chunk size (for example 128x128x128) for this scale.");

    private void WriteHeader(int header, int tableOffset, int bits, int valuesOffset, Int3 shape, Int3 blockSize)
    {
        if (tableOffset > CompressedSegmentation.MaxOffsetWords || valuesOffset > CompressedSegmentation.MaxOffsetWords)
        {
            throw TooLarge(shape, blockSize);
        }

        _out[header] = (uint)tableOffset | ((uint)bits << 24);
        _out[header + 1] = (uint)valuesOffset;
    }

    /// <summary>Index of <paramref name="v"/> among the block's distinct values, adding it if new.</summary>
    private int IndexOf(ulong v, ref int n)
    {
        ulong[] distinct = _distinct;
        if (n <= LinearLimit)
        {
            for (int i = 0; i < n; i++)
            {
                if (distinct[i] == v)
                {
                    return i;
                }
            }

            if (n < LinearLimit)
            {
                distinct[n] = v;
                return n++;
            }

            // Switch to the hash: index what we have so far.
            RebuildValueHash(n, Math.Max(_valueKeys.Length, 64));
        }
        else if ((n + 1) * 2 > _valueKeys.Length)
        {
            RebuildValueHash(n, _valueKeys.Length * 2);
        }

        int mask = _valueKeys.Length - 1;
        int slot = (int)(Mix(v) & (uint)mask);
        while (_valueStamp[slot] == _valueGeneration)
        {
            if (_valueKeys[slot] == v)
            {
                return _valueSlots[slot];
            }

            slot = (slot + 1) & mask;
        }

        if (n == distinct.Length)
        {
            Array.Resize(ref _distinct, n * 2);
            distinct = _distinct;
        }

        distinct[n] = v;
        _valueStamp[slot] = _valueGeneration;
        _valueKeys[slot] = v;
        _valueSlots[slot] = n;
        return n++;
    }

    /// <summary>Re-indexes the first <paramref name="n"/> distinct values in a fresh generation of a hash of at least <paramref name="capacity"/> slots.</summary>
    private void RebuildValueHash(int n, int capacity)
    {
        if (_valueKeys.Length < capacity)
        {
            _valueKeys = new ulong[capacity];
            _valueSlots = new int[capacity];
            _valueStamp = new int[capacity];
        }

        _valueGeneration++;
        if (_valueGeneration == int.MaxValue)
        {
            Array.Clear(_valueStamp, 0, _valueStamp.Length);
            _valueGeneration = 1;
        }

        for (int i = 0; i < n; i++)
        {
            HashInsert(_distinct[i], i);
        }
    }

    private void HashInsert(ulong v, int index)
    {
        int mask = _valueKeys.Length - 1;
        int slot = (int)(Mix(v) & (uint)mask);
        while (_valueStamp[slot] == _valueGeneration)
        {
            slot = (slot + 1) & mask;
        }

        _valueStamp[slot] = _valueGeneration;
        _valueKeys[slot] = v;
        _valueSlots[slot] = index;
    }

    private static uint Mix(ulong v)
    {
        v ^= v >> 33;
        v *= 0xFF51AFD7ED558CCDUL;
        v ^= v >> 33;
        return (uint)v;
    }

    /// <summary>Sorts _distinct[0..n) into _sortKeys and sets _rank[unsorted index] = sorted position.</summary>
    private void SortDistinct(int n)
    {
        if (_sortKeys.Length < n)
        {
            int size = Math.Max(n, _sortKeys.Length * 2);
            _sortKeys = new ulong[size];
            _sortOrder = new int[size];
            _rank = new int[size];
        }

        ulong[] keys = _sortKeys;
        int[] order = _sortOrder;
        ulong[] distinct = _distinct;
        if (n <= 32)
        {
            for (int i = 0; i < n; i++)
            {
                ulong v = distinct[i];
                int j = i - 1;
                while (j >= 0 && keys[j] > v)
                {
                    keys[j + 1] = keys[j];
                    order[j + 1] = order[j];
                    j--;
                }

                keys[j + 1] = v;
                order[j + 1] = i;
            }
        }
        else
        {
            Array.Copy(distinct, keys, n);
            for (int i = 0; i < n; i++)
            {
                order[i] = i;
            }

            Array.Sort(keys, order, 0, n);
        }

        int[] rank = _rank;
        for (int i = 0; i < n; i++)
        {
            rank[order[i]] = i;
        }
    }

    private void NewTableDictionary()
    {
        _tableGeneration++;
        _tableUsed = 0;
        if (_tableGeneration == int.MaxValue)
        {
            Array.Clear(_tableStamp, 0, _tableStamp.Length);
            _tableGeneration = 1;
        }
    }

    /// <summary>
    /// Looks up the sorted table _sortKeys[0..n) among the tables already written in this channel; if it
    /// is new, writes it at <paramref name="appendAt"/> (channel-relative, the current end) and remembers it.
    /// Returns the channel-relative table offset.
    /// </summary>
    private unsafe int FindOrAppendTable<T>(int n, int appendAt)
        where T : struct, IValueTraits
    {
        ulong[] keys = _sortKeys;
        uint hash = (uint)n * 0x9E3779B9u;
        for (int i = 0; i < n; i++)
        {
            hash = (hash ^ Mix(keys[i])) * 0x01000193u;
        }

        hash ^= hash >> 15;
        int mask = _tableStamp.Length - 1;
        int slot = (int)(hash & (uint)mask);
        fixed (uint* outp = _out)
        {
            uint* channel = outp + 1;
            while (_tableStamp[slot] == _tableGeneration)
            {
                if (_tableHash[slot] == hash && _tableCount[slot] == n)
                {
                    uint* table = channel + _tableOffset[slot];
                    int i = 0;
                    while (i < n && default(T).LoadTable(table, i) == keys[i])
                    {
                        i++;
                    }

                    if (i == n)
                    {
                        return _tableOffset[slot];
                    }
                }

                slot = (slot + 1) & mask;
            }
        }

        int wpv = default(T).WordsPerValue;
        EnsureCapacity(n * wpv);
        fixed (uint* outp = _out)
        {
            uint* table = outp + 1 + appendAt;
            for (int i = 0; i < n; i++)
            {
                default(T).WriteTable(table, i, keys[i]);
            }
        }

        _len = 1 + appendAt + (n * wpv);
        _tableStamp[slot] = _tableGeneration;
        _tableHash[slot] = hash;
        _tableOffset[slot] = appendAt;
        _tableCount[slot] = n;
        if (++_tableUsed * 2 > _tableStamp.Length)
        {
            GrowTableDictionary();
        }

        return appendAt;
    }

    private void GrowTableDictionary()
    {
        int[] oldStamp = _tableStamp;
        uint[] oldHash = _tableHash;
        int[] oldOffset = _tableOffset;
        int[] oldCount = _tableCount;
        int size = oldStamp.Length * 2;
        _tableStamp = new int[size];
        _tableHash = new uint[size];
        _tableOffset = new int[size];
        _tableCount = new int[size];
        int gen = _tableGeneration;
        int mask = size - 1;
        for (int i = 0; i < oldStamp.Length; i++)
        {
            if (oldStamp[i] != gen)
            {
                continue;
            }

            int slot = (int)(oldHash[i] & (uint)mask);
            while (_tableStamp[slot] == gen)
            {
                slot = (slot + 1) & mask;
            }

            _tableStamp[slot] = gen;
            _tableHash[slot] = oldHash[i];
            _tableOffset[slot] = oldOffset[i];
            _tableCount[slot] = oldCount[i];
        }
    }

    private void EnsureCapacity(int extraWords)
    {
        long needed = (long)_len + extraWords;
        if (needed <= _out.Length)
        {
            return;
        }

        long size = Math.Max(needed, (long)_out.Length * 2);
        if (size > int.MaxValue - 64)
        {
            size = needed;
        }

        uint[] grown = new uint[size];
        Array.Copy(_out, grown, _len);
        _out = grown;
    }
}
