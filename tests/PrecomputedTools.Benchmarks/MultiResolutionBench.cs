using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Meshing;
using PrecomputedTools.Engine.Meshing.Draco;
using PrecomputedTools.Engine.Volumes;

namespace PrecomputedTools.Benchmarks;

/// <summary>
/// Multi-resolution meshes on Z-Brain against the legacy format (same marching cubes, same lod-0
/// simplification): meshing time end to end, files and bytes per segment; then our Draco encoder
/// against Debian's draco_encoder CLI on the same lod-0 meshes (one mesh of all lod-0 fragments, so
/// the CLI's own "ms to encode" is compared with ours, not process start-up), time and size.
/// </summary>
public sealed class MultiResolutionBench : IBenchSection
{
    public string Name => "multires";

    public string Description => "Z-Brain meshes legacy vs multi-resolution (time, files, bytes/segment); Draco encode Mtriangles/s and size vs draco_encoder";

    public void Run(BenchContext context)
    {
        string root = Path.Combine(Path.GetTempPath(), "pt-bench-multires-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (var reader = new MeshBenchmark.ByteVolumeReader(context.ZBrain, BenchContext.ZBrainSize))
            {
                Console.WriteLine("Z-Brain (1406 x 621 x 138, 119 regions, 798 x 798 x 2000 nm), 256-voxel meshing chunks:");
                Compare(context, reader, BenchContext.ZBrainSize, new double[] { 798, 798, 2000 }, new Int3(256, 256, 138), Path.Combine(root, "zbrain"));
            }

            EncoderComparison(Path.Combine(root, "zbrain", MeshFormat.MultiResolution.ToString(), "mesh"), root);

            // Many small, densely packed cells: what EM segmentations are like.
            var em = new Synthetic.SyntheticEmVolume(new Int3(512, 512, 128));
            using (IVolumeReader reader = em.OpenReader())
            {
                Console.WriteLine();
                Console.WriteLine("Synthetic EM-like segmentation (512 x 512 x 128, 8 x 8 x 40 nm), 128-voxel meshing chunks:");
                Compare(context, reader, em.Size, new double[] { 8, 8, 40 }, new Int3(128, 128, 128), Path.Combine(root, "em"));
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static void Compare(BenchContext context, IVolumeReader reader, Int3 size, double[] resolution, Int3 chunk, string root)
    {
        {
            var results = new Dictionary<MeshFormat, (double Seconds, long Files, long Bytes, int Segments)>();
            foreach (MeshFormat format in new[] { MeshFormat.Legacy, MeshFormat.MultiResolution })
            {
                var plan = new MeshPlanSettings
                {
                    VolumeSize = size,
                    ChunkSize = chunk,
                    Resolution = resolution,
                    Format = format,
                };
                string dataset = Path.Combine(root, format.ToString());
                var writer = new LegacyMeshWriter(dataset, "mesh", Int3.Zero, plan.Parameters) { MultiResolution = plan.ToMultiResolutionGrid() };
                writer.BeginJournal();
                var clock = Stopwatch.StartNew();
                SegmentMesher.RunAsync(reader, plan.ToMeshSettings(context.Threads), writer, plan.MeshingChunks().ToList(), OperationMonitor.None, CancellationToken.None).GetAwaiter().GetResult();
                IReadOnlyList<SegmentMeshRecord> records = writer.Finish();
                double seconds = clock.Elapsed.TotalSeconds;
                FileInfo[] files = new DirectoryInfo(Path.Combine(dataset, "mesh")).GetFiles().Where(f => f.Name != "info").ToArray();
                results[format] = (seconds, files.Length, files.Sum(f => f.Length), records.Count);
                Console.WriteLine(string.Format(
                    CultureInfo.InvariantCulture,
                    "{0,-16} {1,6:F1} s on {2} threads, {3} segments, {4,6} files, {5,8:F2} MB, {6,8:N0} bytes/segment{7}",
                    format,
                    seconds,
                    context.Threads,
                    records.Count,
                    files.Length,
                    files.Sum(f => f.Length) / 1e6,
                    files.Sum(f => f.Length) / (double)records.Count,
                    format == MeshFormat.MultiResolution ? $", lods per segment {records.Average(r => r.Lods):F1} (max {records.Max(r => r.Lods)})" : ""));
            }

            var (legacy, multi) = (results[MeshFormat.Legacy], results[MeshFormat.MultiResolution]);
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "multi-resolution / legacy: time {0:F2}, files {1:F3}, bytes {2:F2} (all lods)", multi.Seconds / legacy.Seconds, multi.Files / (double)legacy.Files, multi.Bytes / (double)legacy.Bytes));
        }
    }

    private static void EncoderComparison(string mesh, string root)
    {
        // Every lod-0 fragment, decoded back: the quantized positions our encoder was given.
        var positions = new List<int>();
        var indices = new List<int>();
        foreach (string index in Directory.EnumerateFiles(mesh, "*.index"))
        {
            MultiResolutionManifest manifest = MultiResolutionManifest.Parse(File.ReadAllBytes(index));
            byte[] data = File.ReadAllBytes(index.Substring(0, index.Length - 6));
            int offset = 0;
            foreach (uint size in manifest.Sizes[0])
            {
                DracoMeshContents m = DracoMeshReader.Read(data.AsSpan(offset, (int)size));
                offset += (int)size;
                int baseVertex = positions.Count / 3;
                positions.AddRange(m.Positions!);
                indices.AddRange(m.Indices!.Select(i => i + baseVertex));
            }
        }

        int[] p = positions.ToArray(), t = indices.ToArray();
        double triangles = t.Length / 3.0;
        byte[] ours = DracoMeshEncoder.Encode(p, t);
        int passes = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < 2 || passes < 3)
        {
            DracoMeshEncoder.Encode(p, t);
            passes++;
        }

        double oursMs = clock.Elapsed.TotalMilliseconds / passes;
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "lod-0 meshes of every segment as one mesh: {0:N0} vertices, {1:N0} triangles", p.Length / 3, triangles));
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "  ours (sequential, rANS, delta):    {0,8:F1} ms = {1,6:F1} Mtriangles/s, {2,10:N0} bytes ({3:F1} bytes/triangle)", oursMs, triangles / oursMs / 1e3, ours.Length, ours.Length / triangles));

        string ply = Path.Combine(root, "lod0.ply");
        using (var w = new StreamWriter(ply, false, new UTF8Encoding(false)))
        {
            w.Write($"ply\nformat ascii 1.0\nelement vertex {p.Length / 3}\nproperty int x\nproperty int y\nproperty int z\nelement face {t.Length / 3}\nproperty list uchar int vertex_indices\nend_header\n");
            for (int i = 0; i < p.Length; i += 3)
            {
                w.Write(string.Create(CultureInfo.InvariantCulture, $"{p[i]} {p[i + 1]} {p[i + 2]}\n"));
            }

            for (int i = 0; i < t.Length; i += 3)
            {
                w.Write(string.Create(CultureInfo.InvariantCulture, $"3 {t[i]} {t[i + 1]} {t[i + 2]}\n"));
            }
        }

        foreach (int level in new[] { 0, 7, 10 })
        {
            string drc = Path.Combine(root, $"lod0-cl{level}.drc");
            var psi = new ProcessStartInfo("draco_encoder", $"-i {ply} -o {drc} -qp 0 -cl {level}") { RedirectStandardOutput = true, RedirectStandardError = true };
            string output;
            try
            {
                using Process process = Process.Start(psi)!;
                output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
                process.WaitForExit();
            }
            catch (System.ComponentModel.Win32Exception)
            {
                Console.WriteLine("  draco_encoder not found (Debian package draco): no comparison");
                return;
            }

            Match ms = Regex.Match(output, @"\((\d+) ms to encode\)");
            long bytes = File.Exists(drc) ? new FileInfo(drc).Length : -1;
            double theirMs = ms.Success ? double.Parse(ms.Groups[1].Value, CultureInfo.InvariantCulture) : double.NaN;
            Console.WriteLine(string.Format(
                CultureInfo.InvariantCulture,
                "  draco_encoder -qp 0 -cl {0,-2}:       {1,8:F1} ms = {2,6:F1} Mtriangles/s, {3,10:N0} bytes ({4:F1} bytes/triangle); ours/theirs: speed {5:F1}x, size {6:F2}x",
                level,
                theirMs,
                triangles / theirMs / 1e3,
                bytes,
                bytes / triangles,
                theirMs / oursMs,
                ours.Length / (double)bytes));
        }
    }
}
