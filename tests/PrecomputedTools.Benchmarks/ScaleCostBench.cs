using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Threading;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Codecs;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Stages;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Engine.Volumes;
using PrecomputedTools.Synthetic;

namespace PrecomputedTools.Benchmarks;

/// <summary>
/// Where the CPU of the scale section's volume steps goes: the engine's real path (ScaleWriter,
/// ChunkSink, DatasetStore) on the synthetic EM segmentation (2048×2048×D, D = PT_COST_DEPTH,
/// default 64) written to a folder with and without gzip, without fsync, and to an in-memory store
/// with and without gzip, in alternating rounds in one process; the generator alone; the
/// compressed_segmentation encoder and decoder alone on the chunks written; gzip per level.
/// </summary>
public sealed class ScaleCostBench : IBenchSection
{
    public string Name => "scale-cost";

    public string Description => "CPU breakdown of scale 0 and the lower scales: generator, encode, gzip, file writes, the rest (PT_COST_DEPTH, default 64; PT_COST_ROUNDS, default 2)";

    private sealed record Variant(string Name, bool Folder, bool Gzip, bool Durable);

    public void Run(BenchContext context)
    {
        int depth = int.Parse(Environment.GetEnvironmentVariable("PT_COST_DEPTH") ?? "64", CultureInfo.InvariantCulture);
        int rounds = int.Parse(Environment.GetEnvironmentVariable("PT_COST_ROUNDS") ?? "2", CultureInfo.InvariantCulture);
        if (Environment.GetEnvironmentVariable("PT_COST_COPY") == "1")
        {
            CopyOrStrided();
            return;
        }

        if (Environment.GetEnvironmentVariable("PT_COST_GEN") == "1")
        {
            // The generator as scale's "generate(1-thread)" calls it (whole planes) and as scale 0 reads it
            // (rows of chunks: 2048 x 64 x 8 regions), alternating, one thread.
            SyntheticEmVolume v = SyntheticEmVolume.Gigavoxel(int.Parse(Environment.GetEnvironmentVariable("PT_COST_DEPTH") ?? "64", CultureInfo.InvariantCulture));
            var buffer = new ulong[v.Size.X * v.Size.Y];
            for (int pass = 0; pass < 3; pass++)
            {
                double planes = ThreadCpuOf(() =>
                {
                    for (int z = 0; z < v.Size.Z; z++)
                    {
                        v.Fill(new Box3(new Int3(0, 0, z), new Int3(v.Size.X, v.Size.Y, z + 1)), buffer);
                    }
                });
                double slabs = ThreadCpuOf(() =>
                {
                    for (int z = 0; z < v.Size.Z; z += 8)
                    {
                        for (int y = 0; y < v.Size.Y; y += 64)
                        {
                            v.Fill(new Box3(new Int3(0, y, z), new Int3(v.Size.X, y + 64, z + 8)), buffer.AsSpan(0, v.Size.X * 64 * 8));
                        }
                    }
                });
                Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "  generator {0}: whole planes {1:F2} s, 2048x64x8 slabs {2:F2} s CPU ({3:F2}x)", v.Size, planes, slabs, slabs / planes));
            }

