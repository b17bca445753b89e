using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text.Json.Nodes;
using System.Threading;
using PrecomputedTools.Engine.Storage;

namespace PrecomputedTools.Engine.Precomputed;

/// <summary>
/// The <c>neuroglancer_uint64_sharded_v1</c> parameters of a scale (neuroglancer
/// sharded.md, 'Sharding specification'): how a chunk id is hashed and routed to a shard file and a minishard.
/// </summary>
public sealed class ShardingSpec
{
    public const string TypeName = "neuroglancer_uint64_sharded_v1";
    public const string IdentityHash = "identity";
    public const string MurmurHash = "murmurhash3_x86_128";

    public int PreshiftBits { get; set; }

    public string Hash { get; set; } = IdentityHash;

    public int MinishardBits { get; set; }

    public int ShardBits { get; set; }

    /// <summary>raw or gzip (RFC 1952).</summary>
    public string MinishardIndexEncoding { get; set; } = "gzip";

    /// <summary>raw or gzip (RFC 1952).</summary>
    public string DataEncoding { get; set; } = "raw";

    public static ShardingSpec FromJson(JsonObject json, string? source = null)
    {
        string type = (string?)json["@type"] ?? "";
        if (type != TypeName)
        {
            throw Invalid($"\"@type\" is \"{type}\", not \"{TypeName}\"", source);
        }

        var spec = new ShardingSpec
        {
            PreshiftBits = Bits(json, "preshift_bits", source),
            Hash = (string?)json["hash"] ?? throw Invalid("\"hash\" is missing", source),
            MinishardBits = Bits(json, "minishard_bits", source),
            ShardBits = Bits(json, "shard_bits", source),
            MinishardIndexEncoding = (string?)json["minishard_index_encoding"] ?? "raw",
            DataEncoding = (string?)json["data_encoding"] ?? "raw",
        };
        spec.Validate(source);
        return spec;
    }

    public JsonObject ToJson() => new()
    {
        ["@type"] = TypeName,
        ["preshift_bits"] = PreshiftBits,
        ["hash"] = Hash,
        ["minishard_bits"] = MinishardBits,
        ["shard_bits"] = ShardBits,
        ["minishard_index_encoding"] = MinishardIndexEncoding,
        ["data_encoding"] = DataEncoding,
    };

    public void Validate(string? source = null)
    {
        if (Hash is not (IdentityHash or MurmurHash))
        {
            throw Invalid($"\"hash\" is \"{Hash}\"; it must be \"{IdentityHash}\" or \"{MurmurHash}\"", source);
        }

        if (MinishardIndexEncoding is not ("raw" or "gzip") || DataEncoding is not ("raw" or "gzip"))
        {
            throw Invalid("the encodings must be \"raw\" or \"gzip\"", source);
        }

        if (PreshiftBits > 64 || MinishardBits + ShardBits > 64 || MinishardBits > 32)
        {
            throw Invalid("preshift_bits must be at most 64, minishard_bits at most 32, and minishard_bits + shard_bits at most 64", source);
        }
    }

    /// <summary>The shard and minishard of a chunk id.</summary>
    public (ulong Shard, ulong Minishard) Locate(ulong chunkId)
    {
        ulong shifted = PreshiftBits >= 64 ? 0 : chunkId >> PreshiftBits;
        ulong hashed = Hash == MurmurHash ? Murmur3X86128Low64(shifted) : shifted;
        ulong minishard = hashed & Mask(MinishardBits);
        ulong shard = MinishardBits >= 64 ? 0 : (hashed >> MinishardBits) & Mask(ShardBits);
        return (shard, minishard);
    }

    /// <summary>"&lt;shard&gt;.shard", lower-case hex padded to ceil(shard_bits / 4) digits (at least one).</summary>
    public string ShardFileName(ulong shard)
    {
        int digits = Math.Max(1, (ShardBits + 3) / 4);
        return shard.ToString("x" + digits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture) + ".shard";
    }

    public int MinishardCount => 1 << MinishardBits;

