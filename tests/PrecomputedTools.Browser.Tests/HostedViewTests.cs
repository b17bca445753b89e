#if HOSTS
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Security;
using PrecomputedTools.Module.Tests;
using PrecomputedTools.TestServers;
using Xunit;
using Xunit.Abstractions;

namespace PrecomputedTools.Browser.Tests;

/// <summary>
/// The module's output on the three hosts the module sets up, opened with the URL New-NeuroglancerUrl
/// prints: Start-PrecomputedServer; nginx with the New-PrecomputedNginxConfig server block; s3rver
/// after Publish-PrecomputedS3 -SetCors. (Compiled when tests/PrecomputedTools.TestServers/TestServers.cs exists:
/// it starts nginx and s3rver, installed by .ci/install-publish.sh.)
/// </summary>
[Collection(ModuleDatasetsCollection.Name)]
public sealed class HostedViewTests
{
    private readonly ModuleDatasets _datasets;
    private readonly ITestOutputHelper _log;

    public HostedViewTests(ModuleDatasets datasets, ITestOutputHelper log)
    {
        _datasets = datasets;
        _log = log;
    }

    public static IEnumerable<object[]> Cases() =>
        from host in new[] { "local", "nginx", "s3" }
        from dataset in new[] { "sample", "zbrain", "zbrain-sharded", "sample-multires", "zbrain-multires", "zbrain-multires-sharded" }
        select new object[] { host, dataset };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ViewCheck_ModuleOutputOnEachHost(string host, string dataset)
    {
        ModuleDataset ds = dataset switch
        {
            "sample" => _datasets.Sample,
            "zbrain-sharded" => _datasets.ZBrainSharded,
            "sample-multires" => _datasets.SampleMultiResolution ?? throw new InvalidOperationException("the module does not mesh"),
            "zbrain-multires" => _datasets.ZBrainMultiResolution ?? throw new InvalidOperationException("the module does not mesh"),
            "zbrain-multires-sharded" => _datasets.ZBrainMultiResolutionSharded ?? throw new InvalidOperationException("the module does not mesh"),
            _ => _datasets.ZBrain,
        };
        using var session = new ModuleSession();
        var vars = new Dictionary<string, object?>
        {
            ["ds"] = ds.Path,
            ["ids"] = ds.Segments.Select(ulong.Parse).ToArray(),
        };
        string url;
        var cleanup = new List<IDisposable>();
        try
        {
            switch (host)
            {
                case "local":
                    url = Link(session, "$global:srv = Start-PrecomputedServer -Path $ds -Port 0; $global:srv | New-NeuroglancerUrl -SegmentId $ids", vars);
                    cleanup.Add(new Disposer(() => session.RunOk("$global:srv | Stop-PrecomputedServer")));
                    break;
                case "nginx":
                {
                    int port = Ports.GetFree();
                    vars["port"] = port;
                    vars["location"] = "/data/" + ds.Name;
                    PSObject config = Assert.Single(session.RunOk(
                        "New-PrecomputedNginxConfig -Path $ds -ServerName localhost -ListenAddress 127.0.0.1 -Port $port -Location $location", vars));
                    cleanup.Add(NginxInstance.Start((string)config.Properties["Text"].Value, port));
                    vars["config"] = config;
                    url = Link(session, "New-NeuroglancerUrl -Source $config.Source -SegmentId $ids", vars);
                    break;
                }

                case "s3":
                {
                    S3rverInstance s3 = S3rverInstance.Start();
                    cleanup.Add(s3);
                    vars["endpoint"] = s3.Url;
                    vars["bucket"] = "browser-" + ds.Name;
                    vars["cred"] = S3rverCredential();
                    url = Link(session,
                        "Publish-PrecomputedS3 -Path $ds -BucketName $bucket -KeyPrefix ('v1/' + [IO.Path]::GetFileName($ds)) -EndpointUrl $endpoint -Credential $cred -SetCors -Confirm:$false | New-NeuroglancerUrl -SegmentId $ids", vars);
                    break;
                }

                default:
                    throw new ArgumentOutOfRangeException(nameof(host));
            }

            NodeResult r = Checks.ViewUrl($"{ds.Name}-{host}", url, ds.Path, ds.Probes, Array.Empty<string>(), _log);
            Checks.AssertOk(r, "VIEW-CHECK");
            foreach (Probe p in ds.Probes)
            {
                Assert.Contains($"\"expected\":\"{p.Label}\",\"seen\":\"{p.Label}\"", r.Stdout);
            }
        }
        finally
        {
            foreach (IDisposable d in Enumerable.Reverse(cleanup))
            {
                d.Dispose();
            }
        }
    }

