using System.Collections.Generic;
using System.IO;
using System.Linq;
using Xunit;

namespace PrecomputedTools.Module.Tests;

/// <summary>Runs every tests/scenarios/*.ps1 in the hosted runspace (the Pester suite runs the same files).</summary>
public class ScenarioTests
{
    public static IEnumerable<object[]> Scenarios() =>
        Directory.EnumerateFiles(Path.Combine(Paths.RepoRoot, "tests", "scenarios"), "*.ps1")
            .Select(Path.GetFileNameWithoutExtension)
            .OrderBy(n => n)
            .Select(n => new object[] { n! });

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void ScenarioPasses(string name)
    {
        using var session = new ModuleSession();
        string work = Paths.NewScratch("scenario-" + name);
        string script = Path.Combine(Paths.RepoRoot, "tests", "scenarios", name + ".ps1");
        var result = session.Run(
            "& $script -ModulePath $module -Work $work",
            new Dictionary<string, object?> { ["script"] = script, ["module"] = ModuleSession.ModulePath, ["work"] = work });
        Assert.True(result.Terminating is null, name + " threw: " + (result.Terminating is null ? "" : ModuleSession.Describe(result.Terminating)));
        Assert.Empty(result.PowerShell.Streams.Error.Select(e => e.FullyQualifiedErrorId + ": " + e));
    }
}
