using System;
using System.Collections.Generic;
using System.IO;

namespace PrecomputedTools.Engine.Boss;

/// <summary>What the user gave on the command line; everything optional.</summary>
public sealed class BossConnectionRequest
{
    /// <summary>-BaseUri.</summary>
    public Uri? BaseUri { get; set; }

    /// <summary>-Token / -Credential (plain text only inside the engine; never printed).</summary>
    public string? Token { get; set; }

    /// <summary>-ConfigFile: an ndpull neurodata.cfg or intern.cfg.</summary>
    public string? ConfigFile { get; set; }
}

/// <summary>
/// Where to talk to and with which token, resolved from the first complete source (README, 'Get-BossCutout and the BOSS resources'):
/// parameters, -ConfigFile, ~/.intern/intern.cfg, INTERN_PROTOCOL/HOST/TOKEN, BOSS_TOKEN, then the
/// public default (https://api.bossdb.io with token "public"). The token is never part of any text
/// this class produces.
/// </summary>
public sealed class BossConnection
{
    public const string PublicHost = "api.bossdb.io";
    public const string NeurodataHost = "api.boss.neurodata.io";
    public static readonly Uri PublicBaseUri = new("https://" + PublicHost);

    public BossConnection(Uri baseUri, string? token, string settingsSource)
    {
        BaseUri = new Uri(baseUri.GetLeftPart(UriPartial.Authority));
        Token = string.IsNullOrEmpty(token) ? null : token;
        SettingsSource = settingsSource;
    }

    /// <summary>protocol://host[:port], no path, no secret.</summary>
    public Uri BaseUri { get; }

    /// <summary>The token to send (null: anonymous). Internal so it never reaches a pipeline object.</summary>
    internal string? Token { get; }

    public bool HasToken => Token is not null;

    /// <summary>Where the settings came from, for one Verbose line ("parameters", "config file '...'", ...).</summary>
    public string SettingsSource { get; }

    public bool IsLoopback => BaseUri.IsLoopback;

    public override string ToString() => BaseUri.ToString().TrimEnd('/') + " (settings from " + SettingsSource + (HasToken ? ", with a token" : ", anonymous") + ")";

