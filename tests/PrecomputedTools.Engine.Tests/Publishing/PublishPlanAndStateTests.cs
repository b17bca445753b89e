using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using PrecomputedTools.Engine.Publishing;
using PrecomputedTools.TestServers;
using Xunit;

namespace PrecomputedTools.Engine.Tests.Publishing;

public class PublishPlanTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MapsFilesToKeysAndMetadata(bool colonFree)
    {
        string scratch = RepoPaths.NewScratch("plan");
        HandMadeDataset ds = HandMadeDataset.Write(scratch, "seg", colonFree);
        PublishPlan plan = PublishPlan.Create(ds.Path, "mesh");
        Assert.Equal(ds.Files.Keys.OrderBy(k => k, StringComparer.Ordinal), plan.Items.Select(i => i.RelativeKey).OrderBy(k => k, StringComparer.Ordinal));
        foreach (PublishItem item in plan.Items)
        {
            Assert.Equal(ds.Files[item.RelativeKey], item.LocalPath);
            Assert.Equal(ds.GzipKeys.Contains(item.RelativeKey) ? "gzip" : null, item.ContentEncoding);
            Assert.Equal(ds.JsonKeys.Contains(item.RelativeKey) ? "application/json" : "application/octet-stream", item.ContentType);
        }

        // The dataset's info goes last, so a partial upload never exposes an info without its chunks.
        Assert.Equal("info", plan.Items[plan.Items.Count - 1].RelativeKey);
        Assert.Empty(plan.Warnings);
    }

    [Fact]
    public void ContentEncodingComesFromTheBytesNotTheName()
    {
        string scratch = RepoPaths.NewScratch("plan-bytes");
        HandMadeDataset ds = HandMadeDataset.Write(scratch, "seg");
        // A ".gz" name with plain bytes, and gzip bytes under a plain name.
        File.WriteAllBytes(Path.Combine(ds.Path, "mesh", "7_frag.gz"), new byte[] { 5, 0, 0, 0, 1, 2, 3 });
        File.Copy(ds.Files[ds.FirstGzipChunk], Path.Combine(ds.Path, HandMadeDataset.ScaleKey, "64-96_64-96_0-32"));
        PublishPlan plan = PublishPlan.Create(ds.Path, "mesh");
        PublishItem fragment = plan.Items.Single(i => i.RelativeKey == "mesh/7_frag");
        Assert.Null(fragment.ContentEncoding);
        Assert.Contains(plan.Warnings, w => w.Contains("7_frag.gz", StringComparison.Ordinal));
        Assert.Equal("gzip", plan.Items.Single(i => i.RelativeKey == HandMadeDataset.ScaleKey + "/64-96_64-96_0-32").ContentEncoding);
    }

    [Fact]
    public void AShardFileIsNeverGzipEncodedEvenWhenItsIndexReadsAsAGzipHeader()
    {
        string scratch = RepoPaths.NewScratch("plan-shard");
        HandMadeDataset ds = HandMadeDataset.Write(scratch, "seg");
        // The first shard-index entry 0x00_00_08_8b_1f (minishard 0's index 559,903 bytes in) starts 1f 8b 08 00.
        byte[] shard = new byte[64];
        BitConverter.GetBytes(0x088b1fUL).CopyTo(shard, 0);
        Assert.True(PublishRules.IsGzip(shard));
        File.WriteAllBytes(Path.Combine(ds.Path, HandMadeDataset.ScaleKey, "0.shard"), shard);
        PublishPlan plan = PublishPlan.Create(ds.Path, "mesh");
        Assert.Null(plan.Items.Single(i => i.RelativeKey == HandMadeDataset.ScaleKey + "/0.shard").ContentEncoding);
    }

    [Fact]
    public void TemporaryAndHiddenBookkeepingFilesAreNotPublished()
    {
        string scratch = RepoPaths.NewScratch("plan-hidden");
        HandMadeDataset ds = HandMadeDataset.Write(scratch, "seg");
        Directory.CreateDirectory(Path.Combine(ds.Path, ".pt-mesh-journal"));
        File.WriteAllText(Path.Combine(ds.Path, ".pt-mesh-journal", "run.json"), "{}");
        File.WriteAllBytes(Path.Combine(ds.Path, HandMadeDataset.ScaleKey, ".0-32_0-32_0-32.gz.1-2.pt-tmp"), new byte[] { 1 });
        PublishPlan plan = PublishPlan.Create(ds.Path, "mesh");
        Assert.Equal(ds.Files.Count, plan.Items.Count);
        Assert.DoesNotContain(plan.Items, i => i.RelativeKey.Contains("pt-mesh-journal", StringComparison.Ordinal) || i.RelativeKey.Contains("pt-tmp", StringComparison.Ordinal));
    }

    [Fact]
    public void BothXAndXGzIsAnError()
    {
        string scratch = RepoPaths.NewScratch("plan-dup");
        HandMadeDataset ds = HandMadeDataset.Write(scratch, "seg");
        File.WriteAllBytes(Path.Combine(ds.Path, HandMadeDataset.ScaleKey, "0-32_0-32_0-32"), new byte[] { 1 });
        var ex = Assert.Throws<EngineException>(() => PublishPlan.Create(ds.Path, "mesh"));
        Assert.Equal("DuplicateObjectName", ex.ErrorId);
    }

    [Fact]
    public void AFolderWithoutInfoIsNotADataset()
    {
        string scratch = RepoPaths.NewScratch("plan-noinfo");
        File.WriteAllText(Path.Combine(scratch, "x"), "x");
        Assert.Equal("InfoNotFound", Assert.Throws<EngineException>(() => PublishPlan.Create(scratch, null)).ErrorId);
    }

    [Theory]
    [InlineData(new byte[] { 0x1f, 0x8b, 8, 0 }, true)]
    [InlineData(new byte[] { 0x1f, 0x8b, 8, 0xE0 }, false)]
    [InlineData(new byte[] { 0x1f, 0x8b }, false)]
    [InlineData(new byte[] { 0x8b, 0x1f, 8, 0 }, false)]
    public void RecognisesGzipMembers(byte[] head, bool expected) => Assert.Equal(expected, PublishRules.IsGzip(head));
}

