using System.Collections.Generic;
using System.Linq;
using PrecomputedTools.Engine.Stages;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Meshing;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Storage;

namespace PrecomputedTools.Infrastructure;

/// <summary>What the writing cmdlets share about their output location.</summary>
internal static class DatasetOutput
{
    /// <summary>Fails before anything is written when the location cannot take a dataset (a file, a read-only store, a missing bucket).</summary>
    public static void CheckWritable(DatasetStore store)
    {
        switch (store.Objects)
        {
            case FolderStore folder:
                FileErrors.RequireFolderPath(folder.Root);
                break;
            case S3Store s3:
                s3.CheckBucket();
                break;
            case { CanWrite: false }:
                throw new EngineException("StoreIsReadOnly", EngineErrorKind.InvalidArgument, $"{store.Location} is read-only; write to a folder or an s3:// location instead.", store.Location);
        }
    }

    /// <summary>
    /// -Force replaces, it does not mix: removes every object of the old dataset (its scales, meshes,
    /// segment properties, bookkeeping) and anything under the new scales that the new info does
    /// not account for. Chunks the new run writes again are left to be overwritten.
    /// </summary>
    public static int RemoveReplaced(DatasetStore store, PrecomputedInfo previous, PrecomputedInfo next)
    {
        if (!store.Objects.CanList)
        {
            return 0;
        }

        var prefixes = new List<string>();
        prefixes.AddRange(previous.Scales.Select(s => s.Key + "/"));
        prefixes.AddRange(next.Scales.Select(s => s.Key + "/"));
        foreach (string? folder in new[] { previous.Mesh, previous.SegmentProperties })
        {
            if (folder is { Length: > 0 })
            {
                prefixes.Add(folder.Trim('/') + "/");
            }
        }

        prefixes.Add(LegacyMeshWriter.JournalDirectoryName + "/");
        int removed = 0;
        foreach (string prefix in prefixes.Distinct())
        {
            foreach (StoredObject o in store.Objects.List(prefix).ToList())
            {
                bool nested = o.Key.Count(c => c == '/') - next.Scales.Where(s => o.Key.StartsWith(s.Key + "/", System.StringComparison.Ordinal)).Select(s => s.Key.Count(c => c == '/')).DefaultIfEmpty(0).Max() > 1;
                bool keep = next.Scales.Any(s => o.Key.StartsWith(s.Key + "/", System.StringComparison.Ordinal))
                    && DatasetValidator.IsAccountedFor(WithoutExtras(next), o.Key)
                    && nested == (store.Layout == ChunkLayout.Nested);
                if (!keep && store.Objects.Delete(o.Key))
                {
                    removed++;
                }
            }
        }

        return removed;
    }

    private static PrecomputedInfo WithoutExtras(PrecomputedInfo info)
    {
        PrecomputedInfo copy = info.Clone();
        copy.Mesh = null;
        copy.SegmentProperties = null;
        return copy;
    }
}
