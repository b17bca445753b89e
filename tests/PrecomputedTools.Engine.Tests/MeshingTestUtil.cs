using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine.Meshing;
using PrecomputedTools.Engine.Volumes;
using Xunit;

namespace PrecomputedTools.Engine.Tests;

/// <summary>An in-memory label volume behind the IVolumeReader interface.</summary>
public sealed class ArrayVolumeReader : IVolumeReader
{
    private readonly byte[] _data;

    public ArrayVolumeReader(ulong[] labels, Int3 size, Int3? granularity = null)
        : this(MemoryMarshal.AsBytes(labels.AsSpan()).ToArray(), size, VoxelType.UInt64, granularity)
    {
    }

    public ArrayVolumeReader(byte[] data, Int3 size, VoxelType type, Int3? granularity = null)
    {
        _data = data;
        Size = size;
        DataType = type;
        ReadGranularity = granularity ?? size;
    }

    public Int3 Size { get; }

    public VoxelType DataType { get; }

    public Int3 ReadGranularity { get; }

    public long BytesRead;

    /// <summary>The largest single read, in voxels.</summary>
    public long LargestRead;

    public Task ReadAsync(Box3 region, Memory<byte> destination, CancellationToken cancellationToken)
    {
        Assert.True(Box3.FromSize(Size).Contains(region), "read outside the volume: " + region);
        int es = VoxelTypes.SizeOf(DataType);
        Int3 s = region.Size;
        Assert.Equal(region.VoxelCount * es, destination.Length);
        Span<byte> dst = destination.Span;
        for (int z = 0; z < s.Z; z++)
        {
            for (int y = 0; y < s.Y; y++)
            {
                long src = ((((long)(region.Begin.Z + z) * Size.Y) + region.Begin.Y + y) * Size.X) + region.Begin.X;
                _data.AsSpan((int)(src * es), s.X * es).CopyTo(dst.Slice(((z * s.Y) + y) * s.X * es));
            }
        }

        Interlocked.Add(ref BytesRead, destination.Length);
        lock (_data)
        {
            LargestRead = Math.Max(LargestRead, region.VoxelCount);
        }

        return Task.CompletedTask;
    }

    public void Dispose()
    {
    }
}

/// <summary>Collects fragments in memory.</summary>
public sealed class MemorySink : IMeshFragmentSink
{
    public readonly Dictionary<ulong, List<(Box3 Chunk, MeshData Mesh)>> Fragments = new();
    public int ChunksCompleted;

    public bool IsChunkComplete(Box3 chunk) => false;

    public void AddFragment(ulong segmentId, Box3 chunk, MeshData mesh)
    {
        lock (Fragments)
        {
            if (!Fragments.TryGetValue(segmentId, out var list))
            {
                Fragments[segmentId] = list = new List<(Box3, MeshData)>();
            }

            list.Add((chunk, mesh.Copy())); // the mesher reuses its buffers
        }
    }

    public void ChunkCompleted(Box3 chunk) => Interlocked.Increment(ref ChunksCompleted);

    /// <summary>All fragments of a segment merged into one mesh, welding vertices at identical positions.</summary>
    public MeshData Merged(ulong id)
    {
        var index = new Dictionary<(double, double, double), int>();
        var positions = new List<double>();
        var tris = new List<int>();
        foreach (var (_, mesh) in Fragments[id])
        {
            int[] map = new int[mesh.VertexCount];
            for (int v = 0; v < mesh.VertexCount; v++)
            {
                var key = (mesh.Positions[3 * v], mesh.Positions[(3 * v) + 1], mesh.Positions[(3 * v) + 2]);
                if (!index.TryGetValue(key, out int k))
                {
                    k = index.Count;
                    index[key] = k;
                    positions.Add(key.Item1);
                    positions.Add(key.Item2);
                    positions.Add(key.Item3);
                }

                map[v] = k;
            }

            for (int i = 0; i < mesh.TriangleCount * 3; i++)
            {
                tris.Add(map[mesh.Indices[i]]);
            }
        }

        return new MeshData(positions.ToArray(), index.Count, tris.ToArray(), tris.Count / 3);
    }
}

/// <summary>Topology and geometry measures of a mesh (edges, shells, Euler characteristic, volume, area, manifoldness).</summary>
internal sealed class MeshReport
{
    public int V;
    public int F;
    public int E;
    public int Shells;
    public int BoundaryEdges;
    public bool PairedEdges;
    public bool ManifoldVertices;
    public bool NoDegenerate;
    public bool NoUnreferenced;
    public double Volume;
    public double[] Min = new double[3];
    public double[] Max = new double[3];

