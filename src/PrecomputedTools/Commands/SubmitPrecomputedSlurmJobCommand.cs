using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Text;
using PrecomputedTools.Engine.Stages;
using PrecomputedTools.Engine;
using PrecomputedTools.Infrastructure;

namespace PrecomputedTools.Commands;

/// <summary>
/// <para type="synopsis">Submits saved plans to Slurm: one sbatch array job per phase, each waiting for the one before (afterok).</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Submit, "PrecomputedSlurmJob", SupportsShouldProcess = true)]
[OutputType(typeof(PrecomputedClusterJob))]
public sealed class SubmitPrecomputedSlurmJobCommand : ClusterCmdlet
{
    /// <summary>Slurm partition (sbatch --partition); default the cluster's.</summary>
    [Parameter]
    public string? Partition { get; set; }

    /// <summary>Time limit of each element (sbatch --time), for example "2:00:00".</summary>
    [Parameter]
    public string? TimeLimit { get; set; }

    /// <summary>Memory of each element (sbatch --mem), for example "8G".</summary>
    [Parameter]
    public string? Memory { get; set; }

    /// <summary>Elements of one array job running at once (the %N of --array).</summary>
    [Parameter]
    [ValidateRange(1, 100_000)]
    public int? MaxRunning { get; set; }

    /// <summary>The module workers import (default: the manifest of the module running here; "PrecomputedTools" for an installed module).</summary>
    [Parameter]
    public string? ModulePath { get; set; }

    /// <summary>How workers start PowerShell, as a shell command prefix (default: this session's pwsh).</summary>
    [Parameter]
    public string? PwshCommand { get; set; }

    /// <summary>Submit only the indices that still have tasks to do (from the plans' task records), to finish a run.</summary>
    [Parameter]
    public SwitchParameter MissingOnly { get; set; }

    /// <summary>More sbatch arguments, passed as given (for example "--account=lab", "--qos=long").</summary>
    [Parameter]
    public string[]? AdditionalArgument { get; set; }

    /// <summary>Wait until every submitted job has left the queue.</summary>
    [Parameter]
    public SwitchParameter Wait { get; set; }

    private protected override bool OnlyMissing => MissingOnly;

    private protected override void Submit(IReadOnlyList<PhaseJob> jobs)
    {
        WarnAboutCredentials();
        if (jobs.Count == 0)
        {
            WriteWarning("Every task of the plans is done; nothing to submit.");
            return;
        }

        string folder = OutputFolder("slurm");
        string module = ModulePath ?? DefaultModulePath();
        string pwsh = PwshCommand ?? DefaultPwshCommand();
        string? previous = null;
        var submitted = new List<string>();
        foreach (PhaseJob job in jobs)
        {
            string name = job.Name(JobNamePrefix);
            string command = pwsh + " -NoProfile -NonInteractive -Command " + ShellQuote(WorkerScript(job, module));
            var record = new PrecomputedClusterJob("Slurm", name, job.Plan, job.StagePlan.Stage, job.Phase, job.Count, job.IndexText, command) { DependsOn = previous };
            if (!ShouldProcess(job.StagePlan.Destination, $"Submit {name} to Slurm: array {job.IndexText} of the {job.StagePlan.Stage} plan '{job.Plan}', phase {job.Phase}{(previous is null ? "" : " after job " + previous)}"))
            {
                // -WhatIf: a stand-in id keeps the dependency chain readable.
                previous = "<" + name + ">";
                WriteObject(record);
                continue;
            }

            Directory.CreateDirectory(folder);
            string script = Path.Combine(folder, name + ".sbatch");
            File.WriteAllText(script, "#!/bin/bash\n# " + name + ": phase " + job.Phase.ToString(CultureInfo.InvariantCulture) + " of the " + job.StagePlan.Stage + " plan " + job.Plan + " (Submit-PrecomputedSlurmJob)\n" + command + "\n");
            var arguments = new List<string>
            {
                "--parsable",
                "--job-name=" + name,
                "--array=" + job.IndexText + (MaxRunning is { } n ? "%" + n.ToString(CultureInfo.InvariantCulture) : ""),
                "--output=" + Path.Combine(folder, name + "-%A_%a.out"),
                "--cpus-per-task=" + ThrottleLimit.ToString(CultureInfo.InvariantCulture),
            };
            if (previous is not null)
            {
                // A failed phase cancels what waits for it instead of leaving it pending forever.
                arguments.Add("--dependency=afterok:" + previous);
                arguments.Add("--kill-on-invalid-dep=yes");
            }

            AddIf(arguments, "--partition=", Partition);
            AddIf(arguments, "--time=", TimeLimit);
            AddIf(arguments, "--mem=", Memory);
            arguments.AddRange(AdditionalArgument ?? Array.Empty<string>());
            arguments.Add(script);
            (int exit, string output, string error) = Run("sbatch", arguments);
            string id = output.Trim().Split(';')[0].Trim();
            if (exit != 0 || id.Length == 0 || !id.All(char.IsDigit))
            {
                throw new EngineException("SlurmSubmitFailed", EngineErrorKind.InvalidOperation, $"sbatch refused {name} (exit {exit}): {error.Trim()} {output.Trim()}".Trim(), name, recommendedAction: "Check the Slurm options (-Partition, -TimeLimit, -Memory, -AdditionalArgument) and that sbatch works on this node.");
            }

            record.JobId = id;
            record.File = script;
            previous = id;
            submitted.Add(id);
            WriteVerbose($"Submitted {name} as job {id}.");
            WriteObject(record);
        }

        if (Wait && submitted.Count > 0)
        {
            WaitForQueue(submitted);
        }
    }

