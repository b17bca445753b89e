using System.Management.Automation;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Tiff;
using PrecomputedTools.Infrastructure;

namespace PrecomputedTools.Commands;

/// <summary>
/// <para type="synopsis">Opens a stack of TIFF slices (a folder, or one multi-page file) as a volume.</para>
/// </summary>
[Cmdlet(VerbsData.Import, "TiffStack", DefaultParameterSetName = PathSet)]
[OutputType(typeof(VolumeSource))]
public sealed class ImportTiffStackCommand : PrecomputedCmdlet
{
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";

    /// <summary>A folder of single-page TIFF slices (sorted naturally: z2 before z10) or one multi-page TIFF file.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true, ParameterSetName = PathSet)]
    [SupportsWildcards]
    public string Path { get; set; } = "";

    /// <summary>Like -Path, without wildcard expansion.</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = LiteralPathSet)]
    [Alias("PSPath", "LP")]
    public string LiteralPath { get; set; } = "";

    /// <summary>Voxel size in nanometres, x,y,z (TIFF files rarely carry it; later cmdlets need it).</summary>
    [Parameter]
    [ValidateCount(3, 3)]
    [Alias("VoxelSize")]
    public double[]? Resolution { get; set; }

    /// <summary>Swap x and y: x runs down the TIFF rows (page height), y along the columns.</summary>
    [Parameter]
    public SwitchParameter SwapXY { get; set; }

    protected override void ProcessRecord()
    {
        string path = ResolveExistingPath(ParameterSetName == PathSet ? Path : LiteralPath, ParameterSetName == LiteralPathSet);
        try
        {
            TiffStackDescriptor stack = TiffStackDescriptor.Open(path, SwapXY, Resolution, StopToken);
            WriteVerbose($"{stack.Name}: {stack.PageCount} slices of {VoxelTypes.ToInfoName(stack.DataType)}, volume {stack.Size}.");
            WriteObject(new VolumeSource(stack));
        }
        catch (EngineException ex)
        {
            WriteError(ToErrorRecord(ex));
        }
        catch (System.OperationCanceledException) when (StopToken.IsCancellationRequested)
        {
            throw new PipelineStoppedException();
        }
    }
}
