using System.Collections.Generic;
using System.Management.Automation;
using PrecomputedTools.Boss;
using PrecomputedTools.Engine.Boss;
using PrecomputedTools.Infrastructure;

namespace PrecomputedTools.Commands;

/// <summary>
/// <para type="synopsis">Gets BOSS collections: one by name, or every collection the token can read.</para>
/// <para type="description">Reads /v1/collection/ and each collection's metadata.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "BossCollection")]
[OutputType(typeof(BossCollection))]
public sealed class GetBossCollectionCommand : BossCmdlet
{
    /// <summary>Collection name; without it, every readable collection.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(BossCollectionCompleter))]
    public string? Collection { get; set; }

    protected override void ProcessRecord()
    {
        IReadOnlyList<BossCollection> result = RunBoss<IReadOnlyList<BossCollection>>(
            async (client, ct) =>
            {
                string[] names = Collection is { Length: > 0 } one ? new[] { one } : await client.ListCollectionsAsync(ct).ConfigureAwait(false);
                var list = new List<BossCollection>();
                foreach (string name in names)
                {
                    list.Add(new BossCollection(await client.GetCollectionAsync(name, ct).ConfigureAwait(false), client.Connection.BaseUri.ToString()));
                }

                return list;
            },
            "Get-BossCollection");
        foreach (BossCollection item in result)
        {
            WriteObject(item);
        }
    }
}
