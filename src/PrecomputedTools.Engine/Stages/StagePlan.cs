using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using PrecomputedTools.Engine.Meshing;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Engine.Volumes;

namespace PrecomputedTools.Engine.Stages;

/// <summary>The kinds of task a plan holds.</summary>
public static class PlanTaskKinds
{
    /// <summary>Scale 0 from the source volume (a row of chunks).</summary>
    public const string Encode = "encode";

    /// <summary>A chunk of a lower scale from the scale above.</summary>
    public const string Downscale = "downscale";

    /// <summary>Writes the dataset's info (last: the info declares the dataset).</summary>
    public const string Info = "info";

    /// <summary>Meshes one meshing chunk: its fragments and its journal record.</summary>
    public const string Mesh = "mesh";

    /// <summary>Writes the manifests of the segments whose id % parts == part, from the journal records.</summary>
    public const string Manifests = "manifests";

    /// <summary>Writes one shard file of a sharded scale from the source's chunks (the task owns the whole shard).</summary>
    public const string Shard = "shard";

    /// <summary>Writes mesh/info (and segment properties), adds "mesh" to the dataset info, removes the journal.</summary>
    public const string MeshFinish = "mesh-finish";

    /// <summary>Copies a batch of objects.</summary>
    public const string Copy = "copy";
}

/// <summary>An object a copy task reads: its key in the source, whether it is stored gzip-encoded, its stored length (-1: unknown).</summary>
public readonly struct PlanInput
{
    public PlanInput(string key, bool gzip, long length)
    {
        Key = key;
        Gzip = gzip;
        Length = length;
    }

    public string Key { get; }

    public bool Gzip { get; }

    public long Length { get; }
}

/// <summary>
/// One independent, idempotent unit of a stage: it owns the objects it writes (no other task
/// writes them) and names the input region it reads. Run alone, anywhere, any number of times, it
/// gives exactly its part of a full run. A task may own a row of chunks, one chunk, or (for
/// sharded scales) a whole shard.
/// </summary>
public sealed class PlanTask
{
    private static readonly IReadOnlyList<PlanInput> s_noInputs = Array.Empty<PlanInput>();

    public PlanTask(int index, int phase, string kind, int scale, IReadOnlyList<Box3> chunks, IReadOnlyList<string> outputs, int readScale, Box3 reads, IReadOnlyList<PlanInput>? inputs = null, int part = 0, int parts = 0)
    {
        Index = index;
        Phase = phase;
        Kind = kind;
        Scale = scale;
        Chunks = chunks;
        Outputs = outputs;
        ReadScale = readScale;
        Reads = reads;
        Inputs = inputs ?? s_noInputs;
        Part = part;
        Parts = parts;
    }

    /// <summary>Position in the plan (0-based, over all phases): a cluster worker i of n runs the tasks with Index % n == i.</summary>
    public int Index { get; }

    /// <summary>Tasks of a phase depend only on earlier phases (a lower scale needs the one above).</summary>
    public int Phase { get; }

    /// <summary>One of <see cref="PlanTaskKinds"/>.</summary>
    public string Kind { get; }

    /// <summary>Index of the scale the task writes (-1: none).</summary>
    public int Scale { get; }

    /// <summary>Chunk boxes (scale-local voxels) the task writes (encode, downscale) or meshes (mesh).</summary>
    public IReadOnlyList<Box3> Chunks { get; }

    /// <summary>Object keys the task owns (in the plan's layout); "*" stands for any segment id in mesh fragment names.</summary>
    public IReadOnlyList<string> Outputs { get; }

    /// <summary>The scale read: -1 for the source volume (or none), otherwise a scale index of the dataset.</summary>
    public int ReadScale { get; }

    /// <summary>The region read, in the voxels of <see cref="ReadScale"/>.</summary>
    public Box3 Reads { get; }

    /// <summary>The source objects a copy task reads (empty for other kinds).</summary>
    public IReadOnlyList<PlanInput> Inputs { get; }

    /// <summary>For manifest tasks: this task writes the segments with id % <see cref="Parts"/> == Part.</summary>
    public int Part { get; }

