using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Management.Automation;
using System.Text.Json;
using PrecomputedTools.Engine.Stages;
using PrecomputedTools.Infrastructure;

namespace PrecomputedTools.Commands;

/// <summary>
/// <para type="synopsis">Writes an AWS Batch job definition and one array-job submit request per phase of saved plans.</para>
/// </summary>
[Cmdlet(VerbsCommon.New, "PrecomputedBatchJob", SupportsShouldProcess = true)]
[OutputType(typeof(PrecomputedClusterJob))]
public sealed class NewPrecomputedBatchJobCommand : ClusterCmdlet
{
    /// <summary>The container image: any image with pwsh and the module installed.</summary>
    [Parameter(Mandatory = true)]
    public string Image { get; set; } = "";

    /// <summary>The job queue the requests submit to.</summary>
    [Parameter(Mandatory = true)]
    public string JobQueue { get; set; } = "";

    /// <summary>Name of the job definition (default "&lt;prefix&gt;-worker").</summary>
    [Parameter]
    public string? JobDefinitionName { get; set; }

    /// <summary>Memory of each container in MiB.</summary>
    [Parameter]
    [ValidateRange(128, 1_000_000)]
    public int MemoryMiB { get; set; } = 4096;

    /// <summary>IAM role the containers run as (their S3 access).</summary>
    [Parameter]
    public string? JobRoleArn { get; set; }

    /// <summary>Attempts of each array element (retryStrategy.attempts).</summary>
    [Parameter]
    [ValidateRange(1, 10)]
    public int Attempts { get; set; } = 3;

    /// <summary>The module workers import (default "PrecomputedTools", installed in the image).</summary>
    [Parameter]
    public string ModulePath { get; set; } = "PrecomputedTools";

    /// <summary>Overwrite files that exist.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    private protected override void Submit(IReadOnlyList<PhaseJob> jobs)
    {
        WarnAboutCredentials();
        string folder = OutputFolder("batch");
        string definition = JobDefinitionName ?? JobNamePrefix + "-worker";
        string definitionFile = Path.Combine(folder, definition + ".jobdefinition.json");
        if (ShouldProcess(definitionFile, $"Write the AWS Batch job definition {definition}"))
        {
            WriteJobFile(definitionFile, Json(w =>
            {
                w.WriteString("jobDefinitionName", definition);
                w.WriteString("type", "container");
                w.WriteStartObject("containerProperties");
                w.WriteString("image", Image);
                WriteCommand(w, "Get-Module -ListAvailable PrecomputedTools");
                w.WriteStartArray("resourceRequirements");
                WriteRequirement(w, "VCPU", ThrottleLimit.ToString(CultureInfo.InvariantCulture));
                WriteRequirement(w, "MEMORY", MemoryMiB.ToString(CultureInfo.InvariantCulture));
                w.WriteEndArray();
                if (JobRoleArn is { Length: > 0 })
                {
                    w.WriteString("jobRoleArn", JobRoleArn);
                }

                w.WriteEndObject();
                w.WriteStartObject("retryStrategy");
                w.WriteNumber("attempts", Attempts);
                w.WriteEndObject();
            }), Force);
        }

        foreach (PhaseJob job in jobs)
        {
            string name = job.Name(JobNamePrefix);
            string script = WorkerScript(job, ModulePath);
            string file = Path.Combine(folder, name + ".submit.json");
            var record = new PrecomputedClusterJob("AWS Batch", name, job.Plan, job.StagePlan.Stage, job.Phase, job.Count, job.IndexText, script) { File = file };
            if (ShouldProcess(file, $"Write the AWS Batch submit request {name} ({job.Count} elements) for phase {job.Phase} of the {job.StagePlan.Stage} plan '{job.Plan}'"))
            {
                // Batch arrays have 2..10,000 elements; a one-task phase is a plain job (no index variable: index 0 of 1).
                WriteJobFile(file, Json(w =>
                {
                    w.WriteString("jobName", name);
                    w.WriteString("jobQueue", JobQueue);
                    w.WriteString("jobDefinition", definition);
                    if (job.Count > 1)
                    {
                        w.WriteStartObject("arrayProperties");
                        w.WriteNumber("size", job.Count);
                        w.WriteEndObject();
                    }

                    w.WriteStartObject("containerOverrides");
                    WriteCommand(w, script);
                    w.WriteEndObject();
                }), Force);
            }

            WriteObject(record);
        }
    }

    private static void WriteCommand(Utf8JsonWriter w, string script)
    {
        w.WriteStartArray("command");
        foreach (string part in new[] { "pwsh", "-NoProfile", "-NonInteractive", "-Command", script })
        {
            w.WriteStringValue(part);
        }

        w.WriteEndArray();
    }

    private static void WriteRequirement(Utf8JsonWriter w, string type, string value)
    {
        w.WriteStartObject();
        w.WriteString("type", type);
        w.WriteString("value", value);
        w.WriteEndObject();
    }

    private static byte[] Json(Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }

        return buffer.ToArray();
    }
}
