using System;
using System.IO;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using PrecomputedTools.Engine.Storage;

namespace PrecomputedTools.Engine.Precomputed;

/// <summary>How chunk files are named inside a scale (the precomputed spec's chunk names).</summary>
public enum ChunkLayout
{
    /// <summary>&lt;key&gt;/x0-x1_y0-y1_z0-z1: what the viewer requests.</summary>
    Flat,

    /// <summary>&lt;key&gt;/x0-x1/y0-y1/z0-z1: neuroglancer-scripts' nested layout; needs a server rewrite.</summary>
    Nested,
}

/// <summary>
/// A precomputed dataset in a store: where its info and chunks live, and how this dataset stores
/// them (flat or nested names, gzip or not). A dataset opened from what exists reveals its
/// settings, so every later stage writes the same way.
/// </summary>
public sealed class DatasetStore : IDisposable
{
    public const string InfoKey = ObjectNames.InfoName;

    /// <summary>
    /// The info of a first run in progress: hidden (viewers, validators and publishers skip it),
    /// so the dataset is not declared before its chunks exist, yet a resumed run finds its plan.
    /// </summary>
    public const string PendingInfoKey = ".pt-pending-info";
    private const int MaxInfoBytes = 64 << 20;
    private readonly bool _ownsStore;

    public DatasetStore(IObjectStore objects, ChunkLayout layout = ChunkLayout.Flat, bool gzip = true, bool ownsStore = true)
    {
        Objects = objects;
        Layout = layout;
        Gzip = gzip;
        _ownsStore = ownsStore;
    }

    /// <summary>The objects of the dataset.</summary>
    public IObjectStore Objects { get; }

    /// <summary>Chunk naming used for writing; reading accepts both.</summary>
    public ChunkLayout Layout { get; }

    /// <summary>Whether chunks are stored gzip-encoded.</summary>
    public bool Gzip { get; }

    /// <summary>The dataset's location (path or URL).</summary>
    public string Location => Objects.Location;

    /// <summary>Opens a location; settings not given are revealed from the chunks already there (default flat, gzip).</summary>
    public static DatasetStore Open(string location, StoreOptions? options = null, ChunkLayout? layout = null, bool? gzip = null)
    {
        IObjectStore objects = StoreLocation.Open(location, options);
        try
        {
            if (layout is null || gzip is null)
            {
                (ChunkLayout Layout, bool Gzip)? found = null;
                PrecomputedInfo? info = null;
                try
                {
                    info = TryReadInfo(objects);
                }
                catch (EngineException ex) when (ex.ErrorId is "InvalidPrecomputedInfo" or "InvalidVolumeGeometry")
                {
                    // Opening only reveals settings; a damaged info is reported by whoever reads it.
                }

                if (info is not null)
                {
                    found = Reveal(objects, info);
                }

                layout ??= found?.Layout ?? ChunkLayout.Flat;
                gzip ??= found?.Gzip ?? true;
            }

            return new DatasetStore(objects, layout.Value, gzip.Value);
        }
        catch
        {
            objects.Dispose();
            throw;
        }
    }

    /// <summary>The same objects with other write settings (the store is shared, not owned).</summary>
    public DatasetStore With(ChunkLayout layout, bool gzip) => new(Objects, layout, gzip, ownsStore: false);

    public bool HasInfo => Objects.Stat(InfoKey) is not null;

    public PrecomputedInfo ReadInfo() => TryReadInfo(Objects) ?? throw new EngineException(
        "DatasetNotFound",
        EngineErrorKind.ObjectNotFound,
        $"No precomputed info at '{ObjectNames.Join(Location, InfoKey)}'.",
        Location);

    /// <summary>The info of an interrupted first run (see <see cref="PendingInfoKey"/>), or null.</summary>
    public PrecomputedInfo? ReadPendingInfo() => TryReadInfo(Objects, PendingInfoKey);

    /// <summary>Records the plan of a first run before its chunks are written.</summary>
    public void WritePendingInfo(PrecomputedInfo info) => Objects.Write(PendingInfoKey, Encoding.UTF8.GetBytes(info.ToJson()), gzip: false);