    /// <summary>For manifest tasks: how many manifest tasks share the segments (0 for other kinds).</summary>
    public int Parts { get; }
}

/// <summary>
/// A writing stage as data: what it reads (<see cref="Source"/>), where it writes
/// (<see cref="Destination"/> and the store settings, never a secret), the target info, how the
/// dataset stores chunks, the ShouldProcess text, and the tasks. Pure: computed from geometry,
/// options and what exists; serialised as JSON (System.Text.Json writer, the format is in the
/// README's "Plan files") so a plan can be saved, inspected, and executed task by task by any process.
/// </summary>
public sealed class StagePlan
{
    public const int FormatVersion = 2;

    public StagePlan(string stage, string destination, ChunkLayout layout, bool gzip, PrecomputedInfo info, string description, IReadOnlyList<PlanTask> tasks, DownscaleMethod method = DownscaleMethod.Majority)
    {
        Method = method;
        Stage = stage;
        Destination = destination;
        Layout = layout;
        Gzip = gzip;
        Info = info;
        Description = description;
        Tasks = tasks;
    }

    /// <summary>"convert", "downscale", "mesh" or "copy".</summary>
    public string Stage { get; }

    /// <summary>The dataset written: a folder path or a URL.</summary>
    public string Destination { get; }

    /// <summary>Settings another process needs to reach <see cref="Destination"/> (region, endpoint, profile; see <see cref="StoreOptions.ToPublicJson"/>).</summary>
    public JsonObject DestinationStore { get; set; } = new();

    /// <summary>What the stage reads besides the destination: the volume of a convert (or of a mesh of a volume), the dataset of a copy; null when it reads only the destination.</summary>
    public VolumeSourceSpec? Source { get; set; }

    public ChunkLayout Layout { get; }

    public bool Gzip { get; }

    /// <summary>The info the dataset has when the stage is done.</summary>
    public PrecomputedInfo Info { get; }

    /// <summary>What the stage writes, for ShouldProcess and -WhatIf.</summary>
    public string Description { get; }

    public IReadOnlyList<PlanTask> Tasks { get; }

    /// <summary>How lower scales are computed (downscale plans).</summary>
    public DownscaleMethod Method { get; }

    /// <summary>The meshing settings (mesh plans).</summary>
    public MeshPlanSettings? Mesh { get; set; }

    public int PhaseCount => Tasks.Count == 0 ? 0 : Tasks.Max(t => t.Phase) + 1;

    /// <summary>The tasks a worker runs when the plan is spread over <paramref name="workers"/> workers.</summary>
    public IEnumerable<PlanTask> TasksOfWorker(int worker, int workers) =>
        workers <= 0 || worker < 0 || worker >= workers
            ? throw new ArgumentOutOfRangeException(nameof(worker), $"Worker {worker} of {workers} does not exist.")
            : Tasks.Where(t => t.Index % workers == worker);

    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteNumber("version", FormatVersion);
            w.WriteString("stage", Stage);
            w.WriteString("destination", Destination);
            w.WritePropertyName("destinationStore");
            DestinationStore.WriteTo(w);
            if (Source is not null)
            {
                w.WritePropertyName("source");
                Source.WriteTo(w);
            }

            w.WriteStartObject("storage");
            w.WriteString("layout", Layout == ChunkLayout.Nested ? "nested" : "flat");
            w.WriteBoolean("gzip", Gzip);
            w.WriteEndObject();
            w.WriteString("description", Description);
            if (Stage == "downscale")
            {
                w.WriteString("method", Method.ToString().ToLowerInvariant());
            }

            if (Mesh is not null)
            {
                w.WritePropertyName("mesh");
                Mesh.WriteTo(w);
            }

            w.WritePropertyName("info");
            using (JsonDocument info = JsonDocument.Parse(Info.ToJson()))
            {
                info.RootElement.WriteTo(w);
            }

