using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine.Storage;

namespace PrecomputedTools.Engine.Precomputed;

/// <summary>What <see cref="DatasetValidator"/> found in one scale.</summary>
public sealed class ScaleValidation
{
    public string Key { get; init; } = "";

    public long ExpectedChunks { get; init; }

    public long PresentChunks { get; set; }

    public long MissingChunks { get; set; }

    public long InvalidChunks { get; set; }
}

/// <summary>The result of validating a dataset.</summary>
public sealed class DatasetValidation
{
    public string Path { get; init; } = "";

    public bool InfoValid { get; set; }

    public List<ScaleValidation> Scales { get; } = new();

    /// <summary>One line per problem, e.g. "1um/0-64_0-64_0-32.gz: not a gzip stream".</summary>
    public List<string> Problems { get; } = new();

    /// <summary>Objects the info does not account for (left by an earlier run with other settings).</summary>
    public long UnexpectedObjects { get; set; }

    public bool IsValid => InfoValid && Problems.Count == 0;
}

/// <summary>
/// Checks a dataset against the precomputed spec: the info; every chunk present, decodable, of
/// the right shape; gzip-encoded objects really gzip; no temporary file left behind; and, where
/// the store can list, nothing stored that the info does not account for.
/// </summary>
public static class DatasetValidator
{
    public static Task<DatasetValidation> ValidateAsync(string location, int throttleLimit, OperationMonitor monitor, CancellationToken cancellationToken, StoreOptions? options = null) => Task.Run(
        () =>
        {
            using DatasetStore store = DatasetStore.Open(location, options);
            return Validate(store, throttleLimit, monitor, cancellationToken);
        },
        cancellationToken);

    public static DatasetValidation Validate(DatasetStore store, int throttleLimit, OperationMonitor monitor, CancellationToken cancellationToken)
    {
        var report = new DatasetValidation { Path = store.Location };
        PrecomputedInfo info;
        try
        {
            info = store.ReadInfo();
            info.Validate(ObjectNames.Join(store.Location, DatasetStore.InfoKey));
            report.InfoValid = true;
        }
        catch (EngineException ex)
        {
            report.Problems.Add("info: " + ex.Message);
            return report;
        }

        if (store.Objects is FolderStore folder && Directory.Exists(folder.Root))
        {
            foreach (string temp in Directory.EnumerateFiles(folder.Root, "*" + AtomicFile.TempSuffix, SearchOption.AllDirectories))
            {
                report.Problems.Add($"{Relative(folder, temp)}: temporary file left by an interrupted write");
            }
        }

        monitor.AddWork(info.Scales.Sum(s => s.ChunkCount));
        var problems = new ConcurrentQueue<string>();
        var parallel = new ParallelOptions { CancellationToken = cancellationToken, MaxDegreeOfParallelism = Math.Max(1, throttleLimit) };
        foreach (ScaleInfo scale in info.Scales)
        {
            var result = new ScaleValidation { Key = scale.Key, ExpectedChunks = scale.ChunkCount };
            report.Scales.Add(result);
            if (!ChunkEncodings.IsKnown(scale.Encoding))
            {
                problems.Enqueue($"{scale.Key}: encoding '{scale.Encoding}' is not checked by this module");
                continue;
            }

            if (scale.Sharding is not null && !CheckShards(store, scale, problems, cancellationToken))
            {
                continue;
            }

            long present = 0, missing = 0, invalid = 0;
            Parallel.ForEach(scale.EnumerateChunks(), parallel, box =>
            {
                string? problem;
                bool found;
                try
                {
                    (found, problem) = CheckChunk(store, info, scale, box);
                }
                catch (EngineException ex)
                {
                    (found, problem) = (true, ex.Message);
                }

                string name = scale.Key + "/" + scale.ChunkName(box);
                if (!found)
                {
                    Interlocked.Increment(ref missing);
                    problems.Enqueue($"{name}: missing");
                }
                else if (problem is not null)
                {
                    Interlocked.Increment(ref invalid);
                    problems.Enqueue($"{name}: {problem}");
                }
                else
                {
                    Interlocked.Increment(ref present);
                }

                monitor.ReportDone();
            });
            result.PresentChunks = present;
            result.MissingChunks = missing;
            result.InvalidChunks = invalid;
        }

        if (store.Objects.CanList)
        {
            foreach (StoredObject o in store.Objects.List("", cancellationToken))
            {
                if (!IsAccountedFor(info, o.Key))
                {
                    report.UnexpectedObjects++;
                    problems.Enqueue($"{o.Key}{(o.Gzip == true && store.Objects is FolderStore ? ".gz" : "")}: not accounted for by the info (left by an earlier run with other settings?)");
                }
            }
        }

        report.Problems.AddRange(problems.OrderBy(p => p, StringComparer.Ordinal));
        return report;
    }

