using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using PrecomputedTools.Module.Tests;
using Xunit;
using Xunit.Abstractions;

namespace PrecomputedTools.Browser.Tests;

/// <summary>
/// A dataset written by neuroglancer's own encoder (tests/browser/make-fixture.mjs), independent of
/// the module: proves the viewer build, the driver and the decoder check, and shows that each hosting
/// mistake fails with a message naming its cause.
/// </summary>
public sealed class ReferenceFixture : IDisposable
{
    public ReferenceFixture()
    {
        Root = Paths.NewScratch("browser-fixture");
        Dataset = Path.Combine(Root, "fixture");
        Raw = Path.Combine(Root, "fixture.raw");
        NodeResult made = BrowserStage.RunNode("make-fixture.mjs", new[] { "--out", Dataset, "--raw", Raw }, TimeSpan.FromMinutes(2));
        Assert.True(made.ExitCode == 0, made.ToString());
        using JsonDocument doc = JsonDocument.Parse(made.Stdout.Trim().Split('\n').Last());
        Segments = doc.RootElement.GetProperty("segments").EnumerateArray().Select(e => e.GetString()!).ToList();
        Probes = doc.RootElement.GetProperty("probes").EnumerateArray().Select(p =>
        {
            int[] v = p.GetProperty("voxel").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            return new Probe(v[0], v[1], v[2], p.GetProperty("label").GetString()!);
        }).ToList();
    }

    public string Root { get; }

    public string Dataset { get; }

    public string Raw { get; }

    public IReadOnlyList<string> Segments { get; }

    public IReadOnlyList<Probe> Probes { get; }

