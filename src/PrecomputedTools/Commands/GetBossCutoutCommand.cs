using System.Collections.Generic;
using System.Management.Automation;
using PrecomputedTools.Boss;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Boss;
using PrecomputedTools.Infrastructure;

namespace PrecomputedTools.Commands;

/// <summary>
/// <para type="synopsis">Opens a region of a BOSS channel as a volume that downloads on demand.</para>
/// <para type="description">Reads the channel's metadata and the server's per-level extents, then emits a VolumeSource whose voxels are fetched in blocks aligned to the BOSS 512x512x16 cuboid grid when a consumer (ConvertTo-CompressedSegmentation, Export-TiffStack) reads them. With -CacheDirectory every finished block is kept on disk, so a rerun downloads nothing finished.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "BossCutout", DefaultParameterSetName = RegionSet)]
[OutputType(typeof(VolumeSource))]
public sealed class GetBossCutoutCommand : BossCmdlet
{
    private const string RegionSet = "Region";
    private const string FullExtentSet = "FullExtent";

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

    /// <summary>BOSS resolution level, 0..9 (0 = full resolution); BOSS's own name for it is "resolution".</summary>
    [Parameter]
    [ValidateRange(0, 9)]
    [Alias("Resolution")]
    public int ResolutionLevel { get; set; }

    /// <summary>Half-open x range start,stop in the level's voxels (default: the full extent).</summary>
    [Parameter(ParameterSetName = RegionSet)]
    [ValidateCount(2, 2)]
    [ValidateRange(0, int.MaxValue)]
    [Alias("XRange")]
    public int[]? X { get; set; }

    /// <summary>Half-open y range start,stop in the level's voxels.</summary>
    [Parameter(ParameterSetName = RegionSet)]
    [ValidateCount(2, 2)]
    [ValidateRange(0, int.MaxValue)]
    [Alias("YRange")]
    public int[]? Y { get; set; }

    /// <summary>Half-open z range start,stop in the level's voxels.</summary>
    [Parameter(ParameterSetName = RegionSet)]
    [ValidateCount(2, 2)]
    [ValidateRange(0, int.MaxValue)]
    [Alias("ZRange")]
    public int[]? Z { get; set; }

    /// <summary>The whole extent of the level (as ndpull --full_extent); the same as giving no ranges.</summary>
    [Parameter(Mandatory = true, ParameterSetName = FullExtentSet)]
    public SwitchParameter FullExtent { get; set; }

    /// <summary>Read the isotropic pyramid of an anisotropic experiment (?iso=true).</summary>
    [Parameter]
    [Alias("Isotropic")]
    public SwitchParameter Iso { get; set; }

    /// <summary>Half-open time range start,stop; one volume is emitted per time sample.</summary>
    [Parameter]
    [ValidateCount(2, 2)]
    [ValidateRange(0, int.MaxValue)]
    public int[]? TimeRange { get; set; }

    /// <summary>Transfer format: blosc (default) or npygz.</summary>
    [Parameter]
    [ValidateSet("blosc", "npygz", IgnoreCase = true)]
    [Alias("TransferFormat")]
    public string Format { get; set; } = "blosc";

    /// <summary>Download block shape x,y,z, multiples of 512,512,16 (default: 64 MiB by data type).</summary>
    [Parameter]
    [ValidateCount(3, 3)]
    [ValidateRange(16, 1 << 20)]
    public int[]? BlockShape { get; set; }

    /// <summary>Folder that keeps downloaded blocks, so a rerun (or a run after a failure) downloads nothing finished.</summary>
    [Parameter]
    [Alias("OutFile")]
    public string? CacheDirectory { get; set; }

    /// <summary>
    /// Read levels above the base even when the channel is not DOWNSAMPLED. Not called -Force,
    /// which across the module means only "overwrite"; the alias keeps older scripts working.
    /// </summary>
    [Parameter]
    [Alias("Force")]
    public SwitchParameter IgnoreDownsampleStatus { get; set; }

    protected override void ProcessRecord()
    {
        string? cache = CacheDirectory is null ? null : ResolveOutputPath(CacheDirectory);
        var times = new List<int?>();
        if (TimeRange is null)
        {
            times.Add(null);
        }
        else
        {
            if (TimeRange[1] <= TimeRange[0])
            {
                ThrowTerminatingError(NewError("BossEmptyRegion", ErrorCategory.InvalidArgument, $"-TimeRange {TimeRange[0]},{TimeRange[1]} is empty; it is half-open, start < stop.", TimeRange));
            }

            for (int t = TimeRange[0]; t < TimeRange[1]; t++)
            {
                times.Add(t);
            }
        }

        var monitor = new OperationMonitor("Get-BossCutout", "requests");
        IReadOnlyList<BossVolumeDescriptor> descriptors = RunEngine(
            async (m, ct) =>
            {
                BossClient client = CreateClient(m);
                var result = new List<BossVolumeDescriptor>();
                foreach (int? t in times)
                {
                    var options = new BossCutoutOptions
                    {
                        Collection = Collection,
                        Experiment = Experiment,
                        Channel = Channel,
                        Resolution = ResolutionLevel,
                        XRange = X,
                        YRange = Y,
                        ZRange = Z,
                        Time = t,
                        Iso = Iso.IsPresent,
                        Format = Format.Equals("npygz", System.StringComparison.OrdinalIgnoreCase) ? BossTransferFormat.Npygz : BossTransferFormat.Blosc,
                        BlockShape = BlockShape is null ? null : Int3.From(BlockShape),
                        CacheDirectory = cache,
                        Force = IgnoreDownsampleStatus.IsPresent,
                    };
                    result.Add(await BossVolumeDescriptor.CreateAsync(client, options, ct).ConfigureAwait(false));
                }

                // Later retries report to a monitor nobody drains; the consumer has its own progress.
                client.Monitor = new OperationMonitor();
                return (IReadOnlyList<BossVolumeDescriptor>)result;
            },
            monitor);
        foreach (BossVolumeDescriptor descriptor in descriptors)
        {
            WriteObject(new VolumeSource(descriptor));
        }
    }
}
