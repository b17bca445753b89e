using System;
using System.Globalization;
using PrecomputedTools.Engine.Publishing;

namespace PrecomputedTools;

/// <summary>A dataset uploaded to S3 or an S3-compatible store by Publish-PrecomputedS3.</summary>
public sealed class PublishedDataset
{
    internal PublishedDataset(PrecomputedDataset dataset, S3PublishResult result)
    {
        Dataset = dataset;
        Name = dataset.Name;
        BucketName = result.BucketName;
        KeyPrefix = result.KeyPrefix;
        S3Uri = result.S3Uri;
        Url = result.Url;
        Source = result.Source;
        ObjectCount = result.ObjectCount;
        UploadedCount = result.UploadedCount;
        SkippedCount = result.SkippedCount;
        UploadedBytes = result.UploadedBytes;
        TotalBytes = result.TotalBytes;
        Elapsed = result.Elapsed;
    }

    /// <summary>The local dataset that was published.</summary>
    public PrecomputedDataset Dataset { get; }

    public string Name { get; }

    public string BucketName { get; }

    /// <summary>Key prefix with a trailing '/' ("" for the bucket root).</summary>
    public string KeyPrefix { get; }

    /// <summary>"s3://bucket/prefix".</summary>
    public string S3Uri { get; }

    /// <summary>The dataset's http(s) URL.</summary>
    public string Url { get; }

    /// <summary>The neuroglancer data source, "precomputed://https://...".</summary>
    public string Source { get; }

    public int ObjectCount { get; }

    public int UploadedCount { get; }

    /// <summary>Objects already present with the same size and MD5.</summary>
    public int SkippedCount { get; }

    public long UploadedBytes { get; }

    public long TotalBytes { get; }

    public TimeSpan Elapsed { get; }

    public override string ToString() => Source;
}

/// <summary>A local static server started by Start-PrecomputedServer.</summary>
public sealed class PrecomputedServer
{
    internal PrecomputedServer(int id, StaticFileServer server, PrecomputedDataset? dataset)
    {
        Id = id;
        Server = server;
        Dataset = dataset;
    }

    /// <summary>Session-wide number, for Stop-PrecomputedServer -Id.</summary>
    public int Id { get; }

    /// <summary>"http://127.0.0.1:port".</summary>
    public string Url => Server.Url;

    /// <summary>The folder served at "/".</summary>
    public string Root => Server.Root;

    public string BindAddress => Server.BindAddress;

    public int Port => Server.Port;

    public bool IsRunning => Server.IsRunning;

    public long RequestCount => Server.RequestCount;

    /// <summary>The dataset served at "/", when the folder is a dataset.</summary>
    public PrecomputedDataset? Dataset { get; }

    /// <summary>The neuroglancer data source of the served dataset, or null when the folder holds several.</summary>
    public string? Source => Dataset is null ? null : "precomputed://" + Url;

    internal StaticFileServer Server { get; }

    public override string ToString() => Url + " -> " + Root;
}

/// <summary>A generated nginx server block (New-PrecomputedNginxConfig).</summary>
public sealed class NginxSiteConfig
{
    internal NginxSiteConfig(string text, string root, string serverName, int port, string location, string? path, bool isDataset)
    {
        Text = text;
        Root = root;
        ServerName = serverName;
        Port = port;
        Location = location;
        Path = path;
        string host = port == 80 ? serverName : serverName + ":" + port.ToString(CultureInfo.InvariantCulture);
        Url = "http://" + host + location.TrimEnd('/');
        Source = isDataset ? "precomputed://" + Url : null;
    }

    /// <summary>The configuration text.</summary>
    public string Text { get; }

    /// <summary>The folder served at <see cref="Location"/>.</summary>
    public string Root { get; }

    public string ServerName { get; }

    public int Port { get; }

    public string Location { get; }

    /// <summary>The file written (-OutFile), or null.</summary>
    public string? Path { get; }

    /// <summary>Base URL of the served folder (http; put TLS in front for an https viewer).</summary>
    public string Url { get; }

    /// <summary>The data source when the folder is a dataset, else null.</summary>
    public string? Source { get; }

    public override string ToString() => Text;
}

/// <summary>A neuroglancer link built by New-NeuroglancerUrl.</summary>
public sealed class NeuroglancerLink
{
    internal NeuroglancerLink(string url, string viewerUrl, string state, string[] sources, int segmentCount)
    {
        Url = url;
        ViewerUrl = viewerUrl;
        State = state;
        Sources = sources;
        SegmentCount = segmentCount;
    }

    /// <summary>The viewer URL with the state after "#!".</summary>
    public string Url { get; }

    public string ViewerUrl { get; }

    /// <summary>The state as JSON.</summary>
    public string State { get; }

    public string[] Sources { get; }

    public int SegmentCount { get; }

    public override string ToString() => Url;
}
