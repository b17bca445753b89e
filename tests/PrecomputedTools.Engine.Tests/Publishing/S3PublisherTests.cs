using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using PrecomputedTools.Engine.Publishing;
using PrecomputedTools.TestServers;
using Xunit;

namespace PrecomputedTools.Engine.Tests.Publishing;

public sealed class S3rverFixture : IDisposable
{
    public S3rverFixture() => Server = S3rverInstance.Start();

    public S3rverInstance Server { get; }

    public void Dispose() => Server.Dispose();
}

/// <summary>Publishing to a real S3-compatible server (s3rver from npm; moto where installed).</summary>
public class S3PublisherTests : IClassFixture<S3rverFixture>
{
    private static int s_bucketCounter;
    private readonly S3rverInstance _s3;

    public S3PublisherTests(S3rverFixture fixture) => _s3 = fixture.Server;

    internal static S3PublishOptions Options(string endpoint, string bucket, string prefix = "datasets/seg") => new()
    {
        BucketName = bucket,
        KeyPrefix = prefix,
        EndpointUrl = new Uri(endpoint),
        AccessKey = S3rverInstance.AccessKey,
        SecretKey = S3rverInstance.SecretKey,
        ThrottleLimit = 8,
        InitialBackoff = TimeSpan.FromMilliseconds(20),
    };

    private static string NewBucket() => "pt-test-" + Interlocked.Increment(ref s_bucketCounter) + "-" + Guid.NewGuid().ToString("N").Substring(0, 6);

    private static AmazonS3Client NewClient(string endpoint) => new(
        new BasicAWSCredentials(S3rverInstance.AccessKey, S3rverInstance.SecretKey),
        new AmazonS3Config
        {
            ServiceURL = endpoint,
            ForcePathStyle = true,
            AuthenticationRegion = "us-east-1",
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        });

    internal static async Task<List<S3Object>> ListAsync(string endpoint, string bucket)
    {
        using AmazonS3Client client = NewClient(endpoint);
        var all = new List<S3Object>();
        var request = new ListObjectsV2Request { BucketName = bucket };
        while (true)
        {
            ListObjectsV2Response response = await client.ListObjectsV2Async(request);
            all.AddRange(response.S3Objects ?? new List<S3Object>());
            if (response.IsTruncated != true)
            {
                return all;
            }

            request.ContinuationToken = response.NextContinuationToken;
        }
    }

