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

/// <summary>Saved plans run as array jobs: the partition, the task records, resume and status.</summary>
public class PlanRunTests
{
    private static List<string> Files(string root) => Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
        .Select(f => Path.GetRelativePath(root, f)).OrderBy(f => f, StringComparer.Ordinal).ToList();

    [Theory]
    [InlineData(2)]
    [InlineData(10)]
    [InlineData(97)]
    public void EveryTaskOfAPhaseBelongsToExactlyOneIndexInContiguousRuns(int tasks)
    {
        PrecomputedInfo info = StagePlanTests.PlanInfo(new Int3(128 * tasks, 128, 128), 64);
        StagePlan plan = StagePlanner.PlanDownscale(info, "x", ChunkLayout.Flat, true, new[] { 1 }, DownscaleMethod.Majority);
        List<PlanTask> phase = plan.Tasks.Where(t => t.Phase == 0).ToList();
        foreach (int count in new[] { 1, 2, 3, 4, 7, 200 })
        {
            var shares = Enumerable.Range(0, count).Select(i => PlanPartition.TasksOf(plan, 0, i, count)).ToList();
            Assert.Equal(phase.Select(t => t.Index), shares.SelectMany(s => s).Select(t => t.Index));
            long total = phase.Sum(PlanPartition.WorkOf), largest = phase.Max(PlanPartition.WorkOf);
            Assert.All(shares, s => Assert.True(s.Sum(PlanPartition.WorkOf) <= total / count + largest, "no share exceeds its part by more than one task"));
            for (int i = 0; i < count; i++)
            {
                Assert.All(shares[i], t => Assert.Equal(i, PlanPartition.IndexOf(plan, t, count)));
            }

            Assert.Equal(Math.Min(count, phase.Count), PlanPartition.ElementsFor(plan, 0, count));
        }

        Assert.Equal("InvalidTaskIndex", Assert.Throws<EngineException>(() => PlanPartition.TasksOf(plan, 0, 3, 3)).ErrorId);
        Assert.Equal("PhaseNotFound", Assert.Throws<EngineException>(() => PlanPartition.TasksOf(plan, plan.PhaseCount, 0, 1)).ErrorId);
    }

    [Fact]
    public void SharesAreEqualWorkNotEqualCounts()
    {
        // Multi-resolution meshing chunks start one voxel lower: 2 x 2 x 2 chunks of 256 and a
        // one-voxel-thick layer after each. Split two ways by count, the thick layer went to one
        // element and the thin ones to the other (657 s against 12 s in the cluster benchmark).
        PrecomputedInfo info = StagePlanTests.PlanInfo(new Int3(512, 512, 256), 64);
        var settings = new PrecomputedTools.Engine.Meshing.MeshPlanSettings
        {
            ScaleKey = info.Scales[0].Key,
            SourceName = info.Scales[0].Key,
            VolumeSize = info.Scales[0].Size,
            ChunkSize = new Int3(256, 256, 256),
            Resolution = info.Scales[0].Resolution,
            VoxelOffset = info.Scales[0].VoxelOffset,
            Format = PrecomputedTools.Engine.Meshing.MeshFormat.MultiResolution,
        };
        StagePlan plan = StagePlanner.PlanMesh(info, "x", ChunkLayout.Flat, true, settings, 0);
        List<PlanTask> meshing = plan.Tasks.Where(t => t.Phase == 0).ToList();
        Assert.True(meshing.Count > 8, $"{meshing.Count} meshing tasks");
        long[] work = Enumerable.Range(0, 2).Select(i => PlanPartition.TasksOf(plan, 0, i, 2).Sum(PlanPartition.WorkOf)).ToArray();
        Assert.True(Math.Min(work[0], work[1]) * 3 > Math.Max(work[0], work[1]), $"shares of {work[0]} and {work[1]} voxels");
    }

