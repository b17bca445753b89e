using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.Json;
using PrecomputedTools.Engine.Precomputed;

namespace PrecomputedTools.Engine.Meshing;

/// <summary>Mesh folder formats (neuroglancer meshes.md: 'Legacy single-resolution mesh format', 'Multi-resolution mesh format').</summary>
public enum MeshFormat
{
    /// <summary>neuroglancer_legacy_mesh: a JSON manifest and one fragment file per segment and chunk, every triangle at once.</summary>
    Legacy,

    /// <summary>neuroglancer_multilod_draco: per segment one Draco fragment file and a binary manifest; the viewer streams levels of detail by octree node.</summary>
    MultiResolution,
}

/// <summary>
/// The settings of a meshing stage as saved in its plan: what is meshed (a scale of the dataset or
/// a source volume, its geometry), how (chunking, vertex placement, simplification, which ids), and
/// where the results go (mesh folder, manifest names, segment names).
/// </summary>
public sealed class MeshPlanSettings
{
    /// <summary>Mesh folder name inside the dataset.</summary>
    public string Directory { get; set; } = "mesh";

    /// <summary>Key of the dataset scale meshed; null when a source volume is meshed.</summary>
    public string? ScaleKey { get; set; }

    /// <summary>A name for the meshed data in messages and in the journal's parameters.</summary>
    public string SourceName { get; set; } = "";

    /// <summary>Size in voxels of what is meshed.</summary>
    public Int3 VolumeSize { get; set; }

    /// <summary>Meshing chunk in voxels.</summary>
    public Int3 ChunkSize { get; set; }

    /// <summary>Nanometres per voxel.</summary>
    public double[] Resolution { get; set; } = { 1, 1, 1 };

    /// <summary>Global position of voxel (0,0,0) of what is meshed.</summary>
    public Int3 VoxelOffset { get; set; }

    public bool AlignToVoxels { get; set; } = true;

    public bool Simplify { get; set; } = true;

    public double ReductionFactor { get; set; } = 10;

    public double? MaxError { get; set; }

    /// <summary>Mesh only these ids (null: every non-zero label).</summary>
    public IReadOnlyList<ulong>? SegmentIds { get; set; }

    /// <summary>Manifests named "&lt;id&gt;.json" instead of "&lt;id&gt;:0".</summary>
    public bool ColonFreeManifests { get; set; }

    /// <summary>Names for the segment_properties; null: none written.</summary>
    public IReadOnlyDictionary<ulong, string>? SegmentNames { get; set; }

    /// <summary>Segment properties beyond the names (descriptions, string and number columns, tags); null: none.</summary>
    public IReadOnlyList<SegmentProperty>? SegmentProperties { get; set; }

    /// <summary>True when a segment_properties info is written.</summary>
    public bool WritesSegmentProperties => SegmentNames is { Count: > 0 } || SegmentProperties is { Count: > 0 };

    /// <summary>True when the destination has a volume info that gets "mesh" (and "segment_properties").</summary>
    public bool UpdateInfo { get; set; } = true;

    /// <summary>Legacy (one file per segment and chunk) or multi-resolution (Draco levels of detail).</summary>
    public MeshFormat Format { get; set; } = MeshFormat.Legacy;

    /// <summary>vertex_quantization_bits of a multi-resolution mesh: 10 or 16.</summary>
    public int VertexQuantizationBits { get; set; } = 16;

    /// <summary>Multi-resolution meshes in shard files keyed by segment id; null: two files per segment.</summary>
    public ShardingSpec? Sharding { get; set; }

    /// <summary>
    /// The octree of a multi-resolution run: a lod-0 node is one meshing chunk, placed where the
    /// mesher puts that chunk's border vertices (neuroglancer meshes.md, 'Multi-resolution mesh manifest file format'); null for legacy meshes.
    /// </summary>
    public MultiResolutionGrid? ToMultiResolutionGrid()
    {
        if (Format != MeshFormat.MultiResolution)
        {
            return null;
        }

        var geometry = new MeshGeometry { Resolution = Resolution, VoxelOffset = VoxelOffset, AlignToVoxels = AlignToVoxels };
        double[] origin = new double[3];
        double[] shape = new double[3];
        for (int axis = 0; axis < 3; axis++)
        {
            // Node 0 begins one voxel before the volume (see MeshingChunks): doubled coordinate −2.
            origin[axis] = geometry.ToNanometres(axis, -2);
            shape[axis] = ChunkSize[axis] * Resolution[axis];
        }

        return new MultiResolutionGrid(origin, shape, (double[])Resolution.Clone(), VertexQuantizationBits, MaxError ?? (2 * Resolution.Max())) { ChunkVoxels = ChunkSize, VoxelOffset = VoxelOffset, Sharding = Sharding };
    }

