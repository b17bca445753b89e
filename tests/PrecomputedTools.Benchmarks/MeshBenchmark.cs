using System;
using System.Diagnostics;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Meshing;
using PrecomputedTools.Engine.Volumes;

namespace PrecomputedTools.Benchmarks;

/// <summary>
/// Meshing on the real Z-Brain labels: marching-cubes throughput per core, simplification time,
/// triangles before and after, and the whole volume meshed and simplified on 2 cores.
/// Threads: --threads (default all cores); the default simplification settings are measured, then
/// MaxError = one z voxel for comparison. Results are recorded in MeshBenchmark.results.md.
/// </summary>
public sealed class MeshBench : IBenchSection
{
    public string Name => "mesh";

    public string Description => "marching cubes Mvoxel/s per core, simplification time and triangles on Z-Brain, whole Z-Brain on N cores";

    public void Run(BenchContext context)
    {
        MeshBenchmark.RunAsync(context.ZBrain, context.Threads, 10, null).GetAwaiter().GetResult();
        MeshBenchmark.RunAsync(context.ZBrain, context.Threads, 10, 2000, simplifyOnly: true).GetAwaiter().GetResult();
    }
}

/// <summary>
/// Marching cubes alone on uint64 labels, side by side with zmesh (issue 15); its own section so
/// the kernel can be measured without the minutes the simplification runs take.
/// </summary>
public sealed class MarchingCubesBench : IBenchSection
{
    public string Name => "marching-cubes";

    public string Description => "marching cubes alone on the whole Z-Brain as uint64 labels, and zmesh's marche side by side";

    public void Run(BenchContext context) => MarchingCubesOnUInt64(context);

    /// <summary>
    /// Marching cubes alone, timed around it, on the whole Z-Brain volume as uint64 labels (one block,
    /// padded by one voxel so every surface is closed), and the compaction of the uint64 labels to
    /// the mesher's dense indices timed apart; side by side with zmesh's marche on the same uint64
    /// volume (which leaves surfaces open at the volume's faces) when the anchors are built.
    /// </summary>
    private static void MarchingCubesOnUInt64(BenchContext context)
    {
        Int3 size = BenchContext.ZBrainSize;
        ulong[] volume = context.ZBrainChunks64(size)[0].Voxels;
        var worker = new SegmentMesher.ChunkWorker(null, new SegmentMeshSettings { Geometry = new MeshGeometry { Resolution = new double[] { 1, 1, 1 } }, Simplify = false });
        int[] block = Array.Empty<int>();
        int labels = 0;
        Int3 dims = default;
        Timing compaction = context.Time(() => (block, labels) = worker.CompactBlock(volume, size, Box3.FromSize(size), size, out _, out dims));
        var mesher = new LabelBlockMesher();
        long triangles = 0;
        Timing mc = context.Time(() =>
        {
            var surfaces = new LabelSurface?[labels];
            mesher.Run(block, dims.X, dims.Y, dims.Z, new Int3(-1, -1, -1), surfaces);
            triangles = 0;
            foreach (LabelSurface? surface in surfaces)
            {
                triangles += surface?.TriangleCount ?? 0;
                surface?.Release();
            }
        });
        double mvox = size.Volume / 1e6;
        context.Report("uint64 -> dense label indices (whole volume)", 1, compaction, mvox, "Mvox/s", 0);
        context.Report("marching cubes alone (whole volume, closed)", 1, mc, mvox, "Mvox/s", 0);
        Console.WriteLine($"    -> {triangles:N0} triangles, {labels - 1} labels");
        if (!NativeAnchors.Has("zmesh_bench"))
        {
            Console.WriteLine($"  (no native anchors at {NativeAnchors.Folder} / {NativeAnchors.ZBrainRaw}: see README, 'Native anchors')");
            return;
        }

        Console.WriteLine("  side by side with zmesh (marche, uint64 labels, preserve_order=1), one thread, 3 alternating runs:");
        const string Marche = "marche whole volume, uint64 labels, preserve_order=1 (Mvox/s)";
        double MarchingCubesSeconds() => context.Time(() =>
        {
            var surfaces = new LabelSurface?[labels];
            mesher.Run(block, dims.X, dims.Y, dims.Z, new Int3(-1, -1, -1), surfaces);
            foreach (LabelSurface? surface in surfaces)
            {
                surface?.Release();
            }
        }).Median;
        NativeAnchors.SideBySide(
            "zmesh_bench",
            "zmesh",
            context,
            new (string, string, Func<double>, double)[]
            {
                ("marching cubes alone", Marche, () => mvox / MarchingCubesSeconds(), 1.0),
                ("compaction + marching cubes", Marche, () => mvox / (MarchingCubesSeconds() + compaction.Median), 1.0),
            },
            "Mvox/s");
    }
}

