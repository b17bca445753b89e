using System;
using System.IO;
using System.Management.Automation;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Publishing;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Infrastructure;

namespace PrecomputedTools.Commands;

/// <summary>
/// <para type="synopsis">Generates an nginx server block that serves precomputed datasets to neuroglancer.</para>
/// </summary>
[Cmdlet(VerbsCommon.New, "PrecomputedNginxConfig", SupportsShouldProcess = true)]
[OutputType(typeof(NginxSiteConfig))]
public sealed class NewPrecomputedNginxConfigCommand : PrecomputedCmdlet
{
    /// <summary>A dataset folder, or a folder of datasets, to serve at -Location.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "Root")]
    public string Path { get; set; } = "";

    /// <summary>The server_name (host name the site answers to). Default: localhost.</summary>
    [Parameter]
    public string ServerName { get; set; } = "localhost";

    /// <summary>The port nginx listens on. Default: 80.</summary>
    [Parameter]
    [ValidateRange(1, 65535)]
    public int Port { get; set; } = 80;

    /// <summary>Address to listen on (for example 127.0.0.1); by default every address.</summary>
    [Parameter]
    public string? ListenAddress { get; set; }

    /// <summary>URL path under which the folder is served. Default: "/".</summary>
    [Parameter]
    public string Location { get; set; } = "/";

    /// <summary>Write the server block to this file (for example /etc/nginx/sites-available/precomputed).</summary>
    [Parameter]
    public string? OutFile { get; set; }

    /// <summary>-Path is a folder on the machine that will run nginx, not on this one: it is used as given (an absolute path) and not checked here.</summary>
    [Parameter]
    public SwitchParameter Remote { get; set; }

    /// <summary>Overwrite -OutFile if it exists.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        string root;
        bool isDataset;
        if (Remote)
        {
            // A path of the server, not of this machine: Linux (/srv/...) or Windows (D:\...) alike.
            bool absolute = Path.StartsWith("/", StringComparison.Ordinal) || (Path.Length > 2 && char.IsLetter(Path[0]) && Path[1] == ':' && (Path[2] == '\\' || Path[2] == '/'));
            if (!absolute)
            {
                WriteError(NewError("RemotePathNotAbsolute", ErrorCategory.InvalidArgument, $"With -Remote, -Path is the folder on the nginx machine and must be absolute; '{Path}' is not.", Path));
                return;
            }

            root = Path.Length > 1 ? Path.TrimEnd('/', '\\') : Path;
            isDataset = false;
        }
        else
        {
            root = ResolveExistingPath(Path, literal: true);
            if (!Directory.Exists(root))
            {
                WriteError(NewError("NotAFolder", ErrorCategory.InvalidArgument, $"'{root}' is a file; give a dataset folder or a folder of datasets.", Path));
                return;
            }

            isDataset = File.Exists(System.IO.Path.Combine(root, ObjectNames.InfoName));
        }

        string location = NginxConfig.NormalizeLocation(Location);
        string text;
        try
        {
            text = NginxConfig.Generate(new NginxConfigOptions { Root = root, ServerName = ServerName, Port = Port, ListenAddress = ListenAddress, Location = location });
        }
        catch (EngineException ex)
        {
            WriteError(ToErrorRecord(ex));
            return;
        }

        string? written = null;
        if (OutFile is { Length: > 0 })
        {
            written = ResolveOutputPath(OutFile);
            if (File.Exists(written) && !Force)
            {
                WriteError(OutputExistsError(written));
                return;
            }

            if (!ShouldProcess(written, "Write nginx server block"))
            {
                return;
            }

            AtomicFile.WriteText(written, text);
        }

        WriteObject(new NginxSiteConfig(text, root, ServerName, Port, location, written, isDataset));
    }
}
