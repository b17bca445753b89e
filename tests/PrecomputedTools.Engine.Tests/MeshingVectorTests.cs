using System;
using System.Collections.Generic;
using System.Linq;
using PrecomputedTools.Engine.Meshing;
using Xunit;

namespace PrecomputedTools.Engine.Tests;

/// <summary>Exact counts, volumes and areas of small voxel objects (unsimplified, padded).</summary>
public class MeshingVectorTests
{
    private static MeshData Single(ulong[] v, Int3 size, ulong label = 1, MeshGeometry? g = null)
    {
        var meshes = SegmentMesher.MeshInMemory(v, size, g ?? Vol.Unit());
        return meshes[label];
    }

    private static void AssertClosed(MeshReport r)
    {
        Assert.True(r.ClosedManifold, r.ToString());
    }

    [Fact]
    public void CaseTableIsConsistent()
    {
        // Every case: triangle count = crossing edges − 2·loops, and each crossing edge is used.
        for (int mask = 1; mask < 255; mask++)
        {
            var used = new HashSet<int>();
            for (int i = MarchingCubesTable.Start[mask]; i < MarchingCubesTable.Start[mask + 1]; i++)
            {
                used.Add(MarchingCubesTable.Triangles[i]);
            }

            int crossing = 0;
            for (int e = 0; e < 12; e++)
            {
                bool a = ((mask >> MarchingCubesTable.EdgeCornerA[e]) & 1) != 0;
                bool b = ((mask >> MarchingCubesTable.EdgeCornerB[e]) & 1) != 0;
                if (a != b)
                {
                    crossing++;
                    Assert.Contains(e, used);
                }
            }

            Assert.Equal(crossing, used.Count);
        }
    }

    [Fact]
    public void SingleVoxelIsAnOctahedron()
    {
        var size = new Int3(3, 3, 3);
        var v = Vol.New(size);
        Vol.Set(v, size, 1, 1, 1, 1);
        MeshReport r = MeshReport.Of(Single(v, size));
        Assert.Equal(6, r.V);
        Assert.Equal(8, r.F);
        Assert.Equal(12, r.E);
        Assert.Equal(2, r.Euler);
        Assert.Equal(1, r.Shells);
        AssertClosed(r);
        Assert.Equal(1.0 / 6, r.Volume, 12);
    }

    [Fact]
    public void SingleVoxelPlacementAlignedAndCompatible()
    {
        // Half-voxel alignment (aligned vs the unshifted, compatible mode): voxel (0,0,0) at 8x8x40 nm.
        var size = new Int3(1, 1, 1);
        ulong[] v = { 1 };
        var aligned = new MeshGeometry { Resolution = new double[] { 8, 8, 40 }, AlignToVoxels = true };
        MeshData a = Single(v, size, 1, aligned);
        MeshReport ra = MeshReport.Of(a);
        Assert.Equal(new double[] { 0, 0, 0 }, ra.Min);
        Assert.Equal(new double[] { 8, 8, 40 }, ra.Max);
        Assert.Equal(8 * 8 * 40 / 6.0, ra.Volume, 9);
        var expected = new HashSet<(double, double, double)> { (0, 4, 20), (8, 4, 20), (4, 0, 20), (4, 8, 20), (4, 4, 0), (4, 4, 40) };
        var actual = Enumerable.Range(0, a.VertexCount).Select(i => (a.Positions[3 * i], a.Positions[(3 * i) + 1], a.Positions[(3 * i) + 2])).ToHashSet();
        Assert.Equal(expected, actual);

        // The (+x, +y, +z) face is ordered (+x, +y, +z): normal (80, 80, 16).
        bool found = false;
        for (int t = 0; t < a.TriangleCount; t++)
        {
            var p = Enumerable.Range(0, 3).Select(k => a.Indices[(3 * t) + k]).Select(i => (a.Positions[3 * i], a.Positions[(3 * i) + 1], a.Positions[(3 * i) + 2])).ToArray();
            for (int rot = 0; rot < 3; rot++)
            {
                if (p[rot] == (8, 4, 20) && p[(rot + 1) % 3] == (4, 8, 20) && p[(rot + 2) % 3] == (4, 4, 40))
                {
                    found = true;
                }
            }
        }

        Assert.True(found, "the (+x,+y,+z) face must be ordered +x -> +y -> +z");

        var compat = new MeshGeometry { Resolution = new double[] { 8, 8, 40 }, AlignToVoxels = false };
        MeshReport rc = MeshReport.Of(Single(v, size, 1, compat));
        Assert.Equal(new double[] { -4, -4, -20 }, rc.Min);
        Assert.Equal(new double[] { 4, 4, 20 }, rc.Max);
    }

