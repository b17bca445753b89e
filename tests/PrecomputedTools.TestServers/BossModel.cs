using System;
using System.Collections.Generic;
using System.Linq;

namespace PrecomputedTools.TestServers;

/// <summary>A coordinate frame of the loopback BOSS.</summary>
public sealed record BossTestFrame(string Name, int XStart, int XStop, int YStart, int YStop, int ZStart, int ZStop, double XVoxel, double YVoxel, double ZVoxel, string Unit = "nanometers");

/// <summary>An experiment of the loopback BOSS.</summary>
public sealed class BossTestExperiment
{
    public BossTestExperiment(string collection, string name, BossTestFrame frame, int levels, string method, int timeSamples = 1, bool isPublic = true)
    {
        Collection = collection;
        Name = name;
        Frame = frame;
        Levels = levels;
        Method = method;
        TimeSamples = timeSamples;
        Public = isPublic;
    }

    public string Collection { get; }

    public string Name { get; }

    public BossTestFrame Frame { get; }

    public int Levels { get; }

    /// <summary>"anisotropic" or "isotropic".</summary>
    public string Method { get; }

    public int TimeSamples { get; }

    public bool Public { get; }

    public List<BossTestChannel> Channels { get; } = new();

    /// <summary>The server's iso_level rule: the level r in [0, 30) that minimises |z_voxel / (x_voxel · 2^r) − 1|.</summary>
    public int IsoLevel
    {
        get
        {
            int best = 0;
            double bestScore = double.MaxValue;
            for (int r = 0; r < 30; r++)
            {
                double score = Math.Abs(Frame.ZVoxel / (Frame.XVoxel * Math.Pow(2, r)) - 1);
                if (score < bestScore)
                {
                    bestScore = score;
                    best = r;
                }
            }

            return best;
        }
    }

    /// <summary>Per-level extents and voxel sizes with the server's rule (BOSS API docs, downsample service).</summary>
    public (long[] Extent, double[] Voxel)[] Downsample(bool iso)
    {
        var result = new (long[], double[])[Levels];
        long[] extent = { Frame.XStop, Frame.YStop, Frame.ZStop };
        double[] voxel = { Frame.XVoxel, Frame.YVoxel, Frame.ZVoxel };
        for (int r = 0; r < Levels; r++)
        {
            if (r > 0)
            {
                extent[0] = (extent[0] + 1) / 2;
                extent[1] = (extent[1] + 1) / 2;
                voxel[0] *= 2;
                voxel[1] *= 2;
                bool halveZ = Method == "isotropic" || (iso && r > IsoLevel);
                if (halveZ)
                {
                    extent[2] = (extent[2] + 1) / 2;
                    voxel[2] *= 2;
                }
            }

            result[r] = ((long[])extent.Clone(), (double[])voxel.Clone());
        }

        return result;
    }
}

/// <summary>
/// A channel whose voxels are a function of (level, t, z, y, x), so any box can be produced and
/// checked without storing volumes.
/// </summary>
public sealed class BossTestChannel
{
    public BossTestChannel(BossTestExperiment experiment, string name, string datatype, string type, Func<int, int, int, int, int, ulong> value)
    {
        Experiment = experiment;
        Name = name;
        Datatype = datatype;
        Type = type;
        Value = value;
    }

    public BossTestExperiment Experiment { get; }

    public string Name { get; }

    public string Datatype { get; }

    /// <summary>"image" or "annotation".</summary>
    public string Type { get; }

    public Func<int, int, int, int, int, ulong> Value { get; }

    public int BaseResolution { get; init; }

    public bool Public { get; init; } = true;

    public string DownsampleStatus { get; init; } = "DOWNSAMPLED";

    public string StorageType { get; init; } = "spdb";

    public int DefaultTimeSample { get; init; }

    public int BitDepth => Datatype switch { "uint8" => 8, "uint16" => 16, "uint32" => 32, _ => 64 };

    public int ElementBytes => BitDepth / 8;

    /// <summary>Fills the C-order [t][z][y][x] little-endian array of a box.</summary>
    public byte[] Render(int level, int t0, int t1, int x0, int x1, int y0, int y1, int z0, int z1)
    {
        int nx = x1 - x0, ny = y1 - y0, nz = z1 - z0, nt = t1 - t0;
        int eb = ElementBytes;
        byte[] data = new byte[checked((long)nx * ny * nz * nt * eb)];
        long o = 0;
        Span<byte> bytes = data;
        Span<ushort> u16 = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(bytes);
        Span<uint> u32 = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, uint>(bytes);
        Span<ulong> u64 = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(bytes);
        Func<int, int, int, int, int, ulong> value = Value;
        for (int t = t0; t < t1; t++)
        {
            for (int z = z0; z < z1; z++)
            {
                for (int y = y0; y < y1; y++)
                {
                    switch (eb)
                    {
                        case 1:
                            for (int x = x0; x < x1; x++)
                            {
                                bytes[(int)o++] = (byte)value(level, t, z, y, x);
                            }

                            break;
                        case 2:
                            for (int x = x0; x < x1; x++)
                            {
                                u16[(int)o++] = (ushort)value(level, t, z, y, x);
                            }

                            break;
                        case 4:
                            for (int x = x0; x < x1; x++)
                            {
                                u32[(int)o++] = (uint)value(level, t, z, y, x);
                            }

                            break;
                        default:
                            for (int x = x0; x < x1; x++)
                            {
                                u64[(int)o++] = value(level, t, z, y, x);
                            }

                            break;
                    }
                }
            }
        }

        return data;
    }
}