    /// <summary>Resolves the settings with the process environment and the user's home directory.</summary>
    public static BossConnection Resolve(BossConnectionRequest request, OperationMonitor? monitor = null) =>
        Resolve(request, Environment.GetEnvironmentVariable, Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), monitor);

    /// <summary>Resolves the settings; <paramref name="environment"/> and <paramref name="home"/> are injectable for tests.</summary>
    public static BossConnection Resolve(BossConnectionRequest request, Func<string, string?> environment, string? home, OperationMonitor? monitor = null)
    {
        BossConnection result = ResolveCore(request, environment, home);
        monitor?.Verbose("BOSS connection: " + result);
        if (result.BaseUri.Scheme == Uri.UriSchemeHttp && !result.IsLoopback)
        {
            monitor?.Warning($"The BOSS settings use plain http for {result.BaseUri.Host}; the token and data travel unencrypted.");
        }

        return result;
    }

    private static BossConnection ResolveCore(BossConnectionRequest request, Func<string, string?> environment, string? home)
    {
        var later = new List<BossConnection>();
        if (request.ConfigFile is { Length: > 0 } file)
        {
            later.Add(FromIni(file, "config file '" + file + "'", required: true)!);
        }

        string? internPath = home is null ? null : Path.Combine(home, ".intern", "intern.cfg");
        if (internPath is not null && File.Exists(internPath))
        {
            later.Add(FromIni(internPath, "~/.intern/intern.cfg", required: false)!);
        }

        string? p = environment("INTERN_PROTOCOL"), h = environment("INTERN_HOST"), t = environment("INTERN_TOKEN");
        if (!string.IsNullOrEmpty(p) && !string.IsNullOrEmpty(h) && !string.IsNullOrEmpty(t))
        {
            later.Add(new BossConnection(MakeUri(p!, h!, "INTERN_PROTOCOL/INTERN_HOST"), t, "environment (INTERN_PROTOCOL, INTERN_HOST, INTERN_TOKEN)"));
        }

        string? bossToken = environment("BOSS_TOKEN");
        if (request.BaseUri is not null || request.Token is not null)
        {
            if (request.BaseUri is null)
            {
                Uri host = later.Count > 0 ? later[0].BaseUri : !string.IsNullOrEmpty(bossToken) ? new Uri("https://" + NeurodataHost) : PublicBaseUri;
                return new BossConnection(host, request.Token, "parameters (-Token) with the host from " + (later.Count > 0 ? later[0].SettingsSource : "the default"));
            }

            CheckBaseUri(request.BaseUri);
            if (request.Token is not null)
            {
                return new BossConnection(request.BaseUri, request.Token, "parameters");
            }

            // Only -BaseUri: a token from a file or the environment goes only to the host that source names.
            foreach (BossConnection source in later)
            {
                if (SameAuthority(source.BaseUri, request.BaseUri))
                {
                    return new BossConnection(request.BaseUri, source.Token, "parameters (-BaseUri) with the token from " + source.SettingsSource);
                }
            }

            if (!string.IsNullOrEmpty(bossToken))
            {
                return new BossConnection(request.BaseUri, bossToken, "parameters (-BaseUri) with the token from BOSS_TOKEN");
            }

            bool isPublic = string.Equals(request.BaseUri.Host, PublicHost, StringComparison.OrdinalIgnoreCase);
            return new BossConnection(request.BaseUri, isPublic ? "public" : null, isPublic ? "parameters (-BaseUri) with the public token" : "parameters (-BaseUri), anonymous");
        }

        if (later.Count > 0)
        {
            return later[0];
        }

        if (!string.IsNullOrEmpty(bossToken))
        {
            return new BossConnection(new Uri("https://" + NeurodataHost), bossToken, "environment (BOSS_TOKEN)");
        }

        return new BossConnection(PublicBaseUri, "public", "the public default");
    }

    private static void CheckBaseUri(Uri uri)
    {
        if (!uri.IsAbsoluteUri || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
        {
            throw new EngineException("BossInvalidBaseUri", EngineErrorKind.InvalidArgument, $"'{uri}' is not an http or https address.", uri.ToString());
        }
    }

    private static bool SameAuthority(Uri a, Uri b) =>
        string.Equals(a.Host, b.Host, StringComparison.OrdinalIgnoreCase) && a.Port == b.Port && a.Scheme == b.Scheme;

    private static Uri MakeUri(string protocol, string host, string source)
    {
        string text = protocol.Trim().TrimEnd(':', '/') + "://" + host.Trim().TrimEnd('/');
        if (!Uri.TryCreate(text, UriKind.Absolute, out Uri? uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
        {
            throw new EngineException("BossConfigInvalid", EngineErrorKind.InvalidData, $"The BOSS settings from {source} do not form an http(s) address (protocol '{protocol}', host '{host}').", source);
        }

        return uri;
    }

    /// <summary>Reads [Volume Service] (else [Default]) protocol/host/token from an INI file, as intern and ndpull do.</summary>
    internal static BossConnection? FromIni(string path, string source, bool required)
    {
        if (!File.Exists(path))
        {
            throw new EngineException("BossConfigNotFound", EngineErrorKind.ObjectNotFound, $"The BOSS config file '{path}' does not exist.", path);
        }

        Dictionary<string, Dictionary<string, string>> sections = ParseIni(File.ReadAllLines(path));
        if (!sections.TryGetValue("Volume Service", out Dictionary<string, string>? section) && !sections.TryGetValue("Default", out section))
        {
            throw new EngineException("BossConfigInvalid", EngineErrorKind.InvalidData, $"The BOSS config file {source} has neither a [Volume Service] nor a [Default] section.", path);
        }

        if (!section.TryGetValue("protocol", out string? protocol) || !section.TryGetValue("host", out string? host) || !section.TryGetValue("token", out string? token))
        {
            throw new EngineException("BossConfigInvalid", EngineErrorKind.InvalidData, $"The BOSS config file {source} must set protocol, host and token in one section.", path);
        }

        _ = required;
        return new BossConnection(MakeUri(protocol, host, source), token, source);
    }

    /// <summary>configparser rules: case-sensitive sections, case-insensitive keys, '=' or ':', '#'/';' comments, trimmed.</summary>
    internal static Dictionary<string, Dictionary<string, string>> ParseIni(IEnumerable<string> lines)
    {
        var sections = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        Dictionary<string, string>? current = null;
        foreach (string raw in lines)
        {
            string line = raw.Trim();
            if (line.Length == 0 || line[0] == '#' || line[0] == ';')
            {
                continue;
            }

            if (line[0] == '[' && line[line.Length - 1] == ']')
            {
                string name = line.Substring(1, line.Length - 2).Trim();
                if (!sections.TryGetValue(name, out current))
                {
                    current = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                    sections[name] = current;
                }

                continue;
            }

            int eq = line.IndexOfAny(new[] { '=', ':' });
            if (eq <= 0 || current is null)
            {
                continue;
            }

            current[line.Substring(0, eq).Trim()] = line.Substring(eq + 1).Trim();
        }

        return sections;
    }
}
