using System;

namespace PrecomputedTools.SampleGenerator;

/// <summary>
/// A deterministic synthetic label volume that looks like an atlas: an ellipsoidal "brain" on a
/// background of 0, cut into a few hundred smooth, adjacent regions (a warped Voronoi partition).
/// </summary>
public static class SampleVolume
{
    public const int SizeX = 320;
    public const int SizeY = 192;
    public const int SizeZ = 48;
    public const int SeedCount = 300;

    /// <summary>Voxel size in nanometres, as Z-Brain's.</summary>
    public static readonly double[] Resolution = { 800, 800, 2000 };

    /// <summary>Labels, x fastest, size [SizeX, SizeY, SizeZ]; values 0 (background) .. SeedCount.</summary>
    public static ushort[] Generate()
    {
        var random = new Random(20261124);
        var seeds = new (double X, double Y, double Z)[SeedCount];
        for (int i = 0; i < SeedCount; i++)
        {
            // Seeds inside the ellipsoid, so every label has voxels.
            double x, y, z;
            do
            {
                x = random.NextDouble() * 2 - 1;
                y = random.NextDouble() * 2 - 1;
                z = random.NextDouble() * 2 - 1;
            }
            while (x * x + y * y + z * z > 0.8);

            seeds[i] = (x, y, z);
        }

        var labels = new ushort[SizeX * SizeY * SizeZ];
        for (int vz = 0; vz < SizeZ; vz++)
        {
            for (int vy = 0; vy < SizeY; vy++)
            {
                for (int vx = 0; vx < SizeX; vx++)
                {
                    // Normalised coordinates in [-1, 1], in physical proportions.
                    double x = (vx + 0.5) / SizeX * 2 - 1;
                    double y = (vy + 0.5) / SizeY * 2 - 1;
                    double z = (vz + 0.5) / SizeZ * 2 - 1;
                    double r2 = x * x + y * y + z * z;
                    if (r2 > 0.92 + 0.06 * Math.Sin(5 * x) * Math.Cos(4 * y))
                    {
                        continue;
                    }

                    // A smooth warp makes region borders curved instead of flat Voronoi planes.
                    double wx = x + 0.08 * Math.Sin(3.1 * y + 1.3 * z);
                    double wy = y + 0.08 * Math.Sin(2.7 * z + 1.7 * x);
                    double wz = z + 0.08 * Math.Sin(2.3 * x + 1.1 * y);
                    int best = 0;
                    double bestDistance = double.MaxValue;
                    for (int i = 0; i < SeedCount; i++)
                    {
                        double dx = (wx - seeds[i].X) * SizeX;
                        double dy = (wy - seeds[i].Y) * SizeY;
                        double dz = (wz - seeds[i].Z) * SizeZ * 2.5;
                        double d = dx * dx + dy * dy + dz * dz;
                        if (d < bestDistance)
                        {
                            bestDistance = d;
                            best = i;
                        }
                    }

                    labels[vx + SizeX * (vy + SizeY * vz)] = (ushort)(best + 1);
                }
            }
        }

        return labels;
    }
}
