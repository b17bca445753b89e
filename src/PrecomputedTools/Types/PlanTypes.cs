using System;
using System.Globalization;

namespace PrecomputedTools;

/// <summary>What Invoke-PrecomputedTask did with one array element's share of a saved plan.</summary>
public sealed class PrecomputedTaskRun
{
    internal PrecomputedTaskRun(string plan, string stage, string destination, int[] phase, int index, int count, int tasks, int ran, int skipped, TimeSpan duration)
    {
        Plan = plan;
        Stage = stage;
        Destination = destination;
        Phase = phase;
        Index = index;
        Count = count;
        Tasks = tasks;
        Ran = ran;
        Skipped = skipped;
        Duration = duration;
    }

    /// <summary>The saved plan's location.</summary>
    public string Plan { get; }

    /// <summary>convert, downscale, mesh or copy.</summary>
    public string Stage { get; }

    /// <summary>The dataset the plan writes.</summary>
    public string Destination { get; }

    /// <summary>The phases run.</summary>
    public int[] Phase { get; }

    /// <summary>This element's array index.</summary>
    public int Index { get; }

    /// <summary>How many elements share each phase.</summary>
    public int Count { get; }

    /// <summary>Tasks of this element's share.</summary>
    public int Tasks { get; }

    /// <summary>Tasks run now.</summary>
    public int Ran { get; }

    /// <summary>Tasks skipped because an earlier run recorded them done and their outputs are there.</summary>
    public int Skipped { get; }

    public TimeSpan Duration { get; }

    /// <summary>"mesh plan, index 2 of 4: ran 12 task(s), skipped 0, in 3.1 s".</summary>
    public override string ToString() => string.Format(CultureInfo.InvariantCulture, "{0} plan, index {1} of {2}: ran {3} task(s), skipped {4}, in {5:0.0} s", Stage, Index, Count, Ran, Skipped, Duration.TotalSeconds);
}

/// <summary>Progress of one phase of a saved plan, read from the stores (Get-PrecomputedPlanStatus).</summary>
public sealed class PrecomputedPlanStatus
{
    internal PrecomputedPlanStatus(string plan, string stage, string destination, int phase, string kind, int tasks, int done, int failed, int count, int[] missingIndex, string[] errors)
    {
        Plan = plan;
        Stage = stage;
        Destination = destination;
        Phase = phase;
        Kind = kind;
        Tasks = tasks;
        Done = done;
        Failed = failed;
        Count = count;
        MissingIndex = missingIndex;
        Errors = errors;
    }

    public string Plan { get; }

    public string Stage { get; }

    public string Destination { get; }

    /// <summary>Phases run in order; tasks of one phase in any order.</summary>
    public int Phase { get; }

    /// <summary>What the phase's tasks do (encode, downscale, mesh, manifests, copy, shard, info, ...).</summary>
    public string Kind { get; }

    public int Tasks { get; }

    /// <summary>Tasks recorded done whose outputs are all stored.</summary>
    public int Done { get; }

    /// <summary>Tasks not done whose last attempt recorded an error.</summary>
    public int Failed { get; }

    /// <summary>Tasks not done (failed or never run).</summary>
    public int Missing => Tasks - Done;

    /// <summary>The array size the missing indices refer to.</summary>
    public int Count { get; }

    /// <summary>Array indices (of <see cref="Count"/>) that still have tasks to do: rerun just these.</summary>
    public int[] MissingIndex { get; }

    /// <summary>Distinct errors recorded by failed tasks.</summary>
    public string[] Errors { get; }

    public bool IsComplete => Done == Tasks;

    /// <summary>"downscale phase 1 (downscale): 30/32 done, indices 3 of 4 missing".</summary>
    public override string ToString() => string.Format(CultureInfo.InvariantCulture, "{0} phase {1} ({2}): {3}/{4} done{5}", Stage, Phase, Kind, Done, Tasks, MissingIndex.Length == 0 ? "" : $", indices {string.Join(",", MissingIndex)} of {Count} missing");
}

/// <summary>One array job a cluster submitter made for one phase of a saved plan.</summary>
public sealed class PrecomputedClusterJob
{
    internal PrecomputedClusterJob(string engine, string name, string plan, string stage, int phase, int arraySize, string arrayIndices, string command)
    {
        Engine = engine;
        Name = name;
        Plan = plan;
        Stage = stage;
        Phase = phase;
        ArraySize = arraySize;
        ArrayIndices = arrayIndices;
        Command = command;
    }

    /// <summary>Slurm, Kubernetes or AWS Batch.</summary>
    public string Engine { get; }

    /// <summary>The job's name.</summary>
    public string Name { get; }

    /// <summary>Slurm's job id (sbatch --parsable); null for jobs only written as manifests or requests.</summary>
    public string? JobId { get; internal set; }

    /// <summary>The job this one waits for (Slurm --dependency=afterok), or null.</summary>
    public string? DependsOn { get; internal set; }

    public string Plan { get; }

    public string Stage { get; }

    public int Phase { get; }

    /// <summary>How many elements the phase is split into (the worker's -Count).</summary>
    public int ArraySize { get; }

    /// <summary>The indices submitted ("0-7", or "1,5" for a rerun of missing indices).</summary>
    public string ArrayIndices { get; }

    /// <summary>The command each element runs.</summary>
    public string Command { get; }

    /// <summary>The file written for the job (Slurm batch script, Kubernetes manifest, AWS Batch request).</summary>
    public string? File { get; internal set; }

    public override string ToString() => string.Format(CultureInfo.InvariantCulture, "{0} {1} {2}[{3}]{4}", Engine, JobId ?? Name, Stage, ArrayIndices, DependsOn is null ? "" : " after " + DependsOn);
}
