using System.IO;
using System.Net.Http;
using System.Threading.Tasks;
using PrecomputedTools.Engine.Publishing;
using PrecomputedTools.TestServers;
using Xunit;

namespace PrecomputedTools.Engine.Tests.Publishing;

public class StaticFileServerTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ServesTheDatasetWithTheSameSemanticsAsNginx(bool colonFree)
    {
        string root = RepoPaths.NewScratch("local-root");
        HandMadeDataset ds = HandMadeDataset.Write(root, "seg", colonFree);
        using var server = new StaticFileServer(root);
        server.Start();
        Assert.StartsWith("http://127.0.0.1:", server.Url);
        await HostingChecks.AssertServesDatasetAsync(server.Url + "/seg", ds);
        Assert.True(server.RequestCount > 20);
    }

    [Fact]
    public void RefusesEveryPathOutsideTheRoot()
    {
        string parent = RepoPaths.NewScratch("local-traversal");
        string root = Path.Combine(parent, "root");
        HandMadeDataset.Write(root, "seg");
        File.WriteAllText(Path.Combine(parent, "secret"), "secret");
        using var server = new StaticFileServer(root);
        server.Start();
        string[] attacks =
        {
            "/../secret", "/seg/../../secret", "/%2e%2e/secret", "/seg/%2E%2E/%2e%2e/secret", "/..%2fsecret", "/..%5csecret",
            "/seg/..\\..\\secret", "//..//secret", "/" + Path.Combine(parent, "secret").TrimStart('/').Replace("/", "/../../../../") ,
            "/%00/secret", "/seg/info%00",
        };
        foreach (string target in attacks)
        {
            var (status, headers) = RawHttp.Send(server.Port, "GET", target);
            Assert.True(status is 400 or 403 or 404, $"{target} gave {status}");
            Assert.DoesNotContain("Content-Length: 6\r", headers);
        }

        // Absolute paths and encoded absolute paths resolve inside the root (not found), never to the real file.
        foreach (string target in new[] { "/" + parent + "/secret", "/%2F" + parent.TrimStart('/') + "/secret", "http://127.0.0.1/../secret" })
        {
            var (status, _) = RawHttp.Send(server.Port, "GET", target);
            Assert.True(status is 400 or 403 or 404, $"{target} gave {status}");
        }

        Assert.Equal(200, RawHttp.Send(server.Port, "GET", "/seg/info").Status);
        Assert.Equal(403, RawHttp.Send(server.Port, "GET", "/seg/../../secret").Status);
    }

    [Fact]
    public async Task StopsListeningOnStop()
    {
        string root = RepoPaths.NewScratch("local-stop");
        HandMadeDataset.Write(root, "seg");
        var server = new StaticFileServer(root);
        server.Start();
        string url = server.Url + "/seg/info";
        using HttpClient client = HostingChecks.NewClient();
        Assert.True((await client.GetAsync(url)).IsSuccessStatusCode);
        server.Dispose();
        Assert.False(server.IsRunning);
        await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(url));
    }

    [Theory]
    [InlineData("bytes=0-9", 100, 0, 9)]
    [InlineData("bytes=90-", 100, 90, 99)]
    [InlineData("bytes=-10", 100, 90, 99)]
    [InlineData("bytes=50-500", 100, 50, 99)]
    [InlineData("bytes=10-99999999999999999999", 100, 10, 99)]
    public void ParsesSingleRanges(string header, long length, long start, long end)
    {
        Assert.Equal(StaticFileServer.RangeOutcome.Partial, StaticFileServer.ParseRange(header, length, out long s, out long e));
        Assert.Equal((start, end), (s, e));
    }

    [Theory]
    [InlineData("bytes=100-")]
    [InlineData("bytes=-0")]
    public void RefusesRangesThatStartPastTheEnd(string header) =>
        Assert.Equal(StaticFileServer.RangeOutcome.Unsatisfiable, StaticFileServer.ParseRange(header, 100, out _, out _));

    [Theory]
    [InlineData("bytes=5-2")]
    [InlineData("bytes=0-1,4-5")]
    [InlineData("items=0-1")]
    [InlineData("bytes=x-3")]
    public void IgnoresRangesItCannotServeAsOne(string header) =>
        Assert.Equal(StaticFileServer.RangeOutcome.Whole, StaticFileServer.ParseRange(header, 100, out _, out _));

    [Fact]
    public void ServesWholeFilesForRangesItIgnoresAndExactBytesForOne()
    {
        string root = RepoPaths.NewScratch("local-range");
        Directory.CreateDirectory(Path.Combine(root, "s"));
        File.WriteAllBytes(Path.Combine(root, "s", "0.shard"), new byte[1000]);
        using var server = new StaticFileServer(root);
        server.Start();
        Assert.Equal(200, RawHttp.Send(server.Port, "GET", "/s/0.shard", "Range: bytes=0-1,4-5\r\n").Status);
        var (status, headers) = RawHttp.Send(server.Port, "GET", "/s/0.shard", "Range: bytes=990-99999999999999999999\r\n");
        Assert.Equal(206, status);
        Assert.Contains("Content-Range: bytes 990-999/1000", headers);
        Assert.Equal(416, RawHttp.Send(server.Port, "GET", "/s/0.shard", "Range: bytes=1000-\r\n").Status);
    }

    [Fact]
    public void NeverServesTemporaryFilesOrDotfiles()
    {
        string root = RepoPaths.NewScratch("local-hidden");
        HandMadeDataset.Write(root, "seg");
        File.WriteAllText(Path.Combine(root, "seg", ".secret"), "x");
        Directory.CreateDirectory(Path.Combine(root, "seg", ".pt-mesh-journal"));
        File.WriteAllText(Path.Combine(root, "seg", ".pt-mesh-journal", "run.json"), "{}");
        File.WriteAllText(Path.Combine(root, "seg", "info.1-2.pt-tmp"), "{}");
        using var server = new StaticFileServer(root);
        server.Start();
        foreach (string target in new[] { "/seg/.secret", "/seg/.pt-mesh-journal/run.json", "/seg/info.1-2.pt-tmp" })
        {
            Assert.Equal(404, RawHttp.Send(server.Port, "GET", target).Status);
        }
    }

    [Fact]
    public void ALinkOutOfTheRootIsRefusedAndALinkInsideIsServedWhole()
    {
        if (System.OperatingSystem.IsWindows())
        {
            return; // creating links needs privileges there
        }

        string parent = RepoPaths.NewScratch("local-links");
        string root = Path.Combine(parent, "root");
        HandMadeDataset.Write(root, "seg");
        string outside = Path.Combine(parent, "outside");
        Directory.CreateDirectory(outside);
        File.WriteAllText(Path.Combine(outside, "passwd"), "root:x:0:0:root:/root:/bin/bash\n");
        Directory.CreateSymbolicLink(Path.Combine(root, "etc"), outside);
        File.CreateSymbolicLink(Path.Combine(root, "passwd-link"), Path.Combine(outside, "passwd"));
        byte[] chunk = new byte[5000];
        new System.Random(3).NextBytes(chunk);
        File.WriteAllBytes(Path.Combine(root, "seg", "data.bin"), chunk);
        File.CreateSymbolicLink(Path.Combine(root, "seg", "linked.bin"), Path.Combine(root, "seg", "data.bin"));

        using (var server = new StaticFileServer(root))
        {
            server.Start();
            Assert.Equal(403, RawHttp.Send(server.Port, "GET", "/etc/passwd").Status);
            Assert.Equal(403, RawHttp.Send(server.Port, "GET", "/passwd-link").Status);
            var (status, headers) = RawHttp.Send(server.Port, "GET", "/seg/linked.bin");
            Assert.Equal(200, status);
            Assert.Contains("Content-Length: 5000", headers);
        }

        using (var open = new StaticFileServer(root) { FollowLinksOutsideRoot = true })
        {
            open.Start();
            Assert.Equal(200, RawHttp.Send(open.Port, "GET", "/etc/passwd").Status);
        }
    }

    [Fact]
    public async Task AGzNameWithPlainBytesIsAnsweredPromptlyToAClientWithoutGzip()
    {
        string root = RepoPaths.NewScratch("local-badgz");
        Directory.CreateDirectory(Path.Combine(root, "s"));
        File.WriteAllBytes(Path.Combine(root, "s", "0-8_0-8_0-8.gz"), new byte[] { 1, 2, 3, 4, 5 });
        using var server = new StaticFileServer(root);
        server.Start();
        using var client = new HttpClient(new HttpClientHandler { AutomaticDecompression = System.Net.DecompressionMethods.None }) { Timeout = System.TimeSpan.FromSeconds(10) };
        client.DefaultRequestHeaders.AcceptEncoding.ParseAdd("identity");
        HttpResponseMessage response = await client.GetAsync(server.Url + "/s/0-8_0-8_0-8");
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Empty(response.Content.Headers.ContentEncoding);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5 }, await response.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("gzip, deflate, br", true)]
    [InlineData("br;q=1, gzip;q=0", false)]
    [InlineData("*", true)]
    [InlineData("identity", false)]
    [InlineData(null, false)]
    public void ReadsAcceptEncoding(string? header, bool expected) => Assert.Equal(expected, StaticFileServer.AcceptsGzip(header));
}
