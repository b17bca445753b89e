using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Net.Http;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Publishing;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Engine.Tests.Publishing;
using PrecomputedTools.Engine.Tiff;
using PrecomputedTools.TestServers;
using PrecomputedTools.Tests.Shared;
using Xunit;

namespace PrecomputedTools.Engine.Tests.Stores;

/// <summary>The object-store contract, the same for a folder and an S3-compatible server; and the http store.</summary>
public class ObjectStoreTests : IClassFixture<S3rverFixture>
{
    private static int s_counter;
    private readonly S3rverInstance _s3;

    public ObjectStoreTests(S3rverFixture fixture) => _s3 = fixture.Server;

    internal static StoreOptions S3Options(string endpoint) => new()
    {
        S3 = new S3ConnectionOptions { EndpointUrl = new Uri(endpoint), AccessKey = S3rverInstance.AccessKey, SecretKey = S3rverInstance.SecretKey },
    };

    internal static AmazonS3Client RawClient(string endpoint, string accessKey = S3rverInstance.AccessKey, string secretKey = S3rverInstance.SecretKey) => new(
        new BasicAWSCredentials(accessKey, secretKey),
        new AmazonS3Config
        {
            ServiceURL = endpoint,
            ForcePathStyle = true,
            AuthenticationRegion = "us-east-1",
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        });

    internal static string NewBucket(string endpoint, string accessKey = S3rverInstance.AccessKey, string secretKey = S3rverInstance.SecretKey)
    {
        string bucket = "pt-store-" + Interlocked.Increment(ref s_counter) + "-" + Guid.NewGuid().ToString("N").Substring(0, 6);
        using AmazonS3Client client = RawClient(endpoint, accessKey, secretKey);
        client.PutBucketAsync(bucket).GetAwaiter().GetResult();
        return bucket;
    }

    private IObjectStore Open(string kind) => kind switch
    {
        "folder" => StoreLocation.Open(TestData.NewScratch("store")),
        "file-url" => StoreLocation.Open(new Uri(TestData.NewScratch("store")).AbsoluteUri),
        _ => StoreLocation.Open("s3://" + NewBucket(_s3.Url) + "/some/prefix", S3Options(_s3.Url)),
    };

    [Theory]
    [InlineData("folder")]
    [InlineData("file-url")]
    [InlineData("s3")]
    public void WrittenObjectsReadBackWithTheirFormRangesListsAndDeletes(string kind)
    {
        using IObjectStore store = Open(kind);
        byte[] content = Enumerable.Range(0, 5000).Select(i => (byte)(i * 7)).ToArray();
        store.Write("1um/0-64_0-64_0-64", content, gzip: true);
        store.Write("2um/a/b/c", content, gzip: false);
        store.Write("info", Encoding.UTF8.GetBytes("{}"), gzip: false);

        using (PooledBytes? read = store.Read("1um/0-64_0-64_0-64", 1 << 20))
        {
            Assert.Equal(content, read!.ToArray());
        }

        Assert.Null(store.Read("1um/missing", 100));
        Assert.Null(store.Stat("1um/missing"));
        Assert.True(store.Stat("1um/0-64_0-64_0-64")!.Value.Gzip);
        Assert.False(store.Stat("2um/a/b/c")!.Value.Gzip);
        Assert.Equal(content.Length, store.Stat("2um/a/b/c")!.Value.Length);
        Assert.Equal(content.AsSpan(100, 50).ToArray(), store.ReadRange("2um/a/b/c", 100, 50));
        Assert.Equal(content.AsSpan(4990, 10).ToArray(), store.ReadRange("2um/a/b/c", 4990, 50));
        Assert.Null(store.ReadRange("nothing", 0, 10));

        // Rewriting in the other form leaves exactly one object under the key.
        store.Write("1um/0-64_0-64_0-64", content, gzip: false);
        Assert.False(store.Stat("1um/0-64_0-64_0-64")!.Value.Gzip);
        Assert.Equal(new[] { "1um/0-64_0-64_0-64", "2um/a/b/c", "info" }, store.List("").Select(o => o.Key).OrderBy(k => k, StringComparer.Ordinal));
        Assert.Equal(new[] { "2um/a/b/c" }, store.List("2um/").Select(o => o.Key));

        // A streamed write is invisible until committed; disposing without commit leaves nothing.
        using (IObjectWriter writer = store.OpenWrite("3um/x", gzip: true))
        {
            writer.Write(content.AsSpan(0, 10));
            Assert.Null(store.Stat("3um/x"));
        }

        Assert.Null(store.Stat("3um/x"));
        using (IObjectWriter writer = store.OpenWrite("3um/x", gzip: true))
        {
            writer.Write(content.AsSpan(0, 10));
            writer.Write(content.AsSpan(10, 20));
            writer.Commit();
        }

        using (PooledBytes? read = store.Read("3um/x", 1000))
        {
            Assert.Equal(content.AsSpan(0, 30).ToArray(), read!.ToArray());
        }

        Assert.True(store.Delete("3um/x"));
        Assert.False(store.Delete("3um/x"));
        Assert.Null(store.Stat("3um/x"));
        store.Flush();
    }

    [Theory]
    [InlineData("folder")]
    [InlineData("s3")]
    public void AGzipBombStopsAtTheLegalSize(string kind)
    {
        using IObjectStore store = Open(kind);
        store.Write("bomb", new byte[4 << 20], gzip: true); // 4 MB of zeros, a few KB stored
        Assert.True(store.Stat("bomb")!.Value.Length < 64 << 10);
        var ex = Assert.Throws<EngineException>(() => store.Read("bomb", 1 << 20));
        Assert.Equal("ObjectTooLarge", ex.ErrorId);
        Assert.Equal(EngineErrorKind.InvalidData, ex.Kind);
        using PooledBytes? whole = store.Read("bomb", 4 << 20);
        Assert.Equal(4 << 20, whole!.Length);
    }

