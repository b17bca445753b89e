using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using PrecomputedTools.TestServers;
using Xunit;

namespace PrecomputedTools.Module.Tests;

public sealed class BossCmdletTests : IDisposable
{
    private readonly BossTestServer _server = new();
    private readonly ModuleSession _session = new();

    public BossCmdletTests()
    {
        _session.RunOk("$global:boss = [uri]'" + _server.BaseUri + "'; $global:tok = [System.Net.NetworkCredential]::new('', '" + BossTestServer.ValidToken + "').SecurePassword");
    }

    public void Dispose()
    {
        _session.Dispose();
        _server.Dispose();
    }

    private const string Conn = "-BaseUri $boss -Token $tok";

    private static void AssertError(RunResult result, string id, ErrorCategory category)
    {
        ErrorRecord? error = result.FirstError;
        Assert.NotNull(error);
        Assert.StartsWith(id + ",PrecomputedTools.Commands.", error!.FullyQualifiedErrorId);
        Assert.Equal(category, error.CategoryInfo.Category);
    }

    [Fact]
    public void ChannelPipesIntoCutout()
    {
        var output = _session.RunOk($"Get-BossChannel -Collection lab -Experiment small -Channel seg {Conn} | Get-BossCutout -ResolutionLevel 1 -X 10,300 -Y 0,200 -Z 4,36 {Conn}");
        var volume = Assert.Single(output);
        Assert.Equal("PrecomputedTools.VolumeSource", volume.BaseObject.GetType().FullName);
        Assert.Equal(new[] { 290, 200, 32 }, (int[])volume.Properties["Size"].Value);
        Assert.Equal("uint64", volume.Properties["DataType"].Value);
        Assert.Equal(new[] { 10, 0, 4 }, (int[])volume.Properties["VoxelOffset"].Value);
        Assert.Equal(new[] { 8.0, 8, 40 }, (double[])volume.Properties["Resolution"].Value);
        Assert.DoesNotContain(BossTestServer.ValidToken, (string)volume.Properties["Source"].Value);
        Assert.Equal(0, _server.CountCutouts());
    }

    [Fact]
    public void ResourceFamilyReturnsTypedObjects()
    {
        var collections = _session.RunOk($"Get-BossCollection {Conn}");
        Assert.Contains(collections, c => (string)c.Properties["Name"].Value == "lab");
        Assert.All(collections, c => Assert.Equal("PrecomputedTools.BossCollection", c.BaseObject.GetType().FullName));
        var experiments = _session.RunOk($"Get-BossExperiment lab {Conn}");
        Assert.Equal(4, experiments.Count);
        var frame = Assert.Single(_session.RunOk($"Get-BossExperiment lab zbrain {Conn} | Get-BossCoordinateFrame {Conn}"));
        Assert.Equal(new[] { 1406, 621, 138 }, (int[])frame.Properties["Stop"].Value);
        var levels = _session.RunOk($"Get-BossResolutionLevel lab zbrain masks -Iso {Conn}");
        Assert.Equal(4, levels.Count);
        Assert.Equal(new long[] { 176, 78, 35 }, (long[])levels[3].Properties["Extent"].Value);
        var channels = _session.RunOk($"Get-BossChannel lab small {Conn}");
        Assert.Contains(channels, c => (string)c.Properties["Name"].Value == "raw_only" && (string)c.Properties["DownsampleStatus"].Value == "NOT_DOWNSAMPLED");
        _session.RunOk($"Get-BossChannel lab small {Conn} | Out-Default");
        string text = _session.TakeHostText();
        Assert.Contains("DownsampleStatus", text);
        Assert.Contains("annotation", text);
    }

    [Fact]
    public void SegmentIdsAreUInt64()
    {
        var ids = _session.RunOk($"Get-BossSegmentId lab small seg -X 0,64 -Y 0,64 -Z 0,8 {Conn}");
        Assert.NotEmpty(ids);
        Assert.All(ids, id => Assert.IsType<ulong>(id.BaseObject));
        Assert.All(ids, id => Assert.True((ulong)id.BaseObject > uint.MaxValue));
    }