            w.WriteStartArray("tasks");
            foreach (PlanTask t in Tasks)
            {
                w.WriteStartObject();
                w.WriteNumber("index", t.Index);
                w.WriteNumber("phase", t.Phase);
                w.WriteString("kind", t.Kind);
                w.WriteNumber("scale", t.Scale);
                w.WriteStartArray("chunks");
                foreach (Box3 box in t.Chunks)
                {
                    WriteBox(w, box);
                }

                w.WriteEndArray();
                if (t.Parts > 0)
                {
                    w.WriteStartArray("part");
                    w.WriteNumberValue(t.Part);
                    w.WriteNumberValue(t.Parts);
                    w.WriteEndArray();
                }

                if (t.Inputs.Count > 0)
                {
                    w.WriteStartArray("inputs");
                    foreach (PlanInput input in t.Inputs)
                    {
                        w.WriteStartObject();
                        w.WriteString("key", input.Key);
                        w.WriteBoolean("gzip", input.Gzip);
                        w.WriteNumber("length", input.Length);
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                }

                w.WriteStartArray("outputs");
                foreach (string key in t.Outputs)
                {
                    w.WriteStringValue(key);
                }

                w.WriteEndArray();
                w.WriteStartObject("reads");
                w.WriteNumber("scale", t.ReadScale);
                w.WritePropertyName("box");
                WriteBox(w, t.Reads);
                w.WriteEndObject();
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Reads a plan written by <see cref="ToJson"/>; anything else is InvalidPlan.</summary>
    public static StagePlan Parse(string json, string? source = null)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(json);
            JsonElement root = doc.RootElement;
            int version = root.GetProperty("version").GetInt32();
            if (version != FormatVersion)
            {
                throw Invalid($"plan format version {version} is not supported (this module writes {FormatVersion})", source);
            }

            JsonElement storage = root.GetProperty("storage");
            PrecomputedInfo info = PrecomputedInfo.Parse(root.GetProperty("info").GetRawText(), null, allowIncompleteScales: false, source: source);
            var tasks = new List<PlanTask>();
            foreach (JsonElement t in root.GetProperty("tasks").EnumerateArray())
            {
                JsonElement reads = t.GetProperty("reads");
                int part = 0, parts = 0;
                if (t.TryGetProperty("part", out JsonElement p))
                {
                    part = p[0].GetInt32();
                    parts = p[1].GetInt32();
                    if (parts <= 0 || part < 0 || part >= parts)
                    {
                        throw new FormatException($"task part {part} of {parts} does not exist");
                    }
                }

                List<PlanInput>? inputs = t.TryGetProperty("inputs", out JsonElement i)
                    ? i.EnumerateArray().Select(e => new PlanInput(e.GetProperty("key").GetString() ?? "", e.GetProperty("gzip").GetBoolean(), e.GetProperty("length").GetInt64())).ToList()
                    : null;
                tasks.Add(new PlanTask(
                    t.GetProperty("index").GetInt32(),
                    t.GetProperty("phase").GetInt32(),
                    t.GetProperty("kind").GetString() ?? "",
                    t.GetProperty("scale").GetInt32(),
                    t.GetProperty("chunks").EnumerateArray().Select(ReadBox).ToList(),
                    t.GetProperty("outputs").EnumerateArray().Select(e => e.GetString() ?? "").ToList(),
                    reads.GetProperty("scale").GetInt32(),
                    ReadBox(reads.GetProperty("box")),
                    inputs,
                    part,
                    parts));
            }

            for (int i = 0; i < tasks.Count; i++)
            {
                if (tasks[i].Index != i)
                {
                    throw Invalid($"task {i} has index {tasks[i].Index}", source);
                }
            }

            string stage = root.GetProperty("stage").GetString() ?? "";
            var plan = new StagePlan(
                stage,
                root.GetProperty("destination").GetString() ?? "",
                storage.GetProperty("layout").GetString() == "nested" ? ChunkLayout.Nested : ChunkLayout.Flat,
                storage.GetProperty("gzip").GetBoolean(),
                info,
                root.GetProperty("description").GetString() ?? "",
                tasks,
                root.TryGetProperty("method", out JsonElement method) ? (DownscaleMethod)Enum.Parse(typeof(DownscaleMethod), method.GetString() ?? "", ignoreCase: true) : DownscaleMethod.Majority);
            if (root.TryGetProperty("destinationStore", out JsonElement store))
            {
                plan.DestinationStore = JsonNode.Parse(store.GetRawText()) as JsonObject ?? throw new FormatException("\"destinationStore\" is an object");
            }

            if (root.TryGetProperty("source", out JsonElement sourceSpec) && sourceSpec.ValueKind != JsonValueKind.Null)
            {
                plan.Source = VolumeSourceSpec.Read(sourceSpec);
            }

            if (root.TryGetProperty("mesh", out JsonElement mesh))
            {
                plan.Mesh = MeshPlanSettings.Read(mesh);
            }
            else if (stage == "mesh")
            {
                throw new FormatException("a mesh plan has \"mesh\" settings");
            }

            return plan;
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or ArgumentException or IndexOutOfRangeException or OverflowException)
        {
            throw Invalid(ex.Message, source, ex);
        }
    }

