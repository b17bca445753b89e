using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Threading;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Storage;

namespace PrecomputedTools.Engine.Meshing;

/// <summary>What a meshing run wrote for one segment.</summary>
public sealed class SegmentMeshRecord
{
    public SegmentMeshRecord(ulong id, long vertexCount, long triangleCount, string[] fragments, string manifestPath)
    {
        Id = id;
        VertexCount = vertexCount;
        TriangleCount = triangleCount;
        Fragments = fragments;
        ManifestPath = manifestPath;
    }

    public ulong Id { get; }

    public long VertexCount { get; }

    public long TriangleCount { get; }

    /// <summary>Fragment names relative to the mesh directory, as listed in the manifest.</summary>
    public string[] Fragments { get; }

    public string ManifestPath { get; }

    /// <summary>Levels of detail (1 for legacy meshes).</summary>
    public int Lods { get; set; } = 1;

    /// <summary>Bytes of the segment's data file and manifest (multi-resolution), or 0 when not counted.</summary>
    public long Bytes { get; set; }
}

/// <summary>
/// Writes the legacy precomputed mesh format (neuroglancer meshes.md, 'Legacy single-resolution mesh format'): one fragment file per segment and
/// chunk, streamed to disk as chunks finish; then one manifest per segment and <c>mesh/info</c>.
/// </summary>
/// <remarks>
/// <para>
/// Every file is written atomically. Fragment names are <c>&lt;id&gt;_&lt;chunk box&gt;.frag</c>
/// and never contain ':'. Manifests are <c>&lt;id&gt;:0</c>, or <c>&lt;id&gt;.json</c> in the
/// colon-free layout, which is the default on Windows (NTFS cannot hold ':' in a name) and can be
/// forced anywhere; servers map the viewer's <c>&lt;id&gt;:0</c> to it (README, 'New-SegmentMesh').
/// </para>
/// <para>
/// Resume: when a chunk is done its fragment list goes into a journal
/// (<c>&lt;dataset&gt;/.pt-mesh-journal/</c>, with the run's parameters). A resumed run skips every
/// journalled chunk whose fragments are still present with the recorded lengths. The journal is
/// deleted once the manifests and <c>mesh/info</c> are written.
/// </para>
/// </remarks>
public sealed class LegacyMeshWriter : IMeshFragmentSink
{
    public const string MeshInfoJson = "{\"@type\":\"neuroglancer_legacy_mesh\"}";
    public const string JournalDirectoryName = ".pt-mesh-journal";
    private const string ParametersFile = "parameters.json";
    // Legacy manifests <id>:0 / <id>.json, multi-resolution manifests <id>.index and data files <id>.
    private static readonly Regex s_manifestName = new(@"^(\d+)(:0|\.json|\.index)?$", RegexOptions.CultureInvariant);
    private static readonly Regex s_shardName = new(@"^[0-9a-f]+\.shard$", RegexOptions.CultureInvariant);
    private static readonly Regex s_chunkOfFragment = new(@"_(-?\d+)-(-?\d+)_(-?\d+)-(-?\d+)_(-?\d+)-(-?\d+)\.frag$", RegexOptions.CultureInvariant);
    private static readonly Regex s_fragmentName = new(@"^(\d+)_.*\.frag$", RegexOptions.CultureInvariant);

    private readonly object _gate = new();
    private readonly object _manifestGate = new();
    private readonly Dictionary<ulong, List<FragmentEntry>> _segments = new();
    private readonly Dictionary<Box3, List<(ulong Id, FragmentEntry Entry)>> _pending = new();
    private readonly Dictionary<string, List<(ulong Id, FragmentEntry Entry)>> _journal = new(StringComparer.Ordinal);
    private readonly Int3 _voxelOffset;
    private readonly string _parameters;

