using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Text;
using System.Text.RegularExpressions;
using PrecomputedTools.Host;

namespace PrecomputedTools.Module.Tests;

/// <summary>
/// A hosted PowerShell 7.6 runspace with the built module imported by full path, and a text host
/// that captures what a console would show (What if: lines, warnings, formatted output).
/// </summary>
public sealed class ModuleSession : IDisposable
{
    private readonly StringWriter _hostText = new();
    private readonly List<ProgressRecord> _hostProgress = new();

    public ModuleSession()
    {
        Host = new TextHost(TextWriter.Synchronized(_hostText), null, r => { lock (_hostProgress) { _hostProgress.Add(r); } });
        InitialSessionState state = InitialSessionState.CreateDefault2();
        state.ImportPSModule(new[] { ModulePath });
        state.ThrowOnRunspaceOpenError = true;
        Runspace = RunspaceFactory.CreateRunspace(Host, state);
        Runspace.Open();
        // Plain text: tests compare what users read, without ANSI colour codes.
        Run("$PSStyle.OutputRendering = 'PlainText'");
    }

    public static string RepoRoot => Paths.RepoRoot;

    public static string ModulePath => Path.Combine(RepoRoot, "module", "PrecomputedTools", "PrecomputedTools.psd1");

    public TextHost Host { get; }

    public Runspace Runspace { get; }

    /// <summary>Text the host received since the last <see cref="TakeHostText"/>.</summary>
    public string TakeHostText()
    {
        lock (_hostText)
        {
            string text = _hostText.ToString();
            _hostText.GetStringBuilder().Clear();
            return Regex.Replace(text, "\u001b\\[[0-9;]*m", "");
        }
    }

    /// <summary>Runs a script; returns the PowerShell (for streams) and its output.</summary>
    public RunResult Run(string script, IDictionary<string, object?>? variables = null)
    {
        PowerShell ps = PowerShell.Create();
        ps.Runspace = Runspace;
        if (variables is not null)
        {
            foreach (var pair in variables)
            {
                Runspace.SessionStateProxy.SetVariable(pair.Key, pair.Value);
            }
        }

        ps.AddScript(script);
        Collection<PSObject> output;
        Exception? terminating = null;
        try
        {
            output = ps.Invoke();
        }
        catch (RuntimeException ex)
        {
            output = new Collection<PSObject>();
            terminating = ex;
        }

        return new RunResult(ps, output, terminating);
    }

    /// <summary>Runs a script that must succeed with no errors; returns its output objects.</summary>
    public Collection<PSObject> RunOk(string script, IDictionary<string, object?>? variables = null)
    {
        RunResult result = Run(script, variables);
        if (result.Terminating is not null)
        {
            throw new InvalidOperationException("Script failed: " + Describe(result.Terminating), result.Terminating);
        }

        if (result.PowerShell.Streams.Error.Count > 0)
        {
            throw new InvalidOperationException("Script wrote errors: " + string.Join("; ", result.PowerShell.Streams.Error.Select(e => e.FullyQualifiedErrorId + ": " + e)));
        }

        return result.Output;
    }

    public static string Describe(Exception ex) =>
        ex is IContainsErrorRecord { ErrorRecord: { } record } ? record.FullyQualifiedErrorId + ": " + ex.Message : ex.ToString();

    public void Dispose()
    {
        Runspace.Dispose();
    }

    public IReadOnlyList<ProgressRecord> TakeHostProgress()
    {
        lock (_hostProgress)
        {
            var copy = _hostProgress.ToList();
            _hostProgress.Clear();
            return copy;
        }
    }
}

public sealed class RunResult
{
    public RunResult(PowerShell powerShell, Collection<PSObject> output, Exception? terminating)
    {
        PowerShell = powerShell;
        Output = output;
        Terminating = terminating;
    }

    public PowerShell PowerShell { get; }

    public Collection<PSObject> Output { get; }

    /// <summary>The terminating error, if the script stopped with one.</summary>
    public Exception? Terminating { get; }

    /// <summary>The error record of the terminating error, or the first non-terminating one.</summary>
    public ErrorRecord? FirstError =>
        (Terminating as IContainsErrorRecord)?.ErrorRecord ?? PowerShell.Streams.Error.FirstOrDefault();
}

public static class Paths
{
    private static readonly Lazy<string> s_repoRoot = new(() =>
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PrecomputedTools.psd1")) && Directory.Exists(Path.Combine(dir.FullName, "src")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Cannot find the repository root above " + AppContext.BaseDirectory);
    });

    public static string RepoRoot => s_repoRoot.Value;

    public static string SharedData =>
        Environment.GetEnvironmentVariable("PRECOMPUTEDTOOLS_SHARED_DATA") is { Length: > 0 } env
            ? env
            : Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "data"));

    public static string NewScratch(string name)
    {
        string path = Path.Combine(Path.GetTempPath(), "pt-module-tests", name + "-" + Guid.NewGuid().ToString("N").Substring(0, 8));
        Directory.CreateDirectory(path);
        return path;
    }
}
