using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Boss;
using PrecomputedTools.Engine.Volumes;
using PrecomputedTools.TestServers;

namespace PrecomputedTools.Benchmarks;

/// <summary>
/// BOSS section: (1) loopback download of a 1 GiB uint64 cutout through the full client (blocks,
/// verification, decode) against plain HTTP GETs of the same bodies from the same server (the
/// limit); (2) managed blosc decode against native libblosc on the same frames.
/// </summary>
public static class BossBenchmarks
{
    public static async Task RunAsync()
    {
        Console.WriteLine("== boss");
        if (!NativeBlosc.IsAvailable)
        {
            Console.WriteLine("libblosc.so.1 is missing (apt-get install libblosc1): the server would send memcpyed frames and there is no native oracle.");
        }

        DecodeBenchmark();
        await DownloadBenchmarkAsync().ConfigureAwait(false);
    }

    private static string SharedData =>
        Environment.GetEnvironmentVariable("PRECOMPUTEDTOOLS_SHARED_DATA") is { Length: > 0 } env ? env : Path.Combine(FindRepo(), "..", "shared", "data");

    private static string FindRepo()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "PrecomputedTools.psd1")))
            {
                return d.FullName;
            }
        }

        return ".";
    }

    private static void DecodeBenchmark()
    {
        var frames = new List<(string Name, byte[] Frame, int Bytes)>();
        foreach (string name in new[] { "u8_em_16x512x512", "u16_16x128x256", "u64_zbrain_labels_16x128x128", "u16_lz4_8x64x256", "u8_zlib_4x128x512" })
        {
            string path = Path.Combine(SharedData, "vectors", "blosc", name + ".blosc");
            if (File.Exists(path))
            {
                byte[] frame = File.ReadAllBytes(path);
                frames.Add((name + " (c-blosc 1.11.2)", frame, BloscHeader.Read(frame).UncompressedBytes));
            }
        }

        if (NativeBlosc.IsAvailable)
        {
            // A BOSS-sized uint64 label block (512x512x32, 64 MiB), compressed by libblosc with the server's call.
            var channel = BossTestCatalog.CreateDefault().FindChannel("lab", "big", "seg")!;
            byte[] raw = channel.Render(0, 0, 1, 0, 512, 0, 512, 0, 32);
            frames.Add(("u64 labels 512x512x32 (libblosc 1.21, typesize 64)", NativeBlosc.Compress(raw, 64), raw.Length));
            var em = BossTestCatalog.CreateDefault().FindChannel("lab", "small", "em")!;
            byte[] emRaw = em.Render(0, 0, 1, 0, 512, 0, 512, 0, 16);
            frames.Add(("u8 image 512x512x16 (libblosc 1.21, typesize 8)", NativeBlosc.Compress(emRaw, 8), emRaw.Length));
        }

        byte[] block = new byte[1 << 19];
        new Random(1).NextBytes(block);
        byte[] outBlock = new byte[block.Length];
        foreach (int ts in new[] { 8, 16, 64 })
        {
            Console.WriteLine($"unshuffle typesize {ts}: {Rate(block.Length, () => Shuffle.ByteUnshuffle(block, outBlock, ts)):F0} MB/s");
        }

        Console.WriteLine("blosc decode, MB/s of decoded bytes (best of 5 runs x >= 200 ms), single thread and parallel:");
        Console.WriteLine($"{"frame",-55} {"managed1",9} {"native1",9} {"ratio1",7} {"managedN",9} {"nativeN",9} {"ratioN",7}");
        foreach (var (name, frame, bytes) in frames)
        {
            byte[] dest = new byte[bytes];
            double m1 = Rate(bytes, () => BloscDecoder.Decode(frame, dest, 1));
            double mn = Rate(bytes, () => BloscDecoder.Decode(frame, dest, Environment.ProcessorCount));
            double n1 = double.NaN, nn = double.NaN;
            if (NativeBlosc.IsAvailable)
            {
                n1 = Rate(bytes, () => NativeBlosc.Decompress(frame, dest, 1));
                nn = Rate(bytes, () => NativeBlosc.Decompress(frame, dest, Environment.ProcessorCount));
            }

            Console.WriteLine($"{name,-55} {m1,9:F0} {n1,9:F0} {m1 / n1,7:F2} {mn,9:F0} {nn,9:F0} {mn / nn,7:F2}");
        }
    }

    private static double Rate(long bytes, Action action)
    {
        action();
        double best = 0;
        for (int run = 0; run < 5; run++)
        {
            var clock = Stopwatch.StartNew();
            int n = 0;
            do
            {
                action();
                n++;
            }
            while (clock.ElapsedMilliseconds < 200);
            best = Math.Max(best, bytes * (double)n / clock.Elapsed.TotalSeconds / 1e6);
        }

        return best;
    }

    private static async Task DownloadBenchmarkAsync()
    {
        using var server = new BossTestServer { CacheBodies = true };
        var connection = new BossConnection(server.BaseUri, BossTestServer.ValidToken, "benchmark");
        var options = new BossClientOptions { ThrottleLimit = 4 };
        using var client = new BossClient(connection, options);
        var cut = new BossCutoutOptions { Collection = "lab", Experiment = "big", Channel = "seg", Resolution = 0 };
        BossVolumeDescriptor d = await BossVolumeDescriptor.CreateAsync(client, cut, default).ConfigureAwait(false);
        long rawBytes = d.Size.Volume * 8;
        Int3 shape = d.BlockShape;
        var blocks = new List<Box3>();
        for (int z = 0; z < d.Size.Z; z += shape.Z)
        {
            for (int y = 0; y < d.Size.Y; y += shape.Y)
            {
                for (int x = 0; x < d.Size.X; x += shape.X)
                {
                    blocks.Add(new Box3(new Int3(x, y, z), Int3.Min(new Int3(x, y, z) + shape, d.Size)));
                }
            }
        }

        Console.WriteLine($"loopback download: lab/big/seg {d.Size} uint64 = {rawBytes / (1 << 20)} MiB raw, {blocks.Count} blocks of {shape}, 4 in flight");
        using var http = new HttpClient();
        string Url(Box3 b, string route = "v1/cutout") => $"{server.BaseUri}{route}/lab/big/seg/0/{b.Begin.X}:{b.End.X}/{b.Begin.Y}:{b.End.Y}/{b.Begin.Z}:{b.End.Z}/?access-mode=no-cache";
        long bodyBytes = 0;
        async Task<double> PlainAsync(string route = "v1/cutout")
        {
            var clock = Stopwatch.StartNew();
            long total = 0;
            using var slots = new SemaphoreSlim(4);
            await Task.WhenAll(blocks.Select(async b =>
            {
                await slots.WaitAsync().ConfigureAwait(false);
                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, Url(b, route));
                    request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/blosc"));
                    request.Headers.TryAddWithoutValidation("Authorization", "Token " + BossTestServer.ValidToken);
                    using HttpResponseMessage response = await http.SendAsync(request).ConfigureAwait(false);
                    if (!response.IsSuccessStatusCode)
                    {
                        throw new InvalidOperationException($"{route}: {(int)response.StatusCode}");
                    }

                    byte[] body = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
                    Interlocked.Add(ref total, body.Length);
                }
                finally
                {
                    slots.Release();
                }
            })).ConfigureAwait(false);
            if (route == "v1/cutout")
            {
                bodyBytes = total;
            }
            return clock.Elapsed.TotalSeconds;
        }

        async Task<double> ClientAsync()
        {
            BossVolumeDescriptor fresh = await BossVolumeDescriptor.CreateAsync(client, cut, default).ConfigureAwait(false);
            using IVolumeReader reader = fresh.OpenReader();
            var clock = Stopwatch.StartNew();
            using var slots = new SemaphoreSlim(4);
            var buffers = new System.Collections.Concurrent.ConcurrentBag<byte[]>();
            await Task.WhenAll(blocks.Select(async b =>
            {
                await slots.WaitAsync().ConfigureAwait(false);
                byte[] buffer = buffers.TryTake(out byte[]? reused) && reused.Length == b.VoxelCount * 8 ? reused : new byte[b.VoxelCount * 8];
                try
                {
                    await reader.ReadAsync(b, buffer, default).ConfigureAwait(false);
                }
                finally
                {
                    buffers.Add(buffer);
                    slots.Release();
                }
            })).ConfigureAwait(false);
            return clock.Elapsed.TotalSeconds;
        }

        // Warm-up: the server renders and compresses every block once and keeps the bodies.
        await PlainAsync().ConfigureAwait(false);
        await PlainAsync("v1/raw").ConfigureAwait(false);
        await ClientAsync().ConfigureAwait(false);
        double plain = double.MaxValue, raw = double.MaxValue, ours = double.MaxValue;
        for (int run = 0; run < 3; run++)
        {
            plain = Math.Min(plain, await PlainAsync().ConfigureAwait(false));
            raw = Math.Min(raw, await PlainAsync("v1/raw").ConfigureAwait(false));
            ours = Math.Min(ours, await ClientAsync().ConfigureAwait(false));
        }

        Console.WriteLine($"  blosc frames on the wire: {bodyBytes / 1e6:F1} MB (compression {rawBytes / (double)bodyBytes:F1}:1)");
        Console.WriteLine($"  plain HTTP GET of the 1 GiB voxels, uncompressed: {raw:F2} s = {rawBytes / raw / 1e6:F0} MB/s");
        Console.WriteLine($"  plain HTTP GET of the blosc bodies (no decode):   {plain:F2} s = {rawBytes / plain / 1e6:F0} MB/s of voxels");
        Console.WriteLine($"  BossVolumeReader (verify + decode + assemble):   {ours:F2} s = {rawBytes / ours / 1e6:F0} MB/s of voxels");
        Console.WriteLine($"  ratio reader / plain GET of the same voxel bytes: {raw / ours:F2}  (target >= 0.8)");
        Console.WriteLine($"  ratio reader / plain GET of the compressed bodies: {plain / ours:F2}");
    }
}