    /// <summary>
    /// Parameters for a volume scale: identity hash over the compressed Morton code, so that each
    /// shard is an aligned block of chunks (one task owns it whole); about
    /// <paramref name="targetShardBytes"/> of voxels per shard where the encoding shrinks them many
    /// times (compressed_segmentation, jpeg) and an eighth of that where it does not (raw, png),
    /// minishards of up to 4096 chunks, gzip minishard indices, and gzip chunk data except for jpeg
    /// and png scales.
    /// </summary>
    public static ShardingSpec ForScale(ScaleInfo scale, int bytesPerVoxel, long targetShardBytes = 1L << 30)
    {
        // A shard is assembled in memory from its encoded chunks before it is written: a raw image
        // shard of 1 GiB of voxels is about 1 GiB of memory per task (the shards benchmark's raw
        // EM image peaked at 4.7 GB with it).
        if (scale.Encoding is not (ChunkEncodings.CompressedSegmentation or ChunkEncodings.Jpeg))
        {
            targetShardBytes /= 8;
        }

        Int3 grid = scale.GridSize;
        int totalBits = BitsFor(grid.X) + BitsFor(grid.Y) + BitsFor(grid.Z);
        long chunkBytes = Math.Max(1, scale.ChunkSize.Volume * bytesPerVoxel);
        int perShard = 0;
        while (perShard < totalBits && (chunkBytes << (perShard + 1)) <= targetShardBytes)
        {
            perShard++;
        }

        // Whole rounds of x, y and z bits make a shard an axis-aligned block of the Morton order.
        if (perShard < totalBits)
        {
            perShard -= perShard % 3;
        }

        int minishard = Math.Min(Math.Max(0, perShard - 12), 9);
        return new ShardingSpec
        {
            PreshiftBits = perShard - minishard,
            MinishardBits = minishard,
            ShardBits = totalBits - perShard,
            Hash = IdentityHash,
            MinishardIndexEncoding = "gzip",
            // Chunk data gzipped as unsharded chunks are (compressed_segmentation shrinks about 6x
            // more); jpeg and png are compressed already.
            DataEncoding = ChunkEncodings.IsGzipWorthwhile(scale.Encoding) ? "gzip" : "raw",
        };
    }

    /// <summary>
    /// Parameters for multi-resolution meshes keyed by segment id (neuroglancer meshes.md, sharded storage): ids say nothing
    /// about place, so they are spread by murmurhash3_x86_128; one shard per 8 lod-0 meshing chunks
    /// (a stand-in for the segment count, unknown before meshing), 64 minishards per shard, gzip
    /// manifests and minishard indices.
    /// </summary>
    public static ShardingSpec ForMeshes(long meshingChunks) => new()
    {
        PreshiftBits = 0,
        MinishardBits = 6,
        ShardBits = Math.Min(16, BitsFor((int)Math.Min(int.MaxValue, Math.Max(1, meshingChunks / 8)))),
        Hash = MurmurHash,
        MinishardIndexEncoding = "gzip",
        DataEncoding = "gzip",
    };

    /// <summary>The compressed Morton code of a chunk grid position (neuroglancer precomputed volume.md, 'Compressed morton code').</summary>
    public static ulong ChunkId(Int3 grid, Int3 cell)
    {
        int maxBits = Math.Max(BitsFor(grid.X), Math.Max(BitsFor(grid.Y), BitsFor(grid.Z)));
        ulong id = 0;
        int j = 0;
        for (int i = 0; i < maxBits; i++)
        {
            for (int d = 0; d < 3; d++)
            {
                if ((1L << i) < grid[d])
                {
                    id |= (ulong)((cell[d] >> i) & 1) << j;
                    j++;
                }
            }
        }

        return id;
    }

