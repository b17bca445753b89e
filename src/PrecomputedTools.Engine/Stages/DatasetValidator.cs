using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using System.Text.Json;
using System.Text.Json.Nodes;
using PrecomputedTools.Engine.Meshing;
using PrecomputedTools.Engine.Meshing.Draco;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Storage;

namespace PrecomputedTools.Engine.Stages;

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
    /// <summary>
    /// Chunk problems listed per scale; the rest are counted only. An info may declare a grid of up
    /// to 2^40 chunks (see <see cref="PrecomputedInfo.Validate"/>): one line per missing chunk of
    /// an empty grid that size would grow the report without end.
    /// </summary>
    public const int MaxChunkProblemsPerScale = 1000;

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

            long present = 0, missing = 0, invalid = 0, listed = 0;
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
                    if (Interlocked.Increment(ref listed) <= MaxChunkProblemsPerScale)
                    {
                        problems.Enqueue($"{name}: missing");
                    }
                }
                else if (problem is not null)
                {
                    Interlocked.Increment(ref invalid);
                    if (Interlocked.Increment(ref listed) <= MaxChunkProblemsPerScale)
                    {
                        problems.Enqueue($"{name}: {problem}");
                    }
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
            if (listed > MaxChunkProblemsPerScale)
            {
                problems.Enqueue($"{scale.Key}: {(listed - MaxChunkProblemsPerScale).ToString(CultureInfo.InvariantCulture)} more missing or invalid chunks not listed ({missing.ToString(CultureInfo.InvariantCulture)} missing, {invalid.ToString(CultureInfo.InvariantCulture)} invalid in all)");
            }
        }

        if (info.Mesh is { } meshDirectory && store.Objects.CanList)
        {
            CheckMeshFolder(store, meshDirectory.Trim('/'), problems, parallel);
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
    /// The mesh folder the info names: its info, when present, must parse; a multi-resolution folder
    /// (neuroglancer meshes.md, 'Multi-resolution mesh format') is checked segment by segment: every data file has its manifest, each
    /// manifest's length matches its contents and its nodes are in Z-curve order, the fragment sizes
    /// sum to the data file, every fragment is a Draco mesh, and fragments in the form this module
    /// writes are decoded: coordinates within vertex_quantization_bits, and no triangle of a lod
    /// above 0 across its node's 2×2×2 split. Legacy meshes are not checked here.
    /// </summary>
    internal static void CheckMeshFolder(DatasetStore store, string directory, ConcurrentQueue<string> problems, ParallelOptions parallel)
    {
        string infoKey = directory + "/info";
        JsonNode? root;
        using (PooledBytes? bytes = store.Objects.Read(infoKey, 1 << 20, parallel.CancellationToken))
        {
            if (bytes is null)
            {
                return; // the guide's workflow names "mesh" in the info before meshing; not yet an error
            }

            try
            {
                byte[] json = bytes.Span.ToArray();
                using (JsonDocument document = JsonDocument.Parse(json))
                {
                    if (PrecomputedInfo.FindDuplicateMember(document.RootElement) is { } member)
                    {
                        problems.Enqueue($"{infoKey}: the member \"{member}\" appears twice");
                        return;
                    }
                }

                root = JsonNode.Parse(json);
            }
            catch (JsonException ex)
            {
                problems.Enqueue($"{infoKey}: not JSON ({ex.Message})");
                return;
            }
        }

        if (root is not JsonObject meshInfo || meshInfo["@type"] is not JsonValue typeValue || !typeValue.TryGetValue(out string? type) || type != "neuroglancer_multilod_draco")
        {
            return;
        }

        if (meshInfo["vertex_quantization_bits"] is not JsonValue bitsValue || !bitsValue.TryGetValue(out int bits) || bits is not (10 or 16))
        {
            problems.Enqueue($"{infoKey}: vertex_quantization_bits must be 10 or 16");
            return;
        }

        if (meshInfo["transform"] is not JsonArray transform || transform.Count != 12)
        {
            problems.Enqueue($"{infoKey}: transform must be 12 numbers");
        }

        if (meshInfo["sharding"] is JsonObject shardingJson)
        {
            CheckShardedMultiResolution(store, directory, ShardingSpec.FromJson(shardingJson, infoKey), bits, problems, parallel);
            return;
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (StoredObject o in store.Objects.List(directory + "/", parallel.CancellationToken))
        {
            string name = o.Key.Substring(directory.Length + 1);
            if (name.IndexOf('/') < 0)
            {
                names.Add(name);
            }
        }

        foreach (string data in names.Where(n => n.All(char.IsDigit) && !names.Contains(n + ".index")))
        {
            problems.Enqueue($"{directory}/{data}: fragment data without its manifest {data}.index");
        }

        List<string> manifests = names.Where(n => n.EndsWith(".index", StringComparison.Ordinal) && n.Length > 6 && n.Substring(0, n.Length - 6).All(char.IsDigit)).ToList();
        Parallel.ForEach(manifests, parallel, name =>
        {
            string? problem;
            try
            {
                problem = CheckMultiResolutionSegment(store, directory, name.Substring(0, name.Length - 6), bits);
            }
            catch (EngineException ex)
            {
                problem = ex.Message;
            }

            if (problem is not null)
            {
                problems.Enqueue($"{directory}/{name}: {problem}");
            }
        });
    }

    // Sharded (neuroglancer meshes.md, sharded storage): every segment id in every shard's minishard indices; its manifest is
    // the value, its fragments the bytes just before it.
    private static void CheckShardedMultiResolution(DatasetStore store, string directory, ShardingSpec spec, int bits, ConcurrentQueue<string> problems, ParallelOptions parallel)
    {
        var shards = new List<(ulong Shard, string Key)>();
        foreach (StoredObject o in store.Objects.List(directory + "/", parallel.CancellationToken))
        {
            string name = o.Key.Substring(directory.Length + 1);
            if (name.EndsWith(".shard", StringComparison.Ordinal) && ulong.TryParse(name.Substring(0, name.Length - 6), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong shard) && spec.ShardFileName(shard) == name)
            {
                shards.Add((shard, o.Key));
            }
        }

        var keys = shards.ToDictionary(s => s.Shard, s => s.Key);
        var reader = new ShardReader(spec, (shard, offset, length) => keys.TryGetValue(shard, out string? key) ? store.Objects.ReadRange(key, offset, length, parallel.CancellationToken) : null);
        Parallel.ForEach(shards, parallel, entry =>
        {
            try
            {
                for (ulong minishard = 0; minishard < (ulong)spec.MinishardCount; minishard++)
                {
                    if (reader.MinishardIndex(entry.Shard, minishard, entry.Key) is not { } index)
                    {
                        continue;
                    }

                    foreach (ulong id in index.Ids)
                    {
                        string where = $"{entry.Key} (segment {id})";
                        if (spec.Locate(id) != (entry.Shard, minishard))
                        {
                            problems.Enqueue($"{where}: segment {id} belongs to shard {spec.Locate(id).Shard}, minishard {spec.Locate(id).Minishard}");
                            continue;
                        }

                        (ulong _, long start, long length) = reader.Find(id, entry.Key) ?? throw new EngineException("InvalidShard", EngineErrorKind.InvalidData, $"segment {id} is listed but not found", entry.Key);
                        byte[] stored = store.Objects.ReadRange(entry.Key, start, (int)length, parallel.CancellationToken) ?? Array.Empty<byte>();
                        MultiResolutionManifest manifest = MultiResolutionManifest.Parse(reader.Decode(stored, where, 256 << 20), where);
                        long dataStart = start - manifest.DataLength;
                        if (dataStart < 16L * spec.MinishardCount || manifest.DataLength > int.MaxValue)
                        {
                            problems.Enqueue($"{where}: its {manifest.DataLength} bytes of fragments would begin before the shard's data");
                            continue;
                        }

                        byte[] data = store.Objects.ReadRange(entry.Key, dataStart, (int)manifest.DataLength, parallel.CancellationToken) ?? Array.Empty<byte>();
                        if (CheckMultiResolutionFragments(manifest, data, bits) is { } problem)
                        {
                            problems.Enqueue($"{where}: {problem}");
                        }
                    }
                }
            }
            catch (EngineException ex)
            {
                problems.Enqueue($"{entry.Key}: {ex.Message}");
            }
        });
    }

    private static string? CheckMultiResolutionSegment(DatasetStore store, string directory, string id, int bits)
    {
        MultiResolutionManifest manifest;
        using (PooledBytes? bytes = store.Objects.Read(directory + "/" + id + ".index", 256 << 20))
        {
            if (bytes is null)
            {
                return "missing";
            }

            manifest = MultiResolutionManifest.Parse(bytes.Span);
        }

        if (manifest.DataLength > int.MaxValue)
        {
            return $"the fragments add up to {manifest.DataLength} bytes, more than this check reads";
        }

        using PooledBytes? data = store.Objects.Read(directory + "/" + id, (int)manifest.DataLength + 1);
        if (data is null)
        {
            return $"its fragment data file {id} is missing";
        }

        if (data.Length != manifest.DataLength)
        {
            return $"the fragment sizes add up to {manifest.DataLength} bytes, but the data file {id} has {data.Length}";
        }

        return CheckMultiResolutionFragments(manifest, data.Span, bits);
    }

    // Z-curve order of the nodes, then every fragment: a Draco mesh; decoded when in this module's
    // form: coordinates within the bits, no triangle of lod > 0 across its node's split.
    private static string? CheckMultiResolutionFragments(MultiResolutionManifest manifest, ReadOnlySpan<byte> data, int bits)
    {
        for (int lod = 0; lod < manifest.Positions.Length; lod++)
        {
            Int3[] nodes = manifest.Positions[lod];
            for (int i = 1; i < nodes.Length; i++)
            {
                if (MultiResolutionMeshBuilder.ZOrder(nodes[i - 1]) >= MultiResolutionMeshBuilder.ZOrder(nodes[i]))
                {
                    return $"lod {lod}: nodes {nodes[i - 1]} and {nodes[i]} are not in Z-curve order";
                }
            }
        }

        int split = 1 << (bits - 1);
        long offset = 0;
        for (int lod = 0; lod < manifest.Sizes.Length; lod++)
        {
            foreach (uint size in manifest.Sizes[lod])
            {
                ReadOnlySpan<byte> fragment = data.Slice((int)offset, (int)size);
                offset += size;
                if (size == 0)
                {
                    continue; // an empty node
                }

                DracoMeshContents mesh = DracoMeshReader.Read(fragment);
                if (mesh.Positions is not { } q || mesh.Indices is not { } faces)
                {
                    continue;
                }

                foreach (int c in q)
                {
                    if (c < 0 || c >= (1 << bits))
                    {
                        return $"lod {lod}: a vertex coordinate {c} is outside [0, 2^{bits})";
                    }
                }

                for (int t = 0; lod > 0 && t < faces.Length; t += 3)
                {
                    for (int axis = 0; axis < 3; axis++)
                    {
                        int a = q[(3 * faces[t]) + axis], b = q[(3 * faces[t + 1]) + axis], c = q[(3 * faces[t + 2]) + axis];
                        if (!((a <= split && b <= split && c <= split) || (a >= split && b >= split && c >= split)))
                        {
                            return $"lod {lod}: a triangle crosses its node's 2×2×2 split (the viewer draws the halves separately)";
                        }
                    }
                }
            }
        }

        return null;
    }

    /// <summary>
    /// The structure of every shard file of a sharded scale (neuroglancer sharded.md, 'Shard index format',
    /// 'Minishard index format'): a valid name
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

    /// <summary>
    /// The most bytes an object under an unsharded scale's folder can legally hold once inflated
    /// (its chunk's bound from the info and encoding: the whole-chunk bound for names off the grid),
    /// or null for objects the info does not bound (meshes, shard files, anything else).
    /// </summary>
    internal static int? LegalChunkLength(PrecomputedInfo info, string key)
    {
        foreach (ScaleInfo scale in info.Scales)
        {
            if (scale.Sharding is not null || !key.StartsWith(scale.Key + "/", StringComparison.Ordinal) || !scale.ChunkSize.AllPositive)
            {
                continue;
            }

            Int3 shape = scale.ChunkSize;
            if (TryParseChunkName(key.Substring(scale.Key.Length + 1), out Box3 global) && IsGridChunk(scale, global))
            {
                shape = global.Size;
            }

            return ChunkCodec.MaxEncodedLength(info.DataType, info.NumChannels, scale, shape);
        }

        return null;
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
