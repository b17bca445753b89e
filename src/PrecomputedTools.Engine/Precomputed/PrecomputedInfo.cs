using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PrecomputedTools.Engine.Precomputed;

/// <summary>Encodings of precomputed chunks the module reads and writes.</summary>
public static class ChunkEncodings
{
    /// <summary>
    /// The one rule for the type segmentation labels are stored as; the info planner
    /// (New-PrecomputedInfo) and the converter both use it, so an info planned for a volume
    /// describes what converting that volume writes. The type asked for wins; otherwise
    /// compressed_segmentation (uint32 or uint64 only, neuroglancer precomputed volume.md) stores uint64, the width of the
    /// viewer's segment ids, and raw chunks keep the source's type. Float values are not labels.
    /// </summary>
    /// <param name="source">The voxels' type.</param>
    /// <param name="encoding">The chunk encoding (ChunkEncodings).</param>
    /// <param name="requested">-LabelType, when given.</param>
    /// <param name="target">What the error names (the volume or the parameter).</param>
    public static VoxelType StoredLabelType(VoxelType source, string encoding, VoxelType? requested, string? target = null)
    {
        if (source == VoxelType.Float32)
        {
            throw new EngineException("InvalidLabelType", EngineErrorKind.InvalidData, $"{target ?? "The volume"} holds float32 values, which cannot be segment labels. Use -Type image.", target);
        }

        if (requested is VoxelType asked)
        {
            if (!VoxelTypes.IsLabelType(asked))
            {
                throw new EngineException("InvalidLabelType", EngineErrorKind.InvalidArgument, $"Labels are stored as uint32 or uint64, not {VoxelTypes.ToInfoName(asked)}.", target);
            }

            return asked;
        }

        return encoding == CompressedSegmentation ? VoxelType.UInt64 : source;
    }

    public const string CompressedSegmentation = "compressed_segmentation";
    public const string Raw = "raw";
    public const string Jpeg = "jpeg";
    public const string Png = "png";

    /// <summary>Encodings this module reads and writes (compresso and jxl are neuroglancer's too, but not ours).</summary>
    public static bool IsKnown(string? encoding) => encoding is CompressedSegmentation or Raw or Jpeg or Png;

    /// <summary>jpeg and png: a chunk is one 2-D image, encoded and decoded whole.</summary>
    public static bool IsImageCodec(string? encoding) => encoding is Jpeg or Png;

    /// <summary>Whether gzip on top helps: not for jpeg and png chunks, which are compressed already.</summary>
    public static bool IsGzipWorthwhile(string? encoding) => !IsImageCodec(encoding);
}

/// <summary>One entry of the "scales" array of a precomputed info file.</summary>
public sealed class ScaleInfo
{
    public string Key { get; set; } = "";

    public Int3 Size { get; set; }

    public Int3 VoxelOffset { get; set; }

    /// <summary>Nanometres per voxel [x, y, z].</summary>
    public double[] Resolution { get; set; } = { 1, 1, 1 };

    public Int3 ChunkSize { get; set; }

    public string Encoding { get; set; } = ChunkEncodings.CompressedSegmentation;

    /// <summary>compressed_segmentation block size; null for other encodings.</summary>
    public Int3? BlockSize { get; set; }

    /// <summary>The sharding object as written, if any (the module does not write sharded scales).</summary>
    public JsonObject? Sharding { get; set; }

    public bool Hidden { get; set; }

    /// <summary>"jpeg_quality": an encoder hint beside the scale's members of neuroglancer precomputed volume.md, the quality for jpeg scales; the viewer ignores it.</summary>
    public int? JpegQuality { get; set; }

    /// <summary>"png_level": an encoder hint beside the scale's members of neuroglancer precomputed volume.md, the zlib level for png scales; the viewer ignores it.</summary>
    public int? PngLevel { get; set; }

    /// <summary>Chunks per axis: ceil(size / chunk).</summary>
    public Int3 GridSize => Int3.CeilDiv(Size, ChunkSize);

    public long ChunkCount => GridSize.Volume;

