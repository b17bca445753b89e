using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine.Boss;
using PrecomputedTools.Engine.Meshing;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Engine.Tiff;
using PrecomputedTools.Engine.Volumes;

namespace PrecomputedTools.Engine.Stages;

/// <summary>
/// What a process brings to the execution of a plan: its own credentials and connections (a plan
/// never holds secrets), what it already has open, and how hard to work.
/// </summary>
public sealed class StageContext
{
    /// <summary>This process's store settings (credentials, endpoint): they win over the plan's public settings.</summary>
    public StoreOptions? StoreOptions { get; set; }

    /// <summary>The destination, already open; otherwise opened from the plan.</summary>
    public DatasetStore? Store { get; set; }

    /// <summary>The source volume, already open; otherwise opened from the plan's source.</summary>
    public IVolumeReader? SourceReader { get; set; }

    /// <summary>The source dataset of a copy, already open; otherwise opened from the plan's source.</summary>
    public DatasetStore? SourceStore { get; set; }

    /// <summary>Opens source kinds this module does not know (a test's synthetic volume); null: not handled.</summary>
    public Func<VolumeSourceSpec, VolumeDescriptor?>? SourceResolver { get; set; }

    /// <summary>A token or config file for a BOSS source (else resolved from the environment for the plan's host).</summary>
    public BossConnectionRequest? Boss { get; set; }

    /// <summary>Skip the outputs already complete and valid (how a rerun or a requeued task is safe).</summary>
    public bool Resume { get; set; }

    /// <summary>Work done at once (chunks encoded, objects copied).</summary>
    public int ThrottleLimit { get; set; } = Environment.ProcessorCount;

    /// <summary>Upper bound for the source slab read at once by scale-0 tasks.</summary>
    public long SlabBudgetBytes { get; set; } = 192L << 20;

    /// <summary>Called (on a worker thread) as soon as a segment's manifest is stored.</summary>
    public Action<SegmentMeshRecord>? SegmentWritten { get; set; }

    /// <summary>Counts of what was done.</summary>
    public StageStatistics Statistics { get; } = new();
}

/// <summary>What an execution did.</summary>
public sealed class StageStatistics
{
    private long _copied;
    private long _skipped;
    private long _bytes;

    public long ObjectsCopied => Interlocked.Read(ref _copied);

    public long ObjectsSkipped => Interlocked.Read(ref _skipped);

    public long BytesCopied => Interlocked.Read(ref _bytes);

    /// <summary>The meshing counts (mesh plans).</summary>
    public MeshRunSummary? Mesh { get; internal set; }

    /// <summary>Manifests written (mesh plans).</summary>
    public int SegmentsWritten { get; internal set; }

    internal void Copied(long bytes)
    {
        Interlocked.Increment(ref _copied);
        Interlocked.Add(ref _bytes, bytes);
    }

    internal void Skipped() => Interlocked.Increment(ref _skipped);
}

