using System;
using System.Management.Automation;
using System.Runtime.InteropServices;
using System.Security;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Boss;

namespace PrecomputedTools.Infrastructure;

/// <summary>
/// The connection parameters every BOSS cmdlet shares (README, 'Get-BossCutout and the BOSS resources'): -BaseUri, -Token or
/// -Credential, -ConfigFile; the rest comes from ~/.intern/intern.cfg, INTERN_* or BOSS_TOKEN,
/// then the public default. The token stays inside the engine and never reaches a stream.
/// </summary>
public abstract class BossCmdlet : PrecomputedCmdlet
{
    /// <summary>BOSS API address, e.g. https://api.bossdb.io (http:// is accepted for loopback test servers).</summary>
    [Parameter]
    public Uri? BaseUri { get; set; }

    /// <summary>The API token (from {BaseUri}/v1/mgmt/token), as a SecureString.</summary>
    [Parameter]
    public SecureString? Token { get; set; }

    /// <summary>A credential whose password is the API token (the user name is ignored).</summary>
    [Parameter]
    [Credential]
    public PSCredential? Credential { get; set; }

    /// <summary>An ndpull neurodata.cfg or intern.cfg file ([Volume Service] or [Default] with protocol, host, token).</summary>
    [Parameter]
    public string? ConfigFile { get; set; }

    /// <summary>Requests in flight at once (default 4).</summary>
    [Parameter]
    [ValidateRange(1, 16)]
    public int ThrottleLimit { get; set; } = 4;

    /// <summary>Longest wait for the response headers of one request (default 90 s).</summary>
    [Parameter]
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(90);

    private BossConnectionRequest? _request;
    private string _userAgent = "PrecomputedTools";

    /// <summary>Reads the connection parameters on the pipeline thread (paths resolve through the session state).</summary>
    protected override void BeginProcessing()
    {
        base.BeginProcessing();
        _request = new BossConnectionRequest
        {
            BaseUri = BaseUri,
            Token = Token is not null ? Plain(Token) : Credential is not null ? Plain(Credential.Password) : null,
            ConfigFile = ConfigFile is null ? null : ResolveExistingPath(ConfigFile, literal: true),
        };
        _userAgent = "PrecomputedTools/" + typeof(BossCmdlet).Assembly.GetName().Version?.ToString(3) + " (PowerShell " + Host.Version + "; " + Environment.OSVersion.Platform + ")";
    }

    /// <summary>Builds the client; safe on an engine worker thread (no session state is touched).</summary>
    internal BossClient CreateClient(OperationMonitor monitor)
    {
        BossConnection connection = BossConnection.Resolve(_request ?? new BossConnectionRequest(), monitor);
        var options = new BossClientOptions
        {
            ThrottleLimit = ThrottleLimit,
            HeaderTimeout = RequestTimeout,
            UserAgent = _userAgent,
        };
        return new BossClient(connection, options, monitor);
    }

    private static string Plain(SecureString secure)
    {
        IntPtr pointer = Marshal.SecureStringToGlobalAllocUnicode(secure);
        try
        {
            return Marshal.PtrToStringUni(pointer) ?? "";
        }
        finally
        {
            Marshal.ZeroFreeGlobalAllocUnicode(pointer);
        }
    }

    /// <summary>Runs a metadata call with the pipeline's monitor and error mapping.</summary>
    internal T RunBoss<T>(Func<BossClient, System.Threading.CancellationToken, System.Threading.Tasks.Task<T>> work, string activity)
    {
        var monitor = new OperationMonitor(activity, "requests");
        return RunEngine(
            async (m, ct) =>
            {
                using BossClient client = CreateClient(m);
                return await work(client, ct).ConfigureAwait(false);
            },
            monitor);
    }
}
