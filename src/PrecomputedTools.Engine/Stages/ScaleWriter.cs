using System;
using System.Buffers;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine.Codecs;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Engine.Volumes;

namespace PrecomputedTools.Engine.Stages;

/// <summary>How a lower scale is computed from the one above it.</summary>
public enum DownscaleMethod
{
    /// <summary>Mode of each block, ties to the smallest label (segmentation).</summary>
    Majority,

    /// <summary>Mean of each block (image data).</summary>
    Average,

    /// <summary>First voxel of each block (image data).</summary>
    Stride,

    /// <summary>Smallest value of each block (image data).</summary>
    Min,

    /// <summary>Largest value of each block (image data, e.g. sparse bright signal).</summary>
    Max,
}

/// <summary>Options shared by the chunk writers.</summary>
public sealed class ChunkWriteOptions
{
    /// <summary>Skip chunks that already exist and decode; write only the missing or damaged ones.</summary>
    public bool Resume { get; set; }

    /// <summary>Chunks encoded at once.</summary>
    public int ThrottleLimit { get; set; } = Environment.ProcessorCount;

    /// <summary>Upper bound for the source slab read at once (the rest of the memory is per chunk).</summary>
    public long SlabBudgetBytes { get; set; } = 192L << 20;
}

/// <summary>
/// Writes the chunks of a scale. Every chunk is an independent, idempotent task: it is written
/// atomically, and a resumed run skips the ones already complete, so work can stop and restart at
/// any point (or be spread over machines) without leaving a partial file.
/// </summary>
public static class ScaleWriter
{
    /// <summary>
    /// Streams <paramref name="source"/> into scale 0 of the dataset: plans the stage and runs every
    /// task (see <see cref="ExecuteAsync"/>).
    /// </summary>
    public static Task WriteFromVolumeAsync(IVolumeReader source, DatasetStore directory, PrecomputedInfo info, ChunkWriteOptions options, OperationMonitor monitor, CancellationToken cancellationToken)
    {
        StagePlan plan = StagePlanner.PlanConvert(info, directory.Location, directory.Layout, directory.Gzip, source.Size, source.ReadGranularity, source.DataType, options.SlabBudgetBytes);
        return ExecuteAsync(plan, directory, source, options, null, monitor, cancellationToken);
    }

