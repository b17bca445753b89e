using System;
using System.Diagnostics;
using System.IO;
using System.IO.Compression;
using System.Threading;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Publishing;
using PrecomputedTools.TestServers;

namespace PrecomputedTools.Benchmarks;

/// <summary>
/// Publishing 10,000 small files to a local s3rver: the module's publisher (many uploads in flight,
/// skip of unchanged objects) against a plain sequential PutObject loop and, where the AWS CLI is
/// installed, "aws s3 cp --recursive" of the same folder to the same server.
/// </summary>
public sealed class PublishBench : IBenchSection
{
    private const int FileCount = 10_000;

    public string Name => "publish";

    public string Description => $"publish {FileCount:N0} small files to local s3rver (module vs sequential loop vs aws s3 cp)";

    public void Run(BenchContext context)
    {
        if (!S3rverInstance.IsInstalled)
        {
            Console.WriteLine("  s3rver is not installed in tests/tools (run .ci/install-publish.sh); section skipped.");
            return;
        }

        string work = RepoPaths.NewScratch("bench-publish");
        string dataset = Path.Combine(work, "ds");
        long bytes = WriteDataset(dataset);
        Console.WriteLine($"  dataset: {FileCount:N0} files, {bytes / 1e6:N1} MB ({bytes / FileCount:N0} bytes per file on average)");
        using S3rverInstance s3 = S3rverInstance.Start();
        PublishPlan plan = PublishPlan.Create(dataset, "mesh");

        // Warm-up (JIT, s3rver's first bucket), not measured.
        TimePublish(s3, PublishPlan.Create(WriteSmall(work), null), "warmup", 8, out _);

        // Interleaved, each into a fresh bucket, so load from other processes hits every contender alike.
        double module1 = TimePublish(s3, plan, "module-a", 16, out int uploaded);
        Report("module, 16 in flight (run 1)", module1, uploaded);
        double sequential = TimeSequential(s3, plan, "sequential");
        Report("sequential PutObject loop", sequential, plan.Items.Count);
        string? aws = RepoPaths.FindExecutable("aws");
        double cli = aws is null ? -1 : TimeAwsCli(aws, s3, dataset);
        if (cli > 0)
        {
            Report("aws s3 cp --recursive", cli, FileCount);
        }

        double module2 = TimePublish(s3, plan, "module-b", 16, out uploaded);
        Report("module, 16 in flight (run 2)", module2, uploaded);
        double module32 = TimePublish(s3, plan, "module-c", 32, out uploaded);
        Report("module, 32 in flight", module32, uploaded);

        // A rerun over a published bucket: one listing, then every object is skipped by size and MD5.
        double rerun = TimePublish(s3, plan, "module-b", 16, out int reuploaded);
        Console.WriteLine($"  {"module rerun (all unchanged)",-36} {rerun,8:N2} s   {reuploaded} uploaded");

        double module = Math.Min(module1, module2);
        Console.WriteLine($"  ratio sequential / module(16, best of 2): {sequential / module:N1}x");
        if (cli > 0)
        {
            Console.WriteLine($"  ratio aws-cli / module(16, best of 2):    {cli / module:N1}x (target: >= 1)");
        }
        else
        {
            Console.WriteLine("  aws CLI not installed (or it failed): compared with the sequential loop only.");
        }

        Directory.Delete(work, recursive: true);
    }

    private static void Report(string what, double seconds, int files) =>
        Console.WriteLine($"  {what,-36} {seconds,8:N2} s   {files / seconds,8:N0} files/s");

    private static long WriteDataset(string dataset)
    {
        var random = new Random(7);
        string scale = Path.Combine(dataset, "8_8_8");
        Directory.CreateDirectory(scale);
        File.WriteAllText(Path.Combine(dataset, "info"), "{\"@type\":\"neuroglancer_multiscale_volume\",\"type\":\"segmentation\",\"data_type\":\"uint64\",\"num_channels\":1,\"scales\":[{\"key\":\"8_8_8\",\"size\":[3200,3200,32],\"voxel_offset\":[0,0,0],\"resolution\":[8,8,8],\"chunk_sizes\":[[32,32,32]],\"encoding\":\"compressed_segmentation\",\"compressed_segmentation_block_size\":[8,8,8]}]}");
        long total = new FileInfo(Path.Combine(dataset, "info")).Length;
        var payload = new byte[4096];
        for (int i = 0; i < FileCount - 1; i++)
        {
            int gx = i % 100, gy = i / 100;
            string file = Path.Combine(scale, $"{gx * 32}-{(gx + 1) * 32}_{gy * 32}-{(gy + 1) * 32}_0-32.gz");
            int length = 512 + random.Next(3000);
            random.NextBytes(payload.AsSpan(0, length));
            using (var output = File.Create(file))
            using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
            {
                gzip.Write(payload, 0, length);
            }

            total += new FileInfo(file).Length;
        }

        return total;
    }

