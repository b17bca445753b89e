using System;
using System.IO;
using System.IO.Compression;
using System.Text.Json.Nodes;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Stages;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Engine.Volumes;
using Xunit;

namespace PrecomputedTools.Engine.Tests.Plans;

/// <summary>Issue 17 (j): a gzip bomb in a dataset's chunks does not drive a copy (object by object, stored form kept) to gigabytes.</summary>
public sealed class HostileCopyTests
{
    private const string Info = "{\"@type\":\"neuroglancer_multiscale_volume\",\"type\":\"image\",\"data_type\":\"uint8\",\"num_channels\":1,\"scales\":[{\"key\":\"1\",\"size\":[64,64,64],\"resolution\":[1,1,1],\"voxel_offset\":[0,0,0],\"chunk_sizes\":[[64,64,64]],\"encoding\":\"raw\"}]}";

    [Fact]
    public async Task AChunkInflatingFarBeyondItsLegalSizeStopsTheCopyWithAnEngineError()
    {
        string from = TestData.NewScratch("copy-bomb");
        File.WriteAllText(Path.Combine(from, "info"), Info);
        Directory.CreateDirectory(Path.Combine(from, "1"));

        // 256 MB of zeros in about 250 KB: the raw chunk can legally hold 64^3 = 262,144 bytes.
        using (var file = File.Create(Path.Combine(from, "1", "0-64_0-64_0-64.gz")))
        using (var zip = new GZipStream(file, CompressionLevel.Optimal))
        {
            byte[] zeros = new byte[1 << 20];
            for (int i = 0; i < 256; i++)
            {
                zip.Write(zeros);
            }
        }

        string to = from + "-copy";
        StagePlan plan;
        using (DatasetStore source = DatasetStore.Open(from))
        using (IObjectStore destination = StoreLocation.Open(to))
        {
            PrecomputedInfo info = source.ReadInfo();
            var spec = new VolumeSourceSpec(VolumeSourceSpec.PrecomputedKind, new JsonObject { ["location"] = from, ["store"] = new JsonObject() });
            plan = StagePlanner.PlanCopy(info, to, source.Layout, source.Gzip, DatasetCopier.Plan(source, info, destination), spec, objectsPerTask: 5);
        }

        GC.Collect();
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        EngineException error = await Assert.ThrowsAsync<EngineException>(() => StageExecutor.ExecuteAsync(plan, new StageContext { ThrottleLimit = 1 }, null, OperationMonitor.None, CancellationToken.None));
        allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
        Assert.Equal("ObjectTooLarge", error.ErrorId);
        Assert.Equal(EngineErrorKind.InvalidData, error.Kind);
        Assert.True(allocated < 64L << 20, $"the copy allocated {allocated >> 20} MB");
        Assert.False(File.Exists(Path.Combine(to, "info")));
    }
}
