using System;
using System.Collections;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Text;
using PrecomputedTools.Engine.Stages;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Meshing;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Engine.Volumes;
using PrecomputedTools.Infrastructure;

namespace PrecomputedTools.Commands;

/// <summary>
/// <para type="synopsis">Meshes the segments of a label volume into the dataset's mesh folder: legacy meshes, or multi-resolution Draco meshes with -Format MultiResolution.</para>
/// <para type="description">Marching cubes over every label in one pass per chunk (outside the volume
/// counts as background, so surfaces are closed), vertices aligned with the voxels neuroglancer
/// draws, quadric-error simplification that keeps surfaces closed and chunk fragments joined. Writes
/// mesh/info, one manifest per segment and the fragments, adds "mesh" to the dataset info and,
/// with -SegmentName, segment_properties. With -Format MultiResolution, writes neuroglancer_multilod_draco
/// (per segment a Draco fragment file and a manifest; levels of detail by octree node, crack-free at
/// every level). Emits one SegmentMesh per segment, then the dataset.</para>
/// </summary>
[Cmdlet(VerbsCommon.New, "SegmentMesh", DefaultParameterSetName = InputSet, SupportsShouldProcess = true)]
[OutputType(typeof(SegmentMesh), typeof(PrecomputedDataset))]
public sealed class NewSegmentMeshCommand : StoreCmdlet
{
    private const string InputSet = "InputObject";
    private const string PathSet = "Path";
    private const string VolumeSet = "Volume";

    /// <summary>The segmentation dataset to mesh (from ConvertTo-CompressedSegmentation or Invoke-MajorityDownscale).</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputSet)]
    public PrecomputedDataset InputObject { get; set; } = null!;

    /// <summary>Folder of the dataset, instead of -InputObject.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = PathSet)]
    public string Path { get; set; } = "";

    /// <summary>A label volume (from Import-TiffStack) to mesh directly; the meshes go into -Destination.</summary>
    [Parameter(Mandatory = true, ParameterSetName = VolumeSet)]
    public VolumeSource Volume { get; set; } = null!;

    /// <summary>Dataset folder that receives the mesh folder when meshing a -Volume.</summary>
    [Parameter(Mandatory = true, ParameterSetName = VolumeSet)]
    [Alias("OutputPath")]
    public string Destination { get; set; } = "";

    /// <summary>Voxel size in nanometres x,y,z for a -Volume that does not know it.</summary>
    [Parameter(ParameterSetName = VolumeSet)]
    [ValidateCount(3, 3)]
    [Alias("VoxelSize")]
    public double[]? Resolution { get; set; }

    /// <summary>Scale to mesh: its key (e.g. "1596_1596_2000") or its index (0 = finest, the default).</summary>
    [Parameter(ParameterSetName = InputSet)]
    [Parameter(ParameterSetName = PathSet)]
    [ArgumentCompleter(typeof(Completion.ScaleKeyCompleter))]
    public string? Scale { get; set; }

    /// <summary>Mesh only these segment ids (unsigned 64-bit). Default: every non-zero label.</summary>
    [Parameter]
    public ulong[]? SegmentId { get; set; }

    /// <summary>Simplify each fragment to at most 1/ReductionFactor of its marching-cubes triangles (default 10), as far as -MaxError allows.</summary>
    [Parameter]
    [ValidateRange(1.0, 1e6)]
    public double ReductionFactor { get; set; } = 10;

    /// <summary>Largest deviation simplification may introduce, in nanometres (default: two voxels along the coarsest axis).</summary>
    [Parameter]
    [ValidateRange(0.0, 1e12)]
    public double? MaxError { get; set; }

    /// <summary>Write the marching-cubes surfaces without simplification.</summary>
    [Parameter]
    public SwitchParameter NoSimplify { get; set; }