/// <summary>
/// Runs a plan, or some of its tasks, in this process: phase by phase (a phase depends only on the
/// ones before it), the tasks of a phase in parallel. Everything it needs comes from the plan
/// (destination, source, settings) and the <see cref="StageContext"/> (credentials, open handles),
/// so a task run alone anywhere gives exactly its part of a full run.
/// </summary>
public static class StageExecutor
{
    public static async Task ExecuteAsync(StagePlan plan, StageContext context, IEnumerable<int>? taskIndices, OperationMonitor monitor, CancellationToken cancellationToken)
    {
        int[]? selected = taskIndices?.ToArray();
        foreach (int index in selected ?? Array.Empty<int>())
        {
            if (index < 0 || index >= plan.Tasks.Count)
            {
                throw new EngineException("TaskNotFound", EngineErrorKind.InvalidArgument, $"The plan has tasks 0..{plan.Tasks.Count - 1}; there is no task {index}.", index);
            }
        }

        var owned = new List<IDisposable>();
        try
        {
            DatasetStore store = context.Store ?? Own(owned, DatasetStore.Open(plan.Destination, DestinationOptions(plan, context), plan.Layout, plan.Gzip));
            bool Runs(string kind) => plan.Tasks.Any(t => t.Kind == kind && (selected is null || selected.Contains(t.Index)));
            switch (plan.Stage)
            {
                case "convert":
                case "downscale":
                {
                    IVolumeReader? reader = context.SourceReader;
                    if (reader is null && Runs(PlanTaskKinds.Encode))
                    {
                        VolumeDescriptor descriptor = await OpenSourceAsync(plan, context, owned, monitor, cancellationToken).ConfigureAwait(false);
                        reader = Own(owned, descriptor.OpenReader());
                    }

                    var options = new ChunkWriteOptions { Resume = context.Resume, ThrottleLimit = context.ThrottleLimit, SlabBudgetBytes = context.SlabBudgetBytes };
                    await ScaleWriter.ExecuteAsync(plan, store, reader, options, selected, monitor, cancellationToken).ConfigureAwait(false);
                    break;
                }

                case "mesh":
                    await MeshAsync(plan, store, context, selected, owned, monitor, cancellationToken).ConfigureAwait(false);
                    break;
                case "copy":
                    await CopyAsync(plan, store, context, selected, owned, monitor, cancellationToken).ConfigureAwait(false);
                    break;
                default:
                    throw new EngineException("InvalidPlan", EngineErrorKind.InvalidData, $"'{plan.Stage}' is not a stage this module runs.", plan.Destination);
            }
        }
        finally
        {
            for (int i = owned.Count - 1; i >= 0; i--)
            {
                owned[i].Dispose();
            }
        }
    }

    /// <summary>The store settings of the destination: this process's, filled from the plan.</summary>
    public static StoreOptions DestinationOptions(StagePlan plan, StageContext context) => StoreOptions.FromPublicJson(plan.DestinationStore, context.StoreOptions);

    /// <summary>Opens the volume a plan's source describes (a TIFF stack, a BOSS region, a dataset scale).</summary>
    public static Task<VolumeDescriptor> OpenSourceAsync(StagePlan plan, StageContext context, List<IDisposable> owned, OperationMonitor monitor, CancellationToken cancellationToken) =>
        plan.Source is { } spec
            ? OpenVolumeAsync(spec, context, owned, monitor, cancellationToken)
            : throw new EngineException("InvalidPlan", EngineErrorKind.InvalidData, $"The {plan.Stage} plan for {plan.Destination} records no source to read.", plan.Destination);

    /// <summary>Opens a volume from its spec; clients it creates are added to <paramref name="owned"/>.</summary>
    public static async Task<VolumeDescriptor> OpenVolumeAsync(VolumeSourceSpec spec, StageContext context, List<IDisposable> owned, OperationMonitor monitor, CancellationToken cancellationToken)
    {
        if (context.SourceResolver?.Invoke(spec) is { } resolved)
        {
            return resolved;
        }

        try
        {
            switch (spec.Kind)
            {
                case VolumeSourceSpec.TiffKind:
                    return TiffStackDescriptor.Open(spec.GetString("path") ?? throw new FormatException("a TIFF source needs \"path\""), spec.GetBool("swapXY"), spec.GetNumbers("resolution"), cancellationToken);
                case VolumeSourceSpec.BossKind:
                {
                    string baseUri = spec.GetString("baseUri") ?? throw new FormatException("a BOSS source needs \"baseUri\"");
                    var request = new BossConnectionRequest { BaseUri = new Uri(baseUri), Token = context.Boss?.Token, ConfigFile = context.Boss?.ConfigFile };
                    BossConnection connection = BossConnection.Resolve(request, monitor);
                    var client = Own(owned, new BossClient(connection, new BossClientOptions { ThrottleLimit = Math.Max(1, Math.Min(16, spec.GetInt("throttleLimit") ?? 4)) }, monitor));
                    return await BossVolumeDescriptor.CreateAsync(client, BossVolumeDescriptor.OptionsFromSpec(spec), cancellationToken).ConfigureAwait(false);
                }

                case VolumeSourceSpec.PrecomputedKind:
                {
                    string location = spec.GetString("location") ?? throw new FormatException("a precomputed source needs \"location\"");
                    StoreOptions options = StoreOptions.FromPublicJson(spec.Settings["store"] as System.Text.Json.Nodes.JsonObject, context.StoreOptions);
                    ChunkLayout layout = spec.GetString("layout") == "nested" ? ChunkLayout.Nested : ChunkLayout.Flat;
                    PrecomputedInfo info;
                    using (DatasetStore source = DatasetStore.Open(location, options, layout, gzip: true))
                    {
                        info = source.ReadInfo();
                    }

                    ScaleInfo scale = PrecomputedVolumeReader.FindScale(info, spec.GetString("scale"), location);
                    return new PrecomputedVolumeDescriptor(location, info, scale, options, layout);
                }

                default:
                    throw new FormatException($"'{spec.Kind}' is not a source kind this module reads (tiff, boss, precomputed)");
            }
        }
        catch (FormatException ex)
        {
            throw new EngineException("InvalidPlan", EngineErrorKind.InvalidData, "not a valid stage plan: " + ex.Message, spec.Kind, ex);
        }
    }