    [Fact]
    public void ExportTiffStackUsesNdpullNamesAndHonoursWhatIfAndForce()
    {
        string dir = Paths.NewScratch("boss-tiff");
        string cut = $"Get-BossCutout lab small em -ResolutionLevel 1 -X 0,100 -Y 0,50 -Z 30,40 {Conn}";
        var whatIf = _session.Run($"{cut} | Export-TiffStack -Destination '{dir}' -WhatIf");
        Assert.Empty(whatIf.Output);
        Assert.Contains("What if:", _session.TakeHostText());
        Assert.Empty(Directory.GetFiles(dir));

        var files = _session.RunOk($"{cut} | Export-TiffStack -Destination '{dir}'");
        Assert.Equal(10, files.Count);
        string[] names = Directory.GetFiles(dir).Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal).ToArray()!;
        Assert.Equal("lab_small_em_x0-100_y0-50_z30.tif", names[0]);
        Assert.Equal("lab_small_em_x0-100_y0-50_z39.tif", names[9]);
        byte[] head = File.ReadAllBytes(Path.Combine(dir, names[0])).Take(4).ToArray();
        Assert.Equal(new byte[] { 0x49, 0x49, 42, 0 }, head);

        var again = _session.Run($"{cut} | Export-TiffStack -Destination '{dir}'");
        AssertError(again, "OutputExists", ErrorCategory.ResourceExists);
        _session.RunOk($"{cut} | Export-TiffStack -Destination '{dir}' -Force -WarningAction SilentlyContinue");

