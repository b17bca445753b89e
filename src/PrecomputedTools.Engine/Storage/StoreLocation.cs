using System;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace PrecomputedTools.Engine.Storage;

/// <summary>What a store needs beyond its location: S3 connection settings, concurrency, durability.</summary>
public sealed class StoreOptions
{
    /// <summary>Region, endpoint and credentials for s3:// and gs:// locations.</summary>
    public S3ConnectionOptions S3 { get; set; } = new();

    /// <summary>Requests in flight at once for remote stores.</summary>
    public int MaxInFlight { get; set; } = 16;

    /// <summary>Flush local files to the disk before they take their final name (default true).</summary>
    public bool Durable { get; set; } = true;

    public StoreOptions Clone() => new() { S3 = S3.Clone(), MaxInFlight = MaxInFlight, Durable = Durable };

    /// <summary>
    /// The settings another process needs to reach the same store, without any secret:
    /// {"region", "endpointUrl", "profileName"} (members only when set). Saved in stage plans.
    /// </summary>
    public JsonObject ToPublicJson()
    {
        var o = new JsonObject();
        if (S3.Region is { Length: > 0 } region)
        {
            o["region"] = region;
        }

        if (S3.EndpointUrl is { } endpoint)
        {
            o["endpointUrl"] = endpoint.ToString();
        }

        if (S3.ProfileName is { Length: > 0 } profile)
        {
            o["profileName"] = profile;
        }

        return o;
    }

    /// <summary>
    /// Options for a store described by <paramref name="settings"/> (see <see cref="ToPublicJson"/>):
    /// what <paramref name="local"/> (this process's parameters: credentials, an endpoint) sets wins.
    /// </summary>
    public static StoreOptions FromPublicJson(JsonObject? settings, StoreOptions? local)
    {
        StoreOptions options = local?.Clone() ?? new StoreOptions();
        if (settings is null)
        {
            return options;
        }

        string? Text(string name) => settings[name] is JsonValue v && v.TryGetValue(out string? s) ? s : null;
        options.S3.Region ??= Text("region");
        if (options.S3.EndpointUrl is null && Text("endpointUrl") is { } endpoint)
        {
            options.S3.EndpointUrl = new Uri(endpoint);
        }

        if (options.S3.ProfileName is null && options.S3.AccessKey is null && Text("profileName") is { } profile)
        {
            options.S3.ProfileName = profile;
        }

        return options;
    }
}

/// <summary>
/// Dataset locations as users write them: a local path or <c>file://</c> URL; <c>s3://bucket/prefix</c>;
/// <c>gs://bucket/prefix</c> (Google Cloud Storage through its S3-interoperable endpoint with HMAC
/// keys); <c>http(s)://…</c> (read-only), also with the viewer's <c>precomputed://</c> in front.
/// </summary>
public static class StoreLocation
{
    private const string ViewerPrefix = "precomputed://";
    private static readonly Regex s_scheme = new("^(?<scheme>[A-Za-z][A-Za-z0-9+.-]+)://(?<rest>.*)$", RegexOptions.CultureInvariant | RegexOptions.Singleline);

    /// <summary>True when <paramref name="location"/> is a URL ("scheme://…"), not a file-system path.</summary>
    public static bool IsUri(string location) => s_scheme.IsMatch(location);

    /// <summary>Removes the viewer's "precomputed://" in front of a URL.</summary>
    public static string StripViewerPrefix(string location) =>
        location.StartsWith(ViewerPrefix, StringComparison.OrdinalIgnoreCase) ? location.Substring(ViewerPrefix.Length) : location;

    /// <summary>Opens the store of a location (a full local path or a URL).</summary>
    public static IObjectStore Open(string location, StoreOptions? options = null)
    {
        options ??= new StoreOptions();
        string text = StripViewerPrefix(location.Trim());
        Match m = s_scheme.Match(text);
        if (!m.Success)
        {
            return new FolderStore(text, options.Durable);
        }

        string scheme = m.Groups["scheme"].Value.ToLowerInvariant();
        string rest = m.Groups["rest"].Value;
        switch (scheme)
        {
            case "file":
                return new FolderStore(new Uri(text).LocalPath, options.Durable);
            case "s3":
            case "gs":
            {
                int slash = rest.IndexOf('/');
                string bucket = slash < 0 ? rest : rest.Substring(0, slash);
                string prefix = slash < 0 ? "" : rest.Substring(slash + 1);
                if (bucket.Length == 0)
                {
                    throw new EngineException("InvalidStoreLocation", EngineErrorKind.InvalidArgument, $"'{location}' names no bucket; write {scheme}://bucket/prefix.", location);
                }

                S3ConnectionOptions s3 = options.S3.Clone();
                s3.MaxInFlight = options.MaxInFlight;
                if (scheme == "gs" && s3.EndpointUrl is null)
                {
                    s3.EndpointUrl = S3ConnectionOptions.GoogleStorageEndpoint;
                    s3.Region ??= "auto";
                }

                return new S3Store(bucket, prefix, s3, scheme);
            }

            case "http":
            case "https":
                return new HttpStore(new Uri(text), options.MaxInFlight);
            default:
                throw new EngineException(
                    "UnknownStoreScheme",
                    EngineErrorKind.InvalidArgument,
                    $"'{location}' has the scheme '{scheme}://', which is not a dataset location this module knows. Use a folder path, file://, s3://, gs://, http:// or https://.",
                    location);
        }
    }
}
