using System.Globalization;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Volumes;

namespace PrecomputedTools;

/// <summary>
/// A volume to convert: a TIFF stack, a BOSS cutout, a precomputed scale. It describes the data
/// and reads it on demand, region by region; it never holds the voxels.
/// </summary>
public sealed class VolumeSource
{
    internal VolumeSource(VolumeDescriptor descriptor)
    {
        Descriptor = descriptor;
        Name = descriptor.Name;
        SourceKind = descriptor.SourceKind;
        Source = descriptor.Source;
        Size = descriptor.Size.ToArray();
        DataType = VoxelTypes.ToInfoName(descriptor.DataType);
        Resolution = descriptor.Resolution is { } r ? (double[])r.Clone() : null;
        VoxelOffset = descriptor.VoxelOffset.ToArray();
    }

    /// <summary>Short display name (folder, file or channel).</summary>
    public string Name { get; }

    /// <summary>TiffStack, Boss, Precomputed.</summary>
    public string SourceKind { get; }

    /// <summary>Path or URL of the source (never a token).</summary>
    public string Source { get; }

    /// <summary>Size in voxels [x, y, z].</summary>
    public int[] Size { get; }

    /// <summary>Element type: uint8, uint16, uint32, uint64 or float32.</summary>
    public string DataType { get; }

    /// <summary>Voxel size in nanometres [x, y, z], when the source knows it.</summary>
    public double[]? Resolution { get; }

    /// <summary>Global position of voxel (0,0,0).</summary>
    public int[] VoxelOffset { get; }

    /// <summary>Number of voxels.</summary>
    public long VoxelCount => (long)Size[0] * Size[1] * Size[2];

    internal VolumeDescriptor Descriptor { get; }

    /// <summary>"zbrain 1406x621x138 uint64 (TiffStack)".</summary>
    public override string ToString() => string.Format(CultureInfo.InvariantCulture, "{0} {1}x{2}x{3} {4} ({5})", Name, Size[0], Size[1], Size[2], DataType, SourceKind);
}
