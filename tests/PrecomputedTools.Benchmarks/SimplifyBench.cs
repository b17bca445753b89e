using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Meshing;

namespace PrecomputedTools.Benchmarks;

/// <summary>
/// Simplification side by side with meshoptimizer (issue 15): the whole Z-Brain meshed once
/// (uint64 labels, 798 × 798 × 2000 nm voxels, no chunk borders), then every mesh simplified to
/// 1/10 of its triangles at each absolute error bound by both simplifiers, one thread, alternating
/// runs; the reduction reached and the Hausdorff distance of each result to the unsimplified
/// surface, measured by the same code for both, since each side's own error figure means
/// something different (ours bounds the summed squared plane distances; meshopt's is its own
/// quadric metric).
/// </summary>
public sealed class SimplifyBench : IBenchSection
{
    private static readonly double[] Errors = { 1000, 2000, 4000 };

    public string Name => "simplify";

    public string Description => "whole-Z-Brain meshes simplified to 1/10 at 1000/2000/4000 nm: CPU time, reduction, Hausdorff distance; meshopt_simplify side by side";

    public void Run(BenchContext context)
    {
        Int3 size = BenchContext.ZBrainSize;
        ulong[] volume = context.ZBrainChunks64(size)[0].Voxels;
        var geometry = new MeshGeometry { Resolution = new double[] { 798, 798, 2000 } };
        MeshData[] meshes = SegmentMesher.MeshInMemory(volume, size, geometry).Values.ToArray();
        long before = meshes.Sum(m => (long)m.TriangleCount);
        Console.WriteLine($"  {meshes.Length} meshes, {before:N0} triangles (closed; marching cubes of the whole volume)");

        // The measure checked on a known answer: the largest mesh against itself moved 500 nm along z.
        MeshData largest = meshes.OrderByDescending(m => m.TriangleCount).First();
        double[] moved = (double[])largest.Positions.Clone();
        for (int i = 2; i < 3 * largest.VertexCount; i += 3)
        {
            moved[i] += 500;
        }

        (double check, _, _) = MeshDistance.Between(largest.Positions, largest.Indices, largest.TriangleCount, moved, largest.Indices, largest.TriangleCount);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  Hausdorff check: the largest mesh against itself moved 500 nm along z: {check:F1} nm (at most 500; less where a moved surface passes near the original)"));

        string? tool = MeshoptHarness(context);
        string folder = Path.Combine(Path.GetTempPath(), "pt-tests", "simplify-bench");
        Directory.CreateDirectory(folder);
        if (tool is not null)
        {
            WriteMeshes(Path.Combine(folder, "meshes.bin"), meshes);
        }
        else
        {
            Console.WriteLine($"  (no meshoptimizer harness: needs g++ and {AnchorSources(context) ?? "../shared/anchors/src/meshoptimizer"}; see README, 'Native anchors')");
        }

        var oursSeconds = Errors.Select(_ => new List<double>()).ToArray();
        var theirsSeconds = Errors.Select(_ => new List<double>()).ToArray();
        var results = new MeshData[Errors.Length][];
        var buffers = new MeshSimplifier.Buffers();
        for (int rep = 0; rep < 3; rep++)
        {
            if (tool is not null)
            {
                foreach ((double error, double cpu) in RunHarness(tool, folder))
                {
                    theirsSeconds[Array.IndexOf(Errors, error)].Add(cpu);
                }
            }

            for (int e = 0; e < Errors.Length; e++)
            {
                // Process CPU time over the whole set (it counts in 10 ms ticks), as the harness
                // measures meshoptimizer: other jobs on a shared machine stretch wall time, not this.
                // The copies of the results (about 1 % of it) are counted against us.
                var output = new MeshData[meshes.Length];
                using Process self = Process.GetCurrentProcess();
                TimeSpan cpu0 = self.TotalProcessorTime;
                for (int i = 0; i < meshes.Length; i++)
                {
                    output[i] = MeshSimplifier.Simplify(meshes[i], meshes[i].TriangleCount / 10, Errors[e], buffers).Copy();
                }

                self.Refresh();
                double seconds = (self.TotalProcessorTime - cpu0).TotalSeconds;

                oursSeconds[e].Add(seconds);
                results[e] = output;
            }
        }

        Console.WriteLine("  one thread, process CPU time, median of 3 alternating runs; Hausdorff: sampled both ways (vertices, edge midpoints, centroids), max over meshes; RMS over all samples");
        for (int e = 0; e < Errors.Length; e++)
        {
            double error = Errors[e];
            (double h, double rms, long after, int over) = Measure(meshes, results[e], error);
            double ours = Median(oursSeconds[e]);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  max error {error,5:F0} nm  ours     {ours,6:F2} s  {before:N0} -> {after:N0} (1/{(double)before / after:F1})  Hausdorff {h,6:F0} nm  RMS {rms,5:F0} nm  meshes over {error:F0} nm: {over}"));
            if (tool is null)
            {
                continue;
            }

            MeshData[] theirs = ReadMeshes(Path.Combine(folder, "out" + error.ToString(CultureInfo.InvariantCulture) + ".bin"));
            (double th, double trms, long tafter, int tover) = Measure(meshes, theirs, error);
            double theirsMedian = Median(theirsSeconds[e]);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"                    meshopt  {theirsMedian,6:F2} s  {before:N0} -> {tafter:N0} (1/{(double)before / tafter:F1})  Hausdorff {th,6:F0} nm  RMS {trms,5:F0} nm  meshes over {error:F0} nm: {tover}"));
            NativeAnchors.ReportRatios($"speed at {error:F0} nm (input triangles)", "meshopt", oursSeconds[e].Select(s => before / s / 1e3).ToList(), theirsSeconds[e].Select(s => before / s / 1e3).ToList(), "Ktri/s");
        }
    }

    /// <summary>Hausdorff distance (max over meshes), RMS over all samples, triangles after.</summary>
    private static (double Hausdorff, double Rms, long Triangles, int Over) Measure(MeshData[] original, MeshData[] simplified, double bound)
    {
        double max = 0, sum = 0;
        long samples = 0, triangles = 0;
        int over = 0;
        for (int i = 0; i < original.Length; i++)
        {
            MeshData a = original[i], b = simplified[i];
            (double h, double s, long n) = MeshDistance.Between(a.Positions, a.Indices, a.TriangleCount, b.Positions, b.Indices, b.TriangleCount);
            max = Math.Max(max, h);
            over += h > bound ? 1 : 0;
            sum += s;
            samples += n;
            triangles += b.TriangleCount;
        }

        return (max, Math.Sqrt(sum / Math.Max(1, samples)), triangles, over);
    }

    private static double Median(List<double> values) => values.OrderBy(v => v).ElementAt(values.Count / 2);

    /// <summary>meshoptimizer's sources in ../shared/anchors, found beside the shared data the context already located.</summary>
    private static string? AnchorSources(BenchContext context)
    {
        string src = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(context.SharedData))!, "anchors", "src", "meshoptimizer", "src");
        return Directory.Exists(src) ? src : null;
    }

    /// <summary>The harness binary (native/meshopt_meshes.cpp) in the anchors folder, built there on first use.</summary>
    private static string? MeshoptHarness(BenchContext context)
    {
        string binary = Path.Combine(NativeAnchors.Folder, "meshopt_meshes");
        if (File.Exists(binary))
        {
            return binary;
        }

        string? src = AnchorSources(context);
        string harness = Path.Combine(AppContext.BaseDirectory, "native", "meshopt_meshes.cpp");
        if (src is null || !File.Exists(harness))
        {
            return null;
        }

        Directory.CreateDirectory(NativeAnchors.Folder);
        var start = new ProcessStartInfo("g++") { RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in new[] { "-O3", "-march=native", "-std=c++17", "-I" + src, "-o", binary, harness }.Concat(Directory.GetFiles(src, "*.cpp")))
        {
            start.ArgumentList.Add(arg);
        }

        try
        {
            using Process build = Process.Start(start)!;
            build.StandardError.ReadToEnd();
            build.WaitForExit();
            return build.ExitCode == 0 ? binary : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // no g++
        }
    }

    private static IEnumerable<(double Error, double Cpu)> RunHarness(string tool, string folder)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(folder, "meshes.bin"));
        start.ArgumentList.Add(Path.Combine(folder, "out"));
        foreach (double e in Errors)
        {
            start.ArgumentList.Add(e.ToString(CultureInfo.InvariantCulture));
        }

        using Process run = Process.Start(start)!;
        string output = run.StandardOutput.ReadToEnd();
        run.WaitForExit();
        var lines = new List<(double, double)>();
        foreach (string line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] f = line.Split(' ');
            lines.Add((double.Parse(f[1], CultureInfo.InvariantCulture), double.Parse(f[3], CultureInfo.InvariantCulture)));
        }

        return lines.Count == Errors.Length ? lines : throw new InvalidOperationException($"{tool} printed: {output}");
    }

    private static void WriteMeshes(string path, MeshData[] meshes)
    {
        using var writer = new BinaryWriter(File.Create(path));
        writer.Write((uint)meshes.Length);
        foreach (MeshData m in meshes)
        {
            writer.Write((uint)m.VertexCount);
            writer.Write((uint)m.TriangleCount);
            for (int i = 0; i < 3 * m.VertexCount; i++)
            {
                writer.Write((float)m.Positions[i]);
            }

            for (int i = 0; i < 3 * m.TriangleCount; i++)
            {
                writer.Write((uint)m.Indices[i]);
            }
        }
    }

    private static MeshData[] ReadMeshes(string path)
    {
        using var reader = new BinaryReader(File.OpenRead(path));
        var meshes = new MeshData[reader.ReadUInt32()];
        for (int k = 0; k < meshes.Length; k++)
        {
            int nv = (int)reader.ReadUInt32(), nt = (int)reader.ReadUInt32();
            var positions = new double[3 * nv];
            var indices = new int[3 * nt];
            for (int i = 0; i < positions.Length; i++)
            {
                positions[i] = reader.ReadSingle();
            }

            for (int i = 0; i < indices.Length; i++)
            {
                indices[i] = (int)reader.ReadUInt32();
            }

            meshes[k] = new MeshData(positions, nv, indices, nt);
        }

        return meshes;
    }
}