    [Theory]
    [InlineData(1, 1, 2)]
    [InlineData(1, 1, 5)]
    [InlineData(2, 2, 2)]
    [InlineData(2, 3, 4)]
    [InlineData(3, 3, 3)]
    [InlineData(5, 5, 5)]
    [InlineData(3, 3, 2)]
    [InlineData(7, 1, 3)]
    public void BoxesFollowTheClosedForms(int a, int b, int c)
    {
        var size = new Int3(a + 2, b + 2, c + 2);
        var v = Vol.New(size);
        Vol.Box(v, size, Int3.One, new Int3(a + 1, b + 1, c + 1), 7);
        MeshReport r = MeshReport.Of(Single(v, size, 7));
        int expectedV = 2 * ((a * b) + (b * c) + (c * a));
        Assert.Equal(expectedV, r.V);
        Assert.Equal((2 * expectedV) - 4, r.F);
        Assert.Equal(3 * r.F / 2, r.E);
        Assert.Equal(2, r.Euler);
        Assert.Equal(1, r.Shells);
        AssertClosed(r);
        Assert.Equal((a * b * c) - ((a + b + c) / 2.0) + (2.0 / 3), r.Volume, 9);

        // Aligned: the bounding box is the voxel box.
        Assert.Equal(new double[] { 1, 1, 1 }, r.Min);
        Assert.Equal(new double[] { a + 1, b + 1, c + 1 }, r.Max);
    }

    [Fact]
    public void LTrominoCounts()
    {
        var size = new Int3(4, 4, 3);
        var v = Vol.New(size);
        Vol.Set(v, size, 1, 1, 1, 1);
        Vol.Set(v, size, 2, 1, 1, 1);
        Vol.Set(v, size, 1, 2, 1, 1);
        MeshReport r = MeshReport.Of(Single(v, size));
        Assert.Equal(14, r.V);
        Assert.Equal(24, r.F);
        Assert.Equal(36, r.E);
        AssertClosed(r);
        Assert.Equal(17.0 / 12, r.Volume, 9);
    }

    [Fact]
    public void RingHasGenusOne()
    {
        var size = new Int3(5, 5, 3);
        var v = Vol.New(size);
        Vol.Box(v, size, new Int3(1, 1, 1), new Int3(4, 4, 2), 3);
        Vol.Set(v, size, 2, 2, 1, 0);
        MeshReport r = MeshReport.Of(Single(v, size, 3));
        Assert.Equal(32, r.V);
        Assert.Equal(64, r.F);
        Assert.Equal(96, r.E);
        Assert.Equal(0, r.Euler);
        Assert.Equal(1, r.Shells);
        AssertClosed(r);
        Assert.Equal(5, r.Volume, 9);
    }

    [Fact]
    public void FaceDiagonalPairGivesTwoShells()
    {
        // Neuroglancer's convention (inside iff equal to the label) keeps edge-sharing voxels apart.
        var size = new Int3(4, 4, 3);
        var v = Vol.New(size);
        Vol.Set(v, size, 1, 1, 1, 5);
        Vol.Set(v, size, 2, 2, 1, 5);
        MeshReport r = MeshReport.Of(Single(v, size, 5));
        Assert.Equal(12, r.V);
        Assert.Equal(16, r.F);
        Assert.Equal(24, r.E);
        Assert.Equal(4, r.Euler);
        Assert.Equal(2, r.Shells);
        AssertClosed(r);
        Assert.Equal(1.0 / 3, r.Volume, 12);
    }

