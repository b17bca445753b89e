using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Codecs;

namespace PrecomputedTools.Benchmarks;

/// <summary>compressed_segmentation encode/decode throughput on Z-Brain chunks widened to uint64.</summary>
public sealed class CodecBench : IBenchSection
{
    /// <summary>Per-core target: the Google C++ reference encoder on Z-Brain-like labels on these machines.</summary>
    public const double EncodeTargetMBps = 600;

    public string Name => "codec";

    public string Description => "compressed_segmentation encode/decode (uint64 Z-Brain chunks, 8^3 blocks)";

    public void Run(BenchContext context)
    {
        Int3 block = new(8, 8, 8);
        foreach (Int3 chunk in new[] { new Int3(64, 64, 64), new Int3(256, 256, 128) })
        {
            List<(Box3 Box, ulong[] Voxels)> chunks = context.ZBrainChunks64(chunk);
            long voxels = chunks.Sum(c => (long)c.Voxels.Length);
            double mb = voxels * 8 / 1e6;
            byte[][] encoded = chunks.Select(c => CompressedSegmentation.Encode(c.Voxels, c.Box.Size, block)).ToArray();
            long encodedBytes = encoded.Sum(e => (long)e.Length);
            Console.WriteLine($"  chunks {chunk}: {chunks.Count} chunks, {voxels / 1e6:F1} Mvoxel, {mb:F0} MB uint64 -> {encodedBytes / 1e6:F2} MB encoded ({100.0 * encodedBytes / (voxels * 8):F2} %)");

            var encoder = new CompressedSegmentationEncoder();
            var t = context.Time(() =>
            {
                foreach ((Box3 box, ulong[] v) in chunks)
                {
                    encoder.EncodeToBuffer(v, box.Size, block);
                }
            });
            context.Report($"encode {chunk} (reused encoder)", 1, t, mb, "MB/s", EncodeTargetMBps);
            context.Report($"encode {chunk} (reused encoder)", 1, t, voxels / 1e6, "Mvox/s", 0);

            t = context.Time(() =>
            {
                foreach ((Box3 box, ulong[] v) in chunks)
                {
                    _ = CompressedSegmentation.Encode(v, box.Size, block);
                }
            });
            context.Report($"encode {chunk} (static, returns byte[])", 1, t, mb, "MB/s", EncodeTargetMBps);

            using var encoders = new ThreadLocal<CompressedSegmentationEncoder>(() => new CompressedSegmentationEncoder());
            var parallel = new ParallelOptions { MaxDegreeOfParallelism = context.Threads };
            t = context.Time(() => Parallel.For(0, chunks.Count, parallel, i => encoders.Value!.EncodeToBuffer(chunks[i].Voxels, chunks[i].Box.Size, block)));
            context.Report($"encode {chunk} (parallel over chunks)", context.Threads, t, mb, "MB/s", EncodeTargetMBps);
            context.Report($"encode {chunk} (parallel over chunks)", context.Threads, t, voxels / 1e6, "Mvox/s", 0);

            int maxVoxels = chunks.Max(c => c.Voxels.Length);
            var dst = new ulong[maxVoxels];
            t = context.Time(() =>
            {
                for (int i = 0; i < chunks.Count; i++)
                {
                    CompressedSegmentation.Decode(encoded[i], chunks[i].Box.Size, block, dst);
                }
            });
            context.Report($"decode {chunk}", 1, t, mb, "MB/s", 0);
            context.Report($"decode {chunk}", 1, t, voxels / 1e6, "Mvox/s", 0);

            using var buffers = new ThreadLocal<ulong[]>(() => new ulong[maxVoxels]);
            t = context.Time(() => Parallel.For(0, chunks.Count, parallel, i => CompressedSegmentation.Decode(encoded[i], chunks[i].Box.Size, block, buffers.Value!)));
            context.Report($"decode {chunk} (parallel over chunks)", context.Threads, t, voxels / 1e6, "Mvox/s", 0);

            if (chunk.X == 64)
            {
                // uint32 labels (the same chunks narrowed): per-core encode and decode.
                uint[][] narrow = chunks.Select(c => c.Voxels.Select(v => (uint)v).ToArray()).ToArray();
                byte[][] encoded32 = narrow.Select((v, i) => CompressedSegmentation.Encode(v, chunks[i].Box.Size, block)).ToArray();
                t = context.Time(() =>
                {
                    for (int i = 0; i < narrow.Length; i++)
                    {
                        encoder.EncodeToBuffer(narrow[i], chunks[i].Box.Size, block);
                    }
                });
                context.Report($"encode {chunk} uint32", 1, t, voxels / 1e6, "Mvox/s", 0);
                var dst32 = new uint[maxVoxels];
                t = context.Time(() =>
                {
                    for (int i = 0; i < narrow.Length; i++)
                    {
                        CompressedSegmentation.Decode(encoded32[i], chunks[i].Box.Size, block, dst32);
                    }
                });
                context.Report($"decode {chunk} uint32", 1, t, voxels / 1e6, "Mvox/s", 0);
            }

            // Sanity: the last decode equals the source (a benchmark of a wrong decoder is worthless).
            CompressedSegmentation.Decode(encoded[^1], chunks[^1].Box.Size, block, dst);
            if (!dst.AsSpan(0, chunks[^1].Voxels.Length).SequenceEqual(chunks[^1].Voxels))
            {
                throw new InvalidOperationException("decode does not round-trip");
            }
        }

        if (NativeAnchors.Has("cseg_bench"))
        {
            SideBySide(context, block);
        }
        else
        {
            Console.WriteLine($"  (no native anchors at {NativeAnchors.Folder} / {NativeAnchors.ZBrainRaw}: see README, 'Native anchors')");
        }
    }