    [Fact]
    public async Task PublishesEveryObjectWithExactBytesAndHeadersAndRerunsUploadNothing()
    {
        string scratch = RepoPaths.NewScratch("s3-publish");
        HandMadeDataset ds = HandMadeDataset.Write(scratch, "seg", colonFree: true);
        string bucket = NewBucket();
        using var publisher = new S3Publisher(Options(_s3.Url, bucket));
        PublishPlan plan = PublishPlan.Create(ds.Path, "mesh");
        var monitor = new OperationMonitor();
        S3PublishResult result = await publisher.PublishAsync(plan, monitor, CancellationToken.None);

        Assert.True(result.BucketCreated);
        Assert.Equal(ds.Files.Count, result.ObjectCount);
        Assert.Equal(ds.Files.Count, result.UploadedCount);
        Assert.Equal(0, result.SkippedCount);
        Assert.True(result.VerifiedCount >= 3);
        Assert.Equal(ds.Files.Count, monitor.CompletedItems);
        Assert.Equal(plan.TotalBytes, monitor.CompletedBytes);
        Assert.Equal($"{_s3.Url}/{bucket}/datasets/seg", result.Url);
        Assert.Equal("precomputed://" + result.Url, result.Source);
        Assert.Equal($"s3://{bucket}/datasets/seg", result.S3Uri);

        // Exactly the expected keys: no ".gz", no temp files, manifests under "<id>:0".
        var keys = (await ListAsync(_s3.Url, bucket)).Select(o => o.Key).OrderBy(k => k, StringComparer.Ordinal).ToList();
        Assert.Equal(ds.Files.Keys.Select(k => "datasets/seg/" + k).OrderBy(k => k, StringComparer.Ordinal), keys);

        // Every object through an anonymous client that does not inflate.
        using HttpClient http = HostingChecks.NewClient();
        foreach (string key in ds.Files.Keys)
        {
            using HttpResponseMessage response = await HostingChecks.GetAsync(http, result.Url + "/" + key, acceptGzip: true);
            Assert.True(response.StatusCode == HttpStatusCode.OK, key + ": " + response.StatusCode);
            Assert.Equal(ds.StoredBytes(key), await response.Content.ReadAsByteArrayAsync());
            Assert.Equal(ds.GzipKeys.Contains(key) ? "gzip" : null, HostingChecks.Header(response, "Content-Encoding"));
            Assert.Equal(ds.JsonKeys.Contains(key) ? "application/json" : "application/octet-stream", HostingChecks.Header(response, "Content-Type"));
        }

        // CORS is enforced by s3rver: nothing before the rule, the rule's headers after it.
        string chunkUrl = result.Url + "/" + ds.FirstGzipChunk;
        using (HttpResponseMessage preflight = await Preflight(http, chunkUrl))
        {
            Assert.NotEqual(HttpStatusCode.OK, preflight.StatusCode);
            Assert.Null(HostingChecks.Header(preflight, "Access-Control-Allow-Origin"));
        }

        await publisher.SetCorsAsync(CancellationToken.None);
        using (HttpResponseMessage preflight = await Preflight(http, chunkUrl))
        {
            Assert.Equal(HttpStatusCode.OK, preflight.StatusCode);
            Assert.NotNull(HostingChecks.Header(preflight, "Access-Control-Allow-Origin"));
            Assert.Contains("GET", HostingChecks.Header(preflight, "Access-Control-Allow-Methods") ?? "");
        }

        using (HttpResponseMessage get = await HostingChecks.GetAsync(http, chunkUrl, acceptGzip: true))
        {
            Assert.NotNull(HostingChecks.Header(get, "Access-Control-Allow-Origin"));
            string expose = HostingChecks.Header(get, "Access-Control-Expose-Headers") ?? "";
            foreach (string h in new[] { "ETag", "Content-Range", "Content-Encoding", "Content-Length" })
            {
                Assert.Contains(h, expose, StringComparison.OrdinalIgnoreCase);
            }
        }

        using (AmazonS3Client client = NewClient(_s3.Url))
        {
            GetCORSConfigurationResponse cors = await client.GetCORSConfigurationAsync(new GetCORSConfigurationRequest { BucketName = bucket });
            CORSRule rule = Assert.Single(cors.Configuration.Rules);
            Assert.Equal(new[] { "GET", "HEAD" }, rule.AllowedMethods.OrderBy(m => m));
            Assert.Equal(new[] { "*" }, rule.AllowedOrigins);
        }

        // A rerun finds everything in place and uploads nothing.
        S3PublishResult again = await publisher.PublishAsync(PublishPlan.Create(ds.Path, "mesh"), new OperationMonitor(), CancellationToken.None);
        Assert.Equal(0, again.UploadedCount);
        Assert.Equal(ds.Files.Count, again.SkippedCount);

        // A changed file of the same size is found by its MD5 and is the only upload.
        byte[] changed = ds.StoredBytes(ds.PlainChunk);
        changed[100] ^= 0xFF;
        File.WriteAllBytes(ds.Files[ds.PlainChunk], changed);
        S3PublishResult third = await publisher.PublishAsync(PublishPlan.Create(ds.Path, "mesh"), new OperationMonitor(), CancellationToken.None);
        Assert.Equal(1, third.UploadedCount);
        using (HttpResponseMessage response = await HostingChecks.GetAsync(http, result.Url + "/" + ds.PlainChunk, acceptGzip: true))
        {
            Assert.Equal(changed, await response.Content.ReadAsByteArrayAsync());
        }

        // -Force uploads everything again.
        var forced = Options(_s3.Url, bucket);
        forced.Force = true;
        using var forcedPublisher = new S3Publisher(forced);
        Assert.Equal(ds.Files.Count, (await forcedPublisher.PublishAsync(PublishPlan.Create(ds.Path, "mesh"), new OperationMonitor(), CancellationToken.None)).UploadedCount);
        Directory.Delete(scratch, recursive: true);
    }