    /// <summary>The grid position of a chunk id (the inverse of <see cref="ChunkId"/>); false when the id names no chunk of the grid.</summary>
    public static bool TryGetCell(Int3 grid, ulong chunkId, out Int3 cell)
    {
        int maxBits = Math.Max(BitsFor(grid.X), Math.Max(BitsFor(grid.Y), BitsFor(grid.Z)));
        var xyz = new int[3];
        int j = 0;
        for (int i = 0; i < maxBits; i++)
        {
            for (int d = 0; d < 3; d++)
            {
                if ((1L << i) < grid[d])
                {
                    xyz[d] |= (int)((chunkId >> j) & 1) << i;
                    j++;
                }
            }
        }

        cell = new Int3(xyz[0], xyz[1], xyz[2]);
        return (j >= 64 || chunkId >> j == 0) && cell.X < grid.X && cell.Y < grid.Y && cell.Z < grid.Z;
    }

    /// <summary>ceil(log2(n)): bits of a grid coordinate along an axis of n chunks.</summary>
    public static int BitsFor(int n)
    {
        int bits = 0;
        while ((1L << bits) < n)
        {
            bits++;
        }

        return bits;
    }

    /// <summary>MurmurHash3_x86_128 of the 8 little-endian bytes of <paramref name="key"/>, seed 0, low 64 bits (h1 | h2 &lt;&lt; 32).</summary>
    public static ulong Murmur3X86128Low64(ulong key)
    {
        const uint c1 = 0x239b961b, c2 = 0xab0e9789, c3 = 0x38b34ae5; // c4 only mixes k4, which 8 bytes never reach
        uint h1 = 0, h2 = 0, h3 = 0, h4 = 0;

        // 8 bytes: no full 16-byte block, a tail of k1 (bytes 0-3) and k2 (bytes 4-7).
        uint k2 = (uint)(key >> 32);
        k2 *= c2;
        k2 = Rotl(k2, 16);
        k2 *= c3;
        h2 ^= k2;
        uint k1 = (uint)key;
        k1 *= c1;
        k1 = Rotl(k1, 15);
        k1 *= c2;
        h1 ^= k1;

        const uint length = 8;
        h1 ^= length;
        h2 ^= length;
        h3 ^= length;
        h4 ^= length;
        h1 += h2 + h3 + h4;
        h2 += h1;
        h3 += h1;
        h4 += h1;
        h1 = Fmix(h1);
        h2 = Fmix(h2);
        h3 = Fmix(h3);
        h4 = Fmix(h4);
        h1 += h2 + h3 + h4;
        h2 += h1;
        return h1 | ((ulong)h2 << 32);
    }

    private static uint Rotl(uint x, int r) => (x << r) | (x >> (32 - r));

    private static uint Fmix(uint h)
    {
        h ^= h >> 16;
        h *= 0x85ebca6b;
        h ^= h >> 13;
        h *= 0xc2b2ae35;
        h ^= h >> 16;
        return h;
    }

    private static ulong Mask(int bits) => bits >= 64 ? ulong.MaxValue : (1UL << bits) - 1;

    private static int Bits(JsonObject json, string name, string? source)
    {
        if (json[name] is JsonValue value && value.TryGetValue(out int bits) && bits >= 0 && bits <= 64)
        {
            return bits;
        }

        throw Invalid($"\"{name}\" must be a whole number from 0 to 64", source);
    }

    private static EngineException Invalid(string what, string? source) =>
        new("InvalidShardingSpec", EngineErrorKind.InvalidData, $"{(source is null ? "" : source + ": ")}the \"sharding\" member is not valid: {what}.", source);
}

/// <summary>One key of a shard: its value and, optionally, bytes stored just before the value.</summary>
public sealed class ShardEntry
{
    public ShardEntry(ulong key, byte[] value, byte[]? prefix = null)
    {
        Key = key;
        Value = value;
        Prefix = prefix;
    }

    public ulong Key { get; }

    public byte[] Value { get; }

    public byte[]? Prefix { get; }
}

/// <summary>One shard of a sharded scale being written by the task that owns it (see <see cref="DatasetStore.BeginShard"/>).</summary>
public sealed class ShardAssembly : IDisposable
{
    private readonly DatasetStore _store;
    private readonly ShardingSpec _spec;
    private readonly Dictionary<ulong, byte[]> _chunks = new();

    internal ShardAssembly(DatasetStore store, ScaleInfo scale, ShardingSpec spec, ulong shard)
    {
        _store = store;
        Scale = scale;
        _spec = spec;
        Shard = shard;
    }

