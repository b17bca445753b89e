using System;
using System.Threading;
using System.Threading.Tasks;

namespace PrecomputedTools.Benchmarks;

/// <summary>
/// The Hausdorff distance between two triangle meshes, the common measure of simplification error
/// (issue 15): sampled points of each surface (vertices, edge midpoints and centroids) against the
/// other surface, exact point-to-triangle distances found through a uniform grid.
/// </summary>
internal static class MeshDistance
{
    /// <summary>Symmetric Hausdorff distance, and the sum of squared distances of the sample points (both ways) with their count.</summary>
    public static (double Hausdorff, double SumSquares, long Samples) Between(double[] pa, int[] ta, int na, double[] pb, int[] tb, int nb)
    {
        var gridA = new TriangleGrid(pa, ta, na);
        var gridB = new TriangleGrid(pb, tb, nb);
        // The fine surface is sampled at its vertices (each within half an edge of every point of
        // it), the coarse one at vertices, edge midpoints and centroids.
        (double maxAB, double sumAB, long countAB) = FarthestSample(pa, ta, na, gridB, verticesOnly: true);
        (double maxBA, double sumBA, long countBA) = FarthestSample(pb, tb, nb, gridA, verticesOnly: false);
        return (Math.Max(maxAB, maxBA), sumAB + sumBA, countAB + countBA);
    }

    /// <summary>The largest distance (and the sum of squares) from sample points of one mesh to the other's grid.</summary>
    private static (double Max, double SumSquares, long Count) FarthestSample(double[] p, int[] t, int n, TriangleGrid other, bool verticesOnly)
    {
        if (verticesOnly)
        {
            // Each used vertex once.
            var used = new bool[p.Length / 3];
            foreach (int v in t.AsSpan(0, 3 * n))
            {
                used[v] = true;
            }

            return Reduce(used.Length, (v, samples) =>
            {
                if (used[v])
                {
                    samples.Add(other.DistanceSquared(p[3 * v], p[(3 * v) + 1], p[(3 * v) + 2]));
                }
            });
        }

        return Reduce(n, (i, samples) =>
        {
            int a = 3 * t[3 * i], b = 3 * t[(3 * i) + 1], c = 3 * t[(3 * i) + 2];
            // The three vertices (each counted by every triangle using it), edge midpoints, centroid.
            for (int s = 0; s < 7; s++)
            {
                double wa = Weights[s, 0], wb = Weights[s, 1], wc = Weights[s, 2];
                double x = (wa * p[a]) + (wb * p[b]) + (wc * p[c]);
                double y = (wa * p[a + 1]) + (wb * p[b + 1]) + (wc * p[c + 1]);
                double z = (wa * p[a + 2]) + (wb * p[b + 2]) + (wc * p[c + 2]);
                samples.Add(other.DistanceSquared(x, y, z));
            }
        });
    }

    /// <summary>Runs <paramref name="sample"/> for items 0..count-1 on all cores and combines the squared distances they add.</summary>
    private static (double Max, double SumSquares, long Count) Reduce(int count, Action<int, Samples> sample)
    {
        var total = new Samples();
        object gate = new();
        Parallel.For(
            0,
            (count + 4095) / 4096,
            () => new Samples(),
            (block, _, local) =>
            {
                for (int i = block * 4096; i < Math.Min(count, (block + 1) * 4096); i++)
                {
                    sample(i, local);
                }

                return local;
            },
            local =>
            {
                lock (gate)
                {
                    total.Max = Math.Max(total.Max, local.Max);
                    total.Sum += local.Sum;
                    total.Count += local.Count;
                }
            });
        return (Math.Sqrt(total.Max), total.Sum, total.Count);
    }

    /// <summary>One thread's running maximum and sum of squared distances.</summary>
    private sealed class Samples
    {
        public double Max;
        public double Sum;
        public long Count;

        public void Add(double distanceSquared)
        {
            Max = Math.Max(Max, distanceSquared);
            Sum += distanceSquared;
            Count++;
        }
    }

    private static readonly double[,] Weights =
    {
        { 1, 0, 0 }, { 0, 1, 0 }, { 0, 0, 1 },
        { 0.5, 0.5, 0 }, { 0, 0.5, 0.5 }, { 0.5, 0, 0.5 },
        { 1.0 / 3, 1.0 / 3, 1.0 / 3 },
    };

    /// <summary>Triangles binned into cubic cells of about two edge lengths; nearest-triangle queries search outward ring by ring.</summary>
    private sealed class TriangleGrid
    {
        private readonly double[] _p;
        private readonly int[] _t;
        private readonly double _ox, _oy, _oz, _cell;
        private readonly int _gx, _gy, _gz;
        private readonly int[] _start;
        private readonly int[] _items = Array.Empty<int>();