    private static async Task<HttpResponseMessage> Preflight(HttpClient http, string url)
    {
        using var request = new HttpRequestMessage(HttpMethod.Options, url);
        request.Headers.TryAddWithoutValidation("Origin", "http://viewer.example");
        request.Headers.TryAddWithoutValidation("Access-Control-Request-Method", "GET");
        return await http.SendAsync(request);
    }

    [Fact]
    public async Task InterruptedUploadResumesWithOnlyTheMissingObjects()
    {
        string scratch = RepoPaths.NewScratch("s3-resume");
        HandMadeDataset ds = HandMadeDataset.Write(scratch, "seg", extraChunks: 300);
        string bucket = NewBucket();
        var options = Options(_s3.Url, bucket, "resume");
        options.ThrottleLimit = 2;
        using var publisher = new S3Publisher(options);
        var monitor = new OperationMonitor();
        using var cancel = new CancellationTokenSource();
        Task<S3PublishResult> run = publisher.PublishAsync(PublishPlan.Create(ds.Path, "mesh"), monitor, cancel.Token);
        while (monitor.CompletedItems < 40 && !run.IsCompleted)
        {
            await Task.Delay(5);
        }

        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        // A request the client abandoned may still land on the server a moment later: wait until the count settles.
        int present = (await ListAsync(_s3.Url, bucket)).Count;
        for (int previous = -1; previous != present;)
        {
            previous = present;
            await Task.Delay(300);
            present = (await ListAsync(_s3.Url, bucket)).Count;
        }

        Assert.InRange(present, 40, ds.Files.Count - 1);

        // s3rver keeps the truncated body of an upload aborted mid-way; only intact objects may be skipped.
        int intact = (await ListAsync(_s3.Url, bucket)).Count(o =>
            ds.Files.TryGetValue(o.Key.Substring("resume/".Length), out string? file)
            && o.Size == new FileInfo(file).Length
            && o.ETag.Trim('"') == Convert.ToHexString(System.Security.Cryptography.MD5.HashData(File.ReadAllBytes(file))).ToLowerInvariant());
        Assert.InRange(intact, present - options.ThrottleLimit, present);

        S3PublishResult resumed = await publisher.PublishAsync(PublishPlan.Create(ds.Path, "mesh"), new OperationMonitor(), CancellationToken.None);
        Assert.Equal(ds.Files.Count - intact, resumed.UploadedCount);
        Assert.Equal(intact, resumed.SkippedCount);
        List<S3Object> final = await ListAsync(_s3.Url, bucket);
        Assert.Equal(ds.Files.Count, final.Count);
        Assert.All(final, o => Assert.Equal(new FileInfo(ds.Files[o.Key.Substring("resume/".Length)]).Length, o.Size));
        Directory.Delete(scratch, recursive: true);
    }

    [Fact]
    public async Task UnreachableEndpointIsAConnectionError()
    {
        string scratch = RepoPaths.NewScratch("s3-unreachable");
        HandMadeDataset ds = HandMadeDataset.Write(scratch, "seg");
        var options = Options("http://127.0.0.1:" + Ports.GetFree(), "nobucket");
        using var publisher = new S3Publisher(options);
        var ex = await Assert.ThrowsAsync<EngineException>(() => publisher.PublishAsync(PublishPlan.Create(ds.Path, "mesh"), new OperationMonitor(), CancellationToken.None));
        Assert.Equal("S3EndpointUnreachable", ex.ErrorId);
        Assert.Equal(EngineErrorKind.ConnectionError, ex.Kind);
    }

