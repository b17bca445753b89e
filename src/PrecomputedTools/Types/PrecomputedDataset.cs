using System;
using System.Globalization;
using System.IO;
using System.Linq;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Storage;

namespace PrecomputedTools;

/// <summary>
/// A precomputed dataset in a folder, on S3 or over http(s): its location, what its info says, and
/// how it stores chunks (flat or nested names, gzip or not), so every later stage writes the same way.
/// </summary>
public sealed class PrecomputedDataset
{
    internal PrecomputedDataset(DatasetStore store, PrecomputedInfo info, StoreOptions? storeOptions = null)
        : this(store.Location, info, store.Layout, store.Gzip, storeOptions)
    {
    }

    internal PrecomputedDataset(string path, PrecomputedInfo info, Engine.Precomputed.ChunkLayout layout = Engine.Precomputed.ChunkLayout.Flat, bool gzip = true, StoreOptions? storeOptions = null, bool planned = false, string[]? planPath = null)
    {
        IsPlanned = planned;
        PlanPath = planPath ?? Array.Empty<string>();
        Info = info;
        Path = path;
        ChunkLayout = layout == Engine.Precomputed.ChunkLayout.Nested ? "Nested" : "Flat";
        Gzip = gzip;
        StoreOptions = storeOptions ?? new StoreOptions();
        string trimmed = path.TrimEnd('/', '\\');
        Name = trimmed.Substring(trimmed.LastIndexOfAny(new[] { '/', '\\' }) + 1);
        Type = info.Type;
        DataType = VoxelTypes.ToInfoName(info.DataType);
        MeshDirectory = info.Mesh;
        SegmentPropertiesDirectory = info.SegmentProperties;
        Scales = info.Scales.Select((s, i) => new PrecomputedScale(path, i, s)).ToArray();
    }

    /// <summary>
    /// True for the dataset a writer passes on under -WhatIf: what it would write, with nothing
    /// written. The next stage of a -WhatIf pipeline describes its own work from it; without
    /// -WhatIf it is refused (DatasetOnlyPlanned).
    /// </summary>
    public bool IsPlanned { get; }

    /// <summary>
    /// The saved plans that write this dataset, in the order they run (a pipeline with -PlanPath on
    /// each stage), for Invoke-PrecomputedTask, Get-PrecomputedPlanStatus and the cluster
    /// submitters; empty for a dataset that is written.
    /// </summary>
    public string[] PlanPath { get; }

    /// <summary>Where the dataset is: the folder holding the info file, or its s3://, gs:// or http(s):// URL.</summary>
    public string Path { get; }

    /// <summary>Last part of the location (folder name or key prefix).</summary>
    public string Name { get; }

    /// <summary>folder, S3 or http, from the location.</summary>
    public string StoreKind => StoreLocation.IsUri(Path)
        ? (StoreLocation.StripViewerPrefix(Path).StartsWith("http", StringComparison.OrdinalIgnoreCase) ? "Http" : "S3")
        : "Folder";

    /// <summary>Flat (x0-x1_y0-y1_z0-z1, what the viewer requests) or Nested chunk names; later stages write the same.</summary>
    /// <remarks>A string, not the engine's enum: no field of a module type may need the engine loaded (it loads into its own context after import).</remarks>
    public string ChunkLayout { get; }

    internal Engine.Precomputed.ChunkLayout Layout => ChunkLayout == "Nested" ? Engine.Precomputed.ChunkLayout.Nested : Engine.Precomputed.ChunkLayout.Flat;

    /// <summary>Whether chunks are stored gzip-encoded (".gz" files, or Content-Encoding: gzip on S3); later stages write the same.</summary>
    public bool Gzip { get; }

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

    /// <summary>Path or URL of the info file.</summary>
    public string InfoPath => StoreLocation.IsUri(Path) ? ObjectNames.Join(Path, "info") : System.IO.Path.Combine(Path, "info");

    internal PrecomputedInfo Info { get; }

    /// <summary>Credentials and endpoint the dataset was opened with (never shown).</summary>
    internal StoreOptions StoreOptions { get; }

    /// <summary>Opens a location, revealing its storage settings from the chunks there.</summary>
    internal static PrecomputedDataset Load(string location, StoreOptions? options = null)
    {
        using DatasetStore store = DatasetStore.Open(location, options);
        return new PrecomputedDataset(store, store.ReadInfo(), options);
    }

    /// <summary>The dataset a writer would produce, passed on under -WhatIf.</summary>
    internal static PrecomputedDataset Planned(string location, PrecomputedInfo info, Engine.Precomputed.ChunkLayout layout, bool gzip, StoreOptions? options, string[]? planPath = null) =>
        new(location, info, layout, gzip, options, planned: true, planPath);

    /// <summary>This dataset as the next saved plan leaves it: its plans so far and <paramref name="savedPlan"/>.</summary>
    internal PrecomputedDataset WithPlan(PrecomputedInfo info, string savedPlan) =>
        new(Path, info, Layout, Gzip, StoreOptions, planned: true, PlanPath.Concat(new[] { savedPlan }).ToArray());

    /// <summary>Opens the dataset's store with its own settings (or others given).</summary>
    internal DatasetStore OpenStore(StoreOptions? options = null, ChunkLayout? layout = null, bool? gzip = null) =>
        DatasetStore.Open(Path, options ?? StoreOptions, layout ?? Layout, gzip ?? Gzip);

    /// <summary>"zbrain 1406x621x138 uint64 compressed_segmentation, 3 scales".</summary>
    public override string ToString() => string.Format(
        CultureInfo.InvariantCulture,
        "{0} {1}x{2}x{3} {4} {5}, {6} scale{7}{8}",
        Name,
        Size[0],
        Size[1],
        Size[2],
        DataType,
        Encoding,
        Scales.Length,
        Scales.Length == 1 ? "" : "s",
        PlanPath.Length > 0 ? $" (planned: {PlanPath.Length} saved plan{(PlanPath.Length == 1 ? "" : "s")})" : IsPlanned ? " (planned, -WhatIf)" : "");
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

    /// <summary>Location of the dataset this scale belongs to.</summary>
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