    /// <summary>Segment names and properties for neuroglancer's segment list: a hashtable of id = name; rows such as Import-Csv output, with an Id column, a Name column (the label), and other columns that become properties (Description, Tags split at commas or spaces, number columns, text columns); or the path of such a CSV file (a header row is optional: then the columns are id,name,...).</summary>
    [Parameter]
    public object? SegmentName { get; set; }

    /// <summary>Meshing chunk size in voxels x,y,z (default: a multiple of the scale's chunk size near 128, which bounds memory; larger chunks make fewer, larger fragments).</summary>
    [Parameter]
    [ValidateCount(3, 3)]
    [ValidateRange(2, 4096)]
    public int[]? ChunkSize { get; set; }

    /// <summary>Mesh folder name inside the dataset (default: the info's "mesh", else "mesh").</summary>
    [Parameter]
    public string? MeshDirectory { get; set; }

    /// <summary>Place vertices like neuroglancer's Python mesher, half a voxel low against the drawn voxels (compatibility with older meshes).</summary>
    [Parameter]
    public SwitchParameter LegacyVertexPlacement { get; set; }

    /// <summary>Write manifests as &lt;id&gt;.json instead of &lt;id&gt;:0 (always done on Windows; servers map &lt;id&gt;:0 to it).</summary>
    [Parameter]
    public SwitchParameter ColonFreeManifest { get; set; }

    /// <summary>Legacy (default: every triangle of a segment at once, one file per segment and chunk) or MultiResolution (neuroglancer_multilod_draco: Draco levels of detail the viewer streams by octree node, two files per segment).</summary>
    [Parameter]
    public PrecomputedTools.MeshFormat Format { get; set; } = PrecomputedTools.MeshFormat.Legacy;

    /// <summary>MultiResolution: bits per quantized vertex coordinate within an octree node, 10 or 16 (default 16).</summary>
    [Parameter]
    [ValidateSet("10", "16")]
    public int VertexQuantizationBits { get; set; } = 16;

    /// <summary>MultiResolution: write the segments into shard files keyed by segment id (the mesh/info's "sharding"; a few large files instead of two per segment). Meshes every segment: not with -SegmentId.</summary>
    [Parameter]
    public SwitchParameter Sharded { get; set; }

    /// <summary>Sharding parameters that replace the chosen ones (implies -Sharded): a hashtable with any of preshift_bits, minishard_bits, shard_bits, hash (identity or murmurhash3_x86_128), minishard_index_encoding and data_encoding (raw or gzip; for meshes it applies to the manifests).</summary>
    [Parameter]
    public System.Collections.Hashtable? Sharding { get; set; }

    /// <summary>Save the stage as a plan here (a file, or s3://bucket/key.json that every worker reads) instead of running it; the dataset may itself be only planned by saved plans before this one.</summary>
    [Parameter]
    public string? PlanPath { get; set; }

    /// <summary>Chunks meshed in parallel (default: all cores).</summary>
    [Parameter]
    [ValidateRange(1, 1024)]
    public int ThrottleLimit { get; set; } = Environment.ProcessorCount;

    /// <summary>Replace meshes already in the mesh folder.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Finish an interrupted run with the same settings: chunks already meshed are kept.</summary>
    [Parameter]
    public SwitchParameter Resume { get; set; }

    protected override void ProcessRecord()
    {
        try
        {
            if (Force && Resume)
            {
                ThrowTerminatingError(NewError("ForceAndResume", ErrorCategory.InvalidArgument, "-Force starts over and -Resume continues; give only one.", null));
            }

            Mesh();
        }
        catch (EngineException ex)
        {
            ThrowTerminatingError(ToErrorRecord(ex));
        }
    }

