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
using PrecomputedTools.Tests.Shared;
using Xunit;

namespace PrecomputedTools.Module.Tests;

/// <summary>
/// Issue 10, acceptance 2 and 3: datasets in a folder, on S3 and over http open as volumes and
/// become new S3 datasets (downsampled and meshed) exactly; Copy-PrecomputedDataset between stores
/// keeps every object's form.
/// </summary>
public class ImportCopyTests : IClassFixture<ModuleS3rverFixture>
{
    private static int s_buckets;
    private readonly S3rverInstance _s3;

    public ImportCopyTests(ModuleS3rverFixture fixture) => _s3 = fixture.Server;

    private static string SampleFolder => Path.Combine(Paths.RepoRoot, "module", "samples", "sample-labels");

    internal static PSCredential Credential()
    {
        var secret = new SecureString();
        foreach (char c in S3rverInstance.SecretKey)
        {
            secret.AppendChar(c);
        }

        return new PSCredential(S3rverInstance.AccessKey, secret);
    }

    private static HttpClient NewClient() => new(new HttpClientHandler { AutomaticDecompression = DecompressionMethods.None });

    private string NewBucket()
    {
        string bucket = "pt-imp-" + System.Threading.Interlocked.Increment(ref s_buckets) + "-" + Guid.NewGuid().ToString("N").Substring(0, 6);
        using HttpClient http = NewClient();
        using HttpResponseMessage response = http.PutAsync(_s3.Url + "/" + bucket, new ByteArrayContent(Array.Empty<byte>())).GetAwaiter().GetResult();
        Assert.True(response.IsSuccessStatusCode, "creating the bucket: " + response.StatusCode);
        return bucket;
    }

    /// <summary>Downloads every object under an S3 prefix with plain HTTP into a folder, gzip-encoded ones as ".gz" files; returns key -> (content type, encoding).</summary>
    private Dictionary<string, (string? Type, string? Encoding)> Mirror(string bucket, string prefix, string folder)
    {
        using HttpClient http = NewClient();
        var headers = new Dictionary<string, (string?, string?)>(StringComparer.Ordinal);
        string xml = http.GetStringAsync($"{_s3.Url}/{bucket}?list-type=2&max-keys=10000&prefix={Uri.EscapeDataString(prefix)}").GetAwaiter().GetResult();
        foreach (string key in Regex.Matches(xml, "<Key>([^<]*)</Key>").Select(m => WebUtility.HtmlDecode(m.Groups[1].Value)))
        {
            using HttpResponseMessage response = http.GetAsync($"{_s3.Url}/{bucket}/{string.Join("/", key.Split('/').Select(Uri.EscapeDataString))}").GetAwaiter().GetResult();
            Assert.True(response.IsSuccessStatusCode, key);
            byte[] body = response.Content.ReadAsByteArrayAsync().GetAwaiter().GetResult();
            string? encoding = response.Content.Headers.ContentEncoding.FirstOrDefault();
            string relative = key.Substring(prefix.Length);
            headers[relative] = (response.Content.Headers.ContentType?.MediaType, encoding);
            string file = Path.Combine(folder, relative.Replace('/', Path.DirectorySeparatorChar)) + (encoding == "gzip" ? ".gz" : "");
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            File.WriteAllBytes(file, body);
        }

        return headers;
    }

    /// <summary>Scale 0 of a dataset folder decoded with the reference decoder, x fastest.</summary>
    internal static ulong[] ReadScale0(string dataset, out int[] size)
    {
        DatasetVerifier.Scale scale = DatasetVerifier.ReadScales(dataset)[0];
        size = scale.Size;
        var voxels = new ulong[(long)size[0] * size[1] * size[2]];
        for (int z0 = 0; z0 < size[2]; z0 += scale.Chunk[2])
        {
            for (int y0 = 0; y0 < size[1]; y0 += scale.Chunk[1])
            {
                for (int x0 = 0; x0 < size[0]; x0 += scale.Chunk[0])
                {
                    int x1 = Math.Min(x0 + scale.Chunk[0], size[0]), y1 = Math.Min(y0 + scale.Chunk[1], size[1]), z1 = Math.Min(z0 + scale.Chunk[2], size[2]);
                    string name = $"{x0 + scale.Offset[0]}-{x1 + scale.Offset[0]}_{y0 + scale.Offset[1]}-{y1 + scale.Offset[1]}_{z0 + scale.Offset[2]}-{z1 + scale.Offset[2]}";
                    string file = new[] { name + ".gz", name, name.Replace('_', '/') + ".gz", name.Replace('_', '/') }
                        .Select(n => Path.Combine(dataset, scale.Key, n.Replace('/', Path.DirectorySeparatorChar)))
                        .FirstOrDefault(File.Exists) ?? throw new FileNotFoundException(name);
                    ulong[] decoded = ReferenceImplementations.DecodeCompressedSegmentation(ReferenceImplementations.ReadChunkFile(file), x1 - x0, y1 - y0, z1 - z0, scale.Block[0], scale.Block[1], scale.Block[2]);
                    for (int z = z0; z < z1; z++)
                    {
                        for (int y = y0; y < y1; y++)
                        {
                            for (int x = x0; x < x1; x++)
                            {
                                voxels[x + (long)size[0] * (y + (long)size[1] * z)] = decoded[(x - x0) + (long)(x1 - x0) * ((y - y0) + (long)(y1 - y0) * (z - z0))];
                            }
                        }
                    }
                }
            }
        }

        return voxels;
    }