    /// <summary>A private copy of the dataset to break.</summary>
    public string Copy(string name)
    {
        string target = Path.Combine(Paths.NewScratch("browser-" + name), "fixture");
        foreach (string file in Directory.EnumerateFiles(Dataset, "*", SearchOption.AllDirectories))
        {
            string dest = Path.Combine(target, Path.GetRelativePath(Dataset, file));
            Directory.CreateDirectory(Path.GetDirectoryName(dest)!);
            File.Copy(file, dest);
        }

        return target;
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

public sealed class ReferenceFixtureTests : IClassFixture<ReferenceFixture>
{
    private readonly ReferenceFixture _fixture;
    private readonly ITestOutputHelper _log;

    public ReferenceFixtureTests(ReferenceFixture fixture, ITestOutputHelper log)
    {
        _fixture = fixture;
        _log = log;
    }

    [Fact]
    public void DecodeCheck_AcceptsTheNeuroglancerEncodedFixture()
    {
        NodeResult r = Checks.Decode(_fixture.Dataset, _fixture.Raw, "uint64", "xyz", 0, _fixture.Segments, _log);
        Checks.AssertOk(r, "DECODE-CHECK");
        Assert.Contains("\"manifests\":3", r.Stdout);
        Assert.Contains("\"missingChunks\":13", r.Stdout); // the all-zero chunks the fixture skips
    }

    [Fact]
    public void DecodeCheck_NamesAChunkWithTheWrongVoxels()
    {
        string copy = _fixture.Copy("swapped-chunk");
        string scale = Path.Combine(copy, "8_8_40");
        File.Copy(Path.Combine(scale, "32-64_0-32_0-16.gz"), Path.Combine(scale, "0-32_0-32_0-16.gz"), overwrite: true);
        NodeResult r = Checks.Decode(copy, _fixture.Raw, "uint64", "xyz", 0, Array.Empty<string>(), _log);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(r.Lines("DECODE-CHECK FAIL"), l => l.Contains("0-32_0-32_0-16.gz: voxel (4, 6, 2) decodes to 0 but the source has 1", StringComparison.Ordinal));
    }

    [Fact]
    public void DecodeCheck_NamesBrokenMeshFiles()
    {
        string copy = _fixture.Copy("broken-mesh");
        string mesh = Path.Combine(copy, "mesh");
        using (FileStream f = File.OpenWrite(Path.Combine(mesh, "7.frag")))
        {
            f.SetLength(f.Length - 4);
        }

        File.WriteAllText(Path.Combine(mesh, "1:0"), "{\"fragments\":[1]}");
        NodeResult r = Checks.Decode(copy, _fixture.Raw, "uint64", "xyz", 0, new[] { "1", "7" }, _log);
        Assert.Equal(1, r.ExitCode);
        IReadOnlyList<string> fails = r.Lines("DECODE-CHECK FAIL");
        Assert.Contains(fails, l => l.Contains("7.frag: length 240 is not 4 + 12·8 + 12·triangles", StringComparison.Ordinal));
        Assert.Contains(fails, l => l.Contains("1:0: neuroglancer's manifest decoder threw: Error parsing \"fragments\" property: Expected string", StringComparison.Ordinal));
        Assert.Contains(fails, l => l.Contains("1.frag: fragment not referenced by any manifest", StringComparison.Ordinal));
    }

    [Fact]
    public void DecodeCheck_NamesGzipBytesUnderThePlainName()
    {
        string copy = _fixture.Copy("gzip-plain-name");
        string chunk = Path.Combine(copy, "8_8_40", "0-32_0-32_0-16");
        File.Move(chunk + ".gz", chunk);
        NodeResult r = Checks.Decode(copy, _fixture.Raw, "uint64", "xyz", 0, Array.Empty<string>(), _log);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(r.Lines("DECODE-CHECK FAIL"), l => l.Contains("gzip bytes stored under the plain name", StringComparison.Ordinal));
    }

    [Fact]
    public void ViewCheck_RendersTheFixtureFromTheReferenceServer()
    {
        NodeResult r = Checks.ViewReference("fixture-reference", _fixture.Root, _fixture.Dataset, _fixture.Segments, _fixture.Probes, "none", _log);
        Checks.AssertOk(r, "VIEW-CHECK");
        // Every probe was read under the mouse, including the id beyond 2^53.
        Assert.Contains("\"seen\":\"1152921504606846979\"", r.Stdout);
        Assert.True(File.Exists(Path.Combine(BrowserStage.Artifacts, "fixture-reference.png")));
        Assert.True(File.Exists(Path.Combine(BrowserStage.Artifacts, "fixture-reference-3d.png")));
    }

    /// <summary>One hosting mistake per failure cause the view check names (tests/browser/README.md), each named in the output.</summary>
    [Theory]
    [InlineData("no-content-encoding", "CONTENT-ENCODING MISSING", "byte length of Uint32Array should be a multiple of 4 (gzip bytes reached the decoder")]
    [InlineData("no-cors", "LAYER LOAD ERROR", "info request failed with net::ERR_FAILED: blocked: the response lacks the CORS header")]
    [InlineData("no-cors-chunks", "REQUEST FAILED", "net::ERR_FAILED (blocked: the response lacks the CORS header Access-Control-Allow-Origin)")]
    [InlineData("gzip-fragments", "CONTENT-ENCODING WRONG", "net::ERR_CONTENT_DECODING_FAILED (Content-Encoding: gzip on bytes that are not gzip)")]
    [InlineData("try-files", "HTTP 404 for chunk", "the server does not map X to X.gz")]
    public void ViewCheck_NamesTheCauseOfAHostingMistake(string fault, string signature, string cause)
    {
        // Two segments and one probe keep each negative case short.
        NodeResult r = Checks.ViewReference("fault-" + fault, _fixture.Root, _fixture.Dataset, _fixture.Segments.Take(2), _fixture.Probes.Take(1), fault, _log);
        Assert.True(r.ExitCode == 1, $"expected a failure for {fault}:\n{r}");
        IReadOnlyList<string> fails = r.Lines("VIEW-CHECK FAIL");
        Assert.Contains(fails, l => l.Contains(signature, StringComparison.Ordinal));
        Assert.Contains(fails, l => l.Contains(cause, StringComparison.Ordinal));
    }
}