    public ScaleInfo Scale { get; }

    public ulong Shard { get; }

    /// <summary>Encoded bytes gathered so far.</summary>
    public long Bytes { get; private set; }

    internal void Add(ulong chunkId, byte[] encoded)
    {
        if (_spec.Locate(chunkId).Shard != Shard)
        {
            throw new InvalidOperationException($"Chunk {chunkId} does not belong to shard {Shard}.");
        }

        lock (_chunks)
        {
            _chunks[chunkId] = encoded;
            Bytes += encoded.Length;
        }
    }

    /// <summary>Writes the shard file in one write (it appears whole or not at all); a shard with no chunk is not written.</summary>
    public void Commit(CancellationToken cancellationToken = default)
    {
        lock (_chunks)
        {
            if (_chunks.Count > 0)
            {
                _store.Objects.Write(DatasetStore.ShardKey(Scale, _spec, Shard), ShardBuilder.Build(_spec, _chunks), gzip: false, cancellationToken);
            }

            _chunks.Clear();
        }
    }

    public void Dispose()
    {
        lock (_chunks)
        {
            _chunks.Clear();
        }

        _store.EndShard(this);
    }
}

/// <summary>Builds one shard file from its chunks' encoded bytes (neuroglancer sharded.md, 'Shard index format' and 'Minishard index format').</summary>
public static class ShardBuilder
{
    /// <summary>
    /// [shard index][chunk data, minishard by minishard, ids ascending][minishard indices], as peer
    /// writers lay it out. Every chunk must belong to this shard.
    /// </summary>
    public static byte[] Build(ShardingSpec spec, IEnumerable<KeyValuePair<ulong, byte[]>> chunks) =>
        Build(spec, chunks.Select(c => new ShardEntry(c.Key, c.Value)));

    /// <summary>
    /// As <see cref="Build(ShardingSpec, IEnumerable{KeyValuePair{ulong, byte[]}})"/>, where an entry
    /// may carry bytes stored immediately before its value and outside the index (a multi-resolution
    /// mesh's fragments before its manifest, neuroglancer meshes.md); data_encoding applies to values only.
    /// </summary>
    public static byte[] Build(ShardingSpec spec, IEnumerable<ShardEntry> entries)
    {
        var byMinishard = new SortedDictionary<ulong, List<ShardEntry>>();
        foreach (ShardEntry entry in entries)
        {
            ulong minishard = spec.Locate(entry.Key).Minishard;
            if (!byMinishard.TryGetValue(minishard, out var list))
            {
                byMinishard[minishard] = list = new List<ShardEntry>();
            }

            list.Add(entry);
        }

        using var data = new MemoryStream();
        var indices = new Dictionary<ulong, byte[]>();
        foreach (KeyValuePair<ulong, List<ShardEntry>> minishard in byMinishard)
        {
            List<ShardEntry> list = minishard.Value;
            list.Sort((a, b) => a.Key.CompareTo(b.Key));
            int n = list.Count;
            byte[] index = new byte[24 * n];
            ulong previousId = 0, previousEnd = 0;
            for (int i = 0; i < n; i++)
            {
                if (i > 0 && list[i].Key == list[i - 1].Key)
                {
                    throw new EngineException("DuplicateChunkId", EngineErrorKind.InvalidData, $"Chunk id {list[i].Key} is given twice for one shard.", list[i].Key);
                }

                if (list[i].Prefix is { } prefix)
                {
                    data.Write(prefix, 0, prefix.Length);
                }

                byte[] stored = spec.DataEncoding == "gzip" ? Gzip(list[i].Value) : list[i].Value;
                ulong start = (ulong)data.Length;
                data.Write(stored, 0, stored.Length);
                BinaryPrimitives.WriteUInt64LittleEndian(index.AsSpan(8 * i), list[i].Key - previousId);
                BinaryPrimitives.WriteUInt64LittleEndian(index.AsSpan((8 * n) + (8 * i)), start - previousEnd);
                BinaryPrimitives.WriteUInt64LittleEndian(index.AsSpan((16 * n) + (8 * i)), (ulong)stored.Length);
                previousId = list[i].Key;
                previousEnd = start + (ulong)stored.Length;
            }

            indices[minishard.Key] = spec.MinishardIndexEncoding == "gzip" ? Gzip(index) : index;
        }

        int headerLength = 16 * spec.MinishardCount;
        byte[] header = new byte[headerLength];
        ulong offset = (ulong)data.Length;
        foreach (KeyValuePair<ulong, byte[]> index in indices.OrderBy(kv => kv.Key))
        {
            data.Write(index.Value, 0, index.Value.Length);
            BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(16 * (int)index.Key), offset);
            BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan((16 * (int)index.Key) + 8), offset + (ulong)index.Value.Length);
            offset += (ulong)index.Value.Length;
        }

        byte[] shard = new byte[headerLength + data.Length];
        header.CopyTo(shard, 0);
        data.Position = 0;
        data.Read(shard, headerLength, (int)data.Length);
        return shard;
    }

    /// <summary>An RFC 1952 gzip stream (what the viewer's decoder takes; not zlib).</summary>
    internal static byte[] Gzip(byte[] bytes)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(bytes, 0, bytes.Length);
        }

        return output.ToArray();
    }
}

