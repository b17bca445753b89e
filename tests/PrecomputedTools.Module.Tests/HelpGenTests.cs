using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Xml.Linq;
using Xunit;

namespace PrecomputedTools.Module.Tests;

/// <summary>The build-time help generator (src/PrecomputedTools.HelpGen) run on the real cmdlet assembly.</summary>
public class HelpGenTests
{
    private static string Configuration => new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;

    private static string Built(string project, string tfm, string file) =>
        Path.Combine(Paths.RepoRoot, "src", project, "bin", Configuration, tfm, file);

    private static (int ExitCode, string Output) Run(string helpDirectory, string output, bool strict)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[]
        {
            Built("PrecomputedTools.HelpGen", "net10.0", "PrecomputedTools.HelpGen.dll"),
            "--assembly", Built("PrecomputedTools", "netstandard2.0", "PrecomputedTools.dll"),
            "--xmldoc", Built("PrecomputedTools", "netstandard2.0", "PrecomputedTools.xml"),
            "--help", helpDirectory,
            "--output", output,
            "--probe", Path.Combine(Paths.RepoRoot, "module", "PrecomputedTools", "Dependencies", "net8.0"),
        })
        {
            start.ArgumentList.Add(arg);
        }

        if (strict)
        {
            start.ArgumentList.Add("--strict");
        }

        using Process process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        string text = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, text + error.Result);
    }

    [Fact]
    public void WithoutHelpSourcesEveryCmdletIsReportedAndStrictModeWritesNothing()
    {
        string scratch = Paths.NewScratch("helpgen");
        string empty = Directory.CreateDirectory(Path.Combine(scratch, "Help")).FullName;
        string output = Path.Combine(scratch, "out", "PrecomputedTools.dll-Help.xml");

        (int lenient, string report) = Run(empty, output, strict: false);
        Assert.True(lenient == 0, report);
        Assert.Contains("warning PTHELP001: New-PrecomputedInfo: no help source", report);
        Assert.Contains("warning PTHELP001: Invoke-MajorityDownscale: 0 example(s)", report);
        var commands = XDocument.Load(output).Root!.Elements().Select(e => e.Descendants().First(d => d.Name.LocalName == "name").Value).ToList();
        Assert.Contains("Test-PrecomputedDataset", commands);

        File.Delete(output);
        (int strictExit, string strictReport) = Run(empty, output, strict: true);
        Assert.Equal(1, strictExit);
        Assert.Contains("error PTHELP001: New-PrecomputedInfo: no help source", strictReport);
        Assert.False(File.Exists(output));
        Directory.Delete(scratch, recursive: true);
    }

    [Fact]
    public void TheRepositoryHelpSourcesHaveNoGaps()
    {
        string scratch = Paths.NewScratch("helpgen-repo");
        string output = Path.Combine(scratch, "PrecomputedTools.dll-Help.xml");
        (int exitCode, string report) = Run(Path.Combine(Paths.RepoRoot, "src", "PrecomputedTools", "Help"), output, strict: true);
        Assert.True(exitCode == 0, report);
        Assert.DoesNotContain("PTHELP", report);
        Directory.Delete(scratch, recursive: true);
    }
}