    private Dictionary<string, object?> Vars(params (string Name, object? Value)[] pairs)
    {
        var vars = pairs.ToDictionary(p => p.Name, p => p.Value);
        vars["samples"] = SampleFolder;
        vars["endpoint"] = _s3.Url;
        vars["cred"] = Credential();
        return vars;
    }

    [Theory]
    [InlineData("folder")]
    [InlineData("nested-plain-folder")]
    [InlineData("s3")]
    [InlineData("http")]
    public void DatasetsOpenAsVolumesAndBecomeExactS3Datasets(string kind)
    {
        using var session = new ModuleSession();
        string work = Paths.NewScratch("import-" + kind);
        string source = Path.Combine(work, "source");
        string layout = kind == "nested-plain-folder" ? " -Layout Nested -NoGzip" : "";
        session.RunOk($"Import-TiffStack -Path $samples -Resolution 800,800,2000 | ConvertTo-CompressedSegmentation -Path $src -TargetChunkSize 64 -MaxScales 1{layout} | Out-Null", Vars(("src", source)));
        ulong[] expected = ReadScale0(source, out int[] size);

        string location = source;
        StaticFileServerHandle? server = null;
        if (kind == "s3")
        {
            string sourceBucket = NewBucket();
            location = $"s3://{sourceBucket}/in";
            session.RunOk("Copy-PrecomputedDataset -Path $src -Destination $loc -EndpointUrl $endpoint -Credential $cred | Out-Null", Vars(("src", source), ("loc", location)));
        }
        else if (kind == "http")
        {
            var started = session.RunOk("Start-PrecomputedServer -Path $root -Port 0", Vars(("root", work)));
            server = new StaticFileServerHandle(session, started[0]);
            location = "precomputed://" + started[0].Properties["Url"].Value + "/source";
        }

        try
        {
            string bucket = NewBucket();
            var volume = Assert.Single(session.RunOk("Import-PrecomputedVolume -Path $loc -EndpointUrl $endpoint -Credential $cred", Vars(("loc", location))));
            Assert.Equal("Precomputed", volume.Properties["SourceKind"].Value);
            Assert.Equal(size, (int[])volume.Properties["Size"].Value);
            Assert.Equal("uint64", volume.Properties["DataType"].Value);
            Assert.Equal(new[] { 800.0, 800, 2000 }, (double[])volume.Properties["Resolution"].Value);

            var meshes = session.RunOk(
                "Import-PrecomputedVolume -Path $loc -EndpointUrl $endpoint -Credential $cred | ConvertTo-CompressedSegmentation -Path $dst -TargetChunkSize 32 -EndpointUrl $endpoint -Credential $cred | Invoke-MajorityDownscale | New-SegmentMesh -NoSimplify",
                Vars(("loc", location), ("dst", $"s3://{bucket}/out")));
            int segments = expected.Where(v => v != 0).Distinct().Count();
            Assert.Equal(segments, meshes.Count(m => m.BaseObject.GetType().Name == "SegmentMesh"));

            string mirror = Path.Combine(work, "mirror");
            var headers = Mirror(bucket, "out/", mirror);
            Assert.Empty(DatasetVerifier.Verify(mirror, expected, size));
            Assert.Equal("application/json", headers["info"].Type);
            Assert.All(headers.Where(h => Regex.IsMatch(h.Key, "^mesh/[0-9]+:0$")), h => Assert.Equal("application/json", h.Value.Type));
            Assert.Equal(segments, headers.Keys.Count(k => Regex.IsMatch(k, "^mesh/[0-9]+:0$")));
        }
        finally
        {
            server?.Dispose();
        }
    }

