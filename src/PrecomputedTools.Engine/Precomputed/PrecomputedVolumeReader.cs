using System;
using System.Buffers;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Engine.Volumes;

namespace PrecomputedTools.Engine.Precomputed;

/// <summary>
/// Reads any region of one scale of a precomputed dataset on disk by decoding the chunks it
/// overlaps. Absent chunks read as 0 (the viewer's fill value). A small bounded cache of decoded
/// chunks serves overlapping reads (meshing with a halo, downscaling) without re-decoding.
/// </summary>
public sealed class PrecomputedVolumeReader : IVolumeReader
{
    private readonly DatasetStore _directory;
    private readonly bool _ownsStore;
    private readonly int _elementSize;
    private readonly long _cacheLimitBytes;
    private readonly object _cacheGate = new();
    private readonly Dictionary<Int3, LinkedListNode<CachedChunk>> _cache = new();
    private readonly LinkedList<CachedChunk> _lru = new();
    private long _cachedBytes;

    /// <summary>Cache for a reader that meshes: blocks are read once; only the next block's one-voxel overlap is read again.</summary>
    public const long MeshingCacheBytes = 32L << 20;

    public PrecomputedVolumeReader(DatasetStore directory, PrecomputedInfo info, ScaleInfo scale, long cacheLimitBytes = 256L << 20, bool ownsStore = false)
    {
        _directory = directory;
        _ownsStore = ownsStore;
        Info = info;
        Scale = scale;
        _elementSize = VoxelTypes.SizeOf(info.DataType);
        _cacheLimitBytes = cacheLimitBytes;
    }

    /// <summary>Opens scale <paramref name="scaleKey"/> (default: the finest) of the dataset at <paramref name="location"/> (a path or URL).</summary>
    public static PrecomputedVolumeReader Open(string location, string? scaleKey = null, long cacheLimitBytes = 256L << 20, StoreOptions? options = null)
    {
        DatasetStore directory = DatasetStore.Open(location, options);
        try
        {
            PrecomputedInfo info = directory.ReadInfo();
            ScaleInfo scale = FindScale(info, scaleKey, location);
            return new PrecomputedVolumeReader(directory, info, scale, cacheLimitBytes, ownsStore: true);
        }
        catch
        {
            directory.Dispose();
            throw;
        }
    }

    /// <summary>A scale by key or index; the finest when <paramref name="scaleKey"/> is null.</summary>
    public static ScaleInfo FindScale(PrecomputedInfo info, string? scaleKey, string location)
    {
        if (scaleKey is null)
        {
            return info.Scales[0];
        }

        if (info.FindScale(scaleKey) is { } byKey)
        {
            return byKey;
        }

        if (int.TryParse(scaleKey, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int index) && index < info.Scales.Count)
        {
            return info.Scales[index];
        }

        throw new EngineException("ScaleNotFound", EngineErrorKind.ObjectNotFound, $"The dataset '{location}' has no scale '{scaleKey}'. Its scales are: {string.Join(", ", info.Scales.ConvertAll(s => s.Key))} (or an index 0..{info.Scales.Count - 1}).", scaleKey);
    }

    public PrecomputedInfo Info { get; }

    public ScaleInfo Scale { get; }

    public Int3 Size => Scale.Size;

    public VoxelType DataType => Info.DataType;

    public Int3 ReadGranularity => Scale.ChunkSize;

    public Task ReadAsync(Box3 region, Memory<byte> destination, CancellationToken cancellationToken)
    {
        Read(region, destination.Span, cancellationToken);
        return Task.CompletedTask;
    }

    /// <summary>Synchronous form of <see cref="ReadAsync"/>.</summary>
    public void Read(Box3 region, Span<byte> destination, CancellationToken cancellationToken = default)
    {
        if (!Box3.FromSize(Size).Contains(region) || region.IsEmpty)
        {
            throw new ArgumentOutOfRangeException(nameof(region), $"Region {region} is not inside the scale's {Size} voxels.");
        }

        Int3 regionSize = region.Size;
        if (destination.Length != regionSize.Volume * _elementSize)
        {
            throw new ArgumentException($"The destination has {destination.Length} bytes; region {region} needs {regionSize.Volume * _elementSize}.", nameof(destination));
        }

        Int3 chunk = Scale.ChunkSize;
        Int3 firstChunk = new(region.Begin.X / chunk.X, region.Begin.Y / chunk.Y, region.Begin.Z / chunk.Z);
        Int3 lastChunk = new((region.End.X - 1) / chunk.X, (region.End.Y - 1) / chunk.Y, (region.End.Z - 1) / chunk.Z);
        for (int cz = firstChunk.Z; cz <= lastChunk.Z; cz++)
        {
            for (int cy = firstChunk.Y; cy <= lastChunk.Y; cy++)
            {
                for (int cx = firstChunk.X; cx <= lastChunk.X; cx++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    Int3 grid = new(cx, cy, cz);
                    Box3 chunkBox = Scale.ChunkBox(grid);
                    Box3 overlap = chunkBox.Intersect(region);
                    CopyChunk(grid, chunkBox, overlap, region, destination);
                }
            }
        }
    }