    private void WaitForQueue(List<string> jobs)
    {
        var progress = new ProgressRecord(1, "Waiting for Slurm", $"{jobs.Count} job(s)");
        while (!StopToken.IsCancellationRequested)
        {
            (int exit, string output, string error) = Run("squeue", new[] { "--noheader", "--format=%i %T", "--jobs=" + string.Join(",", jobs) });
            string[] lines = output.Split(new[] { '\n' }, StringSplitOptions.RemoveEmptyEntries);
            if (exit != 0 && !error.Contains("Invalid job id"))
            {
                throw new EngineException("SlurmQueryFailed", EngineErrorKind.InvalidOperation, $"squeue failed (exit {exit}): {error.Trim()}", jobs[0]);
            }

            if (lines.Length == 0)
            {
                break;
            }

            progress.StatusDescription = $"{lines.Length} element(s) queued or running";
            WriteProgress(progress);
            StopToken.WaitHandle.WaitOne(TimeSpan.FromSeconds(2));
        }

        if (StopToken.IsCancellationRequested)
        {
            throw new PipelineStoppedException();
        }

        progress.RecordType = ProgressRecordType.Completed;
        WriteProgress(progress);
    }

    private static void AddIf(List<string> arguments, string option, string? value)
    {
        if (value is { Length: > 0 })
        {
            arguments.Add(option + value);
        }
    }

    private (int Exit, string Output, string Error) Run(string program, IEnumerable<string> arguments)
    {
        // netstandard2.0 has no ArgumentList: quote each argument as .NET splits a command line.
        var start = new ProcessStartInfo(program, string.Join(" ", arguments.Select(QuoteArgument))) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };

        try
        {
            using Process process = Process.Start(start) ?? throw new InvalidOperationException(program + " did not start");
            System.Threading.Tasks.Task<string> error = process.StandardError.ReadToEndAsync();
            string output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, output, error.Result);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new EngineException("SlurmNotFound", EngineErrorKind.ObjectNotFound, $"'{program}' could not be started ({ex.Message}); submit from a node where the Slurm client commands are on PATH.", program, ex);
        }
    }

    private static string QuoteArgument(string argument)
    {
        if (argument.Length > 0 && argument.IndexOfAny(new[] { ' ', '\t', '"', '\\' }) < 0)
        {
            return argument;
        }

        var quoted = new StringBuilder("\"");
        int backslashes = 0;
        foreach (char c in argument)
        {
            if (c == '\\')
            {
                backslashes++;
                continue;
            }

            quoted.Append('\\', c == '"' ? backslashes * 2 + 1 : backslashes);
            backslashes = 0;
            quoted.Append(c);
        }

        return quoted.Append('\\', backslashes * 2).Append('"').ToString();
    }

    // The pwsh running this session: pwsh itself, or "dotnet pwsh.dll" for the .NET tool.
    private static string DefaultPwshCommand()
    {
        string? process;
        using (Process self = Process.GetCurrentProcess())
        {
            process = self.MainModule?.FileName;
        }

        string name = Path.GetFileNameWithoutExtension(process ?? "");
        if (process is not null && name.Equals("pwsh", StringComparison.OrdinalIgnoreCase))
        {
            return ShellQuote(process);
        }

        string? entry = System.Reflection.Assembly.GetEntryAssembly()?.Location;
        if (process is not null && name.Equals("dotnet", StringComparison.OrdinalIgnoreCase) && entry is { Length: > 0 } && Path.GetFileName(entry).Equals("pwsh.dll", StringComparison.OrdinalIgnoreCase))
        {
            return ShellQuote(process) + " " + ShellQuote(entry);
        }

        return "pwsh";
    }

    // A POSIX shell single-quoted word.
    private static string ShellQuote(string text) => "'" + text.Replace("'", "'\\''") + "'";
}
