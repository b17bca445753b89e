using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Storage;

namespace PrecomputedTools.Engine.Stages;

/// <summary>
/// Where a saved plan lives (a file, or an object on S3 that every worker reads) and, beside it,
/// the record of its tasks: "&lt;plan&gt;.tasks/&lt;index&gt;.done" once a task's outputs are stored,
/// "&lt;index&gt;.failed" with the error when it failed. The records are the only shared state of a
/// cluster run (no database): status and resume read them back from the same store.
/// </summary>
public sealed class PlanLocation : IDisposable
{
    private const int MaxPlanBytes = 256 << 20;

    private PlanLocation(string location, IObjectStore store, string key)
    {
        Location = location;
        Store = store;
        Key = key;
    }

    /// <summary>The plan's location as the user gave it.</summary>
    public string Location { get; }

    /// <summary>The store holding the plan and its task records.</summary>
    public IObjectStore Store { get; }

    /// <summary>The plan's key in <see cref="Store"/>.</summary>
    public string Key { get; }

    private string RecordPrefix => Key + ".tasks/";

    /// <summary>Opens the store a plan location is in: a file path (made absolute by the caller), file://, s3:// or gs://.</summary>
    public static PlanLocation Open(string location, StoreOptions? options = null)
    {
        string text = StoreLocation.StripViewerPrefix(location.Trim());
        string parent, key;
        if (StoreLocation.IsUri(text))
        {
            int slash = text.LastIndexOf('/');
            int schemeEnd = text.IndexOf("://", StringComparison.Ordinal) + 3;
            if (slash < schemeEnd || slash == text.Length - 1)
            {
                throw new EngineException("InvalidPlanLocation", EngineErrorKind.InvalidArgument, $"'{location}' names no plan object; write s3://bucket/prefix/name.json.", location);
            }

            parent = text.Substring(0, slash);
            key = text.Substring(slash + 1);
            if (parent.Length <= schemeEnd)
            {
                throw new EngineException("InvalidPlanLocation", EngineErrorKind.InvalidArgument, $"'{location}' names no bucket and plan; write s3://bucket/name.json.", location);
            }
        }
        else
        {
            string full = Path.GetFullPath(text);
            parent = Path.GetDirectoryName(full) ?? throw new EngineException("InvalidPlanLocation", EngineErrorKind.InvalidArgument, $"'{location}' is not a file path.", location);
            key = Path.GetFileName(full);
            if (key.Length == 0)
            {
                throw new EngineException("InvalidPlanLocation", EngineErrorKind.InvalidArgument, $"'{location}' names a folder; give the plan a file name (plan.json).", location);
            }
        }

        return new PlanLocation(text, StoreLocation.Open(parent, options), key);
    }

    /// <summary>Stores a plan (whole, atomically); an existing plan is replaced only with <paramref name="force"/>, and then its task records go too.</summary>
    public void Save(StagePlan plan, bool force)
    {
        if (!Store.CanWrite)
        {
            throw new EngineException("StoreIsReadOnly", EngineErrorKind.PermissionDenied, $"'{Location}' cannot be written; save plans to a folder or s3://.", Location);
        }

        if (Store.Stat(Key) is not null)
        {
            if (!force)
            {
                throw new EngineException("PlanExists", EngineErrorKind.ResourceExists, $"A plan is already saved at '{Location}'.", Location, recommendedAction: "Run it with Invoke-PrecomputedTask, pick another -PlanPath, or add -Force to replace it.");
            }

            ClearRecords();
        }

        Store.Write(Key, Encoding.UTF8.GetBytes(plan.ToJson()), gzip: false);
        Store.Flush();
    }

    /// <summary>Reads the plan back; a missing or damaged plan is PlanNotFound or InvalidPlan.</summary>
    public StagePlan Load(CancellationToken cancellationToken = default)
    {
        using PooledBytes content = Store.Read(Key, MaxPlanBytes, cancellationToken)
            ?? throw new EngineException("PlanNotFound", EngineErrorKind.ObjectNotFound, $"There is no plan at '{Location}'.", Location, recommendedAction: "Save one with -PlanPath on ConvertTo-CompressedSegmentation, Invoke-MajorityDownscale, New-SegmentMesh or Copy-PrecomputedDataset.");
        return StagePlan.Parse(Encoding.UTF8.GetString(content.ToArray()), Location);
    }

    /// <summary>Task indices with a done record.</summary>
    public HashSet<int> DoneTasks(CancellationToken cancellationToken = default) => ReadRecords(cancellationToken).Done;

    /// <summary>Task indices with a failure record (a later success removes it).</summary>
    public HashSet<int> FailedTasks(CancellationToken cancellationToken = default) => ReadRecords(cancellationToken).Failed;

