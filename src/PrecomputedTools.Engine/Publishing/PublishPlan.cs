using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using PrecomputedTools.Engine.Storage;

namespace PrecomputedTools.Engine.Publishing;

/// <summary>One local file of a dataset and the object (or URL path) it becomes when published.</summary>
public sealed class PublishItem
{
    public PublishItem(string localPath, string relativeKey, string contentType, string? contentEncoding, long length)
    {
        LocalPath = localPath;
        RelativeKey = relativeKey;
        ContentType = contentType;
        ContentEncoding = contentEncoding;
        Length = length;
    }

    /// <summary>Full path of the file on disk.</summary>
    public string LocalPath { get; }

    /// <summary>Path below the dataset root with '/' separators, ".gz" removed and manifests as "&lt;id&gt;:0".</summary>
    public string RelativeKey { get; }

    /// <summary>application/json for info files and manifests, application/octet-stream otherwise.</summary>
    public string ContentType { get; }

    /// <summary>"gzip" when the file's bytes are a gzip stream; otherwise null.</summary>
    public string? ContentEncoding { get; }

    public long Length { get; }

    /// <summary>Short-lived caching for JSON (it may be re-published), longer for data objects.</summary>
    public string CacheControl => ContentType == PublishRules.JsonType ? "public, max-age=300" : "public, max-age=3600";

    public override string ToString() => RelativeKey;
}

/// <summary>The naming and metadata rules of README, 'Publish-PrecomputedS3', shared by every publishing path.</summary>
public static class PublishRules
{
    public const string JsonType = "application/json";
    public const string BinaryType = "application/octet-stream";
    public const string GzipSuffix = ".gz";

    private static readonly Regex s_manifestName = new("^[0-9]+:0$", RegexOptions.CultureInvariant);
    private static readonly Regex s_colonFreeManifest = new("^(?<id>[0-9]+)\\.json$", RegexOptions.CultureInvariant);

    /// <summary>True for the names the viewer parses as JSON: "info" and legacy manifests "&lt;id&gt;:0".</summary>
    public static bool IsJsonName(string name) => name == ObjectNames.InfoName || s_manifestName.IsMatch(name);

    /// <summary>True for "&lt;id&gt;:0".</summary>
    public static bool IsManifestName(string name) => s_manifestName.IsMatch(name);

    /// <summary>"123.json" -> "123:0"; null when the name is not a colon-free manifest name.</summary>
    public static string? ManifestNameFromColonFree(string name)
    {
        Match m = s_colonFreeManifest.Match(name);
        return m.Success ? m.Groups["id"].Value + ":0" : null;
    }

    /// <summary>"123:0" -> "123.json"; null when the name is not a manifest name.</summary>
    public static string? ColonFreeNameFromManifest(string name) =>
        s_manifestName.IsMatch(name) ? name.Substring(0, name.Length - 2) + ".json" : null;

    /// <summary>
    /// True when the bytes start a gzip member (RFC 1952: 1f 8b, deflate method 8, reserved flag bits clear).
    /// This, not the file name, decides Content-Encoding.
    /// </summary>
    public static bool IsGzip(ReadOnlySpan<byte> head) =>
        head.Length >= 4 && head[0] == 0x1f && head[1] == 0x8b && head[2] == 8 && (head[3] & 0xE0) == 0;

    /// <summary>
    /// Shard files are read by byte ranges and never gzip-encoded as a whole (neuroglancer sharded.md: HTTP Range requests), even
    /// when their first offsets happen to read as a gzip header.
    /// </summary>
    public static bool IsReadByRanges(string name) => name.EndsWith(".shard", StringComparison.Ordinal);

    /// <summary>Reads the first bytes of a file and applies <see cref="IsGzip"/>.</summary>
    public static bool FileIsGzip(string path)
    {
        byte[] head = new byte[4];
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.None);
        int read = 0;
        while (read < head.Length)
        {
            int n = stream.Read(head, read, head.Length - read);
            if (n == 0)
            {
                break;
            }

            read += n;
        }

        return IsGzip(head.AsSpan(0, read));
    }
}

/// <summary>
/// Every file of a dataset folder mapped to its published name and metadata: keys without ".gz",
/// colon-free manifests ("&lt;id&gt;.json" in the mesh folder) back to "&lt;id&gt;:0", temp files skipped,
/// and an error when a name would be published twice (both "X" and "X.gz").
/// </summary>
public sealed class PublishPlan
{
    private PublishPlan(string root, IReadOnlyList<PublishItem> items, IReadOnlyList<string> warnings)
    {
        Root = root;
        Items = items;
        Warnings = warnings;
    }

