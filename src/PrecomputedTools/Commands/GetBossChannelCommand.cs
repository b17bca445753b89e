using System.Collections.Generic;
using System.Management.Automation;
using PrecomputedTools.Boss;
using PrecomputedTools.Engine.Boss;
using PrecomputedTools.Infrastructure;

namespace PrecomputedTools.Commands;

/// <summary>
/// <para type="synopsis">Gets the channels of a BOSS experiment: one by name, or all of them.</para>
/// <para type="description">Reads each channel's metadata: type (image or annotation), data type, base resolution, downsample status and storage. The objects bind to Get-BossCutout by property name.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "BossChannel")]
[OutputType(typeof(BossChannel))]
public sealed class GetBossChannelCommand : BossCmdlet
{
    /// <summary>Collection name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(BossCollectionCompleter))]
    public string Collection { get; set; } = "";

    /// <summary>Experiment name.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(BossExperimentCompleter))]
    public string Experiment { get; set; } = "";

    /// <summary>Channel name; without it, every channel of the experiment.</summary>
    [Parameter(Position = 2, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(BossChannelCompleter))]
    public string? Channel { get; set; }

    protected override void ProcessRecord()
    {
        IReadOnlyList<BossChannel> result = RunBoss<IReadOnlyList<BossChannel>>(
            async (client, ct) =>
            {
                string[] names = Channel is { Length: > 0 } one ? new[] { one } : await client.ListChannelsAsync(Collection, Experiment, ct).ConfigureAwait(false);
                var list = new List<BossChannel>();
                foreach (string name in names)
                {
                    list.Add(new BossChannel(await client.GetChannelAsync(Collection, Experiment, name, ct).ConfigureAwait(false), Collection, client.Connection.BaseUri.ToString()));
                }

                return list;
            },
            "Get-BossChannel");
        foreach (BossChannel item in result)
        {
            WriteObject(item);
        }
    }
}