    /// <summary>Decodes one whole chunk into <paramref name="destination"/>; returns false when the chunk file is absent (destination zeroed).</summary>
    public bool ReadChunk(Box3 chunkBox, Span<byte> destination)
    {
        byte[]? encoded = _directory.ReadChunk(Info, Scale, chunkBox);
        if (encoded is null)
        {
            destination.Clear();
            return false;
        }

        ChunkCodec.Decode(Info.DataType, Scale, chunkBox.Size, encoded, destination, Scale.ChunkName(chunkBox));
        return true;
    }

    // Decoded chunks live in the cache or in a small free list of buffers evicted from it: reading
    // a whole scale allocates about the cache's size, not one array per chunk. Cached arrays are
    // only read under the gate, so one evicted and reused by another thread is never being copied.
    private void CopyChunk(Int3 grid, Box3 chunkBox, Box3 overlap, Box3 region, Span<byte> destination)
    {
        lock (_cacheGate)
        {
            if (_cache.TryGetValue(grid, out LinkedListNode<CachedChunk>? hit))
            {
                _lru.Remove(hit);
                _lru.AddFirst(hit);
                CopyOverlap(hit.Value.Voxels, chunkBox, overlap, region, destination);
                return;
            }
        }

        byte[]? voxels = null;
        int size = checked((int)(chunkBox.Size.Volume * _elementSize));
        using (PooledBytes? encoded = _directory.ReadChunkPooled(Info, Scale, chunkBox))
        {
            if (encoded is not null)
            {
                voxels = RentBuffer(size);
                ChunkCodec.Decode(Info.DataType, Scale, chunkBox.Size, encoded.Span, voxels.AsSpan(0, size), Scale.ChunkName(chunkBox));
            }
        }

        lock (_cacheGate)
        {
            CopyOverlap(voxels, chunkBox, overlap, region, destination);
            if (size <= _cacheLimitBytes / 4 && !_cache.ContainsKey(grid))
            {
                LinkedListNode<CachedChunk> node = _lru.AddFirst(new CachedChunk(grid, voxels));
                _cache[grid] = node;
                _cachedBytes += voxels?.Length ?? 0;
                while (_cachedBytes > _cacheLimitBytes && _lru.Last is { } oldest)
                {
                    _lru.RemoveLast();
                    _cache.Remove(oldest.Value.Grid);
                    _cachedBytes -= oldest.Value.Voxels?.Length ?? 0;
                    ReturnBuffer(oldest.Value.Voxels);
                }
            }
            else
            {
                ReturnBuffer(voxels);
            }
        }
    }

    private readonly List<byte[]> _free = new();
    private long _freeBytes;

    // A buffer at least as long as the chunk (edge chunks are smaller and reuse whole-chunk buffers).
    private byte[] RentBuffer(int size)
    {
        lock (_cacheGate)
        {
            int best = -1;
            for (int i = 0; i < _free.Count; i++)
            {
                if (_free[i].Length >= size && (best < 0 || _free[i].Length < _free[best].Length))
                {
                    best = i;
                }
            }

            if (best >= 0)
            {
                byte[] buffer = _free[best];
                _free[best] = _free[_free.Count - 1];
                _free.RemoveAt(_free.Count - 1);
                _freeBytes -= buffer.Length;
                return buffer;
            }
        }

        return new byte[size];
    }

    // Called under the gate. A few buffers are enough (one per reading thread between two
    // evictions): at most 16, and no more bytes than half the cache unless that is under two
    // buffers (huge chunks); when full, a larger buffer replaces the smallest kept.
    private void ReturnBuffer(byte[]? buffer)
    {
        if (buffer is null)
        {
            return;
        }

        if (_free.Count < 16 && (_free.Count < 2 || _freeBytes + buffer.Length <= _cacheLimitBytes / 2))
        {
            _free.Add(buffer);
            _freeBytes += buffer.Length;
            return;
        }

        if (_free.Count < 2)
        {
            return;
        }

        int smallest = 0;
        for (int i = 1; i < _free.Count; i++)
        {
            if (_free[i].Length < _free[smallest].Length)
            {
                smallest = i;
            }
        }

        if (_free[smallest].Length < buffer.Length && _freeBytes - _free[smallest].Length + buffer.Length <= Math.Max(_cacheLimitBytes / 2, 2L * buffer.Length))
        {
            _freeBytes += buffer.Length - _free[smallest].Length;
            _free[smallest] = buffer;
        }
    }

