using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Text.Json;
using PrecomputedTools.Engine.Stages;
using PrecomputedTools.Engine;
using PrecomputedTools.Infrastructure;

namespace PrecomputedTools.Commands;

/// <summary>
/// <para type="synopsis">Writes a Kubernetes Indexed Job manifest for every phase of saved plans.</para>
/// </summary>
[Cmdlet(VerbsCommon.New, "PrecomputedKubernetesJob", SupportsShouldProcess = true)]
[OutputType(typeof(PrecomputedClusterJob))]
public sealed class NewPrecomputedKubernetesJobCommand : ClusterCmdlet
{
    /// <summary>The container image: any image with pwsh and the module installed.</summary>
    [Parameter(Mandatory = true)]
    public string Image { get; set; } = "";

    /// <summary>The namespace of the jobs (default: kubectl's current one).</summary>
    [Parameter]
    public string? Namespace { get; set; }

    /// <summary>Memory each pod requests and is limited to, in Kubernetes units ("4Gi").</summary>
    [Parameter]
    public string? Memory { get; set; }

    /// <summary>Pods of one job running at once (the job's parallelism; default all).</summary>
    [Parameter]
    [ValidateRange(1, 100_000)]
    public int? MaxRunning { get; set; }

    /// <summary>Retries of each index before it counts as failed (backoffLimitPerIndex).</summary>
    [Parameter]
    [ValidateRange(0, 100)]
    public int RetriesPerIndex { get; set; } = 3;

    /// <summary>The service account pods run as (for S3 access through workload identity).</summary>
    [Parameter]
    public string? ServiceAccountName { get; set; }

    /// <summary>Environment variables of the worker container (for example @{ AWS_REGION = 'us-east-1' }); secrets belong in Kubernetes Secrets, not here.</summary>
    [Parameter]
    public Hashtable? Environment { get; set; }

    /// <summary>The module workers import (default "PrecomputedTools", installed in the image).</summary>
    [Parameter]
    public string ModulePath { get; set; } = "PrecomputedTools";

    /// <summary>Overwrite manifests that exist.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    private protected override void Submit(IReadOnlyList<PhaseJob> jobs)
    {
        WarnAboutCredentials();
        string folder = OutputFolder("kubernetes");
        foreach (PhaseJob job in jobs)
        {
            string name = job.Name(JobNamePrefix).ToLowerInvariant();
            string script = WorkerScript(job, ModulePath);
            string file = Path.Combine(folder, name + ".json");
            var record = new PrecomputedClusterJob("Kubernetes", name, job.Plan, job.StagePlan.Stage, job.Phase, job.Count, job.IndexText, script) { File = file };
            if (!ShouldProcess(file, $"Write the Kubernetes Indexed Job {name} ({job.Count} completions) for phase {job.Phase} of the {job.StagePlan.Stage} plan '{job.Plan}'"))
            {
                WriteObject(record);
                continue;
            }

            WriteJobFile(file, Manifest(job, name, script), Force);
            WriteObject(record);
        }
    }

    // An Indexed Job: each pod gets JOB_COMPLETION_INDEX, which Invoke-PrecomputedTask reads.
    private byte[] Manifest(PhaseJob job, string name, string script)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("apiVersion", "batch/v1");
            w.WriteString("kind", "Job");
            w.WriteStartObject("metadata");
            w.WriteString("name", name);
            if (Namespace is { Length: > 0 })
            {
                w.WriteString("namespace", Namespace);
            }

            WriteLabels(w, job);
            w.WriteEndObject();
            w.WriteStartObject("spec");
            w.WriteString("completionMode", "Indexed");
            w.WriteNumber("completions", job.Count);
            w.WriteNumber("parallelism", Math.Min(job.Count, MaxRunning ?? job.Count));
            w.WriteNumber("backoffLimitPerIndex", RetriesPerIndex);
            w.WriteStartObject("template");
            w.WriteStartObject("metadata");
            WriteLabels(w, job);
            w.WriteEndObject();
            w.WriteStartObject("spec");
            w.WriteString("restartPolicy", "Never");
            if (ServiceAccountName is { Length: > 0 })
            {
                w.WriteString("serviceAccountName", ServiceAccountName);
            }

            w.WriteStartArray("containers");
            w.WriteStartObject();
            w.WriteString("name", "worker");
            w.WriteString("image", Image);
            w.WriteStartArray("command");
            foreach (string part in new[] { "pwsh", "-NoProfile", "-NonInteractive", "-Command", script })
            {
                w.WriteStringValue(part);
            }

            w.WriteEndArray();
            if (Environment is { Count: > 0 })
            {
                w.WriteStartArray("env");
                foreach (DictionaryEntry entry in Environment.Cast<DictionaryEntry>().OrderBy(e => e.Key.ToString(), StringComparer.Ordinal))
                {
                    w.WriteStartObject();
                    w.WriteString("name", entry.Key.ToString());
                    w.WriteString("value", Convert.ToString(entry.Value, CultureInfo.InvariantCulture));
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            }

            w.WriteStartObject("resources");
            w.WriteStartObject("requests");
            w.WriteString("cpu", ThrottleLimit.ToString(CultureInfo.InvariantCulture));
            if (Memory is { Length: > 0 })
            {
                w.WriteString("memory", Memory);
            }

            w.WriteEndObject();
            if (Memory is { Length: > 0 })
            {
                w.WriteStartObject("limits");
                w.WriteString("memory", Memory);
                w.WriteEndObject();
            }

            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static void WriteLabels(Utf8JsonWriter w, PhaseJob job)
    {
        w.WriteStartObject("labels");
        w.WriteString("app.kubernetes.io/name", "precomputedtools");
        w.WriteString("precomputedtools/stage", job.StagePlan.Stage);
        w.WriteString("precomputedtools/phase", job.Phase.ToString(CultureInfo.InvariantCulture));
        w.WriteEndObject();
    }
}
