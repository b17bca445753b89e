using System;
using System.IO;
using System.Threading;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Stages;
using Xunit;

namespace PrecomputedTools.Engine.Tests.Precomputed;

/// <summary>Issue 17 (i): what Test-PrecomputedDataset's validator does with an info that declares an enormous grid.</summary>
public sealed class HostileInfoValidationTests
{
    private static string Info(string size, string chunk) =>
        "{\"@type\":\"neuroglancer_multiscale_volume\",\"type\":\"segmentation\",\"data_type\":\"uint8\",\"num_channels\":1,\"scales\":[{\"key\":\"1\",\"size\":" + size
        + ",\"resolution\":[1,1,1],\"voxel_offset\":[0,0,0],\"chunk_sizes\":[" + chunk + "],\"encoding\":\"raw\"}]}";

    private static DatasetValidation Validate(string name, string info)
    {
        string folder = TestData.NewScratch(name);
        File.WriteAllText(Path.Combine(folder, "info"), info);
        using DatasetStore store = DatasetStore.Open(folder);
        return DatasetValidator.Validate(store, 2, OperationMonitor.None, CancellationToken.None);
    }

    [Fact]
    public void AGridOfTwoToThe31PerAxisInOneVoxelChunksIsRefusedNotWalked()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        DatasetValidation report = Validate("info-huge-grid", Info("[2147483647,2147483647,2147483647]", "[1,1,1]"));
        Assert.False(report.InfoValid);
        Assert.Contains(report.Problems, p => p.StartsWith("info: ", StringComparison.Ordinal) && p.Contains("2^60 voxels", StringComparison.Ordinal));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"took {clock.Elapsed}");
    }

    [Fact]
    public void AnEmptyGridListsABoundedNumberOfProblemsAndCountsTheRest()
    {
        // 40,000 missing one-voxel chunks: the report's size must not grow with the grid (one line per chunk would, without end, for the 2^40 chunks an info may declare).
        DatasetValidation report = Validate("info-empty-grid", Info("[200,200,1]", "[1,1,1]"));
        Assert.True(report.InfoValid);
        ScaleValidation scale = Assert.Single(report.Scales);
        Assert.Equal(40000, scale.ExpectedChunks);
        Assert.Equal(40000, scale.MissingChunks);
        Assert.True(report.Problems.Count <= 1001, $"{report.Problems.Count} problems listed");
        Assert.Contains(report.Problems, p => p.Contains("39000 more missing or invalid chunks not listed", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("{\"@type\":\"neuroglancer_multilod_draco\",\"@type\":\"x\",\"vertex_quantization_bits\":10}", "\"@type\" appears twice")]
    [InlineData("{\"@type\":\"neuroglancer_multilod_draco\",\"vertex_quantization_bits\":10,\"transform\":[1,0,0,0,0,1,0,0,0,0,1,0],\"transform\":[]}", "\"transform\" appears twice")]
    public void AMeshInfoWithADuplicateMemberIsAProblemNotAnEscapedException(string meshInfo, string expected)
    {
        string folder = TestData.NewScratch("mesh-info-duplicate");
        File.WriteAllText(Path.Combine(folder, "info"), Info("[8,8,8]", "[8,8,8]").Replace("\"num_channels\":1,", "\"num_channels\":1,\"mesh\":\"mesh\",", StringComparison.Ordinal));
        Directory.CreateDirectory(Path.Combine(folder, "1"));
        File.WriteAllBytes(Path.Combine(folder, "1", "0-8_0-8_0-8"), new byte[512]);
        Directory.CreateDirectory(Path.Combine(folder, "mesh"));
        File.WriteAllText(Path.Combine(folder, "mesh", "info"), meshInfo);
        using DatasetStore store = DatasetStore.Open(folder);
        DatasetValidation report = DatasetValidator.Validate(store, 2, OperationMonitor.None, CancellationToken.None);
        Assert.Contains(report.Problems, p => p.StartsWith("mesh/info: ", StringComparison.Ordinal) && p.Contains(expected, StringComparison.Ordinal));
    }
}
