using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Management.Automation;
using PrecomputedTools.Engine.Stages;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Storage;

namespace PrecomputedTools.Infrastructure;

/// <summary>One array job to make: a phase of a saved plan, split <see cref="Count"/> ways.</summary>
internal sealed class PhaseJob
{
    public PhaseJob(string plan, StagePlan stagePlan, int phase, int count, int[] indices)
    {
        Plan = plan;
        StagePlan = stagePlan;
        Phase = phase;
        Count = count;
        Indices = indices;
    }

    public string Plan { get; }

    public StagePlan StagePlan { get; }

    public int Phase { get; }

    /// <summary>The array size: the worker's -Count (never more than the phase has tasks).</summary>
    public int Count { get; }

    /// <summary>The indices to run (all of 0..Count-1, or those with missing tasks).</summary>
    public int[] Indices { get; }

    /// <summary>"pt-mesh-p1": the stage and phase, for job names and file names.</summary>
    public string Name(string prefix) => string.Format(CultureInfo.InvariantCulture, "{0}-{1}-p{2}", prefix, StagePlan.Stage, Phase);

    /// <summary>Slurm's --array syntax: "0-7", "1,4,5".</summary>
    public string IndexText => Indices.Length == Count && Count > 0 ? (Count == 1 ? "0" : $"0-{Count - 1}") : string.Join(",", Indices);
}

/// <summary>
/// Base of the cluster submitters: every phase of every saved plan becomes one array job (phases
/// depend on the ones before), each element running Invoke-PrecomputedTask for its index. The
/// worker command is plain pwsh, so any node or container with pwsh and the module runs it.
/// </summary>
public abstract class ClusterCmdlet : StoreCmdlet
{
    private readonly List<string> _plans = new();

    /// <summary>Saved plans in the order they run (each waits for the one before); a planned dataset's PlanPath binds here.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("PlanPath")]
    public string[] Plan { get; set; } = Array.Empty<string>();

    /// <summary>Array elements per phase (fewer when a phase has fewer tasks).</summary>
    [Parameter]
    [ValidateRange(1, 100_000)]
    public int Count { get; set; } = 4;

    /// <summary>Threads each worker uses (the worker's -ThrottleLimit; also the CPUs each element asks for).</summary>
    [Parameter]
    [ValidateRange(1, 1024)]
    public int ThrottleLimit { get; set; } = 1;

    /// <summary>Folder for what is written for the jobs (Slurm: batch scripts and logs, which workers must reach; Kubernetes: manifests; AWS Batch: requests). Default ./precomputed-slurm, -kubernetes or -batch.</summary>
    [Parameter]
    public string? OutputDirectory { get; set; }

    /// <summary>Job names start with this (default "pt").</summary>
    [Parameter]
    [ValidatePattern("^[A-Za-z0-9][A-Za-z0-9-]{0,40}$")]
    public string JobNamePrefix { get; set; } = "pt";

    protected override void ProcessRecord()
    {
        foreach (string plan in Plan)
        {
            _plans.Add(ResolvePlanLocation(plan));
        }
    }

    protected override void EndProcessing()
    {
        try
        {
            Submit(PlanJobs(OnlyMissing));
        }
        catch (EngineException ex)
        {
            ThrowTerminatingError(ToErrorRecord(ex));
        }
    }

    /// <summary>The folder of <see cref="OutputDirectory"/>, or ./precomputed-&lt;<paramref name="engine"/>&gt;.</summary>
    private protected string OutputFolder(string engine) => ResolveOutputPath(OutputDirectory ?? "precomputed-" + engine);

    /// <summary>Writes a job file whole; an existing one is replaced only with <paramref name="force"/>.</summary>
    private protected void WriteJobFile(string file, byte[] content, bool force)
    {
        if (File.Exists(file) && !force)
        {
            ThrowTerminatingError(OutputExistsError(file));
        }

        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        Engine.Storage.AtomicFile.Write(file, content);
    }

