using System.Collections.Generic;
using System.Management.Automation;
using PrecomputedTools.Boss;
using PrecomputedTools.Engine.Boss;
using PrecomputedTools.Infrastructure;

namespace PrecomputedTools.Commands;

/// <summary>
/// <para type="synopsis">Gets the experiments of a BOSS collection: one by name, or all of them.</para>
/// <para type="description">Reads /v1/collection/{c}/experiment/ and each experiment's metadata (coordinate frame, levels, hierarchy method, time samples).</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "BossExperiment")]
[OutputType(typeof(BossExperiment))]
public sealed class GetBossExperimentCommand : BossCmdlet
{
    /// <summary>Collection name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(BossCollectionCompleter))]
    public string Collection { get; set; } = "";

    /// <summary>Experiment name; without it, every experiment of the collection.</summary>
    [Parameter(Position = 1, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(BossExperimentCompleter))]
    public string? Experiment { get; set; }

    protected override void ProcessRecord()
    {
        IReadOnlyList<BossExperiment> result = RunBoss<IReadOnlyList<BossExperiment>>(
            async (client, ct) =>
            {
                string[] names = Experiment is { Length: > 0 } one ? new[] { one } : await client.ListExperimentsAsync(Collection, ct).ConfigureAwait(false);
                var list = new List<BossExperiment>();
                foreach (string name in names)
                {
                    list.Add(new BossExperiment(await client.GetExperimentAsync(Collection, name, ct).ConfigureAwait(false), client.Connection.BaseUri.ToString()));
                }

                return list;
            },
            "Get-BossExperiment");
        foreach (BossExperiment item in result)
        {
            WriteObject(item);
        }
    }
}
