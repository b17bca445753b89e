using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Stages;
using PrecomputedTools.Engine.Tiff;
using Xunit;

namespace PrecomputedTools.Engine.Tests.Plans;

/// <summary>
/// Convert and downscale writing sharded scales directly (issue 11): tasks own whole shards, assemble
/// them from encoded chunks and write each shard file once. The oracle is the unsharded pipeline:
/// every chunk read back through the shards equals its unsharded twin, byte for byte.
/// </summary>
public sealed class ShardedWriteTests
{
    private static PrecomputedInfo Sharded(PrecomputedInfo info, string hash, string encoding)
    {
        PrecomputedInfo sharded = info.Clone();
        foreach (ScaleInfo scale in sharded.Scales)
        {
            // Small shards (8 chunks of voxels) so every scale has several, and minishards within them.
            ShardingSpec spec = ShardingSpec.ForScale(scale, 8, targetShardBytes: scale.ChunkSize.Volume * 8L * 8);
            spec.Hash = hash;
            spec.MinishardIndexEncoding = encoding;
            spec.DataEncoding = encoding;
            if (spec.PreshiftBits > 0)
            {
                spec.PreshiftBits--;
                spec.MinishardBits++;
            }

            scale.Sharding = spec.ToJson();
        }

        return sharded;
    }

    private static async Task RunAsync(StagePlan plan, bool resume = false, IEnumerable<int>? tasks = null, int threads = 2) =>
        await StageExecutor.ExecuteAsync(plan, new StageContext { Resume = resume, ThrottleLimit = threads }, tasks, OperationMonitor.None, CancellationToken.None);

    private static async Task WritePipelineAsync(TiffStackDescriptor stack, PrecomputedInfo info, string destination)
    {
        await RunAsync(StagePlanner.PlanConvert(info, destination, ChunkLayout.Flat, true, stack.Size, stack.ReadGranularity, stack.DataType, 1 << 16, stack.Spec));
        await RunAsync(StagePlanner.PlanDownscale(info, destination, ChunkLayout.Flat, true, Enumerable.Range(1, info.Scales.Count - 1).ToArray(), DownscaleMethod.Majority));
    }

    [Theory]
    [InlineData("identity", "gzip")]
    [InlineData("murmurhash3_x86_128", "raw")]
    public async Task EveryChunkThroughTheShardsEqualsTheUnshardedPipelines(string hash, string encoding)
    {
        TiffStackDescriptor stack = TiffStackDescriptor.Open(StagePlanTests.SampleFolder, false, new double[] { 8, 8, 8 }, CancellationToken.None);
        PrecomputedInfo info = StagePlanTests.PlanInfo(stack.Size, 16);
        info.Scales.Clear();
        info.Scales.AddRange(ScalePyramid.Generate(stack.Size, new double[] { 8, 8, 8 }, new Int3(0, 0, 0), 16, ChunkEncodings.CompressedSegmentation, null));
        PrecomputedInfo sharded = Sharded(info, hash, encoding);
        string plain = TestData.NewScratch("sharded-oracle");
        string direct = TestData.NewScratch("sharded-direct");
        await WritePipelineAsync(stack, info, plain);
        await WritePipelineAsync(stack, sharded, direct);

        using DatasetStore expected = DatasetStore.Open(plain);
        using DatasetStore actual = DatasetStore.Open(direct);
        PrecomputedInfo written = actual.ReadInfo();
        Assert.All(written.Scales, s => Assert.NotNull(s.Sharding));
        int shards = 0;
        foreach (ScaleInfo scale in written.Scales)
        {
            ScaleInfo unsharded = info.Scales.Single(s => s.Key == scale.Key);
            foreach (Box3 box in scale.EnumerateChunks())
            {
                byte[]? want = expected.ReadChunk(info, unsharded, box);
                byte[]? got = actual.ReadChunk(written, scale, box);
                Assert.NotNull(want);
                Assert.True(got is not null && want.AsSpan().SequenceEqual(got), $"scale {scale.Key} chunk {scale.ChunkName(box)} differs");
            }

            string[] files = Directory.GetFiles(Path.Combine(direct, scale.Key));
            Assert.All(files, f => Assert.EndsWith(".shard", f, StringComparison.Ordinal));
            shards += files.Length;
        }

        Assert.True(shards > written.Scales.Count, $"{shards} shard files for {written.Scales.Count} scales");
        DatasetValidation validation = await DatasetValidator.ValidateAsync(direct, 2, OperationMonitor.None, CancellationToken.None);
        Assert.True(validation.Problems.Count == 0, string.Join("\n", validation.Problems));
    }

