using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Net;
using System.Net.Http;
using System.Security;
using System.Text.RegularExpressions;
using PrecomputedTools.TestServers;
using Xunit;

namespace PrecomputedTools.Module.Tests;

/// <summary>Issue 10 through the cmdlets: datasets in folders and on S3, settings that survive every stage, bad locations.</summary>
public class StorageCmdletTests : IClassFixture<ModuleS3rverFixture>
{
    private static int s_buckets;
    private readonly S3rverInstance _s3;

    public StorageCmdletTests(ModuleS3rverFixture fixture) => _s3 = fixture.Server;

    private static string SampleFolder => Path.Combine(Paths.RepoRoot, "module", "samples", "sample-labels");

    private static PSCredential Credential()
    {
        var secret = new SecureString();
        foreach (char c in S3rverInstance.SecretKey)
        {
            secret.AppendChar(c);
        }

        return new PSCredential(S3rverInstance.AccessKey, secret);
    }

    private static HttpClient NewClient() => new(new HttpClientHandler { AutomaticDecompression = DecompressionMethods.None });

    // s3rver accepts any request; a bucket made with a plain PUT keeps the tests free of AWSSDK.
    private string NewBucket()
    {
        string bucket = "pt-mod-" + System.Threading.Interlocked.Increment(ref s_buckets) + "-" + Guid.NewGuid().ToString("N").Substring(0, 6);
        using HttpClient http = NewClient();
        using HttpResponseMessage response = http.PutAsync(_s3.Url + "/" + bucket, new ByteArrayContent(Array.Empty<byte>())).GetAwaiter().GetResult();
        Assert.True(response.IsSuccessStatusCode, "creating the bucket: " + response.StatusCode);
        return bucket;
    }

    private List<string> ListKeys(string bucket, string prefix)
    {
        using HttpClient http = NewClient();
        var keys = new List<string>();
        string? token = null;
        do
        {
            string url = $"{_s3.Url}/{bucket}?list-type=2&prefix={Uri.EscapeDataString(prefix)}" + (token is null ? "" : "&continuation-token=" + Uri.EscapeDataString(token));
            string xml = http.GetStringAsync(url).GetAwaiter().GetResult();
            keys.AddRange(Regex.Matches(xml, "<Key>([^<]*)</Key>").Select(m => WebUtility.HtmlDecode(m.Groups[1].Value)));
            Match next = Regex.Match(xml, "<NextContinuationToken>([^<]*)</NextContinuationToken>");
            token = next.Success ? WebUtility.HtmlDecode(next.Groups[1].Value) : null;
        }
        while (token is not null);
        return keys;
    }

    private static bool IsGzipEncoded(string url)
    {
        using HttpClient http = NewClient();
        using HttpResponseMessage response = http.GetAsync(url).GetAwaiter().GetResult();
        Assert.True(response.IsSuccessStatusCode, url);
        return response.Content.Headers.ContentEncoding.Contains("gzip");
    }

    private Dictionary<string, object?> S3Vars(string location) => new()
    {
        ["samples"] = SampleFolder,
        ["loc"] = location,
        ["endpoint"] = _s3.Url,
        ["cred"] = Credential(),
    };