    /// <summary>
    /// The meshing chunks of the run, in voxels of the meshed volume. Legacy: the grid of
    /// <see cref="ChunkSize"/> from voxel 0. Multi-resolution: borders one voxel lower (chunk i
    /// covers [i·C − 1, (i+1)·C − 1)), so that the surfaces the mesher closes half a voxel outside
    /// the volume's low faces still lie inside node 0, which begins one voxel before the volume;
    /// every chunk border (where the mesher locks vertices) is then a node border.
    /// </summary>
    public IEnumerable<Box3> MeshingChunks()
    {
        int shift = Format == MeshFormat.MultiResolution ? 1 : 0;
        int[] Starts(int size, int chunk)
        {
            int count = Int3.CeilDiv(size + shift, chunk);
            return Enumerable.Range(0, count).Select(i => Math.Max(0, (i * chunk) - shift)).ToArray();
        }

        int[] xs = Starts(VolumeSize.X, ChunkSize.X), ys = Starts(VolumeSize.Y, ChunkSize.Y), zs = Starts(VolumeSize.Z, ChunkSize.Z);
        int End(int[] starts, int i, int size) => i + 1 < starts.Length ? starts[i + 1] : size;
        for (int z = 0; z < zs.Length; z++)
        {
            for (int y = 0; y < ys.Length; y++)
            {
                for (int x = 0; x < xs.Length; x++)
                {
                    yield return new Box3(new Int3(xs[x], ys[y], zs[z]), new Int3(End(xs, x, VolumeSize.X), End(ys, y, VolumeSize.Y), End(zs, z, VolumeSize.Z)));
                }
            }
        }
    }

    /// <summary>The run's settings as one line; a resumed run must have the same (the journal keeps it).</summary>
    public string Parameters => string.Format(
        CultureInfo.InvariantCulture,
        "scale={0}; chunk={1}; aligned={2}; simplify={3}; reduction={4}; maxError={5}; ids={6}",
        SourceName,
        ChunkSize,
        AlignToVoxels,
        Simplify,
        ReductionFactor,
        MaxError?.ToString(CultureInfo.InvariantCulture) ?? "default",
        SegmentIds is null ? "all" : string.Join(",", SegmentIds.OrderBy(i => i)))
        + (Format == MeshFormat.MultiResolution ? string.Format(CultureInfo.InvariantCulture, "; format=multiresolution/{0}", VertexQuantizationBits) : "")
        + (Sharding is null ? "" : "; sharding=" + Sharding.ToJson().ToJsonString());

    /// <summary>The mesher's settings for one process.</summary>
    public SegmentMeshSettings ToMeshSettings(int throttleLimit) => new()
    {
        Geometry = new MeshGeometry { Resolution = (double[])Resolution.Clone(), VoxelOffset = VoxelOffset, AlignToVoxels = AlignToVoxels },
        ChunkSize = ChunkSize,
        Simplify = Simplify,
        ReductionFactor = ReductionFactor,
        MaxError = MaxError,
        ThrottleLimit = throttleLimit,
        SegmentIds = SegmentIds is null ? null : new HashSet<ulong>(SegmentIds),
    };

