using System;
using System.IO;
using System.Linq;
using System.Management.Automation;
using PrecomputedTools.Engine.Stages;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Infrastructure;

namespace PrecomputedTools.Commands;

/// <summary>
/// <para type="synopsis">Writes every lower scale of a dataset from the one above it (majority/mode for labels).</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "MajorityDownscale", DefaultParameterSetName = InputSet, SupportsShouldProcess = true)]
[OutputType(typeof(PrecomputedDataset))]
public sealed class InvokeMajorityDownscaleCommand : StoreCmdlet
{
    private const string InputSet = "InputObject";
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";

    /// <summary>The dataset (from ConvertTo-CompressedSegmentation) whose lower scales to write.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputSet)]
    public PrecomputedDataset InputObject { get; set; } = null!;

    /// <summary>Location of the dataset (folder, s3:// or gs://), instead of -InputObject.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = PathSet)]
    [SupportsWildcards]
    public string Path { get; set; } = "";

    /// <summary>Location of the dataset, taken literally (no wildcard expansion).</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = LiteralPathSet)]
    [Alias("PSPath", "LP")]
    public string LiteralPath { get; set; } = "";

    /// <summary>Majority (labels: the most frequent label of each block, ties to the smallest; the default for segmentation), or for images Average (the default: the mean of the voxels of each block, rounded to the nearest integer with halves up; blocks at the volume's edge average the voxels present), Min, Max or Stride (the first voxel of each block).</summary>
    [Parameter]
    [ValidateSet("Majority", "Average", "Min", "Max", "Stride", IgnoreCase = true)]
    public string? Method { get; set; }

    /// <summary>Keys of the scales to write (default: every scale below scale 0).</summary>
    [Parameter]
    [ArgumentCompleter(typeof(Completion.ScaleKeyCompleter))]
    public string[]? Scale { get; set; }

    /// <summary>Overwrite lower-scale chunks that already exist.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Keep lower-scale chunks already written and valid; write the rest.</summary>
    [Parameter]
    public SwitchParameter Resume { get; set; }

    /// <summary>Save the stage as a plan here (a file, or s3://bucket/key.json that every worker reads) instead of running it; the dataset may itself be only planned by saved plans before this one.</summary>
    [Parameter]
    public string? PlanPath { get; set; }

    /// <summary>Chunks computed in parallel (default: all cores).</summary>
    [Parameter]
    [ValidateRange(1, 1024)]
    public int ThrottleLimit { get; set; } = Environment.ProcessorCount;