    /// <summary>Writes the info (see <see cref="WriteInfo"/>) and removes the pending one.</summary>
    public void CommitInfo(PrecomputedInfo info)
    {
        WriteInfo(info);
        Objects.Delete(PendingInfoKey);
    }

    private static PrecomputedInfo? TryReadInfo(IObjectStore objects, string key = InfoKey)
    {
        using PooledBytes? bytes = objects.Read(key, MaxInfoBytes);
        if (bytes is null)
        {
            return null;
        }

        string source = ObjectNames.Join(objects.Location, key);
        string text;
        try
        {
            text = new UTF8Encoding(false, true).GetString(bytes.Span.ToArray());
        }
        catch (ArgumentException ex)
        {
            throw new EngineException("InvalidPrecomputedInfo", EngineErrorKind.InvalidData, $"{source}: the info is not UTF-8 text.", source, ex);
        }

        // Every reader divides by chunk sizes and walks the grid: a foreign info is checked before any of them sees it.
        PrecomputedInfo info = PrecomputedInfo.Parse(text, null, allowIncompleteScales: false, source: source);
        info.Validate(source);
        return info;
    }

    /// <summary>
    /// Writes the info. Everything written before becomes durable first: the info is what declares
    /// the dataset, so it is written after its chunks' renames are on the disk.
    /// </summary>
    public void WriteInfo(PrecomputedInfo info)
    {
        Objects.Flush();
        Objects.Write(InfoKey, Encoding.UTF8.GetBytes(info.ToJson()), gzip: false);
        Objects.Flush();
    }

    /// <summary>"&lt;scale key&gt;/&lt;chunk name&gt;" in a layout.</summary>
    public static string ChunkKey(ScaleInfo scale, Box3 localBox, ChunkLayout layout)
    {
        Box3 g = localBox.Translate(scale.VoxelOffset);
        string name = layout == ChunkLayout.Flat
            ? g.ToString()
            : $"{g.Begin.X}-{g.End.X}/{g.Begin.Y}-{g.End.Y}/{g.Begin.Z}-{g.End.Z}";
        return scale.Key + "/" + name;
    }

    public string ChunkKey(ScaleInfo scale, Box3 localBox) => ChunkKey(scale, localBox, Layout);

    /// <summary>Reads a chunk's encoded bytes (inflated) in either layout into a pooled buffer; null when absent.</summary>
    public PooledBytes? ReadChunkPooled(PrecomputedInfo info, ScaleInfo scale, Box3 localBox)
    {
        int limit = ChunkCodec.MaxEncodedLength(info.DataType, info.NumChannels, scale, localBox.Size);
        if (scale.Sharding is not null)
        {
            return ReadShardedChunk(scale, localBox, limit);
        }

        return Objects.Read(ChunkKey(scale, localBox, Layout), limit)
            ?? Objects.Read(ChunkKey(scale, localBox, Layout == ChunkLayout.Flat ? ChunkLayout.Nested : ChunkLayout.Flat), limit);
    }

    private readonly Dictionary<string, ShardReader> _shardReaders = new();

    /// <summary>The scale's sharding, parsed (null when the scale is not sharded).</summary>
    public static ShardingSpec? ShardingOf(ScaleInfo scale, string? source = null) =>
        scale.Sharding is null ? null : ShardingSpec.FromJson(scale.Sharding, source);

    /// <summary>The key of a shard file: "&lt;scale key&gt;/&lt;hex&gt;.shard".</summary>
    public static string ShardKey(ScaleInfo scale, ShardingSpec spec, ulong shard) => scale.Key + "/" + spec.ShardFileName(shard);

    /// <summary>The chunk id of a chunk of a sharded scale (its compressed Morton code).</summary>
    public static ulong ShardedChunkId(ScaleInfo scale, Box3 localBox)
    {
        Int3 chunk = scale.ChunkSize;
        return ShardingSpec.ChunkId(scale.GridSize, new Int3(localBox.Begin.X / chunk.X, localBox.Begin.Y / chunk.Y, localBox.Begin.Z / chunk.Z));
    }

