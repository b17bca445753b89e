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
using PrecomputedTools.Engine.Publishing;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Engine.Tiff;
using PrecomputedTools.Engine.Volumes;
using PrecomputedTools.TestServers;

namespace PrecomputedTools.Benchmarks;

/// <summary>
/// Where the Z-Brain pipeline (TIFF -> scale 0 -> all scales, 64-voxel chunks so there are many
/// objects) writes, each run in a child process for its wall time and peak memory: a folder with
/// flushes before renames (the default), a folder without them (the cost of durability), straight
/// to a local S3 server, and today's "folder, then Publish-PrecomputedS3". Modes alternate over
/// repetitions so machine load drifts affect them alike.
/// </summary>
public sealed class StorageBench : IBenchSection
{
    public const string ChildFlag = "--child-storage";
    private static readonly string[] s_modes = { "folder", "folder-nofsync", "s3", "folder+publish" };

    public string Name => "storage";

    public string Description => "Z-Brain pipeline (64-voxel chunks) to a folder (fsync / no fsync), straight to s3rver, and folder + publish: wall time and peak RSS";

    public void Run(BenchContext context)
    {
        if (!S3rverInstance.IsInstalled)
        {
            Console.WriteLine("  s3rver is not installed (run .ci/install-publish.sh): storage section not run.");
            return;
        }

        using S3rverInstance s3 = S3rverInstance.Start();
        var results = s_modes.ToDictionary(m => m, _ => new List<(double Wall, double Peak)>());
        const int Repetitions = 2;
        for (int rep = 0; rep < Repetitions; rep++)
        {
            foreach (string mode in rep % 2 == 0 ? s_modes : s_modes.Reverse())
            {
                results[mode].Add(RunChild(mode, context.ZBrainTiffPath, s3.Url, context.Threads));
            }
        }

        foreach (string mode in s_modes)
        {
            List<(double Wall, double Peak)> r = results[mode];
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "  {0,-16} wall {1} s (best {2:F2})   peak RSS {3} MB", mode, string.Join(" / ", r.Select(x => x.Wall.ToString("F2", CultureInfo.InvariantCulture))), r.Min(x => x.Wall), string.Join(" / ", r.Select(x => x.Peak.ToString("F0", CultureInfo.InvariantCulture)))));
        }

        double Best(string mode) => results[mode].Min(x => x.Wall);
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "  fsync cost: folder / folder-nofsync = {0:F2}x;  straight to S3 vs folder+publish: {1:F2}x faster (target >= 1)", Best("folder") / Best("folder-nofsync"), Best("folder+publish") / Best("s3")));
    }

    private static (double Wall, double Peak) RunChild(string mode, string tif, string endpoint, int threads)
    {
        string scratch = Path.Combine(Path.GetTempPath(), "pt-bench", "storage-" + Guid.NewGuid().ToString("N").Substring(0, 6));
        string text;
        try
        {
            text = BenchContext.RunSelf(ChildFlag, mode, tif, scratch, endpoint, threads.ToString(CultureInfo.InvariantCulture));
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

        string[] parts = text.Trim().Split('\n').Last().Trim().Split(' ');
        return (double.Parse(parts[0], CultureInfo.InvariantCulture), double.Parse(parts[1], CultureInfo.InvariantCulture));
    }

    /// <summary>Child process: one pipeline run in one mode; prints "wallSeconds peakMb".</summary>
    public static int RunChild(string[] args)
    {
        string mode = args[1], tif = args[2], scratch = args[3], endpoint = args[4];
        int threads = int.Parse(args[5], CultureInfo.InvariantCulture);
        var s3 = new S3ConnectionOptions { EndpointUrl = new Uri(endpoint), AccessKey = S3rverInstance.AccessKey, SecretKey = S3rverInstance.SecretKey };
        string bucket = "bench-" + Guid.NewGuid().ToString("N").Substring(0, 8);
        var clock = Stopwatch.StartNew();
        string location = mode == "s3" ? $"s3://{bucket}/zbrain" : Path.Combine(scratch, "zbrain");
        var options = new StoreOptions { S3 = s3, Durable = mode != "folder-nofsync", MaxInFlight = 16 };
        using (DatasetStore store = DatasetStore.Open(location, options, ChunkLayout.Flat, gzip: true))
        {
            if (store.Objects is S3Store s3Store)
            {
                s3Store.EnsureBucket();
            }

            VolumeDescriptor volume = TiffStackDescriptor.Open(tif, swapXY: true);
            var info = new PrecomputedInfo { Type = "segmentation", DataType = VoxelType.UInt64 };
            info.Scales.AddRange(ScalePyramid.Generate(volume.Size, new double[] { 798, 798, 2000 }, Int3.Zero, 64, ChunkEncodings.CompressedSegmentation, null));
            var write = new ChunkWriteOptions { ThrottleLimit = threads };
            using (IVolumeReader reader = volume.OpenReader())
            {
                ScaleWriter.WriteFromVolumeAsync(reader, store, info, write, OperationMonitor.None, CancellationToken.None).GetAwaiter().GetResult();
            }

            StagePlan down = StagePlanner.PlanDownscale(info, store.Location, store.Layout, store.Gzip, Enumerable.Range(1, info.Scales.Count - 1).ToArray(), DownscaleMethod.Majority);
            ScaleWriter.ExecuteAsync(down, store, null, write, null, OperationMonitor.None, CancellationToken.None).GetAwaiter().GetResult();
            store.CommitInfo(info);
        }

        if (mode == "folder+publish")
        {
            var publish = new S3PublishOptions
            {
                BucketName = bucket,
                KeyPrefix = "zbrain",
                EndpointUrl = s3.EndpointUrl,
                AccessKey = s3.AccessKey,
                SecretKey = s3.SecretKey,
                ThrottleLimit = 16,
                VerifyCount = 0,
            };
            using var publisher = new S3Publisher(publish);
            publisher.PublishAsync(PublishPlan.Create(location, null), OperationMonitor.None, CancellationToken.None).GetAwaiter().GetResult();
        }

        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "{0:F3} {1:F1}", clock.Elapsed.TotalSeconds, BenchContext.PeakResidentMegabytes()));
        return 0;
    }
}
