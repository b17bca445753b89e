using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text.Json;

namespace PrecomputedTools.Engine.Boss;

/// <summary>application/blosc (default) or application/npygz.</summary>
public enum BossTransferFormat
{
    Blosc,
    Npygz,
}

public sealed class BossCollectionInfo
{
    public string Name { get; internal set; } = "";

    public string Description { get; internal set; } = "";

    public bool Public { get; internal set; }

    public string[] Experiments { get; internal set; } = Array.Empty<string>();

    public string Creator { get; internal set; } = "";

    internal static BossCollectionInfo Parse(JsonElement e) => new()
    {
        Name = Str(e, "name"),
        Description = Str(e, "description"),
        Public = Bool(e, "public"),
        Experiments = Strings(e, "experiments"),
        Creator = Str(e, "creator"),
    };

    internal static string Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() ?? "" :
        e.TryGetProperty(name, out v) && v.ValueKind == JsonValueKind.Number ? v.GetRawText() : "";

    internal static bool Bool(JsonElement e, string name) => e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.True;

    internal static int Int(JsonElement e, string name) =>
        e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i : 0;

    internal static double Dbl(JsonElement e, string name) =>
        e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : 0;

    internal static string[] Strings(JsonElement e, string name)
    {
        if (!e.TryGetProperty(name, out JsonElement v) || v.ValueKind != JsonValueKind.Array)
        {
            return Array.Empty<string>();
        }

        var list = new List<string>();
        foreach (JsonElement item in v.EnumerateArray())
        {
            list.Add(item.ValueKind == JsonValueKind.String ? item.GetString() ?? "" : item.GetRawText());
        }

        return list.ToArray();
    }
}

public sealed class BossExperimentInfo
{
    public string Name { get; internal set; } = "";

    public string Collection { get; internal set; } = "";

    public string Description { get; internal set; } = "";

    public bool Public { get; internal set; }

    public string[] Channels { get; internal set; } = Array.Empty<string>();

    public string CoordinateFrame { get; internal set; } = "";

    public int HierarchyLevels { get; internal set; }

    public string HierarchyMethod { get; internal set; } = "";

    public int TimeSamples { get; internal set; }

    public string Creator { get; internal set; } = "";

    internal static BossExperimentInfo Parse(JsonElement e) => new()
    {
        Name = BossCollectionInfo.Str(e, "name"),
        Collection = BossCollectionInfo.Str(e, "collection"),
        Description = BossCollectionInfo.Str(e, "description"),
        Public = BossCollectionInfo.Bool(e, "public"),
        Channels = BossCollectionInfo.Strings(e, "channels"),
        CoordinateFrame = BossCollectionInfo.Str(e, "coord_frame"),
        HierarchyLevels = BossCollectionInfo.Int(e, "num_hierarchy_levels"),
        HierarchyMethod = BossCollectionInfo.Str(e, "hierarchy_method"),
        TimeSamples = Math.Max(1, BossCollectionInfo.Int(e, "num_time_samples")),
        Creator = BossCollectionInfo.Str(e, "creator"),
    };
}

public sealed class BossChannelInfo
{
    public string Name { get; internal set; } = "";

    public string Experiment { get; internal set; } = "";

    public string Description { get; internal set; } = "";

    public bool Public { get; internal set; }

    /// <summary>"image" or "annotation".</summary>
    public string Type { get; internal set; } = "";

    /// <summary>"uint8", "uint16", "uint64" (or "uint32", which cutouts reject).</summary>
    public string Datatype { get; internal set; } = "";

    public int BaseResolution { get; internal set; }

    public int DefaultTimeSample { get; internal set; }

    public string DownsampleStatus { get; internal set; } = "";

    /// <summary>"spdb" or "cloudvol".</summary>
    public string StorageType { get; internal set; } = "";

    public string Bucket { get; internal set; } = "";

    public string CloudVolumePath { get; internal set; } = "";

    public string[] Sources { get; internal set; } = Array.Empty<string>();

    public string[] Related { get; internal set; } = Array.Empty<string>();

    public string Creator { get; internal set; } = "";

    internal static BossChannelInfo Parse(JsonElement e) => new()
    {
        Name = BossCollectionInfo.Str(e, "name"),
        Experiment = BossCollectionInfo.Str(e, "experiment"),
        Description = BossCollectionInfo.Str(e, "description"),
        Public = BossCollectionInfo.Bool(e, "public"),
        Type = BossCollectionInfo.Str(e, "type"),
        Datatype = BossCollectionInfo.Str(e, "datatype"),
        BaseResolution = BossCollectionInfo.Int(e, "base_resolution"),
        DefaultTimeSample = BossCollectionInfo.Int(e, "default_time_sample"),
        DownsampleStatus = BossCollectionInfo.Str(e, "downsample_status"),
        StorageType = BossCollectionInfo.Str(e, "storage_type"),
        Bucket = BossCollectionInfo.Str(e, "bucket"),
        CloudVolumePath = BossCollectionInfo.Str(e, "cv_path"),
        Sources = BossCollectionInfo.Strings(e, "sources"),
        Related = BossCollectionInfo.Strings(e, "related"),
        Creator = BossCollectionInfo.Str(e, "creator"),
    };
}

