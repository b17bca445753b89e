using System;
using System.Collections;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Text;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Meshing;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Engine.Volumes;
using PrecomputedTools.Infrastructure;

namespace PrecomputedTools.Commands;

/// <summary>
/// <para type="synopsis">Meshes the segments of a label volume into the dataset's legacy precomputed mesh folder.</para>
/// <para type="description">Marching cubes over every label in one pass per chunk (outside the volume
/// counts as background, so surfaces are closed), vertices aligned with the voxels neuroglancer
/// draws, quadric-error simplification that keeps surfaces closed and chunk fragments joined. Writes
/// mesh/info, one manifest per segment and the fragments, adds "mesh" to the dataset info and,
/// with -SegmentName, segment_properties. Emits one SegmentMesh per segment, then the dataset.</para>
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

    /// <summary>A label volume (from Import-TiffStack) to mesh directly; the meshes go into -OutputPath.</summary>
    [Parameter(Mandatory = true, ParameterSetName = VolumeSet)]
    public VolumeSource Volume { get; set; } = null!;

    /// <summary>Dataset folder that receives the mesh folder when meshing a -Volume.</summary>
    [Parameter(Mandatory = true, ParameterSetName = VolumeSet)]
    public string OutputPath { get; set; } = "";

    /// <summary>Voxel size in nanometres x,y,z for a -Volume that does not know it.</summary>
    [Parameter(ParameterSetName = VolumeSet)]
    [ValidateCount(3, 3)]
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

    /// <summary>Segment names for neuroglancer's segment list: a hashtable of id = name, or the path of a CSV file with columns id,name (a header row is optional).</summary>
    [Parameter]
    public object? SegmentName { get; set; }

    /// <summary>Meshing chunk size in voxels x,y,z (default: a multiple of the scale's chunk size near 256).</summary>
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
        if (ParameterSetName == InputSet && InputObject.IsPlanned)
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
            store = DatasetStore.Open(ResolveOutputLocation(OutputPath), options);
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
            info = store.ReadInfo();
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
        Dictionary<ulong, string>? names = SegmentName is null ? null : ReadSegmentNames(SegmentName);
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
            UpdateInfo = info is not null,
        };

        // The dataset's info when the stage is done: it names the mesh folder (and the segment names).
        PrecomputedInfo target;
        if (info is not null)
        {
            target = info.Clone();
            target.Mesh = meshDirectory;
            if (settings.SegmentNames is not null)
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
        var check = new LegacyMeshWriter(store.Objects, meshDirectory, voxelOffset, settings.Parameters, colonFree);
        if (!Force && !Resume && check.HasExistingOutput(only))
        {
            ThrowTerminatingError(OutputExistsError(check.MeshPath));
        }

        if (!ShouldProcess(plan.Description, "Write segment meshes"))
        {
            return;
        }

        if (Force)
        {
            int removed = check.DeleteExistingOutput(only);
            WriteVerbose($"Removed {removed} earlier mesh files from '{check.MeshPath}'.");
        }

        store.Objects.RemoveIncompleteWrites();
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
                WriteObject(new SegmentMesh(r.Id, name, r.VertexCount, r.TriangleCount, r.Fragments, r.ManifestPath, datasetPath));
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

        if (names is { Count: > 0 })
        {
            WriteVerbose($"Wrote {names.Count} segment names to '{ObjectNames.Join(datasetPath, StagePlanner.SegmentPropertiesDirectory + "/info")}'.");
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
        if (!WhatIfRequested)
        {
            ThrowTerminatingError(PlannedDatasetError(dataset));
        }

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
    private Dictionary<ulong, string> ReadSegmentNames(object value)
    {
        object raw = value is PSObject pso ? pso.BaseObject : value;
        var names = new Dictionary<ulong, string>();
        if (raw is IDictionary table)
        {
            foreach (DictionaryEntry entry in table)
            {
                object key = entry.Key is PSObject k ? k.BaseObject : entry.Key;
                names[ParseId(key, "-SegmentName")] = Convert.ToString(entry.Value is PSObject v ? v.BaseObject : entry.Value, CultureInfo.InvariantCulture) ?? "";
            }

            return names;
        }

        if (raw is string path)
        {
            string file = ResolveExistingPath(path, literal: true);
            int line = 0;
            foreach (string text in File.ReadLines(file))
            {
                line++;
                if (text.Trim().Length == 0)
                {
                    continue;
                }

                List<string> fields = SplitCsv(text);
                if (fields.Count < 2)
                {
                    throw new EngineException("InvalidSegmentNameFile", EngineErrorKind.InvalidData, $"{file}:{line}: expected id,name.", file);
                }

                if (!ulong.TryParse(fields[0].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out ulong id))
                {
                    if (line == 1)
                    {
                        continue; // header row
                    }

                    throw new EngineException("InvalidSegmentNameFile", EngineErrorKind.InvalidData, $"{file}:{line}: '{fields[0]}' is not an unsigned 64-bit segment id.", file);
                }

                names[id] = fields[1];
            }

            return names;
        }

        throw new EngineException("InvalidSegmentName", EngineErrorKind.InvalidArgument, "-SegmentName takes a hashtable of id = name or the path of a CSV file with columns id,name.", value);
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

    /// <summary>Splits one RFC 4180 CSV line (quoted fields, doubled quotes).</summary>
    private static List<string> SplitCsv(string line)
    {
        var fields = new List<string>();
        var current = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    current.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    current.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(current.ToString());
                current.Clear();
            }
            else
            {
                current.Append(c);
            }
        }

        fields.Add(current.ToString());
        return fields;
    }
}