    [Fact]
    public async Task SendsPlainBodiesAndRetriesTransientFailuresWithBackoff()
    {
        string scratch = RepoPaths.NewScratch("s3-retry");
        HandMadeDataset ds = HandMadeDataset.Write(scratch, "seg");
        // Every key fails twice with 503 SlowDown, then succeeds.
        using var fake = new FakeS3((key, attempt) => attempt <= 2 ? 503 : 200);
        var options = Options(fake.Url, "bucket");
        options.VerifyCount = 0;
        using var publisher = new S3Publisher(options);
        S3PublishResult result = await publisher.PublishAsync(PublishPlan.Create(ds.Path, "mesh"), new OperationMonitor(), CancellationToken.None);
        Assert.Equal(ds.Files.Count, result.UploadedCount);
        foreach (string key in ds.Files.Keys)
        {
            List<FakeS3.Put> puts = fake.Puts.Where(p => p.Key == "datasets/seg/" + key).ToList();
            Assert.Equal(3, puts.Count);
            foreach (FakeS3.Put put in puts)
            {
                // No aws-chunked framing, a signed hex payload hash, the body exactly the file, the encoding exactly as stored.
                Assert.Equal(ds.StoredBytes(key), put.Body);
                Assert.Equal(ds.GzipKeys.Contains(key) ? "gzip" : null, put.ContentEncoding);
                Assert.Matches("^[0-9a-f]{64}$", put.PayloadHash);
                Assert.Equal(ds.JsonKeys.Contains(key) ? "application/json" : "application/octet-stream", put.ContentType);
                Assert.NotNull(put.ContentMd5);
            }
        }
    }

