using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Management.Automation;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Publishing;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Infrastructure;

namespace PrecomputedTools.Commands;

/// <summary>
/// <para type="synopsis">Builds a neuroglancer link (or state JSON) that opens one or more datasets (EM image layers under segmentation layers) with chosen segments visible.</para>
/// </summary>
[Cmdlet(VerbsCommon.New, "NeuroglancerUrl")]
[OutputType(typeof(NeuroglancerLink), typeof(string))]
public sealed class NewNeuroglancerUrlCommand : PrecomputedCmdlet
{
    private readonly List<LayerSpec> _layers = new();
    private readonly List<ulong> _segments = new();

    /// <summary>
    /// Pipeline input: a dataset (PublishedDataset, PrecomputedServer, PrecomputedDataset), a source URL
    /// string, or segments: objects with an Id or SegmentId property (New-SegmentMesh output) and plain numbers.
    /// </summary>
    [Parameter(ValueFromPipeline = true)]
    public object? InputObject { get; set; }

    /// <summary>The dataset to show: a PublishedDataset, a PrecomputedServer, a PrecomputedDataset that is being served, a source URL, or the path of a served local dataset.</summary>
    [Parameter(Position = 0)]
    public object? Dataset { get; set; }

    /// <summary>Data-source URLs ("precomputed://https://host/path", or a plain https URL).</summary>
    [Parameter]
    public string[]? Source { get; set; }

    /// <summary>
    /// Layers described by hashtables: Source (a URL) or Dataset (as -Dataset takes), and optionally
    /// Type (image or segmentation; default the dataset's type, else segmentation), Name, SegmentId,
    /// Opacity (0..1), Shader (GLSL for an image layer). Example: @{ Source = 'precomputed://https://host/em'; Type = 'image' }.
    /// </summary>
    [Parameter]
    public Hashtable[]? Layer { get; set; }

    /// <summary>Segment ids to show (uint64), in the first segmentation layer.</summary>
    [Parameter]
    public ulong[]? SegmentId { get; set; }

    /// <summary>The URL where a local PrecomputedDataset is hosted, when it is not served by Start-PrecomputedServer.</summary>
    [Parameter]
    public string? BaseUrl { get; set; }

    /// <summary>Viewer to open. Default https://neuroglancer-demo.appspot.com.</summary>
    [Parameter]
    public string ViewerUrl { get; set; } = NeuroglancerState.DefaultViewerUrl;

    /// <summary>Panel layout.</summary>
    [Parameter]
    [ValidateSet("4panel", "4panel-alt", "xy", "xz", "yz", "3d", "xy-3d", "xz-3d", "yz-3d")]
    public string Layout { get; set; } = "4panel";

    /// <summary>Layer name (default: the dataset's name).</summary>
    [Parameter]
    public string? LayerName { get; set; }

    /// <summary>Return the state JSON instead of a link object.</summary>
    [Parameter]
    public SwitchParameter AsState { get; set; }

    protected override void BeginProcessing()
    {
        base.BeginProcessing();
        if (Dataset is not null)
        {
            AddDataset(Dataset);
        }

        foreach (string source in Source ?? Array.Empty<string>())
        {
            _layers.Add(new LayerSpec(NeuroglancerState.ToDataSource(source), NameFromSource(source), null));
        }

        foreach (Hashtable table in Layer ?? Array.Empty<Hashtable>())
        {
            AddLayerTable(table);
        }

        if (SegmentId is not null)
        {
            _segments.AddRange(SegmentId);
        }
    }

    protected override void ProcessRecord()
    {
        if (InputObject is null)
        {
            return;
        }

        object value = InputObject is PSObject pso ? pso.BaseObject : InputObject;
        if (value is PrecomputedDataset or PublishedDataset or PrecomputedServer)
        {
            AddDataset(value);
            return;
        }

        if (value is string text && !IsDigits(text))
        {
            AddText(text);
            return;
        }

        if (TryGetSegmentId(InputObject, out ulong id, out string? problem))
        {
            _segments.Add(id);
        }
        else
        {
            WriteError(NewError("InvalidSegmentId", ErrorCategory.InvalidArgument, problem!, InputObject));
        }
    }

