using System;
using System.Collections.Generic;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PrecomputedTools.Engine.Volumes;

/// <summary>
/// How to open a volume again in another process: its kind ("tiff", "boss", "precomputed") and
/// the settings that kind needs (a path, a BOSS channel and region, a dataset location and scale).
/// It never holds a secret: a BOSS token or S3 keys come from the environment of the process that
/// opens it. Saved in stage plans (see the README's "Plan files").
/// </summary>
public sealed class VolumeSourceSpec
{
    public const string TiffKind = "tiff";
    public const string BossKind = "boss";
    public const string PrecomputedKind = "precomputed";

    public VolumeSourceSpec(string kind, JsonObject settings)
    {
        Kind = kind;
        Settings = settings;
    }

    /// <summary>"tiff", "boss" or "precomputed".</summary>
    public string Kind { get; }

    /// <summary>The kind's settings (no "kind" member).</summary>
    public JsonObject Settings { get; }

    /// <summary>A string setting, or null.</summary>
    public string? GetString(string name) => Settings[name] is JsonValue v && v.TryGetValue(out string? s) ? s : null;

    /// <summary>A boolean setting, or false.</summary>
    public bool GetBool(string name) => Settings[name] is JsonValue v && v.TryGetValue(out bool b) && b;

    /// <summary>An integer setting, or null.</summary>
    public int? GetInt(string name) => Settings[name] is JsonValue v && v.TryGetValue(out int i) ? i : null;

    /// <summary>An array of numbers, or null.</summary>
    public double[]? GetNumbers(string name)
    {
        if (Settings[name] is not JsonArray array)
        {
            return null;
        }

        var values = new double[array.Count];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = array[i]!.GetValue<double>();
        }

        return values;
    }

    /// <summary>An array of integers, or null.</summary>
    public int[]? GetInts(string name)
    {
        double[]? numbers = GetNumbers(name);
        if (numbers is null)
        {
            return null;
        }

        var ints = new int[numbers.Length];
        for (int i = 0; i < ints.Length; i++)
        {
            ints[i] = checked((int)numbers[i]);
        }

        return ints;
    }

    /// <summary>Writes {"kind": ..., settings...}.</summary>
    public void WriteTo(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("kind", Kind);
        foreach (KeyValuePair<string, JsonNode?> member in Settings)
        {
            writer.WritePropertyName(member.Key);
            if (member.Value is null)
            {
                writer.WriteNullValue();
            }
            else
            {
                member.Value.WriteTo(writer);
            }
        }

        writer.WriteEndObject();
    }

    /// <summary>Reads what <see cref="WriteTo"/> wrote.</summary>
    public static VolumeSourceSpec Read(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException("a source is an object with a \"kind\"");
        }

        string kind = element.GetProperty("kind").GetString() ?? "";
        var settings = new JsonObject();
        foreach (JsonProperty p in element.EnumerateObject())
        {
            if (p.Name != "kind")
            {
                settings[p.Name] = JsonNode.Parse(p.Value.GetRawText());
            }
        }

        return new VolumeSourceSpec(kind, settings);
    }

    /// <summary>A JSON array of numbers.</summary>
    public static JsonArray Numbers(IEnumerable<double> values)
    {
        var array = new JsonArray();
        foreach (double v in values)
        {
            array.Add(v);
        }

        return array;
    }

    /// <summary>A JSON array of integers.</summary>
    public static JsonArray Ints(IEnumerable<int> values)
    {
        var array = new JsonArray();
        foreach (int v in values)
        {
            array.Add(v);
        }

        return array;
    }
}
