using System;

namespace PrecomputedTools.Engine.Meshing;

/// <summary>
/// Quadric-error half-edge-collapse simplification that keeps a closed surface closed.
/// </summary>
/// <remarks>
/// <para>
/// Each vertex carries the (unweighted) sum of the plane quadrics of the triangles it has absorbed,
/// so <c>sqrt(cost)</c> bounds the distance from a kept vertex to every original plane merged into
/// it; a collapse whose cost exceeds <c>maxError²</c> is never made. Half-edge collapses move no
/// vertex: the output's vertices are a subset of the input's, so the bounding box never grows.
/// </para>
/// <para>
/// A collapse u → v is made only if u is not locked (chunk-border vertices are), the edge has
/// exactly two triangles, the link condition holds (the one-rings of u and v share exactly the two
/// opposite vertices, and the pair is not a tetrahedron), and no triangle around u flips or
/// degenerates. These keep the surface an edge-manifold of the same genus with no new holes.
/// </para>
/// <para>
/// The work goes in passes: all edge costs are computed, sorted, and the cheapest collapses are
/// taken greedily, each one freezing its two vertices for the rest of the pass (their quadrics
/// changed, so their costs are stale). Checks see the mesh as it stands: a triangle's corners are
/// read through the pass's collapses so far, so every accepted collapse was checked against the
/// mesh it applies to. Passes repeat until the target is reached or nothing more can be collapsed
/// within the error bound.
/// </para>
/// </remarks>
public static class MeshSimplifier
{
    private const double MinNormalCos = 0.05;

    /// <summary>Simplifies <paramref name="mesh"/> toward <paramref name="targetTriangles"/> within <paramref name="maxError"/> (same units as the positions).</summary>
    public static MeshData Simplify(MeshData mesh, int targetTriangles, double maxError) =>
        Simplify(mesh, targetTriangles, maxError, new Buffers());

    /// <summary>
    /// As <see cref="Simplify(MeshData, int, double)"/>, working in (and returning a mesh backed
    /// by) <paramref name="buffers"/>: the result is valid until the next call with the same
    /// buffers. A meshing worker keeps one set, so simplifying allocates nothing once the buffers
    /// have grown to its largest mesh, instead of a few large arrays per segment per chunk.
    /// </summary>
    public static MeshData Simplify(MeshData mesh, int targetTriangles, double maxError, Buffers buffers)
    {
        if (mesh.TriangleCount <= targetTriangles || mesh.TriangleCount < 4)
        {
            return mesh;
        }

        return new Worker(mesh, buffers).Run(targetTriangles, maxError * maxError);
    }

    /// <summary>Working arrays of the simplifier, grown on demand and reused from mesh to mesh (one set per thread).</summary>
    public sealed class Buffers
    {
        internal int[] Tris = Array.Empty<int>();
        internal double[] Quadrics = Array.Empty<double>();
        internal int[] Mark = Array.Empty<int>();
        internal bool[] Touched = Array.Empty<bool>();
        internal int[] Remap = Array.Empty<int>();
        internal long[] Keys = Array.Empty<long>();
        internal float[] Costs = Array.Empty<float>();
        internal long[] SortedKeys = Array.Empty<long>();
        internal float[] SortedCosts = Array.Empty<float>();
        internal double[] SelfCosts = Array.Empty<double>();
        internal int[] BucketStart = new int[(1 << 12) + 1]; // Worker.Buckets + 1
        internal int[] AdjacencyStart = Array.Empty<int>();
        internal int[] Adjacency = Array.Empty<int>();
        internal int[] OutTris = Array.Empty<int>();
        internal double[] OutPositions = Array.Empty<double>();
        internal bool[] OutLocked = Array.Empty<bool>();

        /// <summary>At least <paramref name="length"/> elements (contents unspecified); grows by half again to amortise.</summary>
        internal static T[] Grow<T>(ref T[] array, int length)
        {
            if (array.Length < length)
            {
                array = new T[Math.Max(length, (int)Math.Min(int.MaxValue - 64, array.Length + (array.Length / 2L)))];
            }

            return array;
        }
    }

