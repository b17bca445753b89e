using System;
using System.Collections.Generic;
using System.IO;
using System.Management.Automation;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Infrastructure;

namespace PrecomputedTools.Commands;

/// <summary>
/// <para type="synopsis">Builds the multi-scale info of a precomputed dataset.</para>
/// </summary>
[Cmdlet(VerbsCommon.New, "PrecomputedInfo", DefaultParameterSetName = GeometrySet, SupportsShouldProcess = true)]
[OutputType(typeof(PrecomputedDataset))]
public sealed class NewPrecomputedInfoCommand : PrecomputedCmdlet
{
    private const string GeometrySet = "Geometry";
    private const string VolumeSet = "Volume";
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";

    /// <summary>Size of the full-resolution volume in voxels, x,y,z.</summary>
    [Parameter(Mandatory = true, ParameterSetName = GeometrySet)]
    [ValidateCount(3, 3)]
    public int[] Size { get; set; } = Array.Empty<int>();

    /// <summary>Voxel size in nanometres, x,y,z.</summary>
    [Parameter(Mandatory = true, ParameterSetName = GeometrySet)]
    [Parameter(ParameterSetName = VolumeSet)]
    [ValidateCount(3, 3)]
    [Alias("VoxelSize")]
    public double[]? Resolution { get; set; }

    /// <summary>Global position of voxel (0,0,0), x,y,z.</summary>
    [Parameter(ParameterSetName = GeometrySet)]
    [Parameter(ParameterSetName = VolumeSet)]
    [ValidateCount(3, 3)]
    public int[]? VoxelOffset { get; set; }

    /// <summary>Element type of the voxels.</summary>
    [Parameter(ParameterSetName = GeometrySet)]
    [ValidateSet("uint8", "uint16", "uint32", "uint64", "float32", IgnoreCase = true)]
    public string DataType { get; set; } = "uint64";

    /// <summary>Store segmentation labels as uint32 or uint64. Without it, compressed_segmentation stores uint64 and raw keeps the voxels' type: the rule ConvertTo-CompressedSegmentation follows, so the info describes what it writes.</summary>
    [Parameter(ParameterSetName = GeometrySet)]
    [Parameter(ParameterSetName = VolumeSet)]
    [ValidateSet("uint32", "uint64", IgnoreCase = true)]
    public string? LabelType { get; set; }

    /// <summary>segmentation (labels) or image.</summary>
    [Parameter(ParameterSetName = GeometrySet)]
    [Parameter(ParameterSetName = VolumeSet)]
    [ValidateSet("segmentation", "image", IgnoreCase = true)]
    public string Type { get; set; } = "segmentation";

    /// <summary>A volume (from Import-TiffStack or Get-BossCutout) whose geometry the info describes.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = VolumeSet)]
    public VolumeSource? InputObject { get; set; }

    /// <summary>An existing info file (or the folder holding it) to read and complete.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = PathSet)]
    [SupportsWildcards]
    public string Path { get; set; } = "";

    /// <summary>Like -Path, without wildcard expansion.</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = LiteralPathSet)]
    [Alias("PSPath", "LP")]
    public string LiteralPath { get; set; } = "";

    /// <summary>Chunk encoding of every scale: compressed_segmentation (labels), raw, jpeg (uint8 images) or png (uint8/uint16 images).</summary>
    [Parameter]
    [ValidateSet(ChunkEncodings.CompressedSegmentation, ChunkEncodings.Raw, ChunkEncodings.Jpeg, ChunkEncodings.Png)]
    public string? Encoding { get; set; }

    /// <summary>compressed_segmentation block size, x,y,z (default 8,8,8).</summary>
    [Parameter]
    [ValidateCount(3, 3)]
    [ValidateRange(1, 64)]
    public int[]? BlockSize { get; set; }

    /// <summary>Mesh folder name written into the info (for example "mesh").</summary>
    [Parameter]
    public string? MeshDirectory { get; set; }

    /// <summary>Target chunk edge, a power of two (generate-scales-info's --target-chunk-size; default 64).</summary>
    [Parameter]
    [ValidateRange(1, 1 << 20)]
    public int TargetChunkSize { get; set; } = 64;

    /// <summary>Largest number of scales to generate.</summary>
    [Parameter]
    [ValidateRange(1, 64)]
    public int MaxScales { get; set; } = 64;

    /// <summary>Dataset folder to write the info file into. Without it, the info is only returned.</summary>
    [Parameter]
    [Alias("OutputPath")]
    public string? Destination { get; set; }

