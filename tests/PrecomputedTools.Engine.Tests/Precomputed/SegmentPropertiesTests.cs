using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Nodes;
using PrecomputedTools.Engine.Precomputed;
using Xunit;

namespace PrecomputedTools.Engine.Tests.Precomputed;

/// <summary>segment_properties/info as neuroglancer segment_properties.md ('info JSON file format') describes it.</summary>
public sealed class SegmentPropertiesTests
{
    private static JsonNode Info(IReadOnlyDictionary<ulong, string>? labels, IReadOnlyList<SegmentProperty> extra) =>
        JsonNode.Parse(SegmentProperties.ToInfoJson(labels, extra))!;

    [Fact]
    public void IdsAreTheSortedUnionAsDecimalStringsAndEveryPropertyHasOneValuePerId()
    {
        var size = new SegmentProperty("voxels", SegmentProperty.NumberType);
        size.Numbers[18446744073709551615] = 7;
        size.Numbers[2] = 56;
        var labels = new Dictionary<ulong, string> { [1] = "soma", [2] = "axon" };
        JsonNode inline = Info(labels, new[] { size })["inline"]!;
        Assert.Equal(new[] { "1", "2", "18446744073709551615" }, inline["ids"]!.AsArray().Select(n => n!.GetValue<string>()));
        JsonArray properties = inline["properties"]!.AsArray();
        Assert.Equal(new[] { "soma", "axon", "" }, properties[0]!["values"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal("int32", properties[1]!["data_type"]!.GetValue<string>());
        Assert.Equal(new[] { 0.0, 56, 7 }, properties[1]!["values"]!.AsArray().Select(n => n!.GetValue<double>()));
    }

    [Theory]
    [InlineData(new[] { 1.0, 2, 3 }, "int32")]
    [InlineData(new[] { -5.0, 3 }, "int32")]
    [InlineData(new[] { 0.0, 4294967295 }, "uint32")]
    [InlineData(new[] { 1.5, 2 }, "float32")]
    [InlineData(new[] { -1.0, 4294967295 }, "float32")]
    public void NumberColumnsGetTheNarrowestTypeThatHoldsThemExactly(double[] values, string expected) =>
        Assert.Equal(expected, SegmentProperty.ChooseNumberType(values));

    [Fact]
    public void TagsAreNamesWithoutHashOrSpacesAndEachValueListsIncreasingIndices()
    {
        var tags = new SegmentProperty("tags", SegmentProperty.TagsType);
        tags.Tags[3] = new[] { "Merged", "proofread" };
        tags.Tags[1] = new[] { SegmentProperty.CleanTag("#needs review"), "MERGED" };
        JsonNode p = Info(null, new[] { tags })["inline"]!["properties"]![0]!;
        string[] names = p["tags"]!.AsArray().Select(n => n!.GetValue<string>()).ToArray();
        Assert.All(names, n => Assert.DoesNotContain(' ', n));
        Assert.All(names, n => Assert.False(n.StartsWith('#')));
        Assert.Equal(3, names.Length); // Merged and MERGED are one tag
        foreach (JsonNode? value in p["values"]!.AsArray())
        {
            int[] indices = value!.AsArray().Select(n => n!.GetValue<int>()).ToArray();
            Assert.Equal(indices.OrderBy(i => i).Distinct(), indices);
        }

        Assert.Equal(2, p["values"]![0]!.AsArray().Count);
        Assert.Null(p["description"]);
    }

    [Fact]
    public void PlansKeepEveryKindOfPropertyExactly()
    {
        var text = new SegmentProperty("path", SegmentProperty.StringType);
        text.Text[5] = "Hindbrain / Raphe";
        var number = new SegmentProperty("volume", SegmentProperty.NumberType, "float32");
        number.Numbers[5] = 2.5;
        var tags = new SegmentProperty("tags", SegmentProperty.TagsType);
        tags.Tags[5] = new[] { "a", "b" };
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            SegmentProperties.WritePlan(w, "p", new[] { text, number, tags });
            w.WriteEndObject();
        }

        List<SegmentProperty> back = SegmentProperties.ReadPlan(JsonDocument.Parse(buffer.ToArray()).RootElement.GetProperty("p"));
        Assert.Equal(
            SegmentProperties.ToInfoJson(null, new[] { text, number, tags }),
            SegmentProperties.ToInfoJson(null, back));
    }
}
