using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;

namespace PrecomputedTools.Engine.Publishing;

/// <summary>One layer of a neuroglancer state.</summary>
public sealed class NeuroglancerLayer
{
    public NeuroglancerLayer(string name, string source, string type = "segmentation")
    {
        Name = name;
        Source = source;
        Type = type;
    }

    public string Name { get; }

    /// <summary>A data-source URL such as "precomputed://https://host/dataset".</summary>
    public string Source { get; }

    /// <summary>"segmentation" or "image".</summary>
    public string Type { get; }

    /// <summary>Visible segment ids (uint64; written as decimal strings).</summary>
    public List<ulong> Segments { get; } = new();

    /// <summary>Layer opacity 0..1 (image layers); null leaves the viewer's default.</summary>
    public double? Opacity { get; set; }

    /// <summary>A GLSL shader for an image layer; null leaves the viewer's default.</summary>
    public string? Shader { get; set; }

    /// <summary>The range of the shader's "normalized" invlerp control (image layers), e.g. [0, 255] for uint8 EM.</summary>
    public double[]? NormalizedRange { get; set; }

    /// <summary>Opacity of selected segments over the image below (segmentation layers).</summary>
    public double? SelectedAlpha { get; set; }
}

/// <summary>
/// Builds the modern neuroglancer JSON state (layers list, dimensions in metres, position at the volume
/// centre, segments as strings, layout) and its percent-encoded "#!" URL (README, 'New-NeuroglancerUrl').
/// </summary>
public sealed class NeuroglancerState
{
    public const string DefaultViewerUrl = "https://neuroglancer-demo.appspot.com";

    public static readonly string[] Layouts = { "4panel", "4panel-alt", "xy", "xz", "yz", "3d", "xy-3d", "xz-3d", "yz-3d" };

    /// <summary>Voxel size of scale 0 in nanometres; null leaves "dimensions" to the viewer.</summary>
    public double[]? ResolutionNm { get; set; }

    /// <summary>Position in scale-0 voxels (voxel offset included); null lets the viewer centre on the data.</summary>
    public double[]? Position { get; set; }

    public string Layout { get; set; } = "4panel";

    public double? CrossSectionScale { get; set; }

    public double? ProjectionScale { get; set; }

    public List<NeuroglancerLayer> Layers { get; } = new();

    /// <summary>The centre voxel of a volume: offset + floor(size/2) + 0.5 (voxel centres are at .5).</summary>
    public static double[] CenterOf(IReadOnlyList<int> size, IReadOnlyList<int>? voxelOffset)
    {
        var position = new double[3];
        for (int i = 0; i < 3; i++)
        {
            position[i] = (voxelOffset is null ? 0 : voxelOffset[i]) + Math.Floor(size[i] / 2.0) + 0.5;
        }

        return position;
    }

