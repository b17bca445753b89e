using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using PrecomputedTools.TestServers;
using Xunit;

namespace PrecomputedTools.Isolation.Tests;

/// <summary>
/// Acceptance 1 of issue 6: with another module's AWSSDK.Core (3.7) and Microsoft.Extensions.Http
/// (6.0) in the default load context, loaded before or after the module is imported, the module
/// works with its own 4.x/8.x copies from its private context, and the other copies keep working.
/// Each scenario is a child process running Program.Main of this assembly; it publishes a dataset
/// to a local s3rver with Publish-PrecomputedS3.
/// </summary>
public class IsolationTests : IClassFixture<IsolationTests.Servers>
{
    private readonly Servers _servers;

    public IsolationTests(Servers servers) => _servers = servers;

    public sealed class Servers : IDisposable
    {
        public Servers()
        {
            Scratch = RepoPaths.NewScratch("isolation");
            Dataset = HandMadeDataset.Write(Scratch, "seg");
            S3 = S3rverInstance.Start();
        }

        public string Scratch { get; }

        public HandMadeDataset Dataset { get; }

        public S3rverInstance S3 { get; }

        public void Dispose()
        {
            S3.Dispose();
            Directory.Delete(Scratch, recursive: true);
        }
    }

    [Theory]
    [InlineData("before")]
    [InlineData("after")]
    public void ModuleAndOtherCopiesOfItsDependenciesWorkSideBySide(string scenario)
    {
        (int exitCode, string output) = RunScenario(scenario, _servers);
        Assert.True(exitCode == 0, $"scenario '{scenario}' exited with {exitCode}:\n{output}");
        Assert.Contains("PASS engine's AWSSDK.Core is v4 from the PrecomputedTools context under Dependencies", output);
        Assert.Contains("PASS old AWSSDK.Core is v3 in the default context (after import)", output);
        Assert.Contains("PASS two AWSSDK.Core side by side", output);
        Assert.Contains("PASS Publish-PrecomputedS3 uploads every file to the local S3 server", output);
        Assert.Contains("PASS the uploaded info reads back through the other module's HTTP stack", output);
        Assert.DoesNotContain("FAIL", output);
    }

    private static (int ExitCode, string Output) RunScenario(string scenario, Servers servers)
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
        start.ArgumentList.Add(servers.S3.Url);
        start.ArgumentList.Add(S3rverInstance.AccessKey);
        start.ArgumentList.Add(S3rverInstance.SecretKey);
        start.ArgumentList.Add(servers.Dataset.Path);
        start.ArgumentList.Add(servers.Dataset.Files.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
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