    public int Euler => V - E + F;

    public bool ClosedManifold => BoundaryEdges == 0 && PairedEdges && ManifoldVertices && NoDegenerate && NoUnreferenced;

    public override string ToString() =>
        $"V={V} F={F} E={E} chi={Euler} shells={Shells} boundary={BoundaryEdges} paired={PairedEdges} manifoldV={ManifoldVertices} nondegenerate={NoDegenerate} volume={Volume}";

    public static MeshReport Of(MeshData m)
    {
        var r = new MeshReport { V = m.VertexCount, F = m.TriangleCount, Volume = m.SignedVolume() };
        int n = m.TriangleCount * 3;
        int[] idx = m.Indices;

        // Directed edges, sorted: duplicates break pairing; every a->b needs its b->a.
        long[] directed = new long[n];
        // Corners: (vertex, next) -> the vertex after it, for walking each vertex's fan.
        long[] cornerKey = new long[n];
        int[] cornerNext = new int[n];
        UInt128[] triKeys = new UInt128[m.TriangleCount];
        bool nondegenerate = true;
        var used = new bool[m.VertexCount];
        for (int t = 0; t < m.TriangleCount; t++)
        {
            int a = idx[3 * t], b = idx[(3 * t) + 1], c = idx[(3 * t) + 2];
            if (a == b || b == c || a == c || Coincident(m, a, b) || Coincident(m, b, c) || Coincident(m, a, c))
            {
                nondegenerate = false;
            }

            used[a] = used[b] = used[c] = true;
            int lo = Math.Min(a, Math.Min(b, c)), hi = Math.Max(a, Math.Max(b, c)), mid = a + b + c - lo - hi;
            triKeys[t] = ((UInt128)(uint)lo << 64) | ((UInt128)(uint)mid << 32) | (uint)hi;
            for (int k = 0; k < 3; k++)
            {
                int v = idx[(3 * t) + k], p = idx[(3 * t) + ((k + 1) % 3)], q = idx[(3 * t) + ((k + 2) % 3)];
                directed[(3 * t) + k] = ((long)v << 32) | (uint)p;
                cornerKey[(3 * t) + k] = ((long)v << 32) | (uint)p;
                cornerNext[(3 * t) + k] = q;
            }
        }

        Array.Sort(triKeys);
        for (int t = 1; t < triKeys.Length; t++)
        {
            if (triKeys[t] == triKeys[t - 1])
            {
                nondegenerate = false;
            }
        }

        Array.Sort(directed);
        bool paired = true;
        int boundary = 0;
        for (int i = 0; i < n; i++)
        {
            if (i > 0 && directed[i] == directed[i - 1])
            {
                paired = false;
            }

            long reverse = (directed[i] << 32) | (long)((ulong)directed[i] >> 32);
            if (Array.BinarySearch(directed, reverse) < 0)
            {
                boundary++;
                paired = false;
            }
        }

        r.E = (n + boundary) / 2;
        r.BoundaryEdges = boundary;
        r.PairedEdges = paired;
        r.NoDegenerate = nondegenerate;
        r.NoUnreferenced = Array.TrueForAll(used, u => u);

        // Vertex manifoldness: walking next-corners around each vertex visits all its corners in one cycle.
        Array.Sort(cornerKey, cornerNext);
        bool manifold = true;
        for (int start = 0; start < n && manifold;)
        {
            long v = cornerKey[start] >> 32;
            int end = start;
            while (end < n && (cornerKey[end] >> 32) == v)
            {
                end++;
            }

            int count = end - start;
            int first = (int)(cornerKey[start] & 0xffffffff);
            int cur = first, steps = 0;
            do
            {
                int at = Array.BinarySearch(cornerKey, start, count, (v << 32) | (uint)cur);
                if (at < 0)
                {
                    break;
                }

                cur = cornerNext[at];
                steps++;
            }
            while (cur != first && steps <= count);
            if (cur != first || steps != count)
            {
                manifold = false;
            }

            start = end;
        }

        r.ManifoldVertices = manifold;

        // Shells: connected components over shared vertices.
        int[] parent = new int[m.VertexCount];
        for (int i = 0; i < parent.Length; i++)
        {
            parent[i] = i;
        }

        int Find(int x)
        {
            while (parent[x] != x)
            {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }

            return x;
        }

        for (int t = 0; t < m.TriangleCount; t++)
        {
            int a = Find(idx[3 * t]);
            parent[Find(idx[(3 * t) + 1])] = a;
            parent[Find(idx[(3 * t) + 2])] = a;
        }

        int shells = 0;
        for (int v = 0; v < m.VertexCount; v++)
        {
            if (used[v] && Find(v) == v)
            {
                shells++;
            }
        }

        r.Shells = shells;
        for (int d = 0; d < 3; d++)
        {
            r.Min[d] = double.MaxValue;
            r.Max[d] = double.MinValue;
        }

        for (int v = 0; v < m.VertexCount; v++)
        {
            for (int d = 0; d < 3; d++)
            {
                r.Min[d] = Math.Min(r.Min[d], m.Positions[(3 * v) + d]);
                r.Max[d] = Math.Max(r.Max[d], m.Positions[(3 * v) + d]);
            }
        }

        return r;
    }