    [Fact]
    public async Task S3ObjectsCarryThePublishersHeaders()
    {
        string bucket = NewBucket(_s3.Url);
        using (IObjectStore store = StoreLocation.Open($"s3://{bucket}/ds", S3Options(_s3.Url)))
        {
            store.Write("1um/0-8_0-8_0-8", new byte[] { 1, 0, 0, 0, 5, 6 }, gzip: true);
            store.Write("info", Encoding.UTF8.GetBytes("{\"type\":\"segmentation\"}"), gzip: false);
            store.Write("mesh/12:0", Encoding.UTF8.GetBytes("{\"fragments\":[]}"), gzip: false);
        }

        using AmazonS3Client client = RawClient(_s3.Url);
        using (GetObjectResponse chunk = await client.GetObjectAsync(bucket, "ds/1um/0-8_0-8_0-8"))
        {
            Assert.Equal("gzip", chunk.Headers.ContentEncoding);
            Assert.Equal(PublishRules.BinaryType, chunk.Headers.ContentType);
            using var raw = new MemoryStream();
            chunk.ResponseStream.CopyTo(raw);
            Assert.True(PublishRules.IsGzip(raw.ToArray()), "the stored bytes are gzip under the plain key");
        }

        foreach (string key in new[] { "ds/info", "ds/mesh/12:0" })
        {
            using GetObjectResponse json = await client.GetObjectAsync(bucket, key);
            Assert.Equal(PublishRules.JsonType, json.Headers.ContentType);
            Assert.True(string.IsNullOrEmpty(json.Headers.ContentEncoding));
        }
    }

    [Fact]
    public void HttpStoreReadsGzipAndRangesAndRefusesWrites()
    {
        string folder = TestData.NewScratch("http-store");
        var local = new FolderStore(folder);
        byte[] content = Enumerable.Range(0, 3000).Select(i => (byte)i).ToArray();
        local.Write("1um/0-8_0-8_0-8", content, gzip: true);
        local.Write("shard/0.shard", content, gzip: false);
        using var server = new StaticFileServer(folder);
        server.Start();
        using IObjectStore http = StoreLocation.Open("precomputed://" + server.Url + "/");
        Assert.Equal(StoreKind.Http, http.Kind);
        Assert.False(http.CanWrite);
        using (PooledBytes? read = http.Read("1um/0-8_0-8_0-8", 1 << 20))
        {
            Assert.Equal(content, read!.ToArray());
        }

        Assert.Null(http.Read("1um/absent", 100));
        Assert.Null(http.Stat("1um/absent"));
        Assert.Equal(content.Length, http.Stat("shard/0.shard")!.Value.Length);
        Assert.Equal(content.AsSpan(1000, 16).ToArray(), http.ReadRange("shard/0.shard", 1000, 16));
        var ex = Assert.Throws<EngineException>(() => http.Write("x", content, false));
        Assert.Equal("StoreIsReadOnly", ex.ErrorId);
        Assert.Equal("StoreCannotList", Assert.Throws<EngineException>(() => http.List("").ToList()).ErrorId);
    }

    [Theory]
    [InlineData("ftp://host/ds", "UnknownStoreScheme")]
    [InlineData("s3:///ds", "InvalidStoreLocation")]
    public void BadLocationsHaveStableIds(string location, string errorId)
    {
        var ex = Assert.Throws<EngineException>(() => StoreLocation.Open(location));
        Assert.Equal(errorId, ex.ErrorId);
        Assert.Equal(EngineErrorKind.InvalidArgument, ex.Kind);
    }

    [Fact]
    public void AMissingBucketIsS3BucketNotFoundBeforeAnyWrite()
    {
        using var store = (S3Store)StoreLocation.Open("s3://pt-no-such-bucket-" + Guid.NewGuid().ToString("N").Substring(0, 8) + "/ds", S3Options(_s3.Url));
        var ex = Assert.Throws<EngineException>(() => store.CheckBucket());
        Assert.Equal("S3BucketNotFound", ex.ErrorId);
        Assert.Equal(EngineErrorKind.ObjectNotFound, ex.Kind);
    }

    [Fact]
    public void AFolderUnderAFileIsOutputIsAFile()
    {
        string scratch = TestData.NewScratch("under-file");
        string file = Path.Combine(scratch, "plain.txt");
        File.WriteAllText(file, "x");
        var store = new FolderStore(Path.Combine(file, "dataset"));
        var ex = Assert.Throws<EngineException>(() => store.Write("info", new byte[] { 1 }, false));
        Assert.Equal("OutputIsAFile", ex.ErrorId);
        Assert.Equal("OutputIsAFile", Assert.Throws<EngineException>(() => FileErrors.RequireFolderPath(file)).ErrorId);
    }

    [Fact]
    public void FolderWritesLeaveNoTemporaryFiles()
    {
        string scratch = TestData.NewScratch("durable");
        var store = new FolderStore(scratch);
        for (int i = 0; i < 20; i++)
        {
            store.Write($"s/{i}", new byte[] { (byte)i }, gzip: i % 2 == 0);
        }

        store.Flush();
        Assert.Empty(Directory.EnumerateFiles(scratch, "*" + AtomicFile.TempSuffix, SearchOption.AllDirectories));
        Assert.Equal(20, Directory.EnumerateFiles(Path.Combine(scratch, "s")).Count());
    }
}