        string stackDir = Paths.NewScratch("boss-stack");
        var stack = Assert.Single(_session.RunOk($"{cut} | Export-TiffStack -Destination '{stackDir}' -StackFileName all.tif"));
        Assert.Equal("all.tif", Path.GetFileName(((FileInfo)stack.BaseObject).FullName));
        Assert.Single(Directory.GetFiles(stackDir));
    }

    [Fact]
    public void NotFoundHasStableIdAndTarget()
    {
        var result = _session.Run($"Get-BossCutout lab small nope {Conn}");
        AssertError(result, "BossResourceNotFound", ErrorCategory.ObjectNotFound);
        Assert.Equal("lab/small/nope", result.FirstError!.TargetObject);
        Assert.Contains("Channel nope not found", result.FirstError.ToString());
    }

    [Fact]
    public void BadTokenIsAuthenticationErrorWithoutTheToken()
    {
        const string bad = "0000000000000000000000000000000000000bad";
        var result = _session.Run($"Get-BossCutout lab small seg -BaseUri $boss -Token ([System.Net.NetworkCredential]::new('', '{bad}').SecurePassword)");
        AssertError(result, "BossAuthenticationFailed", ErrorCategory.AuthenticationError);
        Assert.DoesNotContain(bad, result.FirstError!.ToString());
        Assert.DoesNotContain(bad, result.FirstError.TargetObject?.ToString() ?? "");
    }

    [Fact]
    public void TooLargeThrottledAndCorruptSurfaceFromTheReader()
    {
        string dir = Paths.NewScratch("boss-errors");
        string cut = $"Get-BossCutout lab small seg -ResolutionLevel 2 {Conn} -RequestTimeout 00:00:05";
        _server.CutoutLimitBytes = 1000;
        AssertError(_session.Run($"{cut} | Export-TiffStack -Destination '{dir}/a'"), "BossRequestTooLarge", ErrorCategory.LimitsExceeded);
        _server.CutoutLimitBytes = 520L << 20;

        _server.AddFault(new BossFaultRule { FailFirstAttempts = 1000, Kinds = new[] { BossFault.ThrottledForGood429 } });
        AssertError(_session.Run($"{cut} | Export-TiffStack -Destination '{dir}/b'"), "BossThrottled", ErrorCategory.QuotaExceeded);
        _server.ClearFaults();

        _server.AddFault(new BossFaultRule { FailFirstAttempts = 1000, Seed = 2, Kinds = new[] { BossFault.WrongNbytes } });
        var corrupt = _session.Run($"{cut} | Export-TiffStack -Destination '{dir}/c'");
        AssertError(corrupt, "BossPayloadCorrupt", ErrorCategory.InvalidData);
        // The first slab failed: no slice file and no temporary file is left behind.
        Assert.Empty(Directory.GetFiles(Path.Combine(dir, "c")));
    }

    [Fact]
    public void ChannelNamesComplete()
    {
        using var ps = PowerShell.Create();
        ps.Runspace = _session.Runspace;
        string line = $"Get-BossCutout -BaseUri {_server.BaseUri} -Collection lab -Experiment small -Channel s";
        Assert.Equal(new[] { "seg", "sparse" }, Complete(ps, line));

        string experiments = $"Get-BossChannel -BaseUri {_server.BaseUri} -Collection lab -Experiment ";
        Assert.Equal(new[] { "big", "offset", "small", "zbrain" }, Complete(ps, experiments));
    }

    /// <summary>
    /// Completes a line. The completer gives up after two seconds by design (a prompt must not hang), and
    /// the first answer of a fresh runspace can miss that on a machine busy with the other suites (CI saw
    /// it once); an empty answer is not cached, so a later try asks again. A completer that never answers
    /// still fails the test.
    /// </summary>
    private static string[] Complete(PowerShell ps, string line)
    {
        string[] matches = Array.Empty<string>();
        for (int attempt = 0; attempt < 4 && matches.Length == 0; attempt++)
        {
            matches = CommandCompletion.CompleteInput(line, line.Length, null, ps).CompletionMatches.Select(m => m.CompletionText).ToArray();
        }

        return matches;
    }

    [Fact]
    public void NoTokenTextInAnyStream()
    {
        _server.AddFault(new BossFaultRule { Probability = 0.3, Seed = 5, Kinds = new[] { BossFault.Html504, BossFault.Error500Text } });
        string dir = Paths.NewScratch("boss-streams");
        var result = _session.Run($"$DebugPreference = 'Continue'; $VerbosePreference = 'Continue'; Get-BossCutout lab small seg -ResolutionLevel 2 {Conn} -CacheDirectory '{Path.Combine(dir, "cache")}' -Verbose | Export-TiffStack -Destination '{dir}' -Verbose; Get-BossCutout lab small seg -ResolutionLevel 2 {Conn} | ConvertTo-CompressedSegmentation -Path '{Path.Combine(dir, "ds")}' -PlanPath '{Path.Combine(dir, "plans")}' | Out-Null; Get-BossCutout lab small nope {Conn}");
        List<string> texts = EveryText(result);
        Assert.Contains(texts, t => t.Contains("BOSS connection: " + _server.BaseUri.ToString().TrimEnd('/')));
        string[] written = Directory.GetFiles(dir, "*", SearchOption.AllDirectories);
        Assert.Contains(written, f => f.Contains(Path.DirectorySeparatorChar + "cache" + Path.DirectorySeparatorChar, StringComparison.Ordinal));
        string plans = Path.Combine(dir, "plans");
        Assert.True(File.Exists(plans) || Directory.EnumerateFiles(plans).Any(), "the saved plan (it records the BOSS source) is among the files checked");
        AssertNoTokenPiece(texts, written);
    }

    /// <summary>
    /// Every text a user could see or keep from a run: each stream, error records also as
    /// PSSerializer writes them (every property, nested), the terminating error, host text, output.
    /// </summary>
    private List<string> EveryText(RunResult result)
    {
        var streams = result.PowerShell.Streams;
        var texts = new List<string>();
        texts.AddRange(streams.Verbose.Select(v => v.Message));
        texts.AddRange(streams.Debug.Select(v => v.Message));
        texts.AddRange(streams.Warning.Select(v => v.Message));
        texts.AddRange(streams.Progress.Select(p => p.Activity + " " + p.StatusDescription + " " + p.CurrentOperation));
        texts.AddRange(streams.Error.Select(e => e.ToString() + " " + e.TargetObject + " " + e.Exception + " " + e.ErrorDetails?.Message));
        texts.AddRange(streams.Error.Select(e => System.Management.Automation.PSSerializer.Serialize(e, 4)));
        texts.AddRange(streams.Information.Select(i => i.ToString() ?? ""));
        if (result.Terminating is not null)
        {
            texts.Add(result.Terminating.ToString());
            texts.Add(System.Management.Automation.PSSerializer.Serialize(result.Terminating, 4));
        }

        texts.Add(_session.TakeHostText());
        texts.AddRange(result.Output.Select(o => o.ToString()));
        return texts;
    }

    /// <summary>No run of 6 or more of the token's characters in any text or file (issue 17), not only the whole token.</summary>
    private static void AssertNoTokenPiece(IEnumerable<string> texts, IEnumerable<string> files)
    {
        string[] pieces = Enumerable.Range(0, BossTestServer.ValidToken.Length - 5).Select(i => BossTestServer.ValidToken.Substring(i, 6)).ToArray();
        Assert.All(texts, t => Assert.DoesNotContain(pieces, p => t.Contains(p, StringComparison.Ordinal)));
        foreach (string file in files)
        {
            string content = File.ReadAllText(file, System.Text.Encoding.Latin1);
            Assert.DoesNotContain(pieces, p => content.Contains(p, StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData(BossFault.EchoToken500)]
    [InlineData(BossFault.EchoTokenRedirect)]
    public void ATokenTheServerEchoesReachesNoStreamAndNoFile(BossFault echo)
    {
        // Issue 17: the server repeats the token in its reason phrase, a long HTML body and a Location.
        _server.AddFault(new BossFaultRule { FailFirstAttempts = 100, Kinds = new[] { echo } });
        string dir = Paths.NewScratch("boss-echo");
        var result = _session.Run($"$DebugPreference = 'Continue'; $VerbosePreference = 'Continue'; Get-BossCutout lab small seg -ResolutionLevel 2 {Conn} -Verbose | Export-TiffStack -Destination '{dir}' -Verbose");
        var streams = result.PowerShell.Streams;
        Assert.NotEmpty(streams.Error.Concat(result.Terminating is null ? Array.Empty<ErrorRecord>() : new[] { ((System.Management.Automation.IContainsErrorRecord)result.Terminating).ErrorRecord }));
        List<string> texts = EveryText(result);
        string all = string.Join("\n", texts);
        Assert.Contains(echo == BossFault.EchoTokenRedirect ? "BossRedirected" : "500", all, StringComparison.Ordinal);
        AssertNoTokenPiece(texts, Directory.GetFiles(dir, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public void CmdletsDeclareOutputTypes()
    {
        foreach (string name in new[] { "Get-BossCutout", "Get-BossCollection", "Get-BossExperiment", "Get-BossChannel", "Get-BossCoordinateFrame", "Get-BossResolutionLevel", "Get-BossSegmentId", "Export-TiffStack" })
        {
            var info = Assert.Single(_session.RunOk($"Get-Command {name}"));
            var outputType = ((System.Collections.ObjectModel.ReadOnlyCollection<PSTypeName>)info.Properties["OutputType"].Value).Single();
            Assert.NotNull(outputType.Type);
        }
    }
}

public sealed class BossSettingsCmdletTests : IDisposable
{
    private readonly BossTestServer _server = new();
    private readonly ModuleSession _session = new();

    public void Dispose()
    {
        _session.Dispose();
        _server.Dispose();
    }

    [Fact]
    public void ConfigFileGivesHostAndToken()
    {
        string dir = Paths.NewScratch("boss-cfg");
        string cfg = Path.Combine(dir, "neurodata.cfg");
        File.WriteAllText(cfg, $"[Default]\nprotocol = http\nhost = 127.0.0.1:{_server.BaseUri.Port}\ntoken = {BossTestServer.ValidToken}\n");
        // "hidden" needs a real token: it only works if the file's token was sent.
        var result = _session.Run($"Get-BossCutout lab small hidden -ResolutionLevel 2 -ConfigFile '{cfg}' -Verbose");
        Assert.Null(result.FirstError);
        Assert.Single(result.Output);
        var verbose = result.PowerShell.Streams.Verbose.Select(v => v.Message).ToList();
        Assert.Contains(verbose, v => v.Contains("neurodata.cfg") && v.Contains("with a token"));
        Assert.All(verbose, v => Assert.DoesNotContain(BossTestServer.ValidToken, v));
        Assert.Contains(_server.Requests, r => r.AuthorizationKind == "valid");
    }

    [Fact]
    public void CredentialPasswordIsTheToken()
    {
        var result = _session.Run($"$c = [pscredential]::new('ignored', [System.Net.NetworkCredential]::new('', '{BossTestServer.ValidToken}').SecurePassword); Get-BossChannel lab small hidden -BaseUri {_server.BaseUri} -Credential $c");
        Assert.Null(result.FirstError);
        Assert.Equal("hidden", Assert.Single(result.Output).Properties["Name"].Value);
    }

    [Fact]
    public void MissingConfigFileIsPathNotFound()
    {
        var result = _session.Run("Get-BossCollection -ConfigFile /no/such/neurodata.cfg");
        Assert.NotNull(result.FirstError);
        Assert.StartsWith("PathNotFound,", result.FirstError!.FullyQualifiedErrorId);
    }

    [Fact]
    public void AnonymousBaseUriReadsPublicChannelsOnly()
    {
        var ok = _session.Run($"Get-BossCutout lab small em -ResolutionLevel 2 -BaseUri {_server.BaseUri}");
        Assert.Null(ok.FirstError);
        var denied = _session.Run($"Get-BossCutout lab small hidden -BaseUri {_server.BaseUri}");
        Assert.StartsWith("BossPermissionDenied,", denied.FirstError!.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.PermissionDenied, denied.FirstError.CategoryInfo.Category);
        Assert.All(_server.Requests, r => Assert.Null(r.AuthorizationKind));
    }
}

public sealed class BossStopTests : IDisposable
{
    private readonly BossTestServer _server = new() { SlowDelay = TimeSpan.FromSeconds(30) };
    private readonly ModuleSession _session = new();

    public void Dispose()
    {
        _session.Dispose();
        _server.Dispose();
    }

    [Fact]
    public void StopEndsAnExportPromptlyWithoutPartialFiles()
    {
        string dir = Paths.NewScratch("boss-stop");
        _server.AddFault(new BossFaultRule { FailFirstAttempts = 1000, Kinds = new[] { BossFault.SlowHeaders } });
        using var ps = PowerShell.Create();
        ps.Runspace = _session.Runspace;
        ps.AddScript($"Get-BossCutout lab small em -ResolutionLevel 1 -BaseUri {_server.BaseUri} | Export-TiffStack -Destination '{dir}'");
        IAsyncResult pending = ps.BeginInvoke();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (_server.CountCutouts() == 0 && clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            System.Threading.Thread.Sleep(20);
        }

        Assert.True(_server.CountCutouts() > 0, "no cutout request was made");
        clock.Restart();
        ps.Stop();
        Assert.Throws<PipelineStoppedException>(() => ps.EndInvoke(pending));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), "stopping took " + clock.Elapsed);
        Assert.Equal(PSInvocationState.Stopped, ps.InvocationStateInfo.State);
        Assert.Empty(Directory.GetFiles(dir, "*", SearchOption.AllDirectories));
    }
}
