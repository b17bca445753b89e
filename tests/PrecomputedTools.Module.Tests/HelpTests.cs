using System;
using System.Linq;
using Xunit;

namespace PrecomputedTools.Module.Tests;

/// <summary>
/// Get-Help for every exported cmdlet must read like real help: it comes from the MAML the build
/// generates (src/PrecomputedTools.HelpGen) out of XML doc comments and src/PrecomputedTools/Help/*.md.
/// </summary>
public class HelpTests : IClassFixture<HelpTests.Session>
{
    private readonly ModuleSession _session;

    public HelpTests(Session session) => _session = session.Value;

    public sealed class Session : IDisposable
    {
        public ModuleSession Value { get; } = new();

        public void Dispose() => Value.Dispose();
    }

    // Returns one line per gap: "<cmdlet>: <what is missing>".
    private const string GapScript = """
        $common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
        foreach ($command in Get-Command -Module PrecomputedTools -CommandType Cmdlet) {
            $name = $command.Name
            $help = Get-Help $name -Full
            $synopsis = "$($help.Synopsis)".Trim()
            if (-not $synopsis -or $synopsis.StartsWith($name)) { "${name}: no synopsis" }
            $description = ($help.description | ForEach-Object { $_.Text }) -join ' '
            if (-not $description.Trim()) { "${name}: no description" }
            $examples = @($help.examples.example | Where-Object { "$($_.code)".Trim() })
            if ($examples.Count -lt 2) { "${name}: $($examples.Count) example(s) with code, at least 2 wanted" }
            $links = @($help.relatedLinks.navigationLink | Where-Object { "$($_.linkText)$($_.uri)".Trim() })
            if ($links.Count -lt 1) { "${name}: no related links" }
            foreach ($parameter in $command.Parameters.Keys) {
                if ($common -contains $parameter) { continue }
                $entry = @($help.parameters.parameter | Where-Object { $_.name -eq $parameter })
                $text = ($entry | ForEach-Object { $_.description } | ForEach-Object { $_.Text }) -join ' '
                if (-not $text.Trim()) { "${name}: parameter -$parameter has no description" }
            }
        }
        """;

    [Fact]
    public void EveryExportedCmdletHasSynopsisDescriptionParameterHelpAndTwoExamples()
    {
        var commands = _session.RunOk("Get-Command -Module PrecomputedTools -CommandType Cmdlet | ForEach-Object { $_.Name }");
        Assert.NotEmpty(commands);
        var gaps = _session.RunOk(GapScript).Select(o => o.ToString()).ToList();
        Assert.True(
            gaps.Count == 0,
            "Help gaps (write src/PrecomputedTools/Help/<Verb-Noun>.md and /// <summary> on every parameter):\n  " + string.Join("\n  ", gaps));
    }

    [Fact]
    public void HelpShowsTheWorkflowExamplesAndParameterDetailsFromTheSources()
    {
        var text = string.Join("\n", _session.RunOk("""
            $h = Get-Help New-PrecomputedInfo -Full
            $h.examples.example[0].code
            ($h.parameters.parameter | Where-Object { $_.name -eq 'DataType' }).parameterValueGroup.parameterValue -join ','
            ($h.parameters.parameter | Where-Object { $_.name -eq 'LiteralPath' }).aliases
            ($h.parameters.parameter | Where-Object { $_.name -eq 'Path' }).globbing
            $h.returnValues.returnValue.type.name
            """).Select(o => o.ToString()));
        Assert.Contains("New-PrecomputedInfo -Size 1406,621,138 -Resolution 798,798,2000", text);
        Assert.Contains("uint8,uint16,uint32,uint64,float32", text);
        Assert.Contains("PSPath, LP", text);
        Assert.Contains("true", text);
        Assert.Contains("PrecomputedTools.PrecomputedDataset", text);
    }

    [Fact]
    public void AboutTopicShipsWithTheModule()
    {
        var text = string.Join("\n", _session.RunOk("Get-Help about_PrecomputedTools").Select(o => o.ToString()));
        Assert.Contains("New-PrecomputedInfo", text);
        Assert.Contains("Publish-PrecomputedS3", text);
    }
}