    [Fact]
    public void BodyDiagonalPairGivesTwoShells()
    {
        var size = new Int3(4, 4, 4);
        var v = Vol.New(size);
        Vol.Set(v, size, 1, 1, 1, 5);
        Vol.Set(v, size, 2, 2, 2, 5);
        MeshReport r = MeshReport.Of(Single(v, size, 5));
        Assert.Equal(12, r.V);
        Assert.Equal(16, r.F);
        Assert.Equal(2, r.Shells);
        AssertClosed(r);
        Assert.Equal(1.0 / 3, r.Volume, 12);
    }

    [Fact]
    public void TwoLabelsSideBySideAreMeshedInOnePass()
    {
        var size = new Int3(4, 3, 3);
        var v = Vol.New(size);
        Vol.Set(v, size, 1, 1, 1, 1);
        Vol.Set(v, size, 2, 1, 1, 2);
        var meshes = SegmentMesher.MeshInMemory(v, size, Vol.Unit());
        Assert.Equal(new ulong[] { 1, 2 }, meshes.Keys.ToArray());
        foreach (MeshData m in meshes.Values)
        {
            MeshReport r = MeshReport.Of(m);
            Assert.Equal(6, r.V);
            Assert.Equal(8, r.F);
            AssertClosed(r);
            Assert.Equal(1.0 / 6, r.Volume, 12);
        }
    }

    [Fact]
    public void SegmentTouchingTheVolumeEdgeIsClosed()
    {
        // No padding in the data: the voxel sits on the volume's faces; outside counts as background.
        var size = new Int3(3, 2, 2);
        var v = Vol.New(size);
        Vol.Set(v, size, 0, 0, 0, 9);
        Vol.Box(v, size, new Int3(1, 0, 0), new Int3(3, 2, 2), 4);
        var meshes = SegmentMesher.MeshInMemory(v, size, Vol.Unit());
        MeshReport single = MeshReport.Of(meshes[9]);
        Assert.Equal(6, single.V);
        Assert.Equal(8, single.F);
        AssertClosed(single);
        MeshReport box = MeshReport.Of(meshes[4]);
        Assert.Equal(2 * ((2 * 2) + (2 * 2) + (2 * 2)), box.V);
        AssertClosed(box);
        Assert.Equal(8 - 3 + (2.0 / 3), box.Volume, 9);
    }

    [Fact]
    public void IdsAbove2To63RoundTrip()
    {
        ulong big = ulong.MaxValue - 1;
        ulong mid = (1UL << 63) + 5;
        var size = new Int3(3, 1, 1);
        ulong[] v = { big, 0, mid };
        var meshes = SegmentMesher.MeshInMemory(v, size, Vol.Unit());
        Assert.Equal(new[] { mid, big }, meshes.Keys.ToArray());
    }

    [Fact]
    public void EveryAlignedVertexHasOneIntegerCoordinate()
    {
        var rng = new Random(11);
        var size = new Int3(9, 8, 7);
        var v = Vol.New(size);
        for (int i = 0; i < v.Length; i++)
        {
            v[i] = (ulong)rng.Next(0, 4);
        }

        foreach (var (id, m) in SegmentMesher.MeshInMemory(v, size, Vol.Unit()))
        {
            Assert.NotEqual(0UL, id);
            MeshReport r = MeshReport.Of(m);
            AssertClosed(r);
            Assert.True(r.Volume > 0);
            for (int i = 0; i < m.VertexCount; i++)
            {
                int integers = 0;
                for (int d = 0; d < 3; d++)
                {
                    double c = m.Positions[(3 * i) + d];
                    if (c == Math.Floor(c))
                    {
                        integers++;
                    }
                    else
                    {
                        Assert.Equal(0.5, c - Math.Floor(c));
                    }
                }

                Assert.Equal(1, integers);
            }
        }
    }