    [Fact]
    public void CopyBetweenStoresKeepsEveryObjectsFormAndResumesOnlyWhatIsMissing()
    {
        using var session = new ModuleSession();
        string work = Paths.NewScratch("copy");
        string source = Path.Combine(work, "source");
        session.RunOk("Import-TiffStack -Path $samples -Resolution 800,800,2000 | ConvertTo-CompressedSegmentation -Path $src -TargetChunkSize 64 | Invoke-MajorityDownscale | New-SegmentMesh -SegmentId 1,2 -ColonFreeManifest | Out-Null", Vars(("src", source)));
        string bucket = NewBucket();
        var copied = Assert.Single(session.RunOk("Copy-PrecomputedDataset -Path $src -Destination $dst -EndpointUrl $endpoint -Credential $cred", Vars(("src", source), ("dst", $"s3://{bucket}/c"))));
        Assert.Equal($"s3://{bucket}/c", copied.Properties["Path"].Value);
        var headers = Mirror(bucket, "c/", Path.Combine(work, "mirror"));
        var files = Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(source, f).Replace('\\', '/')).ToList();
        Assert.Equal(files.Count, headers.Count);
        foreach (string file in files)
        {
            string key = file.EndsWith(".gz", StringComparison.Ordinal) ? file.Substring(0, file.Length - 3) : file;
            key = Regex.Replace(key, "^mesh/([0-9]+)\\.json$", "mesh/$1:0"); // colon-free manifests are stored under the viewer's name
            Assert.True(headers.ContainsKey(key), key);
            Assert.Equal(file.EndsWith(".gz", StringComparison.Ordinal) ? "gzip" : null, headers[key].Encoding);
            Assert.Equal(key == "info" || key.EndsWith(":0", StringComparison.Ordinal) || key.EndsWith("/info", StringComparison.Ordinal) ? "application/json" : "application/octet-stream", headers[key].Type);
        }

        // Back to a folder: the same files, the same contents.
        string back = Path.Combine(work, "back");
        session.RunOk("Copy-PrecomputedDataset -Path $src -Destination $dst -EndpointUrl $endpoint -Credential $cred | Out-Null", Vars(("src", $"s3://{bucket}/c"), ("dst", back)));
        foreach (string file in files)
        {
            string target = Regex.Replace(file, "^mesh/([0-9]+)\\.json$", "mesh/$1:0");
            Assert.Equal(ReferenceImplementations.ReadChunkFile(Path.Combine(source, file)), ReferenceImplementations.ReadChunkFile(Path.Combine(back, target)));
        }

        // An existing destination is kept without -Force or -Resume; -Resume copies only what is missing.
        var refused = session.Run("Copy-PrecomputedDataset -Path $src -Destination $dst", Vars(("src", source), ("dst", back)));
        Assert.Equal("OutputExists,PrecomputedTools.Commands.CopyPrecomputedDatasetCommand", refused.FirstError?.FullyQualifiedErrorId);
        string removed = Directory.EnumerateFiles(Path.Combine(back, "1um")).First();
        File.Delete(removed);
        string kept = Directory.EnumerateFiles(Path.Combine(back, "1um")).First();
        DateTime before = File.GetLastWriteTimeUtc(kept);
        var resumed = session.RunOk("Copy-PrecomputedDataset -Path $src -Destination $dst -Resume -Verbose 4>&1", Vars(("src", source), ("dst", back)));
        Assert.True(File.Exists(removed));
        Assert.Contains(resumed, r => r.BaseObject is VerboseRecord v && v.Message.Contains("Copied 2 objects", StringComparison.Ordinal));
        Assert.Equal(before, File.GetLastWriteTimeUtc(kept));
    }

    /// <summary>Stops a server started in the session.</summary>
    private sealed class StaticFileServerHandle : IDisposable
    {
        private readonly ModuleSession _session;
        private readonly PSObject _server;

        public StaticFileServerHandle(ModuleSession session, PSObject server)
        {
            _session = session;
            _server = server;
        }

        public void Dispose() => _session.RunOk("$srv | Stop-PrecomputedServer -Confirm:$false", new Dictionary<string, object?> { ["srv"] = _server });
    }
}
