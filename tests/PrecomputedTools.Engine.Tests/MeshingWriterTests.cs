using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine.Meshing;
using Xunit;

namespace PrecomputedTools.Engine.Tests;

public class MeshingWriterTests
{
    [Theory]
    [InlineData(64, 64, 64, 138, 128, 128, 128)]
    [InlineData(256, 256, 128, 138, 128, 128, 128)]
    [InlineData(512, 512, 16, 138, 128, 128, 128)]
    [InlineData(32, 32, 16, 20, 128, 128, 20)]
    public void TheDefaultMeshingChunkIsAMultipleOfTheReadGranularityNear128(int gx, int gy, int gz, int depth, int cx, int cy, int cz)
    {
        // 128 rather than 256 voxels: memory per chunk in flight is what bounds meshing (issue 16:
        // Z-Brain's peak went from 470-750 MB to 290 MB in pwsh); a coarser granularity is halved.
        Int3 chosen = new SegmentMeshSettings().ResolveChunkSize(new Int3(1406, 621, depth), new Int3(gx, gy, gz));
        Assert.Equal(new Int3(cx, cy, cz), chosen);
    }

    private const ulong Big = 18446744073709551557UL; // > 2^63

    /// <summary>Two boxes (one with an id above 2^63), one voxel on the volume corner, in a 24×20×12 volume.</summary>
    private static ulong[] Sample(out Int3 size)
    {
        size = new Int3(24, 20, 12);
        var v = Vol.New(size);
        Vol.Box(v, size, new Int3(2, 3, 1), new Int3(20, 15, 9), 7);
        Vol.Box(v, size, new Int3(5, 5, 3), new Int3(9, 9, 6), Big);
        Vol.Set(v, size, 23, 19, 11, 3);
        return v;
    }

    private static LegacyMeshWriter RunWriter(string dataset, ulong[] labels, Int3 size, bool colonFree, string parameters = "p", IMeshFragmentSink? wrap = null)
    {
        var writer = new LegacyMeshWriter(dataset, "mesh", new Int3(10, 0, -4), parameters, colonFree);
        writer.BeginJournal();
        using var reader = new ArrayVolumeReader(labels, size, new Int3(8, 8, 8));
        var settings = new SegmentMeshSettings { Geometry = new MeshGeometry { Resolution = new double[] { 4, 4, 40 }, VoxelOffset = new Int3(10, 0, -4) }, ChunkSize = new Int3(8, 8, 8), ThrottleLimit = 2 };
        SegmentMesher.RunAsync(reader, settings, wrap ?? writer, OperationMonitor.None, CancellationToken.None).GetAwaiter().GetResult();
        return writer;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WritesTheLegacyLayout(bool colonFree)
    {
        string dataset = TestData.NewScratch("mesh-writer");
        ulong[] labels = Sample(out Int3 size);
        LegacyMeshWriter writer = RunWriter(dataset, labels, size, colonFree);
        IReadOnlyList<SegmentMeshRecord> records = writer.Finish();
        Assert.Equal(new ulong[] { 3, 7, Big }, records.Select(r => r.Id).ToArray());
        string mesh = Path.Combine(dataset, "mesh");
        Assert.Equal("neuroglancer_legacy_mesh", JsonNode.Parse(File.ReadAllText(Path.Combine(mesh, "info")))!["@type"]!.GetValue<string>());
        Assert.False(Directory.Exists(Path.Combine(dataset, LegacyMeshWriter.JournalDirectoryName)), "the journal is removed once the run is complete");
        foreach (SegmentMeshRecord r in records)
        {
            string manifestName = colonFree ? $"{r.Id}.json" : $"{r.Id}:0";
            Assert.Equal(Path.Combine(mesh, manifestName), r.ManifestPath);
            JsonArray fragments = JsonNode.Parse(File.ReadAllText(r.ManifestPath))!["fragments"]!.AsArray();
            Assert.Equal(r.Fragments, fragments.Select(f => f!.GetValue<string>()).ToArray());
            var merged = new MemorySink();
            foreach (string name in r.Fragments)
            {
                Assert.DoesNotContain(':', name);
                Assert.StartsWith(r.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) + "_", name);
                byte[] bytes = File.ReadAllBytes(Path.Combine(mesh, name));
                MeshData m = MeshData.FromFragmentBytes(bytes, name);
                Assert.Equal(4 + (12 * m.VertexCount) + (12 * m.TriangleCount), bytes.Length);
                merged.AddFragment(r.Id, default, m);
            }

            MeshReport report = MeshReport.Of(merged.Merged(r.Id));
            Assert.True(report.ClosedManifold, $"segment {r.Id}: {report}");
            Assert.True(report.Volume > 0);
            Assert.Equal(r.TriangleCount, report.F);
        }

        // The large box spans many chunks: one fragment per chunk it touches.
        Assert.True(records.Single(r => r.Id == 7).Fragments.Length >= 12);
        if (colonFree)
        {
            Assert.All(Directory.EnumerateFileSystemEntries(dataset, "*", SearchOption.AllDirectories), p => Assert.DoesNotContain(':', Path.GetFileName(p)));
        }
    }

