using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Publishing;
using PrecomputedTools.Engine.Storage;

namespace PrecomputedTools.Engine.Stages;

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

/// <summary>
/// What a copy between any two stores (folder, S3, http as a source) moves: every object keeps its
/// form (gzip stays gzip, Content-Encoding on S3, ".gz" in a folder), and colon-free manifests
/// become "&lt;id&gt;:0" wherever ':' can be stored. <see cref="StagePlanner.PlanCopy"/> turns the
/// list into tasks (the info last, after everything else is durable), <see cref="StageExecutor"/> runs them.
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
