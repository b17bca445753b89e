using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using PrecomputedTools.Engine.Stages;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Infrastructure;

namespace PrecomputedTools.Commands;

/// <summary>
/// <para type="synopsis">Runs the tasks of a saved plan that belong to one array-job index (or all of them).</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "PrecomputedTask", SupportsShouldProcess = true)]
[OutputType(typeof(PrecomputedTaskRun))]
public sealed class InvokePrecomputedTaskCommand : StoreCmdlet
{
    /// <summary>Saved plans (files or s3:// objects), run in the order given; a planned dataset's PlanPath binds here.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("PlanPath")]
    public string[] Plan { get; set; } = Array.Empty<string>();

    /// <summary>The phase to run (phases depend on the ones before; each is its own array job). Default: every phase in order, which only a single worker may do.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int? Phase { get; set; }

    /// <summary>This worker's array index. Default: SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX (Kubernetes) or AWS_BATCH_JOB_ARRAY_INDEX; 0 outside an array job.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int? Index { get; set; }

    /// <summary>How many workers share each phase. Default: SLURM_ARRAY_TASK_COUNT or AWS_BATCH_JOB_ARRAY_SIZE; 1 outside an array job.</summary>
    [Parameter]
    [ValidateRange(1, 1_000_000)]
    public int? Count { get; set; }

    /// <summary>Chunks processed in parallel within this worker (default: all cores).</summary>
    [Parameter]
    [ValidateRange(1, 1024)]
    public int ThrottleLimit { get; set; } = Environment.ProcessorCount;

    protected override void ProcessRecord()
    {
        try
        {
            (int index, int count) = ResolveIndex();
            if (count > 1 && Plan.Length > 1)
            {
                throw new EngineException("OnePlanPerArrayJob", EngineErrorKind.InvalidArgument, $"An array job of {count} runs one plan's phase; give one -Plan (got {Plan.Length}).", Plan);
            }

            StoreOptions options = BuildStoreOptions(null, ThrottleLimit);
            foreach (string planPath in Plan)
            {
                using PlanLocation location = OpenPlan(planPath, options);
                StagePlan plan = location.Load(StopToken);
                int[] phases = Phase is { } p ? new[] { p } : Enumerable.Range(0, plan.PhaseCount).ToArray();
                if (count > 1 && phases.Length > 1)
                {
                    throw new EngineException("PhaseRequired", EngineErrorKind.InvalidArgument, $"The {plan.Stage} plan has {plan.PhaseCount} phases, each depending on the one before, so {count} workers run them one -Phase at a time.", location.Location, recommendedAction: "Give -Phase (the cluster submitters make one array job per phase).");
                }

                int tasks = phases.Sum(ph => PlanPartition.TasksOf(plan, ph, index, count).Count);
                string phaseText = Phase is null ? "every phase" : $"phase {Phase}";
                if (!ShouldProcess(plan.Destination, $"Run {tasks} task(s) of the {plan.Stage} plan '{location.Location}', {phaseText}, index {index} of {count}"))
                {
                    continue;
                }

                var context = new StageContext { StoreOptions = options, ThrottleLimit = ThrottleLimit };
                var monitor = new OperationMonitor($"Running the {plan.Stage} plan {location.Location} [{index}/{count}]", "chunks");
                PlanWorkSummary summary = RunEngine((m, ct) => PlanWorker.RunAsync(plan, location, phases, index, count, context, m, ct), monitor);
                WriteObject(new PrecomputedTaskRun(location.Location, plan.Stage, plan.Destination, phases, index, count, summary.Tasks, summary.Ran, summary.Skipped, TimeSpan.FromSeconds(summary.Seconds)));
            }
        }
        catch (EngineException ex)
        {
            ThrowTerminatingError(ToErrorRecord(ex));
        }
    }

    private (int Index, int Count) ResolveIndex()
    {
        ArrayJobEnvironment? environment = Index is null ? ArrayJobEnvironment.Detect(Environment.GetEnvironmentVariable) : null;
        int index = Index ?? environment?.Index ?? 0;
        int? count = Count ?? environment?.Count;
        if (count is null)
        {
            if (Index is not null || environment is not null)
            {
                string from = environment is null ? "-Index" : $"{environment.Engine}'s array index";
                throw new EngineException("CountRequired", EngineErrorKind.InvalidArgument, $"{from} is {index}, but how many workers share the plan is not known; give -Count.", index);
            }

            count = 1;
        }

        if (index >= count)
        {
            throw new EngineException("InvalidTaskIndex", EngineErrorKind.InvalidArgument, $"Array index {index} of {count} does not exist (indices run 0..{count - 1}).", index);
        }

        if (environment is not null)
        {
            WriteVerbose($"{environment.Engine} array element {index} of {count}.");
        }

        return (index, count.Value);
    }
}
