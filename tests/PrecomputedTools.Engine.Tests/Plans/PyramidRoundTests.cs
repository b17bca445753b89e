using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Stages;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Engine.Tiff;
using Xunit;

namespace PrecomputedTools.Engine.Tests.Plans;

/// <summary>Downscale rounds of several levels give the bytes level-by-level tasks give, in fewer phases.</summary>
public class PyramidRoundTests
{
    private static List<string> Files(string root) => Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
        .Select(f => Path.GetRelativePath(root, f)).OrderBy(f => f, StringComparer.Ordinal).ToList();

    private static void AssertSameTrees(string expected, string actual)
    {
        List<string> files = Files(expected);
        Assert.Equal(files, Files(actual));
        Assert.All(files, f => Assert.True(File.ReadAllBytes(Path.Combine(expected, f)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(actual, f))), f + " differs"));
    }

    private static async Task RunAsync(StagePlan plan, bool oneTaskAtATime)
    {
        if (!oneTaskAtATime)
        {
            await StageExecutor.ExecuteAsync(plan, new StageContext { ThrottleLimit = 2 }, null, OperationMonitor.None, CancellationToken.None);
            return;
        }

        // Each task alone, from the plan's JSON, last task first within a phase.
        string json = plan.ToJson();
        foreach (IGrouping<int, PlanTask> phase in plan.Tasks.GroupBy(t => t.Phase).OrderBy(g => g.Key))
        {
            foreach (PlanTask task in phase.Reverse())
            {
                await StageExecutor.ExecuteAsync(StagePlan.Parse(json), new StageContext { ThrottleLimit = 1 }, new[] { task.Index }, OperationMonitor.None, CancellationToken.None);
            }
        }
    }

    [Theory]
    [InlineData(DownscaleMethod.Majority, 16, false)]
    [InlineData(DownscaleMethod.Majority, 8, true)]
    [InlineData(DownscaleMethod.Stride, 16, true)]
    public async Task LabelRoundsEqualLevelByLevel(DownscaleMethod method, int chunk, bool oneTaskAtATime)
    {
        // The bundled labels (odd sizes: chunks clipped at the volume's edges), isotropic pyramid steps.
        TiffStackDescriptor stack = TiffStackDescriptor.Open(StagePlanTests.SampleFolder, false, new double[] { 8, 8, 8 }, CancellationToken.None);
        PrecomputedInfo info = StagePlanTests.PlanInfo(stack.Size, chunk);
        info.Scales.Clear();
        info.Scales.AddRange(ScalePyramid.Generate(stack.Size, new double[] { 8, 8, 8 }, new Int3(0, 0, 0), chunk, ChunkEncodings.CompressedSegmentation, null));
        Assert.True(info.Scales.Count >= 3, $"{info.Scales.Count} scales");
        string levelByLevel = TestData.NewScratch("pyramid-levels");
        string rounds = TestData.NewScratch("pyramid-rounds");
        int[] targets = Enumerable.Range(1, info.Scales.Count - 1).ToArray();
        foreach (string destination in new[] { levelByLevel, rounds })
        {
            await StageExecutor.ExecuteAsync(StagePlanner.PlanConvert(info, destination, ChunkLayout.Flat, true, stack.Size, stack.ReadGranularity, stack.DataType, 1 << 20, stack.Spec), new StageContext(), null, OperationMonitor.None, CancellationToken.None);
        }

        StagePlan single = StagePlanner.PlanDownscale(info, levelByLevel, ChunkLayout.Flat, true, targets, method, pyramidRegionBytes: 0);
        StagePlan pyramid = StagePlanner.PlanDownscale(info, rounds, ChunkLayout.Flat, true, targets, method);
        Assert.Equal(targets.Length, single.PhaseCount);
        Assert.True(pyramid.PhaseCount < single.PhaseCount, $"{pyramid.PhaseCount} rounds for {targets.Length} levels");
        Assert.Contains(pyramid.Tasks, t => t.Scale - t.ReadScale > 1);

        // Every chunk of every level is owned by exactly one task.
        Assert.Equal(single.Tasks.SelectMany(t => t.Outputs).OrderBy(o => o, StringComparer.Ordinal), pyramid.Tasks.SelectMany(t => t.Outputs).OrderBy(o => o, StringComparer.Ordinal));
        await RunAsync(single, oneTaskAtATime: false);
        await RunAsync(pyramid, oneTaskAtATime);
        AssertSameTrees(levelByLevel, rounds);
    }

    [Fact]
    public async Task ImageRoundsAverageLikeLevelByLevelOnAnisotropicSteps()
    {
        // A uint16 image with raw chunks, anisotropic voxels (the first steps halve x and y only).
        TiffStackDescriptor stack = TiffStackDescriptor.Open(StagePlanTests.SampleFolder, false, new double[] { 8, 8, 30 }, CancellationToken.None);
        var info = new PrecomputedInfo { Type = "image", DataType = stack.DataType };
        info.Scales.AddRange(ScalePyramid.Generate(stack.Size, new double[] { 8, 8, 30 }, new Int3(0, 0, 0), 16, ChunkEncodings.Raw, null));
        string levelByLevel = TestData.NewScratch("pyramid-image-levels");
        string rounds = TestData.NewScratch("pyramid-image-rounds");
        int[] targets = Enumerable.Range(1, info.Scales.Count - 1).ToArray();
        foreach (string destination in new[] { levelByLevel, rounds })
        {
            await StageExecutor.ExecuteAsync(StagePlanner.PlanConvert(info, destination, ChunkLayout.Nested, false, stack.Size, stack.ReadGranularity, stack.DataType, 1 << 20, stack.Spec), new StageContext(), null, OperationMonitor.None, CancellationToken.None);
        }

        StagePlan single = StagePlanner.PlanDownscale(info, levelByLevel, ChunkLayout.Nested, false, targets, DownscaleMethod.Average, pyramidRegionBytes: 0);
        StagePlan pyramid = StagePlanner.PlanDownscale(info, rounds, ChunkLayout.Nested, false, targets, DownscaleMethod.Average);
        Assert.True(pyramid.PhaseCount < single.PhaseCount, $"{pyramid.PhaseCount} rounds for {targets.Length} levels");
        await RunAsync(single, oneTaskAtATime: false);
        await RunAsync(pyramid, oneTaskAtATime: false);
        AssertSameTrees(levelByLevel, rounds);

        // With resume, a rerun after losing one chunk of a round's last level rewrites that round's task only.
        StagePlan reread = StagePlan.Parse(pyramid.ToJson());
        PlanTask deepest = reread.Tasks.Last(t => t.Scale - t.ReadScale > 1);
        string lost = Path.Combine(rounds, deepest.Outputs[deepest.Outputs.Count - 1]);
        byte[] before = File.ReadAllBytes(lost);
        File.Delete(lost);
        await StageExecutor.ExecuteAsync(reread, new StageContext { Resume = true }, null, OperationMonitor.None, CancellationToken.None);
        Assert.Equal(before, File.ReadAllBytes(lost));
        AssertSameTrees(levelByLevel, rounds);
    }
}
