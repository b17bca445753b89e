using System.Management.Automation;
using PrecomputedTools.Infrastructure;

namespace PrecomputedTools.Commands;

/// <summary>
/// <para type="synopsis">Gets a BOSS coordinate frame: its extent and voxel size.</para>
/// <para type="description">Reads /v1/coord/{name}/. Pipe a BossExperiment to get its frame.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "BossCoordinateFrame")]
[OutputType(typeof(BossCoordinateFrame))]
public sealed class GetBossCoordinateFrameCommand : BossCmdlet
{
    /// <summary>Coordinate frame name (an experiment's CoordinateFrame).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Name")]
    public string CoordinateFrame { get; set; } = "";

    protected override void ProcessRecord()
    {
        WriteObject(RunBoss(async (client, ct) => new BossCoordinateFrame(await client.GetCoordinateFrameAsync(CoordinateFrame, ct).ConfigureAwait(false)), "Get-BossCoordinateFrame"));
    }
}
