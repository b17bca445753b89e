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
        AnchorCosts? anchors = null;
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
            var steps = new Dictionary<string, (double Cpu, string Note)>();
            var scales = new List<Int3>();
            var gzip = new List<string[]>();
            foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                string[] p = line.Split(' ');
                if (p[0] == "peak")
                {
                    peak = double.Parse(p[1], CultureInfo.InvariantCulture);
                    continue;
                }

                if (p[0] == "gzip")
                {
                    gzip.Add(p);
                    continue;
                }

                if (p[0] == "scales")
                {
                    foreach (string size in p[1].Split(';'))
                    {
                        int[] xyz = size.Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture)).ToArray();
                        scales.Add(new Int3(xyz[0], xyz[1], xyz[2]));
                    }

                    continue;
                }

                double wall = double.Parse(p[1], CultureInfo.InvariantCulture), cpu = double.Parse(p[2], CultureInfo.InvariantCulture);
                steps[p[0]] = (cpu, string.Join(' ', p.Skip(3)));
                Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "    {0,-26} wall {1,7:F2} s   CPU {2,7:F2} s   {3,7:F1} Mvox/s per CPU-second   {4}", p[0], wall, cpu, voxels / 1e6 / cpu, p.Length > 3 ? string.Join(' ', p.Skip(3)) : string.Empty));
            }

            firstPeak ??= peak;
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "    peak RSS {0,6:F0} MB ({1:F2}x target {2} MB); peak / first depth's = {3:F2}", peak, PeakTargetMb / peak, PeakTargetMb, peak / firstPeak.Value));
            anchors ??= AnchorCosts.Measure(context);
            anchors?.Compare(steps, scales, gzip);
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

        double peak = BenchContext.PeakResidentMegabytes();

        // After the timed steps (and the peak taken): the encoded chunks of every scale as the pipeline
        // gzipped them, read back and inflated one at a time, gzipped again by us (one thread) and by
        // the system zlib (python3, a child process) at levels 6 and 9, and inflated by it: what the
        // anchors' pipelines (CloudVolume/CloudFiles gzip every chunk they write) spend on the same bytes.
        for (int i = 0; i < info.Scales.Count; i++)
        {
            lines.Add(GzipLine(store, info, i, Path.Combine(output, ".gzip-records-" + i.ToString(CultureInfo.InvariantCulture))));
        }

        foreach (string line in lines)
        {
            Console.WriteLine(line);
        }

        Console.WriteLine("scales " + string.Join(";", info.Scales.Select(sc => FormattableString.Invariant($"{sc.Size.X},{sc.Size.Y},{sc.Size.Z}"))));

        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "peak {0:F1}", peak));
        return 0;
    }

    // "gzip <scale> <chunks> <encoded bytes> <ours Optimal CPU> <ours gzip bytes> <zlib-6 CPU> <zlib-6 bytes> <zlib-6 inflate CPU> <zlib-9 CPU> <zlib-9 bytes> <zlib version>"
    private static string GzipLine(DatasetStore store, PrecomputedInfo info, int index, string records)
    {
        ScaleInfo scale = info.Scales[index];
        long encoded = 0, ours = 0;
        int count = 0;
        double oursCpu = 0;
        var buffer = new MemoryStream(1 << 20);
        using (FileStream file = File.Create(records))
        {
            foreach (Box3 box in StagePlanner.ChunksIn(scale, new Box3(Int3.Zero, scale.Size)))
            {
                using PooledBytes? chunk = store.ReadChunkPooled(info, scale, box);
                if (chunk is null)
                {
                    continue;
                }

                double t0 = ThreadCpu.Seconds();
                ours += GzipCost.Compress(buffer, chunk.Span, System.IO.Compression.CompressionLevel.Optimal);
                oursCpu += ThreadCpu.Seconds() - t0;
                GzipCost.WriteRecords(file, chunk.Span);
                encoded += chunk.Length;
                count++;
            }
        }

        Dictionary<int, (double Cpu, long Bytes, double InflateCpu)>? native = GzipCost.Native(records, "6,9", out string version);
        File.Delete(records);
        if (native is null)
        {
            return FormattableString.Invariant($"gzip {index} {count} {encoded} {oursCpu:F4} {ours} - - - - - none");
        }

        return FormattableString.Invariant($"gzip {index} {count} {encoded} {oursCpu:F4} {ours} {native[6].Cpu:F4} {native[6].Bytes} {native[6].InflateCpu:F4} {native[9].Cpu:F4} {native[9].Bytes} {version}");
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

    /// <summary>
    /// The native anchors' cost per voxel (and per triangle) for the pipeline's steps, measured on
    /// a 1406 × 621 × 138 cut of the same synthetic EM volume (the anchors' fixed input shape), so
    /// the data is EM-like for both sides: compressedseg's encode and decode of 64³ chunks,
    /// tinybrain's mode pooling, zmesh's marche and meshopt_simplify (to 1/10 at 2000 nm).
    /// </summary>
    private sealed class AnchorCosts
    {
        private double _encode, _decode, _mode221, _mode222, _marche, _simplifyPerTriangle;

        public static AnchorCosts? Measure(BenchContext context)
        {
            if (!NativeAnchors.Has("cseg_bench") || !NativeAnchors.Has("tinybrain_bench") || !NativeAnchors.Has("zmesh_bench"))
            {
                Console.WriteLine($"    (no native anchors at {NativeAnchors.Folder}: no ratio to their per-voxel costs; see README, 'Native anchors')");
                return null;
            }

            string raw = Path.Combine(Path.GetTempPath(), "pt-bench", "em-sample-1406x621x138.raw");
            Directory.CreateDirectory(Path.GetDirectoryName(raw)!);
            // Written plane by plane: the benchmark never holds the sample (964 MB) in memory.
            SyntheticEmVolume volume = SyntheticEmVolume.Gigavoxel(256);
            var plane = new ulong[1406 * 621];
            using (FileStream file = File.Create(raw))
            {
                for (int z = 0; z < 138; z++)
                {
                    volume.Fill(new Box3(new Int3(0, 0, z), new Int3(1406, 621, z + 1)), plane);
                    file.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(plane.AsSpan()));
                }
            }

            double seconds = context.Options.SecondsPerMeasurement;
            Dictionary<string, double> cseg = NativeAnchors.Run("cseg_bench", seconds, raw, out _);
            Dictionary<string, double> tiny = NativeAnchors.Run("tinybrain_bench", seconds, raw, out _);
            Dictionary<string, double> zmesh = NativeAnchors.Run("zmesh_bench", seconds, raw, out string zmeshText);
            var costs = new AnchorCosts
            {
                _encode = 1e-6 / cseg["encode 64x64x64 u64 (reused out vector) (Mvox/s per CPU-s)"],
                _decode = 1e-6 / cseg["decode 64x64x64 u64 (Mvox/s per CPU-s)"],
                _mode221 = 1e-6 / tiny["mode 2x2x1 on scale 0 (256x256x128 chunks) (Mvox/s per CPU-s)"],
                _mode222 = 1e-6 / tiny["mode 2x2x2 on scale 0 (256x256x128 chunks) (Mvox/s per CPU-s)"],
                _marche = 1e-6 / zmesh["marche whole volume, uint64 labels, preserve_order=1 (Mvox/s per CPU-s)"],
            };
            System.Text.RegularExpressions.Match m = System.Text.RegularExpressions.Regex.Match(zmeshText, @"max error 2000 nm, 1 thread: wall [\d.]+ s, CPU (?<cpu>[\d.]+) s, (?<before>\d+) ->");
            if (!m.Success)
            {
                throw new InvalidOperationException("zmesh_bench printed no meshopt_simplify line: " + zmeshText);
            }

            costs._simplifyPerTriangle = double.Parse(m.Groups["cpu"].Value, CultureInfo.InvariantCulture) / double.Parse(m.Groups["before"].Value, CultureInfo.InvariantCulture);
            Console.WriteLine(string.Format(
                CultureInfo.InvariantCulture,
                "    anchors on a 1406x621x138 cut of the EM volume (ns of CPU per voxel, one thread): compressedseg encode 64^3 {0:F2}, decode {1:F2}; tinybrain mode 2x2x1 {2:F2}, 2x2x2 {3:F2}; zmesh marche {4:F2}; meshopt_simplify {5:F1} ns per input triangle",
                costs._encode * 1e9,
                costs._decode * 1e9,
                costs._mode221 * 1e9,
                costs._mode222 * 1e9,
                costs._marche * 1e9,
                costs._simplifyPerTriangle * 1e9));
            return costs;
        }

        /// <summary>
        /// The anchors' CPU seconds for the steps the pipeline ran (scale 0: encode; each lower scale:
        /// decode its input, pool, encode; meshes: decode scale 0, marching cubes, simplification of
        /// the triangles the run produced) against the pipeline's CPU seconds for the same steps
        /// (the generator's own time taken out of scale 0). Ratio above 1: the module spent less.
        /// </summary>
        public void Compare(Dictionary<string, (double Cpu, string Note)> steps, List<Int3> scales, List<string[]> gzip)
        {
            double v0 = scales[0].Volume;
            double scale0 = v0 * _encode;
            double pyramid = 0;
            for (int i = 1; i < scales.Count; i++)
            {
                bool halvesZ = scales[i].Z < scales[i - 1].Z;
                pyramid += (scales[i - 1].Volume * (_decode + (halvesZ ? _mode222 : _mode221))) + (scales[i].Volume * _encode);
            }

            System.Text.RegularExpressions.Match m = System.Text.RegularExpressions.Regex.Match(steps["meshes(scale0)"].Note, @"(?<before>[\d,]+) -> ");
            double triangles = double.Parse(m.Groups["before"].Value.Replace(",", string.Empty, StringComparison.Ordinal), CultureInfo.InvariantCulture);
            double meshes = (v0 * (_decode + _marche)) + (triangles * _simplifyPerTriangle);
            double ours0 = steps["scale0(incl.generate)"].Cpu - steps["generate(1-thread)"].Cpu;
            double oursPyramid = steps["all-scales(majority)"].Cpu;
            double oursMeshes = steps["meshes(scale0)"].Cpu;
            Console.WriteLine("    vs the native anchors' summed CPU for the same steps (anchor CPU / ours; above 1.0: the module spent less):");
            Line("scale 0 (generator taken out)", scale0, ours0);
            Line("every lower scale", pyramid, oursPyramid);
            Line("meshes of scale 0", meshes, oursMeshes);
            Line("whole pipeline", scale0 + pyramid + meshes, ours0 + oursPyramid + oursMeshes);
            if (gzip.Count != scales.Count || gzip.Any(g => g[6] == "-"))
            {
                Console.WriteLine("    (no python3 or no chunks read back: no native gzip line)");
                return;
            }

            // Native gzip of the same encoded chunks: scale 0 compresses its chunks; each lower scale
            // inflates its source scale's chunks and compresses its own.
            static double At(string[] g, int i) => double.Parse(g[i], CultureInfo.InvariantCulture);
            double zip0 = At(gzip[0], 6), zip0Level9 = At(gzip[0], 9), oursZip0 = At(gzip[0], 4);
            double zipLower = 0, zipLowerLevel9 = 0, oursZipLower = 0;
            for (int i = 1; i < gzip.Count; i++)
            {
                zipLower += At(gzip[i], 6) + At(gzip[i - 1], 8);
                zipLowerLevel9 += At(gzip[i], 9) + At(gzip[i - 1], 8);
                oursZipLower += At(gzip[i], 4);
            }

            long encoded = gzip.Sum(g => long.Parse(g[3], CultureInfo.InvariantCulture));
            long native6 = gzip.Sum(g => long.Parse(g[7], CultureInfo.InvariantCulture)), ours6 = gzip.Sum(g => long.Parse(g[5], CultureInfo.InvariantCulture));
            Console.WriteLine(string.Format(
                CultureInfo.InvariantCulture,
                "    native gzip of the same encoded chunks ({0:N0} bytes in {1:N0} chunks; zlib {2} through python3, one thread): level 6 compress {3:F2} s scale 0, {4:F2} s lower scales incl. inflating their sources, {5:N0} bytes; ours (zlib-ng, Optimal) {6:F2} s + {7:F2} s (compress only), {8:N0} bytes",
                encoded,
                gzip.Sum(g => int.Parse(g[2], CultureInfo.InvariantCulture)),
                gzip[0][11],
                zip0,
                zipLower,
                native6,
                oursZip0,
                oursZipLower,
                ours6));
            Console.WriteLine("    anchors + native gzip (zlib level 6) against ours (which gzips too):");
            Line("scale 0 + gzip", scale0 + zip0, ours0);
            Line("every lower scale + gzip", pyramid + zipLower, oursPyramid);
            Line("whole pipeline + gzip", scale0 + zip0 + pyramid + zipLower + meshes, ours0 + oursPyramid + oursMeshes);
            Console.WriteLine("    anchors + native gzip at level 9 (CloudFiles' default level when none is given):");
            Line("scale 0 + gzip -9", scale0 + zip0Level9, ours0);
            Line("every lower scale + gzip -9", pyramid + zipLowerLevel9, oursPyramid);
        }

        private static void Line(string what, double anchor, double ours) =>
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "      {0,-30} anchors {1,8:F2} s   ours {2,8:F2} s   {3:F2}x{4}", what, anchor, ours, anchor / ours, anchor >= ours ? string.Empty : "  BELOW 1.0x"));
    }
}
