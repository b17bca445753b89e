using System;
using System.Globalization;
using PrecomputedTools.Engine.Boss;

namespace PrecomputedTools;

/// <summary>A BOSS collection.</summary>
public sealed class BossCollection
{
    internal BossCollection(BossCollectionInfo info, string baseUri)
    {
        Name = info.Name;
        Description = info.Description;
        Public = info.Public;
        Experiments = (string[])info.Experiments.Clone();
        Creator = info.Creator;
        BaseUri = baseUri;
    }

    public string Name { get; }

    /// <summary>Same as Name; lets the object bind to -Collection down the pipeline.</summary>
    public string Collection => Name;

    public string Description { get; }

    public bool Public { get; }

    public string[] Experiments { get; }

    public string Creator { get; }

    /// <summary>The server (never a token).</summary>
    public string BaseUri { get; }

    public override string ToString() => Name;
}

/// <summary>A BOSS experiment.</summary>
public sealed class BossExperiment
{
    internal BossExperiment(BossExperimentInfo info, string baseUri)
    {
        Name = info.Name;
        Collection = info.Collection;
        Description = info.Description;
        Public = info.Public;
        Channels = (string[])info.Channels.Clone();
        CoordinateFrame = info.CoordinateFrame;
        HierarchyLevels = info.HierarchyLevels;
        HierarchyMethod = info.HierarchyMethod;
        TimeSamples = info.TimeSamples;
        Creator = info.Creator;
        BaseUri = baseUri;
    }

    public string Name { get; }

    /// <summary>Same as Name; lets the object bind to -Experiment down the pipeline.</summary>
    public string Experiment => Name;

    public string Collection { get; }

    public string Description { get; }

    public bool Public { get; }

    public string[] Channels { get; }

    public string CoordinateFrame { get; }

    public int HierarchyLevels { get; }

    /// <summary>anisotropic or isotropic.</summary>
    public string HierarchyMethod { get; }

    public int TimeSamples { get; }

    public string Creator { get; }

    public string BaseUri { get; }

    public override string ToString() => Collection + "/" + Name;
}

/// <summary>A BOSS channel.</summary>
public sealed class BossChannel
{
    internal BossChannel(BossChannelInfo info, string collection, string baseUri)
    {
        Name = info.Name;
        Collection = collection;
        Experiment = info.Experiment;
        Description = info.Description;
        Public = info.Public;
        Type = info.Type;
        DataType = info.Datatype;
        BaseResolution = info.BaseResolution;
        DefaultTimeSample = info.DefaultTimeSample;
        DownsampleStatus = info.DownsampleStatus;
        StorageType = info.StorageType;
        Bucket = info.Bucket;
        CloudVolumePath = info.CloudVolumePath;
        Sources = (string[])info.Sources.Clone();
        Related = (string[])info.Related.Clone();
        Creator = info.Creator;
        BaseUri = baseUri;
    }

    public string Name { get; }

    /// <summary>Same as Name; lets the object bind to -Channel down the pipeline.</summary>
    public string Channel => Name;

    public string Collection { get; }

    public string Experiment { get; }

    public string Description { get; }

    public bool Public { get; }

    /// <summary>image or annotation.</summary>
    public string Type { get; }

    /// <summary>uint8, uint16 or uint64.</summary>
    public string DataType { get; }

    public int BaseResolution { get; }

    public int DefaultTimeSample { get; }

    /// <summary>NOT_DOWNSAMPLED, QUEUED, IN_PROGRESS, DOWNSAMPLED or FAILED.</summary>
    public string DownsampleStatus { get; }

    /// <summary>spdb or cloudvol.</summary>
    public string StorageType { get; }

    public string Bucket { get; }

    public string CloudVolumePath { get; }

    public string[] Sources { get; }

    public string[] Related { get; }

    public string Creator { get; }

    public string BaseUri { get; }

    public override string ToString() => Collection + "/" + Experiment + "/" + Name;
}

/// <summary>A BOSS coordinate frame.</summary>
public sealed class BossCoordinateFrame
{
    internal BossCoordinateFrame(BossCoordinateFrameInfo info)
    {
        Name = info.Name;
        Description = info.Description;
        Start = new[] { info.XStart, info.YStart, info.ZStart };
        Stop = new[] { info.XStop, info.YStop, info.ZStop };
        VoxelSize = new[] { info.XVoxelSize, info.YVoxelSize, info.ZVoxelSize };
        VoxelUnit = info.VoxelUnit;
    }

    public string Name { get; }

    public string Description { get; }

    /// <summary>[x, y, z] start (inclusive).</summary>
    public int[] Start { get; }

    /// <summary>[x, y, z] stop (exclusive).</summary>
    public int[] Stop { get; }

    public double[] VoxelSize { get; }

    public string VoxelUnit { get; }

    public override string ToString() => Name;
}

/// <summary>One level of a channel's resolution hierarchy (/v1/downsample/).</summary>
public sealed class BossResolutionLevel
{
    internal BossResolutionLevel(string collection, string experiment, string channel, BossDownsampleInfo info, BossLevelInfo level)
    {
        Collection = collection;
        Experiment = experiment;
        Channel = channel;
        Status = info.Status;
        Isotropic = info.Isotropic;
        Level = level.Level;
        Extent = Array.ConvertAll(level.Extent, v => (long)v);
        VoxelSize = (double[])level.VoxelSize.Clone();
        CuboidSize = (int[])level.CuboidSize.Clone();
    }

    public string Collection { get; }

    public string Experiment { get; }

    public string Channel { get; }

    /// <summary>The channel's downsample status.</summary>
    public string Status { get; }

    /// <summary>True for the ?iso=true pyramid.</summary>
    public bool Isotropic { get; }

    public int Level { get; }

    /// <summary>[x, y, z] exclusive upper bound in this level's voxels.</summary>
    public long[] Extent { get; }

    /// <summary>[x, y, z] in the coordinate frame's unit.</summary>
    public double[] VoxelSize { get; }

    public int[] CuboidSize { get; }

    public override string ToString() => string.Format(CultureInfo.InvariantCulture, "{0} {1}x{2}x{3}", Level, Extent[0], Extent[1], Extent[2]);
}