    /// <param name="store">The dataset's objects (holding the volume info).</param>
    /// <param name="meshDirectory">Mesh folder name relative to the dataset (the info's "mesh").</param>
    /// <param name="voxelOffset">Voxel offset of the meshed scale, used in fragment names.</param>
    /// <param name="parameters">A description of the run's settings; a resumed run must match it.</param>
    /// <param name="colonFreeManifests">Write manifests as &lt;id&gt;.json; null = only for folders on Windows.</param>
    public LegacyMeshWriter(IObjectStore store, string meshDirectory, Int3 voxelOffset, string parameters, bool? colonFreeManifests = null)
    {
        Store = store;
        MeshDirectoryName = meshDirectory.Trim('/');
        _voxelOffset = voxelOffset;
        _parameters = parameters;
        bool windowsFolder = store.Kind == StoreKind.Folder && RuntimeInformation.IsOSPlatform(OSPlatform.Windows);
        ColonFreeManifests = colonFreeManifests ?? windowsFolder;
        if (!ColonFreeManifests && windowsFolder)
        {
            throw new EngineException(
                "ColonManifestOnWindows",
                EngineErrorKind.NotSupported,
                "Manifests named '<id>:0' cannot be created on Windows (NTFS reads ':' as a stream separator). Use the colon-free layout ('<id>.json'), which the module's publishers and nginx configuration serve as '<id>:0'.",
                MeshPath);
        }
    }

    /// <summary>A writer for the dataset folder <paramref name="datasetPath"/>.</summary>
    public LegacyMeshWriter(string datasetPath, string meshDirectory, Int3 voxelOffset, string parameters, bool? colonFreeManifests = null)
        : this(new FolderStore(datasetPath), meshDirectory, voxelOffset, parameters, colonFreeManifests)
    {
    }

    public IObjectStore Store { get; }

    /// <summary>
    /// When set, each segment is written as a multi-resolution mesh (neuroglancer meshes.md, 'Multi-resolution mesh format') built from the
    /// chunk fragments, which are then lod-0 pieces only and are removed by <see cref="CompleteMeshFolder"/>.
    /// </summary>
    public MultiResolutionGrid? MultiResolution { get; set; }

    private byte[] MeshInfo => MultiResolution?.InfoJson() ?? Encoding.UTF8.GetBytes(MeshInfoJson);

    public string DatasetPath => Store.Location;

    public string MeshDirectoryName { get; }

    /// <summary>Where the meshes go (a folder path or a URL), for messages.</summary>
    public string MeshPath => PathOf(MeshDirectoryName);

    // A key as users see it: a file path in a folder, else the store's location joined with it.
    private string PathOf(string key) => PathOf(Store, key);

    private static string PathOf(IObjectStore store, string key) => store is FolderStore folder ? folder.PathOf(key) : ObjectNames.Join(store.Location, key);

    public bool ColonFreeManifests { get; }

    private string MeshKey(string name) => MeshDirectoryName + "/" + name;

    private static string JournalKey(string name) => JournalDirectoryName + "/" + name;

    /// <summary>The journal record of a meshing chunk (named by its global voxel box): the proof that the chunk is done.</summary>
    public static string JournalRecordKey(string globalBox) => JournalKey(globalBox + ".chunk.json");

    /// <summary>The manifest file name of a segment in this writer's layout.</summary>
    public string ManifestName(ulong id) => ManifestName(id, ColonFreeManifests);

    public static string ManifestName(ulong id, bool colonFree) =>
        id.ToString(CultureInfo.InvariantCulture) + (colonFree ? ".json" : ":0");

    /// <summary>Fragment file name of a segment in a chunk: "&lt;id&gt;_&lt;x0-x1_y0-y1_z0-z1&gt;.frag" (global voxel box).</summary>
    public string FragmentName(ulong id, Box3 chunk) =>
        id.ToString(CultureInfo.InvariantCulture) + "_" + chunk.Translate(_voxelOffset) + ".frag";

    private IEnumerable<(string Key, ulong Id)> ExistingSegmentObjects(ISet<ulong>? ids)
    {
        foreach (StoredObject o in Store.List(MeshDirectoryName + "/"))
        {
            string name = o.Key.Substring(MeshDirectoryName.Length + 1);
            if (name.IndexOf('/') < 0 && SegmentOfFile(name) is { } id && (ids is null || ids.Contains(id)))
            {
                yield return (o.Key, id);
            }
            else if (ids is null && name.IndexOf('/') < 0 && s_shardName.IsMatch(name))
            {
                yield return (o.Key, 0); // sharded meshes hold every segment
            }
        }
    }