    private static EngineException Invalid(string message, string? source, Exception? inner = null) =>
        new("InvalidPlan", EngineErrorKind.InvalidData, (source is null ? "" : source + ": ") + "not a valid stage plan: " + message, source, inner);

    internal static void WriteBox(Utf8JsonWriter w, Box3 box)
    {
        w.WriteStartArray();
        foreach (int v in new[] { box.Begin.X, box.Begin.Y, box.Begin.Z, box.End.X, box.End.Y, box.End.Z })
        {
            w.WriteNumberValue(v);
        }

        w.WriteEndArray();
    }

    internal static Box3 ReadBox(JsonElement e)
    {
        int[] v = e.EnumerateArray().Select(x => x.GetInt32()).ToArray();
        if (v.Length != 6)
        {
            throw new FormatException("a box has 6 numbers: x0,y0,z0,x1,y1,z1");
        }

        return new Box3(new Int3(v[0], v[1], v[2]), new Int3(v[3], v[4], v[5]));
    }
}

/// <summary>The pure planners of the chunk-writing stages.</summary>
public static class StagePlanner
{
    /// <summary>
    /// Scale 0 from a volume: one task per row of chunks side by side along x (as many as fit the
    /// slab budget), the unit the writer streams a few z planes at a time.
    /// </summary>
    /// <remarks>The last task (its own phase) writes the info: the info declares the dataset, so it comes after every chunk.</remarks>
    public static StagePlan PlanConvert(PrecomputedInfo info, string destination, ChunkLayout layout, bool gzip, Int3 sourceSize, Int3 sourceGranularity, VoxelType sourceType, long slabBudgetBytes = 192L << 20, VolumeSourceSpec? source = null)
    {
        ScaleInfo scale = info.Scales[0];
        if (sourceSize != scale.Size)
        {
            throw new EngineException("InvalidVolumeGeometry", EngineErrorKind.InvalidArgument, $"The volume is {sourceSize} voxels but scale {scale.Key} of the info is {scale.Size}.", destination);
        }

        if (scale.Sharding is not null)
        {
            List<PlanTask> shardTasks = ShardTasks(scale, destination, PlanTaskKinds.Encode, 0, -1);
            shardTasks.Add(InfoTask(shardTasks.Count, 1));
            return new StagePlan("convert", destination, layout, gzip, info, $"{destination} ({scale.ChunkCount} chunks of scale {scale.Key}, {scale.Encoding}, in {shardTasks.Count - 1} shard(s))", shardTasks) { Source = source };
        }

        int chunksPerSlab = ChunksPerSlab(info, scale, sourceGranularity, sourceType, slabBudgetBytes);
        Int3 grid = scale.GridSize;
        var tasks = new List<PlanTask>();
        for (int gz = 0; gz < grid.Z; gz++)
        {
            for (int gy = 0; gy < grid.Y; gy++)
            {
                for (int gx0 = 0; gx0 < grid.X; gx0 += chunksPerSlab)
                {
                    var chunks = new List<Box3>();
                    for (int gx = gx0; gx < Math.Min(grid.X, gx0 + chunksPerSlab); gx++)
                    {
                        chunks.Add(scale.ChunkBox(new Int3(gx, gy, gz)));
                    }

                    var reads = new Box3(chunks[0].Begin, chunks[chunks.Count - 1].End);
                    tasks.Add(new PlanTask(tasks.Count, 0, "encode", 0, chunks, chunks.Select(c => DatasetStore.ChunkKey(scale, c, layout)).ToList(), -1, reads));
                }
            }
        }

        tasks.Add(InfoTask(tasks.Count, 1));
        string description = $"{destination} ({scale.ChunkCount} chunks of scale {scale.Key}, {scale.Encoding})";
        return new StagePlan("convert", destination, layout, gzip, info, description, tasks) { Source = source };
    }

