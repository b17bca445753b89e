using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using Xunit;

namespace PrecomputedTools.Isolation.Tests;

/// <summary>
/// Acceptance 1 of issue 6: with another module's AWSSDK.Core (3.7) and Microsoft.Extensions.Http
/// (6.0) in the default load context, loaded before or after the module is imported, the module
/// works with its own 4.x/8.x copies from its private context, and the other copies keep working.
/// Each scenario is a child process running Program.Main of this assembly.
/// </summary>
public class IsolationTests
{
    [Theory]
    [InlineData("before")]
    [InlineData("after")]
    public void ModuleAndOtherCopiesOfItsDependenciesWorkSideBySide(string scenario)
    {
        (int exitCode, string output) = RunScenario(scenario);
        Assert.True(exitCode == 0, $"scenario '{scenario}' exited with {exitCode}:\n{output}");
        Assert.Contains("PASS engine's AWSSDK.Core is v4 from the PrecomputedTools context under Dependencies", output);
        Assert.Contains("PASS old AWSSDK.Core is v3 in the default context (after import)", output);
        Assert.Contains("PASS two AWSSDK.Core side by side", output);
        Assert.DoesNotContain("FAIL", output);
    }

    private static (int ExitCode, string Output) RunScenario(string scenario)
    {
        string self = typeof(IsolationTests).Assembly.Location;
        string manifest = Path.Combine(RepoRoot(), "module", "PrecomputedTools", "PrecomputedTools.psd1");
        var start = new ProcessStartInfo(DotNet())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(self);
        start.ArgumentList.Add(scenario);
        start.ArgumentList.Add(manifest);
        using Process process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(120_000))
        {
            process.Kill(entireProcessTree: true);
            return (-1, stdout + "\n(timed out)");
        }

        return (process.ExitCode, stdout + stderr.Result);
    }

    private static string DotNet()
    {
        string? current = Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet")
        {
            return current;
        }

        return Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
    }

    private static string RepoRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PrecomputedTools.psd1")) && Directory.Exists(Path.Combine(dir.FullName, "src")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Cannot find the repository root above " + AppContext.BaseDirectory);
    }
}
