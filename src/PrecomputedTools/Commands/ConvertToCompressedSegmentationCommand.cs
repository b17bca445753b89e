using System;
using System.IO;
using System.Linq;
using System.Management.Automation;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Engine.Volumes;
using PrecomputedTools.Infrastructure;

namespace PrecomputedTools.Commands;

/// <summary>
/// <para type="synopsis">Writes a volume as scale 0 of a precomputed dataset (compressed_segmentation by default).</para>
/// </summary>
[Cmdlet(VerbsData.ConvertTo, "CompressedSegmentation", SupportsShouldProcess = true)]
[OutputType(typeof(PrecomputedDataset))]
public sealed class ConvertToCompressedSegmentationCommand : PrecomputedCmdlet
{
    /// <summary>The volume to write (from Import-TiffStack or Get-BossCutout).</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    public VolumeSource InputObject { get; set; } = null!;

    /// <summary>Dataset folder to write (created if needed). An info already there (from New-PrecomputedInfo -OutputPath) is used.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [Alias("OutputPath")]
    public string Path { get; set; } = "";

    /// <summary>Voxel size in nanometres, x,y,z, when the volume does not carry it.</summary>
    [Parameter]
    [ValidateCount(3, 3)]
    [Alias("VoxelSize")]
    public double[]? Resolution { get; set; }

    /// <summary>Global position of voxel (0,0,0); default the volume's own.</summary>
    [Parameter]
    [ValidateCount(3, 3)]
    public int[]? VoxelOffset { get; set; }

    /// <summary>Target chunk edge for the scale pyramid, a power of two (default 64).</summary>
    [Parameter]
    [ValidateRange(1, 1 << 20)]
    public int TargetChunkSize { get; set; } = 64;

    /// <summary>Largest number of scales in the info.</summary>
    [Parameter]
    [ValidateRange(1, 64)]
    public int MaxScales { get; set; } = 64;

    /// <summary>compressed_segmentation block size, x,y,z (default 8,8,8).</summary>
    [Parameter]
    [ValidateCount(3, 3)]
    [ValidateRange(1, 64)]
    public int[]? BlockSize { get; set; }

    /// <summary>compressed_segmentation (labels, default) or raw (images).</summary>
    [Parameter]
    [ValidateSet(ChunkEncodings.CompressedSegmentation, ChunkEncodings.Raw)]
    public string? Encoding { get; set; }

    /// <summary>segmentation (default) or image.</summary>
    [Parameter]
    [ValidateSet("segmentation", "image", IgnoreCase = true)]
    public string Type { get; set; } = "segmentation";

    /// <summary>Store labels as uint64 (default for segmentation) or uint32.</summary>
    [Parameter]
    [ValidateSet("uint32", "uint64", IgnoreCase = true)]
    public string? LabelType { get; set; }

    /// <summary>Flat chunk names x0-x1_y0-y1_z0-z1 (default, what the viewer requests) or nested x0-x1/y0-y1/z0-z1.</summary>
    [Parameter]
    [ValidateSet("Flat", "Nested", IgnoreCase = true)]
    public string Layout { get; set; } = "Flat";

    /// <summary>Write chunks without gzip (by default each chunk is "name.gz", served with Content-Encoding: gzip).</summary>
    [Parameter]
    public SwitchParameter NoGzip { get; set; }

    /// <summary>Overwrite an existing dataset.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Finish an interrupted run: keep chunks already written and valid, write the rest.</summary>
    [Parameter]
    public SwitchParameter Resume { get; set; }

    /// <summary>Chunks encoded in parallel (default: all cores).</summary>
    [Parameter]
    [ValidateRange(1, 1024)]
    public int ThrottleLimit { get; set; } = Environment.ProcessorCount;