/// <summary>The synthetic collections, experiments and channels the BOSS stand-in serves.</summary>
public sealed class BossTestCatalog
{
    public Dictionary<string, BossTestFrame> Frames { get; } = new();

    public List<BossTestExperiment> Experiments { get; } = new();

    /// <summary>Collection name -> public.</summary>
    public Dictionary<string, bool> Collections { get; } = new();

    public BossTestExperiment? FindExperiment(string collection, string experiment) =>
        Experiments.FirstOrDefault(e => e.Collection == collection && e.Name == experiment);

    public BossTestChannel? FindChannel(string collection, string experiment, string channel) =>
        FindExperiment(collection, experiment)?.Channels.FirstOrDefault(c => c.Name == channel);

    /// <summary>Label id used by the "seg" channels: piecewise constant, above 2^32, 0 in a never-written corner.</summary>
    public static ulong Label(int level, int t, int z, int y, int x)
    {
        if (x + y < 40)
        {
            return 0;
        }

        return (1UL << 33) + (ulong)((x >> 5) + 101 * (y >> 5) + 10007 * (z >> 3) + 7 * level + 3 * t);
    }

    public static ulong Image(int level, int t, int z, int y, int x) =>
        (ulong)((x * 7 + y * 13 + z * 29 + level * 3 + t * 11) ^ ((x >> 4) * (y >> 4)));

    public static BossTestCatalog CreateDefault()
    {
        var catalog = new BossTestCatalog();
        var zbrain = new BossTestFrame("zbrain_frame", 0, 1406, 0, 621, 0, 138, 798, 798, 2000);
        var small = new BossTestFrame("small_frame", 0, 700, 0, 600, 0, 40, 4, 4, 40);
        var offset = new BossTestFrame("offset_frame", 100, 612, 0, 300, 0, 20, 8, 8, 8);
        var big = new BossTestFrame("big_frame", 0, 2048, 0, 2048, 0, 32, 8, 8, 8);
        foreach (BossTestFrame f in new[] { zbrain, small, offset, big })
        {
            catalog.Frames[f.Name] = f;
        }

        catalog.Collections["lab"] = true;
        catalog.Collections["private_lab"] = false;

        var zb = new BossTestExperiment("lab", "zbrain", zbrain, 4, "anisotropic");
        zb.Channels.Add(new BossTestChannel(zb, "masks", "uint64", "annotation", Label));
        zb.Channels.Add(new BossTestChannel(zb, "em", "uint8", "image", Image));
        catalog.Experiments.Add(zb);

        var sm = new BossTestExperiment("lab", "small", small, 3, "anisotropic", timeSamples: 3);
        sm.Channels.Add(new BossTestChannel(sm, "seg", "uint64", "annotation", Label));
        sm.Channels.Add(new BossTestChannel(sm, "em", "uint8", "image", Image));
        sm.Channels.Add(new BossTestChannel(sm, "img16", "uint16", "image", (l, t, z, y, x) => Image(l, t, z, y, x) * 257 + (ulong)x));
        sm.Channels.Add(new BossTestChannel(sm, "sparse", "uint64", "annotation", (l, t, z, y, x) => x < 300 || z < 20 ? 0 : Label(l, t, z, y, x)));
        sm.Channels.Add(new BossTestChannel(sm, "u32", "uint32", "annotation", Label));
        sm.Channels.Add(new BossTestChannel(sm, "raw_only", "uint8", "image", Image) { DownsampleStatus = "NOT_DOWNSAMPLED" });
        sm.Channels.Add(new BossTestChannel(sm, "baseres", "uint8", "image", Image) { BaseResolution = 1 });
        sm.Channels.Add(new BossTestChannel(sm, "cloud", "uint8", "image", Image) { StorageType = "cloudvol" });
        sm.Channels.Add(new BossTestChannel(sm, "hidden", "uint8", "image", Image) { Public = false });
        catalog.Experiments.Add(sm);

        var off = new BossTestExperiment("lab", "offset", offset, 2, "isotropic");
        off.Channels.Add(new BossTestChannel(off, "seg", "uint64", "annotation", Label));
        catalog.Experiments.Add(off);

        var bg = new BossTestExperiment("lab", "big", big, 1, "isotropic");
        bg.Channels.Add(new BossTestChannel(bg, "seg", "uint64", "annotation", (l, t, z, y, x) => (1UL << 40) + (ulong)((x >> 6) + 37 * (y >> 6) + 1009 * (z >> 2))));
        catalog.Experiments.Add(bg);

        var priv = new BossTestExperiment("private_lab", "secret", small, 1, "isotropic", isPublic: false);
        priv.Channels.Add(new BossTestChannel(priv, "seg", "uint64", "annotation", Label) { Public = false });
        catalog.Experiments.Add(priv);
        return catalog;
    }
}
