using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using PrecomputedTools.Engine.Meshing;
using Xunit;
using Xunit.Abstractions;

namespace PrecomputedTools.Engine.Tests;

/// <summary>A Z-Brain block (real labels, 256 × 192 × 138 voxels, dozens of regions) meshed once for the tests below.</summary>
public sealed class ZBrainMeshFixture
{
    public static readonly Box3 Region = new(new Int3(576, 224, 0), new Int3(832, 416, 138));
    public const double MaxError = 2000;

    public ZBrainMeshFixture()
    {
        Size = Region.Size;
        Labels = ZBrainLabels.Crop(Region);
        Geometry = new MeshGeometry { Resolution = ZBrainLabels.Resolution, VoxelOffset = new Int3(3, -2, 5) };

        // Voxel counts and boxes per label.
        for (int z = 0; z < Size.Z; z++)
        {
            for (int y = 0; y < Size.Y; y++)
            {
                for (int x = 0; x < Size.X; x++)
                {
                    byte label = Labels[x + (Size.X * (y + (Size.Y * z)))];
                    if (label == 0)
                    {
                        continue;
                    }

                    if (!Voxels.TryGetValue(label, out var s))
                    {
                        s = (0, new Int3(x, y, z), new Int3(x, y, z));
                    }

                    Voxels[label] = (s.Count + 1, Int3.Min(s.Min, new Int3(x, y, z)), Int3.Max(s.Max, new Int3(x, y, z)));
                }
            }
        }

        using var reader = new ArrayVolumeReader(Labels, Size, VoxelType.UInt8);
        var settings = new SegmentMeshSettings { Geometry = Geometry, Simplify = false, ChunkSize = Size, ThrottleLimit = 1 };
        Plain = new MemorySink();
        SegmentMesher.RunAsync(reader, settings, Plain, OperationMonitor.None, CancellationToken.None).GetAwaiter().GetResult();
        Simplified = new MemorySink();
        settings.Simplify = true;
        settings.MaxError = MaxError;
        settings.ThrottleLimit = 2;
        SegmentMesher.RunAsync(reader, settings, Simplified, OperationMonitor.None, CancellationToken.None).GetAwaiter().GetResult();
    }

    public Int3 Size { get; }

    public byte[] Labels { get; }

    public MeshGeometry Geometry { get; }

    public Dictionary<ulong, (long Count, Int3 Min, Int3 Max)> Voxels { get; } = new();

    public MemorySink Plain { get; }

    public MemorySink Simplified { get; }
}

public class MeshingZBrainTests : IClassFixture<ZBrainMeshFixture>
{
    private readonly ZBrainMeshFixture _f;
    private readonly ITestOutputHelper _out;

    public MeshingZBrainTests(ZBrainMeshFixture fixture, ITestOutputHelper output)
    {
        _f = fixture;
        _out = output;
    }

    [Fact]
    public void EveryLabelGetsExactlyOneMesh()
    {
        Assert.True(_f.Voxels.Count > 30, "the block should hold many regions");
        Assert.Equal(_f.Voxels.Keys.OrderBy(k => k), _f.Plain.Fragments.Keys.OrderBy(k => k));
        Assert.Equal(_f.Voxels.Keys.OrderBy(k => k), _f.Simplified.Fragments.Keys.OrderBy(k => k));
        Assert.All(_f.Plain.Fragments.Values, list => Assert.Single(list));
    }

    [Fact]
    public void UnsimplifiedMeshesAreClosedOrientedAndPlaced()
    {
        double voxelVolume = ZBrainLabels.Resolution[0] * ZBrainLabels.Resolution[1] * ZBrainLabels.Resolution[2];
        double worst = 0;
        foreach (var (id, list) in _f.Plain.Fragments)
        {
            MeshData m = list[0].Mesh;
            MeshReport r = MeshReport.Of(m);
            Assert.True(r.ClosedManifold, $"segment {id}: {r}");
            Assert.True(r.Volume > 0, $"segment {id}: {r}");

            // Aligned mode: the bounding box is the voxel box [(o + min)·r, (o + max + 1)·r].
            var (count, min, max) = _f.Voxels[id];
            for (int d = 0; d < 3; d++)
            {
                double res = ZBrainLabels.Resolution[d];
                int o = _f.Geometry.VoxelOffset[d];
                Assert.Equal((o + min[d]) * res, r.Min[d], 6);
                Assert.Equal((o + max[d] + 1) * res, r.Max[d], 6);
            }

            if (count > 1000)
            {
                double ratio = r.Volume / (count * voxelVolume);
                worst = Math.Max(worst, Math.Abs(1 - ratio));
                Assert.True(Math.Abs(1 - ratio) <= 0.05, $"segment {id}: {count} voxels, mesh volume ratio {ratio:F4}");
            }
        }

        _out.WriteLine($"largest relative volume difference for segments over 1000 voxels: {worst:P2}");
    }