    public ScaleInfo Clone() => new()
    {
        Key = Key,
        Size = Size,
        VoxelOffset = VoxelOffset,
        Resolution = (double[])Resolution.Clone(),
        ChunkSize = ChunkSize,
        Encoding = Encoding,
        BlockSize = BlockSize,
        Sharding = Sharding is null ? null : (JsonObject)JsonNode.Parse(Sharding.ToJsonString())!,
        Hidden = Hidden,
        JpegQuality = JpegQuality,
        PngLevel = PngLevel,
    };

    /// <summary>Chunk (gx, gy, gz) of this scale as a 0-based box, clipped to the volume.</summary>
    public Box3 ChunkBox(Int3 gridPosition)
    {
        Int3 begin = gridPosition * ChunkSize;
        return new Box3(begin, Int3.Min(begin + ChunkSize, Size));
    }

    /// <summary>The chunk's file name, "x0-x1_y0-y1_z0-z1", with the voxel offset added.</summary>
    public string ChunkName(Box3 localBox) => localBox.Translate(VoxelOffset).ToString();

    /// <summary>Every chunk box of the scale, z outermost.</summary>
    public IEnumerable<Box3> EnumerateChunks()
    {
        Int3 grid = GridSize;
        for (int z = 0; z < grid.Z; z++)
        {
            for (int y = 0; y < grid.Y; y++)
            {
                for (int x = 0; x < grid.X; x++)
                {
                    yield return ChunkBox(new Int3(x, y, z));
                }
            }
        }
    }
}

/// <summary>
/// The volume "info" file of a precomputed dataset (neuroglancer precomputed volume.md, 'info JSON file
/// specification'), parsed and written with the
/// module's rules: integers as integers, ids never through doubles, encoding per scale.
/// </summary>
public sealed class PrecomputedInfo
{
    public const string VolumeTypeTag = "neuroglancer_multiscale_volume";

    /// <summary>"segmentation" or "image".</summary>
    public string Type { get; set; } = "segmentation";

    public VoxelType DataType { get; set; } = VoxelType.UInt64;

    public int NumChannels { get; set; } = 1;

    public string? Mesh { get; set; }

    public string? SegmentProperties { get; set; }

    public string? Skeletons { get; set; }

    public List<ScaleInfo> Scales { get; } = new();

    public bool IsSegmentation => string.Equals(Type, "segmentation", StringComparison.Ordinal);

    public ScaleInfo? FindScale(string key) => Scales.FirstOrDefault(s => string.Equals(s.Key, key, StringComparison.Ordinal));

    public PrecomputedInfo Clone()
    {
        var copy = new PrecomputedInfo
        {
            Type = Type,
            DataType = DataType,
            NumChannels = NumChannels,
            Mesh = Mesh,
            SegmentProperties = SegmentProperties,
            Skeletons = Skeletons,
        };
        foreach (ScaleInfo scale in Scales)
        {
            copy.Scales.Add(scale.Clone());
        }

        return copy;
    }

