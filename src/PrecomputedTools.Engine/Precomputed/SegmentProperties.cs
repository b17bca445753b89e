using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace PrecomputedTools.Engine.Precomputed;

/// <summary>
/// One property of neuroglancer's segment_properties beyond the label (neuroglancer segment_properties.md,
/// 'info JSON file format'): a
/// description, a string or number column, or tags. Values are kept per segment id; ids without
/// one get "" (strings), 0 (numbers) or no tags.
/// </summary>
public sealed class SegmentProperty
{
    public const string DescriptionType = "description";
    public const string StringType = "string";
    public const string NumberType = "number";
    public const string TagsType = "tags";

    public SegmentProperty(string id, string type, string? dataType = null)
    {
        if (type is not (DescriptionType or StringType or NumberType or TagsType))
        {
            throw new ArgumentException($"'{type}' is not a segment property type this module writes.", nameof(type));
        }

        Id = id;
        Type = type;
        DataType = dataType;
    }

    /// <summary>The property id shown in the viewer (a column name).</summary>
    public string Id { get; }

    /// <summary>description, string, number or tags.</summary>
    public string Type { get; }

    /// <summary>For numbers: int32, uint32 or float32 (the format has no 64-bit type).</summary>
    public string? DataType { get; set; }

    /// <summary>Text per segment (description and string properties).</summary>
    public SortedDictionary<ulong, string> Text { get; } = new();

    /// <summary>Value per segment (number properties).</summary>
    public SortedDictionary<ulong, double> Numbers { get; } = new();

    /// <summary>Tag names per segment (tags property): no '#', no spaces.</summary>
    public SortedDictionary<ulong, string[]> Tags { get; } = new();

    public IEnumerable<ulong> Ids => Type switch
    {
        NumberType => Numbers.Keys,
        TagsType => Tags.Keys,
        _ => Text.Keys,
    };

    /// <summary>The narrowest number type the format has that holds every value exactly (float32 otherwise).</summary>
    public static string ChooseNumberType(IEnumerable<double> values)
    {
        bool integral = true, negative = false, fitsInt32 = true, fitsUInt32 = true;
        foreach (double v in values)
        {
            if (double.IsNaN(v) || double.IsInfinity(v) || Math.Floor(v) != v)
            {
                integral = false;
                break;
            }

            negative |= v < 0;
            fitsInt32 &= v >= int.MinValue && v <= int.MaxValue;
            fitsUInt32 &= v >= 0 && v <= uint.MaxValue;
        }

        if (!integral)
        {
            return "float32";
        }

        return fitsInt32 ? "int32" : (!negative && fitsUInt32 ? "uint32" : "float32");
    }

    /// <summary>A tag name as the format allows it: no '#', whitespace as '_'.</summary>
    public static string CleanTag(string tag)
    {
        var chars = tag.Trim().TrimStart('#').ToCharArray();
        for (int i = 0; i < chars.Length; i++)
        {
            if (char.IsWhiteSpace(chars[i]))
            {
                chars[i] = '_';
            }
        }

        return new string(chars);
    }
}

