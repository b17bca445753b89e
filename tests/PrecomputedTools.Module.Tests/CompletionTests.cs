using System;
using System.IO;
using System.Linq;
using System.Management.Automation;
using Xunit;

namespace PrecomputedTools.Module.Tests;

/// <summary>Tab completion (CommandCompletion.CompleteInput, what TabExpansion2 calls) in the hosted runspace.</summary>
public class CompletionTests : IClassFixture<CompletionTests.Session>
{
    private readonly Session _fixture;

    public CompletionTests(Session fixture) => _fixture = fixture;

    public sealed class Session : IDisposable
    {
        public Session()
        {
            Work = Paths.NewScratch("completion");
            Dataset = Path.Combine(Work, "zbrain data");
            Value = new ModuleSession();
            Value.Runspace.SessionStateProxy.SetVariable("target", Dataset);
            Value.RunOk("$global:ds = New-PrecomputedInfo -Size 1406,621,138 -Resolution 798,798,2000 -TargetChunkSize 256 -Destination $target");
        }

        public ModuleSession Value { get; }

        public string Work { get; }

        public string Dataset { get; }

        public void Dispose()
        {
            Value.Dispose();
            Directory.Delete(Work, recursive: true);
        }
    }

    private string[] Complete(string input)
    {
        using PowerShell ps = PowerShell.Create();
        ps.Runspace = _fixture.Value.Runspace;
        CommandCompletion completion = CommandCompletion.CompleteInput(input, input.Length, null, ps);
        return completion.CompletionMatches.Select(m => m.CompletionText).ToArray();
    }

    private static string Quoted(string path) => "'" + path.Replace("'", "''") + "'";

    [Fact]
    public void ScaleKeysComeFromTheDatasetGivenByPath()
    {
        Assert.Equal(new[] { "1um", "2um", "3um" }, Complete($"Invoke-MajorityDownscale -Path {Quoted(_fixture.Dataset)} -Scale "));
        Assert.Equal(new[] { "2um" }, Complete($"Invoke-MajorityDownscale -Path {Quoted(_fixture.Dataset)} -Scale 2"));
        Assert.Equal(new[] { "3um" }, Complete($"Invoke-MajorityDownscale {Quoted(_fixture.Dataset)} -Scale '3"));
    }

    [Fact]
    public void ScaleKeysComeFromADatasetObjectInAVariable()
    {
        Assert.Equal(new[] { "1um", "2um", "3um" }, Complete("Invoke-MajorityDownscale -InputObject $ds -Scale "));
        var tooltip = _fixture.Value.RunOk(
            "[System.Management.Automation.CommandCompletion]::CompleteInput('Invoke-MajorityDownscale -InputObject $ds -Scale 1', 50, $null).CompletionMatches[0].ToolTip");
        Assert.Equal("1um: 1406x621x138 voxels at 798x798x2000 nm, 36 chunks", Assert.Single(tooltip).ToString());
    }

    [Fact]
    public void NewSegmentMeshCompletesScaleKeysToo()
    {
        Assert.Equal(new[] { "1um", "2um", "3um" }, Complete("New-SegmentMesh -InputObject $ds -Scale "));
        Assert.Equal(new[] { "2um" }, Complete($"New-SegmentMesh -Path {Quoted(_fixture.Dataset)} -Scale 2"));
    }

    [Fact]
    public void RelativePathsResolveAgainstTheCurrentLocation()
    {
        _fixture.Value.RunOk("$ExecutionContext.SessionState.Path.SetLocation($args[0]) | Out-Null".Replace("$args[0]", Quoted(_fixture.Work)));
        Assert.Equal(new[] { "1um", "2um", "3um" }, Complete("Invoke-MajorityDownscale -Path './zbrain data' -Scale "));
        Assert.Equal(new[] { "1um", "2um", "3um" }, Complete("Invoke-MajorityDownscale -Path './zbrain data/info' -Scale "));
    }

    [Fact]
    public void NoDatasetOrAMissingOneOffersNoScaleKeys()
    {
        Assert.DoesNotContain("1um", Complete("Invoke-MajorityDownscale -Scale "));
        Assert.DoesNotContain("1um", Complete($"Invoke-MajorityDownscale -Path {Quoted(Path.Combine(_fixture.Work, "missing"))} -Scale "));
    }

    [Fact]
    public void MethodsAndEncodingsCompleteFromTheirValidateSets()
    {
        Assert.Equal(new[] { "Average", "Majority", "Max", "Min", "Stride" }, Complete("Invoke-MajorityDownscale -Method ").OrderBy(s => s, StringComparer.Ordinal));
        Assert.Equal(new[] { "compressed_segmentation", "jpeg", "png", "raw" }, Complete("ConvertTo-CompressedSegmentation -Encoding ").OrderBy(s => s, StringComparer.Ordinal));
        Assert.Equal(new[] { "uint16", "uint32", "uint64", "uint8" }, Complete("New-PrecomputedInfo -DataType ui").OrderBy(s => s, StringComparer.Ordinal));
    }
}