    private void CopyOverlap(byte[]? chunkVoxels, Box3 chunkBox, Box3 overlap, Box3 region, Span<byte> destination)
    {
        Int3 chunkSize = chunkBox.Size;
        Int3 regionSize = region.Size;
        int rowBytes = overlap.Size.X * _elementSize;
        for (int z = overlap.Begin.Z; z < overlap.End.Z; z++)
        {
            for (int y = overlap.Begin.Y; y < overlap.End.Y; y++)
            {
                long destinationOffset = ((long)(z - region.Begin.Z) * regionSize.Y + (y - region.Begin.Y)) * regionSize.X + (overlap.Begin.X - region.Begin.X);
                Span<byte> target = destination.Slice(checked((int)(destinationOffset * _elementSize)), rowBytes);
                if (chunkVoxels is null)
                {
                    target.Clear();
                    continue;
                }

                long sourceOffset = ((long)(z - chunkBox.Begin.Z) * chunkSize.Y + (y - chunkBox.Begin.Y)) * chunkSize.X + (overlap.Begin.X - chunkBox.Begin.X);
                chunkVoxels.AsSpan(checked((int)(sourceOffset * _elementSize)), rowBytes).CopyTo(target);
            }
        }
    }

    public void Dispose()
    {
        lock (_cacheGate)
        {
            _cache.Clear();
            _lru.Clear();
            _free.Clear();
            _freeBytes = 0;
            _cachedBytes = 0;
        }

        if (_ownsStore)
        {
            _directory.Dispose();
        }
    }

    private sealed class CachedChunk
    {
        public CachedChunk(Int3 grid, byte[]? voxels)
        {
            Grid = grid;
            Voxels = voxels;
        }

        public Int3 Grid { get; }

        public byte[]? Voxels { get; }
    }
}

/// <summary>A precomputed scale, in any store, as a volume source (to re-encode, downsample, export or mesh it).</summary>
public sealed class PrecomputedVolumeDescriptor : VolumeDescriptor
{
    private readonly string _location;
    private readonly StoreOptions? _options;
    private readonly PrecomputedInfo _info;
    private readonly ScaleInfo _scale;
    private readonly ChunkLayout _layout;

    /// <param name="location">Folder path or URL of the dataset.</param>
    /// <param name="info">Its info.</param>
    /// <param name="scale">The scale read as a volume.</param>
    /// <param name="options">Store settings (credentials, endpoint).</param>
    /// <param name="layout">The layout tried first for each chunk (both are read).</param>
    public PrecomputedVolumeDescriptor(string location, PrecomputedInfo info, ScaleInfo scale, StoreOptions? options = null, ChunkLayout layout = ChunkLayout.Flat)
    {
        _layout = layout;
        _location = StoreLocation.IsUri(location) ? location.TrimEnd('/') : Path.GetFullPath(location);
        _options = options;
        _info = info;
        _scale = scale;
    }

    public override Int3 Size => _scale.Size;

    public override VoxelType DataType => _info.DataType;

    public override double[]? Resolution => (double[])_scale.Resolution.Clone();

    public override Int3 VoxelOffset => _scale.VoxelOffset;

    /// <summary>Chunks.</summary>
    public override Int3 ReadGranularity => _scale.ChunkSize;

    public override string SourceKind => "Precomputed";

    public override string Source => ObjectNames.Join(_location, _scale.Key);

    public override string Name
    {
        get
        {
            string trimmed = _location.TrimEnd('/', '\\');
            return trimmed.Substring(trimmed.LastIndexOfAny(new[] { '/', '\\' }) + 1) + "/" + _scale.Key;
        }
    }

    public PrecomputedInfo Info => _info;

    public ScaleInfo Scale => _scale;

    /// <summary>{"kind": "precomputed", "location", "scale" (key), "layout", "store" (region, endpoint, profile; never keys)}.</summary>
    public override VolumeSourceSpec Spec => new(
        VolumeSourceSpec.PrecomputedKind,
        new System.Text.Json.Nodes.JsonObject
        {
            ["location"] = _location,
            ["scale"] = _scale.Key,
            ["layout"] = _layout == ChunkLayout.Nested ? "nested" : "flat",
            ["store"] = (_options ?? new StoreOptions()).ToPublicJson(),
        });

    public override IVolumeReader OpenReader()
    {
        DatasetStore store = DatasetStore.Open(_location, _options, _layout, gzip: true);
        return new PrecomputedVolumeReader(store, _info, _scale, ownsStore: true);
    }
}