internal static class MeshBenchmark
{
    public static async Task<int> RunAsync(byte[] labels, int threads, double reduction, double? maxError, bool simplifyOnly = false)
    {
        using var reader = new ByteVolumeReader(labels, BenchContext.ZBrainSize);
        var geometry = new MeshGeometry { Resolution = new double[] { 798, 798, 2000 } };

        var settings = new SegmentMeshSettings { Geometry = geometry, Simplify = true, ReductionFactor = reduction, MaxError = maxError, ThrottleLimit = threads };
        if (simplifyOnly)
        {
            return await MeshAndSimplify(reader, settings, threads, double.NaN).ConfigureAwait(false);
        }

        // 1. Marching cubes only, one thread (warm-up run first). The machine is shared, so CPU
        //    time (process total) is reported beside wall time; per-core rates use CPU time.
        var mcSettings = new SegmentMeshSettings { Geometry = geometry, Simplify = false, ThrottleLimit = 1 };
        await SegmentMesher.RunAsync(reader, mcSettings, new CountingSink(), OperationMonitor.None, CancellationToken.None);
        var sink = new CountingSink();
        var (mc, mcWall, mcCpu) = await Measure(() => SegmentMesher.RunAsync(reader, mcSettings, sink, OperationMonitor.None, CancellationToken.None));
        double voxels = mc.Voxels;
        double mcOnlyCpu = mcCpu * (mc.MarchingCubesSeconds / mcWall);
        Console.WriteLine($"marching cubes, 1 thread: {mc.Chunks} chunks, {voxels / 1e6:F1} Mvoxel, active (non-uniform) cells {mc.ActiveCells / 1e6:F2} M ({100.0 * mc.ActiveCells / voxels:F1} %)");
        Console.WriteLine($"  whole pass (read + label compaction + marching cubes): wall {mcWall:F2} s, CPU {mcCpu:F2} s = {voxels / 1e6 / mcCpu:F0} Mvoxel/s per core");
        Console.WriteLine($"  marching cubes alone ({100 * mc.MarchingCubesSeconds / mcWall:F0} % of the pass): ~{mcOnlyCpu:F2} CPU s = {voxels / 1e6 / mcOnlyCpu:F0} Mvoxel/s per core");
        Console.WriteLine($"  triangles {mc.TrianglesBeforeSimplification:N0}, segments {mc.SegmentsFound.Count}, fragments {sink.Fragments}");

        return await MeshAndSimplify(reader, settings, threads, voxels / 1e6 / mcOnlyCpu).ConfigureAwait(false);
    }

    /// <summary>2. The whole volume meshed and simplified on N threads.</summary>
    private static async Task<int> MeshAndSimplify(IVolumeReader reader, SegmentMeshSettings settings, int threads, double mcRate)
    {
        double reduction = settings.ReductionFactor;
        var simplifiedSink = new CountingSink();
        var (full, wall, cpu) = await Measure(() => SegmentMesher.RunAsync(reader, settings, simplifiedSink, OperationMonitor.None, CancellationToken.None));
        double share = full.SimplificationSeconds / (full.SimplificationSeconds + full.MarchingCubesSeconds);
        Console.WriteLine($"mesh + simplify, {threads} threads, reduction {reduction}, max error {settings.EffectiveMaxError.ToString(CultureInfo.InvariantCulture)} nm:");
        Console.WriteLine($"  wall {wall:F2} s, CPU {cpu:F2} s; on {threads} otherwise idle cores: ~{cpu / threads:F2} s");
        Console.WriteLine($"  simplification ~{cpu * share:F2} CPU s ({100 * share:F0} % of worker time)");
        Console.WriteLine($"  triangles {full.TrianglesBeforeSimplification:N0} -> {full.TrianglesWritten:N0} (1/{(double)full.TrianglesBeforeSimplification / Math.Max(1, full.TrianglesWritten):F1})");
        Console.WriteLine($"  targets: marching cubes >= 90 Mvoxel/s per core: {(double.IsNaN(mcRate) ? "(not measured)" : mcRate >= 90 ? "met" : "MISSED")}; <= 1/10 triangles in < 15 s on {threads} cores: {(full.TrianglesWritten * 10 <= full.TrianglesBeforeSimplification && cpu / threads < 15 ? "met" : "MISSED")}");
        return 0;
    }

    private static async Task<(MeshRunSummary Summary, double Wall, double Cpu)> Measure(Func<Task<MeshRunSummary>> run)
    {
        GC.Collect();
        var process = Process.GetCurrentProcess();
        TimeSpan cpu0 = process.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        MeshRunSummary summary = await run().ConfigureAwait(false);
        double wall = sw.Elapsed.TotalSeconds;
        process.Refresh();
        return (summary, wall, (process.TotalProcessorTime - cpu0).TotalSeconds);
    }

    private sealed class CountingSink : IMeshFragmentSink
    {
        public long Fragments;

        public bool IsChunkComplete(Box3 chunk) => false;

        public void AddFragment(ulong segmentId, Box3 chunk, MeshData mesh) => Interlocked.Increment(ref Fragments);

        public void ChunkCompleted(Box3 chunk)
        {
        }
    }

    internal sealed class ByteVolumeReader : IVolumeReader
    {
        private readonly byte[] _data;

        public ByteVolumeReader(byte[] data, Int3 size)
        {
            _data = data;
            Size = size;
        }

        public Int3 Size { get; }

        public VoxelType DataType => VoxelType.UInt8;

        public Int3 ReadGranularity => new(64, 64, 64);

        public Task ReadAsync(Box3 region, Memory<byte> destination, CancellationToken cancellationToken)
        {
            Int3 s = region.Size;
            Span<byte> dst = destination.Span;
            for (int z = 0; z < s.Z; z++)
            {
                for (int y = 0; y < s.Y; y++)
                {
                    long src = ((((long)(region.Begin.Z + z) * Size.Y) + region.Begin.Y + y) * Size.X) + region.Begin.X;
                    _data.AsSpan((int)src, s.X).CopyTo(dst.Slice(((z * s.Y) + y) * s.X));
                }
            }

            return Task.CompletedTask;
        }

        public void Dispose()
        {
        }
    }
}