    /// <summary>
    /// An EM image layer (jpeg chunks) under the segmentation, from the same host, with the link
    /// New-NeuroglancerUrl builds from both: both layers load with no chunk error, the 2-D panel shows
    /// the image (grey texture) tinted by the selected segments, and the probes still read the labels.
    /// </summary>
    [Theory]
    [InlineData("local")]
    [InlineData("nginx")]
    [InlineData("s3")]
    public void ViewCheck_EmImageUnderTheSegmentationOnEachHost(string host)
    {
        EmPair pair = _datasets.EmPair;
        ModuleDataset seg = pair.Segmentation;
        using var session = new ModuleSession();
        var vars = new Dictionary<string, object?>
        {
            ["root"] = pair.Root,
            ["seg"] = seg.Path,
            ["em"] = pair.ImagePath,
            ["ids"] = seg.Segments.Select(ulong.Parse).ToArray(),
        };
        string url;
        var cleanup = new List<IDisposable>();
        try
        {
            switch (host)
            {
                case "local":
                    url = Link(session, "$global:srv = Start-PrecomputedServer -Path $root -Port 0; $seg, $em | New-NeuroglancerUrl -SegmentId $ids", vars);
                    cleanup.Add(new Disposer(() => session.RunOk("$global:srv | Stop-PrecomputedServer")));
                    break;
                case "nginx":
                {
                    int port = Ports.GetFree();
                    vars["port"] = port;
                    PSObject config = Assert.Single(session.RunOk("New-PrecomputedNginxConfig -Path $root -ServerName localhost -ListenAddress 127.0.0.1 -Port $port -Location /data/pair", vars));
                    cleanup.Add(NginxInstance.Start((string)config.Properties["Text"].Value, port));
                    vars["config"] = config;
                    url = Link(session, "New-NeuroglancerUrl -Layer @{ Source = $config.Url + '/sample' }, @{ Source = $config.Url + '/sample-em'; Type = 'image' } -SegmentId $ids", vars);
                    break;
                }

                case "s3":
                {
                    S3rverInstance s3 = S3rverInstance.Start();
                    cleanup.Add(s3);
                    vars["endpoint"] = s3.Url;
                    vars["cred"] = S3rverCredential();
                    url = Link(session,
                        "$seg, $em | ForEach-Object { Publish-PrecomputedS3 -Path $_ -BucketName browser-em-pair -KeyPrefix ('v1/' + [IO.Path]::GetFileName($_)) -EndpointUrl $endpoint -Credential $cred -SetCors -Confirm:$false } | New-NeuroglancerUrl -SegmentId $ids", vars);
                    break;
                }

                default:
                    throw new ArgumentOutOfRangeException(nameof(host));
            }

            Assert.Contains(Uri.EscapeDataString("\"type\":\"image\""), url);
            NodeResult r = Checks.ViewUrl($"em-pair-{host}", url, seg.Path, seg.Probes, Array.Empty<string>(), _log, imageDataset: pair.ImagePath);
            Checks.AssertOk(r, "VIEW-CHECK");
            Assert.Contains("\"imageCounts\":{", r.Stdout);
            foreach (Probe p in seg.Probes)
            {
                Assert.Contains($"\"expected\":\"{p.Label}\",\"seen\":\"{p.Label}\"", r.Stdout);
            }
        }
        finally
        {
            foreach (IDisposable d in Enumerable.Reverse(cleanup))
            {
                d.Dispose();
            }
        }
    }