    [Theory]
    [InlineData("folder", false, "Nested")]
    [InlineData("folder", true, "Flat")]
    [InlineData("s3", false, "Nested")]
    [InlineData("s3", true, "Flat")]
    public void GzipLayoutAndLabelTypeSurviveEveryStage(string kind, bool gzip, string layout)
    {
        using var session = new ModuleSession();
        string? bucket = kind == "s3" ? NewBucket() : null;
        string location = bucket is null ? Path.Combine(Paths.NewScratch("survive"), "ds") : $"s3://{bucket}/sets/ds";
        string s3 = bucket is null ? "" : " -EndpointUrl $endpoint -Credential $cred";
        string noGzip = gzip ? "" : " -NoGzip";

        // Convert and downscale in one pipeline; mesh and check later, opened by location (the
        // settings are revealed from what is stored).
        var datasets = session.RunOk(
            $"Import-TiffStack -Path $samples -Resolution 800,800,2000 | ConvertTo-CompressedSegmentation -Path $loc -TargetChunkSize 32 -LabelType uint32 -Layout {layout}{noGzip}{s3} | Invoke-MajorityDownscale",
            S3Vars(location));
        PSObject dataset = Assert.Single(datasets);
        Assert.Equal(layout, dataset.Properties["ChunkLayout"].Value);
        Assert.Equal(gzip, dataset.Properties["Gzip"].Value);
        Assert.Equal("uint32", dataset.Properties["DataType"].Value);
        session.RunOk($"New-SegmentMesh -Path $loc -SegmentId 1,2,3{s3} | Out-Null", S3Vars(location));
        var report = Assert.Single(session.RunOk($"Test-PrecomputedDataset -Path $loc{s3}", S3Vars(location)));
        Assert.True((bool)report.Properties["IsValid"].Value, string.Join("\n", (string[])report.Properties["Problems"].Value));
        var reopened = Assert.Single(session.RunOk($"Invoke-MajorityDownscale -Path $loc -Resume{s3}", S3Vars(location)));
        Assert.Equal(layout, reopened.Properties["ChunkLayout"].Value);
        Assert.Equal(gzip, reopened.Properties["Gzip"].Value);

        // Every chunk of every scale is stored the same way.
        int scales = ((Array)dataset.Properties["Scales"].Value).Length;
        Assert.True(scales >= 3, "the sample gives several scales");
        List<string> chunkKeys;
        if (bucket is null)
        {
            var files = Directory.EnumerateFiles(location, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(location, f).Replace('\\', '/')).ToList();
            chunkKeys = files.Where(f => f != "info" && !f.StartsWith("mesh/", StringComparison.Ordinal)).ToList();
            Assert.All(chunkKeys, f => Assert.Equal(gzip, f.EndsWith(".gz", StringComparison.Ordinal)));
            chunkKeys = chunkKeys.Select(f => f.EndsWith(".gz", StringComparison.Ordinal) ? f.Substring(0, f.Length - 3) : f).ToList();
        }
        else
        {
            chunkKeys = ListKeys(bucket, "sets/ds/").Select(k => k.Substring("sets/ds/".Length)).Where(k => k != "info" && !k.StartsWith("mesh/", StringComparison.Ordinal)).ToList();
            Assert.All(chunkKeys, key => Assert.Equal(gzip, IsGzipEncoded($"{_s3.Url}/{bucket}/sets/ds/{key}")));
        }

        Assert.NotEmpty(chunkKeys);
        Assert.Equal(scales, chunkKeys.Select(k => k.Substring(0, k.IndexOf('/'))).Distinct().Count());
        Assert.All(chunkKeys, k => Assert.Equal(layout == "Nested" ? 3 : 1, k.Count(c => c == '/')));
    }

