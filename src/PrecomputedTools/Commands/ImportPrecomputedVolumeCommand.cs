using System;
using System.Management.Automation;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Infrastructure;

namespace PrecomputedTools.Commands;

/// <summary>
/// <para type="synopsis">Opens one scale of an existing precomputed dataset (folder, S3 or http) as a volume that reads its chunks on demand.</para>
/// </summary>
[Cmdlet(VerbsData.Import, "PrecomputedVolume", DefaultParameterSetName = PathSet)]
[OutputType(typeof(VolumeSource))]
public sealed class ImportPrecomputedVolumeCommand : StoreCmdlet
{
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";
    private const string InputSet = "InputObject";

    /// <summary>Location of the dataset: a folder, file://, s3://bucket/prefix, gs://bucket/prefix, or an http(s) URL (also precomputed://https://... as copied from the viewer).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true, ParameterSetName = PathSet)]
    [SupportsWildcards]
    public string Path { get; set; } = "";

    /// <summary>Like -Path, without wildcard expansion.</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = LiteralPathSet)]
    [Alias("PSPath", "LP")]
    public string LiteralPath { get; set; } = "";

    /// <summary>A dataset from an earlier cmdlet (it carries its location and store settings).</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputSet)]
    public PrecomputedDataset InputObject { get; set; } = null!;

    /// <summary>Scale key (for example 2um) or index (0 = finest, the default).</summary>
    [Parameter]
    [ArgumentCompleter(typeof(Completion.ScaleKeyCompleter))]
    public string? Scale { get; set; }

    /// <summary>Chunk requests in flight at once for remote datasets (default 16).</summary>
    [Parameter]
    [ValidateRange(1, 1024)]
    public int ThrottleLimit { get; set; } = 16;

    protected override void ProcessRecord()
    {
        try
        {
            string location = ParameterSetName switch
            {
                PathSet => ResolveInputLocation(Path),
                LiteralPathSet => ResolveInputLocation(LiteralPath, literal: true),
                _ => InputObject.Path,
            };
            StoreOptions options = BuildStoreOptions(ParameterSetName == InputSet ? InputObject.StoreOptions : null, ThrottleLimit);
            using DatasetStore store = DatasetStore.Open(location, options);
            PrecomputedInfo info = store.ReadInfo();
            ScaleInfo scale = PrecomputedVolumeReader.FindScale(info, Scale, store.Location);
            RequireReadable(info, scale, store.Location);
            var descriptor = new PrecomputedVolumeDescriptor(store.Location, info, scale, options, store.Layout);
            WriteVerbose($"{store.Location}: scale {scale.Key} of {info.Scales.Count}, {scale.Size} voxels of {VoxelTypes.ToInfoName(info.DataType)} ({scale.Encoding}, {store.Layout} names{(store.Gzip ? ", gzip" : "")}).");
            WriteObject(new VolumeSource(descriptor));
        }
        catch (EngineException ex)
        {
            WriteError(ToErrorRecord(ex));
        }
    }

    private static void RequireReadable(PrecomputedInfo info, ScaleInfo scale, string location)
    {
        if (info.NumChannels != 1)
        {
            throw new EngineException("UnsupportedChannelCount", EngineErrorKind.NotSupported, $"'{location}' has {info.NumChannels} channels; volumes of this module have one.", location);
        }

        if (!ChunkEncodings.IsKnown(scale.Encoding))
        {
            throw new EngineException("UnsupportedEncoding", EngineErrorKind.NotSupported, $"Scale {scale.Key} of '{location}' is encoded as '{scale.Encoding}'; this module reads raw and compressed_segmentation.", location);
        }

        if (scale.Encoding == ChunkEncodings.CompressedSegmentation && !VoxelTypes.IsLabelType(info.DataType))
        {
            throw new EngineException("InvalidPrecomputedInfo", EngineErrorKind.InvalidData, $"'{location}': compressed_segmentation needs uint32 or uint64, not {VoxelTypes.ToInfoName(info.DataType)}.", location);
        }
    }
}