    /// <summary>
    /// Parses an info file. With <paramref name="allowIncompleteScales"/>, scales may lack key,
    /// chunk_sizes and encoding (a hand-written base info such as the guide's); defaults are
    /// filled in and each surprise is added to <paramref name="warnings"/>.
    /// </summary>
    public static PrecomputedInfo Parse(string json, ICollection<string>? warnings = null, bool allowIncompleteScales = false, string? source = null)
    {
        JsonNode? root;
        try
        {
            RefuseDuplicateMembers(json, source);
            root = JsonNode.Parse(json);
        }
        catch (JsonException ex)
        {
            throw InvalidInfo($"The info file is not valid JSON: {ex.Message}", source, ex);
        }

        if (root is not JsonObject obj)
        {
            throw InvalidInfo("The info file must hold a JSON object.", source);
        }

        var info = new PrecomputedInfo();
        info.Type = GetString(obj, "type") ?? throw InvalidInfo("The info file has no \"type\" (segmentation or image).", source);
        string? dataType = GetString(obj, "data_type");
        if (!VoxelTypes.TryParse(dataType, out VoxelType voxelType))
        {
            throw InvalidInfo($"The info's data_type \"{dataType}\" is not one of uint8, uint16, uint32, uint64, float32.", source);
        }

        info.DataType = voxelType;
        info.NumChannels = obj["num_channels"] is JsonNode channels ? GetInt(channels, "num_channels", source) : 1;
        info.Mesh = GetString(obj, "mesh");
        info.SegmentProperties = GetString(obj, "segment_properties");
        info.Skeletons = GetString(obj, "skeletons");

        // The guide's hand-written info puts these at the top level, where neuroglancer ignores them.
        string? topEncoding = GetString(obj, "encoding");
        Int3? topBlockSize = obj["compressed_segmentation_block_size"] is JsonArray topBlock ? ReadInt3(topBlock, "compressed_segmentation_block_size", source) : null;
        if (topEncoding is not null)
        {
            warnings?.Add($"The info file sets \"encoding\": \"{topEncoding}\" at the top level, where neuroglancer ignores it (followed literally, the guide's pipeline writes raw chunks). It is used as the encoding of every scale that does not set its own.");
        }

        if (obj["scales"] is not JsonArray scales || scales.Count == 0)
        {
            throw InvalidInfo("The info file has no scales; neuroglancer needs at least one.", source);
        }

        for (int i = 0; i < scales.Count; i++)
        {
            if (scales[i] is not JsonObject s)
            {
                throw InvalidInfo($"Scale {i} is not a JSON object.", source);
            }

            var scale = new ScaleInfo
            {
                Key = GetString(s, "key") ?? "",
                Size = s["size"] is JsonArray size ? ReadInt3(size, "size", source) : throw InvalidInfo($"Scale {i} has no size.", source),
                VoxelOffset = s["voxel_offset"] is JsonArray offset ? ReadInt3(offset, "voxel_offset", source) : Int3.Zero,
                Resolution = s["resolution"] is JsonArray res ? ReadDouble3(res, source) : throw InvalidInfo($"Scale {i} has no resolution.", source),
                Hidden = s["hidden"] is JsonNode hidden && GetBool(hidden, "hidden", source),
                Sharding = s["sharding"] as JsonObject,
                JpegQuality = s["jpeg_quality"] is JsonNode quality ? GetInt(quality, "jpeg_quality", source) : null,
                PngLevel = s["png_level"] is JsonNode level ? GetInt(level, "png_level", source) : null,
            };
            if (s["sharding"] is JsonObject sharding)
            {
                scale.Sharding = (JsonObject)JsonNode.Parse(sharding.ToJsonString())!;
            }

            if (s["chunk_sizes"] is JsonArray chunkSizes && chunkSizes.Count > 0 && chunkSizes[0] is JsonArray firstChunk)
            {
                scale.ChunkSize = ReadInt3(firstChunk, "chunk_sizes", source);
                if (chunkSizes.Count > 1)
                {
                    warnings?.Add($"Scale {i} lists {chunkSizes.Count} chunk sizes; only the first is used.");
                }
            }
            else if (!allowIncompleteScales)
            {
                // The guide's hand-written base info has no chunk sizes: say which command completes it.
                int cut = source?.LastIndexOfAny(new[] { '/', '\\' }) ?? -1;
                string folder = source is null ? "<dataset folder>" : (cut > 0 ? source.Substring(0, cut) : source);
                string complete = $"New-PrecomputedInfo -Path '{folder}' -Destination '{folder}' -Force";
                throw new EngineException(
                    "InvalidPrecomputedInfo",
                    EngineErrorKind.InvalidData,
                    $"{(source is null ? "" : source + ": ")}Scale {i} has no chunk_sizes. A partial info (such as the guide's base info) is completed by {complete}: it adds chunk sizes and the lower scales.",
                    source,
                    recommendedAction: "Run " + complete + ".");
            }

            string? encoding = GetString(s, "encoding") ?? topEncoding;
            if (encoding is null)
            {
                if (!allowIncompleteScales)
                {
                    throw InvalidInfo($"Scale {i} has no encoding.", source);
                }

                encoding = info.IsSegmentation && VoxelTypes.IsLabelType(voxelType) ? ChunkEncodings.CompressedSegmentation : ChunkEncodings.Raw;
            }

            scale.Encoding = encoding;
            if (s["compressed_segmentation_block_size"] is JsonArray block)
            {
                scale.BlockSize = ReadInt3(block, "compressed_segmentation_block_size", source);
            }
            else if (encoding == ChunkEncodings.CompressedSegmentation)
            {
                scale.BlockSize = topBlockSize ?? new Int3(8, 8, 8);
            }

            if (!allowIncompleteScales && scale.Key.Length == 0)
            {
                throw InvalidInfo($"Scale {i} has no key.", source);
            }

            info.Scales.Add(scale);
        }

        return info;
    }