    public string ToJson(bool indented = false)
    {
        if (Layers.Count == 0)
        {
            throw new EngineException("NoLayers", EngineErrorKind.InvalidArgument, "A neuroglancer state needs at least one layer (a dataset or a source URL).");
        }

        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented }))
        {
            w.WriteStartObject();
            if (ResolutionNm is { Length: 3 } resolution)
            {
                w.WriteStartObject("dimensions");
                string[] axes = { "x", "y", "z" };
                for (int i = 0; i < 3; i++)
                {
                    w.WriteStartArray(axes[i]);
                    w.WriteNumberValue(resolution[i] / 1e9);
                    w.WriteStringValue("m");
                    w.WriteEndArray();
                }

                w.WriteEndObject();
            }

            if (Position is { Length: 3 } position)
            {
                w.WriteStartArray("position");
                foreach (double p in position)
                {
                    w.WriteNumberValue(p);
                }

                w.WriteEndArray();
            }

            if (CrossSectionScale is { } cross)
            {
                w.WriteNumber("crossSectionScale", cross);
            }

            if (ProjectionScale is { } projection)
            {
                w.WriteNumber("projectionScale", projection);
            }

            w.WriteStartArray("layers");
            foreach (NeuroglancerLayer layer in Layers)
            {
                w.WriteStartObject();
                w.WriteString("type", layer.Type);
                w.WriteString("source", layer.Source);
                w.WriteString("name", layer.Name);
                if (layer.Opacity is { } opacity)
                {
                    w.WriteNumber("opacity", opacity);
                }

                if (layer.Shader is { } shader)
                {
                    w.WriteString("shader", shader);
                }

                if (layer.NormalizedRange is { Length: 2 } range)
                {
                    w.WriteStartObject("shaderControls");
                    w.WriteStartObject("normalized");
                    w.WriteStartArray("range");
                    w.WriteNumberValue(range[0]);
                    w.WriteNumberValue(range[1]);
                    w.WriteEndArray();
                    w.WriteEndObject();
                    w.WriteEndObject();
                }

                if (layer.SelectedAlpha is { } alpha)
                {
                    w.WriteNumber("selectedAlpha", alpha);
                }

                if (layer.Segments.Count > 0)
                {
                    w.WriteStartArray("segments");
                    var seen = new HashSet<ulong>();
                    foreach (ulong id in layer.Segments)
                    {
                        if (seen.Add(id))
                        {
                            // Strings: JS numbers are exact only to 2^53, and uint64 ids go to 2^64 - 1.
                            w.WriteStringValue(id.ToString(CultureInfo.InvariantCulture));
                        }
                    }

                    w.WriteEndArray();
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartObject("selectedLayer");
            w.WriteString("layer", (Layers.FirstOrDefault(l => l.Type == "segmentation") ?? Layers[0]).Name);
            w.WriteBoolean("visible", true);
            w.WriteEndObject();
            w.WriteString("layout", Layout);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>"&lt;viewer&gt;/#!" + the percent-encoded JSON (Uri.EscapeDataString, which decodeURIComponent reverses).</summary>
    public static string BuildUrl(string viewerUrl, string json)
    {
        string viewer = string.IsNullOrWhiteSpace(viewerUrl) ? DefaultViewerUrl : viewerUrl.Trim();
        int hash = viewer.IndexOf('#');
        if (hash >= 0)
        {
            viewer = viewer.Substring(0, hash);
        }

        return viewer.TrimEnd('/') + "/#!" + EscapeLong(json);
    }

    public string ToUrl(string viewerUrl) => BuildUrl(viewerUrl, ToJson());

    /// <summary>
    /// Warnings for sources an https viewer cannot fetch: http URLs other than localhost/127.0.0.1
    /// (mixed content; README, 'New-NeuroglancerUrl').
    /// </summary>
    public static IReadOnlyList<string> CheckMixedContent(string viewerUrl, IEnumerable<string> sources)
    {
        var warnings = new List<string>();
        if (!Uri.TryCreate(string.IsNullOrWhiteSpace(viewerUrl) ? DefaultViewerUrl : viewerUrl, UriKind.Absolute, out Uri? viewer) || viewer.Scheme != Uri.UriSchemeHttps)
        {
            return warnings;
        }

        foreach (string source in sources)
        {
            string url = StripDataSourceScheme(source);
            if (url.StartsWith("s3+http://", StringComparison.OrdinalIgnoreCase))
            {
                url = url.Substring(3);
            }

            if (Uri.TryCreate(url, UriKind.Absolute, out Uri? data) && data.Scheme == Uri.UriSchemeHttp && !IsLoopbackHost(data.Host))
            {
                warnings.Add($"The https viewer {viewer.GetLeftPart(UriPartial.Authority)} cannot load the http source {data.GetLeftPart(UriPartial.Authority)} (mixed content); only http://127.0.0.1 and http://localhost are exempt. Serve the data over https, or use an http viewer.");
            }
        }

        return warnings;
    }

    /// <summary>"precomputed://https://h/p" -> "https://h/p".</summary>
    public static string StripDataSourceScheme(string source)
    {
        const string Precomputed = "precomputed://";
        string s = source.Trim();
        if (s.StartsWith(Precomputed, StringComparison.OrdinalIgnoreCase))
        {
            s = s.Substring(Precomputed.Length);
        }

        int pipe = s.IndexOf('|');
        return pipe >= 0 ? s.Substring(0, pipe) : s;
    }

    /// <summary>"https://h/p" -> "precomputed://https://h/p"; sources that already name a scheme are kept.</summary>
    public static string ToDataSource(string urlOrSource)
    {
        string s = urlOrSource.Trim().TrimEnd('/');
        if (s.StartsWith("precomputed://", StringComparison.OrdinalIgnoreCase) || s.Contains("|"))
        {
            return s;
        }

        return "precomputed://" + s;
    }

    private static bool IsLoopbackHost(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host == "127.0.0.1" || host == "[::1]" || host == "::1";

    private static string EscapeLong(string text)
    {
        // .NET Framework limits EscapeDataString to 32766 characters; escape in pieces that never split a surrogate pair.
        const int Piece = 16000;
        if (text.Length <= Piece)
        {
            return Uri.EscapeDataString(text);
        }

        var result = new StringBuilder(text.Length * 2);
        for (int start = 0; start < text.Length;)
        {
            int length = Math.Min(Piece, text.Length - start);
            if (start + length < text.Length && char.IsHighSurrogate(text[start + length - 1]))
            {
                length--;
            }

            result.Append(Uri.EscapeDataString(text.Substring(start, length)));
            start += length;
        }

        return result.ToString();
    }
}