    /// <summary>True when only indices with tasks still to do are submitted (a rerun).</summary>
    private protected virtual bool OnlyMissing => false;

    /// <summary>Makes the jobs (in run order) and writes one record per job.</summary>
    private protected abstract void Submit(IReadOnlyList<PhaseJob> jobs);

    /// <summary>One job per phase of each plan, in run order; with <paramref name="missingOnly"/> only indices that still have tasks to do.</summary>
    private protected IReadOnlyList<PhaseJob> PlanJobs(bool missingOnly)
    {
        StoreOptions options = BuildStoreOptions();
        var jobs = new List<PhaseJob>();
        foreach (string planPath in _plans)
        {
            using PlanLocation location = PlanLocation.Open(planPath, options);
            StagePlan plan = location.Load(StopToken);
            HashSet<int>? pending = null;
            if (missingOnly)
            {
                using DatasetStore destination = DatasetStore.Open(plan.Destination, StoreOptions.FromPublicJson(plan.DestinationStore, options), plan.Layout, plan.Gzip);
                pending = new HashSet<int>(PlanStatus.Read(plan, location, destination, null, StopToken).Where(s => !s.Done).Select(s => s.Task.Index));
            }

            for (int phase = 0; phase < plan.PhaseCount; phase++)
            {
                int count = PlanPartition.ElementsFor(plan, phase, Count);
                int[] indices = pending is null
                    ? Enumerable.Range(0, count).ToArray()
                    : PlanPartition.OwnersOf(plan, phase, count).Where(o => pending.Contains(o.Key)).Select(o => o.Value).Distinct().OrderBy(i => i).ToArray();
                if (indices.Length > 0)
                {
                    jobs.Add(new PhaseJob(planPath, plan, phase, count, indices));
                }
            }
        }

        return jobs;
    }

    /// <summary>The PowerShell each element runs: import the module, run its share of the phase.</summary>
    private protected string WorkerScript(PhaseJob job, string module)
    {
        var script = new System.Text.StringBuilder();
        script.Append("Import-Module ").Append(Quote(module)).Append("; ");
        script.Append("Invoke-PrecomputedTask -Plan ").Append(Quote(job.Plan))
            .Append(" -Phase ").Append(job.Phase.ToString(CultureInfo.InvariantCulture))
            .Append(" -Count ").Append(job.Count.ToString(CultureInfo.InvariantCulture))
            .Append(" -ThrottleLimit ").Append(ThrottleLimit.ToString(CultureInfo.InvariantCulture));

        // Public store settings only: each worker brings its own credentials.
        if (Region is { Length: > 0 })
        {
            script.Append(" -Region ").Append(Quote(Region));
        }

        if (EndpointUrl is not null)
        {
            script.Append(" -EndpointUrl ").Append(Quote(EndpointUrl.ToString()));
        }

        if (ProfileName is { Length: > 0 })
        {
            script.Append(" -ProfileName ").Append(Quote(ProfileName));
        }

        script.Append(" -Confirm:$false -ErrorAction Stop | Out-String -Stream");
        return script.ToString();
    }

    /// <summary>The module to import in workers: the one running here (its manifest), unless told otherwise.</summary>
    private protected string DefaultModulePath()
    {
        string? root = MyInvocation.MyCommand.Module?.ModuleBase;
        string manifest = root is null ? "" : Path.Combine(root, "PrecomputedTools.psd1");
        return File.Exists(manifest) ? manifest : "PrecomputedTools";
    }

    /// <summary>A PowerShell single-quoted string.</summary>
    private protected static string Quote(string text) => "'" + text.Replace("'", "''") + "'";

    private protected void WarnAboutCredentials()
    {
        if (Credential is not null)
        {
            WriteWarning("-Credential is used here only to read the plans; workers never receive it and use their own credentials (environment, profile or instance role).");
        }
    }
}