    /// <summary>The reader of a sharded scale's shard files, one per scale and store, so minishard indices are read once.</summary>
    public ShardReader ShardReaderFor(ScaleInfo scale)
    {
        lock (_shardReaders)
        {
            if (!_shardReaders.TryGetValue(scale.Key, out ShardReader? reader))
            {
                ShardingSpec spec = ShardingOf(scale, Location) ?? throw new ArgumentException($"Scale {scale.Key} is not sharded.", nameof(scale));
                reader = new ShardReader(spec, (shard, offset, length) => Objects.ReadRange(ShardKey(scale, spec, shard), offset, length), scale.ChunkCount);
                _shardReaders[scale.Key] = reader;
            }

            return reader;
        }
    }

    // Through byte ranges, as the viewer reads it: the shard index entry, the minishard index (kept),
    // then the chunk.
    private PooledBytes? ReadShardedChunk(ScaleInfo scale, Box3 localBox, int limit)
    {
        byte[]? chunk = ShardReaderFor(scale).Read(ShardedChunkId(scale, localBox), ObjectNames.Join(Location, scale.Key), limit);
        if (chunk is null)
        {
            return null;
        }

        if (chunk.Length > limit)
        {
            throw new EngineException("ObjectTooLarge", EngineErrorKind.InvalidData, $"The chunk {scale.ChunkName(localBox)} in the shards of {ObjectNames.Join(Location, scale.Key)} is {chunk.Length} bytes; a chunk of its shape has at most {limit}.", Location);
        }

        byte[] pooled = EngineBuffers.Bytes.Rent(Math.Max(1, chunk.Length));
        chunk.CopyTo(pooled, 0);
        return new PooledBytes(pooled, chunk.Length);
    }

    public byte[]? ReadChunk(PrecomputedInfo info, ScaleInfo scale, Box3 localBox)
    {
        using PooledBytes? bytes = ReadChunkPooled(info, scale, localBox);
        return bytes?.ToArray();
    }

    /// <summary>
    /// Writes a chunk: its own object, or for a sharded scale into the shard being assembled by the
    /// task that owns it (<see cref="BeginShard"/>).
    /// </summary>
    public void WriteChunk(ScaleInfo scale, Box3 localBox, ReadOnlySpan<byte> encoded)
    {
        if (scale.Sharding is not null)
        {
            AssemblyFor(scale, localBox).Add(ShardedChunkId(scale, localBox), encoded.ToArray());
            return;
        }

        Objects.Write(ChunkKey(scale, localBox), encoded, GzipFor(scale));
    }