    private static bool Coincident(MeshData m, int a, int b) =>
        m.Positions[3 * a] == m.Positions[3 * b] && m.Positions[(3 * a) + 1] == m.Positions[(3 * b) + 1] && m.Positions[(3 * a) + 2] == m.Positions[(3 * b) + 2];
}

/// <summary>Builders for small label volumes.</summary>
internal static class Vol
{
    public static ulong[] New(Int3 size) => new ulong[size.Volume];

    public static void Set(ulong[] v, Int3 size, int x, int y, int z, ulong label) => v[x + (size.X * (y + (size.Y * z)))] = label;

    public static void Box(ulong[] v, Int3 size, Int3 begin, Int3 end, ulong label)
    {
        for (int z = begin.Z; z < end.Z; z++)
        {
            for (int y = begin.Y; y < end.Y; y++)
            {
                for (int x = begin.X; x < end.X; x++)
                {
                    Set(v, size, x, y, z, label);
                }
            }
        }
    }

    public static MeshGeometry Unit(bool aligned = true) => new() { Resolution = new double[] { 1, 1, 1 }, AlignToVoxels = aligned };
}

/// <summary>The Z-Brain labels as uint8 in the guide's orientation (x = TIFF row), x fastest, loaded once.</summary>
internal static class ZBrainLabels
{
    public static readonly Int3 Size = new(1406, 621, 138);
    public static readonly double[] Resolution = { 798, 798, 2000 };

    private static readonly Lazy<byte[]> s_volume = new(() =>
    {
        byte[] pages = new byte[Size.Volume];
        using (var stream = File.OpenRead(TestData.ZBrainTiff))
        {
            stream.Position = 181;
            stream.ReadExactly(pages);
        }

        // page[z][row = x][column = y] -> volume[z][y][x]
        byte[] volume = new byte[pages.Length];
        int plane = Size.X * Size.Y;
        for (int z = 0; z < Size.Z; z++)
        {
            for (int x = 0; x < Size.X; x++)
            {
                int row = (z * plane) + (x * Size.Y);
                for (int y = 0; y < Size.Y; y++)
                {
                    volume[(z * plane) + (y * Size.X) + x] = pages[row + y];
                }
            }
        }

        return volume;
    });

    public static byte[] Volume => s_volume.Value;

    /// <summary>A copy of a box of the volume, as its own uint8 volume.</summary>
    public static byte[] Crop(Box3 box)
    {
        byte[] src = Volume;
        Int3 s = box.Size;
        byte[] dst = new byte[s.Volume];
        for (int z = 0; z < s.Z; z++)
        {
            for (int y = 0; y < s.Y; y++)
            {
                int from = ((((box.Begin.Z + z) * Size.Y) + box.Begin.Y + y) * Size.X) + box.Begin.X;
                Array.Copy(src, from, dst, ((z * s.Y) + y) * s.X, s.X);
            }
        }

        return dst;
    }
}

/// <summary>Distance from points to a triangle mesh, through a uniform grid of triangle boxes.</summary>
internal sealed class SurfaceDistance
{
    private readonly MeshData _mesh;
    private readonly double _cell;
    private readonly Dictionary<(int, int, int), List<int>> _grid = new();

    public SurfaceDistance(MeshData mesh, double cell)
    {
        _mesh = mesh;
        _cell = cell;
        for (int t = 0; t < mesh.TriangleCount; t++)
        {
            double[] lo = { double.MaxValue, double.MaxValue, double.MaxValue };
            double[] hi = { double.MinValue, double.MinValue, double.MinValue };
            for (int k = 0; k < 3; k++)
            {
                int v = mesh.Indices[(3 * t) + k];
                for (int d = 0; d < 3; d++)
                {
                    lo[d] = Math.Min(lo[d], mesh.Positions[(3 * v) + d]);
                    hi[d] = Math.Max(hi[d], mesh.Positions[(3 * v) + d]);
                }
            }

            for (int x = Cell(lo[0]); x <= Cell(hi[0]); x++)
            {
                for (int y = Cell(lo[1]); y <= Cell(hi[1]); y++)
                {
                    for (int z = Cell(lo[2]); z <= Cell(hi[2]); z++)
                    {
                        if (!_grid.TryGetValue((x, y, z), out var list))
                        {
                            _grid[(x, y, z)] = list = new List<int>();
                        }

                        list.Add(t);
                    }
                }
            }
        }
    }