    private static PlanTask InfoTask(int index, int phase) =>
        new(index, phase, PlanTaskKinds.Info, -1, Array.Empty<Box3>(), new[] { DatasetStore.InfoKey }, -1, default);

    /// <summary>
    /// Meshing: one task per meshing chunk (it writes the chunk's fragments, "&lt;id&gt;_&lt;box&gt;.frag",
    /// and its journal record, and reads the chunk plus one voxel on the high side), then manifest
    /// tasks that each own the segments with id % parts == part, then one task that writes mesh/info,
    /// the segment properties and the dataset info's "mesh" and removes the journal.
    /// </summary>
    /// <remarks>
    /// <paramref name="info"/> is the dataset's info when the stage is done (for a volume without a
    /// dataset: a one-scale info describing it); <paramref name="scaleIndex"/> the dataset scale
    /// meshed, or -1 when the plan's source volume is.
    /// </remarks>
    public static StagePlan PlanMesh(PrecomputedInfo info, string destination, ChunkLayout layout, bool gzip, MeshPlanSettings settings, int scaleIndex, VolumeSourceSpec? source = null)
    {
        Int3 size = settings.VolumeSize;
        Int3 chunk = settings.ChunkSize;
        var tasks = new List<PlanTask>();
        string meshDirectory = settings.Directory.Trim('/');
        foreach (Box3 box in settings.MeshingChunks())
        {
            string global = box.Translate(settings.VoxelOffset).ToString();
            var reads = new Box3(box.Begin, Int3.Min(box.End + new Int3(1, 1, 1), size));
            tasks.Add(new PlanTask(
                tasks.Count,
                0,
                PlanTaskKinds.Mesh,
                scaleIndex,
                new[] { box },
                new[] { LegacyMeshWriter.JournalRecordKey(global), meshDirectory + "/*_" + global + ".frag" },
                scaleIndex,
                reads));
        }

        int chunks = tasks.Count;
        int parts = Math.Max(1, Math.Min(16, (chunks + 7) / 8));
        for (int part = 0; part < parts; part++)
        {
            string manifest = meshDirectory + "/*" + (settings.ColonFreeManifests ? ".json" : ":0");
            tasks.Add(new PlanTask(tasks.Count, 1, PlanTaskKinds.Manifests, scaleIndex, Array.Empty<Box3>(), new[] { manifest }, -1, default, null, part, parts));
        }

        var finish = new List<string> { meshDirectory + "/info" };
        if (settings.UpdateInfo)
        {
            finish.Add(DatasetStore.InfoKey);
        }

        if (settings.WritesSegmentProperties)
        {
            finish.Add(SegmentPropertiesDirectory + "/info");
        }

        tasks.Add(new PlanTask(tasks.Count, 2, PlanTaskKinds.MeshFinish, scaleIndex, Array.Empty<Box3>(), finish, -1, default));
        string what = settings.SegmentIds is null ? "every segment" : $"{settings.SegmentIds.Count} segment{(settings.SegmentIds.Count == 1 ? "" : "s")}";
        string description = $"{ObjectNames.Join(destination, meshDirectory)} ({what} of {settings.SourceName}, {chunks} chunks)";
        return new StagePlan("mesh", destination, layout, gzip, info, description, tasks) { Mesh = settings, Source = source };
    }

