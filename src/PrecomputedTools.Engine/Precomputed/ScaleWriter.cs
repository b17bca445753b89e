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
    /// Streams <paramref name="source"/> into scale 0 of the dataset: slab by slab (one row of
    /// chunks, or part of one, at a time), chunks encoded in parallel.
    /// </summary>
    public static async Task WriteFromVolumeAsync(IVolumeReader source, DatasetDirectory directory, PrecomputedInfo info, ChunkWriteOptions options, OperationMonitor monitor, CancellationToken cancellationToken)
    {
        ScaleInfo scale = info.Scales[0];
        if (source.Size != scale.Size)
        {
            throw new EngineException("InvalidVolumeGeometry", EngineErrorKind.InvalidArgument, $"The volume is {source.Size} voxels but scale {scale.Key} of the info is {scale.Size}.", directory.RootPath);
        }

        Int3 grid = scale.GridSize;
        Int3 chunk = scale.ChunkSize;
        int sourceElement = VoxelTypes.SizeOf(source.DataType);
        int targetElement = VoxelTypes.SizeOf(info.DataType);
        long chunkSourceBytes = (long)chunk.X * Math.Min(chunk.Y, scale.Size.Y) * Math.Min(chunk.Z, scale.Size.Z) * sourceElement;
        int chunksPerSlab = (int)Math.Max(1, Math.Min(grid.X, options.SlabBudgetBytes / Math.Max(1, chunkSourceBytes)));
        monitor.AddWork(scale.ChunkCount, scale.Size.Volume * targetElement);
        monitor.Verbose($"Writing scale {scale.Key}: {scale.ChunkCount} chunks of {chunk} ({scale.Encoding}), slabs of up to {chunksPerSlab} chunks.");

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

                    if (pending.Count == 0)
                    {
                        continue;
                    }

                    var slab = new Box3(
                        new Int3(pending[0].Begin.X, pending[0].Begin.Y, pending[0].Begin.Z),
                        new Int3(pending[pending.Count - 1].End.X, pending[0].End.Y, pending[0].End.Z));
                    int slabBytes = checked((int)(slab.VoxelCount * sourceElement));
                    byte[] slabBuffer = ArrayPool<byte>.Shared.Rent(slabBytes);
                    try
                    {
                        await source.ReadAsync(slab, slabBuffer.AsMemory(0, slabBytes), cancellationToken).ConfigureAwait(false);
                        Parallel.ForEach(pending, parallel, box =>
                        {
                            WriteChunkFromSlab(directory, info, scale, box, slab, slabBuffer, source.DataType, context);
                            monitor.ReportDone(1, box.VoxelCount * targetElement);
                        });
                    }
                    finally
                    {
                        ArrayPool<byte>.Shared.Return(slabBuffer);
                    }
                }
            }
        }
    }

    private static void WriteChunkFromSlab(DatasetDirectory directory, PrecomputedInfo info, ScaleInfo scale, Box3 box, Box3 slab, byte[] slabBuffer, VoxelType sourceType, string context)
    {
        int sourceElement = VoxelTypes.SizeOf(sourceType);
        int targetElement = VoxelTypes.SizeOf(info.DataType);
        Int3 shape = box.Size;
        Int3 slabSize = slab.Size;
        int chunkBytes = checked((int)(shape.Volume * targetElement));
        byte[] chunkBuffer = ArrayPool<byte>.Shared.Rent(chunkBytes);
        try
        {
            Span<byte> voxels = chunkBuffer.AsSpan(0, chunkBytes);
            int rowSourceBytes = shape.X * sourceElement;
            int rowTargetBytes = shape.X * targetElement;
            for (int z = 0; z < shape.Z; z++)
            {
                for (int y = 0; y < shape.Y; y++)
                {
                    long sourceIndex = ((long)(box.Begin.Z - slab.Begin.Z + z) * slabSize.Y + (box.Begin.Y - slab.Begin.Y + y)) * slabSize.X + (box.Begin.X - slab.Begin.X);
                    ReadOnlySpan<byte> row = slabBuffer.AsSpan((int)(sourceIndex * sourceElement), rowSourceBytes);
                    VoxelConversion.Convert(row, sourceType, voxels.Slice(((z * shape.Y) + y) * rowTargetBytes, rowTargetBytes), info.DataType, context);
                }
            }

            byte[] encoded = ChunkCodec.Encode(info.DataType, scale, shape, voxels);
            directory.WriteChunk(scale, box, encoded);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunkBuffer);
        }
    }

    /// <summary>Computes scale <paramref name="targetIndex"/> from the scale above it, output chunk by output chunk.</summary>
    public static Task DownscaleAsync(DatasetDirectory directory, PrecomputedInfo info, int targetIndex, DownscaleMethod method, ChunkWriteOptions options, OperationMonitor monitor, CancellationToken cancellationToken)
    {
        if (targetIndex < 1 || targetIndex >= info.Scales.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(targetIndex));
        }

        ScaleInfo source = info.Scales[targetIndex - 1];
        ScaleInfo target = info.Scales[targetIndex];
        Int3 factor = ScalePyramid.StepFactor(source, target);
        CheckGeometry(source, target, factor, directory.RootPath);
        if (method == DownscaleMethod.Majority && info.DataType == VoxelType.Float32)
        {
            throw new EngineException("InvalidDownscaleMethod", EngineErrorKind.InvalidArgument, "Majority downscaling needs integer labels; use -Method Average or Stride for float32 images.", directory.RootPath);
        }

        int element = VoxelTypes.SizeOf(info.DataType);
        monitor.AddWork(target.ChunkCount, target.Size.Volume * element);
        monitor.Phase = $"Scale {targetIndex} ({target.Key}) from {source.Key}, factor {factor}";
        monitor.Verbose($"Writing scale {target.Key} from {source.Key} ({method}, factor {factor}): {target.ChunkCount} chunks.");
        var reader = new PrecomputedVolumeReader(directory, info, source, cacheLimitBytes: 0);
        var parallel = new ParallelOptions { CancellationToken = cancellationToken, MaxDegreeOfParallelism = Math.Max(1, options.ThrottleLimit) };
        int missingSources = 0;
        return Task.Run(
            () =>
            {
                Parallel.ForEach(target.EnumerateChunks(), parallel, box =>
                {
                    if (!(options.Resume && IsChunkComplete(directory, info, target, box)))
                    {
                        Interlocked.Add(ref missingSources, WriteDownscaledChunk(directory, info, reader, source, target, box, factor, method, cancellationToken));
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

            if (source.ChunkSize[d] % factor[d] != 0)
            {
                throw new EngineException("UnsupportedScaleFactor", EngineErrorKind.NotSupported, $"Scale {source.Key} has chunk size {source.ChunkSize}, not a multiple of the factor {factor}.", datasetPath);
            }
        }
    }

    // Each source chunk maps onto a whole-block-aligned part of the output chunk (blocks never
    // straddle source chunks), so chunks are decoded and reduced one at a time.
    private static int WriteDownscaledChunk(DatasetDirectory directory, PrecomputedInfo info, PrecomputedVolumeReader reader, ScaleInfo source, ScaleInfo target, Box3 box, Int3 factor, DownscaleMethod method, CancellationToken cancellationToken)
    {
        int element = VoxelTypes.SizeOf(info.DataType);
        Int3 shape = box.Size;
        int outputBytes = checked((int)(shape.Volume * element));
        byte[] output = ArrayPool<byte>.Shared.Rent(outputBytes);
        int missing = 0;
        try
        {
            var sourceRegion = new Box3(box.Begin * factor, Int3.Min(box.End * factor, source.Size));
            Int3 chunk = source.ChunkSize;
            for (int cz = sourceRegion.Begin.Z / chunk.Z; cz * chunk.Z < sourceRegion.End.Z; cz++)
            {
                for (int cy = sourceRegion.Begin.Y / chunk.Y; cy * chunk.Y < sourceRegion.End.Y; cy++)
                {
                    for (int cx = sourceRegion.Begin.X / chunk.X; cx * chunk.X < sourceRegion.End.X; cx++)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        Box3 sourceChunk = source.ChunkBox(new Int3(cx, cy, cz));
                        if (!ReduceSourceChunk(reader, sourceChunk, factor, method, info.DataType, box, output.AsSpan(0, outputBytes)))
                        {
                            missing++;
                        }
                    }
                }
            }

            byte[] encoded = ChunkCodec.Encode(info.DataType, target, shape, output.AsSpan(0, outputBytes));
            directory.WriteChunk(target, box, encoded);
            return missing;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(output);
        }
    }

    private static bool ReduceSourceChunk(PrecomputedVolumeReader reader, Box3 sourceChunk, Int3 factor, DownscaleMethod method, VoxelType type, Box3 outputBox, Span<byte> output)
    {
        int element = VoxelTypes.SizeOf(type);
        Int3 sourceShape = sourceChunk.Size;
        Int3 reducedShape = Int3.CeilDiv(sourceShape, factor);
        int sourceBytes = checked((int)(sourceShape.Volume * element));
        int reducedBytes = checked((int)(reducedShape.Volume * element));
        byte[] sourceBuffer = ArrayPool<byte>.Shared.Rent(sourceBytes);
        byte[] reducedBuffer = ArrayPool<byte>.Shared.Rent(reducedBytes);
        try
        {
            Span<byte> sourceVoxels = sourceBuffer.AsSpan(0, sourceBytes);
            Span<byte> reduced = reducedBuffer.AsSpan(0, reducedBytes);
            bool present = reader.ReadChunk(sourceChunk, sourceVoxels);
            Reduce(sourceVoxels, type, sourceShape, factor, method, reduced);

            // Place the reduced block into the output chunk (both in the target scale's local grid).
            Int3 reducedBegin = new(sourceChunk.Begin.X / factor.X, sourceChunk.Begin.Y / factor.Y, sourceChunk.Begin.Z / factor.Z);
            Box3 placed = new Box3(reducedBegin, reducedBegin + reducedShape).Intersect(outputBox);
            Int3 outputShape = outputBox.Size;
            int rowBytes = placed.Size.X * element;
            for (int z = placed.Begin.Z; z < placed.End.Z; z++)
            {
                for (int y = placed.Begin.Y; y < placed.End.Y; y++)
                {
                    long from = ((long)(z - reducedBegin.Z) * reducedShape.Y + (y - reducedBegin.Y)) * reducedShape.X + (placed.Begin.X - reducedBegin.X);
                    long to = ((long)(z - outputBox.Begin.Z) * outputShape.Y + (y - outputBox.Begin.Y)) * outputShape.X + (placed.Begin.X - outputBox.Begin.X);
                    reduced.Slice((int)(from * element), rowBytes).CopyTo(output.Slice((int)(to * element), rowBytes));
                }
            }

            return present;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(sourceBuffer);
            ArrayPool<byte>.Shared.Return(reducedBuffer);
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
                ulong[] wide = ArrayPool<ulong>.Shared.Rent((int)count);
                ulong[] wideOut = ArrayPool<ulong>.Shared.Rent((int)reducedCount);
                try
                {
                    VoxelConversion.Convert(source, type, MemoryMarshal.AsBytes(wide.AsSpan(0, (int)count)), VoxelType.UInt64);
                    Downsampling.Majority(wide.AsSpan(0, (int)count), sourceShape, factor, wideOut.AsSpan(0, (int)reducedCount));
                    VoxelConversion.Convert(MemoryMarshal.AsBytes(wideOut.AsSpan(0, (int)reducedCount)), VoxelType.UInt64, destination, type);
                }
                finally
                {
                    ArrayPool<ulong>.Shared.Return(wide);
                    ArrayPool<ulong>.Shared.Return(wideOut);
                }

                return;
        }
    }

    /// <summary>True when the chunk's file exists and decodes to the right shape.</summary>
    public static bool IsChunkComplete(DatasetDirectory directory, PrecomputedInfo info, ScaleInfo scale, Box3 box)
    {
        string? file = directory.FindChunkFile(scale, box);
        if (file is null)
        {
            return false;
        }

        try
        {
            byte[] encoded = DatasetDirectory.ReadMaybeGzip(file);
            byte[] voxels = ArrayPool<byte>.Shared.Rent(checked((int)(box.VoxelCount * VoxelTypes.SizeOf(info.DataType))));
            try
            {
                ChunkCodec.Decode(info.DataType, scale, box.Size, encoded, voxels.AsSpan(0, (int)(box.VoxelCount * VoxelTypes.SizeOf(info.DataType))), scale.ChunkName(box));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(voxels);
            }

            return true;
        }
        catch (Exception ex) when (ex is EngineException or System.IO.IOException or System.IO.InvalidDataException)
        {
            return false;
        }
    }
}
