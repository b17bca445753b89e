using System;
using System.Collections.Generic;

namespace PrecomputedTools.Engine.Meshing;

/// <summary>
/// The marching-cubes case table, derived at start-up from first principles rather than typed in.
/// </summary>
/// <remarks>
/// <para>
/// A cell is the 2×2×2 group of voxel centres with lower corner (x, y, z). Corner <c>i</c> sits at
/// (i &amp; 1, (i &gt;&gt; 1) &amp; 1, (i &gt;&gt; 2) &amp; 1); bit <c>i</c> of the case index is set
/// when that corner is <b>inside</b>. For a label L a corner is inside iff its voxel equals L
/// (neuroglancer's mesher convention). Consequence, documented and tested: two voxels of
/// one label that share only an edge or only a corner give two separate shells.
/// </para>
/// <para>
/// Edges 0-3 run along x, 4-7 along y, 8-11 along z; a surface vertex sits at the midpoint of an
/// edge whose two corners differ. On each cube face the crossing edges (0, 2 or 4 of them) are
/// joined by segments; on an ambiguous face (diagonal corners inside) each inside corner is cut off
/// on its own, so inside corners stay separate. The decision depends only on the face's four
/// corners, so two cells sharing a face always agree and the surface is watertight. Each segment
/// is oriented so that the polygon it bounds winds counter-clockwise seen from outside; segments
/// chain into closed loops (every crossing edge lies on exactly two faces), and each loop is
/// triangulated without any edge inside a cube face (see <see cref="Triangulate"/>). Neighbouring cells traverse a shared segment in opposite directions, which is
/// what makes every directed edge of the output pair up.
/// </para>
/// </remarks>
internal static class MarchingCubesTable
{
    /// <summary>Corner pairs of the 12 edges, lower corner first.</summary>
    internal static readonly byte[] EdgeCornerA = { 0, 2, 4, 6, 0, 1, 4, 5, 0, 1, 2, 3 };

    internal static readonly byte[] EdgeCornerB = { 1, 3, 5, 7, 2, 3, 6, 7, 4, 5, 6, 7 };

    /// <summary>Triangle edge indices per case, flattened: case c uses Triangles[Start[c] .. Start[c+1]).</summary>
    internal static readonly byte[] Triangles;

    internal static readonly int[] Start;

    static MarchingCubesTable()
    {
        var all = new List<byte>(256 * 12);
        Start = new int[257];
        for (int mask = 0; mask < 256; mask++)
        {
            Start[mask] = all.Count;
            foreach (int e in BuildCase(mask))
            {
                all.Add((byte)e);
            }
        }

        Start[256] = all.Count;
        Triangles = all.ToArray();
    }

    private static (int X, int Y, int Z) Corner(int i) => (i & 1, (i >> 1) & 1, (i >> 2) & 1);

    private static int EdgeBetween(int a, int b)
    {
        if (a > b)
        {
            (a, b) = (b, a);
        }

        for (int e = 0; e < 12; e++)
        {
            if (EdgeCornerA[e] == a && EdgeCornerB[e] == b)
            {
                return e;
            }
        }

        throw new InvalidOperationException("Corners " + a + " and " + b + " do not share an edge.");
    }

    /// <summary>Doubled midpoint of edge e (coordinates 0, 1 or 2).</summary>
    private static (int X, int Y, int Z) Mid2(int e)
    {
        var a = Corner(EdgeCornerA[e]);
        var b = Corner(EdgeCornerB[e]);
        return (a.X + b.X, a.Y + b.Y, a.Z + b.Z);
    }

    private static List<int> BuildCase(int mask)
    {
        var triangles = new List<int>();
        if (mask == 0 || mask == 255)
        {
            return triangles;
        }

        int[] next = new int[12];
        for (int i = 0; i < 12; i++)
        {
            next[i] = -1;
        }

        for (int axis = 0; axis < 3; axis++)
        {
            for (int side = 0; side < 2; side++)
            {
                // The face's four corners in cyclic order: vary the two other axes around a square.
                int u = (axis + 1) % 3;
                int v = (axis + 2) % 3;
                int[] cyc = new int[4];
                int[] uv = { 0, 0, 1, 0, 1, 1, 0, 1 };
                for (int k = 0; k < 4; k++)
                {
                    int c = (side << axis) | (uv[2 * k] << u) | (uv[(2 * k) + 1] << v);
                    cyc[k] = c;
                }

                int[] normal = new int[3];
                normal[axis] = side == 0 ? -1 : 1;
                var crossing = new List<int>();
                for (int k = 0; k < 4; k++)
                {
                    bool inA = ((mask >> cyc[k]) & 1) != 0;
                    bool inB = ((mask >> cyc[(k + 1) % 4]) & 1) != 0;
                    if (inA != inB)
                    {
                        crossing.Add(k);
                    }
                }

                if (crossing.Count == 2)
                {
                    AddSegment(mask, EdgeBetween(cyc[crossing[0]], cyc[(crossing[0] + 1) % 4]), EdgeBetween(cyc[crossing[1]], cyc[(crossing[1] + 1) % 4]), normal, next);
                }
                else if (crossing.Count == 4)
                {
                    // Ambiguous face: cut off each inside corner separately.
                    for (int k = 0; k < 4; k++)
                    {
                        if (((mask >> cyc[k]) & 1) != 0)
                        {
                            int before = EdgeBetween(cyc[(k + 3) % 4], cyc[k]);
                            int after = EdgeBetween(cyc[k], cyc[(k + 1) % 4]);
                            AddSegment(mask, before, after, normal, next);
                        }
                    }
                }
            }
        }

        bool[] used = new bool[12];
        for (int start = 0; start < 12; start++)
        {
            if (next[start] < 0 || used[start])
            {
                continue;
            }

            var loop = new List<int>();
            for (int e = start; !used[e]; e = next[e])
            {
                used[e] = true;
                loop.Add(e);
            }

            triangles.AddRange(Triangulate(loop));
        }

        return triangles;
    }

