using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using PrecomputedTools.Completion;
using PrecomputedTools.Engine.Stages;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Engine.Volumes;
using PrecomputedTools.Infrastructure;

namespace PrecomputedTools.Commands;

/// <summary>
/// <para type="synopsis">Copies a precomputed dataset between any two locations: folder, S3, gs://, or from http(s).</para>
/// </summary>
[Cmdlet(VerbsCommon.Copy, "PrecomputedDataset", DefaultParameterSetName = PathSet, SupportsShouldProcess = true)]
[OutputType(typeof(PrecomputedDataset))]
public sealed class CopyPrecomputedDatasetCommand : StoreCmdlet
{
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";
    private const string InputSet = "InputObject";

    /// <summary>Location of the dataset to copy: a folder, file://, s3://, gs:// or http(s):// (an http source is enumerated from its info; its meshes are not listed).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = PathSet)]
    [SupportsWildcards]
    public string Path { get; set; } = "";

    /// <summary>Like -Path, without wildcard expansion.</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = LiteralPathSet)]
    [Alias("PSPath", "LP")]
    public string LiteralPath { get; set; } = "";

    /// <summary>The dataset to copy, from an earlier cmdlet.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputSet)]
    public PrecomputedDataset InputObject { get; set; } = null!;

    /// <summary>Where to copy it: a folder, file://, s3://bucket/prefix (the bucket is created when missing) or gs://bucket/prefix.</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [Alias("OutputPath")]
    public string Destination { get; set; } = "";

    /// <summary>Replace a dataset already at the destination: objects the copied info does not account for are removed first.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Finish an interrupted copy: objects already at the destination are not copied again.</summary>
    [Parameter]
    public SwitchParameter Resume { get; set; }

    /// <summary>Objects copied at once (default 16).</summary>
    [Parameter]
    [ValidateRange(1, 1024)]
    public int ThrottleLimit { get; set; } = 16;

    /// <summary>Save the copy as a plan here (a file, or s3://bucket/key.json that every worker reads) instead of running it; the source must already be written.</summary>
    [Parameter]
    public string? PlanPath { get; set; }

    /// <summary>Write every scale sharded (neuroglancer_uint64_sharded_v1): a few shard files per scale instead of one object per chunk, with parameters chosen from each scale's grid (identity hash, each shard an aligned block of chunks).</summary>
    [Parameter]
    public SwitchParameter Sharded { get; set; }

    /// <summary>Sharding parameters that replace the chosen ones on every scale (implies -Sharded): a hashtable with any of preshift_bits, minishard_bits, shard_bits, hash (identity or murmurhash3_x86_128), minishard_index_encoding and data_encoding (raw or gzip).</summary>
    [Parameter]
    public System.Collections.Hashtable? Sharding { get; set; }

    /// <summary>Scales to keep as one object per chunk when the others are sharded (with -Sharded or -Sharding): keys such as 4um, or indexes 0..n-1. The lowest scales hold a handful of chunks, where a shard file saves nothing; the viewer reads a mix of sharded and unsharded scales.</summary>
    [Parameter]
    [ArgumentCompleter(typeof(ScaleKeyCompleter))]
    public string[]? UnshardedScale { get; set; }

