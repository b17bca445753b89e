using System.Globalization;

namespace PrecomputedTools;

/// <summary>The mesh New-SegmentMesh wrote for one segment.</summary>
public sealed class SegmentMesh
{
    internal SegmentMesh(ulong id, string? name, long vertexCount, long triangleCount, string[] fragments, string manifestPath, string datasetPath)
    {
        Id = id;
        SegmentId = id.ToString(CultureInfo.InvariantCulture);
        Name = name;
        VertexCount = vertexCount;
        TriangleCount = triangleCount;
        Fragments = fragments;
        ManifestPath = manifestPath;
        DatasetPath = datasetPath;
    }

    /// <summary>The segment id (unsigned 64-bit).</summary>
    public ulong Id { get; }

    /// <summary>The id as an unsigned decimal string, as neuroglancer URLs and JSON need it.</summary>
    public string SegmentId { get; }

    /// <summary>The segment's name from -SegmentName, or null.</summary>
    public string? Name { get; }

    /// <summary>Levels of detail: 1 for legacy meshes; for multi-resolution meshes lod 0 is the finest.</summary>
    public int LodCount { get; internal set; } = 1;

    /// <summary>Vertices over all fragments (multi-resolution: of lod 0).</summary>
    public long VertexCount { get; }

    /// <summary>Triangles over all fragments (multi-resolution: of lod 0).</summary>
    public long TriangleCount { get; }

    /// <summary>Fragment file names relative to the mesh folder, as listed in the manifest.</summary>
    public string[] Fragments { get; }

    /// <summary>Number of fragment files.</summary>
    public int FragmentCount => Fragments.Length;

    /// <summary>Path of the manifest file (&lt;id&gt;:0, or &lt;id&gt;.json in the colon-free layout; &lt;id&gt;.index for multi-resolution meshes).</summary>
    public string ManifestPath { get; }

    /// <summary>Folder of the dataset the mesh belongs to.</summary>
    public string DatasetPath { get; }

    /// <summary>"118 Retina: 12,345 triangles in 3 fragments".</summary>
    public override string ToString() => LodCount > 1
        ? string.Format(CultureInfo.InvariantCulture, "{0}{1}: {2:N0} triangles at lod 0, {3} levels of detail", SegmentId, Name is null ? "" : " " + Name, TriangleCount, LodCount)
        : string.Format(
            CultureInfo.InvariantCulture,
            "{0}{1}: {2:N0} triangles in {3} fragment{4}",
            SegmentId,
            Name is null ? "" : " " + Name,
            TriangleCount,
            Fragments.Length,
            Fragments.Length == 1 ? "" : "s");
}
