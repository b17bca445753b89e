using System;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Publishing;
using PrecomputedTools.Engine.Tiff;
using PrecomputedTools.TestServers;
using Xunit;

namespace PrecomputedTools.Engine.Tests.Publishing;

/// <summary>A real converted dataset (the bundled sample) published to s3rver, downloaded back and decoded.</summary>
public class PublishRoundTripTests : IClassFixture<S3rverFixture>
{
    private readonly S3rverInstance _s3;

    public PublishRoundTripTests(S3rverFixture fixture) => _s3 = fixture.Server;

    [Fact]
    public async Task DownloadedObjectsDecodeToTheSameVoxelsAtEveryScale()
    {
        string scratch = TestData.NewScratch("publish-roundtrip");
        string original = Path.Combine(scratch, "sample");
        TiffStackDescriptor stack = TiffStackDescriptor.Open(Path.Combine(TestData.RepoRoot, "module", "samples", "sample-labels"));
        PrecomputedInfo info = await ZBrainPipelineTests.RunPipelineAsync(stack, original, targetChunk: 32);
        Assert.True(info.Scales.Count >= 2);

        string bucket = "roundtrip-" + Guid.NewGuid().ToString("N").Substring(0, 8);
        using var publisher = new S3Publisher(S3PublisherTests.Options(_s3.Url, bucket, "pub/sample"));
        S3PublishResult result = await publisher.PublishAsync(PublishPlan.Create(original, info.Mesh), new OperationMonitor(), CancellationToken.None);
        Assert.True(result.UploadedCount > 10);

        // Download every object as the viewer's transport sees it: ".gz" locally when it came with Content-Encoding: gzip.
        string downloaded = Path.Combine(scratch, "downloaded");
        using HttpClient http = HostingChecks.NewClient();
        int gzipObjects = 0;
        foreach (var o in await S3PublisherTests.ListAsync(_s3.Url, bucket))
        {
            Assert.DoesNotContain(".gz", o.Key, StringComparison.Ordinal);
            using HttpResponseMessage response = await HostingChecks.GetAsync(http, result.Url + "/" + o.Key.Substring("pub/sample/".Length), acceptGzip: true);
            response.EnsureSuccessStatusCode();
            bool gzip = HostingChecks.Header(response, "Content-Encoding") == "gzip";
            gzipObjects += gzip ? 1 : 0;
            string local = Path.Combine(downloaded, o.Key.Substring("pub/sample/".Length)) + (gzip ? ".gz" : "");
            Directory.CreateDirectory(Path.GetDirectoryName(local)!);
            await File.WriteAllBytesAsync(local, await response.Content.ReadAsByteArrayAsync());
        }

        Assert.Equal(Directory.EnumerateFiles(original, "*.gz", SearchOption.AllDirectories).Count(), gzipObjects);
        foreach (ScaleInfo scale in info.Scales)
        {
            Assert.Equal(ReadAll(original, scale), ReadAll(downloaded, scale));
        }

        Directory.Delete(scratch, recursive: true);
    }

    private static byte[] ReadAll(string dataset, ScaleInfo scale)
    {
        using PrecomputedVolumeReader reader = PrecomputedVolumeReader.Open(dataset, scale.Key);
        var voxels = new byte[scale.Size.Volume * VoxelTypes.SizeOf(reader.DataType)];
        reader.Read(new Box3(Int3.Zero, scale.Size), voxels);
        Assert.Contains(voxels, b => b != 0);
        return voxels;
    }
}