/// <summary>
/// Reads chunks from shard files through byte ranges (16 bytes of the shard index, the minishard
/// index, then the chunk), as the viewer does; minishard indices are kept once read.
/// </summary>
public sealed class ShardReader
{
    private readonly ShardingSpec _spec;
    private readonly Func<ulong, long, int, byte[]?> _readRange;
    private readonly int _maxIndexBytes;
    private readonly Dictionary<(ulong, ulong), (ulong[] Ids, ulong[] Starts, ulong[] Sizes)?> _minishards = new();
    private readonly object _gate = new();

    /// <param name="spec">The scale's sharding.</param>
    /// <param name="readRange">Reads <c>length</c> bytes at <c>offset</c> of shard <c>shard</c>; null when the shard file does not exist.</param>
    /// <param name="maxChunks">The most chunks a minishard can list (the scale's chunk count): bounds what a gzip minishard index may inflate to.</param>
    public ShardReader(ShardingSpec spec, Func<ulong, long, int, byte[]?> readRange, long maxChunks = int.MaxValue / 24)
    {
        _spec = spec;
        _readRange = readRange;
        _maxIndexBytes = (int)Math.Min(int.MaxValue - 64, 24L * Math.Max(1, maxChunks));
    }

    /// <summary>The chunk's stored bytes (gzip undone when data_encoding is gzip, up to <paramref name="maxLength"/>), or null when it is absent.</summary>
    public byte[]? Read(ulong chunkId, string source, int maxLength = int.MaxValue - 64)
    {
        (ulong shard, ulong minishard) = _spec.Locate(chunkId);
        (ulong[] Ids, ulong[] Starts, ulong[] Sizes)? index = MinishardIndex(shard, minishard, source);
        if (index is not { } entries)
        {
            return null;
        }

        int at = Array.BinarySearch(entries.Ids, chunkId);
        if (at < 0)
        {
            return null;
        }

        long start = 16L * _spec.MinishardCount + (long)entries.Starts[at];
        ulong size = entries.Sizes[at];
        if (size > int.MaxValue)
        {
            throw Corrupt(source, $"chunk {chunkId} claims {size} bytes");
        }

        byte[] stored = _readRange(shard, start, (int)size) ?? throw Corrupt(source, $"chunk {chunkId} lies beyond the end of the shard");
        if (stored.Length != (int)size)
        {
            throw Corrupt(source, $"chunk {chunkId} lies beyond the end of the shard");
        }

        return _spec.DataEncoding == "gzip" ? Gunzip(stored, maxLength, source) : stored;
    }

    /// <summary>Where a key's stored value lies in its shard file: shard number, absolute offset and length; null when absent.</summary>
    public (ulong Shard, long Start, long Length)? Find(ulong key, string source)
    {
        (ulong shard, ulong minishard) = _spec.Locate(key);
        if (MinishardIndex(shard, minishard, source) is not { } entries)
        {
            return null;
        }

        int at = Array.BinarySearch(entries.Ids, key);
        return at < 0 ? null : (shard, (16L * _spec.MinishardCount) + (long)entries.Starts[at], (long)entries.Sizes[at]);
    }

