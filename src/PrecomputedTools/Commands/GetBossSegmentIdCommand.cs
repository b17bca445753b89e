using System.Management.Automation;
using PrecomputedTools.Boss;
using PrecomputedTools.Engine;
using PrecomputedTools.Infrastructure;

namespace PrecomputedTools.Commands;

/// <summary>
/// <para type="synopsis">Lists the segment ids present in a box of a BOSS annotation channel.</para>
/// <para type="description">Reads /v1/ids/ (needs a real token with read permission): the distinct non-zero uint64 ids in the box, sorted, without downloading voxels. Use it to build a meshing work list.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "BossSegmentId")]
[OutputType(typeof(ulong))]
public sealed class GetBossSegmentIdCommand : BossCmdlet
{
    /// <summary>Collection name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(BossCollectionCompleter))]
    public string Collection { get; set; } = "";

    /// <summary>Experiment name.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(BossExperimentCompleter))]
    public string Experiment { get; set; } = "";

    /// <summary>Annotation channel name.</summary>
    [Parameter(Mandatory = true, Position = 2, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(BossChannelCompleter))]
    public string Channel { get; set; } = "";

    /// <summary>BOSS resolution level, 0..9 (0 = full resolution); BOSS's own name for it is "resolution".</summary>
    [Parameter]
    [ValidateRange(0, 9)]
    [Alias("Resolution")]
    public int ResolutionLevel { get; set; }

    /// <summary>Half-open x range start,stop.</summary>
    [Parameter(Mandatory = true)]
    [ValidateCount(2, 2)]
    [ValidateRange(0, int.MaxValue)]
    [Alias("XRange")]
    public int[] X { get; set; } = System.Array.Empty<int>();

    /// <summary>Half-open y range start,stop.</summary>
    [Parameter(Mandatory = true)]
    [ValidateCount(2, 2)]
    [ValidateRange(0, int.MaxValue)]
    [Alias("YRange")]
    public int[] Y { get; set; } = System.Array.Empty<int>();

    /// <summary>Half-open z range start,stop.</summary>
    [Parameter(Mandatory = true)]
    [ValidateCount(2, 2)]
    [ValidateRange(0, int.MaxValue)]
    [Alias("ZRange")]
    public int[] Z { get; set; } = System.Array.Empty<int>();

    /// <summary>Time sample (default: the channel's default).</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int? Time { get; set; }

    protected override void ProcessRecord()
    {
        var box = new Box3(new Int3(X[0], Y[0], Z[0]), new Int3(X[1], Y[1], Z[1]));
        if (box.IsEmpty)
        {
            ThrowTerminatingError(NewError("BossEmptyRegion", ErrorCategory.InvalidArgument, "The box is empty; every range is half-open start,stop with start < stop.", box.ToString()));
        }

        ulong[] ids = RunBoss(
            (client, ct) =>
            {
                Engine.Boss.BossClient.ValidateName("collection", Collection);
                Engine.Boss.BossClient.ValidateName("experiment", Experiment);
                Engine.Boss.BossClient.ValidateName("channel", Channel);
                return client.GetIdsAsync(Collection, Experiment, Channel, ResolutionLevel, box, Time, ct);
            },
            "Get-BossSegmentId");
        foreach (ulong id in ids)
        {
            WriteObject(id);
        }
    }
}
