using System.IO;
using System.Management.Automation;
using System.Net;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Publishing;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Infrastructure;

namespace PrecomputedTools.Commands;

/// <summary>
/// <para type="synopsis">Serves a dataset folder over HTTP on this machine, with the CORS and gzip handling neuroglancer needs.</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "PrecomputedServer", SupportsShouldProcess = true)]
[OutputType(typeof(PrecomputedServer))]
public sealed class StartPrecomputedServerCommand : PrecomputedCmdlet
{
    /// <summary>The dataset folder (served at "/"), or a folder of datasets.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath")]
    public string Path { get; set; } = "";

    /// <summary>TCP port (default 8080); 0 picks a free one.</summary>
    [Parameter]
    [ValidateRange(0, 65535)]
    public int Port { get; set; } = 8080;

    /// <summary>Address to listen on. Default 127.0.0.1 (this machine only); 0.0.0.0 exposes the data to the network.</summary>
    [Parameter]
    public string BindAddress { get; set; } = "127.0.0.1";

    /// <summary>Also serve files that symbolic links inside the folder lead to outside it. By default a link is followed only while it stays inside the folder; one leading elsewhere (say to /etc) answers 403.</summary>
    [Parameter]
    public SwitchParameter FollowSymlink { get; set; }

    protected override void ProcessRecord()
    {
        string root = ResolveExistingPath(Path, literal: true);
        if (!Directory.Exists(root))
        {
            WriteError(NewError("NotAFolder", ErrorCategory.InvalidArgument, $"'{root}' is a file; give a dataset folder.", Path));
            return;
        }

        if (!ShouldProcess($"{root} on {BindAddress}:{(Port == 0 ? "(free port)" : Port.ToString(System.Globalization.CultureInfo.InvariantCulture))}", "Serve folder over HTTP"))
        {
            return;
        }

        if (IPAddress.TryParse(BindAddress, out IPAddress? address) && !IPAddress.IsLoopback(address))
        {
            WriteWarning($"Listening on {BindAddress}: anyone who can reach this machine can read '{root}'.");
        }

        PrecomputedDataset? dataset = null;
        if (File.Exists(System.IO.Path.Combine(root, ObjectNames.InfoName)))
        {
            try
            {
                dataset = PrecomputedDataset.Load(root);
            }
            catch (EngineException ex)
            {
                WriteWarning($"'{root}' has an info file that cannot be read ({ex.Message}); serving it as a plain folder.");
            }
        }

        var server = new StaticFileServer(root, BindAddress, Port) { FollowLinksOutsideRoot = FollowSymlink };
        if (FollowSymlink)
        {
            WriteWarning($"-FollowSymlink: links inside '{root}' are followed wherever they lead; what they point to is served too.");
        }

        try
        {
            server.Start();
        }
        catch (EngineException ex)
        {
            server.Dispose();
            WriteError(ToErrorRecord(ex));
            return;
        }

        var result = new PrecomputedServer(ServerRegistry.NextId(), server, dataset);
        ServerRegistry.Add(result);
        WriteVerbose($"Serving '{root}' at {server.Url}/ until Stop-PrecomputedServer (or the end of the process).");
        WriteObject(result);
    }
}