    [Fact]
    public void DamagedJournalRecordsAreMeshedAgainNotFatal()
    {
        ulong[] labels = Sample(out Int3 size);
        string dataset = TestData.NewScratch("mesh-journal-damaged");
        var first = new LegacyMeshWriter(dataset, "mesh", new Int3(10, 0, -4), "p", false);
        first.BeginJournal();
        Assert.ThrowsAny<Exception>(() => RunWriter(dataset, labels, size, false, "p", new FailingSink(first, completeBeforeFailure: 5)));
        int loaded = new LegacyMeshWriter(dataset, "mesh", new Int3(10, 0, -4), "p", false).LoadJournal();

        // Issue 17: a member twice (JsonObject throws ArgumentException on it), a wrong type, a missing member.
        string journal = Path.Combine(dataset, LegacyMeshWriter.JournalDirectoryName);
        File.WriteAllText(Path.Combine(journal, "0-8_0-8_0-8x.chunk.json"), "{\"chunk\":\"a\",\"chunk\":\"b\",\"fragments\":[]}");
        File.WriteAllText(Path.Combine(journal, "0-8_0-8_0-8y.chunk.json"), "{\"chunk\":5,\"fragments\":[]}");
        File.WriteAllText(Path.Combine(journal, "0-8_0-8_0-8z.chunk.json"), "{\"chunk\":\"c\",\"fragments\":[{\"id\":\"1\"}]}");
        File.WriteAllText(Path.Combine(journal, "0-8_0-8_0-8w.chunk.json"), "{\"chunk\":\"d\",\"fragments\":[{\"id\":\"1\",\"name\":\"x\",\"vertices\":\"many\",\"triangles\":1}]}");
        Assert.Equal(loaded, new LegacyMeshWriter(dataset, "mesh", new Int3(10, 0, -4), "p", false).LoadJournal());
    }