    [Fact]
    public async Task ABrokenListingFallsBackToAHeadPerObject()
    {
        string scratch = RepoPaths.NewScratch("s3-nolist");
        HandMadeDataset ds = HandMadeDataset.Write(scratch, "seg");
        using var fake = new FakeS3((key, attempt) => 200) { FailListing = true };
        var options = Options(fake.Url, "bucket");
        options.VerifyCount = 0;
        options.MaxAttempts = 2;
        using var publisher = new S3Publisher(options);
        var monitor = new OperationMonitor();
        S3PublishResult result = await publisher.PublishAsync(PublishPlan.Create(ds.Path, "mesh"), monitor, CancellationToken.None);
        Assert.Equal(ds.Files.Count, result.UploadedCount);
        Assert.Equal(2, fake.ListRequests);
        var warnings = new List<string>();
        while (monitor.TryDequeue(out EngineMessage message))
        {
            if (message.Level == EngineMessageLevel.Warning)
            {
                warnings.Add(message.Text);
            }
        }

        Assert.Contains(warnings, w => w.Contains("checking each object with HEAD", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PermanentFailuresAreReportedAsS3UploadFailedAfterTheOthersFinish()
    {
        string scratch = RepoPaths.NewScratch("s3-fail");
        HandMadeDataset ds = HandMadeDataset.Write(scratch, "seg");
        string badKey = "datasets/seg/" + ds.PlainChunk;
        using var fake = new FakeS3((key, attempt) => key == badKey ? 400 : 200);
        var options = Options(fake.Url, "bucket");
        options.VerifyCount = 0;
        using var publisher = new S3Publisher(options);
        var ex = await Assert.ThrowsAsync<EngineException>(() => publisher.PublishAsync(PublishPlan.Create(ds.Path, "mesh"), new OperationMonitor(), CancellationToken.None));
        Assert.Equal("S3UploadFailed", ex.ErrorId);
        Assert.Equal(EngineErrorKind.WriteError, ex.Kind);
        Assert.Equal("s3://bucket/" + badKey, ex.Target);
        Assert.Contains("request id", ex.Message);
        Assert.Contains("Run the command again", ex.Message);
        Assert.Single(fake.Puts, p => p.Key == badKey);
        Assert.Equal(ds.Files.Count, fake.Puts.Select(p => p.Key).Distinct().Count());
    }

    [Fact]
    public void PublicReadPolicyIsReadOnlyAndScopedToThePrefix()
    {
        using JsonDocument policy = JsonDocument.Parse(S3Publisher.BuildPublicReadPolicy("my-bucket", "/datasets/zbrain/"));
        Assert.Equal("2012-10-17", policy.RootElement.GetProperty("Version").GetString());
        JsonElement statement = Assert.Single(policy.RootElement.GetProperty("Statement").EnumerateArray());
        Assert.Equal("Allow", statement.GetProperty("Effect").GetString());
        Assert.Equal("*", statement.GetProperty("Principal").GetString());
        Assert.Equal("s3:GetObject", statement.GetProperty("Action").GetString());
        Assert.Equal("arn:aws:s3:::my-bucket/datasets/zbrain/*", statement.GetProperty("Resource").GetString());
        using JsonDocument whole = JsonDocument.Parse(S3Publisher.BuildPublicReadPolicy("b", ""));
        Assert.Equal("arn:aws:s3:::b/*", whole.RootElement.GetProperty("Statement")[0].GetProperty("Resource").GetString());
    }

    [Fact]
    public async Task OnMotoThePolicyMakesExactlyThePrefixPubliclyReadable()
    {
        if (MotoInstance.Executable is null)
        {
            // moto is not on npm or in Debian; where it is absent the policy document is checked above
            // and the API calls below cannot run. Assert the absence is real rather than pass silently.
            Assert.Null(RepoPaths.FindExecutable("moto_server"));
            return;
        }

        using MotoInstance moto = MotoInstance.Start();
        string scratch = RepoPaths.NewScratch("s3-moto");
        HandMadeDataset ds = HandMadeDataset.Write(scratch, "seg");
        string bucket = NewBucket();
        using var publisher = new S3Publisher(Options(moto.Url, bucket, "public/seg"));
        S3PublishResult result = await publisher.PublishAsync(PublishPlan.Create(ds.Path, "mesh"), new OperationMonitor(), CancellationToken.None);
        Assert.Equal(ds.Files.Count, result.UploadedCount);
        using (AmazonS3Client client = NewClient(moto.Url))
        {
            await client.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "private/secret", ContentBody = "secret", UseChunkEncoding = false });
        }

        using HttpClient http = HostingChecks.NewClient();
        string chunkUrl = result.Url + "/" + ds.FirstGzipChunk;
        Assert.Equal(HttpStatusCode.Forbidden, (await HostingChecks.GetAsync(http, chunkUrl, true)).StatusCode);
        await publisher.SetPublicReadPolicyAsync(new OperationMonitor(), CancellationToken.None);
        using (HttpResponseMessage response = await HostingChecks.GetAsync(http, chunkUrl, true))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(ds.StoredBytes(ds.FirstGzipChunk), await response.Content.ReadAsByteArrayAsync());
            // moto keeps "gzip, aws-chunked" when the SDK's chunked upload is used; ours must be exactly gzip.
            Assert.Equal("gzip", HostingChecks.Header(response, "Content-Encoding"));
        }

        Assert.Equal(HttpStatusCode.Forbidden, (await HostingChecks.GetAsync(http, $"{moto.Url}/{bucket}/private/secret", true)).StatusCode);
        using (AmazonS3Client client = NewClient(moto.Url))
        {
            GetBucketPolicyResponse stored = await client.GetBucketPolicyAsync(new GetBucketPolicyRequest { BucketName = bucket });
            Assert.Contains($"arn:aws:s3:::{bucket}/public/seg/*", stored.Policy);
        }
    }
}