    private static string WriteSmall(string work)
    {
        string dataset = Path.Combine(work, "warmup");
        Directory.CreateDirectory(Path.Combine(dataset, "s"));
        File.WriteAllText(Path.Combine(dataset, "info"), "{}");
        for (int i = 0; i < 200; i++)
        {
            File.WriteAllBytes(Path.Combine(dataset, "s", i.ToString(System.Globalization.CultureInfo.InvariantCulture)), new byte[1000]);
        }

        return dataset;
    }

    private static S3PublishOptions Options(S3rverInstance s3, string bucket, int throttle) => new()
    {
        BucketName = bucket,
        KeyPrefix = "ds",
        EndpointUrl = new Uri(s3.Url),
        AccessKey = S3rverInstance.AccessKey,
        SecretKey = S3rverInstance.SecretKey,
        ThrottleLimit = throttle,
    };

    private static double TimePublish(S3rverInstance s3, PublishPlan plan, string bucket, int throttle, out int uploaded)
    {
        using var publisher = new S3Publisher(Options(s3, bucket, throttle));
        var clock = Stopwatch.StartNew();
        S3PublishResult result = publisher.PublishAsync(plan, new OperationMonitor(), CancellationToken.None).GetAwaiter().GetResult();
        uploaded = result.UploadedCount;
        return clock.Elapsed.TotalSeconds;
    }

    private static double TimeSequential(S3rverInstance s3, PublishPlan plan, string bucket)
    {
        using var client = new AmazonS3Client(
            new BasicAWSCredentials(S3rverInstance.AccessKey, S3rverInstance.SecretKey),
            new AmazonS3Config
            {
                ServiceURL = s3.Url,
                ForcePathStyle = true,
                AuthenticationRegion = "us-east-1",
                RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
                ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            });
        client.PutBucketAsync(new PutBucketRequest { BucketName = bucket }).GetAwaiter().GetResult();
        var clock = Stopwatch.StartNew();
        foreach (PublishItem item in plan.Items)
        {
            var request = new PutObjectRequest
            {
                BucketName = bucket,
                Key = "ds/" + item.RelativeKey,
                FilePath = item.LocalPath,
                ContentType = item.ContentType,
                UseChunkEncoding = false,
            };
            if (item.ContentEncoding is not null)
            {
                request.Headers.ContentEncoding = item.ContentEncoding;
            }

            client.PutObjectAsync(request).GetAwaiter().GetResult();
        }

        return clock.Elapsed.TotalSeconds;
    }

    private static double TimeAwsCli(string aws, S3rverInstance s3, string dataset)
    {
        var mb = new ProcessStartInfo(aws) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { "--endpoint-url", s3.Url, "s3", "mb", "s3://awscli" })
        {
            mb.ArgumentList.Add(a);
        }

        var cp = new ProcessStartInfo(aws) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { "--endpoint-url", s3.Url, "s3", "cp", dataset, "s3://awscli/ds", "--recursive", "--only-show-errors" })
        {
            cp.ArgumentList.Add(a);
        }

        foreach (ProcessStartInfo start in new[] { mb, cp })
        {
            start.Environment["AWS_ACCESS_KEY_ID"] = S3rverInstance.AccessKey;
            start.Environment["AWS_SECRET_ACCESS_KEY"] = S3rverInstance.SecretKey;
            start.Environment["AWS_DEFAULT_REGION"] = "us-east-1";
        }

        RunToEnd(mb, out _);
        var clock = Stopwatch.StartNew();
        int code = RunToEnd(cp, out string errors);
        double seconds = clock.Elapsed.TotalSeconds;
        if (code != 0)
        {
            Console.WriteLine($"  aws s3 cp failed ({code}): {errors.Split('\n')[0]}");
            return -1;
        }

        return seconds;
    }

    private static int RunToEnd(ProcessStartInfo start, out string errors)
    {
        using Process process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        errors = stderr.GetAwaiter().GetResult();
        return process.ExitCode;
    }
}
