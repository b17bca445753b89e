using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Threading.Tasks;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Codecs;
using PrecomputedTools.Synthetic;

namespace PrecomputedTools.Benchmarks;

/// <summary>
/// Image chunk encodings on a synthetic EM image (64³ uint8 chunks): JPEG encode and decode per core
/// against Debian's cjpeg/djpeg (libjpeg-turbo, SIMD) on the same chunks at the same quality, and
/// bytes per voxel and PSNR of raw, gzip, jpeg at several qualities and png.
/// </summary>
public sealed class ImageBench : IBenchSection
{
    private const int ChunkEdge = 64;

    public string Name => "image";

    public string Description => "jpeg/png image chunks of a synthetic EM image vs cjpeg (MB/s per core, bytes per voxel, PSNR)";

    public void Run(BenchContext context)
    {
        var image = new SyntheticEmImage(new SyntheticEmVolume(new Int3(512, 512, 64)));
        var chunks = new List<byte[]>();
        var shape = new Int3(ChunkEdge, ChunkEdge, ChunkEdge);
        for (int y = 0; y < image.Size.Y; y += ChunkEdge)
        {
            for (int x = 0; x < image.Size.X; x += ChunkEdge)
            {
                byte[] voxels = new byte[shape.Volume];
                image.Fill(new Box3(new Int3(x, y, 0), new Int3(x, y, 0) + shape), voxels);
                chunks.Add(voxels);
            }
        }

        double mb = chunks.Count * shape.Volume / 1e6;
        Console.WriteLine($"  {chunks.Count} chunks of {shape} uint8 ({mb:F1} MB) from a synthetic EM image");

        // Sizes and fidelity.
        long gzipBytes = chunks.Sum(c => Gzip(c).Length);
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "  {0,-22} {1,7:F3} bytes/voxel", "raw", 1.0));
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "  {0,-22} {1,7:F3} bytes/voxel", "raw + gzip", gzipBytes / (mb * 1e6)));
        foreach (int quality in new[] { 95, 90, 85, 75 })
        {
            byte[][] jpegs = chunks.Select(c => ImageChunkCodecs.EncodeJpeg(c, shape, quality)).ToArray();
            double psnr = Psnr(chunks, jpegs.Select(j => Decode(j, shape)).ToList());
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "  {0,-22} {1,7:F3} bytes/voxel  PSNR {2:F2} dB", $"jpeg q{quality}", jpegs.Sum(j => (long)j.Length) / (mb * 1e6), psnr));
        }

        foreach (int level in new[] { 6, 9 })
        {
            long pngBytes = chunks.Sum(c => (long)ImageChunkCodecs.EncodePng(c, 1, shape, level).Length);
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "  {0,-22} {1,7:F3} bytes/voxel  lossless", $"png level {level}", pngBytes / (mb * 1e6)));
        }

        // The module's JPEG codec (ImageSharp writes, LibJpeg.NET reads; both managed) per core and over all cores.
        const int Quality = 95;
        Timing t = context.Time(() =>
        {
            foreach (byte[] c in chunks)
            {
                ImageChunkCodecs.EncodeJpeg(c, shape, Quality);
            }
        });
        context.Report($"jpeg encode q{Quality} (module)", 1, t, mb, "MB/s", 0);
        double modulePerCore = mb / t.CpuPerPass;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = context.Threads };
        t = context.Time(() => Parallel.ForEach(chunks, parallel, c => ImageChunkCodecs.EncodeJpeg(c, shape, Quality)));
        context.Report($"jpeg encode q{Quality} (module, parallel)", context.Threads, t, mb, "MB/s", 0);
        byte[][] encoded = chunks.Select(c => ImageChunkCodecs.EncodeJpeg(c, shape, Quality)).ToArray();
        byte[] scratch = new byte[shape.Volume];
        t = context.Time(() =>
        {
            foreach (byte[] j in encoded)
            {
                ImageChunkCodecs.DecodeJpeg(j, shape, scratch);
            }
        });
        context.Report($"jpeg decode (module)", 1, t, mb, "MB/s", 0);
        double moduleDecodePerCore = mb / t.CpuPerPass;
        t = context.Time(() =>
        {
            foreach (byte[] c in chunks)
            {
                ImageChunkCodecs.EncodePng(c, 1, shape, 6);
            }
        });
        context.Report("png encode level 6 (module)", 1, t, mb, "MB/s", 0);

        // Average downsampling of the image (2x2x2), the default for image pyramids.
        byte[] reduced = new byte[(ChunkEdge / 2) * (ChunkEdge / 2) * (ChunkEdge / 2)];
        t = context.Time(() =>
        {
            foreach (byte[] c in chunks)
            {
                Downsampling.Average(c, VoxelType.UInt8, shape, new Int3(2, 2, 2), reduced);
            }
        });
        context.Report("average 2x2x2 uint8 (module)", 1, t, mb, "Mvox/s", 0);

        // cjpeg and djpeg: the same chunks stacked 15 to an image (64 x 61440 pixels, under JPEG's 65535
        // limit; every chunk is a whole number of 8-pixel block rows, so the blocks coded are the same),
        // one process per image, the process start measured on an 8x8 image and subtracted.
        string work = Path.Combine(Path.GetTempPath(), "pt-image-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        try
        {
            string cjpeg = Tool("cjpeg"), djpeg = Tool("djpeg");
            var pgms = new List<string>();
            for (int first = 0, n = 0; first < chunks.Count; first += 15, n++)
            {
                byte[][] group = chunks.Skip(first).Take(15).ToArray();
                string file = Path.Combine(work, $"g{n}.pgm");
                WritePgm(file, ChunkEdge, ChunkEdge * ChunkEdge * group.Length, group.SelectMany(g => g).ToArray());
                pgms.Add(file);
            }

            string tiny = Path.Combine(work, "tiny.pgm");
            WritePgm(tiny, 8, 8, new byte[64]);
            double startup = Enumerable.Range(0, 5).Select(_ => RunTimed(cjpeg, $"-quality {Quality} -outfile \"{tiny}.jpg\" \"{tiny}\"")).Min();
            double best = double.MaxValue;
            for (int pass = 0; pass < 3; pass++)
            {
                best = Math.Min(best, pgms.Sum(p => RunTimed(cjpeg, $"-quality {Quality} -outfile \"{p}.jpg\" \"{p}\"")));
            }

            double cjpegSeconds = best - (startup * pgms.Count);
            double cjpegPerCore = mb / cjpegSeconds;
            long cjpegBytes = pgms.Sum(p => new FileInfo(p + ".jpg").Length);
            double djpegStartup = Enumerable.Range(0, 5).Select(_ => RunTimed(djpeg, $"-outfile \"{tiny}.out\" \"{tiny}.jpg\"")).Min();
            double djpegBest = double.MaxValue;
            for (int pass = 0; pass < 3; pass++)
            {
                djpegBest = Math.Min(djpegBest, pgms.Sum(p => RunTimed(djpeg, $"-outfile \"{p}.out\" \"{p}.jpg\"")));
            }

            double djpegPerCore = mb / (djpegBest - (djpegStartup * pgms.Count));
            Console.WriteLine(string.Format(
                CultureInfo.InvariantCulture,
                "  cjpeg q{0} (libjpeg-turbo)          1 thr  {1,8:F0} MB/s per core ({2:F1} ms process start x {3} subtracted); {4:F3} bytes/voxel",
                Quality,
                cjpegPerCore,
                startup * 1000,
                pgms.Count,
                cjpegBytes / (mb * 1e6)));
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "  djpeg (libjpeg-turbo)                 1 thr  {0,8:F0} MB/s per core", djpegPerCore));
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "  ratio module / libjpeg-turbo: encode {0:F2}x, decode {1:F2}x", modulePerCore / cjpegPerCore, moduleDecodePerCore / djpegPerCore));
        }
        catch (InvalidOperationException ex)
        {
            Console.WriteLine("  cjpeg comparison skipped: " + ex.Message);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static byte[] Decode(byte[] jpeg, Int3 shape)
    {
        byte[] voxels = new byte[shape.Volume];
        ImageChunkCodecs.DecodeJpeg(jpeg, shape, voxels);
        return voxels;
    }

    private static double Psnr(IReadOnlyList<byte[]> expected, IReadOnlyList<byte[]> actual)
    {
        double sum = 0;
        long count = 0;
        for (int c = 0; c < expected.Count; c++)
        {
            for (int i = 0; i < expected[c].Length; i++)
            {
                double d = expected[c][i] - actual[c][i];
                sum += d * d;
            }

            count += expected[c].Length;
        }

        return 10 * Math.Log10(255.0 * 255.0 / (sum / count));
    }

    private static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal))
        {
            gzip.Write(data, 0, data.Length);
        }

        return output.ToArray();
    }

    private static void WritePgm(string file, int width, int height, byte[] pixels)
    {
        using FileStream stream = File.Create(file);
        byte[] header = System.Text.Encoding.ASCII.GetBytes($"P5\n{width} {height}\n255\n");
        stream.Write(header, 0, header.Length);
        stream.Write(pixels, 0, pixels.Length);
    }

    private static string Tool(string name) =>
        new[] { "/usr/bin", "/usr/local/bin" }.Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException($"{name} is not installed (.ci/install-image.sh installs libjpeg-turbo-progs)");

    private static double RunTimed(string tool, string arguments)
    {
        var start = new ProcessStartInfo(tool, arguments) { UseShellExecute = false, RedirectStandardError = true };
        var sw = Stopwatch.StartNew();
        using Process process = Process.Start(start)!;
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        double seconds = sw.Elapsed.TotalSeconds;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} {arguments}: exit {process.ExitCode}: {error}");
        }

        return seconds;
    }
}