    /// <summary>Manifests or fragments already in the mesh folder (for the given ids, or any).</summary>
    public bool HasExistingOutput(ISet<ulong>? ids) => ExistingSegmentObjects(ids).Any();

    /// <summary>-Force: deletes earlier manifests and fragments (of the given ids, or all) and any journal.</summary>
    public int DeleteExistingOutput(ISet<ulong>? ids)
    {
        int removed = 0;
        foreach ((string key, ulong _) in ExistingSegmentObjects(ids).ToList())
        {
            if (Store.Delete(key))
            {
                removed++;
            }
        }

        DeleteJournal();
        return removed;
    }

    /// <summary>Loads the journal of an interrupted run (resume); fails if its parameters differ.</summary>
    public int LoadJournal()
    {
        string? previous = ReadText(JournalKey(ParametersFile));
        if (previous is null)
        {
            return 0;
        }

        if (!string.Equals(previous, _parameters, StringComparison.Ordinal))
        {
            throw new EngineException(
                "ResumeParametersChanged",
                EngineErrorKind.InvalidOperation,
                $"The interrupted meshing run in '{DatasetPath}' used other settings ({previous}); this run uses {_parameters}. Resume with the same settings, or use -Force to start over.",
                ObjectNames.Join(DatasetPath, JournalDirectoryName));
        }

        LoadJournalRecords();
        return _journal.Count;
    }

    // Every chunk record of the journal (each names its chunk and the fragments it wrote).
    private void LoadJournalRecords()
    {
        foreach (StoredObject record in Store.List(JournalDirectoryName + "/").Where(o => o.Key.EndsWith(".chunk.json", StringComparison.Ordinal)).ToList())
        {
            if (ReadJournalRecord(record.Key) is { } found)
            {
                lock (_gate)
                {
                    _journal[found.Chunk] = found.Entries;
                }
            }
        }
    }

    private (string Chunk, List<(ulong Id, FragmentEntry Entry)> Entries)? ReadJournalRecord(string key)
    {
        try
        {
            return ParseJournalRecord(ReadText(key) ?? "");
        }
        catch (Exception ex) when (ex is JsonException or ArgumentException or InvalidOperationException or FormatException)
        {
            // A damaged record (not JSON, a member twice, a wrong type, one missing) only means that chunk is meshed again.
            return null;
        }
    }

    private static (string Chunk, List<(ulong Id, FragmentEntry Entry)> Entries)? ParseJournalRecord(string text)
    {
        JsonNode? root = JsonNode.Parse(text);

        if (root?["chunk"]?.GetValue<string>() is not { } chunk || root["fragments"] is not JsonArray fragments)
        {
            return null;
        }

        var entries = new List<(ulong, FragmentEntry)>();
        foreach (JsonNode? f in fragments)
        {
            if (f is null || !ulong.TryParse(f["id"]?.GetValue<string>(), NumberStyles.None, CultureInfo.InvariantCulture, out ulong id))
            {
                continue;
            }

            if (f["name"] is not JsonValue name || f["vertices"] is not JsonValue vertices || f["triangles"] is not JsonValue triangles)
            {
                return null;
            }

            entries.Add((id, new FragmentEntry(name.GetValue<string>(), vertices.GetValue<long>(), triangles.GetValue<long>())));
        }

        return (chunk, entries);
    }

    /// <summary>
    /// When set, <see cref="IsChunkComplete"/> reads a chunk's own journal record when it was not
    /// loaded (a plan task resumed in a fresh process, which needs only its chunk's record).
    /// </summary>
    public bool ReadJournalOnDemand { get; set; }

