using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using PrecomputedTools.Engine.Stages;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Engine.Volumes;
using PrecomputedTools.Synthetic;
using PrecomputedTools.TestServers;

namespace PrecomputedTools.Benchmarks;

/// <summary>
/// Sharded against unsharded at a gigavoxel: the synthetic EM-like uint64 segmentation
/// (2048×2048×256 by default) through scale 0 and every lower scale, written unsharded and with
/// every scale sharded (parameters chosen from each grid, as -Sharded chooses them), to a folder
/// and straight to a local S3 server. Each run is a child process; it reports wall and CPU time,
/// voxels per second, peak RSS, the objects and bytes written and the PUT requests sent (what S3
/// bills). <c>PT_SHARD_DEPTH</c> sets another depth.
/// </summary>
public sealed class ShardBench : IBenchSection
{
    public const string ChildFlag = "--child-shards";
    private static readonly string[] s_modes = { "folder-unsharded", "folder-sharded", "s3-sharded", "s3-unsharded", "image-unsharded", "image-sharded" };

    public string Name => "shards";

    public string Description => "synthetic EM uint64 2048x2048x256 (1 Gvoxel) -> all scales, unsharded vs sharded, to a folder and to s3rver: time, peak RSS, objects, bytes, PUTs";

    public void Run(BenchContext context)
    {
        int depth = int.Parse(Environment.GetEnvironmentVariable("PT_SHARD_DEPTH") ?? "256", CultureInfo.InvariantCulture);
        bool s3Available = S3rverInstance.IsInstalled;
        if (!s3Available)
        {
            Console.WriteLine("  s3rver is not installed (run .ci/install-publish.sh): folder modes only.");
        }

        using S3rverInstance? s3 = s3Available ? S3rverInstance.Start() : null;
        double voxels = 2048.0 * 2048 * depth;
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "  2048x2048x{0} ({1:F2} Gvoxel), {2} threads, 64-voxel chunks, scale 0 + every lower scale:", depth, voxels / (1 << 30), context.Threads));
        var results = new Dictionary<string, string[]>();
        string[] only = (Environment.GetEnvironmentVariable("PT_SHARD_MODES") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries);
        foreach (string mode in s_modes.Where(m => (s3 is not null || !m.StartsWith("s3", StringComparison.Ordinal)) && (only.Length == 0 || only.Contains(m))))
        {
            string scratch = Path.Combine(Path.GetTempPath(), "pt-bench", "shards-" + Guid.NewGuid().ToString("N").Substring(0, 6));
            string text;
            try
            {
                text = BenchContext.RunSelf(ChildFlag, mode, scratch, depth.ToString(CultureInfo.InvariantCulture), context.Threads.ToString(CultureInfo.InvariantCulture), s3?.Url ?? "-");
            }
            finally
            {
                try
                {
                    Directory.Delete(scratch, recursive: true);
                }
                catch (IOException)
                {
                    // Leftovers in the temp folder do not affect the numbers.
                }
            }

            // "wall cpu peakMb objects bytes puts"
            string[] p = text.Trim().Split('\n').Last().Trim().Split(' ');
            results[mode] = p;
            double wall = Parse(p[0]), cpu = Parse(p[1]);
            Console.WriteLine(string.Format(
                CultureInfo.InvariantCulture,
                "    {0,-17} wall {1,7:F2} s   CPU {2,7:F2} s   {3,6:F1} Mvox/s   peak RSS {4,5:F0} MB   {5,7:N0} objects   {6,13:N0} bytes   {7}",
                mode,
                wall,
                cpu,
                voxels / 1e6 / wall,
                Parse(p[2]),
                long.Parse(p[3], CultureInfo.InvariantCulture),
                long.Parse(p[4], CultureInfo.InvariantCulture),
                p[5] == "-" ? "" : string.Format(CultureInfo.InvariantCulture, "{0:N0} PUTs", long.Parse(p[5], CultureInfo.InvariantCulture))));
        }

        foreach (string store in new[] { "folder", "s3", "image" })
        {
            if (results.TryGetValue(store + "-unsharded", out string[]? plain) && results.TryGetValue(store + "-sharded", out string[]? sharded))
            {
                Console.WriteLine(string.Format(
                    CultureInfo.InvariantCulture,
                    "    {0}: sharded / unsharded: objects {1:F4}x ({2:N0} -> {3:N0}), bytes {4:F3}x, wall {5:F2}x, peak RSS {6:F2}x{7}",
                    store,
                    double.Parse(sharded[3], CultureInfo.InvariantCulture) / double.Parse(plain[3], CultureInfo.InvariantCulture),
                    long.Parse(plain[3], CultureInfo.InvariantCulture),
                    long.Parse(sharded[3], CultureInfo.InvariantCulture),
                    Parse(sharded[4]) / Parse(plain[4]),
                    Parse(sharded[0]) / Parse(plain[0]),
                    Parse(sharded[2]) / Parse(plain[2]),
                    plain[5] == "-" ? "" : string.Format(CultureInfo.InvariantCulture, ", PUTs {0:N0} -> {1:N0}", long.Parse(plain[5], CultureInfo.InvariantCulture), long.Parse(sharded[5], CultureInfo.InvariantCulture))));
            }
        }
    }

    /// <summary>Child process: one run in one mode; prints "wall cpu peakMb objects bytes puts".</summary>
    public static int RunChild(string[] args)
    {
        string mode = args[1], scratch = args[2];
        int depth = int.Parse(args[3], CultureInfo.InvariantCulture);
        int threads = int.Parse(args[4], CultureInfo.InvariantCulture);
        string endpoint = args[5];
        bool sharded = mode.EndsWith("-sharded", StringComparison.Ordinal);
        bool toS3 = mode.StartsWith("s3", StringComparison.Ordinal);
        bool image = mode.StartsWith("image", StringComparison.Ordinal);
        SyntheticEmVolume labels = SyntheticEmVolume.Gigavoxel(depth);
        VolumeDescriptor volume = image ? new SyntheticEmImage(labels) : labels;

        // The image modes: the uint8 EM image under the segmentation as raw (gzip) chunks, where a
        // shard assembled from encoded chunks is nearly as large as its voxels.
        var info = image
            ? new PrecomputedInfo { Type = "image", DataType = VoxelType.UInt8 }
            : new PrecomputedInfo { Type = "segmentation", DataType = VoxelType.UInt64 };
        info.Scales.AddRange(ScalePyramid.Generate(volume.Size, volume.Resolution!, Int3.Zero, 64, image ? ChunkEncodings.Raw : ChunkEncodings.CompressedSegmentation, null));
        if (sharded)
        {
            foreach (ScaleInfo scale in info.Scales)
            {
                scale.Sharding = ShardingSpec.ForScale(scale, VoxelTypes.SizeOf(info.DataType)).ToJson();
            }
        }

        var storeOptions = new StoreOptions { MaxInFlight = 16 };
        if (toS3)
        {
            storeOptions.S3 = new S3ConnectionOptions { EndpointUrl = new Uri(endpoint), AccessKey = S3rverInstance.AccessKey, SecretKey = S3rverInstance.SecretKey };
        }

        string location = toS3 ? $"s3://bench-{Guid.NewGuid().ToString("N").Substring(0, 8)}/em" : Path.Combine(scratch, "em");
        TimeSpan cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        long puts = -1;
        using (DatasetStore store = DatasetStore.Open(location, storeOptions, ChunkLayout.Flat, gzip: true))
        {
            if (store.Objects is S3Store bucket)
            {
                bucket.EnsureBucket();
            }

            var write = new ChunkWriteOptions { ThrottleLimit = threads };
            using (IVolumeReader reader = volume.OpenReader())
            {
                ScaleWriter.WriteFromVolumeAsync(reader, store, info, write, OperationMonitor.None, CancellationToken.None).GetAwaiter().GetResult();
            }

            StagePlan down = StagePlanner.PlanDownscale(info, store.Location, store.Layout, store.Gzip, Enumerable.Range(1, info.Scales.Count - 1).ToArray(), image ? DownscaleMethod.Average : DownscaleMethod.Majority);
            ScaleWriter.ExecuteAsync(down, store, null, write, null, OperationMonitor.None, CancellationToken.None).GetAwaiter().GetResult();
            store.CommitInfo(info);
            store.Objects.Flush();
            if (store.Objects is S3Store written)
            {
                puts = written.PutRequests;
            }
        }

        double wall = clock.Elapsed.TotalSeconds;
        double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
        double peak = BenchContext.PeakResidentMegabytes();

        // What was written, counted by listing the store afterwards (not timed).
        long objects = 0, bytes = 0;
        using (DatasetStore again = DatasetStore.Open(location, storeOptions, ChunkLayout.Flat, gzip: true))
        {
            foreach (StoredObject o in again.Objects.List(""))
            {
                objects++;
                bytes += o.Length;
            }
        }

        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "{0:F3} {1:F3} {2:F1} {3} {4} {5}", wall, cpu, peak, objects, bytes, puts < 0 ? "-" : puts.ToString(CultureInfo.InvariantCulture)));
        return 0;
    }

    private static double Parse(string text) => double.Parse(text, CultureInfo.InvariantCulture);
}