    public void WriteTo(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("directory", Directory);
        if (ScaleKey is not null)
        {
            w.WriteString("scale", ScaleKey);
        }

        w.WriteString("sourceName", SourceName);
        EngineJson.WriteInt3(w, "volumeSize", VolumeSize);
        EngineJson.WriteInt3(w, "chunkSize", ChunkSize);
        w.WriteStartArray("resolution");
        foreach (double r in Resolution)
        {
            w.WriteNumberValue(r);
        }

        w.WriteEndArray();
        EngineJson.WriteInt3(w, "voxelOffset", VoxelOffset);
        w.WriteBoolean("alignToVoxels", AlignToVoxels);
        w.WriteBoolean("simplify", Simplify);
        w.WriteNumber("reductionFactor", ReductionFactor);
        if (MaxError is double maxError)
        {
            w.WriteNumber("maxError", maxError);
        }

        // Ids as decimal strings: JSON numbers lose ids above 2^53.
        if (SegmentIds is not null)
        {
            w.WriteStartArray("segmentIds");
            foreach (ulong id in SegmentIds.OrderBy(i => i))
            {
                w.WriteStringValue(id.ToString(CultureInfo.InvariantCulture));
            }

            w.WriteEndArray();
        }

        w.WriteBoolean("colonFreeManifests", ColonFreeManifests);
        if (SegmentNames is not null)
        {
            w.WriteStartObject("segmentNames");
            foreach (KeyValuePair<ulong, string> kv in SegmentNames.OrderBy(kv => kv.Key))
            {
                w.WriteString(kv.Key.ToString(CultureInfo.InvariantCulture), kv.Value);
            }

            w.WriteEndObject();
        }

        if (SegmentProperties is { Count: > 0 })
        {
            Precomputed.SegmentProperties.WritePlan(w, "segmentProperties", SegmentProperties);
        }

        w.WriteBoolean("updateInfo", UpdateInfo);
        if (Format == MeshFormat.MultiResolution)
        {
            w.WriteString("format", "multiresolution");
            w.WriteNumber("vertexQuantizationBits", VertexQuantizationBits);
            if (Sharding is not null)
            {
                w.WritePropertyName("sharding");
                Sharding.ToJson().WriteTo(w);
            }
        }

        w.WriteEndObject();
    }

    public static MeshPlanSettings Read(JsonElement e)
    {
        var settings = new MeshPlanSettings
        {
            Directory = e.GetProperty("directory").GetString() ?? "mesh",
            ScaleKey = e.TryGetProperty("scale", out JsonElement scale) ? scale.GetString() : null,
            SourceName = e.GetProperty("sourceName").GetString() ?? "",
            VolumeSize = ReadInt3(e.GetProperty("volumeSize")),
            ChunkSize = ReadInt3(e.GetProperty("chunkSize")),
            Resolution = e.GetProperty("resolution").EnumerateArray().Select(x => x.GetDouble()).ToArray(),
            VoxelOffset = ReadInt3(e.GetProperty("voxelOffset")),
            AlignToVoxels = e.GetProperty("alignToVoxels").GetBoolean(),
            Simplify = e.GetProperty("simplify").GetBoolean(),
            ReductionFactor = e.GetProperty("reductionFactor").GetDouble(),
            MaxError = e.TryGetProperty("maxError", out JsonElement maxError) ? maxError.GetDouble() : null,
            SegmentIds = e.TryGetProperty("segmentIds", out JsonElement ids) ? ids.EnumerateArray().Select(x => ulong.Parse(x.GetString() ?? "", NumberStyles.None, CultureInfo.InvariantCulture)).ToList() : null,
            ColonFreeManifests = e.GetProperty("colonFreeManifests").GetBoolean(),
            UpdateInfo = e.GetProperty("updateInfo").GetBoolean(),
            Format = e.TryGetProperty("format", out JsonElement format) && format.GetString() == "multiresolution" ? MeshFormat.MultiResolution : MeshFormat.Legacy,
            VertexQuantizationBits = e.TryGetProperty("vertexQuantizationBits", out JsonElement bits) ? bits.GetInt32() : 16,
            Sharding = e.TryGetProperty("sharding", out JsonElement sharding) && System.Text.Json.Nodes.JsonNode.Parse(sharding.GetRawText()) is System.Text.Json.Nodes.JsonObject shardingJson ? ShardingSpec.FromJson(shardingJson, "plan") : null,
        };
        if (e.TryGetProperty("segmentNames", out JsonElement names))
        {
            var map = new SortedDictionary<ulong, string>();
            foreach (JsonProperty p in names.EnumerateObject())
            {
                map[ulong.Parse(p.Name, NumberStyles.None, CultureInfo.InvariantCulture)] = p.Value.GetString() ?? "";
            }

            settings.SegmentNames = map;
        }

        if (e.TryGetProperty("segmentProperties", out JsonElement properties))
        {
            settings.SegmentProperties = Precomputed.SegmentProperties.ReadPlan(properties);
        }

        if (settings.Resolution.Length != 3 || !settings.ChunkSize.AllPositive || !settings.VolumeSize.AllPositive)
        {
            throw new FormatException("mesh settings need a 3-number resolution and positive volume and chunk sizes");
        }

        return settings;
    }

    private static Int3 ReadInt3(JsonElement e)
    {
        int[] v = e.EnumerateArray().Select(x => x.GetInt32()).ToArray();
        return v.Length == 3 ? new Int3(v[0], v[1], v[2]) : throw new FormatException("expected 3 integers");
    }
}