    protected override void ProcessRecord()
    {
        try
        {
            PrecomputedDataset dataset = ParameterSetName switch
            {
                PathSet => PrecomputedDataset.Load(ResolveInputLocation(Path), BuildStoreOptions(null, ThrottleLimit)),
                LiteralPathSet => PrecomputedDataset.Load(ResolveInputLocation(LiteralPath, literal: true), BuildStoreOptions(null, ThrottleLimit)),
                _ => InputObject,
            };
            StoreOptions storeOptions = BuildStoreOptions(dataset.StoreOptions, ThrottleLimit);
            if (dataset.IsPlanned)
            {
                if (PlanPath is not null && dataset.PlanPath.Length > 0)
                {
                    PlanAfterSavedPlans(dataset, storeOptions);
                }
                else
                {
                    DescribePlanned(dataset);
                }

                return;
            }

            // The dataset's own settings (flat/nested, gzip) are kept for the lower scales.
            using DatasetStore directory = dataset.OpenStore(storeOptions);
            DatasetOutput.CheckWritable(directory);
            PrecomputedInfo info = directory.ReadInfo();
            (DownscaleMethod method, int[] targets) = ChooseWork(info, dataset.Path);
            if (targets.Length == 0)
            {
                WriteWarning($"'{dataset.Path}' has a single scale; nothing to downscale. Use New-PrecomputedInfo -TargetChunkSize to plan more scales.");
                WriteObject(new PrecomputedDataset(directory, info, storeOptions));
                return;
            }

            if (!Force && !Resume)
            {
                foreach (int i in targets)
                {
                    if (directory.HasChunks(info.Scales[i]))
                    {
                        ThrowTerminatingError(OutputExistsError(ObjectNames.Join(directory.Location, info.Scales[i].Key)));
                    }
                }
            }

            StagePlan plan = StagePlanner.PlanDownscale(info, directory.Location, directory.Layout, directory.Gzip, targets, method);
            plan.DestinationStore = storeOptions.ToPublicJson();
            if (!ShouldProcess(plan.Description, PlanPath is null ? $"Write downscaled scales ({method})" : $"Save a plan to write downscaled scales ({method}) as '{PlanPath}'"))
            {
                return;
            }

            directory.Objects.RemoveIncompleteWrites();
            if (PlanPath is not null)
            {
                string saved = SavePlan(plan, PlanPath, storeOptions, Force);
                WriteObject(PrecomputedDataset.Planned(directory.Location, info, directory.Layout, directory.Gzip, storeOptions, new[] { saved }));
                return;
            }

            var context = new StageContext { Store = directory, StoreOptions = storeOptions, Resume = Resume, ThrottleLimit = ThrottleLimit };
            var monitor = new OperationMonitor("Downscaling " + dataset.Name, "chunks");

            // Each round of levels is a phase of the plan: computed from the scale above it, so phases run in order.
            RunEngine((m, ct) => StageExecutor.ExecuteAsync(plan, context, null, m, ct), monitor);
            directory.Objects.Flush();
            WriteObject(new PrecomputedDataset(directory, info, storeOptions));
        }
        catch (EngineException ex)
        {
            ThrowTerminatingError(ToErrorRecord(ex));
        }
    }
    private (DownscaleMethod Method, int[] Targets) ChooseWork(PrecomputedInfo info, string location)
    {
        DownscaleMethod method = Method is null
            ? (info.IsSegmentation ? DownscaleMethod.Majority : DownscaleMethod.Average)
            : (DownscaleMethod)Enum.Parse(typeof(DownscaleMethod), Method, ignoreCase: true);
        if (info.IsSegmentation && method is not (DownscaleMethod.Majority or DownscaleMethod.Stride))
        {
            throw new EngineException("InvalidDownscaleMethod", EngineErrorKind.InvalidArgument, $"-Method {method} would make labels that no segment has; a segmentation is downscaled with Majority (or Stride).", location);
        }
        if (Scale is not null)
        {
            foreach (string key in Scale.Where(k => info.FindScale(k) is null || info.Scales[0].Key == k))
            {
                throw new EngineException("ScaleNotFound", EngineErrorKind.ObjectNotFound, $"'{key}' is not a lower scale of '{location}'. Lower scales: {string.Join(", ", info.Scales.Skip(1).Select(s => s.Key))}.", key);
            }
        }

        int[] targets = Enumerable.Range(1, info.Scales.Count - 1)
            .Where(i => Scale is null || Scale.Contains(info.Scales[i].Key, StringComparer.Ordinal))
            .ToArray();
        return (method, targets);
    }

    // A dataset that saved plans will write: this stage's plan comes from the info they leave.
    private void PlanAfterSavedPlans(PrecomputedDataset dataset, StoreOptions storeOptions)
    {
        (DownscaleMethod method, int[] targets) = ChooseWork(dataset.Info, dataset.Path);
        if (targets.Length == 0)
        {
            WriteWarning($"'{dataset.Path}' has a single scale; nothing to downscale, no plan saved.");
            WriteObject(dataset);
            return;
        }

        StagePlan plan = StagePlanner.PlanDownscale(dataset.Info, dataset.Path, dataset.Layout, dataset.Gzip, targets, method);
        plan.DestinationStore = storeOptions.ToPublicJson();
        if (!ShouldProcess(plan.Description, $"Save a plan to write downscaled scales ({method}) as '{PlanPath}'"))
        {
            WriteObject(dataset);
            return;
        }

        WriteObject(dataset.WithPlan(dataset.Info, SavePlan(plan, PlanPath!, storeOptions, Force)));
    }

    // A dataset an earlier -WhatIf step only planned: describe this stage from its info, pass it on.
    private void DescribePlanned(PrecomputedDataset dataset)
    {
        RequireWhatIfFor(dataset);

        (DownscaleMethod method, int[] targets) = ChooseWork(dataset.Info, dataset.Path);
        if (targets.Length > 0)
        {
            StagePlan plan = StagePlanner.PlanDownscale(dataset.Info, dataset.Path, dataset.Layout, dataset.Gzip, targets, method);
            ShouldProcess(plan.Description, $"Write downscaled scales ({method})");
        }

        WriteObject(dataset);
    }
}
