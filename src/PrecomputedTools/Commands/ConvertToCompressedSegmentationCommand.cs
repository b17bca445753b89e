using System;
using System.IO;
using System.Linq;
using System.Management.Automation;
using PrecomputedTools.Completion;
using PrecomputedTools.Engine.Stages;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Codecs;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Infrastructure;
using PrecomputedTools.Engine.Volumes;

namespace PrecomputedTools.Commands;

/// <summary>
/// <para type="synopsis">Writes a volume as scale 0 of a precomputed dataset (compressed_segmentation by default).</para>
/// </summary>
[Cmdlet(VerbsData.ConvertTo, "CompressedSegmentation", SupportsShouldProcess = true)]
[OutputType(typeof(PrecomputedDataset))]
public sealed class ConvertToCompressedSegmentationCommand : StoreCmdlet
{
    /// <summary>The volume to write (from Import-TiffStack or Get-BossCutout).</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    public VolumeSource InputObject { get; set; } = null!;

    /// <summary>Where to write the dataset: a folder (created if needed), s3://bucket/prefix or gs://bucket/prefix. An info already there (from New-PrecomputedInfo -Destination) is used.</summary>
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

    /// <summary>compressed_segmentation (labels, the default for segmentation), raw (any type; the default for images), jpeg (uint8 images, lossy, about a tenth of raw) or png (uint8/uint16 images, lossless).</summary>
    [Parameter]
    [ValidateSet(ChunkEncodings.CompressedSegmentation, ChunkEncodings.Raw, ChunkEncodings.Jpeg, ChunkEncodings.Png)]
    public string? Encoding { get; set; }

    /// <summary>JPEG quality, 1..100 (default 95: EM membranes stay sharp); stored in the info as jpeg_quality so the lower scales use it too.</summary>
    [Parameter]
    [ValidateRange(1, 100)]
    public int Quality { get; set; } = ImageChunkCodecs.DefaultJpegQuality;

    /// <summary>segmentation (default; image when -Encoding is jpeg or png) or image.</summary>
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

    /// <summary>Save the stage as a plan here (a file, or s3://bucket/key.json that every worker reads) instead of running it; run it with Invoke-PrecomputedTask or Submit-PrecomputedSlurmJob.</summary>
    [Parameter]
    public string? PlanPath { get; set; }

    /// <summary>Write every scale sharded (neuroglancer_uint64_sharded_v1): each task assembles whole shard files from encoded chunks, so a scale is a few files instead of one object per chunk; the lower scales Invoke-MajorityDownscale writes are sharded too (the info says so). Parameters are chosen from each scale's grid as Copy-PrecomputedDataset -Sharded chooses them.</summary>
    [Parameter]
    public SwitchParameter Sharded { get; set; }

    /// <summary>Sharding parameters that replace the chosen ones on every scale (implies -Sharded): a hashtable with any of preshift_bits, minishard_bits, shard_bits, hash (identity or murmurhash3_x86_128), minishard_index_encoding and data_encoding (raw or gzip).</summary>
    [Parameter]
    public System.Collections.Hashtable? Sharding { get; set; }

    /// <summary>Scales to keep as one object per chunk when the others are sharded (with -Sharded or -Sharding): keys such as 4um, or indexes 0..n-1. The lowest scales hold a handful of chunks, where a shard file saves nothing; the viewer reads a mix of sharded and unsharded scales.</summary>
    [Parameter]
    [ArgumentCompleter(typeof(ScaleKeyCompleter))]
    public string[]? UnshardedScale { get; set; }

    /// <summary>Chunks encoded in parallel (default: all cores).</summary>
    [Parameter]
    [ValidateRange(1, 1024)]
    public int ThrottleLimit { get; set; } = Environment.ProcessorCount;

