using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using Xunit;

namespace PrecomputedTools.Module.Tests;

/// <summary>The runbook examples shipped with the module run as written.</summary>
public class ExampleTests
{
    private static string Example(string name) => Path.Combine(Paths.RepoRoot, "module", "PrecomputedTools", "examples", name);

    [Fact]
    public void GuideWorkflowConvertsMeshesServesAndPrintsAWorkingUrl()
    {
        using var session = new ModuleSession();
        string work = Paths.NewScratch("example-guide");
        var output = session.RunOk("& $script -OutputPath $out -Port 0", new Dictionary<string, object?> { ["script"] = Example("Invoke-GuideWorkflow.ps1"), ["out"] = work })
            .Select(o => o.ToString()).ToList();
        string served = output.Single(l => l.StartsWith("Served:", StringComparison.Ordinal)).Substring(8).Trim();
        string viewer = output.Single(l => l.StartsWith("Viewer:", StringComparison.Ordinal)).Substring(8).Trim();
        Assert.StartsWith("https://neuroglancer-demo.appspot.com/#!", viewer);
        using JsonDocument state = JsonDocument.Parse(Uri.UnescapeDataString(viewer.Substring(viewer.IndexOf("#!", StringComparison.Ordinal) + 2)));
        JsonElement layer = state.RootElement.GetProperty("layers")[0];
        Assert.Equal("segmentation", layer.GetProperty("type").GetString());
        Assert.Equal("precomputed://" + served, layer.GetProperty("source").GetString());
        Assert.True(File.Exists(Path.Combine(work, "sample", "info")));
        if (output.Any(l => l.StartsWith("Meshed", StringComparison.Ordinal)))
        {
            Assert.True(layer.GetProperty("segments").GetArrayLength() > 0);
            Assert.True(File.Exists(Path.Combine(work, "sample", "mesh", "info")));
        }
    }

    [Fact]
    public void QuickStartExampleRunsWithItsDefaultsFromTheCurrentLocation()
    {
        // As the README's quick start runs it: no parameters, output under ./out.
        using var session = new ModuleSession();
        string work = Paths.NewScratch("example-defaults");
        var output = session.RunOk("$ExecutionContext.SessionState.Path.SetLocation($work) | Out-Null; & $script", new Dictionary<string, object?> { ["script"] = Example("Convert-Sample.ps1"), ["work"] = work })
            .Select(o => o.ToString()).ToList();
        Assert.Contains(output, l => l == "Dataset: " + Path.Combine(work, "out", "sample"));
        Assert.True(File.Exists(Path.Combine(work, "out", "sample", "info")));
    }

    [Fact]
    public void QuickStartExamplePrintsTheDatasetAndSource()
    {
        using var session = new ModuleSession();
        string work = Paths.NewScratch("example-quick");
        var output = session.RunOk("& $script -OutputPath $out", new Dictionary<string, object?> { ["script"] = Example("Convert-Sample.ps1"), ["out"] = work })
            .Select(o => o.ToString()).ToList();
        Assert.Contains(output, l => l == "Dataset: " + Path.Combine(work, "sample"));
        Assert.Contains(output, l => l.StartsWith("Source:  precomputed://http://127.0.0.1:8080/sample", StringComparison.Ordinal));
        Assert.Contains(output, l => l.StartsWith("Chunks:  38 of 38", StringComparison.Ordinal));
    }
}
