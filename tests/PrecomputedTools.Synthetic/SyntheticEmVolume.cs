using System;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Volumes;

namespace PrecomputedTools.Synthetic;

/// <summary>
/// A deterministic, EM-like uint64 segmentation made on demand: cells are the Voronoi regions of one
/// jittered seed per grid cell (cells of <see cref="CellXY"/>×<see cref="CellXY"/>×<see cref="CellZ"/>
/// voxels, anisotropic like serial-section EM), separated by membranes of label 0, each cell with a
/// scattered 64-bit id. Only the seeds are held (one per cell), never the volume, so any size streams
/// in bounded memory. The default <see cref="Gigavoxel"/> is 2048×2048×256 with about 29 thousand cells.
/// </summary>
/// <remarks>
/// The label of a voxel is defined as the nearest seed among the 27 grid cells around the voxel's own
/// cell, distances measured in physical units (z scaled by CellXY/CellZ); a voxel is membrane (0) when
/// the squared distances to its nearest and second-nearest seeds differ by less than
/// 2·CellXY·<see cref="MembraneHalfWidth"/>, i.e. when it lies within about that many voxels of the
/// bisecting plane. <see cref="LabelAt"/> is that definition written plainly; reads use a faster but
/// equal evaluation (tests compare them).
/// </remarks>
public sealed class SyntheticEmVolume : VolumeDescriptor
{
    private const double Jitter = 0.5;
    private readonly Int3 _size;
    private readonly int _cellsX;
    private readonly int _cellsY;
    private readonly int _cellsZ;
    private readonly double _zScale;
    private readonly double _membraneThreshold;
    private readonly double[] _seedX;
    private readonly double[] _seedY;
    private readonly double[] _seedZ;
    private readonly ulong[] _ids;