        public TriangleGrid(double[] p, int[] t, int n)
        {
            _p = p;
            _t = t;
            double minX = double.MaxValue, minY = double.MaxValue, minZ = double.MaxValue;
            double maxX = double.MinValue, maxY = double.MinValue, maxZ = double.MinValue;
            double edges = 0;
            for (int i = 0; i < 3 * n; i++)
            {
                int v = 3 * t[i];
                minX = Math.Min(minX, p[v]);
                minY = Math.Min(minY, p[v + 1]);
                minZ = Math.Min(minZ, p[v + 2]);
                maxX = Math.Max(maxX, p[v]);
                maxY = Math.Max(maxY, p[v + 1]);
                maxZ = Math.Max(maxZ, p[v + 2]);
                int w = 3 * t[(i % 3) == 2 ? i - 2 : i + 1];
                edges += Math.Sqrt(Sq(p[v] - p[w]) + Sq(p[v + 1] - p[w + 1]) + Sq(p[v + 2] - p[w + 2]));
            }

            double extent = Math.Max(maxX - minX, Math.Max(maxY - minY, maxZ - minZ));
            _cell = Math.Max(2 * edges / Math.Max(1, 3 * n), extent / 256);
            _cell = Math.Max(_cell, 1e-9);
            _ox = minX - _cell;
            _oy = minY - _cell;
            _oz = minZ - _cell;
            _gx = 3 + (int)((maxX - minX) / _cell);
            _gy = 3 + (int)((maxY - minY) / _cell);
            _gz = 3 + (int)((maxZ - minZ) / _cell);
            _start = new int[(_gx * _gy * _gz) + 1];
            for (int pass = 0; pass < 2; pass++)
            {
                int[] fill = pass == 1 ? (int[])_start.Clone() : _start;
                for (int i = 0; i < n; i++)
                {
                    Bounds(i, out int x0, out int y0, out int z0, out int x1, out int y1, out int z1);
                    for (int z = z0; z <= z1; z++)
                    {
                        for (int y = y0; y <= y1; y++)
                        {
                            for (int x = x0; x <= x1; x++)
                            {
                                int cellIndex = x + (_gx * (y + (_gy * z)));
                                if (pass == 0)
                                {
                                    _start[cellIndex + 1]++;
                                }
                                else
                                {
                                    _items[fill[cellIndex]++] = i;
                                }
                            }
                        }
                    }
                }

                if (pass == 0)
                {
                    for (int c = 0; c < _gx * _gy * _gz; c++)
                    {
                        _start[c + 1] += _start[c];
                    }

                    _items = new int[_start[_gx * _gy * _gz]];
                }
            }
        }

        public double DistanceSquared(double px, double py, double pz)
        {
            int cx = Clamp((int)Math.Floor((px - _ox) / _cell), _gx), cy = Clamp((int)Math.Floor((py - _oy) / _cell), _gy), cz = Clamp((int)Math.Floor((pz - _oz) / _cell), _gz);
            double best = double.MaxValue;
            int maxRing = Math.Max(_gx, Math.Max(_gy, _gz));
            for (int r = 0; r <= maxRing; r++)
            {
                for (int gz = Math.Max(0, cz - r); gz <= Math.Min(_gz - 1, cz + r); gz++)
                {
                    for (int gy = Math.Max(0, cy - r); gy <= Math.Min(_gy - 1, cy + r); gy++)
                    {
                        if (r == 0 || Math.Abs(gz - cz) == r || Math.Abs(gy - cy) == r)
                        {
                            for (int gx = Math.Max(0, cx - r); gx <= Math.Min(_gx - 1, cx + r); gx++)
                            {
                                best = Math.Min(best, CellDistanceSquared(gx, gy, gz, px, py, pz));
                            }
                        }
                        else
                        {
                            // Inside the shell's y/z range only its two x faces are new.
                            if (cx - r >= 0)
                            {
                                best = Math.Min(best, CellDistanceSquared(cx - r, gy, gz, px, py, pz));
                            }

                            if (cx + r < _gx)
                            {
                                best = Math.Min(best, CellDistanceSquared(cx + r, gy, gz, px, py, pz));
                            }
                        }
                    }
                }

                // Triangles not yet seen lie in cells at least r whole cells away.
                if (best <= Sq(r * _cell))
                {
                    break;
                }
            }

            return best;
        }

        private double CellDistanceSquared(int gx, int gy, int gz, double px, double py, double pz)
        {
            double best = double.MaxValue;
            int cellIndex = gx + (_gx * (gy + (_gy * gz)));
            for (int k = _start[cellIndex]; k < _start[cellIndex + 1]; k++)
            {
                best = Math.Min(best, TriangleDistanceSquared(_items[k], px, py, pz));
            }

            return best;
        }

