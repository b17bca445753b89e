using System.Linq;
using System.Management.Automation;
using PrecomputedTools.Infrastructure;

namespace PrecomputedTools.Commands;

/// <summary>
/// <para type="synopsis">Stops local servers started with Start-PrecomputedServer (all of them when none is named).</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Stop, "PrecomputedServer", SupportsShouldProcess = true, DefaultParameterSetName = AllSet)]
[OutputType(typeof(PrecomputedServer))]
public sealed class StopPrecomputedServerCommand : PrecomputedCmdlet
{
    private const string AllSet = "All";
    private const string ServerSet = "Server";
    private const string IdSet = "Id";

    /// <summary>The servers to stop (from Start-PrecomputedServer).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = ServerSet)]
    public PrecomputedServer[] InputObject { get; set; } = null!;

    /// <summary>Ids of the servers to stop.</summary>
    [Parameter(Mandatory = true, ParameterSetName = IdSet)]
    public int[] Id { get; set; } = null!;

    /// <summary>Emit the stopped servers.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        PrecomputedServer[] running = ServerRegistry.All();
        PrecomputedServer[] targets = ParameterSetName switch
        {
            ServerSet => InputObject,
            IdSet => Id.Select(i => running.FirstOrDefault(s => s.Id == i) ?? Missing(i)).OfType<PrecomputedServer>().ToArray(),
            _ => running,
        };
        foreach (PrecomputedServer server in targets)
        {
            if (!ShouldProcess(server.Url + " (" + server.Root + ")", "Stop server"))
            {
                continue;
            }

            server.Server.Dispose();
            ServerRegistry.Remove(server.Id);
            if (PassThru)
            {
                WriteObject(server);
            }
        }
    }

    private PrecomputedServer? Missing(int id)
    {
        WriteError(NewError("ServerNotFound", ErrorCategory.ObjectNotFound, $"No server with id {id} is running in this session.", id));
        return null;
    }
}
