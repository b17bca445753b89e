using System;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.S3;
using Amazon.S3.Model;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Publishing;
using PrecomputedTools.Engine.Stages;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Engine.Tests.Publishing;
using PrecomputedTools.Engine.Tiff;
using PrecomputedTools.TestServers;
using PrecomputedTools.Tests.Shared;
using Xunit;

namespace PrecomputedTools.Engine.Tests.Stores;

/// <summary>The Z-Brain pipeline written straight to an S3 server, read back object by object with a plain client.</summary>
public class S3PipelineTests : IClassFixture<S3rverFixture>
{
    private static readonly int[] s_size = { 1406, 621, 138 };
    private readonly S3rverInstance _s3;

    public S3PipelineTests(S3rverFixture fixture) => _s3 = fixture.Server;

    [Theory]
    [InlineData(ChunkLayout.Flat, true)]
    [InlineData(ChunkLayout.Nested, false)]
    public async Task ZBrainToS3DecodesToTheSourceVoxelForVoxel(ChunkLayout layout, bool gzip)
    {
        string bucket = ObjectStoreTests.NewBucket(_s3.Url);
        string location = $"s3://{bucket}/zbrain";
        var info = new PrecomputedInfo { Type = "segmentation", DataType = VoxelType.UInt64 };
        info.Scales.AddRange(ScalePyramid.Generate(new Int3(1406, 621, 138), new double[] { 798, 798, 2000 }, Int3.Zero, 256, ChunkEncodings.CompressedSegmentation, null));
        using (DatasetStore store = DatasetStore.Open(location, ObjectStoreTests.S3Options(_s3.Url), layout, gzip))
        {
            var options = new ChunkWriteOptions();
            using (var reader = TiffStackDescriptor.Open(TestData.ZBrainTiff, swapXY: true).OpenReader())
            {
                await ScaleWriter.WriteFromVolumeAsync(reader, store, info, options, OperationMonitor.None, CancellationToken.None);
            }

            for (int i = 1; i < info.Scales.Count; i++)
            {
                await ScaleWriter.DownscaleAsync(store, info, i, DownscaleMethod.Majority, options, OperationMonitor.None, CancellationToken.None);
            }

            store.CommitInfo(info);
        }

        // Opened again by location, the store reveals how it was written.
        using (DatasetStore reopened = DatasetStore.Open(location, ObjectStoreTests.S3Options(_s3.Url)))
        {
            Assert.Equal(layout, reopened.Layout);
            Assert.Equal(gzip, reopened.Gzip);
        }

        // Mirror with a plain S3 client (gzip objects become .gz files, as a folder stores them)
        // and check with the independent decoder.
        string mirror = TestData.NewScratch("s3-mirror");
        using AmazonS3Client client = ObjectStoreTests.RawClient(_s3.Url);
        ListObjectsV2Response listing = await client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = "zbrain/" });
        Assert.Equal(36 + 6 + 2 + 1, listing.S3Objects.Count);
        foreach (S3Object o in listing.S3Objects)
        {
            using GetObjectResponse response = await client.GetObjectAsync(bucket, o.Key);
            using var bytes = new MemoryStream();
            await response.ResponseStream.CopyToAsync(bytes);
            bool encoded = response.Headers.ContentEncoding == "gzip";
            Assert.Equal(gzip && !o.Key.EndsWith("/info", StringComparison.Ordinal), encoded);
            Assert.Equal(encoded, PublishRules.IsGzip(bytes.ToArray()));
            Assert.Equal(o.Key.EndsWith("/info", StringComparison.Ordinal) ? PublishRules.JsonType : PublishRules.BinaryType, response.Headers.ContentType);
            string relative = o.Key.Substring("zbrain/".Length);
            if (layout == ChunkLayout.Nested && relative != "info")
            {
                // Nested names x0-x1/y0-y1/z0-z1 become the flat name the verifier reads.
                string[] parts = relative.Split('/');
                relative = parts[0] + "/" + string.Join("_", parts.Skip(1));
            }

            string file = Path.Combine(mirror, relative) + (encoded ? ".gz" : "");
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            File.WriteAllBytes(file, bytes.ToArray());
        }

        Assert.Empty(DatasetVerifier.Verify(mirror, ReferenceImplementations.LoadZBrainLabels(TestData.ZBrainTiff), s_size));
    }
}