    /// <summary>Encode and decode against Google's compressed_segmentation (compressedseg), alternating runs, one thread.</summary>
    private static void SideBySide(BenchContext context, Int3 block)
    {
        var rows = new List<(string What, string Theirs, Int3 Chunk, bool Decode, double Target)>
        {
            ("encode 64x64x64", "encode 64x64x64 u64 (reused out vector) (MB/s)", new Int3(64, 64, 64), false, 1.0),
            ("decode 64x64x64", "decode 64x64x64 u64 (MB/s)", new Int3(64, 64, 64), true, 2.0),
            ("decode 256x256x128", "decode 256x256x128 u64 (MB/s)", new Int3(256, 256, 128), true, 2.0),
        };
        var data = rows.Select(r =>
        {
            List<(Box3 Box, ulong[] Voxels)> chunks = context.ZBrainChunks64(r.Chunk);
            return (Chunks: chunks, Encoded: chunks.Select(c => CompressedSegmentation.Encode(c.Voxels, c.Box.Size, block)).ToArray());
        }).ToArray();
        Console.WriteLine("  side by side with compressedseg, one thread, medians of 3 alternating runs:");
        var encoder = new CompressedSegmentationEncoder();
        NativeAnchors.SideBySide("cseg_bench", "compressedseg", context, rows.Select((row, r) => (row.What, row.Theirs, (Func<double>)(() =>
        {
            var (chunks, encoded) = data[r];
            var dst = new ulong[chunks.Max(c => c.Voxels.Length)];
            Timing t = row.Decode
                ? context.Time(() =>
                {
                    for (int i = 0; i < chunks.Count; i++)
                    {
                        CompressedSegmentation.Decode(encoded[i], chunks[i].Box.Size, block, dst);
                    }
                })
                : context.Time(() =>
                {
                    foreach ((Box3 box, ulong[] v) in chunks)
                    {
                        encoder.EncodeToBuffer(v, box.Size, block);
                    }
                });
            return chunks.Sum(c => (long)c.Voxels.Length) * 8 / 1e6 / t.Median;
        }), row.Target)).ToList(), "MB/s");
    }
}