    // Parallel loops wrap failures; callers get the first one itself.
    private static Task ForEachAsync<T>(IEnumerable<T> items, int throttleLimit, Action<T> body, CancellationToken cancellationToken) => Task.Run(
        () =>
        {
            try
            {
                Parallel.ForEach(items, new ParallelOptions { CancellationToken = cancellationToken, MaxDegreeOfParallelism = Math.Max(1, throttleLimit) }, body);
            }
            catch (AggregateException ex) when (ex.InnerExceptions.Count > 0)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex.Flatten().InnerExceptions[0]).Throw();
            }
        },
        cancellationToken);

    private static T Own<T>(List<IDisposable> owned, T item)
        where T : IDisposable
    {
        owned.Add(item);
        return item;
    }

    private static IEnumerable<IGrouping<int, PlanTask>> Phases(StagePlan plan, int[]? selected) =>
        plan.Tasks.Where(t => selected is null || selected.Contains(t.Index)).GroupBy(t => t.Phase).OrderBy(g => g.Key);

    private static async Task MeshAsync(StagePlan plan, DatasetStore store, StageContext context, int[]? selected, List<IDisposable> owned, OperationMonitor monitor, CancellationToken cancellationToken)
    {
        MeshPlanSettings settings = plan.Mesh ?? throw new EngineException("InvalidPlan", EngineErrorKind.InvalidData, "The mesh plan has no mesh settings.", plan.Destination);
        var writer = new LegacyMeshWriter(store.Objects, settings.Directory, settings.VoxelOffset, settings.Parameters, settings.ColonFreeManifests) { ReadJournalOnDemand = context.Resume, MultiResolution = settings.ToMultiResolutionGrid() };
        IReadOnlyList<string> allChunks = plan.Tasks.Where(t => t.Kind == PlanTaskKinds.Mesh).Select(t => t.Chunks[0].Translate(settings.VoxelOffset).ToString()).ToList();
        foreach (IGrouping<int, PlanTask> phase in Phases(plan, selected))
        {
            List<PlanTask> tasks = phase.ToList();
            switch (tasks[0].Kind)
            {
                case PlanTaskKinds.Mesh:
                {
                    IVolumeReader reader;
                    if (settings.ScaleKey is { } key)
                    {
                        ScaleInfo scale = plan.Info.FindScale(key) ?? throw new EngineException("ScaleNotFound", EngineErrorKind.ObjectNotFound, $"The plan's info has no scale '{key}'.", key);
                        // Blocks are read once each; the cache only saves re-decoding the next block's
                        // border chunks (the one-voxel overlap), so it is kept small.
                        reader = Own(owned, new PrecomputedVolumeReader(store, plan.Info, scale, cacheLimitBytes: PrecomputedVolumeReader.MeshingCacheBytes));
                    }
                    else
                    {
                        reader = context.SourceReader ?? Own(owned, (await OpenSourceAsync(plan, context, owned, monitor, cancellationToken).ConfigureAwait(false)).OpenReader());
                    }

                    if (reader.Size != settings.VolumeSize)
                    {
                        throw new EngineException("InvalidVolumeGeometry", EngineErrorKind.InvalidArgument, $"The volume meshed is {reader.Size} voxels; the plan was made for {settings.VolumeSize}.", plan.Destination);
                    }

                    writer.BeginJournal();
                    SegmentMeshSettings meshSettings = settings.ToMeshSettings(context.ThrottleLimit);
                    context.Statistics.Mesh = await SegmentMesher.RunAsync(reader, meshSettings, writer, tasks.Select(t => t.Chunks[0]).ToList(), monitor, cancellationToken).ConfigureAwait(false);
                    break;
                }

                case PlanTaskKinds.Manifests:
                {
                    monitor.Phase = "Manifests";
                    int written = 0;
                    await ForEachAsync(
                        tasks,
                        context.ThrottleLimit,
                        task =>
                        {
                            int n = writer.WriteManifests(allChunks, task.Part, task.Parts, r => context.SegmentWritten?.Invoke(r), cancellationToken);
                            Interlocked.Add(ref written, n);
                        },
                        cancellationToken).ConfigureAwait(false);
                    context.Statistics.SegmentsWritten += written;
                    break;
                }

                case PlanTaskKinds.MeshFinish:
                    cancellationToken.ThrowIfCancellationRequested();
                    if (settings.WritesSegmentProperties)
                    {
                        LegacyMeshWriter.WriteSegmentProperties(store.Objects, StagePlanner.SegmentPropertiesDirectory, settings.SegmentNames ?? new Dictionary<ulong, string>(), settings.SegmentProperties);
                    }

                    writer.CompleteMeshFolder();
                    if (settings.UpdateInfo)
                    {
                        store.WriteInfo(plan.Info);
                    }

                    break;
                default:
                    throw new EngineException("InvalidPlan", EngineErrorKind.InvalidData, $"A mesh plan cannot hold {tasks[0].Kind} tasks.", plan.Destination);
            }

            store.Objects.Flush();
        }
    }

    private static async Task CopyAsync(StagePlan plan, DatasetStore destination, StageContext context, int[]? selected, List<IDisposable> owned, OperationMonitor monitor, CancellationToken cancellationToken)
    {
        DatasetStore? source = context.SourceStore;
        foreach (IGrouping<int, PlanTask> phase in Phases(plan, selected))
        {
            List<PlanTask> tasks = phase.ToList();
            if (tasks[0].Kind == PlanTaskKinds.Info)
            {
                cancellationToken.ThrowIfCancellationRequested();
                destination.CommitInfo(plan.Info);
                monitor.ReportDone(1, 0);
                continue;
            }

            if (tasks.Any(t => t.Kind is not (PlanTaskKinds.Copy or PlanTaskKinds.Shard)))
            {
                throw new EngineException("InvalidPlan", EngineErrorKind.InvalidData, $"A copy plan cannot hold {tasks.First(t => t.Kind is not (PlanTaskKinds.Copy or PlanTaskKinds.Shard)).Kind} tasks.", plan.Destination);
            }

            if (source is null)
            {
                VolumeSourceSpec spec = plan.Source ?? throw new EngineException("InvalidPlan", EngineErrorKind.InvalidData, "The copy plan records no source.", plan.Destination);
                string location = spec.GetString("location") ?? throw new EngineException("InvalidPlan", EngineErrorKind.InvalidData, "The copy plan's source has no location.", plan.Destination);
                source = Own(owned, DatasetStore.Open(location, StoreOptions.FromPublicJson(spec.Settings["store"] as System.Text.Json.Nodes.JsonObject, context.StoreOptions)));
            }

            DatasetStore reading = source;
            await WriteShardsAsync(plan, tasks.Where(t => t.Kind == PlanTaskKinds.Shard).ToList(), reading, destination, context, monitor, cancellationToken).ConfigureAwait(false);
            List<(PlanInput Input, string Output)> items = tasks.Where(t => t.Kind == PlanTaskKinds.Copy).SelectMany(t => t.Inputs.Zip(t.Outputs, (i, o) => (i, o))).ToList();
            monitor.AddWork(items.Count, items.Sum(i => Math.Max(0, i.Input.Length)));
            HashSet<string>? existing = null;
            if (context.Resume && destination.Objects.CanList)
            {
                // One listing instead of a request per object.
                existing = new HashSet<string>(destination.Objects.List("", cancellationToken).Select(o => o.Key), StringComparer.Ordinal);
            }

            DatasetStore from = source;
            await ForEachAsync(
                items,
                context.ThrottleLimit,
                item =>
                {
                    long length = Math.Max(0, item.Input.Length);
                    if (context.Resume && (existing?.Contains(item.Output) ?? destination.Objects.Stat(item.Output, cancellationToken) is not null))
                    {
                        context.Statistics.Skipped();
                        monitor.ReportDone(1, length);
                        return;
                    }

                    // A chunk inflates to at most what its info allows (a gzip bomb stops there with ObjectTooLarge).
                    int limit = DatasetValidator.LegalChunkLength(plan.Info, item.Input.Key) ?? int.MaxValue - 64;
                    using PooledBytes content = from.Objects.Read(item.Input.Key, limit, cancellationToken)
                        ?? throw new EngineException("SourceObjectMissing", EngineErrorKind.ObjectNotFound, $"{ObjectNames.Join(from.Location, item.Input.Key)} disappeared during the copy.", item.Input.Key);
                    destination.Objects.Write(item.Output, content.Span, item.Input.Gzip, cancellationToken);
                    context.Statistics.Copied(length);
                    monitor.ReportDone(1, length);
                },
                cancellationToken).ConfigureAwait(false);
            destination.Objects.Flush();
        }
    }

    // One shard per task: its chunks are read from the unsharded source (any layout, gzip or not),
    // assembled in memory from their encoded bytes (never voxels), and the shard file is written
    // whole in one write, so it appears complete or not at all. -Resume skips shards already there.
    private static async Task WriteShardsAsync(StagePlan plan, List<PlanTask> tasks, DatasetStore source, DatasetStore destination, StageContext context, OperationMonitor monitor, CancellationToken cancellationToken)
    {
        if (tasks.Count == 0)
        {
            return;
        }

        monitor.AddWork(tasks.Count, 0);
        await ForEachAsync(
            tasks,
            context.ThrottleLimit,
            task =>
            {
                ScaleInfo scale = plan.Info.Scales[task.Scale];
                string key = task.Outputs[0];
                if (context.Resume && destination.Objects.Stat(key, cancellationToken) is not null)
                {
                    context.Statistics.Skipped();
                    monitor.ReportDone(1, 0);
                    return;
                }

                ShardingSpec spec = ShardingSpec.FromJson(scale.Sharding!, plan.Destination);
                ScaleInfo unsharded = scale.Clone();
                unsharded.Sharding = null;
                var chunks = new List<KeyValuePair<ulong, byte[]>>(task.Chunks.Count);
                long bytes = 0;
                foreach (Box3 box in task.Chunks)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    using PooledBytes? encoded = source.ReadChunkPooled(plan.Info, unsharded, box);
                    if (encoded is not null)
                    {
                        chunks.Add(new KeyValuePair<ulong, byte[]>(DatasetStore.ShardedChunkId(scale, box), encoded.ToArray()));
                        bytes += encoded.Length;
                    }
                }

                if (chunks.Count > 0)
                {
                    destination.Objects.Write(key, ShardBuilder.Build(spec, chunks), gzip: false, cancellationToken);
                }

                context.Statistics.Copied(bytes);
                monitor.ReportDone(1, bytes);
            },
            cancellationToken).ConfigureAwait(false);
    }
}
