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
}

/// <summary>
/// Writes the legacy precomputed mesh format (FORMATS.md §8): one fragment file per segment and
/// chunk, streamed to disk as chunks finish; then one manifest per segment and <c>mesh/info</c>.
/// </summary>
/// <remarks>
/// <para>
/// Every file is written atomically. Fragment names are <c>&lt;id&gt;_&lt;chunk box&gt;.frag</c>
/// and never contain ':'. Manifests are <c>&lt;id&gt;:0</c>, or <c>&lt;id&gt;.json</c> in the
/// colon-free layout, which is the default on Windows (NTFS cannot hold ':' in a name) and can be
/// forced anywhere; servers map the viewer's <c>&lt;id&gt;:0</c> to it (HOSTING.md §2.5).
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
    private static readonly Regex s_manifestName = new(@"^(\d+)(:0|\.json)$", RegexOptions.CultureInvariant);
    private static readonly Regex s_fragmentName = new(@"^(\d+)_.*\.frag$", RegexOptions.CultureInvariant);

    private readonly object _gate = new();
    private readonly Dictionary<ulong, List<FragmentEntry>> _segments = new();
    private readonly Dictionary<Box3, List<(ulong Id, FragmentEntry Entry)>> _pending = new();
    private readonly Dictionary<string, List<(ulong Id, FragmentEntry Entry)>> _journal = new(StringComparer.Ordinal);
    private readonly Int3 _voxelOffset;
    private readonly string _parameters;

    /// <param name="datasetPath">Dataset folder (holding the volume info).</param>
    /// <param name="meshDirectory">Mesh folder name relative to the dataset (the info's "mesh").</param>
    /// <param name="voxelOffset">Voxel offset of the meshed scale, used in fragment names.</param>
    /// <param name="parameters">A description of the run's settings; a resumed run must match it.</param>
    /// <param name="colonFreeManifests">Write manifests as &lt;id&gt;.json; null = only on Windows.</param>
    public LegacyMeshWriter(string datasetPath, string meshDirectory, Int3 voxelOffset, string parameters, bool? colonFreeManifests = null)
    {
        DatasetPath = Path.GetFullPath(datasetPath);
        MeshDirectoryName = meshDirectory;
        MeshPath = Path.Combine(DatasetPath, meshDirectory.Replace('/', Path.DirectorySeparatorChar));
        JournalPath = Path.Combine(DatasetPath, JournalDirectoryName);
        _voxelOffset = voxelOffset;
        _parameters = parameters;
        ColonFreeManifests = colonFreeManifests ?? RuntimeInformation.IsOSPlatform(OSPlatform.Windows);
        if (!ColonFreeManifests && RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
        {
            throw new EngineException(
                "ColonManifestOnWindows",
                EngineErrorKind.NotSupported,
                "Manifests named '<id>:0' cannot be created on Windows (NTFS reads ':' as a stream separator). Use the colon-free layout ('<id>.json'), which the module's publishers and nginx configuration serve as '<id>:0'.",
                MeshPath);
        }
    }

    public string DatasetPath { get; }

    public string MeshDirectoryName { get; }

    public string MeshPath { get; }

    public string JournalPath { get; }

    public bool ColonFreeManifests { get; }

    /// <summary>The manifest file name of a segment in this writer's layout.</summary>
    public string ManifestName(ulong id) => ManifestName(id, ColonFreeManifests);

    public static string ManifestName(ulong id, bool colonFree) =>
        id.ToString(CultureInfo.InvariantCulture) + (colonFree ? ".json" : ":0");

    /// <summary>Fragment file name of a segment in a chunk: "&lt;id&gt;_&lt;x0-x1_y0-y1_z0-z1&gt;.frag" (global voxel box).</summary>
    public string FragmentName(ulong id, Box3 chunk) =>
        id.ToString(CultureInfo.InvariantCulture) + "_" + chunk.Translate(_voxelOffset) + ".frag";

    /// <summary>Manifests or fragments already in the mesh folder (for the given ids, or any).</summary>
    public bool HasExistingOutput(ISet<ulong>? ids)
    {
        if (!Directory.Exists(MeshPath))
        {
            return false;
        }

        foreach (string file in Directory.EnumerateFiles(MeshPath))
        {
            if (SegmentOfFile(Path.GetFileName(file)) is { } id && (ids is null || ids.Contains(id)))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>-Force: deletes earlier manifests and fragments (of the given ids, or all) and any journal.</summary>
    public int DeleteExistingOutput(ISet<ulong>? ids)
    {
        int removed = 0;
        if (Directory.Exists(MeshPath))
        {
            foreach (string file in Directory.EnumerateFiles(MeshPath))
            {
                if (SegmentOfFile(Path.GetFileName(file)) is { } id && (ids is null || ids.Contains(id)) && AtomicFile.TryDelete(file))
                {
                    removed++;
                }
            }
        }

        DeleteJournal();
        return removed;
    }

    /// <summary>Loads the journal of an interrupted run (resume); fails if its parameters differ.</summary>
    public int LoadJournal()
    {
        string parametersPath = Path.Combine(JournalPath, ParametersFile);
        if (!File.Exists(parametersPath))
        {
            return 0;
        }

        string previous = File.ReadAllText(parametersPath);
        if (!string.Equals(previous, _parameters, StringComparison.Ordinal))
        {
            throw new EngineException(
                "ResumeParametersChanged",
                EngineErrorKind.InvalidOperation,
                $"The interrupted meshing run in '{DatasetPath}' used other settings ({previous}); this run uses {_parameters}. Resume with the same settings, or use -Force to start over.",
                JournalPath);
        }

        foreach (string file in Directory.EnumerateFiles(JournalPath, "*.chunk.json"))
        {
            JsonNode? root;
            try
            {
                root = JsonNode.Parse(File.ReadAllText(file));
            }
            catch (JsonException)
            {
                continue; // a damaged record only means that chunk is meshed again
            }

            if (root?["chunk"]?.GetValue<string>() is not { } chunk || root["fragments"] is not JsonArray fragments)
            {
                continue;
            }

            var entries = new List<(ulong, FragmentEntry)>();
            foreach (JsonNode? f in fragments)
            {
                if (f is null || !ulong.TryParse(f["id"]?.GetValue<string>(), NumberStyles.None, CultureInfo.InvariantCulture, out ulong id))
                {
                    continue;
                }

                entries.Add((id, new FragmentEntry(f["name"]!.GetValue<string>(), f["vertices"]!.GetValue<long>(), f["triangles"]!.GetValue<long>())));
            }

            _journal[chunk] = entries;
        }

        return _journal.Count;
    }

    /// <summary>Starts the journal of this run.</summary>
    public void BeginJournal()
    {
        Directory.CreateDirectory(MeshPath);
        Directory.CreateDirectory(JournalPath);
        AtomicFile.WriteText(Path.Combine(JournalPath, ParametersFile), _parameters);
    }

    public bool IsChunkComplete(Box3 chunk)
    {
        string key = chunk.Translate(_voxelOffset).ToString();
        List<(ulong Id, FragmentEntry Entry)>? entries;
        lock (_gate)
        {
            if (!_journal.TryGetValue(key, out entries))
            {
                return false;
            }
        }

        foreach (var (_, entry) in entries)
        {
            var file = new FileInfo(Path.Combine(MeshPath, entry.Name));
            if (!file.Exists || file.Length != 4 + (12 * entry.Vertices) + (12 * entry.Triangles))
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
        AtomicFile.Write(Path.Combine(MeshPath, name), mesh.ToFragmentBytes());
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
        var json = new StringBuilder();
        json.Append("{\"chunk\":\"").Append(key).Append("\",\"fragments\":[");
        for (int i = 0; i < list.Count; i++)
        {
            var (id, entry) = list[i];
            json.Append(i == 0 ? "" : ",")
                .Append("{\"id\":\"").Append(id.ToString(CultureInfo.InvariantCulture))
                .Append("\",\"name\":").Append(JsonSerializer.Serialize(entry.Name))
                .Append(",\"vertices\":").Append(entry.Vertices.ToString(CultureInfo.InvariantCulture))
                .Append(",\"triangles\":").Append(entry.Triangles.ToString(CultureInfo.InvariantCulture)).Append('}');
        }

        json.Append("]}");
        AtomicFile.WriteText(Path.Combine(JournalPath, key + ".chunk.json"), json.ToString());
    }

    /// <summary>Writes every segment's manifest and mesh/info, removes the journal, and returns what was written, by id.</summary>
    public IReadOnlyList<SegmentMeshRecord> Finish()
    {
        Directory.CreateDirectory(MeshPath);
        var records = new List<SegmentMeshRecord>();
        lock (_gate)
        {
            foreach (KeyValuePair<ulong, List<FragmentEntry>> segment in _segments.OrderBy(kv => kv.Key))
            {
                ulong id = segment.Key;
                List<FragmentEntry> list = segment.Value;
                string[] names = list.Select(e => e.Name).OrderBy(n => n, StringComparer.Ordinal).ToArray();
                string manifest = Path.Combine(MeshPath, ManifestName(id));
                AtomicFile.WriteText(manifest, ManifestJson(names));

                // The other layout's manifest of this id, from an earlier run, would now be stale.
                string other = Path.Combine(MeshPath, ManifestName(id, !ColonFreeManifests));
                if (!RuntimeInformation.IsOSPlatform(OSPlatform.Windows) && File.Exists(other))
                {
                    AtomicFile.TryDelete(other);
                }

                records.Add(new SegmentMeshRecord(id, list.Sum(e => e.Vertices), list.Sum(e => e.Triangles), names, manifest));
            }
        }

        AtomicFile.WriteText(Path.Combine(MeshPath, "info"), MeshInfoJson);
        DeleteJournal();
        return records;
    }

    public static string ManifestJson(IEnumerable<string> fragmentNames) =>
        "{\"fragments\":[" + string.Join(",", fragmentNames.Select(n => JsonSerializer.Serialize(n))) + "]}";

    /// <summary>
    /// Writes <c>&lt;dataset&gt;/&lt;directory&gt;/info</c> (FORMATS.md §10): ids as decimal strings
    /// and one "label" property with the names, ascending by id.
    /// </summary>
    public static string WriteSegmentProperties(string datasetPath, string directory, IEnumerable<KeyValuePair<ulong, string>> names)
    {
        var sorted = names.OrderBy(kv => kv.Key).ToList();
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("@type", "neuroglancer_segment_properties");
            json.WriteStartObject("inline");
            json.WriteStartArray("ids");
            foreach (var kv in sorted)
            {
                json.WriteStringValue(kv.Key.ToString(CultureInfo.InvariantCulture));
            }

            json.WriteEndArray();
            json.WriteStartArray("properties");
            json.WriteStartObject();
            json.WriteString("id", "label");
            json.WriteString("type", "label");
            json.WriteStartArray("values");
            foreach (var kv in sorted)
            {
                json.WriteStringValue(kv.Value);
            }

            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndObject();
        }

        string folder = Path.Combine(Path.GetFullPath(datasetPath), directory.Replace('/', Path.DirectorySeparatorChar));
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, "info");
        AtomicFile.Write(path, buffer.ToArray());
        return path;
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
        if (Directory.Exists(JournalPath))
        {
            foreach (string file in Directory.EnumerateFiles(JournalPath))
            {
                AtomicFile.TryDelete(file);
            }

            try
            {
                Directory.Delete(JournalPath);
            }
            catch (IOException)
            {
                // Another process still holds a file in it; the next run cleans it up.
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
