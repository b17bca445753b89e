using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using PrecomputedTools.Engine.Stages;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Meshing;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Engine.Volumes;
using PrecomputedTools.Synthetic;

namespace PrecomputedTools.Benchmarks;

/// <summary>
/// The whole pipeline at scale: the synthetic EM-like uint64 segmentation (2048×2048×depth, made on
/// demand by <see cref="SyntheticEmVolume"/>) to a local folder — scale 0 as compressed_segmentation,
/// every lower scale by majority, meshes of scale 0 — in a child process per depth, reporting wall
/// time, CPU time and peak RSS per step. Depths 64, 128 and 256 (the full gigavoxel) show whether
/// peak memory stays flat as the volume grows. <c>PT_SCALE_DEPTHS=64,128</c> chooses other depths.
/// </summary>
public sealed class ScaleBench : IBenchSection
{
    public const string ChildFlag = "--child-scale";
    private const double PeakTargetMb = 1500;

    public string Name => "scale";

    public string Description => "synthetic EM uint64 2048x2048xD (D=64,128,256: up to 1 Gvoxel) -> scale 0, all scales, meshes; wall, CPU, peak RSS in a child process";

    public void Run(BenchContext context)
    {
        string depthsText = Environment.GetEnvironmentVariable("PT_SCALE_DEPTHS") ?? "64,128,256";
        int[] depths = depthsText.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(d => int.Parse(d, CultureInfo.InvariantCulture)).ToArray();
        double? firstPeak = null;
        foreach (int depth in depths)
        {
            string output = Path.Combine(Path.GetTempPath(), "pt-bench", "scale-" + depth + "-" + Guid.NewGuid().ToString("N").Substring(0, 6));
            string text;
            try
            {
                text = BenchContext.RunSelf(ChildFlag, output, depth.ToString(CultureInfo.InvariantCulture), context.Threads.ToString(CultureInfo.InvariantCulture));
            }
            finally
            {
                try
                {
                    Directory.Delete(output, recursive: true);
                }
                catch (IOException)
                {
                    // Leftovers in the temp folder do not affect the numbers.
                }
                catch (UnauthorizedAccessException)
                {
                    // Likewise.
                }
            }

            // The child prints one line per step ("step wall cpu") and a last "peak <MB>" line.
            double voxels = 2048.0 * 2048 * depth;
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "  2048x2048x{0} ({1:F2} Gvoxel), {2} threads:", depth, voxels / (1 << 30), context.Threads));
            double peak = 0;
            foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                string[] p = line.Split(' ');
                if (p[0] == "peak")
                {
                    peak = double.Parse(p[1], CultureInfo.InvariantCulture);
                    continue;
                }

                double wall = double.Parse(p[1], CultureInfo.InvariantCulture), cpu = double.Parse(p[2], CultureInfo.InvariantCulture);
                Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "    {0,-26} wall {1,7:F2} s   CPU {2,7:F2} s   {3,7:F1} Mvox/s per CPU-second   {4}", p[0], wall, cpu, voxels / 1e6 / cpu, p.Length > 3 ? string.Join(' ', p.Skip(3)) : string.Empty));
            }

            firstPeak ??= peak;
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "    peak RSS {0,6:F0} MB ({1:F2}x target {2} MB); peak / first depth's = {3:F2}", peak, PeakTargetMb / peak, PeakTargetMb, peak / firstPeak.Value));
        }
    }

    /// <summary>Child process: generator alone, then the pipeline steps; prints "step wall cpu [notes]" lines and "peak MB".</summary>
    public static int RunChild(string[] args)
    {
        string output = args[1];
        int depth = int.Parse(args[2], CultureInfo.InvariantCulture);
        int threads = int.Parse(args[3], CultureInfo.InvariantCulture);
        SyntheticEmVolume volume = SyntheticEmVolume.Gigavoxel(depth);
        var lines = new List<string>();

        // The source's own cost (one thread), so it can be told apart from the pipeline's.
        Step(lines, "generate(1-thread)", () =>
        {
            var plane = new ulong[volume.Size.X * volume.Size.Y];
            for (int z = 0; z < volume.Size.Z; z++)
            {
                volume.Fill(new Box3(new Int3(0, 0, z), new Int3(volume.Size.X, volume.Size.Y, z + 1)), plane);
            }

            return volume.CellCount + " cells";
        });

        var info = new PrecomputedInfo { Type = "segmentation", DataType = VoxelType.UInt64, Mesh = "mesh" };
        info.Scales.AddRange(ScalePyramid.Generate(volume.Size, volume.Resolution!, Int3.Zero, 64, ChunkEncodings.CompressedSegmentation, null));
        using var store = new DatasetStore(new FolderStore(output));
        store.WriteInfo(info);
        var options = new ChunkWriteOptions { ThrottleLimit = threads };
        Step(lines, "scale0(incl.generate)", () =>
        {
            using IVolumeReader reader = volume.OpenReader();
            ScaleWriter.WriteFromVolumeAsync(reader, store, info, options, OperationMonitor.None, CancellationToken.None).GetAwaiter().GetResult();
            return string.Empty;
        });
        Step(lines, "all-scales(majority)", () =>
        {
            for (int i = 1; i < info.Scales.Count; i++)
            {
                ScaleWriter.DownscaleAsync(store, info, i, DownscaleMethod.Majority, options, OperationMonitor.None, CancellationToken.None).GetAwaiter().GetResult();
            }

            return (info.Scales.Count - 1) + " scales";
        });
        Step(lines, "meshes(scale0)", () =>
        {
            (MeshRunSummary summary, int segments) = BenchContext.MeshScale0(store, info, threads, "scale benchmark");
            return string.Format(CultureInfo.InvariantCulture, "{0} segments, {1:N0} -> {2:N0} triangles", segments, summary.TrianglesBeforeSimplification, summary.TrianglesWritten);
        });

        foreach (string line in lines)
        {
            Console.WriteLine(line);
        }

        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "peak {0:F1}", BenchContext.PeakResidentMegabytes()));
        return 0;
    }

    private static void Step(List<string> lines, string name, Func<string> run)
    {
        TimeSpan cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        string note = run();
        double wall = clock.Elapsed.TotalSeconds;
        double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
        lines.Add(string.Format(CultureInfo.InvariantCulture, "{0} {1:F3} {2:F3} {3}", name, wall, cpu, note).TrimEnd());
    }
}