    [Fact]
    public async Task ResumeSkipsCompletedChunksAndGivesTheSameResult()
    {
        ulong[] labels = Sample(out Int3 size);
        string fresh = TestData.NewScratch("mesh-fresh");
        RunWriter(fresh, labels, size, colonFree: false).Finish();

        // An interrupted run: the sink fails after a few chunks.
        string dataset = TestData.NewScratch("mesh-resume");
        var first = new LegacyMeshWriter(dataset, "mesh", new Int3(10, 0, -4), "p", false);
        first.BeginJournal();
        var failing = new FailingSink(first, completeBeforeFailure: 5);
        Assert.ThrowsAny<Exception>(() => RunWriter(dataset, labels, size, false, "p", failing));
        Assert.True(Directory.Exists(Path.Combine(dataset, LegacyMeshWriter.JournalDirectoryName)));

        // Different settings are refused.
        var other = new LegacyMeshWriter(dataset, "mesh", new Int3(10, 0, -4), "q", false);
        Assert.Equal("ResumeParametersChanged", Assert.Throws<EngineException>(() => other.LoadJournal()).ErrorId);

        var second = new LegacyMeshWriter(dataset, "mesh", new Int3(10, 0, -4), "p", false);
        Assert.True(second.LoadJournal() >= 5);
        second.BeginJournal();
        using var reader = new ArrayVolumeReader(labels, size, new Int3(8, 8, 8));
        var settings = new SegmentMeshSettings { Geometry = new MeshGeometry { Resolution = new double[] { 4, 4, 40 }, VoxelOffset = new Int3(10, 0, -4) }, ChunkSize = new Int3(8, 8, 8), ThrottleLimit = 2 };
        MeshRunSummary summary = await SegmentMesher.RunAsync(reader, settings, second, OperationMonitor.None, CancellationToken.None);
        Assert.True(summary.ChunksSkipped >= 5);
        Assert.Equal(Int3.CeilDiv(size, new Int3(8, 8, 8)).Volume, summary.Chunks + summary.ChunksSkipped);
        second.Finish();

        string[] Files(string root) => Directory.EnumerateFiles(Path.Combine(root, "mesh")).Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal).ToArray()!;
        Assert.Equal(Files(fresh), Files(dataset));
        foreach (string name in Files(fresh))
        {
            Assert.Equal(SHA256.HashData(File.ReadAllBytes(Path.Combine(fresh, "mesh", name))), SHA256.HashData(File.ReadAllBytes(Path.Combine(dataset, "mesh", name))));
        }
    }

    [Fact]
    public void ForceRemovesOnlyTheRequestedSegmentsFiles()
    {
        string dataset = TestData.NewScratch("mesh-force");
        ulong[] labels = Sample(out Int3 size);
        LegacyMeshWriter writer = RunWriter(dataset, labels, size, colonFree: false);
        writer.Finish();
        var again = new LegacyMeshWriter(dataset, "mesh", new Int3(10, 0, -4), "p", false);
        Assert.True(again.HasExistingOutput(null));
        Assert.True(again.HasExistingOutput(new HashSet<ulong> { Big }));
        Assert.False(again.HasExistingOutput(new HashSet<ulong> { 12345 }));
        int removed = again.DeleteExistingOutput(new HashSet<ulong> { Big });
        Assert.True(removed >= 2);
        Assert.False(again.HasExistingOutput(new HashSet<ulong> { Big }));
        Assert.True(File.Exists(Path.Combine(dataset, "mesh", "7:0")));
        Assert.True(File.Exists(Path.Combine(dataset, "mesh", "info")));
    }

    [Fact]
    public void SegmentPropertiesUseStringIds()
    {
        string dataset = TestData.NewScratch("mesh-props");
        string path = LegacyMeshWriter.WriteSegmentProperties(dataset, "segment_properties", new Dictionary<ulong, string> { [Big] = "max \"id\"", [2] = "axon" });
        JsonNode root = JsonNode.Parse(File.ReadAllText(path))!;
        Assert.Equal("neuroglancer_segment_properties", root["@type"]!.GetValue<string>());
        Assert.Equal(new[] { "2", Big.ToString(System.Globalization.CultureInfo.InvariantCulture) }, root["inline"]!["ids"]!.AsArray().Select(n => n!.GetValue<string>()).ToArray());
        JsonNode label = root["inline"]!["properties"]![0]!;
        Assert.Equal("label", label["type"]!.GetValue<string>());
        Assert.Equal(new[] { "axon", "max \"id\"" }, label["values"]!.AsArray().Select(n => n!.GetValue<string>()).ToArray());
    }

    [Fact]
    public void FragmentReaderRejectsBadFiles()
    {
        Assert.Equal("InvalidMeshFragment", Assert.Throws<EngineException>(() => MeshData.FromFragmentBytes(new byte[] { 1, 0, 0, 0, 0, 0, 0, 0 })).ErrorId);
        byte[] bad = new byte[4 + 12 + 12];
        bad[0] = 1;
        bad[16] = 5; // index 5 with one vertex
        Assert.Equal("InvalidMeshFragment", Assert.Throws<EngineException>(() => MeshData.FromFragmentBytes(bad)).ErrorId);
    }

    /// <summary>neuroglancer's golden input (vectors/mesh): two 3×3×2 boxes side by side.</summary>
    [Fact]
    public void GoldenInputHasTheExpectedProperties()
    {
        string folder = TestData.Shared("vectors", "mesh");
        JsonNode manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "manifest.json")))!;
        byte[] input = File.ReadAllBytes(Path.Combine(folder, "ng_simple_input_8x5x4.u64"));
        Assert.Equal(manifest["input_volume"]!["sha256"]!.GetValue<string>(), Convert.ToHexString(SHA256.HashData(input)).ToLowerInvariant());
        var size = new Int3(8, 5, 4);
        ulong[] labels = new ulong[size.Volume];
        Buffer.BlockCopy(input, 0, labels, 0, input.Length);

        // Compatibility placement (no shift) is the frame of neuroglancer's own mesher.
        var meshes = SegmentMesher.MeshInMemory(labels, size, Vol.Unit(aligned: false));
        Assert.Equal(new ulong[] { 1, 2 }, meshes.Keys.ToArray());
        var boxes = new Dictionary<ulong, (double[] Lo, double[] Hi)> { [1] = (new[] { 0.5, 0.5, 0.5 }, new[] { 3.5, 3.5, 2.5 }), [2] = (new[] { 3.5, 0.5, 0.5 }, new[] { 6.5, 3.5, 2.5 }) };
        foreach (var (id, mesh) in meshes)
        {
            MeshReport r = MeshReport.Of(mesh);
            Assert.Equal(42, r.V);
            Assert.Equal(80, r.F);
            Assert.True(r.ClosedManifold, r.ToString());
            Assert.Equal(14 + (2.0 / 3), r.Volume, 9);
            Assert.Equal(boxes[id].Lo, r.Min);
            Assert.Equal(boxes[id].Hi, r.Max);

            // Simplified within one voxel: still closed, oriented, inside the box.
            MeshData simple = MeshSimplifier.Simplify(mesh, 4, 1.0);
            MeshReport s = MeshReport.Of(simple);
            Assert.True(s.ClosedManifold, s.ToString());
            Assert.True(s.Volume > 0);
            Assert.True(s.F < r.F);
            for (int d = 0; d < 3; d++)
            {
                Assert.True(s.Min[d] >= boxes[id].Lo[d] && s.Max[d] <= boxes[id].Hi[d]);
            }
        }

        // The golden fragments themselves: valid layout, closed, outward, inside the same boxes.
        foreach (JsonNode? f in manifest["fragments"]!.AsArray())
        {
            string file = Path.Combine(folder, f!["file"]!.GetValue<string>());
            byte[] bytes = File.ReadAllBytes(file);
            Assert.Equal(f["sha256"]!.GetValue<string>(), Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant());
            MeshData golden = MeshData.FromFragmentBytes(bytes, file);
            MeshReport g = MeshReport.Of(golden);
            Assert.True(g.ClosedManifold, g.ToString());
            Assert.True(g.Volume > 0);
            ulong id = f["segment_id"]!.GetValue<ulong>();
            for (int d = 0; d < 3; d++)
            {
                Assert.True(g.Min[d] >= boxes[id].Lo[d] && g.Max[d] <= boxes[id].Hi[d]);
            }

            // Same bytes as our own writer would produce for that mesh.
            Assert.Equal(bytes, golden.ToFragmentBytes());
        }
    }

    [Fact]
    public async Task EmptyAndBackgroundOnlyVolumesGiveNoMeshes()
    {
        var size = new Int3(16, 16, 16);
        using var reader = new ArrayVolumeReader(Vol.New(size), size);
        var sink = new MemorySink();
        MeshRunSummary s = await SegmentMesher.RunAsync(reader, new SegmentMeshSettings { ChunkSize = new Int3(8, 8, 8) }, sink, OperationMonitor.None, CancellationToken.None);
        Assert.Empty(sink.Fragments);
        Assert.Empty(s.SegmentsFound);
        Assert.Equal(8, s.Chunks);

        // An id that is not in the volume: nothing, and the others are not meshed either.
        ulong[] labels = Vol.New(size);
        Vol.Box(labels, size, new Int3(2, 2, 2), new Int3(5, 5, 5), 4);
        using var reader2 = new ArrayVolumeReader(labels, size);
        var sink2 = new MemorySink();
        MeshRunSummary s2 = await SegmentMesher.RunAsync(reader2, new SegmentMeshSettings { SegmentIds = new HashSet<ulong> { 99 } }, sink2, OperationMonitor.None, CancellationToken.None);
        Assert.Empty(sink2.Fragments);
        Assert.Empty(s2.SegmentsFound);
    }

    private sealed class FailingSink : IMeshFragmentSink
    {
        private readonly IMeshFragmentSink _inner;
        private int _remaining;

        public FailingSink(IMeshFragmentSink inner, int completeBeforeFailure)
        {
            _inner = inner;
            _remaining = completeBeforeFailure;
        }

        public bool IsChunkComplete(Box3 chunk) => _inner.IsChunkComplete(chunk);

        public void AddFragment(ulong segmentId, Box3 chunk, MeshData mesh)
        {
            if (Volatile.Read(ref _remaining) <= 0)
            {
                throw new IOException("simulated interruption");
            }

            _inner.AddFragment(segmentId, chunk, mesh);
        }

        public void ChunkCompleted(Box3 chunk)
        {
            _inner.ChunkCompleted(chunk);
            Interlocked.Decrement(ref _remaining);
        }
    }
}