    protected override void ProcessRecord()
    {
        string output = ResolveOutputPath(Path);
        try
        {
            var directory = new DatasetDirectory(output, Layout.Equals("Nested", StringComparison.OrdinalIgnoreCase) ? ChunkLayout.Nested : ChunkLayout.Flat, gzip: !NoGzip);
            PrecomputedInfo info = PlanInfo(directory);
            ScaleInfo scale = info.Scales[0];
            if (!ShouldProcess($"{output} ({scale.ChunkCount} chunks of scale {scale.Key}, {scale.Encoding})", "Write precomputed scale 0"))
            {
                return;
            }

            Directory.CreateDirectory(output);
            int cleaned = AtomicFile.CleanTemporaryFiles(output);
            if (cleaned > 0)
            {
                WriteVerbose($"Removed {cleaned} temporary file(s) left by an interrupted run.");
            }

            directory.WriteInfo(info);
            var monitor = new OperationMonitor("Writing " + System.IO.Path.GetFileName(output), "chunks") { Phase = $"Scale 0 ({scale.Key})" };
            var options = new ChunkWriteOptions { Resume = Resume, ThrottleLimit = ThrottleLimit };
            VolumeDescriptor descriptor = InputObject.Descriptor;
            RunEngine(
                async (m, ct) =>
                {
                    using IVolumeReader reader = descriptor.OpenReader();
                    await ScaleWriter.WriteFromVolumeAsync(reader, directory, info, options, m, ct).ConfigureAwait(false);
                },
                monitor);
            WriteObject(new PrecomputedDataset(directory.RootPath, info));
        }
        catch (EngineException ex)
        {
            ThrowTerminatingError(ToErrorRecord(ex));
        }
    }

    private PrecomputedInfo PlanInfo(DatasetDirectory directory)
    {
        VolumeSource volume = InputObject;
        Int3 size = Int3.From(volume.Size);
        if (directory.HasInfo)
        {
            PrecomputedInfo existing = directory.ReadInfo();
            bool hasChunks = existing.Scales.Any(s => Directory.Exists(directory.ScalePath(s)) && Directory.EnumerateFileSystemEntries(directory.ScalePath(s)).Any());
            bool matches = existing.Scales[0].Size == size;
            if (hasChunks && !Force && !Resume)
            {
                ThrowTerminatingError(OutputExistsError(directory.RootPath));
            }

            if (matches && !Force)
            {
                WriteVerbose($"Using the info already in '{directory.RootPath}' ({existing.Scales.Count} scales).");
                return existing;
            }

            if (!matches && !Force)
            {
                throw new EngineException(
                    "InvalidVolumeGeometry",
                    EngineErrorKind.InvalidArgument,
                    $"The info in '{directory.RootPath}' describes {existing.Scales[0].Size} voxels but the volume is {size}. Use -Force to replace it.",
                    directory.RootPath);
            }

            WriteWarning($"Overwriting the dataset in '{directory.RootPath}' (-Force).");
        }
        else if (Resume)
        {
            WriteVerbose("Nothing to resume: no info yet, starting a new dataset.");
        }

        double[] resolution = Resolution ?? volume.Resolution ?? throw new EngineException(
            "ResolutionRequired",
            EngineErrorKind.InvalidArgument,
            $"The volume '{volume.Name}' does not say its voxel size; give -Resolution x,y,z in nanometres.",
            volume.Source);
        VoxelType sourceType = volume.Descriptor.DataType;
        bool segmentation = string.Equals(Type, "segmentation", StringComparison.OrdinalIgnoreCase);
        string encoding = Encoding ?? (segmentation ? ChunkEncodings.CompressedSegmentation : ChunkEncodings.Raw);
        VoxelType storedType = sourceType;
        if (segmentation)
        {
            if (sourceType == VoxelType.Float32)
            {
                throw new EngineException("InvalidLabelType", EngineErrorKind.InvalidData, $"The volume '{volume.Name}' holds float32 values, which cannot be segment labels. Use -Type image.", volume.Source);
            }

            storedType = LabelType is null ? VoxelType.UInt64 : (LabelType.Equals("uint32", StringComparison.OrdinalIgnoreCase) ? VoxelType.UInt32 : VoxelType.UInt64);
            if (encoding == ChunkEncodings.Raw && LabelType is null)
            {
                storedType = sourceType;
            }
        }
        else if (encoding == ChunkEncodings.CompressedSegmentation)
        {
            throw new EngineException("InvalidEncoding", EngineErrorKind.InvalidArgument, "compressed_segmentation is for segmentation labels; use -Encoding raw for images.", volume.Source);
        }

        if (storedType != sourceType)
        {
            WriteVerbose($"Labels of type {VoxelTypes.ToInfoName(sourceType)} are stored as {VoxelTypes.ToInfoName(storedType)}.");
        }

        var info = new PrecomputedInfo { Type = segmentation ? "segmentation" : "image", DataType = storedType };
        Int3 offset = VoxelOffset is null ? Int3.From(volume.VoxelOffset) : Int3.From(VoxelOffset);
        int? maxScales = MyInvocation.BoundParameters.ContainsKey(nameof(MaxScales)) ? MaxScales : null;
        info.Scales.AddRange(ScalePyramid.Generate(size, resolution, offset, TargetChunkSize, encoding, BlockSize is null ? null : Int3.From(BlockSize), maxScales));
        info.Validate();
        return info;
    }
}
