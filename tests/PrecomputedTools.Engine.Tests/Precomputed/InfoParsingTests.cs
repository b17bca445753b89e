using System;
using PrecomputedTools.Engine.Precomputed;
using Xunit;

namespace PrecomputedTools.Engine.Tests.Precomputed;

/// <summary>A hostile or mistyped info is an InvalidPrecomputedInfo naming the member, never a System.Text.Json exception.</summary>
public sealed class InfoParsingTests
{
    private const string Scale = "{\"key\":\"1\",\"size\":[10,10,10],\"resolution\":[1,1,1],\"voxel_offset\":[0,0,0],\"chunk_sizes\":[[8,8,8]],\"encoding\":\"raw\"%S}";

    private static string Info(string top = "\"num_channels\":1", string scaleExtra = "") =>
        "{\"@type\":\"neuroglancer_multiscale_volume\",\"type\":\"segmentation\",\"data_type\":\"uint64\"," + top + ",\"scales\":[" + Scale.Replace("%S", scaleExtra, StringComparison.Ordinal) + "]}";

    [Theory]
    [InlineData("\"num_channels\":\"1\"", "", "num_channels")]
    [InlineData("\"num_channels\":1.5", "", "num_channels")]
    [InlineData("\"num_channels\":1", ",\"hidden\":1", "hidden")]
    [InlineData("\"num_channels\":1,\"num_channels\":1", "", "num_channels")]
    [InlineData("\"num_channels\":1", ",\"key\":\"2\"", "scales[0].key")]
    public void WrongTypesAndDuplicateMembersNameTheMember(string top, string scaleExtra, string member)
    {
        EngineException error = Assert.Throws<EngineException>(() => PrecomputedInfo.Parse(Info(top, scaleExtra), source: "test/info"));
        Assert.Equal("InvalidPrecomputedInfo", error.ErrorId);
        Assert.Contains("\"" + member + "\"", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[2147483647,2147483647,2147483647]", "[1,1,1]", "2^60 voxels")]
    [InlineData("[1048576,1048576,1024]", "[1,1,1]", "2^40 chunks")]
    public void GridsNoStoreCouldHoldAreRefusedNotWalked(string size, string chunk, string expected)
    {
        string json = Info().Replace("[10,10,10]", size, StringComparison.Ordinal).Replace("[[8,8,8]]", "[" + chunk + "]", StringComparison.Ordinal);
        PrecomputedInfo info = PrecomputedInfo.Parse(json);
        EngineException error = Assert.Throws<EngineException>(() => info.Validate("test/info"));
        Assert.Equal("InvalidPrecomputedInfo", error.ErrorId);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ADatasetWhoseInfoHasAZeroChunkSizeIsRefusedWhenItIsOpened()
    {
        string folder = TestData.NewScratch("info-zero-chunk");
        System.IO.File.WriteAllText(System.IO.Path.Combine(folder, "info"), Info().Replace("[[8,8,8]]", "[[8,0,8]]", StringComparison.Ordinal));
        var store = DatasetStore.Open(folder);
        EngineException error = Assert.Throws<EngineException>(() => store.ReadInfo());
        Assert.Equal("InvalidPrecomputedInfo", error.ErrorId);
        Assert.Contains("chunk size", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AWellTypedInfoStillParses()
    {
        PrecomputedInfo info = PrecomputedInfo.Parse(Info(scaleExtra: ",\"hidden\":true"));
        Assert.True(info.Scales[0].Hidden);
        Assert.Equal(1, info.NumChannels);
    }
}