    /// <summary>The image check can fail: an image layer at opacity 0 loads every chunk but draws nothing.</summary>
    [Fact]
    public void ViewCheck_AnInvisibleImageLayerIsNamed()
    {
        EmPair pair = _datasets.EmPair;
        using var session = new ModuleSession();
        var vars = new Dictionary<string, object?> { ["root"] = pair.Root, ["seg"] = pair.Segmentation.Path, ["em"] = pair.ImagePath, ["ids"] = pair.Segmentation.Segments.Select(ulong.Parse).ToArray() };
        string url = Link(session, "$global:srv = Start-PrecomputedServer -Path $root -Port 0; New-NeuroglancerUrl -Layer @{ Dataset = $seg }, @{ Dataset = $em; Opacity = 0 } -SegmentId $ids", vars);
        try
        {
            NodeResult r = Checks.ViewUrl("em-pair-transparent", url, pair.Segmentation.Path, pair.Segmentation.Probes.Take(1), Array.Empty<string>(), _log, imageDataset: pair.ImagePath);
            Assert.True(r.ExitCode == 1, $"expected BLANK IMAGE LAYER:\n{r}");
            Assert.Contains(r.Lines("VIEW-CHECK FAIL"), l => l.Contains("BLANK IMAGE LAYER", StringComparison.Ordinal));
        }
        finally
        {
            session.RunOk("$global:srv | Stop-PrecomputedServer");
        }
    }

    /// <summary>
    /// The generated nginx block with one thing broken: the view check must fail and name the cause
    /// (the reference-server faults in <see cref="ReferenceFixtureTests"/> cover the other signatures).
    /// </summary>
    [Theory]
    [InlineData("add_header Access-Control-Allow-Origin   \"*\" always;", "", "LAYER LOAD ERROR", "blocked: the response lacks the CORS header")]
    [InlineData("gzip_static always;", "gzip_static off;", "HTTP 404 for chunk", "the server does not map X to X.gz")]
    public void ViewCheck_BrokenNginxConfigNamesTheCause(string line, string replacement, string signature, string cause)
    {
        ModuleDataset ds = _datasets.Sample;
        using var session = new ModuleSession();
        int port = Ports.GetFree();
        var vars = new Dictionary<string, object?> { ["ds"] = ds.Path, ["port"] = port, ["ids"] = ds.Segments.Select(ulong.Parse).ToArray() };
        PSObject config = Assert.Single(session.RunOk("New-PrecomputedNginxConfig -Path $ds -ServerName localhost -ListenAddress 127.0.0.1 -Port $port -Location /data/broken", vars));
        string text = (string)config.Properties["Text"].Value;
        Assert.Contains(line, text);
        using NginxInstance nginx = NginxInstance.Start(text.Replace(line, replacement, StringComparison.Ordinal), port);
        vars["config"] = config;
        string url = Link(session, "New-NeuroglancerUrl -Source $config.Source -SegmentId $ids", vars);
        NodeResult r = Checks.ViewUrl("sample-nginx-broken", url, ds.Path, ds.Probes.Take(1), Array.Empty<string>(), _log);
        Assert.True(r.ExitCode == 1, $"expected a failure with \"{line}\" replaced by \"{replacement}\":\n{r}");
        IReadOnlyList<string> fails = r.Lines("VIEW-CHECK FAIL");
        Assert.Contains(fails, l => l.Contains(signature, StringComparison.Ordinal));
        Assert.Contains(fails, l => l.Contains(cause, StringComparison.Ordinal));
    }

    private static string Link(ModuleSession session, string script, Dictionary<string, object?> vars)
    {
        PSObject link = Assert.Single(session.RunOk(script, vars));
        string url = (string)link.Properties["Url"].Value;
        Assert.Contains("#!", url);
        return url;
    }

    private static PSCredential S3rverCredential()
    {
        var secret = new SecureString();
        foreach (char c in S3rverInstance.SecretKey)
        {
            secret.AppendChar(c);
        }

        secret.MakeReadOnly();
        return new PSCredential(S3rverInstance.AccessKey, secret);
    }

    private sealed class Disposer(Action action) : IDisposable
    {
        public void Dispose() => action();
    }
}
#endif
