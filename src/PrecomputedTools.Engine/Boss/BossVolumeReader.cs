using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Engine.Volumes;

namespace PrecomputedTools.Engine.Boss;

/// <summary>
/// Reads a <see cref="BossVolumeDescriptor"/> block by block: each read is split over the block
/// grid (anchored at 0 in the level's voxels, so requests are cuboid-aligned), blocks are fetched
/// at most once at a time (concurrent readers of one block share the download), kept in a small
/// LRU and, with a cache directory, written atomically to disk so a rerun downloads nothing
/// finished. Memory stays bounded by (in-flight + cached) blocks.
/// </summary>
public sealed class BossVolumeReader : IVolumeReader
{
    private readonly BossVolumeDescriptor _descriptor;
    private readonly int _elementBytes;
    private readonly ConcurrentDictionary<Int3, Lazy<Task<byte[]?>>> _inFlight = new();
    private readonly LinkedList<(Int3 Cell, byte[]? Data)> _lru = new();
    private readonly int _lruCapacity;
    private readonly string? _cacheDirectory;
    private bool _disposed;

    internal BossVolumeReader(BossVolumeDescriptor descriptor)
    {
        _descriptor = descriptor;
        _elementBytes = VoxelTypes.SizeOf(descriptor.DataType);
        _lruCapacity = Math.Max(2, descriptor.Client.Options.ThrottleLimit + 2);
        if (descriptor.Options.CacheDirectory is { Length: > 0 } root)
        {
            _cacheDirectory = Path.Combine(root, CacheFolderName(descriptor));
            Directory.CreateDirectory(_cacheDirectory);
            AtomicFile.CleanTemporaryFiles(_cacheDirectory);
            string manifest = Path.Combine(_cacheDirectory, "cache.json");
            if (!File.Exists(manifest))
            {
                AtomicFile.WriteText(manifest, Manifest(descriptor));
            }
        }
    }

    public Int3 Size => _descriptor.Size;

    public VoxelType DataType => _descriptor.DataType;

    public Int3 ReadGranularity => _descriptor.BlockShape;

    /// <summary>The folder of one channel/level/iso/time/block shape inside the cache directory.</summary>
    public static string CacheFolderName(BossVolumeDescriptor d) => string.Format(
        CultureInfo.InvariantCulture,
        "{0}_{1}_{2}_{3}_r{4}{5}{6}_b{7}x{8}x{9}",
        d.Client.Connection.BaseUri.Host + (d.Client.Connection.BaseUri.IsDefaultPort ? "" : "-" + d.Client.Connection.BaseUri.Port),
        d.Options.Collection,
        d.Options.Experiment,
        d.Options.Channel,
        d.Options.Resolution,
        d.Options.Iso ? "_iso" : "",
        d.Options.Time is int t ? "_t" + t : "",
        d.BlockShape.X,
        d.BlockShape.Y,
        d.BlockShape.Z);

    private static string Manifest(BossVolumeDescriptor d) => EngineJson.ToText(w =>
    {
        w.WriteStartObject();
        w.WriteString("server", d.Client.Connection.BaseUri.GetLeftPart(UriPartial.Authority));
        w.WriteString("collection", d.Options.Collection);
        w.WriteString("experiment", d.Options.Experiment);
        w.WriteString("channel", d.Options.Channel);
        w.WriteNumber("level", d.Options.Resolution);
        w.WriteBoolean("iso", d.Options.Iso);
        if (d.Options.Time is int time)
        {
            w.WriteNumber("time", time);
        }
        else
        {
            w.WriteNull("time");
        }

        w.WriteString("data_type", VoxelTypes.ToInfoName(d.DataType));
        EngineJson.WriteInt3(w, "block_shape", d.BlockShape);
        w.WriteString("blocks", "one file per block: <x0-x1_y0-y1_z0-z1>.raw ([z][y][x] little-endian) or .zero (all zero)");
        w.WriteEndObject();
    });