    /// <summary>
    /// A manifest task of a plan: from the journal records of every meshed chunk (read once per
    /// writer), writes the manifest of each segment with id % <paramref name="parts"/> == <paramref name="part"/>,
    /// ascending, handing each record to <paramref name="written"/> as soon as its manifest is stored.
    /// </summary>
    /// <remarks><paramref name="chunks"/>: global boxes of every meshing chunk of the plan; records not already known are read.</remarks>
    public int WriteManifests(IReadOnlyList<string> chunks, int part, int parts, Action<SegmentMeshRecord> written, CancellationToken cancellationToken)
    {
        lock (_manifestGate)
        {
            foreach (string chunk in chunks)
            {
                bool known;
                lock (_gate)
                {
                    known = _journal.ContainsKey(chunk);
                }

                if (known)
                {
                    continue;
                }

                cancellationToken.ThrowIfCancellationRequested();
                if (ReadJournalRecord(JournalRecordKey(chunk)) is not { } record || record.Chunk != chunk)
                {
                    throw new EngineException(
                        "MeshChunkMissing",
                        EngineErrorKind.InvalidOperation,
                        $"Meshing chunk {chunk} of '{DatasetPath}' has no journal record: its mesh task has not run (or failed). Run the plan's mesh tasks first.",
                        ObjectNames.Join(DatasetPath, JournalRecordKey(chunk)));
                }

                lock (_gate)
                {
                    _journal[chunk] = record.Entries;
                }
            }
        }

        var mine = new SortedDictionary<ulong, List<FragmentEntry>>();
        lock (_gate)
        {
            foreach (string chunk in chunks)
            {
                foreach ((ulong id, FragmentEntry entry) in _journal[chunk])
                {
                    if (Owner(id) % (ulong)parts == (ulong)part)
                    {
                        if (!mine.TryGetValue(id, out List<FragmentEntry>? list))
                        {
                            mine[id] = list = new List<FragmentEntry>();
                        }

                        list.Add(entry);
                    }
                }
            }
        }

        foreach (SegmentMeshRecord record in WriteSegments(mine.ToList(), cancellationToken))
        {
            written(record);
        }

        return mine.Count;
    }