    /// <summary>The most voxels a scale may declare (2^60: a grid of them still fits every 64-bit count).</summary>
    public const double MaxVoxelsPerScale = 1L << 60;

    /// <summary>The most chunks a scale may declare (2^40, about a trillion objects).</summary>
    public const double MaxChunksPerScale = 1L << 40;

    /// <summary>Checks the rules of neuroglancer precomputed volume.md ('info JSON file specification') that a writer depends on.</summary>
    public void Validate(string? source = null, bool requireChunkSizes = true)
    {
        if (Type != "segmentation" && Type != "image")
        {
            throw InvalidInfo($"type must be \"segmentation\" or \"image\", not \"{Type}\".", source);
        }

        if (NumChannels < 1 || (IsSegmentation && NumChannels != 1))
        {
            throw InvalidInfo($"num_channels is {NumChannels}; a segmentation must have exactly 1.", source);
        }

        var keys = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < Scales.Count; i++)
        {
            ScaleInfo s = Scales[i];
            if (!s.Size.AllPositive)
            {
                throw new EngineException("InvalidVolumeGeometry", EngineErrorKind.InvalidArgument, $"Scale {i} ({s.Key}) has size {s.Size}; every axis must be at least 1.", source);
            }

            if (s.Resolution.Length != 3 || s.Resolution.Any(r => !(r > 0) || double.IsInfinity(r)))
            {
                throw new EngineException("InvalidVolumeGeometry", EngineErrorKind.InvalidArgument, $"Scale {i} ({s.Key}) has resolution [{string.Join(", ", s.Resolution)}]; every value must be a positive number of nanometres.", source);
            }

            if (requireChunkSizes && !s.ChunkSize.AllPositive)
            {
                throw InvalidInfo($"Scale {i} ({s.Key}) has chunk size {s.ChunkSize}; every axis must be at least 1.", source);
            }

            // Beyond these no store holds the scale and the counts would overflow: refuse rather than
            // walk a grid without end.
            if ((double)s.Size.X * s.Size.Y * s.Size.Z > MaxVoxelsPerScale)
            {
                throw InvalidInfo($"Scale {i} ({s.Key}) has size {s.Size}: more than 2^60 voxels, beyond any volume a store can hold.", source);
            }

            if (s.ChunkSize.AllPositive && (double)Int3.CeilDiv(s.Size, s.ChunkSize).X * Int3.CeilDiv(s.Size, s.ChunkSize).Y * Int3.CeilDiv(s.Size, s.ChunkSize).Z > MaxChunksPerScale)
            {
                throw InvalidInfo($"Scale {i} ({s.Key}) has size {s.Size} in chunks of {s.ChunkSize}: more than 2^40 chunks, beyond any store. Use larger chunk_sizes.", source);
            }

            if (!ChunkEncodings.IsKnown(s.Encoding) && s.Encoding is not ("compresso" or "jxl"))
            {
                throw InvalidInfo($"Scale {i} ({s.Key}) has unknown encoding \"{s.Encoding}\".", source);
            }

            // volume.md: jpeg holds uint8 with 1 or 3 channels, png uint8 or uint16.
            if (s.Encoding == ChunkEncodings.Jpeg && (DataType != VoxelType.UInt8 || NumChannels is not (1 or 3)))
            {
                throw InvalidInfo($"Scale {i} ({s.Key}) is jpeg, which holds uint8 with 1 or 3 channels, not {VoxelTypes.ToInfoName(DataType)} with {NumChannels}. Use png (uint8, uint16) or raw.", source);
            }

            if (s.Encoding == ChunkEncodings.Png && DataType is not (VoxelType.UInt8 or VoxelType.UInt16))
            {
                throw InvalidInfo($"Scale {i} ({s.Key}) is png, which holds uint8 or uint16, not {VoxelTypes.ToInfoName(DataType)}. Use raw.", source);
            }

            if (s.JpegQuality is { } quality && quality is < 1 or > 100)
            {
                throw InvalidInfo($"Scale {i} ({s.Key}) has jpeg_quality {quality}; it is 1..100.", source);
            }

            if (s.PngLevel is { } level && level is < 0 or > 9)
            {
                throw InvalidInfo($"Scale {i} ({s.Key}) has png_level {level}; it is 0..9.", source);
            }

            if (s.Encoding == ChunkEncodings.CompressedSegmentation)
            {
                if (!VoxelTypes.IsLabelType(DataType))
                {
                    throw InvalidInfo($"compressed_segmentation needs data_type uint32 or uint64, not {VoxelTypes.ToInfoName(DataType)}.", source);
                }

                if (s.BlockSize is not { } block || !block.AllPositive)
                {
                    throw InvalidInfo($"Scale {i} ({s.Key}) uses compressed_segmentation without a positive compressed_segmentation_block_size.", source);
                }
            }

            if (s.Key.Length > 0 && !keys.Add(s.Key))
            {
                throw InvalidInfo($"Two scales share the key \"{s.Key}\".", source);
            }

            if (i > 0)
            {
                for (int d = 0; d < 3; d++)
                {
                    if (s.Resolution[d] < Scales[i - 1].Resolution[d])
                    {
                        throw InvalidInfo($"Scale {i} ({s.Key}) has a finer resolution than scale {i - 1} on axis {"xyz"[d]}.", source);
                    }
                }
            }
        }
    }

    public string ToJson() => EngineJson.ToText(w =>
    {
        w.WriteStartObject();
        w.WriteString("@type", VolumeTypeTag);
        w.WriteString("type", Type);
        w.WriteString("data_type", VoxelTypes.ToInfoName(DataType));
        w.WriteNumber("num_channels", NumChannels);
        if (Mesh is not null)
        {
            w.WriteString("mesh", Mesh);
        }

        if (SegmentProperties is not null)
        {
            w.WriteString("segment_properties", SegmentProperties);
        }

        if (Skeletons is not null)
        {
            w.WriteString("skeletons", Skeletons);
        }

        w.WriteStartArray("scales");
        foreach (ScaleInfo s in Scales)
        {
            w.WriteStartObject();
            w.WriteString("key", s.Key);
            EngineJson.WriteInt3(w, "size", s.Size);
            EngineJson.WriteInt3(w, "voxel_offset", s.VoxelOffset);
            w.WriteStartArray("resolution");
            foreach (double r in s.Resolution)
            {
                // Whole numbers without a fraction, as the viewer's and the peers' infos write them.
                if (r == Math.Floor(r) && Math.Abs(r) < 1e15)
                {
                    w.WriteNumberValue((long)r);
                }
                else
                {
                    w.WriteNumberValue(r);
                }
            }

            w.WriteEndArray();
            w.WriteStartArray("chunk_sizes");
            w.WriteStartArray();
            w.WriteNumberValue(s.ChunkSize.X);
            w.WriteNumberValue(s.ChunkSize.Y);
            w.WriteNumberValue(s.ChunkSize.Z);
            w.WriteEndArray();
            w.WriteEndArray();
            w.WriteString("encoding", s.Encoding);
            if (s.Encoding == ChunkEncodings.CompressedSegmentation && s.BlockSize is { } block)
            {
                EngineJson.WriteInt3(w, "compressed_segmentation_block_size", block);
            }

            if (s.Encoding == ChunkEncodings.Jpeg && s.JpegQuality is { } quality)
            {
                w.WriteNumber("jpeg_quality", quality);
            }

            if (s.Encoding == ChunkEncodings.Png && s.PngLevel is { } level)
            {
                w.WriteNumber("png_level", level);
            }

            if (s.Sharding is not null)
            {
                w.WritePropertyName("sharding");
                s.Sharding.WriteTo(w);
            }

            if (s.Hidden)
            {
                w.WriteBoolean("hidden", true);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    });

    internal static string FormatNumber(double value) =>
        value == Math.Floor(value) && Math.Abs(value) < 1e15
            ? ((long)value).ToString(CultureInfo.InvariantCulture)
            : value.ToString("R", CultureInfo.InvariantCulture);

    private static string? GetString(JsonObject obj, string name) =>
        obj[name] is JsonValue value && value.TryGetValue(out string? text) ? text : null;

    // Typed reads that name the member, instead of System.Text.Json's conversion errors.
    private static int GetInt(JsonNode node, string name, string? source) =>
        node is JsonValue value && value.TryGetValue(out int number) ? number : throw InvalidInfo($"\"{name}\" must be a whole number, not {node.ToJsonString()}.", source);

    private static bool GetBool(JsonNode node, string name, string? source) =>
        node is JsonValue value && value.TryGetValue(out bool flag) ? flag : throw InvalidInfo($"\"{name}\" must be true or false, not {node.ToJsonString()}.", source);

    // JsonNode keeps the last of duplicate members only when asked for it, and then throws: an info
    // with a member twice is ambiguous (which one did the viewer use?), so it is refused by name.
    private static void RefuseDuplicateMembers(string json, string? source)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        if (FindDuplicateMember(document.RootElement) is { } member)
        {
            throw InvalidInfo($"The member \"{member}\" appears twice.", source);
        }
    }

    /// <summary>
    /// The path ("scales[0].key") of the first member that appears twice in its object, or null.
    /// JsonDocument allows duplicates, but a JsonObject built from one throws ArgumentException
    /// when first read: every JSON file of a dataset is checked with this before it becomes a JsonNode.
    /// </summary>
    internal static string? FindDuplicateMember(JsonElement root)
    {
        var pending = new Stack<(JsonElement Element, string Path)>();
        pending.Push((root, ""));
        while (pending.Count > 0)
        {
            (JsonElement element, string path) = pending.Pop();
            if (element.ValueKind == JsonValueKind.Object)
            {
                var names = new HashSet<string>(StringComparer.Ordinal);
                foreach (JsonProperty property in element.EnumerateObject())
                {
                    if (!names.Add(property.Name))
                    {
                        return path + property.Name;
                    }

                    pending.Push((property.Value, path + property.Name + "."));
                }
            }
            else if (element.ValueKind == JsonValueKind.Array)
            {
                int i = 0;
                foreach (JsonElement item in element.EnumerateArray())
                {
                    pending.Push((item, path.TrimEnd('.') + "[" + i++.ToString(CultureInfo.InvariantCulture) + "]."));
                }
            }
        }

        return null;
    }

    private static Int3 ReadInt3(JsonArray array, string name, string? source)
    {
        if (array.Count != 3)
        {
            throw InvalidInfo($"\"{name}\" must have three values [x, y, z].", source);
        }

        try
        {
            return new Int3(array[0]!.GetValue<int>(), array[1]!.GetValue<int>(), array[2]!.GetValue<int>());
        }
        catch (Exception ex) when (ex is FormatException or InvalidOperationException or NullReferenceException)
        {
            throw InvalidInfo($"\"{name}\" must hold integers.", source, ex);
        }
    }

    private static double[] ReadDouble3(JsonArray array, string? source)
    {
        if (array.Count != 3)
        {
            throw InvalidInfo("\"resolution\" must have three values [x, y, z].", source);
        }

        try
        {
            return new[] { array[0]!.GetValue<double>(), array[1]!.GetValue<double>(), array[2]!.GetValue<double>() };
        }
        catch (Exception ex) when (ex is FormatException or InvalidOperationException or NullReferenceException)
        {
            throw InvalidInfo("\"resolution\" must hold numbers.", source, ex);
        }
    }

    internal static EngineException InvalidInfo(string message, string? source, Exception? inner = null) =>
        new("InvalidPrecomputedInfo", EngineErrorKind.InvalidData, source is null ? message : $"{source}: {message}", source, inner);
}
