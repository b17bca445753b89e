using System;
using System.Buffers;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Volumes;

namespace PrecomputedTools.Synthetic;

/// <summary>
/// The uint8 electron-microscopy-like image under a <see cref="SyntheticEmVolume"/> segmentation:
/// dark membranes (label 0), cytoplasm whose brightness differs per cell, a smooth granular texture
/// inside cells (value noise on an 8-voxel lattice, trilinear), and per-voxel noise. Everything is a
/// pure function of the voxel position and the seed, so any region streams in bounded memory and
/// tests can recompute any voxel with <see cref="IntensityAt"/>.
/// </summary>
public sealed class SyntheticEmImage : VolumeDescriptor
{
    private const int Lattice = 8;
    private readonly SyntheticEmVolume _labels;
    private readonly ulong _seed;

    public SyntheticEmImage(SyntheticEmVolume labels, ulong seed = 20261204)
    {
        _labels = labels;
        _seed = seed;
    }

    /// <summary>The segmentation the image shows.</summary>
    public SyntheticEmVolume Labels => _labels;

    public override Int3 Size => _labels.Size;

    public override VoxelType DataType => VoxelType.UInt8;

    public override double[]? Resolution => _labels.Resolution;

    public override string SourceKind => "Synthetic";

    public override string Source => $"synthetic-em-image {Size.X}x{Size.Y}x{Size.Z}";

    public override IVolumeReader OpenReader() => new Reader(this);

    /// <summary>The intensity of one voxel (the definition; <see cref="Fill"/> computes the same).</summary>
    public byte IntensityAt(int x, int y, int z) => Intensity(_labels.LabelAt(x, y, z), x, y, z);

    /// <summary>Writes the intensities of <paramref name="region"/>, x fastest.</summary>
    public void Fill(Box3 region, Span<byte> destination)
    {
        int count = checked((int)region.VoxelCount);
        ulong[] labels = ArrayPool<ulong>.Shared.Rent(Math.Max(1, count));
        try
        {
            _labels.Fill(region, labels.AsSpan(0, count));
            int i = 0;
            for (int z = region.Begin.Z; z < region.End.Z; z++)
            {
                for (int y = region.Begin.Y; y < region.End.Y; y++)
                {
                    for (int x = region.Begin.X; x < region.End.X; x++, i++)
                    {
                        destination[i] = Intensity(labels[i], x, y, z);
                    }
                }
            }
        }
        finally
        {
            ArrayPool<ulong>.Shared.Return(labels);
        }
    }

    private byte Intensity(ulong label, int x, int y, int z)
    {
        double noise = (Unit(Hash(_seed, (ulong)x, (ulong)y, (ulong)z)) - 0.5) * 24;
        double value;
        if (label == 0)
        {
            value = 45 + noise;
        }
        else
        {
            double cell = 150 + (Unit(Hash(_seed ^ 0x9E3779B97F4A7C15UL, label, 0, 0)) * 60);
            value = cell + ((Texture(x, y, z) - 0.5) * 50) + noise;
        }

        return (byte)Math.Max(0, Math.Min(255, Math.Round(value)));
    }

    // Trilinear value noise: smooth blobs a few voxels across, like organelles and granules.
    private double Texture(int x, int y, int z)
    {
        int gx = x / Lattice, gy = y / Lattice, gz = z / Lattice;
        double fx = (x % Lattice) / (double)Lattice, fy = (y % Lattice) / (double)Lattice, fz = (z % Lattice) / (double)Lattice;
        double result = 0;
        for (int dz = 0; dz < 2; dz++)
        {
            for (int dy = 0; dy < 2; dy++)
            {
                for (int dx = 0; dx < 2; dx++)
                {
                    double w = (dx == 0 ? 1 - fx : fx) * (dy == 0 ? 1 - fy : fy) * (dz == 0 ? 1 - fz : fz);
                    result += w * Unit(Hash(_seed ^ 0xC2B2AE3D27D4EB4FUL, (ulong)(gx + dx), (ulong)(gy + dy), (ulong)(gz + dz)));
                }
            }
        }

        return result;
    }

    private static double Unit(ulong h) => (h >> 11) * (1.0 / (1UL << 53));

    private static ulong Hash(ulong seed, ulong a, ulong b, ulong c)
    {
        ulong h = seed;
        h = Mix(h ^ a);
        h = Mix(h ^ (b * 0x9E3779B97F4A7C15UL));
        h = Mix(h ^ (c * 0xBF58476D1CE4E5B9UL));
        return h;
    }

    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private sealed class Reader : IVolumeReader
    {
        private readonly SyntheticEmImage _image;

        public Reader(SyntheticEmImage image) => _image = image;

        public Int3 Size => _image.Size;

        public VoxelType DataType => VoxelType.UInt8;

        public Int3 ReadGranularity => new(_image.Size.X, _image.Size.Y, 1);

        public Task ReadAsync(Box3 region, Memory<byte> destination, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            _image.Fill(region, destination.Span);
            return Task.CompletedTask;
        }

        public void Dispose()
        {
        }
    }
}