    /// <summary>
    /// Writes the given segments (ascending ids) as the run's format asks, yielding each record as
    /// soon as it is stored: a legacy manifest or a multi-resolution pair per segment, or, sharded,
    /// one shard at a time (a shard holds many segments and is stored in one write).
    /// </summary>
    private IEnumerable<SegmentMeshRecord> WriteSegments(List<KeyValuePair<ulong, List<FragmentEntry>>> segments, CancellationToken cancellationToken)
    {
        var buffers = new MeshSimplifier.Buffers();
        if (MultiResolution is { Sharding: { } sharding } grid)
        {
            foreach (IGrouping<ulong, KeyValuePair<ulong, List<FragmentEntry>>> shard in segments.GroupBy(s => sharding.Locate(s.Key).Shard))
            {
                cancellationToken.ThrowIfCancellationRequested();
                foreach (SegmentMeshRecord record in WriteShard(sharding, shard.Key, shard.ToList(), grid, buffers))
                {
                    yield return record;
                }
            }

            yield break;
        }

        foreach (KeyValuePair<ulong, List<FragmentEntry>> segment in segments)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return WriteManifest(segment.Key, segment.Value, buffers);
        }
    }

    // Manifest tasks split segments by id, or by shard when segments are written into shards.
    private ulong Owner(ulong id) => MultiResolution?.Sharding is { } sharding ? sharding.Locate(id).Shard : id;

    private List<SegmentMeshRecord> WriteShard(Precomputed.ShardingSpec sharding, ulong shard, List<KeyValuePair<ulong, List<FragmentEntry>>> segments, MultiResolutionGrid grid, MeshSimplifier.Buffers buffers)
    {
        var entries = new List<Precomputed.ShardEntry>(segments.Count);
        var built = new List<(ulong Id, MultiResolutionSegment Segment)>(segments.Count);
        foreach (KeyValuePair<ulong, List<FragmentEntry>> segment in segments)
        {
            MultiResolutionSegment mesh = BuildMultiResolution(segment.Key, segment.Value, grid, buffers);
            entries.Add(new Precomputed.ShardEntry(segment.Key, mesh.Manifest, mesh.Data));
            built.Add((segment.Key, mesh));
        }

        string name = sharding.ShardFileName(shard);
        string key = MeshKey(name);
        Store.Write(key, Precomputed.ShardBuilder.Build(sharding, entries), gzip: false);
        string path = PathOf(key);
        return built.Select(b => new SegmentMeshRecord(b.Id, b.Segment.Vertices, b.Segment.TrianglesPerLod[0], new[] { name }, path) { Lods = b.Segment.Lods, Bytes = b.Segment.Data.Length + b.Segment.Manifest.Length }).ToList();
    }

    /// <summary>The last step of a plan: mesh/info, everything durable, the journal removed.</summary>
    public void CompleteMeshFolder()
    {
        Store.Flush();
        Store.Write(MeshKey("info"), MeshInfo, gzip: false);
        Store.Flush();
        DeleteLodZeroPieces();
        DeleteJournal();
    }

    /// <summary>Starts the journal of this run.</summary>
    public void BeginJournal() => Store.Write(JournalKey(ParametersFile), Encoding.UTF8.GetBytes(_parameters), gzip: false);

    public bool IsChunkComplete(Box3 chunk)
    {
        string key = chunk.Translate(_voxelOffset).ToString();
        List<(ulong Id, FragmentEntry Entry)>? entries;
        lock (_gate)
        {
            _journal.TryGetValue(key, out entries);
        }

        if (entries is null && ReadJournalOnDemand && ReadJournalRecord(JournalRecordKey(key)) is { } record && record.Chunk == key)
        {
            entries = record.Entries;
            lock (_gate)
            {
                _journal[key] = entries;
            }
        }

        if (entries is null)
        {
            return false;
        }

        foreach (var (_, entry) in entries)
        {
            StoredObject? stored = Store.Stat(MeshKey(entry.Name));
            if (stored is not { Gzip: false } file || file.Length != 4 + (12 * entry.Vertices) + (12 * entry.Triangles))
            {
                return false;
            }
        }

        lock (_gate)
        {
            foreach (var (id, entry) in entries)
            {
                AddToSegment(id, entry);
            }
        }

        return true;
    }

    public void AddFragment(ulong segmentId, Box3 chunk, MeshData mesh)
    {
        string name = FragmentName(segmentId, chunk);
        int length = mesh.FragmentLength;
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(length);
        try
        {
            mesh.WriteFragment(buffer);
            Store.Write(MeshKey(name), buffer.AsSpan(0, length), gzip: false);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }

        var entry = new FragmentEntry(name, mesh.VertexCount, mesh.TriangleCount);
        lock (_gate)
        {
            if (!_pending.TryGetValue(chunk, out var list))
            {
                _pending[chunk] = list = new List<(ulong, FragmentEntry)>();
            }

            list.Add((segmentId, entry));
        }
    }

    public void ChunkCompleted(Box3 chunk)
    {
        List<(ulong Id, FragmentEntry Entry)>? list;
        lock (_gate)
        {
            if (!_pending.TryGetValue(chunk, out list))
            {
                list = new List<(ulong, FragmentEntry)>();
            }

            _pending.Remove(chunk);
            foreach (var (id, entry) in list)
            {
                AddToSegment(id, entry);
            }
        }

        string key = chunk.Translate(_voxelOffset).ToString();
        byte[] json = EngineJson.ToUtf8(writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("chunk", key);
            writer.WriteStartArray("fragments");
            foreach (var (id, entry) in list)
            {
                writer.WriteStartObject();
                writer.WriteString("id", id.ToString(CultureInfo.InvariantCulture));
                writer.WriteString("name", entry.Name);
                writer.WriteNumber("vertices", entry.Vertices);
                writer.WriteNumber("triangles", entry.Triangles);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        });
        Store.Write(JournalRecordKey(key), json, gzip: false);
        lock (_gate)
        {
            _journal[key] = list;
        }
    }

    /// <summary>Writes every segment's manifest and mesh/info, removes the journal, and returns what was written, by id.</summary>
    public IReadOnlyList<SegmentMeshRecord> Finish() => FinishSegments().ToList();

    /// <summary>
    /// Like <see cref="Finish"/>, yielding each segment's record as soon as its manifest is written
    /// (so a cmdlet can emit records while the rest are written); mesh/info and the journal removal
    /// come after the last one.
    /// </summary>
    public IEnumerable<SegmentMeshRecord> FinishSegments()
    {
        List<KeyValuePair<ulong, List<FragmentEntry>>> segments;
        lock (_gate)
        {
            segments = _segments.OrderBy(kv => kv.Key).ToList();
        }

        Store.Flush();
        foreach (SegmentMeshRecord record in WriteSegments(segments, CancellationToken.None))
        {
            yield return record;
        }

        Store.Write(MeshKey("info"), MeshInfo, gzip: false);
        Store.Flush();
        DeleteLodZeroPieces();
        DeleteJournal();
    }

    private SegmentMeshRecord WriteManifest(ulong id, List<FragmentEntry> list, MeshSimplifier.Buffers buffers)
    {
        if (MultiResolution is { } grid)
        {
            return WriteMultiResolution(id, list, grid, buffers);
        }

        string[] names = list.Select(e => e.Name).OrderBy(n => n, StringComparer.Ordinal).ToArray();
        string manifest = MeshKey(ManifestName(id));
        Store.Write(manifest, ManifestJson(names), gzip: false);

        // The other layout's manifest of this id, from an earlier run, would now be stale.
        if (!(Store.Kind == StoreKind.Folder && RuntimeInformation.IsOSPlatform(OSPlatform.Windows)))
        {
            Store.Delete(MeshKey(ManifestName(id, !ColonFreeManifests)));
        }

        string manifestPath = PathOf(manifest);
        return new SegmentMeshRecord(id, list.Sum(e => e.Vertices), list.Sum(e => e.Triangles), names, manifestPath);
    }

    // The data file goes first and the manifest last: a segment whose manifest exists is whole.
    private SegmentMeshRecord WriteMultiResolution(ulong id, List<FragmentEntry> list, MultiResolutionGrid grid, MeshSimplifier.Buffers buffers)
    {
        MultiResolutionSegment segment = BuildMultiResolution(id, list, grid, buffers);
        string name = id.ToString(CultureInfo.InvariantCulture);
        Store.Write(MeshKey(name), segment.Data, gzip: false);
        string manifest = MeshKey(name + ".index");
        Store.Write(manifest, segment.Manifest, gzip: false);
        string manifestPath = PathOf(manifest);
        return new SegmentMeshRecord(id, segment.Vertices, segment.TrianglesPerLod[0], new[] { name }, manifestPath) { Lods = segment.Lods, Bytes = segment.Data.Length + segment.Manifest.Length };
    }

    // The lod-0 pieces are read from the store as the builder reaches their octree branch.
    private MultiResolutionSegment BuildMultiResolution(ulong id, List<FragmentEntry> list, MultiResolutionGrid grid, MeshSimplifier.Buffers buffers)
    {
        var byNode = new Dictionary<Int3, List<FragmentEntry>>();
        foreach (FragmentEntry entry in list.OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            Match box = s_chunkOfFragment.Match(entry.Name);
            if (!box.Success)
            {
                throw new EngineException("InvalidMeshFragment", EngineErrorKind.InvalidData, $"The fragment name '{entry.Name}' does not name its chunk.", entry.Name);
            }

            int Part(int group) => int.Parse(box.Groups[group].Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            Int3 node = grid.NodeOfChunk(new Int3(Part(1), Part(3), Part(5)));
            if (!byNode.TryGetValue(node, out List<FragmentEntry>? entries))
            {
                byNode[node] = entries = new List<FragmentEntry>();
            }

            entries.Add(entry);
        }

        IReadOnlyList<MeshData> Load(Int3 node) => byNode[node].Select(entry =>
        {
            string key = MeshKey(entry.Name);
            using PooledBytes bytes = Store.Read(key, (int)Math.Min(int.MaxValue, 4 + (12 * (entry.Vertices + entry.Triangles)))) ?? throw new EngineException(
                "MeshChunkMissing",
                EngineErrorKind.InvalidOperation,
                $"The lod-0 piece '{entry.Name}' of segment {id} is gone from '{MeshPath}'; run the meshing again with -Resume.",
                ObjectNames.Join(DatasetPath, key));
            return MeshData.FromFragmentBytes(bytes.Span, key);
        }).ToList();

        return MultiResolutionMeshBuilder.Build(byNode.Keys.ToList(), Load, grid, buffers);
    }

    // Multi-resolution: the chunk fragments were lod-0 pieces; the segments' files now hold them.
    private void DeleteLodZeroPieces()
    {
        if (MultiResolution is null)
        {
            return;
        }

        foreach (StoredObject o in Store.List(MeshDirectoryName + "/").ToList())
        {
            string name = o.Key.Substring(MeshDirectoryName.Length + 1);
            if (name.IndexOf('/') < 0 && s_fragmentName.IsMatch(name))
            {
                Store.Delete(o.Key);
            }
        }
    }

    /// <summary>A legacy manifest: {"fragments": [names]}.</summary>
    public static byte[] ManifestJson(IEnumerable<string> fragmentNames) => EngineJson.ToUtf8(writer =>
    {
        writer.WriteStartObject();
        writer.WriteStartArray("fragments");
        foreach (string name in fragmentNames)
        {
            writer.WriteStringValue(name);
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    });

    /// <summary>
    /// Writes <c>&lt;directory&gt;/info</c> of segment properties (the precomputed spec's
    /// segment_properties): ids as decimal strings ascending, a "label" property with the names, then
    /// <paramref name="extra"/> (descriptions, string and number columns, tags).
    /// </summary>
    public static string WriteSegmentProperties(IObjectStore store, string directory, IEnumerable<KeyValuePair<ulong, string>> names, IReadOnlyList<SegmentProperty>? extra = null)
    {
        var labels = new SortedDictionary<ulong, string>();
        foreach (KeyValuePair<ulong, string> kv in names)
        {
            labels[kv.Key] = kv.Value;
        }

        byte[] json = SegmentProperties.ToInfoJson(labels, extra);
        string key = directory.Trim('/') + "/info";
        store.Write(key, json, gzip: false);
        return PathOf(store, key);
    }

    /// <summary>Writes segment properties into the dataset folder <paramref name="datasetPath"/>.</summary>
    public static string WriteSegmentProperties(string datasetPath, string directory, IEnumerable<KeyValuePair<ulong, string>> names) =>
        WriteSegmentProperties(new FolderStore(datasetPath), directory, names);

    private string? ReadText(string key)
    {
        using PooledBytes? bytes = Store.Read(key, 16 << 20);
        return bytes is null ? null : Encoding.UTF8.GetString(bytes.Span.ToArray());
    }

    /// <summary>The segment id a mesh-folder file belongs to (a manifest or a fragment), or null.</summary>
    public static ulong? SegmentOfFile(string name)
    {
        Match m = s_manifestName.Match(name);
        if (!m.Success)
        {
            m = s_fragmentName.Match(name);
        }

        return m.Success && ulong.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out ulong id) ? id : null;
    }

    private void AddToSegment(ulong id, FragmentEntry entry)
    {
        if (!_segments.TryGetValue(id, out var list))
        {
            _segments[id] = list = new List<FragmentEntry>();
        }

        list.Add(entry);
    }

    private void DeleteJournal()
    {
        foreach (StoredObject o in Store.List(JournalDirectoryName + "/").ToList())
        {
            Store.Delete(o.Key);
        }

        if (Store is FolderStore folder)
        {
            try
            {
                Directory.Delete(folder.PathOf(JournalDirectoryName));
            }
            catch (IOException)
            {
                // Absent, or another process still holds a file in it; the next run cleans it up.
            }
        }
    }

    private readonly struct FragmentEntry
    {
        public FragmentEntry(string name, long vertices, long triangles)
        {
            Name = name;
            Vertices = vertices;
            Triangles = triangles;
        }

        public string Name { get; }

        public long Vertices { get; }

        public long Triangles { get; }
    }
}
