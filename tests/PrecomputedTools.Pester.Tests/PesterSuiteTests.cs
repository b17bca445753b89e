using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text.Json;
using Xunit;

namespace PrecomputedTools.Pester.Tests;

/// <summary>The Pester suite under the pinned pwsh (dotnet tool) and Pester 6 from NuGet.</summary>
public sealed class PesterSuiteTests
{
    // A floor, so that a file the runner silently stops discovering fails the build.
    private const int MinimumPesterTests = 150;

    private static string Metadata(string key) =>
        typeof(PesterSuiteTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == key).Value ?? throw new InvalidOperationException(key);

    [Fact]
    public void EveryPesterTestPassesInRealPwsh()
    {
        string root = Metadata("RepositoryRoot");
        string pester = Metadata("PesterModulePath");
        Assert.True(File.Exists(pester), $"Pester is not restored at {pester}");

        Run(root, "tool restore", TimeSpan.FromMinutes(5));
        string summaryPath = Path.Combine(Path.GetTempPath(), $"pester-{Guid.NewGuid():N}.json");
        try
        {
            string script = Path.Combine(root, "tests", "Pester", "Invoke-PesterSuite.ps1");
            (int exitCode, string output) = Run(root,
                $"pwsh -NoProfile -NonInteractive -File \"{script}\" -PesterPath \"{pester}\" -SummaryPath \"{summaryPath}\"",
                TimeSpan.FromMinutes(20));
            Assert.True(File.Exists(summaryPath), $"pwsh exited {exitCode} without a summary:\n{Tail(output)}");

            using JsonDocument summary = JsonDocument.Parse(File.ReadAllText(summaryPath));
            JsonElement s = summary.RootElement;
            var failures = s.GetProperty("Failures").EnumerateArray()
                .Select(f => $"{f.GetProperty("Name")}: {f.GetProperty("Message")}").ToList();
            Assert.True(failures.Count == 0, "Pester failures:\n" + string.Join("\n\n", failures) + "\n" + Tail(output));
            Assert.Equal(0, s.GetProperty("Failed").GetInt32());
            Assert.Equal(0, s.GetProperty("Skipped").GetInt32());
            Assert.Equal(0, s.GetProperty("NotRun").GetInt32());
            Assert.Equal(0, s.GetProperty("FailedBlocks").GetInt32());
            Assert.Equal(0, s.GetProperty("FailedContainers").GetInt32());
            Assert.StartsWith("6.", s.GetProperty("Pester").GetString());
            Assert.StartsWith("7.6.", s.GetProperty("PowerShell").GetString());
            Assert.Equal(0, exitCode);
            int passed = s.GetProperty("Passed").GetInt32();
            Assert.True(passed >= MinimumPesterTests, $"only {passed} Pester tests ran; the suite has at least {MinimumPesterTests}");
        }
        finally
        {
            File.Delete(summaryPath);
        }
    }

    private static string Tail(string text) => text.Length <= 6000 ? text : "…" + text[^6000..];

    private static (int ExitCode, string Output) Run(string workingDirectory, string dotnetArguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo("dotnet", dotnetArguments)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        // No colour codes in the captured output.
        start.Environment["NO_COLOR"] = "1";
        using Process process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet {dotnetArguments} ran past {timeout}:\n{Tail(output.ToString())}");
        }
        process.WaitForExit();
        lock (output) return (process.ExitCode, output.ToString());
    }
}