    public async Task ReadAsync(Box3 region, Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (_disposed)
        {
            throw new ObjectDisposedException(nameof(BossVolumeReader));
        }

        if (region.IsEmpty)
        {
            return;
        }

        if (!Box3.FromSize(Size).Contains(region))
        {
            throw new ArgumentOutOfRangeException(nameof(region), $"{region} is outside the volume {Size}.");
        }

        if (destination.Length != region.VoxelCount * _elementBytes)
        {
            throw new ArgumentException($"The destination holds {destination.Length} bytes; {region.VoxelCount * _elementBytes} are needed.", nameof(destination));
        }

        Box3 absolute = region.Translate(_descriptor.Box.Begin);
        Int3 shape = _descriptor.BlockShape;
        var cells = new List<Int3>();
        for (int cz = absolute.Begin.Z / shape.Z; cz * shape.Z < absolute.End.Z; cz++)
        {
            for (int cy = absolute.Begin.Y / shape.Y; cy * shape.Y < absolute.End.Y; cy++)
            {
                for (int cx = absolute.Begin.X / shape.X; cx * shape.X < absolute.End.X; cx++)
                {
                    cells.Add(new Int3(cx, cy, cz));
                }
            }
        }

        if (cells.Count == 1 && BlockBox(cells[0]).Equals(absolute) && !_inFlight.ContainsKey(cells[0]) && !InLru(cells[0]))
        {
            // A read of exactly one block: decode straight into the caller's buffer, no copy.
            await LoadDirectAsync(cells[0], destination, cancellationToken).ConfigureAwait(false);
            return;
        }

        // A window of blocks in flight: enough to keep every request slot busy, bounded in memory.
        int window = Math.Max(1, _descriptor.Client.Options.ThrottleLimit);
        var pending = new Queue<(Int3 Cell, Task<byte[]?> Data)>();
        int next = 0;
        try
        {
            while (next < cells.Count || pending.Count > 0)
            {
                while (next < cells.Count && pending.Count < window)
                {
                    pending.Enqueue((cells[next], GetBlockAsync(cells[next], cancellationToken)));
                    next++;
                }

                (Int3 cell, Task<byte[]?> task) = pending.Dequeue();
                byte[]? data = await task.ConfigureAwait(false);
                CopyBlock(cell, data, absolute, destination.Span);
            }
        }
        catch
        {
            // Leave nothing running behind a failed or cancelled read: the other blocks in flight
            // observe the same token; wait for them (their outcome no longer matters) so no cache
            // file is still being written when the caller looks.
            while (pending.Count > 0)
            {
                Task<byte[]?> abandoned = pending.Dequeue().Data;
                try
                {
                    await abandoned.ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is OperationCanceledException or EngineException or System.Net.Http.HttpRequestException or System.IO.IOException)
                {
                    // Already reported through the first failure.
                }
            }

            throw;
        }
    }

    /// <summary>The block of a grid cell, clipped to the descriptor's box, in level coordinates.</summary>
    public Box3 BlockBox(Int3 cell)
    {
        Int3 shape = _descriptor.BlockShape;
        var grid = new Box3(cell * shape, (cell + Int3.One) * shape);
        return grid.Intersect(_descriptor.Box);
    }

    private void CopyBlock(Int3 cell, byte[]? data, Box3 absolute, Span<byte> destination)
    {
        Box3 block = BlockBox(cell);
        Box3 overlap = block.Intersect(absolute);
        if (overlap.IsEmpty)
        {
            return;
        }

        int eb = _elementBytes;
        Int3 bs = block.Size;
        Int3 rs = absolute.Size;
        int rowBytes = overlap.Size.X * eb;
        for (int z = overlap.Begin.Z; z < overlap.End.Z; z++)
        {
            for (int y = overlap.Begin.Y; y < overlap.End.Y; y++)
            {
                long dst = ((((long)(z - absolute.Begin.Z) * rs.Y) + (y - absolute.Begin.Y)) * rs.X + (overlap.Begin.X - absolute.Begin.X)) * eb;
                Span<byte> target = destination.Slice((int)dst, rowBytes);
                if (data is null)
                {
                    target.Clear();
                }
                else
                {
                    long src = ((((long)(z - block.Begin.Z) * bs.Y) + (y - block.Begin.Y)) * bs.X + (overlap.Begin.X - block.Begin.X)) * eb;
                    data.AsSpan((int)src, rowBytes).CopyTo(target);
                }
            }
        }
    }

    private bool InLru(Int3 cell)
    {
        lock (_lru)
        {
            foreach ((Int3 c, byte[]? _) in _lru)
            {
                if (c == cell)
                {
                    return true;
                }
            }
        }

        return false;
    }

    private async Task LoadDirectAsync(Int3 cell, Memory<byte> destination, CancellationToken ct)
    {
        Box3 block = BlockBox(cell);
        if (TryReadCache(block, destination.Length, out byte[]? cached, out bool zero))
        {
            if (zero)
            {
                destination.Span.Clear();
            }
            else
            {
                cached.AsSpan().CopyTo(destination.Span);
            }

            return;
        }

        BossCutoutOptions o = _descriptor.Options;
        await _descriptor.Client.GetCutoutAsync(o.Collection, o.Experiment, o.Channel, o.Resolution, block, o.Time, o.Iso, _descriptor.DataType, o.Format, destination, ct).ConfigureAwait(false);
        _descriptor.Statistics.Downloaded(destination.Length);
        _descriptor.Monitor?.ReportDone(1, destination.Length);
        WriteCache(block, destination.Span);
    }

