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
/// <para type="synopsis">Reports, per phase, how many tasks of a saved plan are done, failed or missing, from what the stores hold.</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "PrecomputedPlanStatus")]
[OutputType(typeof(PrecomputedPlanStatus))]
public sealed class GetPrecomputedPlanStatusCommand : StoreCmdlet
{
    private const int MaxErrorsShown = 5;

    /// <summary>Saved plans (files or s3:// objects); a planned dataset's PlanPath binds here.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("PlanPath")]
    public string[] Plan { get; set; } = Array.Empty<string>();

    /// <summary>The array size the missing indices refer to (the workers' -Count; a phase with fewer tasks has as many elements as tasks; default 1).</summary>
    [Parameter]
    [ValidateRange(1, 1_000_000)]
    public int Count { get; set; } = 1;

    protected override void ProcessRecord()
    {
        try
        {
            StoreOptions options = BuildStoreOptions();
            foreach (string planPath in Plan)
            {
                using PlanLocation location = OpenPlan(planPath, options);
                StagePlan plan = location.Load(StopToken);
                using DatasetStore destination = DatasetStore.Open(plan.Destination, StoreOptions.FromPublicJson(plan.DestinationStore, options), plan.Layout, plan.Gzip);
                IReadOnlyList<PlanTaskState> states = PlanStatus.Read(plan, location, destination, null, StopToken);
                foreach (IGrouping<int, PlanTaskState> phase in states.GroupBy(s => s.Task.Phase).OrderBy(g => g.Key))
                {
                    // The array a submitter makes for this phase: never more elements than tasks.
                    int count = PlanPartition.ElementsFor(plan, phase.Key, Count);
                    List<PlanTaskState> missing = phase.Where(s => !s.Done).ToList();
                    Dictionary<int, int> owners = PlanPartition.OwnersOf(plan, phase.Key, count);
                    int[] indices = missing.Select(s => owners[s.Task.Index]).Distinct().OrderBy(i => i).ToArray();
                    string[] errors = missing.Where(s => s.Failure is not null).Select(s => s.Failure!).Distinct(StringComparer.Ordinal).Take(MaxErrorsShown).ToArray();
                    string kind = string.Join(",", phase.Select(s => s.Task.Kind).Distinct());
                    WriteObject(new PrecomputedPlanStatus(location.Location, plan.Stage, plan.Destination, phase.Key, kind, phase.Count(), phase.Count(s => s.Done), missing.Count(s => s.Failure is not null), count, indices, errors));
                }
            }
        }
        catch (EngineException ex)
        {
            ThrowTerminatingError(ToErrorRecord(ex));
        }
    }
}
