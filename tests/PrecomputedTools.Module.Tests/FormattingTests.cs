using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Xml.Linq;
using Xunit;

namespace PrecomputedTools.Module.Tests;

/// <summary>
/// Every type a cmdlet emits ([OutputType]) has a table and a list view in the shipped
/// PrecomputedTools.Format.ps1xml, and prints through Out-Default as one short table row.
/// </summary>
public class FormattingTests : IClassFixture<FormattingTests.Session>
{
    // One script per pipeline type that produces a real instance of it ($Work is a scratch folder
    // holding a tiny TIFF stack in $Work/tiff; $Boss and $BossToken reach the loopback BOSS server). A cmdlet that starts emitting a new type makes
    // EveryOutputTypeRendersAsOneShortTableRow fail until the type gets a sample here.
    private static readonly Dictionary<string, string> s_samples = new()
    {
        ["PrecomputedTools.PrecomputedDataset"] = "New-PrecomputedInfo -Size 1406,621,138 -Resolution 798,798,2000 -TargetChunkSize 256",
        ["PrecomputedTools.PrecomputedScale"] = "(New-PrecomputedInfo -Size 1406,621,138 -Resolution 798,798,2000 -TargetChunkSize 256).Scales[0]",
        ["PrecomputedTools.VolumeSource"] = "Import-TiffStack -Path ([IO.Path]::Combine($Work, 'tiff')) -Resolution 798,798,2000",
        ["PrecomputedTools.DatasetValidationReport"] =
            "New-PrecomputedInfo -Size 64,64,64 -Resolution 8,8,8 -Destination ([IO.Path]::Combine($Work, 'report-' + [guid]::NewGuid())) | Test-PrecomputedDataset",
        ["PrecomputedTools.SegmentMesh"] =
            "Import-TiffStack -Path ([IO.Path]::Combine($Work, 'tiff')) -Resolution 798,798,2000 | " +
            "ConvertTo-CompressedSegmentation -Path ([IO.Path]::Combine($Work, 'mesh-' + [guid]::NewGuid())) | New-SegmentMesh -Confirm:$false",
        ["PrecomputedTools.BossCollection"] = "Get-BossCollection lab -BaseUri $Boss -Token $BossToken",
        ["PrecomputedTools.BossExperiment"] = "Get-BossExperiment lab zbrain -BaseUri $Boss -Token $BossToken",
        ["PrecomputedTools.BossChannel"] = "Get-BossChannel lab small seg -BaseUri $Boss -Token $BossToken",
        ["PrecomputedTools.BossCoordinateFrame"] = "Get-BossExperiment lab zbrain -BaseUri $Boss -Token $BossToken | Get-BossCoordinateFrame -BaseUri $Boss -Token $BossToken",
        ["PrecomputedTools.BossResolutionLevel"] = "Get-BossResolutionLevel lab zbrain masks -BaseUri $Boss -Token $BossToken",
        ["PrecomputedTools.PublishedDataset"] =
            "Publish-PrecomputedS3 -Path ([IO.Path]::Combine($Work, 'seg')) -Bucket ('fmt-' + [guid]::NewGuid().ToString('N').Substring(0, 8)) -EndpointUrl $S3Url -Credential $S3Credential",
        ["PrecomputedTools.PrecomputedServer"] = "Start-PrecomputedServer -Path ([IO.Path]::Combine($Work, 'seg')) -Port 0",
        ["PrecomputedTools.NginxSiteConfig"] = "New-PrecomputedNginxConfig -Path ([IO.Path]::Combine($Work, 'seg')) -ServerName data.example.org",
        ["PrecomputedTools.NeuroglancerLink"] = "New-NeuroglancerUrl -Source https://data.example.org/seg -SegmentId 1, 2",
        ["PrecomputedTools.PrecomputedTaskRun"] = SavedPlan + " | Invoke-PrecomputedTask",
        ["PrecomputedTools.PrecomputedPlanStatus"] = SavedPlan + " | Get-PrecomputedPlanStatus",
        ["PrecomputedTools.PrecomputedClusterJob"] = SavedPlan + " | Submit-PrecomputedSlurmJob -WhatIf",
    };