/// <summary>Writes segment_properties/info and keeps the extra properties in stage plans.</summary>
public static class SegmentProperties
{
    /// <summary>The segment_properties info: every id with a label or any property, ascending, as decimal strings.</summary>
    public static byte[] ToInfoJson(IReadOnlyDictionary<ulong, string>? labels, IReadOnlyList<SegmentProperty>? extra)
    {
        extra ??= Array.Empty<SegmentProperty>();
        ulong[] ids = (labels?.Keys ?? Enumerable.Empty<ulong>()).Concat(extra.SelectMany(p => p.Ids)).Distinct().OrderBy(i => i).ToArray();
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("@type", "neuroglancer_segment_properties");
            w.WriteStartObject("inline");
            w.WriteStartArray("ids");
            foreach (ulong id in ids)
            {
                w.WriteStringValue(id.ToString(CultureInfo.InvariantCulture));
            }

            w.WriteEndArray();
            w.WriteStartArray("properties");
            if (labels is { Count: > 0 })
            {
                w.WriteStartObject();
                w.WriteString("id", "label");
                w.WriteString("type", "label");
                w.WriteStartArray("values");
                foreach (ulong id in ids)
                {
                    w.WriteStringValue(labels.TryGetValue(id, out string? name) ? name : "");
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }

            foreach (SegmentProperty p in extra)
            {
                WriteProperty(w, p, ids);
            }

            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static void WriteProperty(Utf8JsonWriter w, SegmentProperty p, ulong[] ids)
    {
        w.WriteStartObject();
        w.WriteString("id", p.Id);
        w.WriteString("type", p.Type);
        switch (p.Type)
        {
            case SegmentProperty.NumberType:
                w.WriteString("data_type", p.DataType ?? SegmentProperty.ChooseNumberType(p.Numbers.Values));
                w.WriteStartArray("values");
                foreach (ulong id in ids)
                {
                    w.WriteNumberValue(p.Numbers.TryGetValue(id, out double v) ? v : 0);
                }

                w.WriteEndArray();
                break;
            case SegmentProperty.TagsType:
                // Tag names are matched case-insensitively: one entry per name whatever its case.
                string[] names = p.Tags.Values.SelectMany(t => t).Distinct(StringComparer.OrdinalIgnoreCase).OrderBy(t => t, StringComparer.OrdinalIgnoreCase).ToArray();
                w.WriteStartArray("tags");
                foreach (string name in names)
                {
                    w.WriteStringValue(name);
                }

                w.WriteEndArray();
                w.WriteStartArray("values");
                foreach (ulong id in ids)
                {
                    w.WriteStartArray();
                    if (p.Tags.TryGetValue(id, out string[]? tags))
                    {
                        foreach (int index in tags.Select(t => Array.FindIndex(names, n => string.Equals(n, t, StringComparison.OrdinalIgnoreCase))).Distinct().OrderBy(i => i))
                        {
                            w.WriteNumberValue(index);
                        }
                    }

                    w.WriteEndArray();
                }

                w.WriteEndArray();
                break;
            default:
                w.WriteStartArray("values");
                foreach (ulong id in ids)
                {
                    w.WriteStringValue(p.Text.TryGetValue(id, out string? text) ? text : "");
                }

                w.WriteEndArray();
                break;
        }

        w.WriteEndObject();
    }

    /// <summary>The extra properties in a stage plan: [{id, type, dataType?, values: {"id": value}}].</summary>
    public static void WritePlan(Utf8JsonWriter w, string name, IReadOnlyList<SegmentProperty> properties)
    {
        w.WriteStartArray(name);
        foreach (SegmentProperty p in properties)
        {
            w.WriteStartObject();
            w.WriteString("id", p.Id);
            w.WriteString("type", p.Type);
            if (p.DataType is not null)
            {
                w.WriteString("dataType", p.DataType);
            }

            w.WriteStartObject("values");
            foreach (ulong id in p.Ids)
            {
                string key = id.ToString(CultureInfo.InvariantCulture);
                switch (p.Type)
                {
                    case SegmentProperty.NumberType:
                        w.WriteNumber(key, p.Numbers[id]);
                        break;
                    case SegmentProperty.TagsType:
                        w.WriteStartArray(key);
                        foreach (string tag in p.Tags[id])
                        {
                            w.WriteStringValue(tag);
                        }

                        w.WriteEndArray();
                        break;
                    default:
                        w.WriteString(key, p.Text[id]);
                        break;
                }
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    public static List<SegmentProperty> ReadPlan(JsonElement array)
    {
        var properties = new List<SegmentProperty>();
        foreach (JsonElement e in array.EnumerateArray())
        {
            var p = new SegmentProperty(
                e.GetProperty("id").GetString() ?? "",
                e.GetProperty("type").GetString() ?? "",
                e.TryGetProperty("dataType", out JsonElement dataType) ? dataType.GetString() : null);
            foreach (JsonProperty value in e.GetProperty("values").EnumerateObject())
            {
                ulong id = ulong.Parse(value.Name, NumberStyles.None, CultureInfo.InvariantCulture);
                switch (p.Type)
                {
                    case SegmentProperty.NumberType:
                        p.Numbers[id] = value.Value.GetDouble();
                        break;
                    case SegmentProperty.TagsType:
                        p.Tags[id] = value.Value.EnumerateArray().Select(t => t.GetString() ?? "").ToArray();
                        break;
                    default:
                        p.Text[id] = value.Value.GetString() ?? "";
                        break;
                }
            }

            properties.Add(p);
        }

        return properties;
    }
}
