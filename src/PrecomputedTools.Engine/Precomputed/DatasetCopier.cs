using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine.Publishing;
using PrecomputedTools.Engine.Storage;

namespace PrecomputedTools.Engine.Precomputed;

/// <summary>One object of a copy: its key in the source and in the destination, and whether it is stored gzip-encoded.</summary>
public sealed class CopyItem
{
    public CopyItem(string sourceKey, string destinationKey, bool gzip, long length)
    {
        SourceKey = sourceKey;
        DestinationKey = destinationKey;
        Gzip = gzip;
        Length = length;
    }

    public string SourceKey { get; }

    public string DestinationKey { get; }

    public bool Gzip { get; }

    /// <summary>Stored length in the source (-1 when the source does not say).</summary>
    public long Length { get; }
}

/// <summary>What a copy did.</summary>
public sealed class CopyResult
{
    public int ObjectCount { get; internal set; }

    public int CopiedCount { get; internal set; }

    public int SkippedCount { get; internal set; }

    public long CopiedBytes { get; internal set; }

    public TimeSpan Elapsed { get; internal set; }
}

/// <summary>
/// Copies a dataset between any two stores (folder, S3, http as a source): every object keeps its
/// form (gzip stays gzip, Content-Encoding on S3, ".gz" in a folder), colon-free manifests become
/// "&lt;id&gt;:0" wherever ':' can be stored, and the info is copied last, after everything else is
/// durable, so a half-finished copy never shows a complete-looking dataset.
/// </summary>
public static class DatasetCopier
{
    /// <summary>
    /// The objects to copy. Stores that list (folders, S3) give everything not hidden; an http
    /// source is enumerated from its info (every chunk of every scale, in either layout).
    /// </summary>
    public static List<CopyItem> Plan(DatasetStore source, PrecomputedInfo info, IObjectStore destination, CancellationToken cancellationToken = default)
    {
        bool colonFree = destination.Kind == StoreKind.Folder && RuntimeInformation.IsOSPlatform(OSPlatform.Windows);
        string? meshPrefix = info.Mesh is { Length: > 0 } m ? m.Trim('/') + "/" : null;
        var items = new List<CopyItem>();
        if (source.Objects.CanList)
        {
            foreach (StoredObject o in source.Objects.List("", cancellationToken))
            {
                if (o.Key.StartsWith(".", StringComparison.Ordinal) || o.Key.IndexOf("/.", StringComparison.Ordinal) >= 0 || o.Key == DatasetStore.InfoKey)
                {
                    continue;
                }

                bool gzip = o.Gzip ?? source.Objects.Stat(o.Key, cancellationToken)?.Gzip ?? false;
                items.Add(new CopyItem(o.Key, MapManifest(o.Key, meshPrefix, colonFree), gzip, o.Length));
            }
        }
        else
        {
            foreach (ScaleInfo scale in info.Scales)
            {
                foreach (Box3 box in scale.EnumerateChunks())
                {
                    foreach (ChunkLayout layout in new[] { source.Layout, source.Layout == ChunkLayout.Flat ? ChunkLayout.Nested : ChunkLayout.Flat })
                    {
                        string key = DatasetStore.ChunkKey(scale, box, layout);
                        if (source.Objects.Stat(key, cancellationToken) is { } found)
                        {
                            items.Add(new CopyItem(key, key, found.Gzip ?? source.Gzip, found.Length));
                            break;
                        }
                    }
                }
            }
        }

        items.Sort((a, b) => string.CompareOrdinal(a.DestinationKey, b.DestinationKey));
        return items;
    }

    /// <summary>Copies the planned objects, then the info. With <paramref name="skipExisting"/>, objects already in the destination are not copied again.</summary>
    public static Task<CopyResult> CopyAsync(DatasetStore source, PrecomputedInfo info, IObjectStore destination, IReadOnlyList<CopyItem> items, bool skipExisting, int throttleLimit, OperationMonitor monitor, CancellationToken cancellationToken) => Task.Run(
        () =>
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var existing = new HashSet<string>(StringComparer.Ordinal);
            if (skipExisting && destination.CanList)
            {
                foreach (StoredObject o in destination.List("", cancellationToken))
                {
                    existing.Add(o.Key);
                }
            }

            var result = new CopyResult { ObjectCount = items.Count + 1 };
            monitor.AddWork(items.Count + 1, items.Sum(i => Math.Max(0, i.Length)));
            int copied = 0, skipped = 0;
            long bytes = 0;
            Parallel.ForEach(
                items,
                new ParallelOptions { CancellationToken = cancellationToken, MaxDegreeOfParallelism = Math.Max(1, throttleLimit) },
                item =>
                {
                    if (skipExisting && existing.Contains(item.DestinationKey))
                    {
                        Interlocked.Increment(ref skipped);
                        monitor.ReportDone(1, Math.Max(0, item.Length));
                        return;
                    }

                    using PooledBytes content = source.Objects.Read(item.SourceKey, int.MaxValue - 64, cancellationToken)
                        ?? throw new EngineException("SourceObjectMissing", EngineErrorKind.ObjectNotFound, $"{ObjectNames.Join(source.Location, item.SourceKey)} disappeared during the copy.", item.SourceKey);
                    destination.Write(item.DestinationKey, content.Span, item.Gzip, cancellationToken);
                    Interlocked.Increment(ref copied);
                    Interlocked.Add(ref bytes, Math.Max(0, item.Length));
                    monitor.ReportDone(1, Math.Max(0, item.Length));
                });

            // The info declares the dataset: last, once everything else is durable.
            destination.Flush();
            destination.Write(DatasetStore.InfoKey, System.Text.Encoding.UTF8.GetBytes(info.ToJson()), gzip: false, cancellationToken);
            destination.Flush();
            monitor.ReportDone(1, 0);
            result.CopiedCount = copied + 1;
            result.SkippedCount = skipped;
            result.CopiedBytes = bytes;
            result.Elapsed = clock.Elapsed;
            return result;
        },
        cancellationToken);

    private static string MapManifest(string key, string? meshPrefix, bool colonFree)
    {
        if (meshPrefix is null || !key.StartsWith(meshPrefix, StringComparison.Ordinal))
        {
            return key;
        }

        string name = key.Substring(meshPrefix.Length);
        if (name.IndexOf('/') >= 0)
        {
            return key;
        }

        string? mapped = colonFree ? PublishRules.ColonFreeNameFromManifest(name) : PublishRules.ManifestNameFromColonFree(name);
        return mapped is null ? key : meshPrefix + mapped;
    }
}