    private void Mesh()
    {
        bool afterSavedPlans = ParameterSetName == InputSet && InputObject.IsPlanned && PlanPath is not null && InputObject.PlanPath.Length > 0;
        if (ParameterSetName == InputSet && InputObject.IsPlanned && !afterSavedPlans)
        {
            DescribePlanned(InputObject);
            return;
        }

        StoreOptions options = BuildStoreOptions(ParameterSetName == InputSet ? InputObject.StoreOptions : null, ThrottleLimit);
        DatasetStore store;
        PrecomputedInfo? info;
        VolumeDescriptor? volume = null;
        int scaleIndex = -1;
        Int3 size, granularity, voxelOffset;
        double[] resolution;
        string scaleName;
        VoxelType dataType;
        if (ParameterSetName == VolumeSet)
        {
            store = DatasetStore.Open(ResolveOutputLocation(Destination), options);
            info = store.HasInfo ? store.ReadInfo() : null;
            volume = Volume.Descriptor;
            resolution = Resolution ?? volume.Resolution ?? throw new EngineException(
                "ResolutionRequired",
                EngineErrorKind.InvalidArgument,
                $"The volume '{Volume.Name}' does not say its voxel size; give -Resolution x,y,z in nanometres.",
                Volume.Source);
            voxelOffset = volume.VoxelOffset;
            scaleName = Volume.Name;
            size = volume.Size;
            granularity = volume.ReadGranularity;
            dataType = volume.DataType;
            RequireLabels(dataType, Volume.Source);
        }
        else
        {
            store = ParameterSetName == PathSet ? DatasetStore.Open(ResolveInputLocation(Path), options) : InputObject.OpenStore(options);
            // A dataset that saved plans will write: the info they leave.
            info = afterSavedPlans ? InputObject.Info.Clone() : store.ReadInfo();
            ScaleInfo scale = PrecomputedVolumeReader.FindScale(info, Scale, store.Location);
            if (!info.IsSegmentation)
            {
                WriteWarning($"'{store.Location}' is of type \"{info.Type}\", not segmentation; neuroglancer shows meshes only for segmentation layers.");
            }

            dataType = info.DataType;
            RequireLabels(dataType, store.Location);
            resolution = (double[])scale.Resolution.Clone();
            voxelOffset = scale.VoxelOffset;
            scaleName = scale.Key;
            scaleIndex = info.Scales.IndexOf(scale);
            size = scale.Size;
            granularity = scale.ChunkSize;
        }

        using (store)
        {
            DatasetOutput.CheckWritable(store);
            Run(store, options, info, volume, scaleIndex, size, granularity, resolution, voxelOffset, scaleName, dataType);
        }
    }