    /// <summary>Opens a streamed write of a chunk (for chunks produced layer by layer); a sharded scale's chunk is gathered for its shard.</summary>
    public IObjectWriter CreateChunk(ScaleInfo scale, Box3 localBox) =>
        scale.Sharding is not null
            ? new ShardChunkWriter(AssemblyFor(scale, localBox), ShardedChunkId(scale, localBox))
            : Objects.OpenWrite(ChunkKey(scale, localBox), GzipFor(scale));

    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Scale, ulong Shard), ShardAssembly> _assemblies = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ShardingSpec> _specs = new();

    /// <summary>
    /// Starts assembling one shard of a sharded scale: chunks written for it (by any writer, through
    /// <see cref="WriteChunk"/> or <see cref="CreateChunk"/>) are kept as encoded bytes until
    /// <see cref="ShardAssembly.Commit"/> writes the shard file whole, in one write; disposing without
    /// committing drops them. A task owns whole shards, so no shard is assembled twice at once.
    /// </summary>
    public ShardAssembly BeginShard(ScaleInfo scale, ulong shard)
    {
        ShardingSpec spec = ShardingOf(scale, Location) ?? throw new ArgumentException($"Scale {scale.Key} is not sharded.", nameof(scale));
        var assembly = new ShardAssembly(this, scale, spec, shard);
        if (!_assemblies.TryAdd((scale.Key, shard), assembly))
        {
            throw new InvalidOperationException($"Shard {shard} of scale {scale.Key} is already being assembled.");
        }

        return assembly;
    }

    /// <summary>The shard a chunk of a sharded scale belongs to.</summary>
    public static ulong ShardOf(ScaleInfo scale, ShardingSpec spec, Box3 localBox) => spec.Locate(ShardedChunkId(scale, localBox)).Shard;

    private ShardAssembly AssemblyFor(ScaleInfo scale, Box3 localBox)
    {
        // Every chunk of a sharded scale comes here: its spec is parsed once per scale, not per chunk.
        ShardingSpec spec = _specs.GetOrAdd(scale.Key, _ => ShardingOf(scale, Location)!);
        ulong shard = ShardOf(scale, spec, localBox);
        return _assemblies.TryGetValue((scale.Key, shard), out ShardAssembly? assembly)
            ? assembly
            : throw new InvalidOperationException($"Chunk {scale.ChunkName(localBox)} of sharded scale {scale.Key} was written outside a task that owns shard {shard}.");
    }

    internal void EndShard(ShardAssembly assembly) => _assemblies.TryRemove((assembly.Scale.Key, assembly.Shard), out _);

    private sealed class ShardChunkWriter : IObjectWriter
    {
        private readonly ShardAssembly _assembly;
        private readonly ulong _id;
        private readonly MemoryStream _bytes = new();

        public ShardChunkWriter(ShardAssembly assembly, ulong id)
        {
            _assembly = assembly;
            _id = id;
        }

        public void Write(ReadOnlySpan<byte> data)
        {
#if NET
            _bytes.Write(data);
#else
            byte[] copy = data.ToArray();
            _bytes.Write(copy, 0, copy.Length);
#endif
        }

        public void Commit() => _assembly.Add(_id, _bytes.ToArray());

        public void Dispose() => _bytes.Dispose();
    }

    /// <summary>Whether a scale's chunks are gzipped: the store's choice, except jpeg and png (already compressed).</summary>
    public bool GzipFor(ScaleInfo scale) => Gzip && ChunkEncodings.IsGzipWorthwhile(scale.Encoding);

    /// <summary>Whether a shard file of a sharded scale is stored (a shard is written whole or not at all).</summary>
    public bool IsShardComplete(ScaleInfo scale, ulong shard) =>
        Objects.Stat(ShardKey(scale, ShardingOf(scale, Location)!, shard)) is not null;

    /// <summary>True when the chunk exists and decodes to the right shape.</summary>
    public bool IsChunkComplete(PrecomputedInfo info, ScaleInfo scale, Box3 box)
    {
        try
        {
            using PooledBytes? encoded = ReadChunkPooled(info, scale, box);
            if (encoded is null)
            {
                return false;
            }

            ChunkCodec.Verify(info.DataType, scale, box.Size, encoded.Span, scale.ChunkName(box));
            return true;
        }
        catch (EngineException ex) when (ex.Kind == EngineErrorKind.InvalidData)
        {
            return false;
        }
    }

    /// <summary>True when anything is stored under the scale's key.</summary>
    public bool HasChunks(ScaleInfo scale) => Objects.CanList
        ? Objects.List(scale.Key + "/").Any()
        : Objects.Stat(ChunkKey(scale, scale.ChunkBox(default))) is not null;

    /// <summary>Layout and gzip of the chunks already stored (from the first one found), or null when there is none.</summary>
    public static (ChunkLayout Layout, bool Gzip)? Reveal(IObjectStore objects, PrecomputedInfo info)
    {
        foreach (ScaleInfo scale in info.Scales)
        {
            if (!scale.ChunkSize.AllPositive)
            {
                continue;
            }

            if (objects.CanList)
            {
                StoredObject? first = objects.List(scale.Key + "/").Cast<StoredObject?>().FirstOrDefault();
                if (first is { } found)
                {
                    ChunkLayout layout = found.Key.Substring(scale.Key.Length + 1).IndexOf('/') >= 0 ? ChunkLayout.Nested : ChunkLayout.Flat;
                    bool gzip = found.Gzip ?? objects.Stat(found.Key)?.Gzip ?? true;
                    return (layout, gzip);
                }
            }
            else
            {
                Box3 box = scale.ChunkBox(default);
                foreach (ChunkLayout layout in new[] { ChunkLayout.Flat, ChunkLayout.Nested })
                {
                    if (objects.Stat(ChunkKey(scale, box, layout)) is { } found)
                    {
                        return (layout, found.Gzip ?? true);
                    }
                }
            }
        }

        return null;
    }

    public void Dispose()
    {
        if (_ownsStore)
        {
            Objects.Dispose();
        }
    }

    public override string ToString() => Location;
}
