using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Engine.Tiff;
using PrecomputedTools.Engine.Volumes;
using Xunit;

namespace PrecomputedTools.Engine.Tests.Plans;

/// <summary>Plans are pure data (golden JSON), and a plan run one task at a time, in any order, equals one parallel run.</summary>
public class StagePlanTests
{
    private static string Golden(string name) => Path.Combine(TestData.RepoRoot, "tests", "PrecomputedTools.Engine.Tests", "Plans", "golden", name);

    private static string SampleFolder => Path.Combine(TestData.RepoRoot, "module", "samples", "sample-labels");

    private static PrecomputedInfo PlanInfo(Int3 size, int targetChunk)
    {
        var info = new PrecomputedInfo { Type = "segmentation", DataType = VoxelType.UInt64 };
        info.Scales.AddRange(ScalePyramid.Generate(size, new double[] { 8, 8, 40 }, new Int3(0, 0, 0), targetChunk, ChunkEncodings.CompressedSegmentation, null));
        return info;
    }

    // Golden files are the contract a saved plan keeps; regenerate deliberately with PT_UPDATE_GOLDEN=1.
    private static void AssertGolden(string name, string json)
    {
        string path = Golden(name);
        if (Environment.GetEnvironmentVariable("PT_UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(path, json);
        }

        Assert.Equal(File.ReadAllText(path).Replace("\r\n", "\n"), json.Replace("\r\n", "\n"));
    }

    [Fact]
    public void ConvertPlanIsGolden()
    {
        PrecomputedInfo info = PlanInfo(new Int3(100, 70, 20), 32);
        StagePlan plan = StagePlanner.PlanConvert(info, "s3://bucket/ds", ChunkLayout.Nested, gzip: false, new Int3(100, 70, 20), new Int3(100, 70, 1), VoxelType.UInt16, slabBudgetBytes: 100_000);
        AssertGolden("convert-100x70x20.json", plan.ToJson());
        Assert.Equal(plan.ToJson(), StagePlan.Parse(plan.ToJson()).ToJson());
        Assert.Equal(info.Scales[0].ChunkCount, plan.Tasks.Sum(t => t.Chunks.Count));
        Assert.Equal(plan.Tasks.SelectMany(t => t.Outputs).Count(), plan.Tasks.SelectMany(t => t.Outputs).Distinct().Count());
    }

    [Fact]
    public void DownscalePlanIsGoldenWithOnePhasePerScale()
    {
        PrecomputedInfo info = PlanInfo(new Int3(100, 70, 20), 32);
        StagePlan plan = StagePlanner.PlanDownscale(info, "/data/ds", ChunkLayout.Flat, gzip: true, Enumerable.Range(1, info.Scales.Count - 1).ToArray(), DownscaleMethod.Majority);
        AssertGolden("downscale-100x70x20.json", plan.ToJson());
        StagePlan parsed = StagePlan.Parse(plan.ToJson());
        Assert.Equal(plan.ToJson(), parsed.ToJson());
        Assert.Equal(info.Scales.Count - 1, parsed.PhaseCount);
        Assert.All(parsed.Tasks, t => Assert.Equal(t.Scale - 1, t.ReadScale));

        // Workers i of n split the tasks without overlap and without gaps.
        var spread = Enumerable.Range(0, 3).SelectMany(i => parsed.TasksOfWorker(i, 3)).Select(t => t.Index).OrderBy(i => i);
        Assert.Equal(Enumerable.Range(0, parsed.Tasks.Count), spread);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("{\"version\":99}")]
    [InlineData("not json")]
    public void AnythingElseIsInvalidPlan(string json)
    {
        var ex = Assert.Throws<EngineException>(() => StagePlan.Parse(json, "plan.json"));
        Assert.Equal("InvalidPlan", ex.ErrorId);
    }

    [Fact]
    public async Task ShuffledSingleTasksEqualOneParallelRun()
    {
        TiffStackDescriptor stack = TiffStackDescriptor.Open(SampleFolder, false, new double[] { 800, 800, 2000 }, CancellationToken.None);
        PrecomputedInfo info = PlanInfo(stack.Size, 32);
        string parallelRun = TestData.NewScratch("plan-parallel");
        string singleRun = TestData.NewScratch("plan-single");

        // One run: every task of each plan, in parallel.
        using (var store = new DatasetStore(new FolderStore(parallelRun)))
        using (IVolumeReader reader = stack.OpenReader())
        {
            StagePlan convert = StagePlanner.PlanConvert(info, parallelRun, store.Layout, store.Gzip, reader.Size, reader.ReadGranularity, reader.DataType, 1 << 16);
            await ScaleWriter.ExecuteAsync(convert, store, reader, new ChunkWriteOptions { ThrottleLimit = 4 }, null, OperationMonitor.None, CancellationToken.None);
            StagePlan down = StagePlanner.PlanDownscale(info, parallelRun, store.Layout, store.Gzip, Enumerable.Range(1, info.Scales.Count - 1).ToArray(), DownscaleMethod.Majority);
            await ScaleWriter.ExecuteAsync(down, store, null, new ChunkWriteOptions { ThrottleLimit = 4 }, null, OperationMonitor.None, CancellationToken.None);
        }

        // The same plans saved as JSON, each task run alone from the JSON with its own store and
        // reader, in shuffled order (within a phase: a lower scale needs the one above).
        string convertJson, downJson;
        using (IVolumeReader reader = stack.OpenReader())
        {
            convertJson = StagePlanner.PlanConvert(info, singleRun, ChunkLayout.Flat, true, reader.Size, reader.ReadGranularity, reader.DataType, 1 << 16).ToJson();
        }

        downJson = StagePlanner.PlanDownscale(info, singleRun, ChunkLayout.Flat, true, Enumerable.Range(1, info.Scales.Count - 1).ToArray(), DownscaleMethod.Majority).ToJson();
        var random = new Random(10);
        foreach (string json in new[] { convertJson, downJson })
        {
            StagePlan plan = StagePlan.Parse(json);
            Assert.True(plan.Tasks.Count > 4, "the plan has several tasks");
            foreach (IGrouping<int, PlanTask> phase in plan.Tasks.GroupBy(t => t.Phase).OrderBy(g => g.Key))
            {
                foreach (PlanTask task in phase.OrderBy(_ => random.Next()))
                {
                    StagePlan fresh = StagePlan.Parse(json);
                    using var store = DatasetStore.Open(fresh.Destination);
                    using IVolumeReader? reader = task.ReadScale < 0 ? stack.OpenReader() : null;
                    await ScaleWriter.ExecuteAsync(fresh, store, reader, new ChunkWriteOptions { ThrottleLimit = 1 }, new[] { task.Index }, OperationMonitor.None, CancellationToken.None);
                }
            }
        }

        List<string> Files(string root) => Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(root, f)).OrderBy(f => f, StringComparer.Ordinal).ToList();
        List<string> expected = Files(parallelRun);
        Assert.Equal(info.Scales.Sum(s => s.ChunkCount), expected.Count);
        Assert.Equal(expected, Files(singleRun));
        Assert.All(expected, f => Assert.Equal(File.ReadAllBytes(Path.Combine(parallelRun, f)), File.ReadAllBytes(Path.Combine(singleRun, f))));
    }

    [Fact]
    public async Task ATaskIndexOutsideThePlanIsTaskNotFound()
    {
        PrecomputedInfo info = PlanInfo(new Int3(128, 128, 8), 32);
        StagePlan plan = StagePlanner.PlanDownscale(info, "x", ChunkLayout.Flat, true, new[] { 1 }, DownscaleMethod.Majority);
        using var store = new DatasetStore(new FolderStore(TestData.NewScratch("plan-bad-index")));
        var ex = await Assert.ThrowsAsync<EngineException>(() => ScaleWriter.ExecuteAsync(plan, store, null, new ChunkWriteOptions(), new[] { plan.Tasks.Count }, OperationMonitor.None, CancellationToken.None));
        Assert.Equal("TaskNotFound", ex.ErrorId);
    }
}