    [Fact]
    public void TemporaryFileNamesAreUniqueAcrossProcessesWritingOneSharedFolder()
    {
        // Workers of a cluster run write the same folder (several write the mesh journal's
        // parameters at once): a name unique only within a process collided between workers.
        string name = Path.GetFileName(AtomicFile.TempPathFor(Path.Combine(TestData.NewScratch("temp-names"), "parameters.json")));
        Assert.StartsWith(".parameters.json." + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture) + "-", name, StringComparison.Ordinal);
        Assert.Matches(@"^\.parameters\.json\.[0-9]+-[0-9a-f]{8}-[0-9]+-[0-9]+\.pt-tmp$", name);
    }

    [Fact]
    public void APlanIsSavedOnceAndReadBack()
    {
        string folder = TestData.NewScratch("plan-save");
        PrecomputedInfo info = StagePlanTests.PlanInfo(new Int3(128, 128, 8), 32);
        StagePlan plan = StagePlanner.PlanDownscale(info, folder, ChunkLayout.Flat, true, new[] { 1 }, DownscaleMethod.Majority);
        string path = Path.Combine(folder, "plans", "downscale.json");
        using (PlanLocation location = PlanLocation.Open(path))
        {
            location.Save(plan, force: false);
            Assert.Equal(plan.ToJson(), location.Load().ToJson());
            Assert.Equal("PlanExists", Assert.Throws<EngineException>(() => location.Save(plan, force: false)).ErrorId);
            location.MarkDone(plan.Tasks[0], "test", 1, CancellationToken.None);
            Assert.Equal(new[] { plan.Tasks[0].Index }, location.DoneTasks());

            // Replacing a plan forgets what was done under the old one.
            location.Save(plan, force: true);
            Assert.Empty(location.DoneTasks());
        }

        using PlanLocation missing = PlanLocation.Open(Path.Combine(folder, "nope.json"));
        Assert.Equal("PlanNotFound", Assert.Throws<EngineException>(() => missing.Load()).ErrorId);
        Assert.Equal("InvalidPlanLocation", Assert.Throws<EngineException>(() => PlanLocation.Open("s3://bucket-only")).ErrorId);
        Assert.Equal("InvalidPlanLocation", Assert.Throws<EngineException>(() => PlanLocation.Open("s3://bucket/prefix/")).ErrorId);
        File.WriteAllText(Path.Combine(folder, "bad.json"), "{\"version\": 2}");
        using PlanLocation bad = PlanLocation.Open(Path.Combine(folder, "bad.json"));
        Assert.Equal("InvalidPlan", Assert.Throws<EngineException>(() => bad.Load()).ErrorId);
    }

    [Fact]
    public async Task ThreeArrayElementsPerPhaseInReverseOrderEqualOneRunAndReruns()
    {
        TiffStackDescriptor stack = TiffStackDescriptor.Open(StagePlanTests.SampleFolder, false, new double[] { 800, 800, 2000 }, CancellationToken.None);
        PrecomputedInfo info = StagePlanTests.PlanInfo(stack.Size, 32);
        string oneRun = TestData.NewScratch("array-one");
        string arrayRun = TestData.NewScratch("array-run");
        string plans = TestData.NewScratch("array-plans");
        foreach (StagePlan plan in StagePlanTests.GuidePlans(stack, info, oneRun, ""))
        {
            await StageExecutor.ExecuteAsync(plan, new StageContext { ThrottleLimit = 2 }, null, OperationMonitor.None, CancellationToken.None);
        }

        List<StagePlan> guide = StagePlanTests.GuidePlans(stack, info, arrayRun, "");
        var locations = new List<PlanLocation>();
        try
        {
            for (int p = 0; p < guide.Count; p++)
            {
                PlanLocation location = PlanLocation.Open(Path.Combine(plans, $"{p}-{guide[p].Stage}.json"));
                locations.Add(location);
                location.Save(guide[p], force: false);
                StagePlan saved = location.Load();
                for (int phase = 0; phase < saved.PhaseCount; phase++)
                {
                    // Elements of a phase run in any order (here the last first), each from the saved plan alone.
                    for (int index = 2; index >= 0; index--)
                    {
                        PlanWorkSummary summary = await PlanWorker.RunAsync(location.Load(), location, new[] { phase }, index, 3, new StageContext { ThrottleLimit = 1 }, OperationMonitor.None, CancellationToken.None);
                        Assert.Equal(PlanPartition.TasksOf(saved, phase, index, 3).Count, summary.Ran);
                    }
                }

                using DatasetStore destination = DatasetStore.Open(arrayRun);
                Assert.All(PlanStatus.Read(saved, location, destination), s => Assert.True(s.Done, $"task {s.Task.Index} ({s.Task.Kind}, {string.Join(" ", s.Task.Outputs)}) is done; records {string.Join(",", location.DoneTasks())}; files {string.Join(" ", Files(arrayRun).Take(5))}"));
            }

            List<string> expected = Files(oneRun);
            Assert.Contains(Path.Combine("mesh", "info"), expected);
            Assert.Equal(expected, Files(arrayRun).Where(f => !f.StartsWith(".pt-", StringComparison.Ordinal)).ToList());
            Assert.All(expected, f => Assert.Equal(File.ReadAllBytes(Path.Combine(oneRun, f)), File.ReadAllBytes(Path.Combine(arrayRun, f))));

            // A requeued element skips what is done; a lost output makes its task missing, and only that task reruns.
            StagePlan downscale = locations[1].Load();
            PlanTask lost = downscale.Tasks[downscale.Tasks.Count - 1];
            string lostFile = Directory.EnumerateFiles(arrayRun, "*", SearchOption.AllDirectories).First(f => Path.GetRelativePath(arrayRun, f).Replace('\\', '/').StartsWith(lost.Outputs[0], StringComparison.Ordinal));
            byte[] before = File.ReadAllBytes(lostFile);
            File.Delete(lostFile);
            using (DatasetStore destination = DatasetStore.Open(arrayRun))
            {
                IReadOnlyList<PlanTaskState> states = PlanStatus.Read(downscale, locations[1], destination);
                Assert.Equal(new[] { lost.Index }, states.Where(s => !s.Done).Select(s => s.Task.Index));
            }

            int owner = PlanPartition.IndexOf(downscale, lost, 3);
            PlanWorkSummary rerun = await PlanWorker.RunAsync(downscale, locations[1], Enumerable.Range(0, downscale.PhaseCount).ToList(), owner, 3, new StageContext(), OperationMonitor.None, CancellationToken.None);
            Assert.Equal(1, rerun.Ran);
            Assert.Equal(rerun.Tasks - 1, rerun.Skipped);
            Assert.Equal(before, File.ReadAllBytes(lostFile));
        }
        finally
        {
            locations.ForEach(l => l.Dispose());
        }
    }

    [Fact]
    public async Task AFailedTaskIsRecordedWithItsErrorAndNotDone()
    {
        TiffStackDescriptor stack = TiffStackDescriptor.Open(StagePlanTests.SampleFolder, false, new double[] { 800, 800, 2000 }, CancellationToken.None);
        PrecomputedInfo info = StagePlanTests.PlanInfo(stack.Size, 32);
        string destination = TestData.NewScratch("array-fail");
        string slices = TestData.NewScratch("array-fail-slices");
        foreach (string file in Directory.EnumerateFiles(StagePlanTests.SampleFolder))
        {
            File.Copy(file, Path.Combine(slices, Path.GetFileName(file)));
        }

        // The convert plan's source disappears before the workers run.
        TiffStackDescriptor moved = TiffStackDescriptor.Open(slices, false, new double[] { 800, 800, 2000 }, CancellationToken.None);
        StagePlan plan = StagePlanTests.GuidePlans(moved, info, destination, "")[0];
        Directory.Delete(slices, recursive: true);
        using PlanLocation location = PlanLocation.Open(Path.Combine(TestData.NewScratch("array-fail-plan"), "plan.json"));
        location.Save(plan, force: false);
        await Assert.ThrowsAnyAsync<Exception>(() => PlanWorker.RunAsync(plan, location, new[] { 0 }, 0, 2, new StageContext(), OperationMonitor.None, CancellationToken.None));
        using DatasetStore store = DatasetStore.Open(destination);
        IReadOnlyList<PlanTaskState> states = PlanStatus.Read(plan, location, store);
        Assert.All(PlanPartition.TasksOf(plan, 0, 0, 2), t => Assert.False(string.IsNullOrEmpty(states.Single(s => s.Task.Index == t.Index).Failure)));
        Assert.All(PlanPartition.TasksOf(plan, 0, 1, 2), t => Assert.Null(states.Single(s => s.Task.Index == t.Index).Failure));
        Assert.DoesNotContain(states, s => s.Done);
    }
}