    private sealed class Worker
    {
        private readonly Buffers _b;
        private readonly double[] _p;
        private readonly int _n;
        private readonly bool[]? _locked;
        private readonly double[] _q;
        private int[] _tris;
        private int _triCount;
        private int[] _adjStart;
        private int[] _adj;
        private readonly int[] _mark;
        private int _stamp;
        private readonly int[] _ring = new int[1024];
        private readonly bool[] _touched;
        private readonly int[] _remap;

        public Worker(MeshData mesh, Buffers buffers)
        {
            // Simplifying an earlier result again (a coarser level of detail): that result keeps
            // its arrays, and this one gets new ones.
            if (ReferenceEquals(mesh.Positions, buffers.OutPositions) || ReferenceEquals(mesh.Indices, buffers.OutTris) || (mesh.Locked is not null && ReferenceEquals(mesh.Locked, buffers.OutLocked)))
            {
                buffers.OutPositions = Array.Empty<double>();
                buffers.OutTris = Array.Empty<int>();
                buffers.OutLocked = Array.Empty<bool>();
            }

            _b = buffers;
            _n = mesh.VertexCount;
            _p = mesh.Positions;
            _locked = mesh.Locked;
            _triCount = mesh.TriangleCount;
            _tris = Buffers.Grow(ref buffers.Tris, _triCount * 3);
            Array.Copy(mesh.Indices, _tris, _triCount * 3);
            _q = Buffers.Grow(ref buffers.Quadrics, _n * 10);
            Array.Clear(_q, 0, _n * 10);
            _mark = Buffers.Grow(ref buffers.Mark, _n);
            Array.Clear(_mark, 0, _n); // stamps start again from 0
            _touched = Buffers.Grow(ref buffers.Touched, _n);
            _remap = Buffers.Grow(ref buffers.Remap, _n);
            _adjStart = buffers.AdjacencyStart;
            _adj = buffers.Adjacency;
            _sortedKeys = buffers.SortedKeys;
            _sortedCosts = buffers.SortedCosts;
            _bucketStart = buffers.BucketStart;
            for (int t = 0; t < _triCount; t++)
            {
                AddPlaneQuadric(_tris[3 * t], _tris[(3 * t) + 1], _tris[(3 * t) + 2]);
            }

            _self = Buffers.Grow(ref buffers.SelfCosts, _n);
            for (int v = 0; v < _n; v++)
            {
                _self[v] = Evaluate(v, v);
            }
        }

        public MeshData Run(int target, double maxCost)
        {
            long[] keys = Buffers.Grow(ref _b.Keys, _triCount * 3 / 2 + 8);
            float[] costs = Buffers.Grow(ref _b.Costs, keys.Length);
            // Collapses that cost (almost) nothing, e.g. inside flat patches, are made even past the target.
            double freeCost = maxCost * 1e-4;
            bool more = true;
            while (more && _triCount > 4)
            {
                BuildAdjacency();
                int candidates = CollectCandidates(ref keys, ref costs, maxCost);
                if (candidates == 0)
                {
                    break;
                }

                SortByCost(keys, costs, candidates, ref _sortedKeys, ref _sortedCosts, _bucketStart);
                long[] sortedKeys = _sortedKeys;
                float[] sortedCosts = _sortedCosts;
                Array.Clear(_touched, 0, _n);
                for (int i = 0; i < _n; i++)
                {
                    _remap[i] = i;
                }

                int remaining = _triCount;
                int accepted = 0;
                for (int i = 0; i < candidates; i++)
                {
                    if (remaining <= target && sortedCosts[i] > freeCost)
                    {
                        break;
                    }

                    long key = sortedKeys[i];
                    int u = (int)(key >> 32);
                    int v = (int)(key & 0xffffffff);
                    if (_touched[u] || _touched[v] || !CanCollapse(u, v))
                    {
                        continue;
                    }

                    _touched[u] = true;
                    _touched[v] = true;
                    _remap[u] = v;
                    for (int k = 0; k < 10; k++)
                    {
                        _q[(10 * v) + k] += _q[(10 * u) + k];
                    }

                    _self[v] = Evaluate(v, v);

                    remaining -= 2;
                    accepted++;
                }

                if (accepted == 0)
                {
                    break;
                }

                ApplyRemap();

                // Passes that remove almost nothing cost a full sweep each: stop at the error floor.
                more = accepted * 2 >= _triCount / 200;
            }

            // Keep what grew for the next mesh.
            (_b.Keys, _b.Costs, _b.SortedKeys, _b.SortedCosts, _b.AdjacencyStart, _b.Adjacency) = (keys, costs, _sortedKeys, _sortedCosts, _adjStart, _adj);
            return Compact();
        }