    /// <summary>The folder of the segment properties New-SegmentMesh writes.</summary>
    public const string SegmentPropertiesDirectory = "segment_properties";

    /// <summary>
    /// A copy: the objects (keys in the source, their form, their destination keys) in batches of
    /// at most <paramref name="objectsPerTask"/> objects or <paramref name="bytesPerTask"/> bytes,
    /// then the info (written last).
    /// </summary>
    public static StagePlan PlanCopy(PrecomputedInfo info, string destination, ChunkLayout layout, bool gzip, IReadOnlyList<CopyItem> items, VolumeSourceSpec source, int objectsPerTask = 256, long bytesPerTask = 256L << 20)
    {
        // Scales the destination info shards get shard tasks; their chunk objects are not copied.
        var sharded = info.Scales.Where(s => s.Sharding is not null).Select(s => s.Key + "/").ToList();
        var shardTasks = new List<PlanTask>();
        for (int scaleIndex = 0; scaleIndex < info.Scales.Count; scaleIndex++)
        {
            ScaleInfo scale = info.Scales[scaleIndex];
            if (scale.Sharding is null)
            {
                continue;
            }

            ShardingSpec spec = ShardingSpec.FromJson(scale.Sharding, destination);
            foreach (IGrouping<ulong, Box3> shard in scale.EnumerateChunks().GroupBy(box => spec.Locate(DatasetStore.ShardedChunkId(scale, box)).Shard).OrderBy(g => g.Key))
            {
                shardTasks.Add(new PlanTask(0, 0, PlanTaskKinds.Shard, scaleIndex, shard.ToArray(), new[] { DatasetStore.ShardKey(scale, spec, shard.Key) }, -1, default));
            }
        }

        if (sharded.Count > 0)
        {
            items = items.Where(i => !sharded.Any(prefix => i.DestinationKey.StartsWith(prefix, StringComparison.Ordinal))).ToList();
        }

        var tasks = new List<PlanTask>();
        var inputs = new List<PlanInput>();
        var outputs = new List<string>();
        long bytes = 0;
        void Flush()
        {
            if (inputs.Count > 0)
            {
                tasks.Add(new PlanTask(tasks.Count, 0, PlanTaskKinds.Copy, -1, Array.Empty<Box3>(), outputs.ToArray(), -1, default, inputs.ToArray()));
                inputs.Clear();
                outputs.Clear();
                bytes = 0;
            }
        }

        foreach (CopyItem item in items)
        {
            if (inputs.Count >= objectsPerTask || (inputs.Count > 0 && bytes + Math.Max(0, item.Length) > bytesPerTask))
            {
                Flush();
            }

            inputs.Add(new PlanInput(item.SourceKey, item.Gzip, item.Length));
            outputs.Add(item.DestinationKey);
            bytes += Math.Max(0, item.Length);
        }

        Flush();
        foreach (PlanTask shard in shardTasks)
        {
            tasks.Add(new PlanTask(tasks.Count, 0, shard.Kind, shard.Scale, shard.Chunks, shard.Outputs, -1, default));
        }

        tasks.Add(InfoTask(tasks.Count, 1));
        long total = items.Sum(i => Math.Max(0, i.Length));
        string description = string.Format(System.Globalization.CultureInfo.InvariantCulture, "{0} ({1:N0} objects{2}, {3:N1} MB from {4})", destination, items.Count + 1, shardTasks.Count > 0 ? string.Format(System.Globalization.CultureInfo.InvariantCulture, " and {0:N0} shard files", shardTasks.Count) : "", total / 1e6, source.GetString("location"));
        return new StagePlan("copy", destination, layout, gzip, info, description, tasks) { Source = source };
    }