    protected override void ProcessRecord()
    {
        try
        {
            string output = ResolveOutputLocation(Path);
            StoreOptions options = BuildStoreOptions(null, ThrottleLimit);
            ChunkLayout layout = Layout.Equals("Nested", StringComparison.OrdinalIgnoreCase) ? ChunkLayout.Nested : ChunkLayout.Flat;
            using DatasetStore store = DatasetStore.Open(output, options, layout, gzip: !NoGzip);
            DatasetOutput.CheckWritable(store);
            PrecomputedInfo? previous = store.HasInfo ? store.ReadInfo() : store.ReadPendingInfo();
            bool declared = store.HasInfo;
            PrecomputedInfo info = PlanInfo(store, previous);
            if (Sharded || Sharding is not null)
            {
                info = ShardingParameters.WithSharding(info, Sharding, store.Location, UnshardedScale);
            }

            // The whole stage is planned before anything is written (or asked).
            VolumeDescriptor descriptor = InputObject.Descriptor;
            StagePlan plan = StagePlanner.PlanConvert(info, store.Location, store.Layout, store.Gzip, descriptor.Size, descriptor.ReadGranularity, descriptor.DataType, source: descriptor.Spec);
            plan.DestinationStore = options.ToPublicJson();
            if (PlanPath is not null && descriptor.Spec is null)
            {
                throw new EngineException("SourceNotPlannable", EngineErrorKind.InvalidArgument, $"The volume '{InputObject.Name}' lives only in this session, so other processes cannot read it; save plans for volumes read from TIFF slices, the BOSS or a dataset.", InputObject.Source);
            }

            if (!ShouldProcess(plan.Description, PlanPath is null ? "Write precomputed scale 0" : $"Save a plan to write precomputed scale 0 as '{PlanPath}'"))
            {
                // The next stage of a -WhatIf pipeline describes its own work from this.
                if (WhatIfRequested)
                {
                    WriteObject(PrecomputedDataset.Planned(store.Location, info, store.Layout, store.Gzip, options));
                }

                return;
            }

            if (Force && previous is not null)
            {
                int removed = DatasetOutput.RemoveReplaced(store, previous, info);
                WriteVerbose($"Removed {removed} object(s) of the dataset being replaced (-Force).");
            }

            int cleaned = store.Objects.RemoveIncompleteWrites();
            if (cleaned > 0)
            {
                WriteVerbose($"Removed {cleaned} temporary file(s) left by an interrupted run.");
            }

            if (!declared)
            {
                store.WritePendingInfo(info);
            }

            if (PlanPath is not null)
            {
                string saved = SavePlan(plan, PlanPath, options, Force);
                WriteObject(PrecomputedDataset.Planned(store.Location, info, store.Layout, store.Gzip, options, new[] { saved }));
                return;
            }

            var monitor = new OperationMonitor("Writing " + store.Location, "chunks") { Phase = $"Scale 0 ({info.Scales[0].Key})" };
            var context = new StageContext { Store = store, Resume = Resume, ThrottleLimit = ThrottleLimit, StoreOptions = options };

            // The plan's last task writes the info, after every chunk is durable, so a failed first
            // run leaves no dataset that looks complete.
            RunEngine(
                async (m, ct) =>
                {
                    using IVolumeReader reader = descriptor.OpenReader();
                    context.SourceReader = reader;
                    await StageExecutor.ExecuteAsync(plan, context, null, m, ct).ConfigureAwait(false);
                },
                monitor);

            WriteObject(new PrecomputedDataset(store, info, options));
        }
        catch (EngineException ex)
        {
            ThrowTerminatingError(ToErrorRecord(ex));
        }
    }

    // An existing info decides the geometry: settings given on the command line that say otherwise
    // would be silently dropped, so they are refused (-Force starts over with them).
    private void RefuseConflictingSettings(PrecomputedInfo existing, Int3 size, string location)
    {
        ScaleInfo first = existing.Scales[0];
        var conflicts = new System.Collections.Generic.List<string>();
        if (Resolution is not null && !Resolution.Select((r, i) => Math.Abs(r - first.Resolution[i]) <= 1e-6 * Math.Max(1, Math.Abs(r))).All(same => same))
        {
            conflicts.Add($"-Resolution {string.Join(",", Resolution)} (the info has {string.Join(",", first.Resolution)} nm)");
        }

        if (VoxelOffset is not null && Int3.From(VoxelOffset) != first.VoxelOffset)
        {
            conflicts.Add($"-VoxelOffset {string.Join(",", VoxelOffset)} (the info has {first.VoxelOffset})");
        }

        if (Encoding is not null && !string.Equals(Encoding, first.Encoding, StringComparison.Ordinal))
        {
            conflicts.Add($"-Encoding {Encoding} (the info has {first.Encoding})");
        }

        if (MyInvocation.BoundParameters.ContainsKey(nameof(Quality)) && first.Encoding == ChunkEncodings.Jpeg && first.JpegQuality != Quality)
        {
            conflicts.Add($"-Quality {Quality} (the info has jpeg_quality {first.JpegQuality?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unset"})");
        }

        if (MyInvocation.BoundParameters.ContainsKey(nameof(TargetChunkSize)))
        {
            Int3 wanted = ScalePyramid.Generate(size, first.Resolution, first.VoxelOffset, TargetChunkSize, first.Encoding, first.BlockSize, 1)[0].ChunkSize;
            if (wanted != first.ChunkSize)
            {
                conflicts.Add($"-TargetChunkSize {TargetChunkSize} (chunks of {wanted}; the info has {first.ChunkSize})");
            }
        }