        private void AddPlaneQuadric(int a, int b, int c)
        {
            double ax = _p[3 * a], ay = _p[(3 * a) + 1], az = _p[(3 * a) + 2];
            double ux = _p[3 * b] - ax, uy = _p[(3 * b) + 1] - ay, uz = _p[(3 * b) + 2] - az;
            double vx = _p[3 * c] - ax, vy = _p[(3 * c) + 1] - ay, vz = _p[(3 * c) + 2] - az;
            double nx = (uy * vz) - (uz * vy), ny = (uz * vx) - (ux * vz), nz = (ux * vy) - (uy * vx);
            double len = Math.Sqrt((nx * nx) + (ny * ny) + (nz * nz));
            if (len == 0)
            {
                return;
            }

            nx /= len;
            ny /= len;
            nz /= len;
            double d = -((nx * ax) + (ny * ay) + (nz * az));
            AddQuadric(a, nx, ny, nz, d);
            AddQuadric(b, nx, ny, nz, d);
            AddQuadric(c, nx, ny, nz, d);
        }

        private void AddQuadric(int v, double nx, double ny, double nz, double d)
        {
            int o = 10 * v;
            _q[o] += nx * nx;
            _q[o + 1] += nx * ny;
            _q[o + 2] += nx * nz;
            _q[o + 3] += nx * d;
            _q[o + 4] += ny * ny;
            _q[o + 5] += ny * nz;
            _q[o + 6] += ny * d;
            _q[o + 7] += nz * nz;
            _q[o + 8] += nz * d;
            _q[o + 9] += d * d;
        }

        /// <summary>Q_q evaluated at the position of vertex p: the squared distances of p to the planes merged into q.</summary>
        private double Evaluate(int q, int p)
        {
            int o = 10 * q;
            double x = _p[3 * p], y = _p[(3 * p) + 1], z = _p[(3 * p) + 2];
            return (_q[o] * x * x) + (2 * _q[o + 1] * x * y) + (2 * _q[o + 2] * x * z) + (2 * _q[o + 3] * x)
                + (_q[o + 4] * y * y) + (2 * _q[o + 5] * y * z) + (2 * _q[o + 6] * y)
                + (_q[o + 7] * z * z) + (2 * _q[o + 8] * z) + _q[o + 9];
        }

        private long[] _sortedKeys;
        private float[] _sortedCosts;
        private readonly int[] _bucketStart;
        private readonly double[] _self;

        /// <summary>
        /// Orders candidates by cost with a counting sort on the float's top bits (exponent and three
        /// mantissa bits): linear time, and order within a factor of 1.125 is all greedy collapse needs.
        /// The candidates are moved into cost order, so the greedy walk reads them in sequence.
        /// </summary>
        private static void SortByCost(long[] keys, float[] costs, int count, ref long[] sortedKeys, ref float[] sortedCosts, int[] bucketStart)
        {
            if (sortedKeys.Length < count)
            {
                sortedKeys = new long[keys.Length];
                sortedCosts = new float[keys.Length];
            }

            Array.Clear(bucketStart, 0, bucketStart.Length);
            for (int i = 0; i < count; i++)
            {
                bucketStart[Bucket(costs[i]) + 1]++;
            }

            for (int b = 0; b < Buckets; b++)
            {
                bucketStart[b + 1] += bucketStart[b];
            }

            for (int i = 0; i < count; i++)
            {
                int slot = bucketStart[Bucket(costs[i])]++;
                sortedKeys[slot] = keys[i];
                sortedCosts[slot] = costs[i];
            }
        }

        private const int Buckets = 1 << 12;

        private static unsafe int Bucket(float cost) => (int)(*(uint*)&cost >> 20) & (Buckets - 1);