    /// <summary>
    /// One task per shard of a sharded scale: its chunks (z, y, x order) and the shard file as its one
    /// output. The task assembles the shard from its chunks' encoded bytes and writes it whole, so a
    /// shard appears complete or not at all and a resumed run redoes only missing shards.
    /// </summary>
    private static List<PlanTask> ShardTasks(ScaleInfo scale, string destination, string kind, int phase, int readScale, int scaleIndex = 0)
    {
        ShardingSpec spec = ShardingSpec.FromJson(scale.Sharding!, destination);
        var tasks = new List<PlanTask>();
        foreach (IGrouping<ulong, Box3> shard in scale.EnumerateChunks().GroupBy(box => DatasetStore.ShardOf(scale, spec, box)).OrderBy(g => g.Key))
        {
            Box3[] chunks = shard.ToArray();
            var reads = new Box3(
                new Int3(chunks.Min(c => c.Begin.X), chunks.Min(c => c.Begin.Y), chunks.Min(c => c.Begin.Z)),
                new Int3(chunks.Max(c => c.End.X), chunks.Max(c => c.End.Y), chunks.Max(c => c.End.Z)));
            tasks.Add(new PlanTask(tasks.Count, phase, kind, scaleIndex, chunks, new[] { DatasetStore.ShardKey(scale, spec, shard.Key) }, readScale, reads));
        }

        return tasks;
    }

    /// <summary>Lower scales: one task per output chunk; each scale is a phase, as it reads the scale above.</summary>
    /// <summary>Largest region of the first level of a downscale round a task holds in memory (see <see cref="PlanDownscale"/>).</summary>
    public const long DefaultPyramidRegionBytes = 128L << 20;

    /// <summary>
    /// Plans lower scales in rounds: a task owns one chunk of the round's last level and every
    /// chunk of the round's levels under it, computes them from the scale above the round in one
    /// pass (the first level held in memory, each next level reduced from it), so n levels take
    /// about n / k dependent phases instead of n (k levels per round while the first level's
    /// region stays within <paramref name="pyramidRegionBytes"/> and every level's region is
    /// chunk-aligned). The chunks are the same bytes as level-by-level tasks give; a task's
    /// <see cref="PlanTask.ReadScale"/> is the scale above its first level.
    /// </summary>
    public static StagePlan PlanDownscale(PrecomputedInfo info, string destination, ChunkLayout layout, bool gzip, IReadOnlyList<int> targets, DownscaleMethod method, long pyramidRegionBytes = DefaultPyramidRegionBytes)
    {
        var tasks = new List<PlanTask>();
        int phase = 0;
        foreach (int t in targets)
        {
            if (t < 1 || t >= info.Scales.Count)
            {
                throw new ArgumentOutOfRangeException(nameof(targets), $"Scale index {t} is not a lower scale.");
            }

        }

        int element = VoxelTypes.SizeOf(info.DataType);
        int[] ordered = targets.Distinct().OrderBy(i => i).ToArray();
        for (int i = 0; i < ordered.Length;)
        {
            int first = ordered[i], last = first;
            if (info.Scales[first].Sharding is not null)
            {
                // A sharded level is its own round: its tasks own whole shards, chunk by chunk from the level above.
                foreach (PlanTask shard in ShardTasks(info.Scales[first], destination, PlanTaskKinds.Downscale, phase, first - 1, first))
                {
                    Box3 reads = RegionAt(info, first - 1, first, shard.Reads);
                    tasks.Add(new PlanTask(tasks.Count, phase, shard.Kind, first, shard.Chunks, shard.Outputs, first - 1, reads));
                }

                phase++;
                i++;
                continue;
            }

            while (i + (last - first) + 1 < ordered.Length && ordered[i + (last - first) + 1] == last + 1 && info.Scales[last + 1].Sharding is null && RoundFits(info, first, last + 1, element, pyramidRegionBytes))
            {
                last++;
            }

            foreach (Box3 box in info.Scales[last].EnumerateChunks())
            {
                var outputs = new List<string>();
                for (int level = first; level <= last; level++)
                {
                    ScaleInfo scale = info.Scales[level];
                    outputs.AddRange(ChunksIn(scale, RegionAt(info, level, last, box)).Select(c => DatasetStore.ChunkKey(scale, c, layout)));
                }

                tasks.Add(new PlanTask(tasks.Count, phase, PlanTaskKinds.Downscale, last, new[] { box }, outputs, first - 1, RegionAt(info, first - 1, last, box)));
            }

            phase++;
            i += last - first + 1;
        }

        long chunks = tasks.Sum(t => (long)t.Outputs.Count);
        string description = $"{destination} (scales {string.Join(", ", targets.Select(i => info.Scales[i].Key))}; {chunks} chunks, {method})";
        return new StagePlan("downscale", destination, layout, gzip, info, description, tasks, method);
    }