    /// <summary>
    /// Runs the tasks of a plan (all, or those in <paramref name="taskIndices"/>), phase by phase.
    /// Scale-0 tasks each stream a row of chunks side by side a few z planes at a time (memory holds
    /// one thin slab of the source plus one layer per chunk being encoded, whatever the volume's
    /// depth or the chunk size) and run one after the other, as the source is read in order; the
    /// tasks of a lower scale run in parallel. With Resume, chunks already complete are skipped.
    /// A task run alone gives exactly its part of a full run.
    /// </summary>
    public static async Task ExecuteAsync(StagePlan plan, DatasetStore store, IVolumeReader? source, ChunkWriteOptions options, IEnumerable<int>? taskIndices, OperationMonitor monitor, CancellationToken cancellationToken)
    {
        using DatasetStore directory = store.With(plan.Layout, plan.Gzip);
        PrecomputedInfo info = plan.Info;
        HashSet<int>? selected = taskIndices is null ? null : new HashSet<int>(taskIndices);
        foreach (int index in selected ?? Enumerable.Empty<int>())
        {
            if (index < 0 || index >= plan.Tasks.Count)
            {
                throw new EngineException("TaskNotFound", EngineErrorKind.InvalidArgument, $"The plan has tasks 0..{plan.Tasks.Count - 1}; there is no task {index}.", index);
            }
        }

        var parallel = new ParallelOptions { CancellationToken = cancellationToken, MaxDegreeOfParallelism = Math.Max(1, options.ThrottleLimit) };
        int element = VoxelTypes.SizeOf(info.DataType);
        foreach (IGrouping<int, PlanTask> phase in plan.Tasks.Where(t => selected is null || selected.Contains(t.Index)).GroupBy(t => t.Phase).OrderBy(g => g.Key))
        {
            List<PlanTask> tasks = phase.ToList();
            if (tasks[0].Kind == PlanTaskKinds.Info)
            {
                // The info declares the dataset: written last, after every chunk is durable.
                cancellationToken.ThrowIfCancellationRequested();
                directory.CommitInfo(info);
                continue;
            }

            if (tasks[0].Kind is not (PlanTaskKinds.Encode or PlanTaskKinds.Downscale))
            {
                throw new EngineException("InvalidPlan", EngineErrorKind.InvalidData, $"A {plan.Stage} plan cannot hold {tasks[0].Kind} tasks.", directory.Location);
            }

            ScaleInfo scale = info.Scales[tasks[0].Scale];
            monitor.AddWork(tasks.Sum(t => t.Chunks.Count), tasks.Sum(t => t.Chunks.Sum(c => c.VoxelCount)) * element);
            if (tasks[0].Kind == PlanTaskKinds.Encode)
            {
                IVolumeReader reader = source ?? throw new ArgumentNullException(nameof(source), "Scale-0 tasks read the source volume.");
                if (reader.Size != scale.Size)
                {
                    throw new EngineException("InvalidVolumeGeometry", EngineErrorKind.InvalidArgument, $"The volume is {reader.Size} voxels but scale {scale.Key} of the info is {scale.Size}.", directory.Location);
                }

                int planesPerStep = StagePlanner.PlanesPerStep(scale, reader.ReadGranularity);
                monitor.Verbose($"Writing scale {scale.Key}: {tasks.Sum(t => t.Chunks.Count)} chunks of {scale.ChunkSize} ({scale.Encoding}) in {tasks.Count} task(s), {planesPerStep} planes at a time.");
                string context = "scale " + scale.Key;
                foreach (PlanTask task in tasks)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    if (scale.Sharding is not null)
                    {
                        await WriteShardFromVolumeAsync(reader, directory, info, scale, task, planesPerStep, options, parallel, monitor, context, cancellationToken).ConfigureAwait(false);
                        continue;
                    }

                    var pending = new List<Box3>();
                    foreach (Box3 box in task.Chunks)
                    {
                        if (options.Resume && directory.IsChunkComplete(info, scale, box))
                        {
                            monitor.ReportDone(1, box.VoxelCount * element);
                        }
                        else
                        {
                            pending.Add(box);
                        }
                    }

                    if (pending.Count > 0)
                    {
                        await WriteChunkRowAsync(reader, directory, info, scale, pending, planesPerStep, parallel, monitor, context, cancellationToken).ConfigureAwait(false);
                    }
                }
            }
            else
            {
                await RunDownscaleTasksAsync(directory, plan, tasks, options, parallel, monitor, cancellationToken).ConfigureAwait(false);
            }

            // A phase is complete (and its failures known) before the next one reads it.
            directory.Objects.Flush();
        }
    }

    // A shard task of scale 0: its chunks, row by row (runs of neighbours along x read together),
    // gathered as encoded bytes and written as one shard file. With -Resume a stored shard is skipped
    // whole: shards are written whole or not at all.
    private static async Task WriteShardFromVolumeAsync(IVolumeReader reader, DatasetStore directory, PrecomputedInfo info, ScaleInfo scale, PlanTask task, int planesPerStep, ChunkWriteOptions options, ParallelOptions parallel, OperationMonitor monitor, string context, CancellationToken cancellationToken)
    {
        int element = VoxelTypes.SizeOf(info.DataType);
        ulong shard = DatasetStore.ShardOf(scale, DatasetStore.ShardingOf(scale, directory.Location)!, task.Chunks[0]);
        if (options.Resume && directory.IsShardComplete(scale, shard))
        {
            monitor.ReportDone(task.Chunks.Count, task.Chunks.Sum(c => c.VoxelCount) * element);
            return;
        }

        using ShardAssembly assembly = directory.BeginShard(scale, shard);
        foreach (List<Box3> run in RunsAlongX(task.Chunks))
        {
            await WriteChunkRowAsync(reader, directory, info, scale, run, planesPerStep, parallel, monitor, context, cancellationToken).ConfigureAwait(false);
        }

        assembly.Commit(cancellationToken);
    }

    /// <summary>Chunks grouped into runs of x-neighbours with the same y and z (what one slab read covers).</summary>
    private static IEnumerable<List<Box3>> RunsAlongX(IEnumerable<Box3> chunks)
    {
        List<Box3>? run = null;
        foreach (Box3 box in chunks.OrderBy(c => c.Begin.Z).ThenBy(c => c.Begin.Y).ThenBy(c => c.Begin.X))
        {
            if (run is not null && (run[run.Count - 1].End.X != box.Begin.X || run[0].Begin.Y != box.Begin.Y || run[0].Begin.Z != box.Begin.Z))
            {
                yield return run;
                run = null;
            }

            (run ??= new List<Box3>()).Add(box);
        }

        if (run is not null)
        {
            yield return run;
        }
    }

    private static async Task WriteChunkRowAsync(IVolumeReader source, DatasetStore directory, PrecomputedInfo info, ScaleInfo scale, List<Box3> pending, int planesPerStep, ParallelOptions parallel, OperationMonitor monitor, string context, CancellationToken cancellationToken)
    {
        int sourceElement = VoxelTypes.SizeOf(source.DataType);
        int targetElement = VoxelTypes.SizeOf(info.DataType);
        Box3 first = pending[0];
        int xBegin = first.Begin.X, xEnd = pending[pending.Count - 1].End.X;
        int yBegin = first.Begin.Y, yEnd = first.End.Y;
        int slabWidth = xEnd - xBegin, slabHeight = yEnd - yBegin;
        int slabBytes = checked(slabWidth * slabHeight * planesPerStep * sourceElement);
        var sinks = new ChunkSink[pending.Count];
        byte[] slab = EngineBuffers.Bytes.Rent(slabBytes);
        try
        {
            for (int i = 0; i < sinks.Length; i++)
            {
                sinks[i] = new ChunkSink(directory, info, scale, pending[i]);
            }

            for (int z = first.Begin.Z; z < first.End.Z; z += planesPerStep)
            {
                int planes = Math.Min(planesPerStep, first.End.Z - z);
                var region = new Box3(new Int3(xBegin, yBegin, z), new Int3(xEnd, yEnd, z + planes));
                int regionBytes = checked((int)(region.VoxelCount * sourceElement));
                await source.ReadAsync(region, slab.AsMemory(0, regionBytes), cancellationToken).ConfigureAwait(false);
                Parallel.For(0, sinks.Length, parallel, i =>
                {
                    ChunkSink sink = sinks[i];
                    Box3 box = sink.Box;
                    int width = box.Size.X, height = box.Size.Y;
                    if (source.DataType == info.DataType && sink.CanAppendStrided)
                    {
                        // The encoder reads the chunk's rows where they lie in the slab: no copy.
                        long origin = ((long)(box.Begin.Y - yBegin) * slabWidth) + (box.Begin.X - xBegin);
                        sink.AppendStrided(slab.AsSpan(0, regionBytes), origin, slabWidth, (long)slabWidth * slabHeight, planes);
                        return;
                    }

                    int layerBytes = checked(width * height * planes * targetElement);
                    byte[] layer = EngineBuffers.Bytes.Rent(layerBytes);
                    try
                    {
                        int rowSource = width * sourceElement, rowTarget = width * targetElement;
                        for (int dz = 0; dz < planes; dz++)
                        {
                            for (int y = 0; y < height; y++)
                            {
                                long from = ((long)dz * slabHeight + (box.Begin.Y - yBegin + y)) * slabWidth + (box.Begin.X - xBegin);
                                VoxelConversion.Convert(
                                    slab.AsSpan((int)(from * sourceElement), rowSource),
                                    source.DataType,
                                    layer.AsSpan(((dz * height) + y) * rowTarget, rowTarget),
                                    info.DataType,
                                    context);
                            }
                        }

                        sink.Append(layer.AsSpan(0, layerBytes), planes);
                    }
                    finally
                    {
                        EngineBuffers.Bytes.Return(layer);
                    }
                });
            }

            Parallel.For(0, sinks.Length, parallel, i =>
            {
                sinks[i].Complete();
                monitor.ReportDone(1, sinks[i].Box.VoxelCount * targetElement);
            });
        }
        finally
        {
            foreach (ChunkSink? sink in sinks)
            {
                sink?.Dispose();
            }

            EngineBuffers.Bytes.Return(slab);
        }
    }

    /// <summary>
    /// Computes scale <paramref name="targetIndex"/> from the scale above it, output chunk by output
    /// chunk (in parallel), each one block layer at a time from the matching source planes.
    /// </summary>
    public static Task DownscaleAsync(DatasetStore directory, PrecomputedInfo info, int targetIndex, DownscaleMethod method, ChunkWriteOptions options, OperationMonitor monitor, CancellationToken cancellationToken)
    {
        if (targetIndex < 1 || targetIndex >= info.Scales.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(targetIndex));
        }

        StagePlan plan = StagePlanner.PlanDownscale(info, directory.Location, directory.Layout, directory.Gzip, new[] { targetIndex }, method);
        return ExecuteAsync(plan, directory, null, options, null, monitor, cancellationToken);
    }

    private static Task RunDownscaleTasksAsync(DatasetStore directory, StagePlan plan, List<PlanTask> tasks, ChunkWriteOptions options, ParallelOptions parallel, OperationMonitor monitor, CancellationToken cancellationToken)
    {
        PrecomputedInfo info = plan.Info;
        if (tasks.Any(t => t.ReadScale != t.Scale - 1))
        {
            return RunPyramidTasksAsync(directory, plan, tasks, options, parallel, monitor, cancellationToken);
        }

        int targetIndex = tasks[0].Scale;
        ScaleInfo source = info.Scales[targetIndex - 1];
        ScaleInfo target = info.Scales[targetIndex];
        Int3 factor = ScalePyramid.StepFactor(source, target);
        CheckGeometry(source, target, factor, directory.Location);
        DownscaleMethod method = plan.Method;
        RefuseMajorityOfFloats(method, info, directory.Location);

        int element = VoxelTypes.SizeOf(info.DataType);
        monitor.Phase = $"Scale {targetIndex} ({target.Key}) from {source.Key}, factor {factor}";
        monitor.Verbose($"Writing scale {target.Key} from {source.Key} ({method}, factor {factor}): {tasks.Count} chunks.");
        int missingSources = 0;
        return Task.Run(
            () =>
            {
                Parallel.ForEach(tasks, parallel, task =>
                {
                    if (target.Sharding is not null)
                    {
                        // A shard task: its chunks gathered and written as one shard file (skipped whole when stored).
                        ulong shard = DatasetStore.ShardOf(target, DatasetStore.ShardingOf(target, directory.Location)!, task.Chunks[0]);
                        if (!(options.Resume && directory.IsShardComplete(target, shard)))
                        {
                            using ShardAssembly assembly = directory.BeginShard(target, shard);
                            foreach (Box3 box in task.Chunks)
                            {
                                Interlocked.Add(ref missingSources, WriteDownscaledChunk(directory, info, source, target, box, factor, method, cancellationToken));
                            }

                            assembly.Commit(cancellationToken);
                        }

                        monitor.ReportDone(task.Chunks.Count, task.Chunks.Sum(c => c.VoxelCount) * element);
                        return;
                    }

                    foreach (Box3 box in task.Chunks)
                    {
                        if (!(options.Resume && directory.IsChunkComplete(info, target, box)))
                        {
                            Interlocked.Add(ref missingSources, WriteDownscaledChunk(directory, info, source, target, box, factor, method, cancellationToken));
                        }

                        monitor.ReportDone(1, box.VoxelCount * element);
                    }
                });
                if (missingSources > 0)
                {
                    monitor.Warning($"{missingSources} chunk(s) of scale {source.Key} were missing and read as 0 while computing {target.Key}.");
                }
            },
            cancellationToken);
    }

    // Rounds of several levels (StagePlanner.PlanDownscale): each task computes its region of the
    // round's first level from the scale above in one pass, keeps it in memory, and reduces it
    // level by level, writing every chunk of every level it owns.
    private static Task RunPyramidTasksAsync(DatasetStore directory, StagePlan plan, List<PlanTask> tasks, ChunkWriteOptions options, ParallelOptions parallel, OperationMonitor monitor, CancellationToken cancellationToken)
    {
        PrecomputedInfo info = plan.Info;
        DownscaleMethod method = plan.Method;
        RefuseMajorityOfFloats(method, info, directory.Location);

        int first = tasks.Min(t => t.ReadScale) + 1, last = tasks.Max(t => t.Scale);
        for (int level = first; level <= last; level++)
        {
            CheckGeometry(info.Scales[level - 1], info.Scales[level], ScalePyramid.StepFactor(info.Scales[level - 1], info.Scales[level]), directory.Location);
        }

        int element = VoxelTypes.SizeOf(info.DataType);
        monitor.Phase = $"Scales {info.Scales[first].Key}..{info.Scales[last].Key} from {info.Scales[first - 1].Key}";
        monitor.Verbose($"Writing scales {info.Scales[first].Key} to {info.Scales[last].Key} from {info.Scales[first - 1].Key} ({method}) in one pass: {tasks.Count} task(s).");
        int missingSources = 0;
        return Task.Run(
            () =>
            {
                Parallel.ForEach(tasks, parallel, task =>
                {
                    // With resume, a task whose chunks are all complete is skipped whole.
                    bool done = options.Resume;
                    for (int level = task.ReadScale + 1; done && level <= task.Scale; level++)
                    {
                        ScaleInfo scale = info.Scales[level];
                        done = StagePlanner.ChunksIn(scale, StagePlanner.RegionAt(info, level, task.Scale, task.Chunks[0])).All(box => directory.IsChunkComplete(info, scale, box));
                    }

                    if (!done)
                    {
                        Interlocked.Add(ref missingSources, WritePyramid(directory, info, task, method, cancellationToken));
                    }

                    monitor.ReportDone(1, task.Chunks[0].VoxelCount * element);
                });
                if (missingSources > 0)
                {
                    monitor.Warning($"{missingSources} chunk(s) of scale {info.Scales[first - 1].Key} were missing and read as 0 while computing the scales below it.");
                }
            },
            cancellationToken);
    }

    private static int WritePyramid(DatasetStore directory, PrecomputedInfo info, PlanTask task, DownscaleMethod method, CancellationToken cancellationToken)
    {
        int element = VoxelTypes.SizeOf(info.DataType);
        int first = task.ReadScale + 1, last = task.Scale;
        ScaleInfo source = info.Scales[first - 1];
        ScaleInfo level = info.Scales[first];
        Int3 factor = ScalePyramid.StepFactor(source, level);
        Box3 region = StagePlanner.RegionAt(info, first, last, task.Chunks[0]);
        Int3 shape = region.Size;
        byte[] current = EngineBuffers.Bytes.Rent(checked((int)(shape.Volume * element)));
        int missing;
        try
        {
            // The first level, a few planes at a time from the encoded chunks of the scale above.
            var sourceRegion = new Box3(region.Begin * factor, Int3.Min(region.End * factor, source.Size));
            using (var planes = new SourcePlanes(directory, info, source, sourceRegion))
            {
                int step = ChunkSink.PlaneStep(level);
                Int3 sourceSize = sourceRegion.Size;
                byte[] sourceBuffer = EngineBuffers.Bytes.Rent(checked(sourceSize.X * sourceSize.Y * step * factor.Z * element));
                try
                {
                    int plane = shape.X * shape.Y * element;
                    for (int z = 0; z < shape.Z; z += step)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        int outPlanes = Math.Min(step, shape.Z - z);
                        int zBegin = (region.Begin.Z + z) * factor.Z;
                        int zEnd = Math.Min((region.Begin.Z + z + outPlanes) * factor.Z, source.Size.Z);
                        var sourceShape = new Int3(sourceSize.X, sourceSize.Y, zEnd - zBegin);
                        Span<byte> sourceVoxels = sourceBuffer.AsSpan(0, checked((int)(sourceShape.Volume * element)));
                        planes.Read(zBegin, zEnd, sourceVoxels);
                        Reduce(sourceVoxels, info.DataType, sourceShape, factor, method, current.AsSpan(z * plane, outPlanes * plane));
                    }
                }
                finally
                {
                    EngineBuffers.Bytes.Return(sourceBuffer);
                }

                missing = planes.MissingChunks;
            }

            WriteRegion(directory, info, level, region, current, cancellationToken);

            // Each next level from the one in memory: the same aligned blocks the stored chunks would give.
            for (int next = first + 1; next <= last; next++)
            {
                ScaleInfo scale = info.Scales[next];
                Box3 nextRegion = StagePlanner.RegionAt(info, next, last, task.Chunks[0]);
                byte[] reduced = EngineBuffers.Bytes.Rent(checked((int)(nextRegion.Size.Volume * element)));
                Reduce(current.AsSpan(0, checked((int)(shape.Volume * element))), info.DataType, shape, ScalePyramid.StepFactor(info.Scales[next - 1], scale), method, reduced.AsSpan(0, checked((int)(nextRegion.Size.Volume * element))));
                EngineBuffers.Bytes.Return(current);
                current = reduced;
                shape = nextRegion.Size;
                WriteRegion(directory, info, scale, nextRegion, current, cancellationToken);
            }
        }
        finally
        {
            EngineBuffers.Bytes.Return(current);
        }

        return missing;
    }

    // Encodes every chunk of a chunk-aligned region held in memory (x fastest, then y, then z).
    private static void WriteRegion(DatasetStore directory, PrecomputedInfo info, ScaleInfo scale, Box3 region, byte[] voxels, CancellationToken cancellationToken)
    {
        int element = VoxelTypes.SizeOf(info.DataType);
        Int3 shape = region.Size;
        int step = ChunkSink.PlaneStep(scale);
        Int3 chunk = scale.ChunkSize;
        byte[] slab = EngineBuffers.Bytes.Rent(checked(chunk.X * chunk.Y * step * element));
        try
        {
            foreach (Box3 box in StagePlanner.ChunksIn(scale, region))
            {
                cancellationToken.ThrowIfCancellationRequested();
                Int3 size = box.Size;
                Int3 at = box.Begin - region.Begin;
                int row = size.X * element;
                using var sink = new ChunkSink(directory, info, scale, box);
                for (int z = 0; z < size.Z; z += step)
                {
                    int planes = Math.Min(step, size.Z - z);
                    for (int p = 0; p < planes; p++)
                    {
                        for (int y = 0; y < size.Y; y++)
                        {
                            long from = ((((long)(at.Z + z + p) * shape.Y) + at.Y + y) * shape.X + at.X) * element;
                            Buffer.BlockCopy(voxels, checked((int)from), slab, ((p * size.Y) + y) * row, row);
                        }
                    }

                    sink.Append(slab.AsSpan(0, planes * size.Y * row), planes);
                }

                sink.Complete();
            }
        }
        finally
        {
            EngineBuffers.Bytes.Return(slab);
        }
    }

    private static void RefuseMajorityOfFloats(DownscaleMethod method, PrecomputedInfo info, string location)
    {
        if (method == DownscaleMethod.Majority && info.DataType == VoxelType.Float32)
        {
            throw new EngineException("InvalidDownscaleMethod", EngineErrorKind.InvalidArgument, "Majority downscaling needs integer labels; use -Method Average or Stride for float32 images.", location);
        }
    }

    private static void CheckGeometry(ScaleInfo source, ScaleInfo target, Int3 factor, string datasetPath)
    {
        for (int d = 0; d < 3; d++)
        {
            if ((long)target.VoxelOffset[d] * factor[d] != source.VoxelOffset[d])
            {
                throw new EngineException(
                    "UnalignedVoxelOffset",
                    EngineErrorKind.InvalidArgument,
                    $"Scale {target.Key} has voxel offset {target.VoxelOffset} but scale {source.Key} has {source.VoxelOffset}: on every axis the finer offset must be the coarser one times the factor {factor}. Use a scale-0 offset divisible by the largest cumulative factor, or 0.",
                    datasetPath);
            }

            if (target.Size[d] != Int3.CeilDiv(source.Size[d], factor[d]))
            {
                throw new EngineException("InvalidVolumeGeometry", EngineErrorKind.InvalidData, $"Scale {target.Key} is {target.Size} voxels; {source.Key} ({source.Size}) downscaled by {factor} gives {Int3.CeilDiv(source.Size, factor)}.", datasetPath);
            }
        }
    }

    // Output planes are produced one block layer at a time from the source planes they cover;
    // majority blocks start on multiples of the factor, so they never straddle two steps.
    private static int WriteDownscaledChunk(DatasetStore directory, PrecomputedInfo info, ScaleInfo source, ScaleInfo target, Box3 box, Int3 factor, DownscaleMethod method, CancellationToken cancellationToken)
    {
        int element = VoxelTypes.SizeOf(info.DataType);
        Int3 shape = box.Size;
        var sourceRegion = new Box3(box.Begin * factor, Int3.Min(box.End * factor, source.Size));
        using var planes = new SourcePlanes(directory, info, source, sourceRegion);
        int step = ChunkSink.PlaneStep(target);
        Int3 regionSize = sourceRegion.Size;
        int sourceStepBytes = checked(regionSize.X * regionSize.Y * step * factor.Z * element);
        int outputStepBytes = checked(shape.X * shape.Y * step * element);
        byte[] sourceBuffer = EngineBuffers.Bytes.Rent(sourceStepBytes);
        byte[] outputBuffer = EngineBuffers.Bytes.Rent(outputStepBytes);
        using var sink = new ChunkSink(directory, info, target, box);
        try
        {
            for (int z = 0; z < shape.Z; z += step)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int outPlanes = Math.Min(step, shape.Z - z);
                int zBegin = (box.Begin.Z + z) * factor.Z;
                int zEnd = Math.Min((box.Begin.Z + z + outPlanes) * factor.Z, source.Size.Z);
                var sourceShape = new Int3(regionSize.X, regionSize.Y, zEnd - zBegin);
                Span<byte> sourceVoxels = sourceBuffer.AsSpan(0, checked((int)(sourceShape.Volume * element)));
                Span<byte> output = outputBuffer.AsSpan(0, shape.X * shape.Y * outPlanes * element);
                planes.Read(zBegin, zEnd, sourceVoxels);
                Reduce(sourceVoxels, info.DataType, sourceShape, factor, method, output);
                sink.Append(output, outPlanes);
            }

            sink.Complete();
            return planes.MissingChunks;
        }
        finally
        {
            EngineBuffers.Bytes.Return(sourceBuffer);
            EngineBuffers.Bytes.Return(outputBuffer);
        }
    }

    /// <summary>Reduces one buffer by <paramref name="factor"/> with the chosen method, for any element type.</summary>
    public static void Reduce(ReadOnlySpan<byte> source, VoxelType type, Int3 sourceShape, Int3 factor, DownscaleMethod method, Span<byte> destination)
    {
        switch (method)
        {
            case DownscaleMethod.Average:
                Downsampling.Average(source, type, sourceShape, factor, destination);
                return;
            case DownscaleMethod.Stride:
                Downsampling.Stride(source, type, sourceShape, factor, destination);
                return;
            case DownscaleMethod.Min:
            case DownscaleMethod.Max:
                Downsampling.Extreme(source, type, sourceShape, factor, method == DownscaleMethod.Max, destination);
                return;
        }

        switch (type)
        {
            case VoxelType.UInt64:
                Downsampling.Majority(MemoryMarshal.Cast<byte, ulong>(source), sourceShape, factor, MemoryMarshal.Cast<byte, ulong>(destination));
                return;
            default:
                // Narrower labels: widen, reduce, narrow back (labels always fit again).
                long count = sourceShape.Volume;
                long reducedCount = Int3.CeilDiv(sourceShape, factor).Volume;
                ulong[] wide = EngineBuffers.Labels.Rent((int)count);
                ulong[] wideOut = EngineBuffers.Labels.Rent((int)reducedCount);
                try
                {
                    VoxelConversion.Convert(source, type, MemoryMarshal.AsBytes(wide.AsSpan(0, (int)count)), VoxelType.UInt64);
                    Downsampling.Majority(wide.AsSpan(0, (int)count), sourceShape, factor, wideOut.AsSpan(0, (int)reducedCount));
                    VoxelConversion.Convert(MemoryMarshal.AsBytes(wideOut.AsSpan(0, (int)reducedCount)), VoxelType.UInt64, destination, type);
                }
                finally
                {
                    EngineBuffers.Labels.Return(wide);
                    EngineBuffers.Labels.Return(wideOut);
                }

                return;
        }
    }

    /// <summary>True when the chunk exists and decodes to the right shape (checked a block layer at a time).</summary>
    public static bool IsChunkComplete(DatasetStore directory, PrecomputedInfo info, ScaleInfo scale, Box3 box) => directory.IsChunkComplete(info, scale, box);
}