    private void Run(DatasetStore store, StoreOptions options, PrecomputedInfo? info, VolumeDescriptor? volume, int scaleIndex, Int3 size, Int3 granularity, double[] resolution, Int3 voxelOffset, string scaleName, VoxelType dataType)
    {
        string datasetPath = store.Location;
        (Dictionary<ulong, string> Names, List<SegmentProperty> Extra)? table = SegmentName is null ? null : ReadSegmentProperties(SegmentName);
        Dictionary<ulong, string>? names = table?.Names;
        HashSet<ulong>? only = SegmentId is null ? null : new HashSet<ulong>(SegmentId);
        var probe = new SegmentMeshSettings { ChunkSize = ChunkSize is null ? null : Int3.From(ChunkSize) };
        string meshDirectory = (MeshDirectory ?? info?.Mesh ?? "mesh").Trim('/');
        bool colonFree = ColonFreeManifest || (store.Objects.Kind == StoreKind.Folder && System.Runtime.InteropServices.RuntimeInformation.IsOSPlatform(System.Runtime.InteropServices.OSPlatform.Windows));
        var settings = new MeshPlanSettings
        {
            Directory = meshDirectory,
            ScaleKey = scaleIndex >= 0 ? scaleName : null,
            SourceName = scaleName,
            VolumeSize = size,
            ChunkSize = probe.ResolveChunkSize(size, granularity),
            Resolution = resolution,
            VoxelOffset = voxelOffset,
            AlignToVoxels = !LegacyVertexPlacement,
            Simplify = !NoSimplify,
            ReductionFactor = ReductionFactor,
            MaxError = MaxError,
            SegmentIds = only?.OrderBy(i => i).ToList(),
            ColonFreeManifests = colonFree,
            SegmentNames = names is { Count: > 0 } ? names : null,
            SegmentProperties = table?.Extra is { Count: > 0 } extra ? extra : null,
            UpdateInfo = info is not null,
            Format = Format == PrecomputedTools.MeshFormat.MultiResolution ? Engine.Meshing.MeshFormat.MultiResolution : Engine.Meshing.MeshFormat.Legacy,
            VertexQuantizationBits = VertexQuantizationBits,
        };
        if (Sharded || Sharding is not null)
        {
            if (settings.Format != Engine.Meshing.MeshFormat.MultiResolution)
            {
                throw new EngineException("ShardedMeshNeedsMultiResolution", EngineErrorKind.InvalidArgument, "Sharded meshes are multi-resolution meshes; add -Format MultiResolution.");
            }

            if (only is not null)
            {
                throw new EngineException("ShardedMeshNeedsEverySegment", EngineErrorKind.InvalidArgument, "A shard holds many segments, so sharded meshes are written for every segment at once; leave out -SegmentId.");
            }

            settings.Sharding = ShardingParameters.Apply(ShardingSpec.ForMeshes(settings.MeshingChunks().LongCount()), Sharding);
        }


        // The dataset's info when the stage is done: it names the mesh folder (and the segment names).
        PrecomputedInfo target;
        if (info is not null)
        {
            target = info.Clone();
            target.Mesh = meshDirectory;
            if (settings.WritesSegmentProperties)
            {
                target.SegmentProperties = StagePlanner.SegmentPropertiesDirectory;
            }
        }
        else
        {
            target = new PrecomputedInfo { Type = "segmentation", DataType = dataType };
            target.Scales.AddRange(ScalePyramid.Generate(size, resolution, voxelOffset, 64, ChunkEncodings.Raw, null, 1));
        }

        StagePlan plan = StagePlanner.PlanMesh(target, datasetPath, store.Layout, store.Gzip, settings, scaleIndex, volume?.Spec);
        plan.DestinationStore = options.ToPublicJson();
        var check = new LegacyMeshWriter(store.Objects, meshDirectory, voxelOffset, settings.Parameters, colonFree) { MultiResolution = settings.ToMultiResolutionGrid() };
        if (!Force && !Resume && check.HasExistingOutput(only))
        {
            ThrowTerminatingError(OutputExistsError(check.MeshPath));
        }

        if (!ShouldProcess(plan.Description, PlanPath is null ? "Write segment meshes" : $"Save a plan to write segment meshes as '{PlanPath}'"))
        {
            return;
        }

        if (PlanPath is not null && volume is not null && volume.Spec is null)
        {
            throw new EngineException("SourceNotPlannable", EngineErrorKind.InvalidArgument, $"The volume '{Volume.Name}' lives only in this session, so other processes cannot read it; save plans for volumes read from TIFF slices, the BOSS or a dataset.", Volume.Source);
        }

        if (Force)
        {
            int removed = check.DeleteExistingOutput(only);
            WriteVerbose($"Removed {removed} earlier mesh files from '{check.MeshPath}'.");
        }

        store.Objects.RemoveIncompleteWrites();
        if (PlanPath is not null)
        {
            string saved = SavePlan(plan, PlanPath, options, Force);
            if (info is not null)
            {
                WriteObject(ParameterSetName == InputSet
                    ? InputObject.WithPlan(target, saved)
                    : PrecomputedDataset.Planned(datasetPath, target, store.Layout, store.Gzip, options, new[] { saved }));
            }

            return;
        }

        if (Resume)
        {
            int done = check.LoadJournal();
            WriteVerbose(done > 0 ? $"Resuming: {done} chunks were meshed by the interrupted run." : "No interrupted run to resume; meshing everything.");
        }

        var monitor = new OperationMonitor("Meshing " + datasetPath, "chunks");
        var finished = new ConcurrentQueue<SegmentMeshRecord>();
        var written = new List<SegmentMeshRecord>();
        var context = new StageContext
        {
            Store = store,
            StoreOptions = options,
            Resume = Resume,
            ThrottleLimit = ThrottleLimit,
            SegmentWritten = finished.Enqueue,
        };

        // Each segment's record goes down the pipeline as soon as its manifest is stored.
        void Emit()
        {
            while (finished.TryDequeue(out SegmentMeshRecord? r))
            {
                written.Add(r);
                string? name = null;
                names?.TryGetValue(r.Id, out name);
                WriteObject(new SegmentMesh(r.Id, name, r.VertexCount, r.TriangleCount, r.Fragments, r.ManifestPath, datasetPath) { LodCount = r.Lods });
            }
        }

        RunEngine(
            async (m, ct) =>
            {
                using IVolumeReader? reader = volume?.OpenReader();
                context.SourceReader = reader;
                await StageExecutor.ExecuteAsync(plan, context, null, m, ct).ConfigureAwait(false);
            },
            monitor,
            onPoll: Emit);

        if (context.Statistics.Mesh is { } summary)
        {
            WriteVerbose(string.Format(
                CultureInfo.InvariantCulture,
                "Meshed {0} chunks ({1} skipped as already done): {2:N0} marching-cubes triangles, {3:N0} written.",
                summary.Chunks,
                summary.ChunksSkipped,
                summary.TrianglesBeforeSimplification,
                summary.TrianglesWritten));
        }

        if (settings.WritesSegmentProperties)
        {
            WriteVerbose($"Wrote {names?.Count ?? 0} segment names and {settings.SegmentProperties?.Count ?? 0} other properties to '{ObjectNames.Join(datasetPath, StagePlanner.SegmentPropertiesDirectory + "/info")}'.");
        }

        ReportMissing(written, only, scaleName);
        if (info is null)
        {
            WriteWarning($"'{datasetPath}' has no info file; add \"mesh\": \"{meshDirectory}\" to the volume info that will use these meshes.");
        }
        else
        {
            WriteObject(new PrecomputedDataset(store, target, options));
        }
    }

