using System.Collections.Generic;
using System.Management.Automation;
using PrecomputedTools.Boss;
using PrecomputedTools.Engine.Boss;
using PrecomputedTools.Infrastructure;

namespace PrecomputedTools.Commands;

/// <summary>
/// <para type="synopsis">Gets a channel's resolution levels and downsample status from the server.</para>
/// <para type="description">Reads /v1/downsample/ (with ?iso=true for -Iso): one object per level with the server's own extent and voxel size, which Get-BossCutout uses instead of re-deriving them.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "BossResolutionLevel")]
[OutputType(typeof(BossResolutionLevel))]
public sealed class GetBossResolutionLevelCommand : BossCmdlet
{
    /// <summary>Collection name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(BossCollectionCompleter))]
    public string Collection { get; set; } = "";

    /// <summary>Experiment name.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(BossExperimentCompleter))]
    public string Experiment { get; set; } = "";

    /// <summary>Channel name.</summary>
    [Parameter(Mandatory = true, Position = 2, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(BossChannelCompleter))]
    public string Channel { get; set; } = "";

    /// <summary>The isotropic pyramid of an anisotropic experiment.</summary>
    [Parameter]
    [Alias("Isotropic")]
    public SwitchParameter Iso { get; set; }

    protected override void ProcessRecord()
    {
        BossDownsampleInfo info = RunBoss((client, ct) => client.GetDownsampleAsync(Collection, Experiment, Channel, Iso.IsPresent, ct), "Get-BossResolutionLevel");
        foreach (BossLevelInfo level in info.Levels)
        {
            WriteObject(new BossResolutionLevel(Collection, Experiment, Channel, info, level));
        }
    }
}