    public string Root { get; }

    /// <summary>Items sorted by key, JSON last so a half-finished upload never exposes an info without its chunks.</summary>
    public IReadOnlyList<PublishItem> Items { get; }

    /// <summary>Things worth telling the user (for example a ".gz" file whose bytes are not gzip).</summary>
    public IReadOnlyList<string> Warnings { get; }

    public long TotalBytes => Items.Sum(i => i.Length);

    /// <summary>Builds the plan for the dataset folder <paramref name="root"/> (the folder holding "info").</summary>
    /// <param name="root">The dataset folder.</param>
    /// <param name="meshDirectory">The info's "mesh" value (relative folder), or null.</param>
    public static PublishPlan Create(string root, string? meshDirectory)
    {
        string fullRoot = Path.GetFullPath(root).TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
        if (!Directory.Exists(fullRoot))
        {
            throw new EngineException("DatasetNotFound", EngineErrorKind.ObjectNotFound, $"The dataset folder '{root}' does not exist.", root);
        }

        string? meshPrefix = string.IsNullOrEmpty(meshDirectory) ? null : meshDirectory!.Trim('/').Replace('\\', '/') + "/";
        var warnings = new List<string>();
        var byKey = new Dictionary<string, PublishItem>(StringComparer.Ordinal);
        foreach (string file in Directory.EnumerateFiles(fullRoot, "*", SearchOption.AllDirectories))
        {
            if (AtomicFile.IsTempFile(file))
            {
                continue;
            }

            string relative = file.Substring(fullRoot.Length + 1).Replace('\\', '/');

            // Hidden files and folders (".pt-mesh-journal/" of an interrupted meshing run) are bookkeeping, not data.
            if (relative.StartsWith(".", StringComparison.Ordinal) || relative.Contains("/.", StringComparison.Ordinal))
            {
                continue;
            }

            int slash = relative.LastIndexOf('/');
            string directory = relative.Substring(0, slash + 1);
            string name = relative.Substring(slash + 1);
            bool gzipName = name.EndsWith(PublishRules.GzipSuffix, StringComparison.Ordinal);
            if (gzipName)
            {
                name = name.Substring(0, name.Length - PublishRules.GzipSuffix.Length);
            }

            if (meshPrefix is not null && directory == meshPrefix && PublishRules.ManifestNameFromColonFree(name) is { } manifest)
            {
                name = manifest;
            }

            long length = new FileInfo(file).Length;
            bool gzipBytes = !PublishRules.IsReadByRanges(name) && PublishRules.FileIsGzip(file);
            if (gzipName && !gzipBytes)
            {
                warnings.Add($"'{relative}' ends in .gz but its bytes are not gzip; it is published without Content-Encoding.");
            }

            bool json = PublishRules.IsJsonName(name);
            if (json && gzipBytes)
            {
                warnings.Add($"'{relative}' is gzip-compressed JSON; it is published with Content-Encoding: gzip, but the convention is plain JSON.");
            }

            string key = directory + name;
            var item = new PublishItem(file, key, json ? PublishRules.JsonType : PublishRules.BinaryType, gzipBytes ? "gzip" : null, length);
            if (byKey.TryGetValue(key, out PublishItem? other))
            {
                throw new EngineException(
                    "DuplicateObjectName",
                    EngineErrorKind.InvalidData,
                    $"'{Path.GetFileName(other.LocalPath)}' and '{Path.GetFileName(file)}' in '{Path.GetDirectoryName(file)}' would both be published as '{key}'. Keep exactly one of them.",
                    file);
            }

            byKey.Add(key, item);
        }

        if (!byKey.ContainsKey(ObjectNames.InfoName))
        {
            throw new EngineException("InfoNotFound", EngineErrorKind.ObjectNotFound, $"'{fullRoot}' has no info file; it is not a precomputed dataset.", root);
        }

        List<PublishItem> items = byKey.Values
            .OrderBy(i => i.ContentType == PublishRules.JsonType ? 1 : 0)
            .ThenBy(i => i.RelativeKey == ObjectNames.InfoName ? 1 : 0)
            .ThenBy(i => i.RelativeKey, StringComparer.Ordinal)
            .ToList();
        return new PublishPlan(fullRoot, items, warnings);
    }
}
