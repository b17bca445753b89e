using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
namespace PrecomputedTools.Engine.Precomputed;

/// <summary>
/// One independent, idempotent unit of a stage: it owns the objects it writes (no other task
/// writes them) and names the input region it reads. Run alone, anywhere, any number of times, it
/// gives exactly its part of a full run. A task may own a row of chunks, one chunk, or (for
/// sharded scales) a whole shard.
/// </summary>
public sealed class PlanTask
{
    public PlanTask(int index, int phase, string kind, int scale, IReadOnlyList<Box3> chunks, IReadOnlyList<string> outputs, int readScale, Box3 reads)
    {
        Index = index;
        Phase = phase;
        Kind = kind;
        Scale = scale;
        Chunks = chunks;
        Outputs = outputs;
        ReadScale = readScale;
        Reads = reads;
    }

    /// <summary>Position in the plan (0-based, over all phases): a cluster worker i of n runs the tasks with Index % n == i.</summary>
    public int Index { get; }

    /// <summary>Tasks of a phase depend only on earlier phases (a lower scale needs the one above).</summary>
    public int Phase { get; }

    /// <summary>"encode" (scale 0 from the source volume) or "downscale".</summary>
    public string Kind { get; }

    /// <summary>Index of the scale the task writes.</summary>
    public int Scale { get; }

    /// <summary>Chunk boxes (scale-local voxels) the task writes.</summary>
    public IReadOnlyList<Box3> Chunks { get; }

    /// <summary>Object keys the task owns (in the plan's layout).</summary>
    public IReadOnlyList<string> Outputs { get; }

    /// <summary>The scale read: -1 for the source volume, otherwise a scale index of the dataset.</summary>
    public int ReadScale { get; }

    /// <summary>The region read, in the voxels of <see cref="ReadScale"/>.</summary>
    public Box3 Reads { get; }
}

/// <summary>
/// A writing stage as data: the target info, how the dataset stores chunks, the ShouldProcess
/// text, and the tasks. Pure: computed from geometry, options and what exists; serialised as JSON
/// (System.Text.Json writer) so a plan can be saved, inspected, and executed task by task.
/// </summary>
public sealed class StagePlan
{
    public const int FormatVersion = 1;

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

    /// <summary>"convert" or "downscale".</summary>
    public string Stage { get; }

    public string Destination { get; }

    public ChunkLayout Layout { get; }

    public bool Gzip { get; }

    /// <summary>The info the dataset has when the stage is done.</summary>
    public PrecomputedInfo Info { get; }

    /// <summary>What the stage writes, for ShouldProcess and -WhatIf.</summary>
    public string Description { get; }

    public IReadOnlyList<PlanTask> Tasks { get; }

    /// <summary>How lower scales are computed (downscale plans).</summary>
    public DownscaleMethod Method { get; }

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
            w.WriteStartObject("storage");
            w.WriteString("layout", Layout == ChunkLayout.Nested ? "nested" : "flat");
            w.WriteBoolean("gzip", Gzip);
            w.WriteEndObject();
            w.WriteString("description", Description);
            if (Stage == "downscale")
            {
                w.WriteString("method", Method.ToString().ToLowerInvariant());
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
                tasks.Add(new PlanTask(
                    t.GetProperty("index").GetInt32(),
                    t.GetProperty("phase").GetInt32(),
                    t.GetProperty("kind").GetString() ?? "",
                    t.GetProperty("scale").GetInt32(),
                    t.GetProperty("chunks").EnumerateArray().Select(ReadBox).ToList(),
                    t.GetProperty("outputs").EnumerateArray().Select(e => e.GetString() ?? "").ToList(),
                    reads.GetProperty("scale").GetInt32(),
                    ReadBox(reads.GetProperty("box"))));
            }

            for (int i = 0; i < tasks.Count; i++)
            {
                if (tasks[i].Index != i)
                {
                    throw Invalid($"task {i} has index {tasks[i].Index}", source);
                }
            }

            return new StagePlan(
                root.GetProperty("stage").GetString() ?? "",
                root.GetProperty("destination").GetString() ?? "",
                storage.GetProperty("layout").GetString() == "nested" ? ChunkLayout.Nested : ChunkLayout.Flat,
                storage.GetProperty("gzip").GetBoolean(),
                info,
                root.GetProperty("description").GetString() ?? "",
                tasks,
                root.TryGetProperty("method", out JsonElement method) ? (DownscaleMethod)Enum.Parse(typeof(DownscaleMethod), method.GetString() ?? "", ignoreCase: true) : DownscaleMethod.Majority);
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or ArgumentException)
        {
            throw Invalid(ex.Message, source, ex);
        }
    }

    private static EngineException Invalid(string message, string? source, Exception? inner = null) =>
        new("InvalidPlan", EngineErrorKind.InvalidData, (source is null ? "" : source + ": ") + "not a valid stage plan: " + message, source, inner);

    private static void WriteBox(Utf8JsonWriter w, Box3 box)
    {
        w.WriteStartArray();
        foreach (int v in new[] { box.Begin.X, box.Begin.Y, box.Begin.Z, box.End.X, box.End.Y, box.End.Z })
        {
            w.WriteNumberValue(v);
        }

        w.WriteEndArray();
    }

    private static Box3 ReadBox(JsonElement e)
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
    public static StagePlan PlanConvert(PrecomputedInfo info, string destination, ChunkLayout layout, bool gzip, Int3 sourceSize, Int3 sourceGranularity, VoxelType sourceType, long slabBudgetBytes = 192L << 20)
    {
        ScaleInfo scale = info.Scales[0];
        if (sourceSize != scale.Size)
        {
            throw new EngineException("InvalidVolumeGeometry", EngineErrorKind.InvalidArgument, $"The volume is {sourceSize} voxels but scale {scale.Key} of the info is {scale.Size}.", destination);
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

        string description = $"{destination} ({scale.ChunkCount} chunks of scale {scale.Key}, {scale.Encoding})";
        return new StagePlan("convert", destination, layout, gzip, info, description, tasks);
    }

    /// <summary>Lower scales: one task per output chunk; each scale is a phase, as it reads the scale above.</summary>
    public static StagePlan PlanDownscale(PrecomputedInfo info, string destination, ChunkLayout layout, bool gzip, IReadOnlyList<int> targets, DownscaleMethod method)
    {
        var tasks = new List<PlanTask>();
        int phase = 0;
        foreach (int t in targets.OrderBy(i => i))
        {
            if (t < 1 || t >= info.Scales.Count)
            {
                throw new ArgumentOutOfRangeException(nameof(targets), $"Scale index {t} is not a lower scale.");
            }

            ScaleInfo source = info.Scales[t - 1];
            ScaleInfo target = info.Scales[t];
            Int3 factor = ScalePyramid.StepFactor(source, target);
            foreach (Box3 box in target.EnumerateChunks())
            {
                var reads = new Box3(box.Begin * factor, Int3.Min(box.End * factor, source.Size));
                tasks.Add(new PlanTask(tasks.Count, phase, "downscale", t, new[] { box }, new[] { DatasetStore.ChunkKey(target, box, layout) }, t - 1, reads));
            }

            phase++;
        }

        long chunks = tasks.Count;
        string description = $"{destination} (scales {string.Join(", ", targets.Select(i => info.Scales[i].Key))}; {chunks} chunks, {method})";
        return new StagePlan("downscale", destination, layout, gzip, info, description, tasks, method);
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