        private void BuildAdjacency()
        {
            if (_adjStart.Length < _n + 1)
            {
                _adjStart = new int[_n + 1];
            }

            Array.Clear(_adjStart, 0, _n + 1);
            int count = _triCount * 3;
            for (int i = 0; i < count; i++)
            {
                _adjStart[_tris[i] + 1]++;
            }

            for (int v = 0; v < _n; v++)
            {
                _adjStart[v + 1] += _adjStart[v];
            }

            if (_adj.Length < count)
            {
                _adj = new int[count];
            }

            int[] fill = _remap;
            Array.Copy(_adjStart, fill, _n);
            for (int t = 0; t < _triCount; t++)
            {
                _adj[fill[_tris[3 * t]]++] = t;
                _adj[fill[_tris[(3 * t) + 1]]++] = t;
                _adj[fill[_tris[(3 * t) + 2]]++] = t;
            }
        }

        private int CollectCandidates(ref long[] keys, ref float[] costs, double maxCost)
        {
            int count = 0;
            if (keys.Length < _triCount * 3 / 2 + 8)
            {
                keys = new long[_triCount * 3 / 2 + 8];
                costs = new float[keys.Length];
            }

            for (int t = 0; t < _triCount; t++)
            {
                for (int k = 0; k < 3; k++)
                {
                    int a = _tris[(3 * t) + k];
                    int b = _tris[(3 * t) + ((k + 1) % 3)];
                    if (a > b)
                    {
                        continue;
                    }

                    bool la = _locked is not null && _locked[a];
                    bool lb = _locked is not null && _locked[b];
                    if (la && lb)
                    {
                        continue;
                    }

                    // Q_a + Q_b at b (a moves onto b), and at a: each vertex's own quadric at its own
                    // position is kept per vertex, so one evaluation of the other quadric remains.
                    double cab = la ? double.MaxValue : Evaluate(a, b) + _self[b];
                    double cba = lb ? double.MaxValue : Evaluate(b, a) + _self[a];
                    int u, v;
                    double c;
                    if (cab <= cba)
                    {
                        (u, v, c) = (a, b, cab);
                    }
                    else
                    {
                        (u, v, c) = (b, a, cba);
                    }

                    if (c > maxCost)
                    {
                        continue;
                    }

                    c = Math.Max(c, 0); // rounding: a sum of squares

                    if (count == keys.Length)
                    {
                        Array.Resize(ref keys, count * 2);
                        Array.Resize(ref costs, count * 2);
                    }

                    keys[count] = ((long)u << 32) | (uint)v;
                    costs[count] = (float)c;
                    count++;
                }
            }

            return count;
        }

        private bool CanCollapse(int u, int v)
        {
            // One walk over u's triangles: the two shared with v and their opposite corners, u's
            // one-ring marked, and no other triangle may flip or degenerate when u moves onto v.
            double ux = _p[3 * u], uy = _p[(3 * u) + 1], uz = _p[(3 * u) + 2];
            double vx = _p[3 * v], vy = _p[(3 * v) + 1], vz = _p[(3 * v) + 2];
            bool vLocked = _locked is not null && _locked[v];
            int stamp = ++_stamp;
            int ringU = 0;
            int shared = 0;
            int opposite0 = -1, opposite1 = -1;
            for (int i = _adjStart[u]; i < _adjStart[u + 1]; i++)
            {
                if (!Corners(_adj[i], out int a, out int b, out int c))
                {
                    continue;
                }

                Mark(a, u, stamp, ref ringU);
                Mark(b, u, stamp, ref ringU);
                Mark(c, u, stamp, ref ringU);

                // The corners after u in the triangle's order.
                (int p, int q) = a == u ? (b, c) : b == u ? (c, a) : (a, b);
                if (p == v || q == v)
                {
                    shared++;
                    int o = p == v ? q : p;
                    if (opposite0 < 0)
                    {
                        opposite0 = o;
                    }
                    else
                    {
                        opposite1 = o;
                    }

                    continue;
                }

                // A triangle made only of locked (chunk-border) vertices would be invisible to the
                // neighbouring chunk, which could cover the same border patch differently.
                if (vLocked && _locked![p] && _locked[q])
                {
                    return false;
                }

                // Normals before and after: (p - u) x (q - p) and (p - v) x (q - p).
                double px = _p[3 * p], py = _p[(3 * p) + 1], pz = _p[(3 * p) + 2];
                double ex = _p[3 * q] - px, ey = _p[(3 * q) + 1] - py, ez = _p[(3 * q) + 2] - pz;
                double ax = px - ux, ay = py - uy, az = pz - uz;
                double bx = px - vx, by = py - vy, bz = pz - vz;
                double n0x = (ay * ez) - (az * ey), n0y = (az * ex) - (ax * ez), n0z = (ax * ey) - (ay * ex);
                double n1x = (by * ez) - (bz * ey), n1y = (bz * ex) - (bx * ez), n1z = (bx * ey) - (by * ex);
                double dot = (n0x * n1x) + (n0y * n1y) + (n0z * n1z);
                double l0 = (n0x * n0x) + (n0y * n0y) + (n0z * n0z);
                double l1 = (n1x * n1x) + (n1y * n1y) + (n1z * n1z);
                if (l1 <= 1e-12 * l0 || dot <= MinNormalCos * Math.Sqrt(l0 * l1))
                {
                    return false;
                }
            }

            if (shared != 2 || opposite0 == opposite1)
            {
                return false;
            }

            // v's one-ring, and how much of it u's ring shares: exactly the two opposite corners.
            int common = 0;
            int ringV = 0;
            int second = ++_stamp;
            for (int i = _adjStart[v]; i < _adjStart[v + 1]; i++)
            {
                if (!Corners(_adj[i], out int a, out int b, out int c))
                {
                    continue;
                }

                MarkSecond(a, v, stamp, second, ref common, ref ringV);
                MarkSecond(b, v, stamp, second, ref common, ref ringV);
                MarkSecond(c, v, stamp, second, ref common, ref ringV);
            }

            // Otherwise a tetrahedron would fold into a double-sided triangle.
            return common == 2 && !(ringU == 3 && ringV == 3);
        }

