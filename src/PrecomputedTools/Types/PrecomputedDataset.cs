using System;
using System.Globalization;
using System.IO;
using System.Linq;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Precomputed;

namespace PrecomputedTools;

/// <summary>A precomputed dataset on disk: its folder and what its info file says.</summary>
public sealed class PrecomputedDataset
{
    internal PrecomputedDataset(string path, PrecomputedInfo info)
    {
        Info = info;
        Path = path;
        Name = System.IO.Path.GetFileName(path.TrimEnd(System.IO.Path.DirectorySeparatorChar, System.IO.Path.AltDirectorySeparatorChar));
        Type = info.Type;
        DataType = VoxelTypes.ToInfoName(info.DataType);
        MeshDirectory = info.Mesh;
        SegmentPropertiesDirectory = info.SegmentProperties;
        Scales = info.Scales.Select((s, i) => new PrecomputedScale(path, i, s)).ToArray();
    }

    /// <summary>Folder holding the info file.</summary>
    public string Path { get; }

    /// <summary>Folder name.</summary>
    public string Name { get; }

    /// <summary>segmentation or image.</summary>
    public string Type { get; }

    /// <summary>uint64, uint32, uint8, ...</summary>
    public string DataType { get; }

    /// <summary>Mesh folder relative to the dataset (the info's "mesh"), or null.</summary>
    public string? MeshDirectory { get; }

    /// <summary>Segment-properties folder (the info's "segment_properties"), or null.</summary>
    public string? SegmentPropertiesDirectory { get; }

    /// <summary>The scales, finest first.</summary>
    public PrecomputedScale[] Scales { get; }

    /// <summary>Size of scale 0 in voxels.</summary>
    public int[] Size => Scales[0].Size;

    /// <summary>Voxel size of scale 0 in nanometres.</summary>
    public double[] Resolution => Scales[0].Resolution;

    /// <summary>Encoding of scale 0.</summary>
    public string Encoding => Scales[0].Encoding;

    /// <summary>Path of the info file.</summary>
    public string InfoPath => System.IO.Path.Combine(Path, "info");

    internal PrecomputedInfo Info { get; }

    internal static PrecomputedDataset Load(string path)
    {
        var directory = new Engine.Storage.DatasetDirectory(path);
        return new PrecomputedDataset(directory.RootPath, directory.ReadInfo());
    }

    /// <summary>"zbrain 1406x621x138 uint64 compressed_segmentation, 3 scales".</summary>
    public override string ToString() => string.Format(
        CultureInfo.InvariantCulture,
        "{0} {1}x{2}x{3} {4} {5}, {6} scale{7}",
        Name,
        Size[0],
        Size[1],
        Size[2],
        DataType,
        Encoding,
        Scales.Length,
        Scales.Length == 1 ? "" : "s");
}

/// <summary>One scale of a precomputed dataset.</summary>
public sealed class PrecomputedScale
{
    internal PrecomputedScale(string datasetPath, int index, ScaleInfo scale)
    {
        DatasetPath = datasetPath;
        Index = index;
        Key = scale.Key;
        Size = scale.Size.ToArray();
        VoxelOffset = scale.VoxelOffset.ToArray();
        Resolution = (double[])scale.Resolution.Clone();
        ChunkSize = scale.ChunkSize.ToArray();
        Encoding = scale.Encoding;
        BlockSize = scale.BlockSize?.ToArray();
        ChunkCount = scale.ChunkSize.AllPositive ? scale.ChunkCount : 0;
    }

    /// <summary>Folder of the dataset this scale belongs to.</summary>
    public string DatasetPath { get; }

    /// <summary>0 for full resolution.</summary>
    public int Index { get; }

    /// <summary>Folder name of the scale inside the dataset.</summary>
    public string Key { get; }

    public int[] Size { get; }

    public int[] VoxelOffset { get; }

    /// <summary>Nanometres per voxel.</summary>
    public double[] Resolution { get; }

    public int[] ChunkSize { get; }

    public string Encoding { get; }

    /// <summary>compressed_segmentation block size, or null.</summary>
    public int[]? BlockSize { get; }

    /// <summary>Number of chunk files in a complete scale.</summary>
    public long ChunkCount { get; }

    public override string ToString() => string.Format(CultureInfo.InvariantCulture, "{0} {1}x{2}x{3} @ {4} nm", Key, Size[0], Size[1], Size[2], string.Join("x", Resolution.Select(r => r.ToString(CultureInfo.InvariantCulture))));
}