public class NeuroglancerStateTests
{
    [Fact]
    public void StateDecodesBackWithDimensionsPositionAndStringIds()
    {
        var state = new NeuroglancerState
        {
            ResolutionNm = new[] { 798.0, 798.0, 2000.0 },
            Position = NeuroglancerState.CenterOf(new[] { 1406, 621, 138 }, new[] { 0, 0, 0 }),
        };
        var layer = new NeuroglancerLayer("zbrain", "precomputed://https://data.example.org/zbrain");
        layer.Segments.AddRange(new ulong[] { 1, 2, 3, 9223372036854775809UL, ulong.MaxValue, 2 });
        state.Layers.Add(layer);
        string url = state.ToUrl("https://neuroglancer-demo.appspot.com/");
        const string Prefix = "https://neuroglancer-demo.appspot.com/#!";
        Assert.StartsWith(Prefix, url);
        string encoded = url.Substring(Prefix.Length);
        Assert.Matches("^[A-Za-z0-9%._~-]*$", encoded);

        using JsonDocument doc = JsonDocument.Parse(Uri.UnescapeDataString(encoded));
        JsonElement root = doc.RootElement;
        Assert.Equal(7.98e-7, root.GetProperty("dimensions").GetProperty("x")[0].GetDouble());
        Assert.Equal("m", root.GetProperty("dimensions").GetProperty("x")[1].GetString());
        Assert.Equal(2e-6, root.GetProperty("dimensions").GetProperty("z")[0].GetDouble());
        Assert.Equal(new[] { 703.5, 310.5, 69.5 }, root.GetProperty("position").EnumerateArray().Select(e => e.GetDouble()));
        Assert.Equal("4panel", root.GetProperty("layout").GetString());
        JsonElement only = Assert.Single(root.GetProperty("layers").EnumerateArray());
        Assert.Equal("segmentation", only.GetProperty("type").GetString());
        Assert.Equal("zbrain", only.GetProperty("name").GetString());
        Assert.Equal("precomputed://https://data.example.org/zbrain", only.GetProperty("source").GetString());
        // Strings, exact above 2^53 and 2^63, duplicates dropped.
        Assert.All(only.GetProperty("segments").EnumerateArray(), e => Assert.Equal(JsonValueKind.String, e.ValueKind));
        Assert.Equal(new[] { "1", "2", "3", "9223372036854775809", "18446744073709551615" }, only.GetProperty("segments").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("zbrain", root.GetProperty("selectedLayer").GetProperty("layer").GetString());
    }

    [Fact]
    public void WithoutGeometryTheViewerChoosesDimensionsAndPosition()
    {
        var state = new NeuroglancerState { Layout = "xy-3d" };
        state.Layers.Add(new NeuroglancerLayer("s", "precomputed://http://127.0.0.1:8080/s"));
        using JsonDocument doc = JsonDocument.Parse(state.ToJson());
        Assert.False(doc.RootElement.TryGetProperty("dimensions", out _));
        Assert.False(doc.RootElement.TryGetProperty("position", out _));
        Assert.False(doc.RootElement.GetProperty("layers")[0].TryGetProperty("segments", out _));
        Assert.Equal("xy-3d", doc.RootElement.GetProperty("layout").GetString());
        Assert.Equal("NoLayers", Assert.Throws<EngineException>(() => new NeuroglancerState().ToJson()).ErrorId);
    }

    [Theory]
    [InlineData("https://neuroglancer-demo.appspot.com", "precomputed://http://data.example.org/seg", 1)]
    [InlineData("https://neuroglancer-demo.appspot.com", "precomputed://http://127.0.0.1:9000/seg", 0)]
    [InlineData("https://neuroglancer-demo.appspot.com", "precomputed://http://localhost:9000/seg", 0)]
    [InlineData("https://neuroglancer-demo.appspot.com", "precomputed://https://data.example.org/seg", 0)]
    [InlineData("http://neuroglancer-demo.appspot.com", "precomputed://http://data.example.org/seg", 0)]
    [InlineData("https://neuroglancer-demo.appspot.com", "precomputed://s3+http://10.0.0.5:4568/b/seg", 1)]
    public void WarnsOnlyForMixedContent(string viewer, string source, int warnings) =>
        Assert.Equal(warnings, NeuroglancerState.CheckMixedContent(viewer, new[] { source }).Count);

    [Fact]
    public void LongStatesEncodeCompletely()
    {
        var state = new NeuroglancerState();
        var layer = new NeuroglancerLayer("big", "precomputed://https://h/big");
        for (ulong id = 1; id <= 5000; id++)
        {
            layer.Segments.Add(ulong.MaxValue - id);
        }

        state.Layers.Add(layer);
        string json = state.ToJson();
        string url = NeuroglancerState.BuildUrl("https://viewer.example/#!old", json);
        Assert.StartsWith("https://viewer.example/#!", url);
        Assert.Equal(json, Uri.UnescapeDataString(url.Substring("https://viewer.example/#!".Length)));
    }
}