    /// <summary>
    /// The structure of every shard file of a sharded scale (docs/FORMATS.md §6.2): a valid name
    /// within shard_bits, minishard index ranges inside the file, ascending ids, each id a chunk of
    /// the grid routed to this shard and minishard, its data inside the file. The chunks themselves
    /// are then decoded like unsharded ones. False when the sharding member itself is unusable.
    /// </summary>
    private static bool CheckShards(DatasetStore store, ScaleInfo scale, ConcurrentQueue<string> problems, CancellationToken cancellationToken)
    {
        ShardingSpec spec;
        try
        {
            spec = ShardingSpec.FromJson(scale.Sharding!, scale.Key);
        }
        catch (EngineException ex)
        {
            problems.Enqueue(ex.Message);
            return false;
        }

        if (!store.Objects.CanList)
        {
            return true;
        }

        foreach (StoredObject file in store.Objects.List(scale.Key + "/", cancellationToken).ToList())
        {
            string name = file.Key.Substring(scale.Key.Length + 1);
            if (!name.EndsWith(".shard", StringComparison.Ordinal) || name.IndexOf('/') >= 0)
            {
                continue; // reported as not accounted for
            }

            string where = scale.Key + "/" + name;
            if (!ulong.TryParse(name.Substring(0, name.Length - 6), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out ulong shard)
                || spec.ShardFileName(shard) != name)
            {
                problems.Enqueue($"{where}: not a shard name of this sharding (expected {spec.ShardFileName(0)} ...)");
                continue;
            }

            long length = file.Length >= 0 ? file.Length : store.Objects.Stat(file.Key, cancellationToken)?.Length ?? -1;
            ShardReader reader = store.ShardReaderFor(scale); // the chunk checks below reuse its minishard indices
            try
            {
                for (ulong minishard = 0; minishard < (ulong)spec.MinishardCount; minishard++)
                {
                    if (reader.MinishardIndex(shard, minishard, where) is not { } index)
                    {
                        continue;
                    }

                    for (int i = 0; i < index.Ids.Length; i++)
                    {
                        ulong id = index.Ids[i];
                        if (!ShardingSpec.TryGetCell(scale.GridSize, id, out _))
                        {
                            problems.Enqueue($"{where}: chunk id {id} is not a chunk of the {scale.GridSize} grid");
                        }
                        else if (spec.Locate(id) != (shard, minishard))
                        {
                            problems.Enqueue($"{where}: chunk id {id} belongs to shard {spec.Locate(id).Shard}, minishard {spec.Locate(id).Minishard}, not minishard {minishard} here");
                        }

                        if (length >= 0 && (16L * spec.MinishardCount) + (long)index.Starts[i] + (long)index.Sizes[i] > length)
                        {
                            problems.Enqueue($"{where}: chunk id {id} lies beyond the end of the file");
                        }
                    }
                }
            }
            catch (EngineException ex)
            {
                problems.Enqueue(ex.Message);
            }
        }

        return true;
    }

