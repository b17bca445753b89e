using System;
using System.Collections;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Boss;
using PrecomputedTools.Infrastructure;

namespace PrecomputedTools.Boss;

/// <summary>
/// Completes BOSS resource names from the server named by the command's own -BaseUri/-ConfigFile
/// (or the usual settings). Answers are cached for a minute; a slow or unreachable server gives
/// no completions within two seconds rather than a hang.
/// </summary>
public abstract class BossNameCompleter : IArgumentCompleter
{
    private static readonly ConcurrentDictionary<string, (DateTime When, string[] Names)> s_cache = new();

    internal abstract string[]? Key(IDictionary bound);

    internal abstract Task<string[]> ListAsync(BossClient client, IDictionary bound, CancellationToken ct);

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        EngineBootstrap.EnsureInstalled();
        string[]? key = Key(fakeBoundParameters);
        if (key is null)
        {
            return Array.Empty<CompletionResult>();
        }

        string prefix = (wordToComplete ?? "").Trim('\'', '"');
        return Complete(fakeBoundParameters, key, prefix);
    }

    private IEnumerable<CompletionResult> Complete(IDictionary bound, string[] key, string prefix)
    {
        string[] names;
        try
        {
            var request = new BossConnectionRequest
            {
                BaseUri = bound["BaseUri"] switch { Uri u => u, string s when Uri.TryCreate(s, UriKind.Absolute, out Uri? parsed) => parsed, _ => null },
                ConfigFile = bound["ConfigFile"] as string,
            };
            BossConnection connection = BossConnection.Resolve(request);
            string cacheKey = connection.BaseUri + "|" + string.Join("/", key) + "|" + GetType().Name;
            if (s_cache.TryGetValue(cacheKey, out var hit) && DateTime.UtcNow - hit.When < TimeSpan.FromMinutes(1))
            {
                names = hit.Names;
            }
            else
            {
                var options = new BossClientOptions { HeaderTimeout = TimeSpan.FromSeconds(2), MaxAttempts = 1, MaxServerErrorAttempts = 1, MaxThrottleAttempts = 1 };
                using var client = new BossClient(connection, options);
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3));
                names = ListAsync(client, bound, cts.Token).GetAwaiter().GetResult();
                s_cache[cacheKey] = (DateTime.UtcNow, names);
            }
        }
        catch (EngineException)
        {
            // No server, no permission or no settings: completion offers nothing instead of failing the line.
            return Array.Empty<CompletionResult>();
        }
        catch (OperationCanceledException)
        {
            // The server took too long; completion must stay fast.
            return Array.Empty<CompletionResult>();
        }

        return names
            .Where(n => n.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            .OrderBy(n => n, StringComparer.OrdinalIgnoreCase)
            .Select(n => new CompletionResult(n.IndexOfAny(new[] { ' ', '\'', '"', '$', '`' }) >= 0 ? "'" + n.Replace("'", "''") + "'" : n, n, CompletionResultType.ParameterValue, n))
            .ToList();
    }
}

/// <summary>Completes -Collection.</summary>
public sealed class BossCollectionCompleter : BossNameCompleter
{
    internal override string[]? Key(IDictionary bound) => new[] { "collections" };

    internal override Task<string[]> ListAsync(BossClient client, IDictionary bound, CancellationToken ct) => client.ListCollectionsAsync(ct);
}

/// <summary>Completes -Experiment once -Collection is given.</summary>
public sealed class BossExperimentCompleter : BossNameCompleter
{
    internal override string[]? Key(IDictionary bound) => bound["Collection"] is string c && c.Length > 0 ? new[] { c } : null;

    internal override Task<string[]> ListAsync(BossClient client, IDictionary bound, CancellationToken ct) => client.ListExperimentsAsync((string)bound["Collection"]!, ct);
}

/// <summary>Completes -Channel once -Collection and -Experiment are given.</summary>
public sealed class BossChannelCompleter : BossNameCompleter
{
    internal override string[]? Key(IDictionary bound) =>
        bound["Collection"] is string c && c.Length > 0 && bound["Experiment"] is string e && e.Length > 0 ? new[] { c, e } : null;

    internal override Task<string[]> ListAsync(BossClient client, IDictionary bound, CancellationToken ct) =>
        client.ListChannelsAsync((string)bound["Collection"]!, (string)bound["Experiment"]!, ct);
}