    /// <summary>The error a failed task recorded, or null.</summary>
    public string? FailureOf(int task, CancellationToken cancellationToken = default)
    {
        using PooledBytes? content = Store.Read(RecordPrefix + task.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".failed", 1 << 20, cancellationToken);
        if (content is null)
        {
            return null;
        }

        try
        {
            using JsonDocument doc = JsonDocument.Parse(content.ToArray());
            return doc.RootElement.TryGetProperty("error", out JsonElement e) ? e.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    internal void MarkDone(PlanTask task, string worker, double seconds, CancellationToken cancellationToken, bool replacesFailure = false)
    {
        Store.Write(RecordName(task.Index, ".done"), Record(w =>
        {
            w.WriteNumber("task", task.Index);
            w.WriteNumber("phase", task.Phase);
            w.WriteString("kind", task.Kind);
            w.WriteString("worker", worker);
            w.WriteNumber("seconds", Math.Round(seconds, 3));
        }), gzip: false, cancellationToken);
        if (replacesFailure)
        {
            Store.Delete(RecordName(task.Index, ".failed"), cancellationToken);
        }
    }

    internal void MarkFailed(PlanTask task, string worker, Exception error)
    {
        try
        {
            Store.Write(RecordName(task.Index, ".failed"), Record(w =>
            {
                w.WriteNumber("task", task.Index);
                w.WriteNumber("phase", task.Phase);
                w.WriteString("kind", task.Kind);
                w.WriteString("worker", worker);
                w.WriteString("error", (error is EngineException ee ? ee.ErrorId + ": " : error.GetType().Name + ": ") + error.Message);
            }), gzip: false);
        }
        catch (Exception ex) when (ex is IOException or EngineException or UnauthorizedAccessException)
        {
            // The failure itself is what the worker reports; a record that cannot be written changes nothing.
        }
    }

    private void ClearRecords()
    {
        if (!Store.CanList)
        {
            return;
        }

        foreach (StoredObject record in Store.List(RecordPrefix).ToList())
        {
            Store.Delete(record.Key);
        }
    }

    private string RecordName(int task, string suffix) => RecordPrefix + task.ToString(System.Globalization.CultureInfo.InvariantCulture) + suffix;

    /// <summary>The done and failed records, from one listing of the records' prefix.</summary>
    internal (HashSet<int> Done, HashSet<int> Failed) ReadRecords(CancellationToken cancellationToken = default)
    {
        var done = new HashSet<int>();
        var failed = new HashSet<int>();
        if (!Store.CanList)
        {
            return (done, failed);
        }

        foreach (StoredObject record in Store.List(RecordPrefix, cancellationToken))
        {
            string name = record.Key.Substring(RecordPrefix.Length);
            int dot = name.LastIndexOf('.');
            if (dot > 0 && int.TryParse(name.Substring(0, dot), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int index))
            {
                (name.Substring(dot) switch { ".done" => done, ".failed" => failed, _ => null })?.Add(index);
            }
        }

        return (done, failed);
    }

    private static byte[] Record(Action<Utf8JsonWriter> body)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            body(w);
            w.WriteString("finished", DateTime.UtcNow.ToString("o", System.Globalization.CultureInfo.InvariantCulture));
            w.WriteEndObject();
        }

        return buffer.ToArray();
    }

    public void Dispose() => Store.Dispose();
}

/// <summary>
/// Which tasks an array-job element runs: the tasks of one phase, in plan order, split into
/// <c>count</c> contiguous runs of about equal work (neighbouring chunks read neighbouring source
/// slabs), element <c>index</c> taking run <c>index</c>. Work is the voxels a task reads (the bytes
/// it copies for copy tasks), so a run of thin edge chunks weighs what it costs, not what it
/// counts. Static and deterministic, so a requeued element redoes exactly its own tasks. A task is
/// never split (a shard task stays whole).
/// </summary>
public static class PlanPartition
{
    public static IReadOnlyList<PlanTask> TasksOf(StagePlan plan, int phase, int index, int count)
    {
        if (count < 1 || index < 0 || index >= count)
        {
            throw new EngineException("InvalidTaskIndex", EngineErrorKind.InvalidArgument, $"Array index {index} of {count} does not exist (indices run 0..count-1).", index);
        }

        if (phase < 0 || phase >= plan.PhaseCount)
        {
            throw new EngineException("PhaseNotFound", EngineErrorKind.InvalidArgument, $"The plan has phases 0..{plan.PhaseCount - 1}; there is no phase {phase}.", phase);
        }

        List<PlanTask> tasks = PhaseTasks(plan, phase);
        int[] owners = Owners(tasks, count);
        return tasks.Where((_, i) => owners[i] == index).ToList();
    }

