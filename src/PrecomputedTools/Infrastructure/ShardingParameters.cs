using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Management.Automation;
using System.Text.Json.Nodes;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Precomputed;

namespace PrecomputedTools.Infrastructure;

/// <summary>The -Sharding hashtable of the cmdlets that write shards: its members replace the chosen parameters.</summary>
internal static class ShardingParameters
{
    /// <summary>
    /// <paramref name="chosen"/> with what <paramref name="overrides"/> names replaced, checked as a
    /// whole before anything is written.
    /// </summary>
    public static ShardingSpec Apply(ShardingSpec chosen, Hashtable? overrides)
    {
        JsonObject json = chosen.ToJson();
        foreach (DictionaryEntry entry in overrides ?? new Hashtable())
        {
            string name = Convert.ToString(entry.Key, CultureInfo.InvariantCulture) ?? "";
            object? value = entry.Value is PSObject pso ? pso.BaseObject : entry.Value;
            if (!json.ContainsKey(name) || name == "@type")
            {
                throw new EngineException("InvalidShardingSpec", EngineErrorKind.InvalidArgument, $"-Sharding has '{name}'; it takes preshift_bits, minishard_bits, shard_bits, hash, minishard_index_encoding and data_encoding.", name);
            }

            json[name] = name.EndsWith("_bits", StringComparison.Ordinal)
                ? JsonValue.Create(Convert.ToInt32(value, CultureInfo.InvariantCulture))
                : JsonValue.Create(Convert.ToString(value, CultureInfo.InvariantCulture));
        }

        return ShardingSpec.FromJson(json, "-Sharding");
    }

    /// <summary>
    /// Every unsharded scale of <paramref name="info"/> gets parameters of its own (scales already
    /// sharded keep theirs), with what <paramref name="overrides"/> names replacing the chosen values;
    /// the scales <paramref name="unsharded"/> names (keys or indexes) stay as one object per chunk.
    /// </summary>
    public static PrecomputedInfo WithSharding(PrecomputedInfo info, Hashtable? overrides, string location, string[]? unsharded = null)
    {
        PrecomputedInfo sharded = info.Clone();
        var keep = new HashSet<ScaleInfo>();
        foreach (string name in unsharded ?? Array.Empty<string>())
        {
            keep.Add(PrecomputedVolumeReader.FindScale(sharded, name, location));
        }

        foreach (ScaleInfo scale in sharded.Scales)
        {
            if (keep.Contains(scale))
            {
                scale.Sharding = null;
            }
            else if (scale.Sharding is null)
            {
                scale.Sharding = Apply(ShardingSpec.ForScale(scale, VoxelTypes.SizeOf(info.DataType) * Math.Max(1, info.NumChannels)), overrides).ToJson();
            }
        }

        return sharded;
    }
}