        private void Bounds(int i, out int x0, out int y0, out int z0, out int x1, out int y1, out int z1)
        {
            int a = 3 * _t[3 * i], b = 3 * _t[(3 * i) + 1], c = 3 * _t[(3 * i) + 2];
            x0 = Clamp((int)Math.Floor((Math.Min(_p[a], Math.Min(_p[b], _p[c])) - _ox) / _cell), _gx);
            y0 = Clamp((int)Math.Floor((Math.Min(_p[a + 1], Math.Min(_p[b + 1], _p[c + 1])) - _oy) / _cell), _gy);
            z0 = Clamp((int)Math.Floor((Math.Min(_p[a + 2], Math.Min(_p[b + 2], _p[c + 2])) - _oz) / _cell), _gz);
            x1 = Clamp((int)Math.Floor((Math.Max(_p[a], Math.Max(_p[b], _p[c])) - _ox) / _cell), _gx);
            y1 = Clamp((int)Math.Floor((Math.Max(_p[a + 1], Math.Max(_p[b + 1], _p[c + 1])) - _oy) / _cell), _gy);
            z1 = Clamp((int)Math.Floor((Math.Max(_p[a + 2], Math.Max(_p[b + 2], _p[c + 2])) - _oz) / _cell), _gz);
        }

        /// <summary>Squared distance from a point to triangle i (closest point by Voronoi regions of the triangle).</summary>
        private double TriangleDistanceSquared(int i, double px, double py, double pz)
        {
            int ia = 3 * _t[3 * i], ib = 3 * _t[(3 * i) + 1], ic = 3 * _t[(3 * i) + 2];
            double ax = _p[ia], ay = _p[ia + 1], az = _p[ia + 2];
            double abx = _p[ib] - ax, aby = _p[ib + 1] - ay, abz = _p[ib + 2] - az;
            double acx = _p[ic] - ax, acy = _p[ic + 1] - ay, acz = _p[ic + 2] - az;
            double apx = px - ax, apy = py - ay, apz = pz - az;
            double d1 = (abx * apx) + (aby * apy) + (abz * apz), d2 = (acx * apx) + (acy * apy) + (acz * apz);
            if (d1 <= 0 && d2 <= 0)
            {
                return Sq(apx) + Sq(apy) + Sq(apz);
            }

            double bpx = px - _p[ib], bpy = py - _p[ib + 1], bpz = pz - _p[ib + 2];
            double d3 = (abx * bpx) + (aby * bpy) + (abz * bpz), d4 = (acx * bpx) + (acy * bpy) + (acz * bpz);
            if (d3 >= 0 && d4 <= d3)
            {
                return Sq(bpx) + Sq(bpy) + Sq(bpz);
            }

            double vc = (d1 * d4) - (d3 * d2);
            if (vc <= 0 && d1 >= 0 && d3 <= 0)
            {
                double v = d1 / (d1 - d3);
                return Sq(apx - (v * abx)) + Sq(apy - (v * aby)) + Sq(apz - (v * abz));
            }

            double cpx = px - _p[ic], cpy = py - _p[ic + 1], cpz = pz - _p[ic + 2];
            double d5 = (abx * cpx) + (aby * cpy) + (abz * cpz), d6 = (acx * cpx) + (acy * cpy) + (acz * cpz);
            if (d6 >= 0 && d5 <= d6)
            {
                return Sq(cpx) + Sq(cpy) + Sq(cpz);
            }

            double vb = (d5 * d2) - (d1 * d6);
            if (vb <= 0 && d2 >= 0 && d6 <= 0)
            {
                double w = d2 / (d2 - d6);
                return Sq(apx - (w * acx)) + Sq(apy - (w * acy)) + Sq(apz - (w * acz));
            }

            double va = (d3 * d6) - (d5 * d4);
            if (va <= 0 && (d4 - d3) >= 0 && (d5 - d6) >= 0)
            {
                double w = (d4 - d3) / ((d4 - d3) + (d5 - d6));
                double bcx = _p[ic] - _p[ib], bcy = _p[ic + 1] - _p[ib + 1], bcz = _p[ic + 2] - _p[ib + 2];
                return Sq(bpx - (w * bcx)) + Sq(bpy - (w * bcy)) + Sq(bpz - (w * bcz));
            }

            double denom = 1 / (va + vb + vc);
            double vv = vb * denom, ww = vc * denom;
            return Sq(apx - (abx * vv) - (acx * ww)) + Sq(apy - (aby * vv) - (acy * ww)) + Sq(apz - (abz * vv) - (acz * ww));
        }

        private static int Clamp(int value, int size) => value < 0 ? 0 : value >= size ? size - 1 : value;
    }

    private static double Sq(double x) => x * x;
}