    /// <summary>
    /// Triangulates one loop. No diagonal may join two vertices on the same cube face (that only
    /// happens on an ambiguous face the loop crosses twice): such an edge or triangle would lie in
    /// the face the neighbouring cell also meshes, and the surface would stop being a manifold.
    /// Among the allowed triangulations a fan is preferred, from the vertex enclosing the most
    /// volume (loops need not be planar: the bulging, convex-outward choice); if no fan is allowed,
    /// the allowed triangulation enclosing the most volume is used.
    /// </summary>
    private static List<int> Triangulate(List<int> loop)
    {
        int n = loop.Count;
        bool Allowed(int i, int j) => Math.Abs(i - j) == 1 || Math.Abs(i - j) == n - 1 || !ShareFace(loop[i], loop[j]);
        var result = new List<int>();
        int apex = -1;
        double best = double.NegativeInfinity;
        for (int s = 0; s < n; s++)
        {
            bool ok = true;
            double volume = 0;
            for (int k = 1; k + 1 < n; k++)
            {
                ok &= Allowed(s, (s + k) % n) && Allowed(s, (s + k + 1) % n);
                volume += SignedVolume(loop[s], loop[(s + k) % n], loop[(s + k + 1) % n]);
            }

            if (ok && volume > best + 1e-9)
            {
                best = volume;
                apex = s;
            }
        }

        if (apex >= 0)
        {
            for (int k = 1; k + 1 < n; k++)
            {
                result.Add(loop[apex]);
                result.Add(loop[(apex + k) % n]);
                result.Add(loop[(apex + k + 1) % n]);
            }

            return result;
        }

        // Interval dynamic programme over all triangulations: score[i, j] triangulates i..j.
        double[,] score = new double[n, n];
        int[,] split = new int[n, n];
        for (int length = 2; length < n; length++)
        {
            for (int i = 0; i + length < n; i++)
            {
                int j = i + length;
                score[i, j] = double.NegativeInfinity;
                for (int k = i + 1; k < j; k++)
                {
                    if (!Allowed(i, k) || !Allowed(k, j))
                    {
                        continue;
                    }

                    double candidate = score[i, k] + score[k, j] + SignedVolume(loop[i], loop[k], loop[j]);
                    if (candidate > score[i, j] + 1e-9)
                    {
                        score[i, j] = candidate;
                        split[i, j] = k;
                    }
                }
            }
        }

        if (double.IsNegativeInfinity(score[0, n - 1]))
        {
            throw new InvalidOperationException("No manifold triangulation for a marching-cubes loop of " + n + " vertices.");
        }

        void Emit(int i, int j)
        {
            if (j - i < 2)
            {
                return;
            }

            int k = split[i, j];
            result.Add(loop[i]);
            result.Add(loop[k]);
            result.Add(loop[j]);
            Emit(i, k);
            Emit(k, j);
        }

        Emit(0, n - 1);
        return result;
    }

    /// <summary>Whether the midpoints of two edges lie on a common cube face.</summary>
    private static bool ShareFace(int e1, int e2)
    {
        var a = Mid2(e1);
        var b = Mid2(e2);
        return (a.X == b.X && a.X != 1) || (a.Y == b.Y && a.Y != 1) || (a.Z == b.Z && a.Z != 1);
    }

    private static double SignedVolume(int ea, int eb, int ec)
    {
        var a = Mid2(ea);
        var b = Mid2(eb);
        var c = Mid2(ec);
        return (a.X * ((b.Y * c.Z) - (b.Z * c.Y))) + (a.Y * ((b.Z * c.X) - (b.X * c.Z))) + (a.Z * ((b.X * c.Y) - (b.Y * c.X)));
    }

    /// <summary>
    /// Records the segment between edges p and q, directed so that the polygon lies to its left
    /// when seen from outside the label: ((P − Cin) × n) · (Q − P) &gt; 0, with Cin the inside
    /// corner of edge p and n the face's outward normal.
    /// </summary>
    private static void AddSegment(int mask, int p, int q, int[] normal, int[] next)
    {
        var pm = Mid2(p);
        var qm = Mid2(q);
        int cin = ((mask >> EdgeCornerA[p]) & 1) != 0 ? EdgeCornerA[p] : EdgeCornerB[p];
        var c = Corner(cin);
        int ax = pm.X - (2 * c.X), ay = pm.Y - (2 * c.Y), az = pm.Z - (2 * c.Z);
        int cx = (ay * normal[2]) - (az * normal[1]);
        int cy = (az * normal[0]) - (ax * normal[2]);
        int cz = (ax * normal[1]) - (ay * normal[0]);
        int dot = (cx * (qm.X - pm.X)) + (cy * (qm.Y - pm.Y)) + (cz * (qm.Z - pm.Z));
        (int from, int to) = dot > 0 ? (p, q) : (q, p);
        if (next[from] >= 0)
        {
            throw new InvalidOperationException("Inconsistent marching-cubes case " + mask + ": edge " + from + " has two successors.");
        }

        next[from] = to;
    }
}