    protected override void EndProcessing()
    {
        if (_layers.Count == 0)
        {
            ThrowTerminatingError(NewError(
                "NoSourceUrl",
                ErrorCategory.InvalidArgument,
                "No dataset or source was given. Pipe a PublishedDataset, PrecomputedServer or PrecomputedDataset, or use -Dataset or -Source.",
                null));
        }

        var state = new NeuroglancerState { Layout = Layout };

        // The viewer draws later layers over earlier ones: images first, segmentations over them
        // (each group in the order given); the geometry comes from the finest dataset given.
        LayerSpec[] ordered = _layers.Where(l => l.Type == "image").Concat(_layers.Where(l => l.Type != "image")).ToArray();
        if (_layers.Where(l => l.Dataset is not null).Select(l => l.Dataset!).OrderBy(d => d.Resolution[0] * d.Resolution[1] * d.Resolution[2]).FirstOrDefault() is { } geometry)
        {
            state.ResolutionNm = (double[])geometry.Resolution.Clone();
            state.Position = NeuroglancerState.CenterOf(geometry.Size, geometry.Scales[0].VoxelOffset);
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        LayerSpec? firstSegmentation = ordered.FirstOrDefault(l => l.Type == "segmentation");
        bool overImage = ordered.Any(l => l.Type == "image");
        foreach (LayerSpec spec in ordered)
        {
            string name = ReferenceEquals(spec, _layers[0]) && LayerName is { Length: > 0 } ? LayerName : spec.Name;
            while (!names.Add(name))
            {
                name += "'";
            }

            var layer = new NeuroglancerLayer(name, spec.Source, spec.Type) { Opacity = spec.Opacity, Shader = spec.Shader };
            layer.Segments.AddRange(spec.Segments);
            if (ReferenceEquals(spec, firstSegmentation))
            {
                layer.Segments.AddRange(_segments);

                // Over an image, selected segments are tinted rather than painted, so the EM stays readable.
                layer.SelectedAlpha = overImage ? 0.35 : null;
            }

            // EM is uint8: the full range maps to black..white, and the viewer need not guess it.
            if (spec.Type == "image" && spec.Shader is null && spec.Dataset?.Info.DataType == VoxelType.UInt8)
            {
                layer.NormalizedRange = new double[] { 0, 255 };
            }

            state.Layers.Add(layer);
        }

        if (_segments.Count > 0 && firstSegmentation is null)
        {
            WriteWarning("Segment ids were given but every layer is an image layer; they are not shown.");
        }

        foreach (string warning in NeuroglancerState.CheckMixedContent(ViewerUrl, _layers.Select(l => l.Source)))
        {
            WriteWarning(warning);
        }

        if (AsState)
        {
            WriteObject(state.ToJson(indented: true));
            return;
        }

        string json = state.ToJson();
        string url = NeuroglancerState.BuildUrl(ViewerUrl, json);
        if (url.Length > 100_000)
        {
            WriteWarning($"The link is {url.Length:N0} characters long; browsers and chat tools may cut it. Save the state with -AsState and open '<viewer>/#!https://host/state.json' instead.");
        }

        WriteObject(new NeuroglancerLink(url, ViewerUrl, json, ordered.Select(l => l.Source).ToArray(), _segments.Distinct().Count()));
    }

    private void AddDataset(object value)
    {
        value = value is PSObject pso ? pso.BaseObject : value;
        switch (value)
        {
            case PublishedDataset published:
                _layers.Add(new LayerSpec(published.Source, published.Name, published.Dataset));
                break;
            case PrecomputedServer server:
                if (server.Source is null)
                {
                    ThrowTerminatingError(NewError("NoSourceUrl", ErrorCategory.InvalidArgument, $"The server at {server.Url} serves a folder of datasets, not one dataset; use -Source {server.Url}/<dataset>.", server));
                }

                _layers.Add(new LayerSpec(server.Source!, server.Dataset!.Name, server.Dataset));
                break;
            case PrecomputedDataset dataset:
                _layers.Add(new LayerSpec(SourceFor(dataset), dataset.Name, dataset));
                break;
            case string text:
                AddText(text);
                break;
            default:
                ThrowTerminatingError(NewError("UnsupportedDataset", ErrorCategory.InvalidArgument, $"-Dataset takes a PublishedDataset, PrecomputedServer, PrecomputedDataset or URL, not {value.GetType().Name}.", value));
                break;
        }
    }

    // A URL is a data source as given; anything else is a path to a local dataset, which must be
    // served (or -BaseUrl given) for the viewer to reach it, exactly as a piped dataset.
    private void AddText(string text)
    {
        if (text.IndexOf("://", StringComparison.Ordinal) > 0)
        {
            _layers.Add(new LayerSpec(NeuroglancerState.ToDataSource(text), NameFromSource(text), null));
            return;
        }

        string folder = ResolveExistingPath(text, literal: false);
        PrecomputedDataset dataset;
        try
        {
            dataset = PrecomputedDataset.Load(folder);
        }
        catch (EngineException ex)
        {
            ThrowTerminatingError(ToErrorRecord(ex));
            return;
        }

        AddDataset(dataset);
    }

    private string SourceFor(PrecomputedDataset dataset)
    {
        if (BaseUrl is { Length: > 0 })
        {
            return NeuroglancerState.ToDataSource(BaseUrl);
        }

        // A dataset on S3 or over http(s) has its own URL: s3:// becomes the bucket's https URL
        // (path style on an -EndpointUrl server), as Publish-PrecomputedS3 reports it.
        if (StoreLocation.IsUri(dataset.Path))
        {
            using IObjectStore store = StoreLocation.Open(dataset.Path, dataset.StoreOptions);
            switch (store)
            {
                case S3Store s3:
                    return "precomputed://" + s3.HttpUrl;
                case HttpStore http:
                    return "precomputed://" + http.Location;
            }
        }

        string path = System.IO.Path.GetFullPath(dataset.Path).TrimEnd(System.IO.Path.DirectorySeparatorChar);
        foreach (PrecomputedServer server in ServerRegistry.All().Where(s => s.IsRunning))
        {
            string root = server.Root;
            if (string.Equals(root, path, StringComparison.Ordinal))
            {
                return "precomputed://" + server.Url;
            }

            if (path.StartsWith(root + System.IO.Path.DirectorySeparatorChar, StringComparison.Ordinal))
            {
                string relative = path.Substring(root.Length + 1).Replace(System.IO.Path.DirectorySeparatorChar, '/');
                return "precomputed://" + server.Url + "/" + string.Join("/", relative.Split('/').Select(Uri.EscapeDataString));
            }
        }

        ThrowTerminatingError(NewError(
            "NoSourceUrl",
            ErrorCategory.InvalidArgument,
            $"The dataset '{dataset.Path}' is not served or published, so the viewer has no URL for it.",
            dataset,
            "Start-PrecomputedServer, Publish-PrecomputedS3, or give -BaseUrl."));
        return "";
    }

    private void AddLayerTable(Hashtable table)
    {
        object? Get(string key) => table.Cast<DictionaryEntry>().FirstOrDefault(e => string.Equals(e.Key?.ToString(), key, StringComparison.OrdinalIgnoreCase)).Value is { } v ? (v is PSObject p ? p.BaseObject : v) : null;
        string[] known = { "Source", "Dataset", "Type", "Name", "SegmentId", "Opacity", "Shader" };
        string? unknown = table.Keys.Cast<object>().Select(k => k.ToString() ?? "").FirstOrDefault(k => !known.Contains(k, StringComparer.OrdinalIgnoreCase));
        if (unknown is not null)
        {
            ThrowTerminatingError(NewError("InvalidLayer", ErrorCategory.InvalidArgument, $"-Layer has the key '{unknown}'; the keys are {string.Join(", ", known)}.", table));
        }

        int before = _layers.Count;
        if (Get("Dataset") is { } dataset)
        {
            AddDataset(dataset);
        }
        else if (Get("Source") is { } source)
        {
            AddText(source.ToString()!);
        }
        else
        {
            ThrowTerminatingError(NewError("InvalidLayer", ErrorCategory.InvalidArgument, "A -Layer hashtable needs Source (a URL) or Dataset.", table));
        }

        LayerSpec spec = _layers[before];
        try
        {
            if (Get("Type") is { } type)
            {
                string text = type.ToString()!.ToLowerInvariant();
                if (text is not ("image" or "segmentation"))
                {
                    throw new ArgumentException($"Type is '{type}'; it is image or segmentation.");
                }

                spec.Type = text;
            }

            if (Get("Name") is { } name)
            {
                spec.Name = name.ToString()!;
            }

            if (Get("Opacity") is { } opacity)
            {
                double value = Convert.ToDouble(opacity, CultureInfo.InvariantCulture);
                spec.Opacity = value is >= 0 and <= 1 ? value : throw new ArgumentException($"Opacity is {value}; it is 0..1.");
            }

            if (Get("Shader") is { } shader)
            {
                spec.Shader = shader.ToString();
            }

            if (Get("SegmentId") is { } ids)
            {
                foreach (object id in ids is IEnumerable list and not string ? list.Cast<object>() : new[] { ids })
                {
                    spec.Segments.Add(TryGetSegmentId(id, out ulong value, out string? problem) ? value : throw new ArgumentException(problem));
                }
            }
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidCastException or OverflowException)
        {
            ThrowTerminatingError(NewError("InvalidLayer", ErrorCategory.InvalidArgument, "-Layer: " + ex.Message, table));
        }
    }

    private static bool IsDigits(string text) => text.Length > 0 && text.All(c => c >= '0' && c <= '9');

    private static string NameFromSource(string source)
    {
        string url = NeuroglancerState.StripDataSourceScheme(source).TrimEnd('/');
        int slash = url.LastIndexOf('/');
        string name = slash >= 0 ? url.Substring(slash + 1) : url;
        return name.Length == 0 || name.IndexOf(':') >= 0 ? "segmentation" : Uri.UnescapeDataString(name);
    }

    private static bool TryGetSegmentId(object input, out ulong id, out string? problem)
    {
        id = 0;
        problem = null;
        PSObject wrapped = PSObject.AsPSObject(input);
        object candidate = wrapped.BaseObject;
        if (candidate is not (string or IConvertible) || candidate is PSCustomObject)
        {
            PSPropertyInfo? property = wrapped.Properties["Id"] ?? wrapped.Properties["SegmentId"];
            if (property is null)
            {
                problem = $"A {candidate.GetType().Name} is neither a dataset nor a segment (it has no Id or SegmentId property).";
                return false;
            }

            candidate = property.Value is PSObject inner ? inner.BaseObject : property.Value;
        }

        try
        {
            id = candidate switch
            {
                ulong u => u,
                string s => ulong.Parse(s.Trim(), NumberStyles.None, CultureInfo.InvariantCulture),
                decimal or double or float => LanguagePrimitives.ConvertTo<ulong>(candidate),
                _ => Convert.ToUInt64(candidate, CultureInfo.InvariantCulture),
            };
            return true;
        }
        catch (Exception ex) when (ex is FormatException or OverflowException or InvalidCastException or PSInvalidCastException)
        {
            problem = $"'{candidate}' is not a segment id (an unsigned 64-bit integer).";
            return false;
        }
    }

    private sealed class LayerSpec
    {
        public LayerSpec(string source, string name, PrecomputedDataset? dataset)
        {
            Source = source;
            Name = name;
            Dataset = dataset;
            Type = dataset?.Type == "image" ? "image" : "segmentation";
        }

        public string Source { get; }

        public string Name { get; set; }

        public PrecomputedDataset? Dataset { get; }

        public string Type { get; set; }

        public double? Opacity { get; set; }

        public string? Shader { get; set; }

        public List<ulong> Segments { get; } = new();
    }
}