    /// <summary>The array index whose share holds task <paramref name="task"/> when the phase is split <paramref name="count"/> ways.</summary>
    public static int IndexOf(StagePlan plan, PlanTask task, int count)
    {
        List<PlanTask> tasks = PhaseTasks(plan, task.Phase);
        return Owners(tasks, count)[tasks.FindIndex(t => t.Index == task.Index)];
    }

    /// <summary>The array index of every task of a phase split <paramref name="count"/> ways (task index to array index), computed once.</summary>
    public static Dictionary<int, int> OwnersOf(StagePlan plan, int phase, int count)
    {
        List<PlanTask> tasks = PhaseTasks(plan, phase);
        int[] owners = Owners(tasks, count);
        var byTask = new Dictionary<int, int>(tasks.Count);
        for (int i = 0; i < tasks.Count; i++)
        {
            byTask[tasks[i].Index] = owners[i];
        }

        return byTask;
    }

    /// <summary>How many array elements a phase can use: never more than it has tasks.</summary>
    public static int ElementsFor(StagePlan plan, int phase, int count) => Math.Max(1, Math.Min(count, plan.Tasks.Count(t => t.Phase == phase)));

    /// <summary>The work of a task: voxels read, bytes copied, or 1 (info, manifests).</summary>
    public static long WorkOf(PlanTask task) => Math.Max(1, task.Inputs.Count > 0 ? task.Inputs.Sum(i => Math.Max(0, i.Length)) : task.Reads.VoxelCount);

    private static List<PlanTask> PhaseTasks(StagePlan plan, int phase) => plan.Tasks.Where(t => t.Phase == phase).OrderBy(t => t.Index).ToList();

    // Task j goes to the share its work's midpoint falls in: non-decreasing in j, so shares are
    // contiguous, and no share exceeds its fair part by more than one task's work.
    private static int[] Owners(List<PlanTask> tasks, int count)
    {
        double total = tasks.Sum(t => (double)WorkOf(t));
        var owners = new int[tasks.Count];
        double before = 0;
        for (int i = 0; i < tasks.Count; i++)
        {
            double work = WorkOf(tasks[i]);
            owners[i] = Math.Min(count - 1, (int)(count * (before + work / 2) / total));
            before += work;
        }

        return owners;
    }
}

/// <summary>A task's state read back from the store: its record, and whether its outputs are there.</summary>
public sealed class PlanTaskState
{
    public PlanTaskState(PlanTask task, bool done, string? failure)
    {
        Task = task;
        Done = done;
        Failure = failure;
    }

    public PlanTask Task { get; }

    /// <summary>A done record exists and every lasting output the task names is stored.</summary>
    public bool Done { get; }

    /// <summary>The error of the last failed attempt, when the task is not done.</summary>
    public string? Failure { get; }
}

/// <summary>Progress of a saved plan, from what the stores hold (the task records and the outputs).</summary>
public static class PlanStatus
{
    // Patterns ("*" for any segment id) cannot be checked one by one, and bookkeeping objects
    // (".pt-…", such as the mesh journal) are removed when their stage completes.
    private static bool IsLasting(string output) => output.IndexOf('*') < 0 && !output.StartsWith(".pt-", StringComparison.Ordinal);

    /// <summary>The state of every task, or of <paramref name="only"/> (a worker's share: its outputs are checked one by one instead of listing the dataset).</summary>
    public static IReadOnlyList<PlanTaskState> Read(StagePlan plan, PlanLocation location, DatasetStore destination, IReadOnlyCollection<PlanTask>? only = null, CancellationToken cancellationToken = default)
    {
        (HashSet<int> done, HashSet<int> failed) = location.ReadRecords(cancellationToken);
        HashSet<string>? stored = null;
        if (only is null && destination.Objects.CanList && done.Count > 0)
        {
            // One listing instead of a request per output.
            stored = new HashSet<string>(destination.Objects.List("", cancellationToken).Select(o => o.Key), StringComparer.Ordinal);
        }

        var states = new List<PlanTaskState>(plan.Tasks.Count);
        foreach (PlanTask task in only ?? plan.Tasks)
        {
            bool isDone = done.Contains(task.Index) && task.Outputs.Where(IsLasting).All(o => stored?.Contains(o) ?? destination.Objects.Stat(o, cancellationToken) is not null);
            string? failure = !isDone && failed.Contains(task.Index) ? location.FailureOf(task.Index, cancellationToken) ?? "failed" : null;
            states.Add(new PlanTaskState(task, isDone, failure));
        }

        return states;
    }
}

