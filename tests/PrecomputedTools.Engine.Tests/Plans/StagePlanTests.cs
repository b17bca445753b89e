using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using System.Text.Json.Nodes;
using PrecomputedTools.Engine.Meshing;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Stages;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Engine.Tiff;
using PrecomputedTools.Engine.Volumes;
using Xunit;

namespace PrecomputedTools.Engine.Tests.Plans;

/// <summary>Plans are pure data (golden JSON), and a plan run one task at a time, in any order, equals one parallel run.</summary>
public class StagePlanTests
{
    private static string Golden(string name) => Path.Combine(TestData.RepoRoot, "tests", "PrecomputedTools.Engine.Tests", "Plans", "golden", name);

    internal static string SampleFolder => Path.Combine(TestData.RepoRoot, "module", "samples", "sample-labels");

    internal static PrecomputedInfo PlanInfo(Int3 size, int targetChunk)
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
        var source = new VolumeSourceSpec(VolumeSourceSpec.TiffKind, new JsonObject { ["path"] = "/data/slices", ["swapXY"] = false, ["resolution"] = VolumeSourceSpec.Numbers(new double[] { 8, 8, 40 }) });
        StagePlan plan = StagePlanner.PlanConvert(info, "s3://bucket/ds", ChunkLayout.Nested, gzip: false, new Int3(100, 70, 20), new Int3(100, 70, 1), VoxelType.UInt16, slabBudgetBytes: 100_000, source: source);
        plan.DestinationStore = new StoreOptions { S3 = { EndpointUrl = new Uri("http://127.0.0.1:9000"), Region = "eu-west-1", AccessKey = "AKIDSECRET", SecretKey = "very-secret" } }.ToPublicJson();
        string json = plan.ToJson();
        AssertGolden("convert-100x70x20.json", json);
        Assert.DoesNotContain("SECRET", json, StringComparison.OrdinalIgnoreCase);
        StagePlan parsed = StagePlan.Parse(json);
        Assert.Equal(json, parsed.ToJson());
        Assert.Equal("/data/slices", parsed.Source!.GetString("path"));
        Assert.Equal(info.Scales[0].ChunkCount, plan.Tasks.Sum(t => t.Chunks.Count));
        Assert.Equal(plan.Tasks.SelectMany(t => t.Outputs).Count(), plan.Tasks.SelectMany(t => t.Outputs).Distinct().Count());

        // The info is its own last phase: it declares the dataset once every chunk is there.
        PlanTask last = plan.Tasks[plan.Tasks.Count - 1];
        Assert.Equal(PlanTaskKinds.Info, last.Kind);
        Assert.Equal(new[] { "info" }, last.Outputs);
        Assert.Equal(1, last.Phase);
        Assert.All(plan.Tasks.Take(plan.Tasks.Count - 1), t => Assert.Equal(0, t.Phase));
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

    [Fact]
    public void MeshPlanIsGolden()
    {
        PrecomputedInfo info = PlanInfo(new Int3(100, 70, 20), 32);
        info.Mesh = "mesh";
        var settings = new MeshPlanSettings
        {
            ScaleKey = info.Scales[0].Key,
            SourceName = info.Scales[0].Key,
            VolumeSize = info.Scales[0].Size,
            ChunkSize = new Int3(64, 64, 20),
            Resolution = info.Scales[0].Resolution,
            VoxelOffset = new Int3(0, 0, 0),
            MaxError = 16,
            SegmentIds = new ulong[] { 3, 18446744073709551615 },
            SegmentNames = new Dictionary<ulong, string> { [3] = "three" },
        };
        StagePlan plan = StagePlanner.PlanMesh(info, "/data/ds", ChunkLayout.Flat, true, settings, 0);
        string json = plan.ToJson();
        AssertGolden("mesh-100x70x20.json", json);
        StagePlan parsed = StagePlan.Parse(json);
        Assert.Equal(json, parsed.ToJson());
        Assert.Equal(settings.Parameters, parsed.Mesh!.Parameters);
        Assert.Equal(new[] { PlanTaskKinds.Mesh, PlanTaskKinds.Manifests, PlanTaskKinds.MeshFinish }, parsed.Tasks.Select(t => t.Kind).Distinct());
        Assert.Equal(4, parsed.Tasks.Count(t => t.Kind == PlanTaskKinds.Mesh));
        Assert.Equal(3, parsed.PhaseCount);

        // A mesh task reads its chunk and one voxel past it (where it is inside the volume).
        PlanTask first = parsed.Tasks[0];
        Assert.Equal(new Box3(new Int3(0, 0, 0), new Int3(65, 65, 20)), first.Reads);
    }