    // A dataset an earlier -WhatIf step only planned: describe the meshing from its info, pass it on.
    private void DescribePlanned(PrecomputedDataset dataset)
    {
        RequireWhatIfFor(dataset);

        PrecomputedInfo target = dataset.Info.Clone();
        ScaleInfo scale = PrecomputedVolumeReader.FindScale(target, Scale, dataset.Path);
        target.Mesh = (MeshDirectory ?? target.Mesh ?? "mesh").Trim('/');
        string which = SegmentId is null ? "every segment" : $"{SegmentId.Length} segment(s)";
        ShouldProcess($"{which} of {dataset.Path} at scale {scale.Key} into '{ObjectNames.Join(dataset.Path, target.Mesh)}'", "Write segment meshes");
        WriteObject(PrecomputedDataset.Planned(dataset.Path, target, dataset.Layout, dataset.Gzip, dataset.StoreOptions));
    }

    private void ReportMissing(IReadOnlyList<SegmentMeshRecord> records, HashSet<ulong>? only, string scaleName)
    {
        var written = new HashSet<ulong>(records.Select(r => r.Id));
        if (only is not null)
        {
            foreach (ulong id in only.OrderBy(i => i).Where(i => !written.Contains(i)))
            {
                WriteWarning(id == 0
                    ? "Segment 0 is background and gets no mesh."
                    : $"Segment {id.ToString(CultureInfo.InvariantCulture)} has no voxels in scale {scaleName}; no mesh was written for it.");
            }
        }
        else if (records.Count == 0)
        {
            WriteWarning($"Scale {scaleName} holds only background (label 0); no segment meshes were written.");
        }
    }

    private static void RequireLabels(VoxelType type, string target)
    {
        if (type == VoxelType.Float32)
        {
            throw new EngineException("MeshNeedsIntegerLabels", EngineErrorKind.InvalidArgument, "Meshing needs integer labels; this volume holds float32 values.", target);
        }
    }