public sealed class BossCoordinateFrameInfo
{
    public string Name { get; internal set; } = "";

    public string Description { get; internal set; } = "";

    public int XStart { get; internal set; }

    public int XStop { get; internal set; }

    public int YStart { get; internal set; }

    public int YStop { get; internal set; }

    public int ZStart { get; internal set; }

    public int ZStop { get; internal set; }

    public double XVoxelSize { get; internal set; }

    public double YVoxelSize { get; internal set; }

    public double ZVoxelSize { get; internal set; }

    public string VoxelUnit { get; internal set; } = "";

    /// <summary>Nanometres per voxel-size unit.</summary>
    public double UnitToNanometres => VoxelUnit switch
    {
        "micrometers" => 1e3,
        "millimeters" => 1e6,
        "centimeters" => 1e7,
        _ => 1,
    };

    internal static BossCoordinateFrameInfo Parse(JsonElement e) => new()
    {
        Name = BossCollectionInfo.Str(e, "name"),
        Description = BossCollectionInfo.Str(e, "description"),
        XStart = BossCollectionInfo.Int(e, "x_start"),
        XStop = BossCollectionInfo.Int(e, "x_stop"),
        YStart = BossCollectionInfo.Int(e, "y_start"),
        YStop = BossCollectionInfo.Int(e, "y_stop"),
        ZStart = BossCollectionInfo.Int(e, "z_start"),
        ZStop = BossCollectionInfo.Int(e, "z_stop"),
        XVoxelSize = BossCollectionInfo.Dbl(e, "x_voxel_size"),
        YVoxelSize = BossCollectionInfo.Dbl(e, "y_voxel_size"),
        ZVoxelSize = BossCollectionInfo.Dbl(e, "z_voxel_size"),
        VoxelUnit = BossCollectionInfo.Str(e, "voxel_unit"),
    };
}

/// <summary>One level of the /v1/downsample/ answer.</summary>
public sealed class BossLevelInfo
{
    public int Level { get; internal set; }

    /// <summary>Exclusive upper bound [x, y, z] in the level's voxels.</summary>
    public long[] Extent { get; internal set; } = Array.Empty<long>();

    /// <summary>Voxel size [x, y, z] in the frame's unit.</summary>
    public double[] VoxelSize { get; internal set; } = Array.Empty<double>();

    public int[] CuboidSize { get; internal set; } = Array.Empty<int>();
}

public sealed class BossDownsampleInfo
{
    public string Status { get; internal set; } = "";

    public int HierarchyLevels { get; internal set; }

    public bool Isotropic { get; internal set; }

    public BossLevelInfo[] Levels { get; internal set; } = Array.Empty<BossLevelInfo>();

    internal static BossDownsampleInfo Parse(JsonElement e, bool iso)
    {
        var levels = new List<BossLevelInfo>();
        if (e.TryGetProperty("extent", out JsonElement extent) && extent.ValueKind == JsonValueKind.Object)
        {
            foreach (JsonProperty level in extent.EnumerateObject())
            {
                if (!int.TryParse(level.Name, NumberStyles.None, CultureInfo.InvariantCulture, out int r))
                {
                    continue;
                }

                var info = new BossLevelInfo { Level = r, Extent = Longs(level.Value) };
                if (e.TryGetProperty("voxel_size", out JsonElement vs) && vs.TryGetProperty(level.Name, out JsonElement v))
                {
                    info.VoxelSize = Doubles(v);
                }

                if (e.TryGetProperty("cuboid_size", out JsonElement cs) && cs.TryGetProperty(level.Name, out JsonElement c))
                {
                    long[] cube = Longs(c);
                    info.CuboidSize = Array.ConvertAll(cube, x => (int)x);
                }

                levels.Add(info);
            }
        }

        levels.Sort((a, b) => a.Level.CompareTo(b.Level));
        return new BossDownsampleInfo
        {
            Status = BossCollectionInfo.Str(e, "status"),
            HierarchyLevels = BossCollectionInfo.Int(e, "num_hierarchy_levels"),
            Isotropic = iso,
            Levels = levels.ToArray(),
        };
    }

    private static long[] Longs(JsonElement e)
    {
        var list = new List<long>();
        foreach (JsonElement item in e.EnumerateArray())
        {
            list.Add((long)Math.Round(item.GetDouble()));
        }

        return list.ToArray();
    }

    private static double[] Doubles(JsonElement e)
    {
        var list = new List<double>();
        foreach (JsonElement item in e.EnumerateArray())
        {
            list.Add(item.GetDouble());
        }

        return list.ToArray();
    }
}