    [Fact]
    public void CopyPlanIsGoldenInBatchesWithTheInfoLast()
    {
        PrecomputedInfo info = PlanInfo(new Int3(100, 70, 20), 32);
        var items = Enumerable.Range(0, 7).Select(i => new CopyItem("8nm/" + i, "8nm/" + i, i % 2 == 0, 1000)).ToList();
        var source = new VolumeSourceSpec(VolumeSourceSpec.PrecomputedKind, new JsonObject { ["location"] = "https://example.org/ds", ["store"] = new JsonObject() });
        StagePlan plan = StagePlanner.PlanCopy(info, "s3://bucket/ds", ChunkLayout.Flat, true, items, source, objectsPerTask: 3);
        string json = plan.ToJson();
        AssertGolden("copy-7-objects.json", json);
        StagePlan parsed = StagePlan.Parse(json);
        Assert.Equal(json, parsed.ToJson());
        Assert.Equal(new[] { 3, 3, 1, 0 }, parsed.Tasks.Select(t => t.Inputs.Count));
        Assert.Equal(items.Select(i => i.SourceKey), parsed.Tasks.SelectMany(t => t.Inputs).Select(i => i.Key));
        Assert.Equal(items.Select(i => i.Gzip), parsed.Tasks.SelectMany(t => t.Inputs).Select(i => i.Gzip));
        Assert.Equal(PlanTaskKinds.Info, parsed.Tasks[parsed.Tasks.Count - 1].Kind);
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

    /// <summary>Plans of every stage of the guide (convert, downscale, mesh, copy) for a destination.</summary>
    internal static List<StagePlan> GuidePlans(TiffStackDescriptor stack, PrecomputedInfo info, string destination, string copyDestination)
    {
        var plans = new List<StagePlan>
        {
            StagePlanner.PlanConvert(info, destination, ChunkLayout.Flat, true, stack.Size, stack.ReadGranularity, stack.DataType, 1 << 16, stack.Spec),
            StagePlanner.PlanDownscale(info, destination, ChunkLayout.Flat, true, Enumerable.Range(1, info.Scales.Count - 1).ToArray(), DownscaleMethod.Majority),
        };
        PrecomputedInfo meshed = info.Clone();
        meshed.Mesh = "mesh";
        var mesh = new MeshPlanSettings
        {
            ScaleKey = info.Scales[1].Key,
            SourceName = info.Scales[1].Key,
            VolumeSize = info.Scales[1].Size,
            ChunkSize = new Int3(64, 64, 16),
            Resolution = info.Scales[1].Resolution,
            VoxelOffset = info.Scales[1].VoxelOffset,
        };
        plans.Add(StagePlanner.PlanMesh(meshed, destination, ChunkLayout.Flat, true, mesh, 1));
        return plans;
    }

    private static StagePlan CopyPlan(string from, string to)
    {
        using DatasetStore source = DatasetStore.Open(from);
        using IObjectStore destination = StoreLocation.Open(to);
        PrecomputedInfo info = source.ReadInfo();
        var spec = new VolumeSourceSpec(VolumeSourceSpec.PrecomputedKind, new JsonObject { ["location"] = from, ["store"] = new JsonObject() });
        return StagePlanner.PlanCopy(info, to, source.Layout, source.Gzip, DatasetCopier.Plan(source, info, destination), spec, objectsPerTask: 5);
    }

    [Fact]
    public async Task ShuffledSingleTasksEqualOneParallelRun()
    {
        TiffStackDescriptor stack = TiffStackDescriptor.Open(SampleFolder, false, new double[] { 800, 800, 2000 }, CancellationToken.None);
        PrecomputedInfo info = PlanInfo(stack.Size, 32);
        string parallelRun = TestData.NewScratch("plan-parallel");
        string singleRun = TestData.NewScratch("plan-single");

        // One run: every task of each plan, in parallel, in this process.
        foreach (StagePlan plan in GuidePlans(stack, info, parallelRun, ""))
        {
            await StageExecutor.ExecuteAsync(plan, new StageContext { ThrottleLimit = 4 }, null, OperationMonitor.None, CancellationToken.None);
        }

        await StageExecutor.ExecuteAsync(CopyPlan(parallelRun, parallelRun + "-copy"), new StageContext { ThrottleLimit = 4 }, null, OperationMonitor.None, CancellationToken.None);

        // The same plans saved as JSON, each task run alone from the JSON only (the source volume
        // opened from what the plan records), in shuffled order within a phase.
        var random = new Random(10);
        var jsons = GuidePlans(stack, info, singleRun, "").Select(p => p.ToJson()).ToList();
        async Task RunShuffled(string json)
        {
            StagePlan plan = StagePlan.Parse(json);
            Assert.True(plan.Tasks.Count > 1, $"the {plan.Stage} plan has several tasks");
            foreach (IGrouping<int, PlanTask> phase in plan.Tasks.GroupBy(t => t.Phase).OrderBy(g => g.Key))
            {
                foreach (PlanTask task in phase.OrderBy(_ => random.Next()))
                {
                    await StageExecutor.ExecuteAsync(StagePlan.Parse(json), new StageContext { ThrottleLimit = 1 }, new[] { task.Index }, OperationMonitor.None, CancellationToken.None);
                }
            }
        }

        foreach (string json in jsons)
        {
            await RunShuffled(json);
        }

        await RunShuffled(CopyPlan(singleRun, singleRun + "-copy").ToJson());

        List<string> Files(string root) => Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(root, f)).OrderBy(f => f, StringComparer.Ordinal).ToList();
        foreach (string suffix in new[] { "", "-copy" })
        {
            List<string> expected = Files(parallelRun + suffix);
            Assert.Equal(info.Scales.Sum(s => s.ChunkCount) + 1, expected.Count(f => !f.StartsWith("mesh", StringComparison.Ordinal)));
            Assert.Contains(Path.Combine("mesh", "info"), expected);
            Assert.True(expected.Count(f => f.EndsWith(":0", StringComparison.Ordinal)) > 10, "manifests were written");
            Assert.Equal(expected, Files(singleRun + suffix));
            Assert.All(expected, f => Assert.Equal(File.ReadAllBytes(Path.Combine(parallelRun + suffix, f)), File.ReadAllBytes(Path.Combine(singleRun + suffix, f))));
        }
    }