/// <summary>What one worker did with its share of a plan.</summary>
public sealed class PlanWorkSummary
{
    public int Tasks { get; internal set; }

    public int Skipped { get; internal set; }

    public int Ran { get; internal set; }

    public double Seconds { get; internal set; }
}

/// <summary>
/// Runs an array element's share of a saved plan: skips tasks already done (their record is there
/// and so are their outputs), runs the rest with resume (outputs already complete are kept, so a
/// retried or requeued element never redoes finished work and never leaves a partial object),
/// then records each task as done; on failure records the error and rethrows.
/// </summary>
public static class PlanWorker
{
    public static async Task<PlanWorkSummary> RunAsync(StagePlan plan, PlanLocation location, IReadOnlyList<int> phases, int index, int count, StageContext context, OperationMonitor monitor, CancellationToken cancellationToken)
    {
        var summary = new PlanWorkSummary();
        var clock = Stopwatch.StartNew();
        string worker = Environment.MachineName + ":" + Process.GetCurrentProcess().Id.ToString(System.Globalization.CultureInfo.InvariantCulture) + $" [{index}/{count}]";
        context.Resume = true;
        using DatasetStore destination = DatasetStore.Open(plan.Destination, StageExecutor.DestinationOptions(plan, context), plan.Layout, plan.Gzip);
        foreach (int phase in phases)
        {
            IReadOnlyList<PlanTask> share = PlanPartition.TasksOf(plan, phase, index, count);
            summary.Tasks += share.Count;
            if (share.Count == 0)
            {
                continue;
            }

            IReadOnlyList<PlanTaskState> states = PlanStatus.Read(plan, location, destination, share, cancellationToken);
            HashSet<int> failedBefore = new(states.Where(s => s.Failure is not null).Select(s => s.Task.Index));
            List<PlanTask> todo = states.Where(s => !s.Done).Select(s => s.Task).ToList();
            summary.Skipped += share.Count - todo.Count;
            if (todo.Count == 0)
            {
                continue;
            }

            var phaseClock = Stopwatch.StartNew();
            try
            {
                await StageExecutor.ExecuteAsync(plan, context, todo.Select(t => t.Index), monitor, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                foreach (PlanTask task in todo)
                {
                    location.MarkFailed(task, worker, ex);
                }

                throw;
            }

            double each = phaseClock.Elapsed.TotalSeconds / todo.Count;
            foreach (PlanTask task in todo)
            {
                location.MarkDone(task, worker, each, cancellationToken, replacesFailure: failedBefore.Contains(task.Index));
            }

            location.Store.Flush();
            summary.Ran += todo.Count;
        }

        summary.Seconds = clock.Elapsed.TotalSeconds;
        return summary;
    }
}

/// <summary>
/// The array index (and size, where the engine says it) a cluster engine gives the process it
/// starts: Slurm's SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT, a Kubernetes Indexed Job's
/// JOB_COMPLETION_INDEX, AWS Batch's AWS_BATCH_JOB_ARRAY_INDEX (and AWS_BATCH_JOB_ARRAY_SIZE when set).
/// </summary>
public sealed class ArrayJobEnvironment
{
    private ArrayJobEnvironment(string engine, int index, int? count)
    {
        Engine = engine;
        Index = index;
        Count = count;
    }

    /// <summary>Slurm, Kubernetes or AWS Batch.</summary>
    public string Engine { get; }

    public int Index { get; }

    /// <summary>The array size when the engine states it (Kubernetes does not).</summary>
    public int? Count { get; }

    /// <summary>The environment of this process's engine, or null outside an array job.</summary>
    public static ArrayJobEnvironment? Detect(Func<string, string?> variable)
    {
        (string Engine, string Index, string? Count)[] known =
        {
            ("Slurm", "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT"),
            ("Kubernetes", "JOB_COMPLETION_INDEX", null),
            ("AWS Batch", "AWS_BATCH_JOB_ARRAY_INDEX", "AWS_BATCH_JOB_ARRAY_SIZE"),
        };
        foreach ((string engine, string indexName, string? countName) in known)
        {
            string? text = variable(indexName);
            if (string.IsNullOrWhiteSpace(text))
            {
                continue;
            }

            if (!int.TryParse(text!.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int index))
            {
                throw new EngineException("InvalidTaskIndex", EngineErrorKind.InvalidArgument, $"{indexName}='{text}' is not an array index.", indexName);
            }

            int? count = null;
            if (countName is not null && variable(countName) is { Length: > 0 } countText
                && int.TryParse(countText.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) && n > 0)
            {
                count = n;
            }

            return new ArrayJobEnvironment(engine, index, count);
        }

        return null;
    }
}