    /// <summary>Multi-resolution meshes written straight into S3 (lod-0 pieces, then each segment's files or shards), and checked there.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MultiResolutionMeshesAreWrittenAndCheckedOnS3(bool sharded)
    {
        using var session = new ModuleSession();
        string bucket = NewBucket();
        string location = $"s3://{bucket}/multires/ds";
        session.RunOk(
            "Import-TiffStack -Path $samples -Resolution 800,800,2000 | ConvertTo-CompressedSegmentation -Path $loc -TargetChunkSize 32 -EndpointUrl $endpoint -Credential $cred | Invoke-MajorityDownscale | Out-Null",
            S3Vars(location));
        var meshes = session.RunOk(
            $"New-SegmentMesh -Path $loc -Format MultiResolution -ChunkSize 32,32,32{(sharded ? " -Sharded" : "")} -EndpointUrl $endpoint -Credential $cred",
            S3Vars(location));
        Assert.True(meshes.Count > 100);
        List<string> keys = ListKeys(bucket, "multires/ds/mesh/").Select(k => k.Substring("multires/ds/mesh/".Length)).ToList();
        Assert.Contains("info", keys);
        Assert.DoesNotContain(keys, k => k.EndsWith(".frag", StringComparison.Ordinal));
        Assert.DoesNotContain(keys, k => k.StartsWith(".pt", StringComparison.Ordinal));
        if (sharded)
        {
            Assert.All(keys.Where(k => k != "info"), k => Assert.EndsWith(".shard", k, StringComparison.Ordinal));
        }
        else
        {
            Assert.Equal(meshes.Count - 1, keys.Count(k => k.EndsWith(".index", StringComparison.Ordinal)));
            Assert.Equal(meshes.Count - 1, keys.Count(k => k.All(char.IsDigit)));
        }

        var report = Assert.Single(session.RunOk("Test-PrecomputedDataset -Path $loc -EndpointUrl $endpoint -Credential $cred", S3Vars(location)));
        Assert.True((bool)report.Properties["IsValid"].Value, string.Join("\n", (string[])report.Properties["Problems"].Value));
    }

    [Fact]
    public void AnS3DatasetGivesItsHttpSourceUrl()
    {
        using var session = new ModuleSession();
        string bucket = NewBucket();
        string location = $"s3://{bucket}/zb";
        var link = Assert.Single(session.RunOk(
            "Import-TiffStack -Path $samples -Resolution 800,800,2000 | ConvertTo-CompressedSegmentation -Path $loc -EndpointUrl $endpoint -Credential $cred | Invoke-MajorityDownscale | New-NeuroglancerUrl",
            S3Vars(location)));
        string[] sources = (string[])link.Properties["Sources"].Value;
        Assert.Equal($"precomputed://{_s3.Url}/{bucket}/zb", Assert.Single(sources));

        // The https form of the same dataset opens read-only.
        var report = Assert.Single(session.RunOk("Test-PrecomputedDataset -Path $src", new Dictionary<string, object?> { ["src"] = sources[0] }));
        Assert.True((bool)report.Properties["IsValid"].Value, string.Join("\n", (string[])report.Properties["Problems"].Value));
    }

    [Theory]
    [InlineData("ftp://host/ds", "UnknownStoreScheme", ErrorCategory.InvalidArgument)]
    [InlineData("https://127.0.0.1:1/ds", "StoreIsReadOnly", ErrorCategory.InvalidArgument)]
    [InlineData("s3://pt-no-such-bucket/ds", "S3BucketNotFound", ErrorCategory.ObjectNotFound)]
    [InlineData("under-a-file", "OutputIsAFile", ErrorCategory.InvalidArgument)]
    public void BadOutputLocationsFailClearlyAndWriteNothing(string location, string errorId, ErrorCategory category)
    {
        using var session = new ModuleSession();
        string scratch = Paths.NewScratch("bad-location");
        if (location == "under-a-file")
        {
            File.WriteAllText(Path.Combine(scratch, "file"), "x");
            location = Path.Combine(scratch, "file", "ds");
        }

        var result = session.Run("Import-TiffStack -Path $samples -Resolution 800,800,2000 | ConvertTo-CompressedSegmentation -Path $loc -EndpointUrl $endpoint -Credential $cred", S3Vars(location));
        ErrorRecord error = result.FirstError ?? throw new InvalidOperationException("no error");
        Assert.Equal(errorId + ",PrecomputedTools.Commands.ConvertToCompressedSegmentationCommand", error.FullyQualifiedErrorId);
        Assert.Equal(category, error.CategoryInfo.Category);
        Assert.True(Directory.EnumerateFileSystemEntries(scratch).All(f => Path.GetFileName(f) == "file"), "nothing was written");
    }
}