    /// <summary>Undoes data_encoding on a stored value (bounded by <paramref name="maxLength"/>).</summary>
    public byte[] Decode(byte[] stored, string source, int maxLength = int.MaxValue - 64) =>
        _spec.DataEncoding == "gzip" ? Gunzip(stored, maxLength, source) : stored;

    /// <summary>Every chunk id of one minishard, ascending (for validation).</summary>
    public (ulong[] Ids, ulong[] Starts, ulong[] Sizes)? MinishardIndex(ulong shard, ulong minishard, string source)
    {
        lock (_gate)
        {
            if (_minishards.TryGetValue((shard, minishard), out var cached))
            {
                return cached;
            }
        }

        (ulong[], ulong[], ulong[])? result = null;
        byte[]? entry = _readRange(shard, 16L * (long)minishard, 16);
        if (entry is not null)
        {
            if (entry.Length != 16)
            {
                throw Corrupt(source, "the shard index is cut short");
            }

            ulong start = BinaryPrimitives.ReadUInt64LittleEndian(entry);
            ulong end = BinaryPrimitives.ReadUInt64LittleEndian(entry.AsSpan(8));
            if (end < start || end - start > int.MaxValue)
            {
                throw Corrupt(source, $"minishard {minishard} has the range [{start}, {end})");
            }

            if (end > start)
            {
                byte[] raw = _readRange(shard, 16L * _spec.MinishardCount + (long)start, (int)(end - start)) ?? Array.Empty<byte>();
                if (raw.Length != (int)(end - start))
                {
                    throw Corrupt(source, $"the index of minishard {minishard} lies beyond the end of the shard");
                }

                byte[] index = _spec.MinishardIndexEncoding == "gzip" ? Gunzip(raw, _maxIndexBytes, source) : raw;
                if (index.Length % 24 != 0)
                {
                    throw Corrupt(source, $"the index of minishard {minishard} is {index.Length} bytes, not a multiple of 24");
                }

                int n = index.Length / 24;
                var ids = new ulong[n];
                var starts = new ulong[n];
                var sizes = new ulong[n];
                ulong id = 0, position = 0;
                for (int i = 0; i < n; i++)
                {
                    ulong deltaId = BinaryPrimitives.ReadUInt64LittleEndian(index.AsSpan(8 * i));
                    if (i > 0 && deltaId == 0)
                    {
                        throw Corrupt(source, $"minishard {minishard} lists chunk ids out of order");
                    }

                    id += deltaId;
                    position += BinaryPrimitives.ReadUInt64LittleEndian(index.AsSpan((8 * n) + (8 * i)));
                    ids[i] = id;
                    starts[i] = position;
                    sizes[i] = BinaryPrimitives.ReadUInt64LittleEndian(index.AsSpan((16 * n) + (8 * i)));
                    position += sizes[i];
                }

                result = (ids, starts, sizes);
            }
        }

        lock (_gate)
        {
            _minishards[(shard, minishard)] = result;
        }

        return result;
    }

    // Through the stores' bounded reader: a gzip bomb inside a shard stops at what the part can legally hold.
    private static byte[] Gunzip(byte[] bytes, int maxLength, string source)
    {
        try
        {
            using var input = new MemoryStream(bytes, writable: false);
            using PooledBytes inflated = ObjectContent.ReadAll(input, gzip: true, maxLength, bytes.Length, source);
            return inflated.ToArray();
        }
        catch (EngineException ex) when (ex.ErrorId == "InvalidGzipObject")
        {
            throw new EngineException("InvalidShard", EngineErrorKind.InvalidData, $"{source}: a gzip-encoded part of the shard is not valid gzip.", source, ex);
        }
    }

    private static EngineException Corrupt(string source, string what) =>
        new("InvalidShard", EngineErrorKind.InvalidData, $"{source}: the shard is not valid: {what}.", source);
}