    private bool TryReadCache(Box3 block, long bytes, out byte[]? data, out bool zero)
    {
        data = null;
        zero = false;
        if (_cacheDirectory is null)
        {
            return false;
        }

        string rawPath = Path.Combine(_cacheDirectory, block + ".raw");
        if (File.Exists(Path.Combine(_cacheDirectory, block + ".zero")))
        {
            zero = true;
        }
        else if (File.Exists(rawPath))
        {
            byte[] cached = File.ReadAllBytes(rawPath);
            if (cached.Length != bytes)
            {
                _descriptor.Client.Monitor.Warning($"The cached block {rawPath} has the wrong length; downloading it again.");
                AtomicFile.TryDelete(rawPath);
                return false;
            }

            data = cached;
        }
        else
        {
            return false;
        }

        _descriptor.Statistics.FromCache();
        _descriptor.Monitor?.ReportDone(1, bytes);
        return true;
    }

    private void WriteCache(Box3 block, ReadOnlySpan<byte> data)
    {
        if (_cacheDirectory is null)
        {
            return;
        }

        if (IsAllZero(data))
        {
            AtomicFile.Write(Path.Combine(_cacheDirectory, block + ".zero"), ReadOnlySpan<byte>.Empty);
        }
        else
        {
            AtomicFile.Write(Path.Combine(_cacheDirectory, block + ".raw"), data);
        }
    }

    /// <summary>A block's bytes; null means all zero.</summary>
    private async Task<byte[]?> GetBlockAsync(Int3 cell, CancellationToken ct)
    {
        lock (_lru)
        {
            for (LinkedListNode<(Int3 Cell, byte[]? Data)>? node = _lru.First; node is not null; node = node.Next)
            {
                if (node.Value.Cell == cell)
                {
                    _lru.Remove(node);
                    _lru.AddFirst(node);
                    return node.Value.Data;
                }
            }
        }

        var lazy = new Lazy<Task<byte[]?>>(() => LoadBlockAsync(cell, ct), LazyThreadSafetyMode.ExecutionAndPublication);
        Lazy<Task<byte[]?>> shared = _inFlight.GetOrAdd(cell, lazy);
        try
        {
            byte[]? data = await shared.Value.ConfigureAwait(false);
            lock (_lru)
            {
                bool present = false;
                foreach ((Int3 c, byte[]? _) in _lru)
                {
                    if (c == cell)
                    {
                        present = true;
                        break;
                    }
                }

                if (!present)
                {
                    _lru.AddFirst((cell, data));
                    while (_lru.Count > _lruCapacity)
                    {
                        _lru.RemoveLast();
                    }
                }
            }

            return data;
        }
        finally
        {
            ((ICollection<KeyValuePair<Int3, Lazy<Task<byte[]?>>>>)_inFlight).Remove(new KeyValuePair<Int3, Lazy<Task<byte[]?>>>(cell, shared));
        }
    }

    private async Task<byte[]?> LoadBlockAsync(Int3 cell, CancellationToken ct)
    {
        await Task.Yield();
        Box3 block = BlockBox(cell);
        long bytes = block.VoxelCount * _elementBytes;
        if (TryReadCache(block, bytes, out byte[]? cached, out bool zero))
        {
            return zero ? null : cached;
        }

#if NET
        // Every byte is written by the decoder (lengths are checked), so skip the zeroing.
        byte[] data = GC.AllocateUninitializedArray<byte>(checked((int)bytes));
#else
        byte[] data = new byte[bytes];
#endif
        BossCutoutOptions o = _descriptor.Options;
        await _descriptor.Client.GetCutoutAsync(o.Collection, o.Experiment, o.Channel, o.Resolution, block, o.Time, o.Iso, _descriptor.DataType, o.Format, data, ct).ConfigureAwait(false);
        _descriptor.Statistics.Downloaded(bytes);
        _descriptor.Monitor?.ReportDone(1, bytes);
        WriteCache(block, data);
        return IsAllZero(data) ? null : data;
    }

    private static bool IsAllZero(ReadOnlySpan<byte> data)
    {
#if NET
        return data.IndexOfAnyExcept((byte)0) < 0;
#else
        for (int k = 0; k < data.Length; k++)
        {
            if (data[k] != 0)
            {
                return false;
            }
        }

        return true;
#endif
    }

    public void Dispose()
    {
        _disposed = true;
        lock (_lru)
        {
            _lru.Clear();
        }
    }
}