    private int Cell(double c) => (int)Math.Floor(c / _cell);

    /// <summary>Distance to the nearest triangle, exact when it is below the grid cell; otherwise at least the cell size.</summary>
    public double Distance(double px, double py, double pz)
    {
        double best = double.MaxValue;
        int cx = Cell(px), cy = Cell(py), cz = Cell(pz);
        for (int x = cx - 1; x <= cx + 1; x++)
        {
            for (int y = cy - 1; y <= cy + 1; y++)
            {
                for (int z = cz - 1; z <= cz + 1; z++)
                {
                    if (_grid.TryGetValue((x, y, z), out var list))
                    {
                        foreach (int t in list)
                        {
                            best = Math.Min(best, PointTriangle(px, py, pz, t));
                        }
                    }
                }
            }
        }

        return Math.Sqrt(best);
    }

    /// <summary>Squared distance from p to triangle t (closest point by Voronoi regions).</summary>
    private double PointTriangle(double px, double py, double pz, int t)
    {
        double[] P = _mesh.Positions;
        int ia = 3 * _mesh.Indices[3 * t], ib = 3 * _mesh.Indices[(3 * t) + 1], ic = 3 * _mesh.Indices[(3 * t) + 2];
        var a = (P[ia], P[ia + 1], P[ia + 2]);
        var b = (P[ib], P[ib + 1], P[ib + 2]);
        var c = (P[ic], P[ic + 1], P[ic + 2]);
        var p = (px, py, pz);
        var ab = Sub(b, a);
        var ac = Sub(c, a);
        var ap = Sub(p, a);
        double d1 = Dot(ab, ap), d2 = Dot(ac, ap);
        if (d1 <= 0 && d2 <= 0)
        {
            return Dot(ap, ap);
        }

        var bp = Sub(p, b);
        double d3 = Dot(ab, bp), d4 = Dot(ac, bp);
        if (d3 >= 0 && d4 <= d3)
        {
            return Dot(bp, bp);
        }

        double vc = (d1 * d4) - (d3 * d2);
        if (vc <= 0 && d1 >= 0 && d3 <= 0)
        {
            double v = d1 / (d1 - d3);
            return Sq(Sub(p, Add(a, Mul(ab, v))));
        }

        var cp = Sub(p, c);
        double d5 = Dot(ab, cp), d6 = Dot(ac, cp);
        if (d6 >= 0 && d5 <= d6)
        {
            return Dot(cp, cp);
        }

        double vb = (d5 * d2) - (d1 * d6);
        if (vb <= 0 && d2 >= 0 && d6 <= 0)
        {
            double w = d2 / (d2 - d6);
            return Sq(Sub(p, Add(a, Mul(ac, w))));
        }

        double va = (d3 * d6) - (d5 * d4);
        if (va <= 0 && (d4 - d3) >= 0 && (d5 - d6) >= 0)
        {
            double w = (d4 - d3) / ((d4 - d3) + (d5 - d6));
            return Sq(Sub(p, Add(b, Mul(Sub(c, b), w))));
        }

        double denom = 1 / (va + vb + vc);
        double vv = vb * denom, ww = vc * denom;
        return Sq(Sub(p, Add(a, Add(Mul(ab, vv), Mul(ac, ww)))));
    }

    private static (double, double, double) Sub((double X, double Y, double Z) a, (double X, double Y, double Z) b) => (a.X - b.X, a.Y - b.Y, a.Z - b.Z);

    private static (double, double, double) Add((double X, double Y, double Z) a, (double X, double Y, double Z) b) => (a.X + b.X, a.Y + b.Y, a.Z + b.Z);

    private static (double, double, double) Mul((double X, double Y, double Z) a, double s) => (a.X * s, a.Y * s, a.Z * s);

    private static double Dot((double X, double Y, double Z) a, (double X, double Y, double Z) b) => (a.X * b.X) + (a.Y * b.Y) + (a.Z * b.Z);

    private static double Sq((double X, double Y, double Z) a) => Dot(a, a);
}
