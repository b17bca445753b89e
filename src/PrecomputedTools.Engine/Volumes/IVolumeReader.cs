using System;
using System.Threading;
using System.Threading.Tasks;

namespace PrecomputedTools.Engine.Volumes;

/// <summary>
/// Random access to the voxels of a volume, region by region, so no caller ever needs the whole
/// volume in memory. Implementations must allow concurrent <see cref="ReadAsync"/> calls.
/// </summary>
public interface IVolumeReader : IDisposable
{
    /// <summary>Size in voxels [x, y, z].</summary>
    Int3 Size { get; }

    /// <summary>Element type of the bytes <see cref="ReadAsync"/> writes.</summary>
    VoxelType DataType { get; }

    /// <summary>
    /// The box shape reads are cheapest in, aligned to multiples of it from the origin
    /// (TIFF slices: [sx, sy, 1]; BOSS cuboids: [512, 512, 16]; precomputed: the chunk size).
    /// </summary>
    Int3 ReadGranularity { get; }

    /// <summary>
    /// Copies the voxels of <paramref name="region"/> (0-based, inside [0, Size)) into
    /// <paramref name="destination"/>: native element type, little-endian, x fastest, exactly
    /// region.VoxelCount × element size bytes.
    /// </summary>
    Task ReadAsync(Box3 region, Memory<byte> destination, CancellationToken cancellationToken);
}

/// <summary>
/// Describes a volume (where it comes from, its geometry) without holding voxels. Pipeline
/// objects wrap one of these; <see cref="OpenReader"/> gets at the data.
/// </summary>
public abstract class VolumeDescriptor
{
    /// <summary>Size in voxels [x, y, z].</summary>
    public abstract Int3 Size { get; }

    public abstract VoxelType DataType { get; }

    /// <summary>Voxel size in nanometres [x, y, z] when the source knows it; otherwise null.</summary>
    public virtual double[]? Resolution => null;

    /// <summary>Position of voxel (0,0,0) in the global voxel grid.</summary>
    public virtual Int3 VoxelOffset => Int3.Zero;

    /// <summary>The box shape reads are cheapest in (see <see cref="IVolumeReader.ReadGranularity"/>); known without opening a reader, for planning.</summary>
    public virtual Int3 ReadGranularity => Size;

    /// <summary>"TiffStack", "Boss", "Precomputed", ...</summary>
    public abstract string SourceKind { get; }

    /// <summary>Where the data comes from, for people: a path or URL. Never contains a secret.</summary>
    public abstract string Source { get; }

    /// <summary>A short name for display, e.g. the folder or channel name.</summary>
    public virtual string Name => Source;

    public abstract IVolumeReader OpenReader();

    /// <summary>How another process opens the same volume (saved in stage plans), or null when it cannot.</summary>
    public virtual VolumeSourceSpec? Spec => null;

    public override string ToString() =>
        $"{Name} {Size} {VoxelTypes.ToInfoName(DataType)} ({SourceKind})";
}