    // A convert stage saved as a plan (for the cluster cmdlets' output types).
    private const string SavedPlan =
        "Import-TiffStack -Path ([IO.Path]::Combine($Work, 'tiff')) -Resolution 798,798,2000 | " +
        "ConvertTo-CompressedSegmentation -Path ([IO.Path]::Combine($Work, 'planned-' + [guid]::NewGuid())) -PlanPath ([IO.Path]::Combine($Work, 'plans', [guid]::NewGuid().ToString() + '.json'))";

    // Types whose default view is the list: a table row would cut what users must copy whole.
    private static readonly Dictionary<string, string> s_listByDefault = new()
    {
        ["PrecomputedTools.NeuroglancerLink"] = "Url",
    };

    private readonly Session _fixture;

    public FormattingTests(Session fixture) => _fixture = fixture;

    public sealed class Session : IDisposable
    {
        public Session()
        {
            Work = Paths.NewScratch("formatting");
            TinyTiff.WriteStack(Path.Combine(Work, "tiff"), 40, 24, 6);
            PrecomputedTools.TestServers.HandMadeDataset.Write(Work, "seg");
            S3 = PrecomputedTools.TestServers.S3rverInstance.Start();
            Value = new ModuleSession();
            Value.Runspace.SessionStateProxy.SetVariable("Work", Work);
            Boss = new PrecomputedTools.TestServers.BossTestServer();
            Value.Runspace.SessionStateProxy.SetVariable("Boss", Boss.BaseUri);
            Value.RunOk("$global:BossToken = [System.Net.NetworkCredential]::new('', '" + PrecomputedTools.TestServers.BossTestServer.ValidToken + "').SecurePassword");
            Value.Runspace.SessionStateProxy.SetVariable("S3Url", S3.Url);
            var secret = new System.Security.SecureString();
            foreach (char c in PrecomputedTools.TestServers.S3rverInstance.SecretKey)
            {
                secret.AppendChar(c);
            }

            Value.Runspace.SessionStateProxy.SetVariable("S3Credential", new System.Management.Automation.PSCredential(PrecomputedTools.TestServers.S3rverInstance.AccessKey, secret));
        }

        public PrecomputedTools.TestServers.S3rverInstance S3 { get; }

        public ModuleSession Value { get; }

        public string Work { get; }

        public PrecomputedTools.TestServers.BossTestServer Boss { get; }

        public void Dispose()
        {
            Value.RunOk("Stop-PrecomputedServer");
            Value.Dispose();
            Boss.Dispose();
            S3.Dispose();
            Directory.Delete(Work, recursive: true);
        }
    }

    private static XDocument FormatFile() =>
        XDocument.Load(Path.Combine(Paths.RepoRoot, "module", "PrecomputedTools", "PrecomputedTools.Format.ps1xml"));

    private List<string> OutputTypes() => _fixture.Value.RunOk("""
            Get-Command -Module PrecomputedTools -CommandType Cmdlet |
                ForEach-Object { $_.OutputType } | ForEach-Object { $_.Name } |
                Where-Object { -not $_.StartsWith('System.') }
            """).Select(o => o.ToString()).Distinct().OrderBy(n => n, StringComparer.Ordinal).ToList();

    private static List<string> Labels(XElement view) =>
        view.Descendants("TableColumnHeader").Select(h => (string?)h.Element("Label") ?? "").ToList();

    [Fact]
    public void EveryOutputTypeHasATableAndAListView()
    {
        var views = FormatFile().Descendants("View").ToList();
        var missing = new List<string>();
        foreach (string type in OutputTypes())
        {
            var mine = views.Where(v => v.Element("ViewSelectedBy")?.Elements("TypeName").Any(t => t.Value == type) == true).ToList();
            if (!mine.Exists(v => v.Element("TableControl") is not null))
            {
                missing.Add(type + ": no TableControl view");
            }

            if (!mine.Exists(v => v.Element("ListControl") is not null))
            {
                missing.Add(type + ": no ListControl view");
            }
        }

        Assert.True(missing.Count == 0, "src/PrecomputedTools/PrecomputedTools.Format.ps1xml lacks:\n  " + string.Join("\n  ", missing));
    }