        /// <summary>
        /// Triangle <paramref name="t"/> as it stands after this pass's collapses so far (false if one
        /// of them made it degenerate). A collapse target is frozen for the rest of the pass, so one
        /// remap step is the whole chain.
        /// </summary>
        private bool Corners(int t, out int a, out int b, out int c)
        {
            a = _remap[_tris[3 * t]];
            b = _remap[_tris[(3 * t) + 1]];
            c = _remap[_tris[(3 * t) + 2]];
            return a != b && b != c && a != c;
        }

        private void Mark(int w, int v, int stamp, ref int ring)
        {
            if (w != v && _mark[w] != stamp)
            {
                _mark[w] = stamp;
                ring++;
            }
        }

        private void MarkSecond(int w, int v, int first, int second, ref int common, ref int ring)
        {
            if (w == v || _mark[w] == second)
            {
                return;
            }

            // Vertices in u's ring get the "second" stamp only through this branch (u itself is not in it).
            if (_mark[w] == first)
            {
                common++;
            }

            _mark[w] = second;
            ring++;
        }

        private void ApplyRemap()
        {
            int write = 0;
            for (int t = 0; t < _triCount; t++)
            {
                int a = _remap[_tris[3 * t]], b = _remap[_tris[(3 * t) + 1]], c = _remap[_tris[(3 * t) + 2]];
                if (a == b || b == c || a == c)
                {
                    continue;
                }

                _tris[3 * write] = a;
                _tris[(3 * write) + 1] = b;
                _tris[(3 * write) + 2] = c;
                write++;
            }

            _triCount = write;
        }

        private MeshData Compact()
        {
            int[] newIndex = _remap;
            for (int i = 0; i < _n; i++)
            {
                newIndex[i] = -1;
            }

            int count = 0;
            int[] tris = Buffers.Grow(ref _b.OutTris, _triCount * 3);
            for (int i = 0; i < _triCount * 3; i++)
            {
                int v = _tris[i];
                if (newIndex[v] < 0)
                {
                    newIndex[v] = count++;
                }

                tris[i] = newIndex[v];
            }

            double[] positions = Buffers.Grow(ref _b.OutPositions, count * 3);
            bool[]? locked = _locked is null ? null : Buffers.Grow(ref _b.OutLocked, count);
            for (int v = 0; v < _n; v++)
            {
                int k = newIndex[v];
                if (k >= 0)
                {
                    positions[3 * k] = _p[3 * v];
                    positions[(3 * k) + 1] = _p[(3 * v) + 1];
                    positions[(3 * k) + 2] = _p[(3 * v) + 2];
                    if (locked is not null)
                    {
                        locked[k] = _locked![v];
                    }
                }
            }

            return new MeshData(positions, count, tris, _triCount, locked);
        }
    }
}