    [Fact]
    public void SimplifiedMeshesStayClosedAndWithinMaxError()
    {
        long before = 0, after = 0;
        double worst = 0;
        var rng = new Random(5);
        foreach (var (id, list) in _f.Simplified.Fragments)
        {
            MeshData plain = _f.Plain.Fragments[id][0].Mesh;
            MeshData simple = list[0].Mesh;
            before += plain.TriangleCount;
            after += simple.TriangleCount;
            MeshReport r = MeshReport.Of(simple);
            Assert.True(r.ClosedManifold, $"segment {id}: {r}");
            Assert.True(r.Volume > 0, $"segment {id}: {r}");
            MeshReport p = MeshReport.Of(plain);
            Assert.Equal(p.Shells, r.Shells);
            Assert.Equal(p.Euler, r.Euler);
            for (int d = 0; d < 3; d++)
            {
                Assert.True(r.Min[d] >= p.Min[d] && r.Max[d] <= p.Max[d], $"segment {id}: the box grew on axis {d}");
            }

            // Sampled points of the simplified surface (centroids and edge midpoints) lie within MaxError of the original.
            var distance = new SurfaceDistance(plain, ZBrainMeshFixture.MaxError);
            int samples = Math.Min(simple.TriangleCount, 100);
            for (int i = 0; i < samples; i++)
            {
                int t = simple.TriangleCount <= 100 ? i : rng.Next(simple.TriangleCount);
                int a = 3 * simple.Indices[3 * t], b = 3 * simple.Indices[(3 * t) + 1], c = 3 * simple.Indices[(3 * t) + 2];
                double[] P = simple.Positions;
                foreach (var (u, v, w) in new[] { (1.0 / 3, 1.0 / 3, 1.0 / 3), (0.5, 0.5, 0), (0, 0.5, 0.5), (0.5, 0, 0.5) })
                {
                    double dist = distance.Distance(
                        (u * P[a]) + (v * P[b]) + (w * P[c]),
                        (u * P[a + 1]) + (v * P[b + 1]) + (w * P[c + 1]),
                        (u * P[a + 2]) + (v * P[b + 2]) + (w * P[c + 2]));
                    worst = Math.Max(worst, dist);
                    Assert.True(dist <= ZBrainMeshFixture.MaxError, $"segment {id}: a simplified surface point is {dist:F0} nm from the original surface");
                }
            }
        }

        _out.WriteLine($"triangles {before} -> {after}; largest sampled deviation {worst:F0} nm (MaxError {ZBrainMeshFixture.MaxError} nm)");
        Assert.True(after * 5 < before, $"simplification should cut triangles well below a fifth: {before} -> {after}");
    }
}

/// <summary>Chunked meshing against single-pass meshing on a Z-Brain block.</summary>
public class MeshingChunkTests
{
    private static readonly Box3 Region = new(new Int3(660, 280, 40), new Int3(820, 400, 138));

    private static (MemorySink Single, MemorySink Chunked, ArrayVolumeReader Reader) Run(bool simplify, Int3 chunk)
    {
        Int3 size = Region.Size;
        var reader = new ArrayVolumeReader(ZBrainLabels.Crop(Region), size, VoxelType.UInt8, new Int3(32, 32, 32));
        var geometry = new MeshGeometry { Resolution = ZBrainLabels.Resolution };
        var single = new MemorySink();
        SegmentMesher.RunAsync(reader, new SegmentMeshSettings { Geometry = geometry, Simplify = simplify, ChunkSize = size }, single, OperationMonitor.None, CancellationToken.None).GetAwaiter().GetResult();
        reader.BytesRead = 0;
        reader.LargestRead = 0;
        var chunked = new MemorySink();
        SegmentMesher.RunAsync(reader, new SegmentMeshSettings { Geometry = geometry, Simplify = simplify, ChunkSize = chunk, ThrottleLimit = 2 }, chunked, OperationMonitor.None, CancellationToken.None).GetAwaiter().GetResult();
        return (single, chunked, reader);
    }

    [Fact]
    public void ChunkedEqualsSinglePassAndIsWatertight()
    {
        var (single, chunked, reader) = Run(simplify: false, new Int3(64, 48, 40));
        Assert.Equal(single.Fragments.Keys.OrderBy(k => k), chunked.Fragments.Keys.OrderBy(k => k));
        Assert.Contains(chunked.Fragments.Values, list => list.Count > 4);
        Assert.Equal(Int3.CeilDiv(Region.Size, new Int3(64, 48, 40)).Volume, chunked.ChunksCompleted);
        foreach (ulong id in single.Fragments.Keys)
        {
            MeshData one = single.Fragments[id][0].Mesh;
            MeshData merged = chunked.Merged(id);
            double v1 = one.SignedVolume(), v2 = merged.SignedVolume();
            Assert.True(Math.Abs(v1 - v2) <= 1e-6 * Math.Abs(v1), $"segment {id}: single {v1}, chunked {v2}");
            Assert.Equal(one.TriangleCount, merged.TriangleCount);
            Assert.Equal(one.VertexCount, merged.VertexCount);
            MeshReport r = MeshReport.Of(merged);
            Assert.True(r.ClosedManifold, $"segment {id}: {r}");
        }

        // Bounded reading: every voxel is read about once (plus the one-voxel overlap), never the volume
        // per chunk, and no read is larger than one chunk plus its overlap in one granularity slab.
        Assert.True(reader.BytesRead < 3 * Region.Size.Volume, $"read {reader.BytesRead} bytes for {Region.Size.Volume} voxels");
        Assert.True(reader.LargestRead <= 65L * 49 * 32, $"largest read {reader.LargestRead} voxels");
    }

    [Fact]
    public void SimplifiedChunksStillMeetExactly()
    {
        var (single, chunked, _) = Run(simplify: true, new Int3(64, 64, 64));
        foreach (ulong id in single.Fragments.Keys)
        {
            MeshData merged = chunked.Merged(id);
            MeshReport r = MeshReport.Of(merged);
            Assert.True(r.ClosedManifold, $"segment {id}: {r}");
            Assert.True(r.Volume > 0);
            double v1 = single.Fragments[id][0].Mesh.SignedVolume();
            Assert.True(Math.Abs(r.Volume - v1) <= 0.05 * v1, $"segment {id}: simplified volumes {v1} vs {r.Volume}");
        }
    }
}