    public SyntheticEmVolume(Int3 size, int cellXY = 48, int cellZ = 16, double membraneHalfWidth = 1.0, ulong seed = 20261203)
    {
        if (size.X <= 0 || size.Y <= 0 || size.Z <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size), "Every dimension must be positive.");
        }

        if (cellXY < 2 || cellZ < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(cellXY), "Cells must be at least 2x2x1 voxels.");
        }

        _size = size;
        CellXY = cellXY;
        CellZ = cellZ;
        MembraneHalfWidth = membraneHalfWidth;
        _zScale = (double)cellXY / cellZ;
        _membraneThreshold = 2.0 * cellXY * membraneHalfWidth;
        _cellsX = (size.X + cellXY - 1) / cellXY;
        _cellsY = (size.Y + cellXY - 1) / cellXY;
        _cellsZ = (size.Z + cellZ - 1) / cellZ;
        int count = checked(_cellsX * _cellsY * _cellsZ);
        _seedX = new double[count];
        _seedY = new double[count];
        _seedZ = new double[count];
        _ids = new ulong[count];
        for (int gz = 0; gz < _cellsZ; gz++)
        {
            for (int gy = 0; gy < _cellsY; gy++)
            {
                for (int gx = 0; gx < _cellsX; gx++)
                {
                    int i = gx + _cellsX * (gy + _cellsY * gz);
                    ulong h = Mix(seed ^ ((ulong)i * 0x9E3779B97F4A7C15UL));
                    // Jitter in [-Jitter/2, Jitter/2) of a cell, from three 21-bit fields of the hash.
                    _seedX[i] = (gx + 0.5 + Jitter * (Unit(h, 0) - 0.5)) * cellXY;
                    _seedY[i] = (gy + 0.5 + Jitter * (Unit(h, 21) - 0.5)) * cellXY;
                    _seedZ[i] = (gz + 0.5 + Jitter * (Unit(h, 42) - 0.5)) * cellZ * _zScale;
                    // A bijective mix of distinct inputs: ids are distinct, scattered over 64 bits.
                    ulong id = Mix((ulong)i + 1 + (seed << 32));
                    _ids[i] = id == 0 ? (ulong)i + 1 : id;
                }
            }
        }
    }

    /// <summary>The 1-Gvoxel benchmark volume: 2048×2048×256, cells of 48×48×16, ≈29k cells.</summary>
    public static SyntheticEmVolume Gigavoxel(int depth = 256) => new(new Int3(2048, 2048, depth));

    public int CellXY { get; }

    public int CellZ { get; }

    public double MembraneHalfWidth { get; }

    /// <summary>Number of cells (seeds); every one has voxels unless its seed falls in a clipped edge.</summary>
    public int CellCount => _ids.Length;

    public override Int3 Size => _size;

    public override VoxelType DataType => VoxelType.UInt64;

    /// <summary>Voxel size in nanometres, anisotropic in proportion to the cells.</summary>
    public override double[]? Resolution => new[] { 8.0, 8.0, 8.0 * _zScale };

    public override string SourceKind => "Synthetic";

    public override string Source => $"synthetic-em {_size.X}x{_size.Y}x{_size.Z}";

    public override IVolumeReader OpenReader() => new Reader(this);

    /// <summary>The label of one voxel, by the definition in the remarks (the reference for tests).</summary>
    public ulong LabelAt(int x, int y, int z)
    {
        double best = double.MaxValue, second = double.MaxValue;
        int bestIndex = -1;
        double py = y + 0.5, pz = (z + 0.5) * _zScale, px = x + 0.5;
        int gx = x / CellXY, gy = y / CellXY, gz = z / CellZ;
        for (int cz = Math.Max(0, gz - 1); cz <= Math.Min(_cellsZ - 1, gz + 1); cz++)
        {
            for (int cy = Math.Max(0, gy - 1); cy <= Math.Min(_cellsY - 1, gy + 1); cy++)
            {
                for (int cx = Math.Max(0, gx - 1); cx <= Math.Min(_cellsX - 1, gx + 1); cx++)
                {
                    int i = cx + _cellsX * (cy + _cellsY * cz);
                    double d = Square(px - _seedX[i]) + (Square(py - _seedY[i]) + Square(pz - _seedZ[i]));
                    Consider(d, i, ref best, ref second, ref bestIndex);
                }
            }
        }

        return second - best < _membraneThreshold ? 0UL : _ids[bestIndex];
    }

    /// <summary>Writes the labels of <paramref name="region"/>, x fastest, into <paramref name="destination"/>.</summary>
    public void Fill(Box3 region, Span<ulong> destination)
    {
        Int3 s = region.Size;
        if (region.Begin.X < 0 || region.Begin.Y < 0 || region.Begin.Z < 0 || region.End.X > _size.X || region.End.Y > _size.Y || region.End.Z > _size.Z)
        {
            throw new ArgumentOutOfRangeException(nameof(region), "The region is outside the volume.");
        }

        if (destination.Length < (long)s.X * s.Y * s.Z)
        {
            throw new ArgumentException("The destination is smaller than the region.", nameof(destination));
        }

        // Up to 27 candidates per x-segment of one row: x, the row-constant y/z part, and the id index.
        Span<double> candX = stackalloc double[27];
        Span<double> candC = stackalloc double[27];
        Span<int> candI = stackalloc int[27];
        Span<double> upper = stackalloc double[27];
        int offset = 0;
        for (int z = region.Begin.Z; z < region.End.Z; z++)
        {
            int gz = z / CellZ;
            double pz = (z + 0.5) * _zScale;
            for (int y = region.Begin.Y; y < region.End.Y; y++)
            {
                int gy = y / CellXY;
                double py = y + 0.5;
                int x = region.Begin.X;
                while (x < region.End.X)
                {
                    int gx = x / CellXY;
                    int segmentEnd = Math.Min(region.End.X, (gx + 1) * CellXY);
                    int n = 0;
                    for (int cz = Math.Max(0, gz - 1); cz <= Math.Min(_cellsZ - 1, gz + 1); cz++)
                    {
                        for (int cy = Math.Max(0, gy - 1); cy <= Math.Min(_cellsY - 1, gy + 1); cy++)
                        {
                            for (int cx = Math.Max(0, gx - 1); cx <= Math.Min(_cellsX - 1, gx + 1); cx++)
                            {
                                int i = cx + _cellsX * (cy + _cellsY * cz);
                                candX[n] = _seedX[i];
                                candC[n] = Square(py - _seedY[i]) + Square(pz - _seedZ[i]);
                                candI[n] = i;
                                n++;
                            }
                        }
                    }

                    // Keep only candidates that can be nearest or second-nearest somewhere in the
                    // segment: at every x two candidates are at most the second-smallest upper bound,
                    // so one whose lower bound exceeds it is never first or second (order is kept,
                    // so ties resolve as in LabelAt).
                    double x0 = x + 0.5, x1 = segmentEnd - 0.5;
                    double u1 = double.MaxValue, u2 = double.MaxValue;
                    for (int k = 0; k < n; k++)
                    {
                        double u = Math.Max(Square(x0 - candX[k]), Square(x1 - candX[k])) + candC[k];
                        upper[k] = u;
                        if (u < u1)
                        {
                            u2 = u1;
                            u1 = u;
                        }
                        else if (u < u2)
                        {
                            u2 = u;
                        }
                    }

                    int kept = 0;
                    for (int k = 0; k < n; k++)
                    {
                        double nearestX = Math.Clamp(candX[k], x0, x1);
                        double lower = Square(nearestX - candX[k]) + candC[k];
                        if (lower <= u2)
                        {
                            candX[kept] = candX[k];
                            candC[kept] = candC[k];
                            candI[kept] = candI[k];
                            kept++;
                        }
                    }

                    for (; x < segmentEnd; x++)
                    {
                        double px = x + 0.5;
                        double best = double.MaxValue, second = double.MaxValue;
                        int bestIndex = -1;
                        for (int k = 0; k < kept; k++)
                        {
                            double d = Square(px - candX[k]) + candC[k];
                            Consider(d, candI[k], ref best, ref second, ref bestIndex);
                        }

                        destination[offset++] = second - best < _membraneThreshold ? 0UL : _ids[bestIndex];
                    }
                }
            }
        }
    }

    private static void Consider(double d, int index, ref double best, ref double second, ref int bestIndex)
    {
        if (d < best)
        {
            second = best;
            best = d;
            bestIndex = index;
        }
        else if (d < second)
        {
            second = d;
        }
    }

    private static double Square(double v) => v * v;

    private static double Unit(ulong h, int shift) => ((h >> shift) & 0x1FFFFF) / (double)(1 << 21);

    /// <summary>SplitMix64's finaliser: a bijection on 64-bit values.</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private sealed class Reader : IVolumeReader
    {
        private readonly SyntheticEmVolume _volume;

        public Reader(SyntheticEmVolume volume) => _volume = volume;

        public Int3 Size => _volume.Size;

        public VoxelType DataType => VoxelType.UInt64;

        public Int3 ReadGranularity => new(_volume.Size.X, _volume.Size.Y, 1);

        public Task ReadAsync(Box3 region, Memory<byte> destination, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            _volume.Fill(region, MemoryMarshal.Cast<byte, ulong>(destination.Span));
            return Task.CompletedTask;
        }

        public void Dispose()
        {
        }
    }
}
