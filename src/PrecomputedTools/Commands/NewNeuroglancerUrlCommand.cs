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
/// <para type="synopsis">Builds a neuroglancer link (or state JSON) that opens a dataset with chosen segments visible.</para>
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

    /// <summary>Segment ids to show (uint64).</summary>
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
        LayerSpec first = _layers[0];
        if (first.Dataset is { } geometry)
        {
            state.ResolutionNm = (double[])geometry.Resolution.Clone();
            state.Position = NeuroglancerState.CenterOf(geometry.Size, geometry.Scales[0].VoxelOffset);
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < _layers.Count; i++)
        {
            LayerSpec spec = _layers[i];
            string name = i == 0 && LayerName is { Length: > 0 } ? LayerName : spec.Name;
            while (!names.Add(name))
            {
                name += "'";
            }

            string type = spec.Dataset?.Type == "image" ? "image" : "segmentation";
            var layer = new NeuroglancerLayer(name, spec.Source, type);
            if (i == 0)
            {
                layer.Segments.AddRange(_segments);
            }

            state.Layers.Add(layer);
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

        WriteObject(new NeuroglancerLink(url, ViewerUrl, json, _layers.Select(l => l.Source).ToArray(), _segments.Distinct().Count()));
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
        }

        public string Source { get; }

        public string Name { get; }

        public PrecomputedDataset? Dataset { get; }
    }
}