    [Fact]
    public async Task ShuffledSingleTasksAndAResumedRunGiveTheSameShardBytes()
    {
        TiffStackDescriptor stack = TiffStackDescriptor.Open(StagePlanTests.SampleFolder, false, new double[] { 8, 8, 8 }, CancellationToken.None);
        PrecomputedInfo info = StagePlanTests.PlanInfo(stack.Size, 16);
        info.Scales.Clear();
        info.Scales.AddRange(ScalePyramid.Generate(stack.Size, new double[] { 8, 8, 8 }, new Int3(0, 0, 0), 16, ChunkEncodings.CompressedSegmentation, null));
        PrecomputedInfo sharded = Sharded(info, "identity", "gzip");
        string parallel = TestData.NewScratch("sharded-parallel");
        string single = TestData.NewScratch("sharded-single");
        await WritePipelineAsync(stack, sharded, parallel);

        // Task by task in a shuffled order within each phase (phases in order: a lower scale reads the one above).
        var random = new Random(11);
        foreach (StagePlan plan in new[]
        {
            StagePlanner.PlanConvert(sharded, single, ChunkLayout.Flat, true, stack.Size, stack.ReadGranularity, stack.DataType, 1 << 16, stack.Spec),
            StagePlanner.PlanDownscale(sharded, single, ChunkLayout.Flat, true, Enumerable.Range(1, sharded.Scales.Count - 1).ToArray(), DownscaleMethod.Majority),
        })
        {
            StagePlan reparsed = StagePlan.Parse(plan.ToJson());
            foreach (IGrouping<int, PlanTask> phase in reparsed.Tasks.GroupBy(t => t.Phase).OrderBy(g => g.Key))
            {
                foreach (PlanTask task in phase.OrderBy(_ => random.Next()))
                {
                    await RunAsync(reparsed, tasks: new[] { task.Index }, threads: 1);
                }
            }
        }

        AssertSameShards(parallel, single);

        // A lost shard of scale 0 and one of scale 1: a resumed run writes exactly those again.
        string[] lost = { Directory.GetFiles(Path.Combine(parallel, sharded.Scales[0].Key))[0], Directory.GetFiles(Path.Combine(parallel, sharded.Scales[1].Key))[0] };
        byte[][] before = lost.Select(File.ReadAllBytes).ToArray();
        DateTime[] untouched = Directory.GetFiles(Path.Combine(parallel, sharded.Scales[0].Key)).Except(lost).Select(File.GetLastWriteTimeUtc).ToArray();
        foreach (string file in lost)
        {
            File.Delete(file);
        }

        await RunAsync(StagePlanner.PlanConvert(sharded, parallel, ChunkLayout.Flat, true, stack.Size, stack.ReadGranularity, stack.DataType, 1 << 16, stack.Spec), resume: true);
        await RunAsync(StagePlanner.PlanDownscale(sharded, parallel, ChunkLayout.Flat, true, Enumerable.Range(1, sharded.Scales.Count - 1).ToArray(), DownscaleMethod.Majority), resume: true);
        for (int i = 0; i < lost.Length; i++)
        {
            Assert.Equal(before[i], File.ReadAllBytes(lost[i]));
        }

        Assert.Equal(untouched, Directory.GetFiles(Path.Combine(parallel, sharded.Scales[0].Key)).Except(lost).Select(File.GetLastWriteTimeUtc).ToArray());
        AssertSameShards(parallel, single);
    }

    private static void AssertSameShards(string a, string b)
    {
        string[] filesA = Directory.GetFiles(a, "*.shard", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(a, f)).OrderBy(f => f, StringComparer.Ordinal).ToArray();
        string[] filesB = Directory.GetFiles(b, "*.shard", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(b, f)).OrderBy(f => f, StringComparer.Ordinal).ToArray();
        Assert.NotEmpty(filesA);
        Assert.Equal(filesA, filesB);
        foreach (string file in filesA)
        {
            Assert.True(File.ReadAllBytes(Path.Combine(a, file)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(b, file))), file + " differs");
        }
    }
}