    protected override void ProcessRecord()
    {
        try
        {
            if (Force && Resume)
            {
                ThrowTerminatingError(NewError("ForceAndResume", ErrorCategory.InvalidArgument, "-Force starts over and -Resume continues; give only one.", null));
            }

            if (ParameterSetName == InputSet && InputObject.IsPlanned)
            {
                if (PlanPath is not null && InputObject.PlanPath.Length > 0)
                {
                    throw new EngineException("CopySourceOnlyPlanned", EngineErrorKind.InvalidOperation, $"A copy is planned from the objects '{InputObject.Path}' holds, and its plans ({string.Join(", ", InputObject.PlanPath)}) have not run.", InputObject.Path, recommendedAction: "Run those plans first (Invoke-PrecomputedTask, Submit-PrecomputedSlurmJob), then save the copy's plan.");
                }

                DescribePlanned(InputObject);
                return;
            }

            string sourceLocation = ParameterSetName switch
            {
                PathSet => ResolveInputLocation(Path),
                LiteralPathSet => ResolveInputLocation(LiteralPath, literal: true),
                _ => InputObject.Path,
            };
            StoreOptions sourceOptions = BuildStoreOptions(ParameterSetName == InputSet ? InputObject.StoreOptions : null, ThrottleLimit);
            StoreOptions destinationOptions = BuildStoreOptions(null, ThrottleLimit);
            string destinationLocation = ResolveOutputLocation(Destination);
            using DatasetStore source = DatasetStore.Open(sourceLocation, sourceOptions);
            PrecomputedInfo info = source.ReadInfo();
            using DatasetStore destination = DatasetStore.Open(destinationLocation, destinationOptions, source.Layout, source.Gzip);
            if (string.Equals(source.Location, destination.Location, StringComparison.Ordinal))
            {
                throw new EngineException("CopyOntoItself", EngineErrorKind.InvalidArgument, $"The source and the destination are the same location, {source.Location}.", source.Location);
            }

            if (destination.Objects is S3Store s3)
            {
                if (s3.EnsureBucket())
                {
                    WriteVerbose($"Created the bucket '{s3.Bucket}'.");
                }
            }
            else
            {
                DatasetOutput.CheckWritable(destination);
            }

            PrecomputedInfo? previous = destination.HasInfo ? destination.ReadInfo() : null;
            if (previous is not null && !Force && !Resume)
            {
                ThrowTerminatingError(OutputExistsError(destination.Location));
            }

            if (Sharded || Sharding is not null)
            {
                info = ShardingParameters.WithSharding(info, Sharding, destination.Location, UnshardedScale);
            }

            List<CopyItem> items = DatasetCopier.Plan(source, info, destination.Objects, StopToken);
            var sourceSpec = new VolumeSourceSpec(VolumeSourceSpec.PrecomputedKind, new System.Text.Json.Nodes.JsonObject
            {
                ["location"] = source.Location,
                ["store"] = sourceOptions.ToPublicJson(),
            });
            StagePlan plan = StagePlanner.PlanCopy(info, destination.Location, destination.Layout, destination.Gzip, items, sourceSpec);
            plan.DestinationStore = destinationOptions.ToPublicJson();
            if (!ShouldProcess(plan.Description, PlanPath is null ? "Copy precomputed dataset" : $"Save a plan to copy the precomputed dataset as '{PlanPath}'"))
            {
                return;
            }

            if (Force && previous is not null)
            {
                int removed = DatasetOutput.RemoveReplaced(destination, previous, info);
                WriteVerbose($"Removed {removed} object(s) of the dataset being replaced (-Force).");
            }

            destination.Objects.RemoveIncompleteWrites();
            if (PlanPath is not null)
            {
                string saved = SavePlan(plan, PlanPath, destinationOptions, Force);
                WriteObject(PrecomputedDataset.Planned(destination.Location, info, destination.Layout, destination.Gzip, destinationOptions, new[] { saved }));
                return;
            }

            var monitor = new OperationMonitor("Copying " + source.Location, "objects");
            var context = new StageContext { Store = destination, SourceStore = source, StoreOptions = destinationOptions, Resume = Resume, ThrottleLimit = ThrottleLimit };
            var clock = System.Diagnostics.Stopwatch.StartNew();
            RunEngine((m, ct) => StageExecutor.ExecuteAsync(plan, context, null, m, ct), monitor);
            StageStatistics result = context.Statistics;
            WriteVerbose(string.Format(CultureInfo.InvariantCulture, "Copied {0:N0} objects ({1:N0} bytes), skipped {2:N0} already there, in {3:N1} s.", result.ObjectsCopied + 1, result.BytesCopied, result.ObjectsSkipped, clock.Elapsed.TotalSeconds));
            WriteObject(new PrecomputedDataset(destination, info, destinationOptions));
        }
        catch (EngineException ex)
        {
            ThrowTerminatingError(ToErrorRecord(ex));
        }
    }

    // A dataset an earlier -WhatIf step only planned: describe the copy, pass the planned copy on.
    private void DescribePlanned(PrecomputedDataset dataset)
    {
        RequireWhatIfFor(dataset);

        string destination = ResolveOutputLocation(Destination);
        ShouldProcess($"{dataset.Path} ({dataset.Scales.Length} scales, planned) -> {destination}", "Copy precomputed dataset");
        WriteObject(PrecomputedDataset.Planned(destination, dataset.Info, dataset.Layout, dataset.Gzip, BuildStoreOptions(null, ThrottleLimit)));
    }
}
