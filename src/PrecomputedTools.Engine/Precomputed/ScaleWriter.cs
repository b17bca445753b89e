using System;
using System.Buffers;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine.Codecs;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Engine.Volumes;

namespace PrecomputedTools.Engine.Precomputed;

/// <summary>How a lower scale is computed from the one above it.</summary>
public enum DownscaleMethod
{
    /// <summary>Mode of each block, ties to the smallest label (segmentation).</summary>
    Majority,

    /// <summary>Mean of each block (image data).</summary>
    Average,

    /// <summary>First voxel of each block (image data).</summary>
    Stride,
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
    /// Streams <paramref name="source"/> into scale 0 of the dataset. A row of chunks is produced
    /// together, a few z planes (one block layer) at a time, so memory holds one thin slab of the
    /// source plus one layer per chunk being encoded: it does not grow with the volume's depth or
    /// the chunk size.
    /// </summary>
    public static async Task WriteFromVolumeAsync(IVolumeReader source, DatasetStore directory, PrecomputedInfo info, ChunkWriteOptions options, OperationMonitor monitor, CancellationToken cancellationToken)
    {
        ScaleInfo scale = info.Scales[0];
        if (source.Size != scale.Size)
        {
            throw new EngineException("InvalidVolumeGeometry", EngineErrorKind.InvalidArgument, $"The volume is {source.Size} voxels but scale {scale.Key} of the info is {scale.Size}.", directory.Location);
        }

        Int3 grid = scale.GridSize;
        Int3 chunk = scale.ChunkSize;
        int sourceElement = VoxelTypes.SizeOf(source.DataType);
        int targetElement = VoxelTypes.SizeOf(info.DataType);

        // Planes per step: whole block layers, and whole source read units when those are thin (BOSS cuboids are 16 deep).
        int step = ChunkSink.PlaneStep(scale);
        int granularity = Math.Min(Math.Max(1, source.ReadGranularity.Z), 64);
        int planesPerStep = Int3.CeilDiv(Math.Max(step, granularity), step) * step;
        long bytesPerChunkStep = (long)chunk.X * Math.Min(chunk.Y, scale.Size.Y) * planesPerStep * Math.Max(sourceElement, targetElement);
        int chunksPerSlab = (int)Math.Max(1, Math.Min(grid.X, options.SlabBudgetBytes / Math.Max(1, bytesPerChunkStep)));
        monitor.AddWork(scale.ChunkCount, scale.Size.Volume * targetElement);
        monitor.Verbose($"Writing scale {scale.Key}: {scale.ChunkCount} chunks of {chunk} ({scale.Encoding}), {chunksPerSlab} chunk(s) side by side, {planesPerStep} planes at a time.");

        var parallel = new ParallelOptions { CancellationToken = cancellationToken, MaxDegreeOfParallelism = Math.Max(1, options.ThrottleLimit) };
        string context = "scale " + scale.Key;
        for (int gz = 0; gz < grid.Z; gz++)
        {
            for (int gy = 0; gy < grid.Y; gy++)
            {
                for (int gx0 = 0; gx0 < grid.X; gx0 += chunksPerSlab)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var pending = new List<Box3>();
                    for (int gx = gx0; gx < Math.Min(grid.X, gx0 + chunksPerSlab); gx++)
                    {
                        Box3 box = scale.ChunkBox(new Int3(gx, gy, gz));
                        if (options.Resume && IsChunkComplete(directory, info, scale, box))
                        {
                            monitor.ReportDone(1, box.VoxelCount * targetElement);
                        }
                        else
                        {
                            pending.Add(box);
                        }
                    }

                    if (pending.Count > 0)
                    {
                        await WriteChunkRowAsync(source, directory, info, scale, pending, planesPerStep, parallel, monitor, context, cancellationToken).ConfigureAwait(false);
                    }
                }
            }
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

        ScaleInfo source = info.Scales[targetIndex - 1];
        ScaleInfo target = info.Scales[targetIndex];
        Int3 factor = ScalePyramid.StepFactor(source, target);
        CheckGeometry(source, target, factor, directory.Location);
        if (method == DownscaleMethod.Majority && info.DataType == VoxelType.Float32)
        {
            throw new EngineException("InvalidDownscaleMethod", EngineErrorKind.InvalidArgument, "Majority downscaling needs integer labels; use -Method Average or Stride for float32 images.", directory.Location);
        }

        int element = VoxelTypes.SizeOf(info.DataType);
        monitor.AddWork(target.ChunkCount, target.Size.Volume * element);
        monitor.Phase = $"Scale {targetIndex} ({target.Key}) from {source.Key}, factor {factor}";
        monitor.Verbose($"Writing scale {target.Key} from {source.Key} ({method}, factor {factor}): {target.ChunkCount} chunks.");
        var parallel = new ParallelOptions { CancellationToken = cancellationToken, MaxDegreeOfParallelism = Math.Max(1, options.ThrottleLimit) };
        int missingSources = 0;
        return Task.Run(
            () =>
            {
                Parallel.ForEach(target.EnumerateChunks(), parallel, box =>
                {
                    if (!(options.Resume && IsChunkComplete(directory, info, target, box)))
                    {
                        Interlocked.Add(ref missingSources, WriteDownscaledChunk(directory, info, source, target, box, factor, method, cancellationToken));
                    }

                    monitor.ReportDone(1, box.VoxelCount * element);
                });
                if (missingSources > 0)
                {
                    monitor.Warning($"{missingSources} chunk(s) of scale {source.Key} were missing and read as 0 while computing {target.Key}.");
                }
            },
            cancellationToken);
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