            return;
        }

        if (Environment.GetEnvironmentVariable("PT_COST_ZBRAIN") == "1")
        {
            GzipLevelsOnZBrain(context);
            return;
        }

        // PT_COST_HELD=1: a 1024x1024xD cut generated once and held (256 MB at D = 32), so the
        // source costs a copy instead of the generator, whose noise would hide small differences.
        bool held = Environment.GetEnvironmentVariable("PT_COST_HELD") == "1";
        SyntheticEmVolume volume = held ? new SyntheticEmVolume(new Int3(1024, 1024, depth)) : SyntheticEmVolume.Gigavoxel(depth);
        ulong[]? heldVoxels = null;
        if (held)
        {
            heldVoxels = new ulong[volume.Size.Volume];
            volume.Fill(new Box3(Int3.Zero, volume.Size), heldVoxels);
        }

        Func<IVolumeReader> open = () => heldVoxels is null ? volume.OpenReader() : new HeldReader(heldVoxels, volume.Size);
        var variants = new[]
        {
            new Variant("folder+gzip (real)", true, true, true),
            new Variant("folder+gzip, no fsync", true, true, false),
            new Variant("folder, no gzip", true, false, true),
            new Variant("memory+gzip", false, true, false),
            new Variant("memory, no gzip", false, false, false),
        };
        // PT_COST_VARIANTS=real,memory picks variants by the start of their names; PT_COST_EXTRAS=0 stops after them.
        if (Environment.GetEnvironmentVariable("PT_COST_VARIANTS") is { Length: > 0 } picked)
        {
            string[] starts = picked.Split(',', StringSplitOptions.RemoveEmptyEntries);
            variants = variants.Where(v => starts.Any(p => v.Name.StartsWith(p, StringComparison.Ordinal) || (p == "real" && v.Name.EndsWith("(real)", StringComparison.Ordinal)))).ToArray();
        }

        var scale0 = variants.ToDictionary(v => v.Name, _ => new List<double>());
        var lower = variants.ToDictionary(v => v.Name, _ => new List<double>());
        var alloc0 = variants.ToDictionary(v => v.Name, _ => 0L);
        var allocLower = variants.ToDictionary(v => v.Name, _ => 0L);
        var generate = new List<double>();
        MemoryObjectStore? kept = null;
        PrecomputedInfo? keptInfo = null;
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "  {0} ({1:F0} Mvoxel), {2} threads, {3} alternating rounds; process CPU seconds per step", volume.Size + (held ? " held in memory" : string.Empty), volume.Size.Volume / 1e6, context.Threads, rounds));
        for (int round = 0; round < rounds; round++)
        {
            generate.Add(ThreadCpuOf(() => Generate(open, volume.Size)));
            foreach (Variant v in variants)
            {
                string folder = Path.Combine(Path.GetTempPath(), "pt-bench", "cost-" + Guid.NewGuid().ToString("N").Substring(0, 6));
                // PT_COST_KEEP=<folder> keeps the real variant's output of the last round (to compare builds byte for byte).
                string? keep = round == rounds - 1 && v.Folder && v.Gzip && v.Durable ? Environment.GetEnvironmentVariable("PT_COST_KEEP") : null;
                folder = keep ?? folder;
                IObjectStore objects = v.Folder ? new FolderStore(folder, v.Durable) : new MemoryObjectStore();
                try
                {
                    var info = new PrecomputedInfo { Type = "segmentation", DataType = VoxelType.UInt64 };
                    info.Scales.AddRange(ScalePyramid.Generate(volume.Size, volume.Resolution!, Int3.Zero, 64, ChunkEncodings.CompressedSegmentation, null));
                    var store = new DatasetStore(objects, ChunkLayout.Flat, v.Gzip, ownsStore: false);
                    store.WriteInfo(info);
                    var options = new ChunkWriteOptions { ThrottleLimit = context.Threads };
                    long a0 = GC.GetTotalAllocatedBytes(true);
                    scale0[v.Name].Add(Cpu(() =>
                    {
                        using IVolumeReader reader = open();
                        ScaleWriter.WriteFromVolumeAsync(reader, store, info, options, OperationMonitor.None, CancellationToken.None).GetAwaiter().GetResult();
                    }));
                    long a1 = GC.GetTotalAllocatedBytes(true);
                    lower[v.Name].Add(Cpu(() =>
                    {
                        for (int i = 1; i < info.Scales.Count; i++)
                        {
                            ScaleWriter.DownscaleAsync(store, info, i, DownscaleMethod.Majority, options, OperationMonitor.None, CancellationToken.None).GetAwaiter().GetResult();
                        }
                    }));
                    long a2 = GC.GetTotalAllocatedBytes(true);
                    alloc0[v.Name] += a1 - a0;
                    allocLower[v.Name] += a2 - a1;
                    if (round == rounds - 1 && !v.Folder && !v.Gzip)
                    {
                        kept = (MemoryObjectStore)objects;
                        keptInfo = info;
                        objects = null!;
                    }
                }
                finally
                {
                    objects?.Dispose();
                    if (v.Folder && keep is null)
                    {
                        try
                        {
                            Directory.Delete(folder, recursive: true);
                        }
                        catch (IOException)
                        {
                            // Leftovers in the temp folder do not affect the numbers.
                        }
                    }
                }
            }
        }

        double gen = Median(generate);
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "    generator alone (1 thread, planes)      {0,7:F2} s   (runs: {1})", gen, string.Join(", ", generate.Select(g => g.ToString("F2", CultureInfo.InvariantCulture)))));
        foreach (Variant v in variants)
        {
            Console.WriteLine(string.Format(
                CultureInfo.InvariantCulture,
                "    {0,-24} scale 0 {1,7:F2} s (- generator {2,6:F2} s)   lower scales {3,6:F2} s   allocated {4,6:F0} MB + {5,5:F0} MB per round   (runs {6} | {7})",
                v.Name,
                Median(scale0[v.Name]),
                Median(scale0[v.Name]) - gen,
                Median(lower[v.Name]),
                alloc0[v.Name] / 1e6 / rounds,
                allocLower[v.Name] / 1e6 / rounds,
                string.Join(", ", scale0[v.Name].Select(g => g.ToString("F2", CultureInfo.InvariantCulture))),
                string.Join(", ", lower[v.Name].Select(g => g.ToString("F2", CultureInfo.InvariantCulture)))));
        }

        if (kept is null || keptInfo is null || Environment.GetEnvironmentVariable("PT_COST_EXTRAS") == "0")
        {
            kept?.Dispose();
            return;
        }

        using (kept)
        {
            // The chunks as the pipeline encoded them (before gzip), per scale.
            List<byte[]> chunks0 = kept.Chunks(keptInfo.Scales[0].Key + "/");
            var chunksLower = new List<byte[]>();
            for (int i = 1; i < keptInfo.Scales.Count; i++)
            {
                chunksLower.AddRange(kept.Chunks(keptInfo.Scales[i].Key + "/"));
            }

            (double enc0, double dec0) = CodecAlone(keptInfo, 0, kept);
            double encLower = 0, decLower = 0;
            for (int i = 1; i < keptInfo.Scales.Count; i++)
            {
                encLower += CodecAlone(keptInfo, i, kept).Encode;
                decLower += CodecAlone(keptInfo, i - 1, kept).Decode;
            }

            var gzipAt = new Dictionary<CompressionLevel, ((double Cpu, long Bytes) S0, (double Cpu, long Bytes) Lower)>();
            foreach (CompressionLevel level in new[] { CompressionLevel.Optimal, CompressionLevel.Fastest, CompressionLevel.SmallestSize })
            {
                gzipAt[level] = (GzipCost.Managed(chunks0, level), GzipCost.Managed(chunksLower, level));
            }

            string records0 = Path.Combine(Path.GetTempPath(), "pt-bench", "cost-chunks0-" + Guid.NewGuid().ToString("N").Substring(0, 6));
            string recordsLower = records0.Replace("chunks0", "chunksL", StringComparison.Ordinal);
            Dictionary<int, (double Cpu, long Bytes, double InflateCpu)>? native0, nativeLower;
            string zlibVersion;
            try
            {
                using (FileStream f = File.Create(records0))
                {
                    chunks0.ForEach(c => GzipCost.WriteRecords(f, c));
                }

                using (FileStream f = File.Create(recordsLower))
                {
                    chunksLower.ForEach(c => GzipCost.WriteRecords(f, c));
                }

                native0 = GzipCost.Native(records0, "1,6,9", out zlibVersion);
                nativeLower = GzipCost.Native(recordsLower, "1,6,9", out _);
            }
            finally
            {
                File.Delete(records0);
                File.Delete(recordsLower);
            }

            long raw0 = chunks0.Sum(c => (long)c.Length), rawLower = chunksLower.Sum(c => (long)c.Length);
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "    encoded chunks: scale 0 {0:N0} chunks, {1:N0} bytes; lower scales {2:N0} chunks, {3:N0} bytes", chunks0.Count, raw0, chunksLower.Count, rawLower));
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "    alone, 1 thread: encode scale 0 {0:F2} s, lower scales {1:F2} s; decode of the lower scales' sources {2:F2} s (scale 0 decode {3:F2} s)", enc0, encLower, decLower, dec0));
            Console.WriteLine("    gzip each chunk, 1 thread (CPU s, total gzip bytes, vs Optimal):");
            long optimalBytes = gzipAt[CompressionLevel.Optimal].S0.Bytes + gzipAt[CompressionLevel.Optimal].Lower.Bytes;
            foreach ((CompressionLevel level, ((double Cpu, long Bytes) s0, (double Cpu, long Bytes) low)) in gzipAt)
            {
                Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "      .NET {0,-13} scale 0 {1,6:F2} s {2,13:N0} B   lower {3,6:F2} s {4,12:N0} B   total {5,6:F2} s {6,13:N0} B ({7:+0.00;-0.00}% bytes)   {8,6:F0} MB/s", level, s0.Cpu, s0.Bytes, low.Cpu, low.Bytes, s0.Cpu + low.Cpu, s0.Bytes + low.Bytes, 100.0 * (s0.Bytes + low.Bytes - optimalBytes) / optimalBytes, (raw0 + rawLower) / 1e6 / (s0.Cpu + low.Cpu)));
            }

            if (native0 is not null && nativeLower is not null)
            {
                foreach (int level in native0.Keys)
                {
                    (double Cpu, long Bytes, double _) s0 = native0[level], low = nativeLower[level];
                    Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "      zlib {0} level {1}    scale 0 {2,6:F2} s {3,13:N0} B   lower {4,6:F2} s {5,12:N0} B   total {6,6:F2} s {7,13:N0} B ({8:+0.00;-0.00}% bytes)   {9,6:F0} MB/s", zlibVersion, level, s0.Cpu, s0.Bytes, low.Cpu, low.Bytes, s0.Cpu + low.Cpu, s0.Bytes + low.Bytes, 100.0 * (s0.Bytes + low.Bytes - optimalBytes) / optimalBytes, (raw0 + rawLower) / 1e6 / (s0.Cpu + low.Cpu)));
                }
            }
            else
            {
                Console.WriteLine("      (no python3: native zlib not measured)");
            }

            // The store's writes alone: the scale-0 chunks written through FolderStore (as DatasetStore
            // does) to a fresh folder per pass, one thread, alternating, against gzip into memory.
            var fileCost = new Dictionary<string, List<double>>();
            string[] modes = { "gzip to memory only", "folder+gzip (real)", "folder+gzip, no fsync", "folder, no gzip", "folder, no gzip, no fsync" };
            for (int round = 0; round < 3; round++)
            {
                foreach (string mode in modes)
                {
                    string folder = Path.Combine(Path.GetTempPath(), "pt-bench", "files-" + Guid.NewGuid().ToString("N").Substring(0, 6));
                    bool gzip = mode.Contains("gzip", StringComparison.Ordinal);
                    var store = new FolderStore(folder, durable: !mode.Contains("no fsync", StringComparison.Ordinal));
                    var names = Enumerable.Range(0, chunks0.Count).Select(i => "s0/" + i.ToString(CultureInfo.InvariantCulture)).ToArray();
                    double cpu = ThreadCpuOf(() =>
                    {
                        for (int i = 0; i < chunks0.Count; i++)
                        {
                            if (mode.StartsWith("gzip to memory", StringComparison.Ordinal))
                            {
                                using var ms = new MemoryStream();
                                using var zip = new GZipStream(ms, CompressionLevel.Optimal);
                                zip.Write(chunks0[i]);
                            }
                            else
                            {
                                store.Write(names[i], chunks0[i], gzip);
                            }
                        }

                        store.Flush();
                    });
                    (fileCost.TryGetValue(mode, out List<double>? list) ? list : fileCost[mode] = new List<double>()).Add(cpu);
                    try
                    {
                        Directory.Delete(folder, recursive: true);
                    }
                    catch (DirectoryNotFoundException)
                    {
                        // gzip to memory wrote nothing.
                    }
                }
            }

            Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "    store writes alone, the {0} scale-0 chunks, 1 thread, medians of 3 alternating passes:", chunks0.Count));
            foreach (string mode in modes)
            {
                Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "      {0,-26} {1,6:F3} s CPU  ({2:F0} us per chunk)   runs {3}", mode, Median(fileCost[mode]), Median(fileCost[mode]) / chunks0.Count * 1e6, string.Join(", ", fileCost[mode].Select(g => g.ToString("F3", CultureInfo.InvariantCulture)))));
            }

            double real0 = Median(scale0["folder+gzip (real)"]) - gen, realLower = Median(lower["folder+gzip (real)"]);
            double mem0 = Median(scale0["memory, no gzip"]) - gen, memLower = Median(lower["memory, no gzip"]);
            double zip0 = Median(scale0["memory+gzip"]) - gen - mem0, zipLower = Median(lower["memory+gzip"]) - memLower;
            double file0 = real0 - (mem0 + zip0), fileLower = realLower - (memLower + zipLower);
            Console.WriteLine("    breakdown of the real path (folder+gzip), from the variants' differences:");
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "      scale 0:      total {0,6:F2} s = encode {1:F2} + gzip {2:F2} + files {3:F2} + rest {4:F2}  (gzip alone measured: {5:F2})", real0, enc0, zip0, file0, mem0 - enc0, gzipAt[CompressionLevel.Optimal].S0.Cpu));
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "      lower scales: total {0,6:F2} s = encode {1:F2} + decode {2:F2} + gzip & inflate {3:F2} + files {4:F2} + rest (pool, copies) {5:F2}  (gzip alone measured: {6:F2})", realLower, encLower, decLower, zipLower, fileLower, memLower - encLower - decLower, gzipAt[CompressionLevel.Optimal].Lower.Cpu));
        }
    }

    // Scale 0's encode of a row of 32 chunks (2048x64x64 of the EM volume, 8 planes a step, as
    // ScaleWriter reads it) with each chunk's layer copied out first (before 922bc91) or read in place
    // (strided), and the lower scales' decode of those chunks into a 2048x64 region buffer through a
    // chunk-shaped buffer or in place; one thread, alternating, thread CPU per pass, 5 pairs.
    private static void CopyOrStrided()
    {
        var volume = SyntheticEmVolume.Gigavoxel(64);
        Int3 size = new(2048, 64, 64), chunk = new(64, 64, 64), block = new(8, 8, 8);
        var slab = new ulong[size.Volume];
        volume.Fill(new Box3(Int3.Zero, size), slab);
        int chunks = size.X / chunk.X, planeStep = 8;
        long stepVoxels = (long)size.X * size.Y * planeStep;
        var layer = new ulong[chunk.X * chunk.Y * planeStep];
        var encoders = Enumerable.Range(0, chunks).Select(_ => new CompressedSegmentationEncoder()).ToArray();
        var encoded = new byte[chunks][];
        var region = new ulong[stepVoxels];
        var temp = new ulong[chunk.X * chunk.Y * planeStep];
        double Encode(bool strided)
        {
            double t0 = ThreadCpu.Seconds();
            foreach (CompressedSegmentationEncoder e in encoders)
            {
                e.BeginStream(chunk, block);
            }

            for (int z = 0; z < size.Z; z += planeStep)
            {
                ReadOnlySpan<ulong> step = slab.AsSpan((int)(z * (long)size.X * size.Y), (int)stepVoxels);
                for (int c = 0; c < chunks; c++)
                {
                    if (strided)
                    {
                        encoders[c].AppendLayers(step, c * chunk.X, size.X, (long)size.X * size.Y, 1);
                        continue;
                    }

                    for (int dz = 0; dz < planeStep; dz++)
                    {
                        for (int y = 0; y < chunk.Y; y++)
                        {
                            step.Slice((int)((((long)dz * size.Y) + y) * size.X) + (c * chunk.X), chunk.X).CopyTo(layer.AsSpan(((dz * chunk.Y) + y) * chunk.X, chunk.X));
                        }
                    }

                    encoders[c].AppendLayers(layer, 1);
                }
            }

            for (int c = 0; c < chunks; c++)
            {
                byte[] bytes = encoders[c].FinishStream().ToArray();
                if (encoded[c] is not null && !bytes.AsSpan().SequenceEqual(encoded[c]))
                {
                    throw new InvalidOperationException("strided and copied encodes differ");
                }

                encoded[c] = bytes;
            }

            return ThreadCpu.Seconds() - t0;
        }

        double Decode(bool strided)
        {
            double t0 = ThreadCpu.Seconds();
            for (int z = 0; z < size.Z; z += planeStep)
            {
                for (int c = 0; c < chunks; c++)
                {
                    if (strided)
                    {
                        CompressedSegmentation.DecodePlanes(encoded[c], chunk, block, z, z + planeStep, region, c * chunk.X, size.X, (long)size.X * size.Y);
                        continue;
                    }

                    CompressedSegmentation.DecodePlanes(encoded[c], chunk, block, z, z + planeStep, temp);
                    for (int dz = 0; dz < planeStep; dz++)
                    {
                        for (int y = 0; y < chunk.Y; y++)
                        {
                            temp.AsSpan(((dz * chunk.Y) + y) * chunk.X, chunk.X).CopyTo(region.AsSpan((int)((((long)dz * size.Y) + y) * size.X) + (c * chunk.X), chunk.X));
                        }
                    }
                }

                double c0 = ThreadCpu.Seconds();
                if (!region.AsSpan().SequenceEqual(slab.AsSpan((int)(z * (long)size.X * size.Y), (int)stepVoxels)))
                {
                    throw new InvalidOperationException("decoded planes differ");
                }

                t0 += ThreadCpu.Seconds() - c0;
            }

            return ThreadCpu.Seconds() - t0;
        }

        Encode(false);
        Encode(true);
        Decode(false);
        Decode(true);
        var rows = new List<(double EncodeCopy, double EncodeStrided, double DecodeCopy, double DecodeStrided)>();
        for (int pass = 0; pass < 5; pass++)
        {
            double ec = 0, es = 0, dc = 0, ds = 0;
            for (int rep = 0; rep < 4; rep++)
            {
                ec += Encode(false);
                es += Encode(true);
                dc += Decode(false);
                ds += Decode(true);
            }

            rows.Add((ec, es, dc, ds));
        }

        double perGvox = (1 << 30) / (4.0 * size.Volume);
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "  copy or strided, 2048x64x64 row of 64^3 chunks, 1 thread, CPU s per Gvoxel (5 alternating passes of 4 reps; the compare with the source is not timed):"));
        foreach ((double ec, double es, double dc, double ds) in rows)
        {
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "    encode: copy {0:F2} s, strided {1:F2} s ({2:F3}x)   decode: copy {3:F2} s, strided {4:F2} s ({5:F3}x)", ec * perGvox, es * perGvox, es / ec, dc * perGvox, ds * perGvox, ds / dc));
        }

        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "    median: encode strided / copy {0:F3}x, decode {1:F3}x", Median(rows.Select(r => r.EncodeStrided / r.EncodeCopy).ToList()), Median(rows.Select(r => r.DecodeStrided / r.DecodeCopy).ToList())));
    }

    // The gzip levels on the real Z-Brain labels: its 64^3 compressed_segmentation chunks (8^3 blocks, uint64).
    private static void GzipLevelsOnZBrain(BenchContext context)
    {
        List<byte[]> chunks = context.ZBrainChunks64(new Int3(64, 64, 64)).Select(c => CompressedSegmentation.Encode(c.Voxels, c.Box.Size, new Int3(8, 8, 8))).ToList();
        long raw = chunks.Sum(c => (long)c.Length);
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "  Z-Brain (1406x621x138) as {0} compressed_segmentation chunks of 64^3, {1:N0} bytes; gzip each, 1 thread, median of 3:", chunks.Count, raw));
        long optimal = 0;
        foreach (CompressionLevel level in new[] { CompressionLevel.Optimal, CompressionLevel.Fastest, CompressionLevel.SmallestSize })
        {
            var runs = Enumerable.Range(0, 3).Select(_ => GzipCost.Managed(chunks, level)).ToList();
            long bytes = runs[0].Bytes;
            optimal = level == CompressionLevel.Optimal ? bytes : optimal;
            double cpu = Median(runs.Select(r => r.Cpu).ToList());
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "    .NET {0,-13} {1,6:F3} s {2,12:N0} B ({3:+0.00;-0.00}% bytes vs Optimal)  {4,5:F0} MB/s", level, cpu, bytes, 100.0 * (bytes - optimal) / optimal, raw / 1e6 / cpu));
        }

        string records = Path.Combine(Path.GetTempPath(), "pt-bench", "zbrain-chunks-" + Guid.NewGuid().ToString("N").Substring(0, 6));
        Directory.CreateDirectory(Path.GetDirectoryName(records)!);
        try
        {
            using (FileStream f = File.Create(records))
            {
                chunks.ForEach(c => GzipCost.WriteRecords(f, c));
            }

            Dictionary<int, (double Cpu, long Bytes, double InflateCpu)>? native = GzipCost.Native(records, "1,6,9", out string version);
            foreach ((int level, (double cpu, long bytes, double _)) in native ?? new Dictionary<int, (double, long, double)>())
            {
                Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "    zlib {0} level {1}    {2,6:F3} s {3,12:N0} B ({4:+0.00;-0.00}% bytes vs Optimal)  {5,5:F0} MB/s", version, level, cpu, bytes, 100.0 * (bytes - optimal) / optimal, raw / 1e6 / cpu));
            }
        }
        finally
        {
            File.Delete(records);
        }
    }

    private static void Generate(Func<IVolumeReader> open, Int3 size)
    {
        using IVolumeReader reader = open();
        byte[] plane = new byte[size.X * size.Y * 8];
        for (int z = 0; z < size.Z; z++)
        {
            reader.ReadAsync(new Box3(new Int3(0, 0, z), new Int3(size.X, size.Y, z + 1)), plane, CancellationToken.None).GetAwaiter().GetResult();
        }
    }

    private sealed class HeldReader : IVolumeReader
    {
        private readonly ulong[] _voxels;

        public HeldReader(ulong[] voxels, Int3 size)
        {
            _voxels = voxels;
            Size = size;
        }

        public Int3 Size { get; }

        public VoxelType DataType => VoxelType.UInt64;

        public Int3 ReadGranularity => new(Size.X, Size.Y, 1);

        public System.Threading.Tasks.Task ReadAsync(Box3 region, Memory<byte> destination, CancellationToken cancellationToken)
        {
            Span<ulong> to = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(destination.Span);
            int row = region.Size.X, i = 0;
            for (int z = region.Begin.Z; z < region.End.Z; z++)
            {
                for (int y = region.Begin.Y; y < region.End.Y; y++, i += row)
                {
                    _voxels.AsSpan((int)(((((long)z * Size.Y) + y) * Size.X) + region.Begin.X), row).CopyTo(to.Slice(i, row));
                }
            }

            return System.Threading.Tasks.Task.CompletedTask;
        }

        public void Dispose()
        {
        }
    }

    // One thread: every chunk of a scale decoded (timed), then encoded again (timed apart).
    private static (double Encode, double Decode) CodecAlone(PrecomputedInfo info, int scaleIndex, MemoryObjectStore store)
    {
        ScaleInfo scale = info.Scales[scaleIndex];
        Int3 block = scale.BlockSize ?? new Int3(8, 8, 8);
        var encoder = new CompressedSegmentationEncoder();
        double encode = 0, decode = 0;
        var voxels = new ulong[scale.ChunkSize.Volume];
        foreach ((string key, byte[] bytes) in store.Entries(scale.Key + "/"))
        {
            Box3 box = ParseBox(key.Substring(scale.Key.Length + 1));
            Span<ulong> v = voxels.AsSpan(0, (int)box.Size.Volume);
            double t0 = ThreadCpu.Seconds();
            CompressedSegmentation.Decode(bytes, box.Size, block, v);
            double t1 = ThreadCpu.Seconds();
            ReadOnlySpan<byte> again = encoder.EncodeToBuffer(v, box.Size, block);
            double t2 = ThreadCpu.Seconds();
            if (!again.SequenceEqual(bytes))
            {
                throw new InvalidOperationException("re-encoding " + key + " gave other bytes");
            }

            decode += t1 - t0;
            encode += t2 - t1;
        }

        return (encode, decode);
    }

    private static Box3 ParseBox(string name)
    {
        int[] v = name.Split('_').SelectMany(r => r.Split('-')).Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        return new Box3(new Int3(v[0], v[2], v[4]), new Int3(v[1], v[3], v[5]));
    }

    private static double Cpu(Action run)
    {
        GC.Collect();
        TimeSpan cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        run();
        return (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
    }

    private static double ThreadCpuOf(Action run)
    {
        GC.Collect();
        double cpu0 = ThreadCpu.Seconds();
        run();
        return ThreadCpu.Seconds() - cpu0;
    }

    private static double Median(List<double> values)
    {
        double[] sorted = values.OrderBy(v => v).ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}

/// <summary>An in-memory store: objects as stored (gzip bytes when written with gzip, at Optimal as the folder does).</summary>
internal sealed class MemoryObjectStore : IObjectStore
{
    private readonly ConcurrentDictionary<string, (byte[] Bytes, bool Gzip)> _objects = new(StringComparer.Ordinal);

    public string Location => "memory:";

    public StoreKind Kind => StoreKind.S3;

    public bool CanWrite => true;

    public bool CanList => true;

    /// <summary>The content (inflated) of every object under a prefix.</summary>
    public List<byte[]> Chunks(string prefix) => Entries(prefix).Select(e => e.Bytes).ToList();

    public IEnumerable<(string Key, byte[] Bytes)> Entries(string prefix)
    {
        foreach (string key in _objects.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).OrderBy(k => k, StringComparer.Ordinal).ToList())
        {
            using PooledBytes content = Read(key, int.MaxValue - 64)!;
            yield return (key, content.ToArray());
        }
    }

    public PooledBytes? Read(string key, int maxLength, CancellationToken cancellationToken = default)
    {
        if (!_objects.TryGetValue(key, out (byte[] Bytes, bool Gzip) o))
        {
            return null;
        }

        using var stream = new MemoryStream(o.Bytes, writable: false);
        return ObjectContent.ReadAll(stream, o.Gzip, maxLength, o.Bytes.Length, key);
    }

    public byte[]? ReadRange(string key, long offset, int length, CancellationToken cancellationToken = default) =>
        _objects.TryGetValue(key, out (byte[] Bytes, bool Gzip) o) ? o.Bytes.AsSpan((int)Math.Min(offset, o.Bytes.Length), (int)Math.Min(length, Math.Max(0, o.Bytes.Length - offset))).ToArray() : null;

    public StoredObject? Stat(string key, CancellationToken cancellationToken = default) =>
        _objects.TryGetValue(key, out (byte[] Bytes, bool Gzip) o) ? new StoredObject(key, o.Bytes.Length, o.Gzip) : null;

    public void Write(string key, ReadOnlySpan<byte> content, bool gzip, CancellationToken cancellationToken = default)
    {
        if (!gzip)
        {
            _objects[key] = (content.ToArray(), false);
            return;
        }

        using IObjectWriter writer = OpenWrite(key, gzip);
        writer.Write(content);
        writer.Commit();
    }

    public IObjectWriter OpenWrite(string key, bool gzip) => new Writer(this, key, gzip);

    public bool Delete(string key, CancellationToken cancellationToken = default) => _objects.TryRemove(key, out _);

    public IEnumerable<StoredObject> List(string prefix, CancellationToken cancellationToken = default) =>
        _objects.Where(p => p.Key.StartsWith(prefix, StringComparison.Ordinal)).Select(p => new StoredObject(p.Key, p.Value.Bytes.Length, p.Value.Gzip)).ToList();

    public int RemoveIncompleteWrites() => 0;

    public void Flush()
    {
    }

    public void Dispose() => _objects.Clear();

    private sealed class Writer : IObjectWriter
    {
        private readonly MemoryObjectStore _store;
        private readonly string _key;
        private readonly bool _gzip;
        private readonly MemoryStream _buffer = new();
        private readonly Stream _stream;

        public Writer(MemoryObjectStore store, string key, bool gzip)
        {
            _store = store;
            _key = key;
            _gzip = gzip;
            _stream = gzip ? new GZipStream(_buffer, CompressionLevel.Optimal, leaveOpen: true) : _buffer;
        }

        public void Write(ReadOnlySpan<byte> data) => _stream.Write(data);

        public void Commit()
        {
            if (_gzip)
            {
                _stream.Dispose();
            }

            _store._objects[_key] = (_buffer.ToArray(), _gzip);
        }

        public void Dispose() => _stream.Dispose();
    }
}