    /// <summary>Overwrite a different info file already in -Destination.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        try
        {
            PrecomputedInfo info = BuildInfo();
            string path = "";
            if (Destination is not null)
            {
                path = ResolveOutputPath(Destination);
                if (!WriteInfo(path, info))
                {
                    return;
                }
            }

            WriteObject(new PrecomputedDataset(path, info));
        }
        catch (EngineException ex)
        {
            ThrowTerminatingError(ToErrorRecord(ex));
        }
    }

    private PrecomputedInfo BuildInfo()
    {
        bool chunkSizeGiven = MyInvocation.BoundParameters.ContainsKey(nameof(TargetChunkSize));
        int? maxScales = MyInvocation.BoundParameters.ContainsKey(nameof(MaxScales)) ? MaxScales : null;
        Int3? blockSize = BlockSize is null ? null : Int3.From(BlockSize);
        switch (ParameterSetName)
        {
            case PathSet:
            case LiteralPathSet:
            {
                string file = ResolveExistingPath(ParameterSetName == PathSet ? Path : LiteralPath, ParameterSetName == LiteralPathSet);
                if (Directory.Exists(file))
                {
                    file = System.IO.Path.Combine(file, ObjectNames.InfoName);
                }

                if (!File.Exists(file))
                {
                    throw new EngineException("InfoFileNotFound", EngineErrorKind.ObjectNotFound, $"No info file at '{file}'.", file);
                }

                var warnings = new List<string>();
                PrecomputedInfo info = PrecomputedInfo.Parse(File.ReadAllText(file), warnings, allowIncompleteScales: true, source: file);
                foreach (string warning in warnings)
                {
                    WriteWarning(warning);
                }

                ApplyOverrides(info);
                bool incomplete = info.Scales.Exists(s => s.Key.Length == 0 || !s.ChunkSize.AllPositive);
                if (info.Scales.Count == 1 || incomplete || chunkSizeGiven)
                {
                    ScaleInfo first = info.Scales[0];
                    if (info.Scales.Count > 1)
                    {
                        WriteVerbose($"Regenerating {info.Scales.Count} scales from scale 0.");
                    }

                    var scales = ScalePyramid.Generate(first.Size, first.Resolution, first.VoxelOffset, TargetChunkSize, Encoding ?? first.Encoding, blockSize ?? first.BlockSize, maxScales);
                    info.Scales.Clear();
                    info.Scales.AddRange(scales);
                }

                info.Validate(file);
                return info;
            }

            case VolumeSet:
            {
                VolumeSource volume = InputObject!;
                double[] resolution = Resolution ?? volume.Resolution ?? throw new EngineException(
                    "ResolutionRequired",
                    EngineErrorKind.InvalidArgument,
                    $"The volume '{volume.Name}' does not say its voxel size; give -Resolution x,y,z in nanometres.",
                    volume.Source);
                Int3 offset = VoxelOffset is null ? Int3.From(volume.VoxelOffset) : Int3.From(VoxelOffset);
                return Assemble(Int3.From(volume.Size), resolution, offset, volume.Descriptor.DataType, RequestedLabelType(LabelType), $"The volume '{volume.Name}'", blockSize, maxScales);
            }

            default:
            {
                if (!VoxelTypes.TryParse(DataType, out VoxelType dataType))
                {
                    throw new EngineException("InvalidDataType", EngineErrorKind.InvalidArgument, $"Unknown data type '{DataType}'.", DataType);
                }

                // -DataType names the stored type itself when it is a label type.
                VoxelType? labels = RequestedLabelType(LabelType) ?? (VoxelTypes.IsLabelType(dataType) ? dataType : null);
                return Assemble(Int3.From(Size), Resolution!, VoxelOffset is null ? Int3.Zero : Int3.From(VoxelOffset), dataType, labels, "A segmentation with -DataType " + VoxelTypes.ToInfoName(dataType), blockSize, maxScales);
            }
        }
    }

    private PrecomputedInfo Assemble(Int3 size, double[] resolution, Int3 offset, VoxelType dataType, VoxelType? labelType, string what, Int3? blockSize, int? maxScales)
    {
        var info = new PrecomputedInfo { Type = Type.ToLowerInvariant(), DataType = dataType, Mesh = MeshDirectory };
        string encoding = Encoding ?? (info.IsSegmentation ? ChunkEncodings.CompressedSegmentation : ChunkEncodings.Raw);
        if (info.IsSegmentation)
        {
            info.DataType = ChunkEncodings.StoredLabelType(dataType, encoding, labelType, what);
            if (info.DataType != dataType)
            {
                WriteVerbose($"Segmentation labels of type {VoxelTypes.ToInfoName(dataType)} are stored as {VoxelTypes.ToInfoName(info.DataType)}.");
            }
        }

        info.Scales.AddRange(ScalePyramid.Generate(size, resolution, offset, TargetChunkSize, encoding, blockSize, maxScales));
        info.Validate();
        return info;
    }

    private void ApplyOverrides(PrecomputedInfo info)
    {
        if (MeshDirectory is not null)
        {
            info.Mesh = MeshDirectory;
        }

        foreach (ScaleInfo scale in info.Scales)
        {
            if (Encoding is not null)
            {
                scale.Encoding = Encoding;
                scale.BlockSize = Encoding == ChunkEncodings.CompressedSegmentation ? scale.BlockSize ?? new Int3(8, 8, 8) : null;
            }

            if (BlockSize is not null && scale.Encoding == ChunkEncodings.CompressedSegmentation)
            {
                scale.BlockSize = Int3.From(BlockSize);
            }
        }
    }

    private bool WriteInfo(string folder, PrecomputedInfo info)
    {
        using var directory = new DatasetStore(new FolderStore(folder));
        string infoPath = System.IO.Path.Combine(((FolderStore)directory.Objects).Root, DatasetStore.InfoKey);
        string json = info.ToJson();
        if (File.Exists(infoPath))
        {
            if (File.ReadAllText(infoPath) == json)
            {
                WriteVerbose($"'{infoPath}' already holds this info.");
                return true;
            }

            if (!Force)
            {
                ThrowTerminatingError(OutputExistsError(infoPath));
            }
        }

        if (!ShouldProcess(infoPath, "Write precomputed info"))
        {
            return false;
        }

        directory.WriteInfo(info);
        return true;
    }
}