    /// <summary>The product of the step factors from scale <paramref name="level"/> down to scale <paramref name="last"/>.</summary>
    internal static Int3 CumulativeFactor(PrecomputedInfo info, int level, int last)
    {
        var factor = new Int3(1, 1, 1);
        for (int k = level + 1; k <= last; k++)
        {
            factor *= ScalePyramid.StepFactor(info.Scales[k - 1], info.Scales[k]);
        }

        return factor;
    }

    /// <summary>What a chunk <paramref name="box"/> of scale <paramref name="last"/> covers at scale <paramref name="level"/> (clipped to that scale).</summary>
    internal static Box3 RegionAt(PrecomputedInfo info, int level, int last, Box3 box)
    {
        Int3 c = CumulativeFactor(info, level, last);
        return new Box3(box.Begin * c, Int3.Min(box.End * c, info.Scales[level].Size));
    }

    /// <summary>The chunks of <paramref name="scale"/> inside a chunk-aligned region.</summary>
    internal static IEnumerable<Box3> ChunksIn(ScaleInfo scale, Box3 region)
    {
        Int3 c = scale.ChunkSize;
        for (int z = region.Begin.Z; z < region.End.Z; z += c.Z)
        {
            for (int y = region.Begin.Y; y < region.End.Y; y += c.Y)
            {
                for (int x = region.Begin.X; x < region.End.X; x += c.X)
                {
                    yield return new Box3(new Int3(x, y, z), Int3.Min(new Int3(x, y, z) + c, scale.Size));
                }
            }
        }
    }

    // Levels first..last make one round when a chunk of the last level covers whole chunks at
    // every level of the round and the first level's region fits the memory budget.
    private static bool RoundFits(PrecomputedInfo info, int first, int last, int element, long budget)
    {
        Int3 top = info.Scales[last].ChunkSize;
        for (int level = first; level < last; level++)
        {
            Int3 covered = top * CumulativeFactor(info, level, last);
            Int3 chunk = info.Scales[level].ChunkSize;
            if (covered.X % chunk.X != 0 || covered.Y % chunk.Y != 0 || covered.Z % chunk.Z != 0)
            {
                return false;
            }
        }

        return (top * CumulativeFactor(info, first, last)).Volume * element <= budget;
    }

    internal static int ChunksPerSlab(PrecomputedInfo info, ScaleInfo scale, Int3 sourceGranularity, VoxelType sourceType, long slabBudgetBytes)
    {
        int planesPerStep = PlanesPerStep(scale, sourceGranularity);
        int sourceElement = VoxelTypes.SizeOf(sourceType);
        int targetElement = VoxelTypes.SizeOf(info.DataType);
        Int3 chunk = scale.ChunkSize;
        long bytesPerChunkStep = (long)chunk.X * Math.Min(chunk.Y, scale.Size.Y) * planesPerStep * Math.Max(sourceElement, targetElement);
        return (int)Math.Max(1, Math.Min(scale.GridSize.X, slabBudgetBytes / Math.Max(1, bytesPerChunkStep)));
    }

    /// <summary>Planes per step: whole block layers, and whole source read units when those are thin (BOSS cuboids are 16 deep).</summary>
    internal static int PlanesPerStep(ScaleInfo scale, Int3 sourceGranularity)
    {
        int step = ChunkSink.PlaneStep(scale);
        int granularity = Math.Min(Math.Max(1, sourceGranularity.Z), 64);
        return Int3.CeilDiv(Math.Max(step, granularity), step) * step;
    }
}