        if (conflicts.Count > 0)
        {
            throw new EngineException(
                "SettingsConflictWithInfo",
                EngineErrorKind.InvalidArgument,
                $"The info in '{location}' decides the dataset's geometry, and it differs from {string.Join(" and ", conflicts)}. Leave those parameters out to {(Resume ? "resume" : "fill that info")}, or use -Force to start over with them.",
                location,
                recommendedAction: "Drop the conflicting parameters, or add -Force to replace the dataset.");
        }
    }

    private PrecomputedInfo PlanInfo(DatasetStore directory, PrecomputedInfo? existing)
    {
        VolumeSource volume = InputObject;
        Int3 size = Int3.From(volume.Size);
        if (existing is not null)
        {
            bool hasChunks = existing.Scales.Any(directory.HasChunks);
            bool matches = existing.Scales[0].Size == size;
            if (hasChunks && !Force && !Resume)
            {
                ThrowTerminatingError(OutputExistsError(directory.Location));
            }

            if (matches && !Force)
            {
                RefuseConflictingSettings(existing, size, directory.Location);
                WriteVerbose($"Using the info already in '{directory.Location}' ({existing.Scales.Count} scales).");
                return existing;
            }

            if (!matches && !Force)
            {
                Int3 had = existing.Scales[0].Size;
                string swapped = had.X == size.Y && had.Y == size.X && had.Z == size.Z && had.X != had.Y
                    ? " Its x and y are the volume's y and x: if the slices were read transposed, Import-TiffStack -SwapXY reads them the other way."
                    : "";
                throw new EngineException(
                    "InvalidVolumeGeometry",
                    EngineErrorKind.InvalidArgument,
                    $"The info in '{directory.Location}' describes {had} voxels but the volume is {size}.{swapped} Use -Force to replace the info.",
                    directory.Location);
            }

            WriteWarning($"Overwriting the dataset in '{directory.Location}' (-Force).");
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
        bool imageCodec = ChunkEncodings.IsImageCodec(Encoding);
        bool segmentation = string.Equals(Type, "segmentation", StringComparison.OrdinalIgnoreCase) && !(imageCodec && !MyInvocation.BoundParameters.ContainsKey(nameof(Type)));
        if (segmentation && imageCodec)
        {
            throw new EngineException("InvalidEncoding", EngineErrorKind.InvalidArgument, $"-Encoding {Encoding} is for images (the viewer shows it as an image layer); use compressed_segmentation or raw for segmentation labels.", volume.Source);
        }

        if (MyInvocation.BoundParameters.ContainsKey(nameof(Quality)) && Encoding != ChunkEncodings.Jpeg)
        {
            throw new EngineException("InvalidParameterCombination", EngineErrorKind.InvalidArgument, "-Quality sets the JPEG quality; it needs -Encoding jpeg.", volume.Source);
        }

        string encoding = Encoding ?? (segmentation ? ChunkEncodings.CompressedSegmentation : ChunkEncodings.Raw);
        VoxelType storedType = sourceType;
        if (segmentation)
        {
            storedType = ChunkEncodings.StoredLabelType(sourceType, encoding, RequestedLabelType(LabelType), $"The volume '{volume.Name}'");
        }
        else if (encoding == ChunkEncodings.CompressedSegmentation)
        {
            throw new EngineException("InvalidEncoding", EngineErrorKind.InvalidArgument, "compressed_segmentation is for segmentation labels; use -Encoding raw, jpeg or png for images.", volume.Source);
        }
        else if (encoding == ChunkEncodings.Jpeg && sourceType != VoxelType.UInt8)
        {
            throw new EngineException("InvalidEncoding", EngineErrorKind.InvalidArgument, $"JPEG chunks hold uint8 voxels; '{volume.Name}' is {VoxelTypes.ToInfoName(sourceType)}. Use -Encoding png (uint16) or raw.", volume.Source);
        }
        else if (encoding == ChunkEncodings.Png && sourceType is not (VoxelType.UInt8 or VoxelType.UInt16))
        {
            throw new EngineException("InvalidEncoding", EngineErrorKind.InvalidArgument, $"PNG chunks hold uint8 or uint16 voxels; '{volume.Name}' is {VoxelTypes.ToInfoName(sourceType)}. Use -Encoding raw.", volume.Source);
        }

        if (storedType != sourceType)
        {
            WriteVerbose($"Labels of type {VoxelTypes.ToInfoName(sourceType)} are stored as {VoxelTypes.ToInfoName(storedType)}.");
        }

        var info = new PrecomputedInfo { Type = segmentation ? "segmentation" : "image", DataType = storedType };
        Int3 offset = VoxelOffset is null ? Int3.From(volume.VoxelOffset) : Int3.From(VoxelOffset);
        int? maxScales = MyInvocation.BoundParameters.ContainsKey(nameof(MaxScales)) ? MaxScales : null;
        info.Scales.AddRange(ScalePyramid.Generate(size, resolution, offset, TargetChunkSize, encoding, BlockSize is null ? null : Int3.From(BlockSize), maxScales));
        foreach (ScaleInfo scale in info.Scales)
        {
            scale.JpegQuality = encoding == ChunkEncodings.Jpeg ? Quality : null;
        }

        info.Validate();

        // No info but chunks of the planned scale 0: an interrupted first run (the info comes last).
        if (existing is null && !Force && !Resume && directory.HasChunks(info.Scales[0]))
        {
            ThrowTerminatingError(OutputExistsError(directory.Location));
        }

        return info;
    }
}