    /// <summary>Reads -SegmentName: a hashtable (id = name) or a CSV file of id,name.</summary>
    private static readonly string[] s_idColumns = { "id", "segmentid", "segment_id", "segment", "label_id" };
    private static readonly string[] s_nameColumns = { "name", "label" };

    // -SegmentName: a hashtable of id = name, rows (Import-Csv output or any objects with an id
    // column), or a CSV file read by the host's own Import-Csv.
    private (Dictionary<ulong, string> Names, List<SegmentProperty> Extra) ReadSegmentProperties(object value)
    {
        object raw = value is PSObject pso ? pso.BaseObject : value;
        if (raw is IDictionary table)
        {
            var names = new Dictionary<ulong, string>();
            foreach (DictionaryEntry entry in table)
            {
                object key = entry.Key is PSObject k ? k.BaseObject : entry.Key;
                names[ParseId(key, "-SegmentName")] = Convert.ToString(entry.Value is PSObject v ? v.BaseObject : entry.Value, CultureInfo.InvariantCulture) ?? "";
            }

            return (names, new List<SegmentProperty>());
        }

        if (raw is string path)
        {
            string file = ResolveExistingPath(path, literal: true);
            List<PSObject> rows = ImportCsv(file, header: null);
            // A file without a header row: its first line became the column names.
            if (rows.Count > 0 && FindColumn(rows[0], s_idColumns) is null && ulong.TryParse(rows[0].Properties.First().Name, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                int columns = rows[0].Properties.Count();
                rows = ImportCsv(file, new[] { "id", "name" }.Concat(Enumerable.Range(3, Math.Max(0, columns - 2)).Select(i => "column" + i.ToString(CultureInfo.InvariantCulture))).ToArray());
            }

            return FromRows(rows, file);
        }

        if (raw is IEnumerable items)
        {
            return FromRows(items.Cast<object>().Select(PSObject.AsPSObject).ToList(), "-SegmentName");
        }

        // One row: keep the PSObject, which holds a custom object's properties.
        return FromRows(new List<PSObject> { PSObject.AsPSObject(value) }, "-SegmentName");
    }

    private List<PSObject> ImportCsv(string file, string[]? header)
    {
        try
        {
            string script = header is null ? "Import-Csv -LiteralPath $args[0]" : "Import-Csv -LiteralPath $args[0] -Header $args[1]";
            return InvokeCommand.InvokeScript(script, file, header).Where(o => o is not null).ToList();
        }
        catch (RuntimeException ex) when (ex is CommandNotFoundException || ex.ErrorRecord?.FullyQualifiedErrorId?.StartsWith("CommandNotFoundException", StringComparison.Ordinal) == true)
        {
            throw new EngineException("InvalidSegmentName", EngineErrorKind.NotSupported, $"This host has no Import-Csv to read '{file}'; give -SegmentName (Import-Csv '{file}') from pwsh, or a hashtable of id = name.", file);
        }
    }

    private static string? FindColumn(PSObject row, string[] candidates) =>
        row.Properties.Select(p => p.Name).FirstOrDefault(n => candidates.Contains(n, StringComparer.OrdinalIgnoreCase));

    // The name column becomes the label, "description" the description, "tags" the tags (split at
    // commas, semicolons and spaces), columns of numbers number properties, the rest string properties.
    private static (Dictionary<ulong, string> Names, List<SegmentProperty> Extra) FromRows(List<PSObject> rows, string source)
    {
        var names = new Dictionary<ulong, string>();
        var extra = new List<SegmentProperty>();
        if (rows.Count == 0)
        {
            return (names, extra);
        }

        string idColumn = FindColumn(rows[0], s_idColumns) ?? throw new EngineException(
            "InvalidSegmentName",
            EngineErrorKind.InvalidData,
            $"{source}: no id column. Name the column of segment ids Id (the others: {string.Join(", ", rows[0].Properties.Select(p => p.Name))}).",
            source);
        string? nameColumn = FindColumn(rows[0], s_nameColumns);
        var columns = rows[0].Properties.Select(p => p.Name).Where(n => n != idColumn && n != nameColumn).ToList();
        var ids = new ulong[rows.Count];
        var cells = columns.ToDictionary(c => c, _ => new object?[rows.Count]);
        for (int r = 0; r < rows.Count; r++)
        {
            object? id = rows[r].Properties[idColumn]?.Value;
            ids[r] = ParseId(id is PSObject p ? p.BaseObject : id ?? "", $"{source} row {r + 1}");
            if (nameColumn is not null)
            {
                names[ids[r]] = Convert.ToString(Cell(rows[r], nameColumn), CultureInfo.InvariantCulture) ?? "";
            }

            foreach (string column in columns)
            {
                cells[column][r] = Cell(rows[r], column);
            }
        }

        foreach (string column in columns)
        {
            object?[] values = cells[column];
            SegmentProperty property;
            if (column.Equals("tags", StringComparison.OrdinalIgnoreCase))
            {
                property = new SegmentProperty("tags", SegmentProperty.TagsType);
                for (int r = 0; r < rows.Count; r++)
                {
                    string text = Convert.ToString(values[r], CultureInfo.InvariantCulture) ?? "";
                    property.Tags[ids[r]] = text.Split(new[] { ',', ';', ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries).Select(SegmentProperty.CleanTag).Where(t => t.Length > 0).ToArray();
                }
            }
            else if (!column.Equals("description", StringComparison.OrdinalIgnoreCase) && values.All(v => TryNumber(v, out _)))
            {
                property = new SegmentProperty(column, SegmentProperty.NumberType);
                for (int r = 0; r < rows.Count; r++)
                {
                    TryNumber(values[r], out double number);
                    property.Numbers[ids[r]] = number;
                }

                property.DataType = SegmentProperty.ChooseNumberType(property.Numbers.Values);
            }
            else
            {
                bool description = column.Equals("description", StringComparison.OrdinalIgnoreCase);
                property = new SegmentProperty(description ? "description" : column, description ? SegmentProperty.DescriptionType : SegmentProperty.StringType);
                for (int r = 0; r < rows.Count; r++)
                {
                    property.Text[ids[r]] = Convert.ToString(values[r], CultureInfo.InvariantCulture) ?? "";
                }
            }

            extra.Add(property);
        }

        return (names, extra);
    }

    private static object? Cell(PSObject row, string column)
    {
        object? value = row.Properties[column]?.Value;
        return value is PSObject p ? p.BaseObject : value;
    }

    private static bool TryNumber(object? value, out double number)
    {
        switch (value)
        {
            case byte or sbyte or short or ushort or int or uint or long or ulong or float or double or decimal:
                number = Convert.ToDouble(value, CultureInfo.InvariantCulture);
                return true;
            case string text when text.Trim().Length > 0:
                return double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out number);
            default:
                number = 0;
                return false;
        }
    }

    private static ulong ParseId(object key, string parameter)
    {
        switch (key)
        {
            case ulong u:
                return u;
            case string s when ulong.TryParse(s.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out ulong parsed):
                return parsed;
            case byte or ushort or uint:
                return Convert.ToUInt64(key, CultureInfo.InvariantCulture);
            case sbyte or short or int or long when Convert.ToInt64(key, CultureInfo.InvariantCulture) >= 0:
                return (ulong)Convert.ToInt64(key, CultureInfo.InvariantCulture);
            case decimal d when d >= 0 && d <= ulong.MaxValue && decimal.Truncate(d) == d:
                return (ulong)d;
            default:
                throw new EngineException("InvalidSegmentId", EngineErrorKind.InvalidArgument, $"{parameter}: '{key}' is not an unsigned 64-bit segment id.", key);
        }
    }
}
