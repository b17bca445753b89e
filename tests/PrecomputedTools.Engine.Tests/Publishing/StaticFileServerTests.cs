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
    public void ParsesSingleRanges(string header, long length, long start, long end)
    {
        Assert.True(StaticFileServer.TryParseRange(header, length, out long s, out long e));
        Assert.Equal((start, end), (s, e));
    }

    [Theory]
    [InlineData("bytes=100-")]
    [InlineData("bytes=5-2")]
    [InlineData("bytes=0-1,4-5")]
    [InlineData("items=0-1")]
    public void RejectsUnsatisfiableRanges(string header) => Assert.False(StaticFileServer.TryParseRange(header, 100, out _, out _));

    [Theory]
    [InlineData("gzip, deflate, br", true)]
    [InlineData("br;q=1, gzip;q=0", false)]
    [InlineData("*", true)]
    [InlineData("identity", false)]
    [InlineData(null, false)]
    public void ReadsAcceptEncoding(string? header, bool expected) => Assert.Equal(expected, StaticFileServer.AcceptsGzip(header));
}