    [Fact]
    public async Task AConvertPlanRunsFromItsJsonAloneAndTheInfoComesLast()
    {
        TiffStackDescriptor stack = TiffStackDescriptor.Open(SampleFolder, false, new double[] { 800, 800, 2000 }, CancellationToken.None);
        PrecomputedInfo info = PlanInfo(stack.Size, 32);
        string destination = TestData.NewScratch("plan-json-only");
        string json = StagePlanner.PlanConvert(info, destination, ChunkLayout.Nested, false, stack.Size, stack.ReadGranularity, stack.DataType, 1 << 16, stack.Spec).ToJson();
        StagePlan plan = StagePlan.Parse(json);
        int[] chunkTasks = plan.Tasks.Where(t => t.Kind == PlanTaskKinds.Encode).Select(t => t.Index).ToArray();
        await StageExecutor.ExecuteAsync(plan, new StageContext(), chunkTasks, OperationMonitor.None, CancellationToken.None);
        Assert.False(File.Exists(Path.Combine(destination, "info")), "no info before its task");
        await StageExecutor.ExecuteAsync(plan, new StageContext(), new[] { plan.Tasks.Count - 1 }, OperationMonitor.None, CancellationToken.None);
        using DatasetStore written = DatasetStore.Open(destination);
        Assert.Equal(ChunkLayout.Nested, written.Layout);
        Assert.False(written.Gzip);
        Assert.Equal(info.ToJson(), written.ReadInfo().ToJson());
        Assert.True(info.Scales[0].EnumerateChunks().All(b => written.IsChunkComplete(info, info.Scales[0], b)));
    }

    [Fact]
    public async Task ManifestTasksBeforeTheirChunksAreMeshChunkMissing()
    {
        TiffStackDescriptor stack = TiffStackDescriptor.Open(SampleFolder, false, new double[] { 800, 800, 2000 }, CancellationToken.None);
        PrecomputedInfo info = PlanInfo(stack.Size, 32);
        string destination = TestData.NewScratch("plan-mesh-order");
        List<StagePlan> plans = GuidePlans(stack, info, destination, "");
        await StageExecutor.ExecuteAsync(plans[0], new StageContext(), null, OperationMonitor.None, CancellationToken.None);
        StagePlan mesh = plans[2];
        int manifest = mesh.Tasks.First(t => t.Kind == PlanTaskKinds.Manifests).Index;
        var ex = await Assert.ThrowsAsync<EngineException>(() => StageExecutor.ExecuteAsync(mesh, new StageContext(), new[] { manifest }, OperationMonitor.None, CancellationToken.None));
        Assert.Equal("MeshChunkMissing", ex.ErrorId);
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