    [Fact]
    public void EveryOutputTypeRendersAsOneShortTableRow()
    {
        var types = OutputTypes().Union(s_samples.Keys).ToList();
        var problems = new List<string>();
        var views = FormatFile().Descendants("View").ToList();
        foreach (string type in types)
        {
            if (!s_samples.TryGetValue(type, out string? sample))
            {
                problems.Add($"{type}: no sample script in FormattingTests.s_samples");
                continue;
            }

            var produced = _fixture.Value.RunOk($"@({sample})[0]");
            if (produced.Count != 1 || produced[0].BaseObject.GetType().FullName != type)
            {
                problems.Add($"{type}: the sample produced {string.Join(", ", produced.Select(p => p.BaseObject.GetType().FullName))}");
                continue;
            }

            _fixture.Value.TakeHostText();
            _fixture.Value.Runspace.SessionStateProxy.SetVariable("sample", produced[0]);
            _fixture.Value.RunOk("$sample | Out-Default");
            string text = _fixture.Value.TakeHostText();
            var lines = text.Split('\n').Select(l => l.TrimEnd('\r', ' ')).Where(l => l.Length > 0).ToList();
            if (s_listByDefault.TryGetValue(type, out string? wholeProperty))
            {
                string whole = _fixture.Value.RunOk($"$sample.{wholeProperty}")[0].ToString();
                // The formatter breaks lines at the host width but never indents: joined, the value is whole.
                if (!text.Replace("\r", "").Replace("\n", "").Contains(whole))
                {
                    problems.Add($"{type}: the default view does not show {wholeProperty} whole:\n{text}");
                }

                // (Format-Table's row for it is checked in real pwsh: tests/Pester/Pipeline.Tests.ps1.)
                continue;
            }

            string? firstLabel = views
                .Where(v => v.Element("ViewSelectedBy")?.Elements("TypeName").Any(t => t.Value == type) == true && v.Element("TableControl") is not null)
                .Select(v => Labels(v).FirstOrDefault())
                .FirstOrDefault();
            if (lines.Count != 3 || !lines[1].TrimStart().StartsWith("-", StringComparison.Ordinal))
            {
                problems.Add($"{type}: expected a header, a rule and one row, got {lines.Count} lines:\n{text}");
            }
            else if (firstLabel is null || !lines[0].TrimStart().StartsWith(firstLabel, StringComparison.Ordinal))
            {
                problems.Add($"{type}: the header '{lines[0]}' is not the table view's (first column '{firstLabel}')");
            }
            else if (lines[2].Length > 160)
            {
                problems.Add($"{type}: the row is {lines[2].Length} characters wide");
            }
        }

        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void AVolumePrintsItsGeometryOnOneLineNeverItsVoxels()
    {
        _fixture.Value.TakeHostText();
        _fixture.Value.RunOk("Import-TiffStack -Path ([IO.Path]::Combine($Work, 'tiff')) -Resolution 798,798,2000 | Out-Default");
        var lines = _fixture.Value.TakeHostText().Split('\n').Where(l => l.Trim().Length > 0).ToList();
        Assert.Equal(3, lines.Count);
        Assert.Contains("40x24x6", lines[2]);
        Assert.Contains("uint8", lines[2]);
        Assert.Contains("798x798x2000", lines[2]);
    }

    [Fact]
    public void DatasetScalesPrintAsATableOfKeysSizesAndChunkCounts()
    {
        _fixture.Value.TakeHostText();
        _fixture.Value.RunOk("(New-PrecomputedInfo -Size 1406,621,138 -Resolution 798,798,2000 -TargetChunkSize 256).Scales | Out-Default");
        var lines = _fixture.Value.TakeHostText().Split('\n').Select(l => l.TrimEnd()).Where(l => l.Length > 0).ToList();
        Assert.Equal(5, lines.Count);
        Assert.Matches(@"^Index\s+Key\s+Size\s+Resolution\s+ChunkSize\s+Chunks\s+Encoding$", lines[0]);
        Assert.Matches(@"^0\s+1um\s+1406x621x138\s+798x798x2000\s+256x256x128\s+36\s+compressed_segmentation$", lines[2]);
        Assert.Matches(@"^2\s+3um\s+352x156x69\s+", lines[4]);
    }
}