    [Theory]
    [InlineData(3, 3, 3, 1, 1)]
    [InlineData(9, 7, 5, 3, 2)]
    [InlineData(37, 11, 6, 4, 3)]
    [InlineData(64, 20, 9, 200, 4)]
    [InlineData(130, 17, 12, 30, 5)]
    public void VectorAndPortablePathsGiveTheSameClosedSurfaces(int nx, int ny, int nz, int labelCount, int seed)
    {
        // Random boxes of labels over a block with a background border, so every surface closes.
        var rng = new Random(seed);
        int[] block = new int[nx * ny * nz];
        for (int n = 0; n < 3 * labelCount; n++)
        {
            int label = 1 + rng.Next(labelCount);
            int x0 = 1 + rng.Next(nx - 2), y0 = 1 + rng.Next(ny - 2), z0 = 1 + rng.Next(nz - 2);
            int x1 = Math.Min(nx - 1, x0 + 1 + rng.Next(12)), y1 = Math.Min(ny - 1, y0 + 1 + rng.Next(6)), z1 = Math.Min(nz - 1, z0 + 1 + rng.Next(4));
            for (int z = z0; z < z1; z++)
            {
                for (int y = y0; y < y1; y++)
                {
                    for (int x = x0; x < x1; x++)
                    {
                        block[x + (nx * (y + (ny * z)))] = rng.Next(8) == 0 ? 1 + rng.Next(labelCount) : label;
                    }
                }
            }
        }

        // The vector mesher first meshes a larger block, so stale cache entries would show.
        var vector = new LabelBlockMesher();
        int[] larger = new int[(nx + 5) * (ny + 3) * (nz + 1)];
        for (int i = 0; i < larger.Length; i++)
        {
            larger[i] = rng.Next(3);
        }

        Release(Mesh(vector, larger, nx + 5, ny + 3, nz + 1, labelCount + 1));
        var portable = new LabelBlockMesher { UseVectors = false };
        LabelSurface?[] a = Mesh(vector, block, nx, ny, nz, labelCount + 1);
        LabelSurface?[] b = Mesh(portable, block, nx, ny, nz, labelCount + 1);
        Assert.Equal(vector.ActiveCells, portable.ActiveCells);
        int meshed = 0;
        for (int label = 0; label <= labelCount; label++)
        {
            Assert.Equal(a[label] is null, b[label] is null);
            if (a[label] is not LabelSurface sa || b[label] is not LabelSurface sb)
            {
                continue;
            }

            (int[] pa, int[] ta) = Arrays(sa);
            (int[] pb, int[] tb) = Arrays(sb);
            Assert.Equal(pa, pb);
            Assert.Equal(ta, tb);

            // Each vertex once per label, and every directed edge met once in each direction.
            var positions = new HashSet<(int, int, int)>();
            for (int v = 0; v < sa.VertexCount; v++)
            {
                Assert.True(positions.Add((pa[3 * v], pa[(3 * v) + 1], pa[(3 * v) + 2])), $"label {label}: vertex {v} repeated");
            }

            var edges = new HashSet<(int, int)>();
            for (int t = 0; t < ta.Length; t += 3)
            {
                for (int k = 0; k < 3; k++)
                {
                    Assert.True(edges.Add((ta[t + k], ta[t + ((k + 1) % 3)])), $"label {label}: directed edge repeated");
                }
            }

            Assert.All(edges, e => Assert.Contains((e.Item2, e.Item1), edges));
            meshed++;
        }

        Assert.True(meshed > 0);
        Release(a);
        Release(b);
    }

    private static LabelSurface?[] Mesh(LabelBlockMesher mesher, int[] block, int nx, int ny, int nz, int labels)
    {
        var surfaces = new LabelSurface?[Math.Max(labels, 3)];
        mesher.Run(block, nx, ny, nz, new Int3(-1, -1, -1), surfaces);
        return surfaces;
    }

    private static (int[] Positions, int[] Triangles) Arrays(LabelSurface surface)
    {
        int[] positions = new int[3 * surface.VertexCount];
        int[] triangles = new int[3 * surface.TriangleCount];
        surface.CopyPositions(positions);
        surface.CopyTriangles(triangles);
        return (positions, triangles);
    }

    private static void Release(LabelSurface?[] surfaces)
    {
        foreach (LabelSurface? surface in surfaces)
        {
            surface?.Release();
        }
    }
}
