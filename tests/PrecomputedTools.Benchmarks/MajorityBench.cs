using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Codecs;

namespace PrecomputedTools.Benchmarks;

/// <summary>Majority downsampling throughput (Mvoxel of input per second) on Z-Brain chunks (uint64).</summary>
public sealed class MajorityBench : IBenchSection
{
    /// <summary>Per-core target for 2x2x2: a tuned C++ mode pooling on these machines.</summary>
    public const double TargetMvoxPerSecond = 900;

    public string Name => "majority";

    public string Description => "majority downsampling 2x2x1 and 2x2x2 (uint64 Z-Brain, 256x256x128 chunks)";

    public void Run(BenchContext context)
    {
        List<(Box3 Box, ulong[] Voxels)> scale0 = context.ZBrainChunks64(new Int3(256, 256, 128));
        long voxels = scale0.Sum(c => (long)c.Voxels.Length);

        // Memory-read baseline: summing the same uint64 input bounds what any pass over it can reach.
        ulong sink = 0;
        var t = context.Time(() =>
        {
            ulong sum = 0;
            foreach ((Box3 _, ulong[] v) in scale0)
            {
                foreach (ulong x in v)
                {
                    sum += x;
                }
            }

            sink += sum;
        });
        context.Report("baseline: read every input voxel (sum)", 1, t, voxels / 1e6, "Mvox/s", 0);
        GC.KeepAlive(sink);

        Measure(context, "2x2x1 on scale 0", scale0, new Int3(2, 2, 1), out List<(Box3, ulong[])> scale1);
        Measure(context, "2x2x2 on scale 0", scale0, new Int3(2, 2, 2), out _);
        Measure(context, "2x2x2 on scale 1 (2x2x1 output)", scale1, new Int3(2, 2, 2), out _);

        // Cache-resident pieces (256x256x8 slabs of the same data, 4 MiB): what a slab-wise pipeline sees.
        List<(Box3 Box, ulong[] Voxels)> slabs = context.ZBrainChunks64(new Int3(256, 256, 8));
        Measure(context, "2x2x1 on 256x256x8 slabs", slabs, new Int3(2, 2, 1), out _);
        Measure(context, "2x2x2 on 256x256x8 slabs", slabs, new Int3(2, 2, 2), out _);

        if (NativeAnchors.Has("tinybrain_bench"))
        {
            SideBySide(context, scale0, scale1.Select(c => (c.Item1, c.Item2)).ToList(), slabs);
        }
        else
        {
            Console.WriteLine($"  (no native anchors at {NativeAnchors.Folder} / {NativeAnchors.ZBrainRaw}: see README, 'Native anchors')");
        }
    }

    /// <summary>
    /// Our single-thread median against tinybrain's (accelerated.hpp, the same chunks), alternating
    /// anchor run and our run three times; the whole volume as one array too.
    /// </summary>
    private static void SideBySide(BenchContext context, List<(Box3 Box, ulong[] Voxels)> scale0, List<(Box3 Box, ulong[] Voxels)> scale1, List<(Box3 Box, ulong[] Voxels)> slabs)
    {
        var whole = new List<(Box3 Box, ulong[] Voxels)> { (Box3.FromSize(BenchContext.ZBrainSize), context.ZBrainChunks64(BenchContext.ZBrainSize)[0].Voxels) };
        var rows = new (string Ours, string Theirs, List<(Box3 Box, ulong[] Voxels)> Chunks, Int3 Factor)[]
        {
            ("2x2x1 on scale 0", "mode 2x2x1 on scale 0 (256x256x128 chunks)", scale0, new Int3(2, 2, 1)),
            ("2x2x2 on scale 0", "mode 2x2x2 on scale 0 (256x256x128 chunks)", scale0, new Int3(2, 2, 2)),
            ("2x2x2 on scale 1", "mode 2x2x2 on scale 1 (2x2x1 output)", scale1, new Int3(2, 2, 2)),
            ("2x2x1 on 256x256x8 slabs", "mode 2x2x1 on 256x256x8 slabs", slabs, new Int3(2, 2, 1)),
            ("2x2x2 on 256x256x8 slabs", "mode 2x2x2 on 256x256x8 slabs", slabs, new Int3(2, 2, 2)),
            ("2x2x2 whole volume", "mode 2x2x2 whole volume 1406x621x138", whole, new Int3(2, 2, 2)),
            ("2x2x1 whole volume", "mode 2x2x1 whole volume 1406x621x138", whole, new Int3(2, 2, 1)),
        };
        Console.WriteLine("  side by side with tinybrain, one thread, medians of 3 alternating runs:");
        NativeAnchors.SideBySide("tinybrain_bench", "tinybrain", context, rows.Select(row => ("majority " + row.Ours, row.Theirs + " (Mvox/s)", (Func<double>)(() =>
        {
            var chunks = row.Chunks;
            var outputs = chunks.Select(c => new ulong[Downsampling.OutputShape(c.Box.Size, row.Factor).Volume]).ToArray();
            Timing t = context.Time(() =>
            {
                for (int i = 0; i < chunks.Count; i++)
                {
                    Downsampling.Majority(chunks[i].Voxels, chunks[i].Box.Size, row.Factor, outputs[i]);
                }
            });
            return chunks.Sum(c => (long)c.Voxels.Length) / 1e6 / t.Median;
        }), 1.0)).ToList(), "Mvox/s");
    }

    private static void Measure(BenchContext context, string what, List<(Box3 Box, ulong[] Voxels)> chunks, Int3 factor, out List<(Box3, ulong[])> outputs)
    {
        long voxels = chunks.Sum(c => (long)c.Voxels.Length);
        outputs = chunks.Select(c =>
        {
            Int3 o = Downsampling.OutputShape(c.Box.Size, factor);
            return (new Box3(Int3.Zero, o), new ulong[o.Volume]);
        }).ToList();
        List<(Box3 Box, ulong[] Voxels)> dst = outputs;
        double target = factor.Z == 2 ? TargetMvoxPerSecond : 0;

        var t = context.Time(() =>
        {
            for (int i = 0; i < chunks.Count; i++)
            {
                Downsampling.Majority(chunks[i].Voxels, chunks[i].Box.Size, factor, dst[i].Voxels);
            }
        });
        context.Report($"majority {what}", 1, t, voxels / 1e6, "Mvox/s", target);

        var parallel = new ParallelOptions { MaxDegreeOfParallelism = context.Threads };
        t = context.Time(() => Parallel.For(0, chunks.Count, parallel, i => Downsampling.Majority(chunks[i].Voxels, chunks[i].Box.Size, factor, dst[i].Voxels)));
        context.Report($"majority {what}", context.Threads, t, voxels / 1e6, "Mvox/s", target);
    }
}