    /// <summary>
    /// True for what a dataset may hold besides its chunks: the info, the mesh and segment-properties
    /// folders the info names, hidden bookkeeping (an interrupted mesh run's journal), and chunk
    /// names of the scales' grids (flat or nested), or shard files of sharded scales.
    /// </summary>
    public static bool IsAccountedFor(PrecomputedInfo info, string key)
    {
        if (key == DatasetStore.InfoKey || key.StartsWith(".", StringComparison.Ordinal) || key.IndexOf("/.", StringComparison.Ordinal) >= 0)
        {
            return true;
        }

        foreach (string? folder in new[] { info.Mesh, info.SegmentProperties })
        {
            if (folder is { Length: > 0 } && key.StartsWith(folder.Trim('/') + "/", StringComparison.Ordinal))
            {
                return true;
            }
        }

        foreach (ScaleInfo scale in info.Scales)
        {
            if (!key.StartsWith(scale.Key + "/", StringComparison.Ordinal))
            {
                continue;
            }

            string name = key.Substring(scale.Key.Length + 1);
            if (scale.Sharding is not null)
            {
                if (name.EndsWith(".shard", StringComparison.Ordinal) && name.IndexOf('/') < 0)
                {
                    return true;
                }

                continue;
            }

            if (TryParseChunkName(name, out Box3 global) && IsGridChunk(scale, global))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsGridChunk(ScaleInfo scale, Box3 global)
    {
        if (!scale.ChunkSize.AllPositive)
        {
            return false;
        }

        Box3 local = global.Translate(Int3.Zero - scale.VoxelOffset);
        for (int d = 0; d < 3; d++)
        {
            if (local.Begin[d] < 0 || local.Begin[d] % scale.ChunkSize[d] != 0 || local.Begin[d] >= scale.Size[d])
            {
                return false;
            }
        }

        Int3 grid = new(local.Begin.X / scale.ChunkSize.X, local.Begin.Y / scale.ChunkSize.Y, local.Begin.Z / scale.ChunkSize.Z);
        return scale.ChunkBox(grid).Equals(local);
    }

    private static bool TryParseChunkName(string name, out Box3 box)
    {
        box = default;
        string[] parts = name.IndexOf('/') >= 0 ? name.Split('/') : name.Split('_');
        if (parts.Length != 3)
        {
            return false;
        }

        var begin = new int[3];
        var end = new int[3];
        for (int d = 0; d < 3; d++)
        {
            string[] range = parts[d].Split('-');
            if (range.Length != 2
                || !int.TryParse(range[0], NumberStyles.None, CultureInfo.InvariantCulture, out begin[d])
                || !int.TryParse(range[1], NumberStyles.None, CultureInfo.InvariantCulture, out end[d]))
            {
                return false;
            }
        }

        box = new Box3(Int3.From(begin), Int3.From(end));
        return true;
    }

    private static (bool Found, string? Problem) CheckChunk(DatasetStore store, PrecomputedInfo info, ScaleInfo scale, Box3 box)
    {
        if (store.Objects is FolderStore folder)
        {
            foreach (ChunkLayout layout in new[] { store.Layout, store.Layout == ChunkLayout.Flat ? ChunkLayout.Nested : ChunkLayout.Flat })
            {
                string gz = folder.PathOf(DatasetStore.ChunkKey(scale, box, layout)) + ".gz";
                if (File.Exists(gz) && !HasGzipHead(gz))
                {
                    return (true, "has a .gz name but is not a gzip stream");
                }
            }
        }

        using PooledBytes? encoded = store.ReadChunkPooled(info, scale, box);
        if (encoded is null)
        {
            return (false, null);
        }

        if (scale.Encoding == ChunkEncodings.CompressedSegmentation && (encoded.Length % 4 != 0 || encoded.Length < 4 || System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(encoded.Span) != 1))
        {
            return (true, "is not a single-channel compressed_segmentation chunk (length not a multiple of 4 or first word not 1)");
        }

        ChunkCodec.Verify(info.DataType, scale, box.Size, encoded.Span, scale.ChunkName(box));
        return (true, null);
    }

    private static bool HasGzipHead(string file)
    {
        byte[] head = new byte[4];
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read);
        int n = stream.Read(head, 0, 4);
        return ObjectNames.IsGzip(head.AsSpan(0, n));
    }

    private static string Relative(FolderStore folder, string file) =>
        file.StartsWith(folder.Root, StringComparison.Ordinal) ? file.Substring(folder.Root.Length).TrimStart(System.IO.Path.DirectorySeparatorChar).Replace('\\', '/') : file;
}
