using System.Linq;
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
    public void ALinkToALinkThatLeavesTheRootIsRefused()
    {
        if (System.OperatingSystem.IsWindows())
        {
            return;
        }

        // root/etc -> outside (refused when asked for directly); root/seg/p -> root/etc/passwd reads
        // as a path inside the root, but its directory is the link out of it.
        string parent = RepoPaths.NewScratch("local-link-chain");
        string root = Path.Combine(parent, "root");
        HandMadeDataset.Write(root, "seg");
        string outside = Path.Combine(parent, "outside");
        Directory.CreateDirectory(outside);
        File.WriteAllText(Path.Combine(outside, "passwd"), "root:x:0:0:root:/root:/bin/bash\n");
        File.WriteAllText(Path.Combine(root, "seg", ".secret"), "hidden");
        Directory.CreateSymbolicLink(Path.Combine(root, "etc"), outside);
        File.CreateSymbolicLink(Path.Combine(root, "seg", "p"), Path.Combine(root, "etc", "passwd"));
        File.CreateSymbolicLink(Path.Combine(root, "seg", "relative"), Path.Combine("..", "etc", "passwd"));
        File.CreateSymbolicLink(Path.Combine(root, "seg", "visible"), Path.Combine(root, "seg", ".secret"));
        File.CreateSymbolicLink(Path.Combine(root, "seg", "loop"), Path.Combine(root, "seg", "loop2"));
        File.CreateSymbolicLink(Path.Combine(root, "seg", "loop2"), Path.Combine(root, "seg", "loop"));
        using var server = new StaticFileServer(root);
        server.Start();
        Assert.Equal(403, RawHttp.Send(server.Port, "GET", "/etc/passwd").Status);
        Assert.Equal(403, RawHttp.Send(server.Port, "GET", "/seg/p").Status);
        Assert.True(RawHttp.Send(server.Port, "GET", "/seg/loop").Status is 403 or 404);
        Assert.Equal(403, RawHttp.Send(server.Port, "GET", "/seg/relative").Status);
        Assert.Equal(404, RawHttp.Send(server.Port, "GET", "/seg/visible").Status);
    }

    [Fact]
    public async Task NotGzipBytesAndCorruptGzipLeakNoDescriptorsOver50Requests()
    {
        if (!Directory.Exists("/proc/self/fd"))
        {
            return;
        }

        string root = RepoPaths.NewScratch("local-badgz-fd");
        Directory.CreateDirectory(Path.Combine(root, "s"));
        File.WriteAllBytes(Path.Combine(root, "s", "plain.gz"), new byte[] { 1, 2, 3, 4, 5 });
        byte[] corrupt = Gzip(new byte[4096]);
        System.Array.Fill(corrupt, (byte)0xFF, 12, corrupt.Length - 12); // a gzip head, then garbage
        File.WriteAllBytes(Path.Combine(root, "s", "corrupt.gz"), corrupt);
        using var server = new StaticFileServer(root);
        server.Start();
        using (var warm = new HttpClient())
        {
            await warm.GetAsync(server.Url + "/s/plain");
        }

        int before = Directory.GetFiles("/proc/self/fd").Length;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 50; i++)
        {
            using var client = new HttpClient(new HttpClientHandler { AutomaticDecompression = System.Net.DecompressionMethods.None }) { Timeout = System.TimeSpan.FromSeconds(10) };
            HttpResponseMessage plain = await client.GetAsync(server.Url + "/s/plain");
            Assert.Equal(new byte[] { 1, 2, 3, 4, 5 }, await plain.Content.ReadAsByteArrayAsync());
            await Assert.ThrowsAnyAsync<System.Exception>(async () => await (await client.GetAsync(server.Url + "/s/corrupt")).Content.ReadAsByteArrayAsync());
        }

        Assert.True(clock.Elapsed < System.TimeSpan.FromSeconds(20), $"100 requests took {clock.Elapsed}");
        await WaitUntilAsync(() => server.OpenConnections == 0);
        int after = Directory.GetFiles("/proc/self/fd").Length;
        System.Console.WriteLine($"descriptors before {before}, after 100 requests {after}, {clock.ElapsedMilliseconds} ms");
        Assert.True(after <= before + 5, $"descriptors before {before}, after {after}");
    }

    [Fact]
    public async Task SixHundredUnfinishedHeadsAtTheDefaultLimitAreCutOffAndTheServerStillServes()
    {
        string root = RepoPaths.NewScratch("local-600");
        HandMadeDataset.Write(root, "seg");
        using var server = new StaticFileServer(root) { HeaderTimeout = System.TimeSpan.FromSeconds(2) };
        Assert.Equal(512, server.MaxConnections);
        server.Start();
        int before = Directory.Exists("/proc/self/fd") ? Directory.GetFiles("/proc/self/fd").Length : 0;
        var clients = new System.Collections.Generic.List<System.Net.Sockets.TcpClient>();
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            for (int i = 0; i < 600; i++)
            {
                clients.Add(await OpenAsync(server.Port, "GET /seg/info HTTP/1.1\r\nHost: x\r\n"));
            }

            await WaitUntilAsync(() => server.OpenConnections == 512);
            int closed = 0;
            foreach (var client in clients)
            {
                string answer = ReadToEnd(client, System.TimeSpan.FromSeconds(10));
                Assert.True(answer.Length == 0 || answer.StartsWith("HTTP/1.1 503 ", System.StringComparison.Ordinal), answer);
                closed++;
            }

            Assert.Equal(600, closed);
            Assert.True(clock.Elapsed < System.TimeSpan.FromSeconds(15), $"cutting off took {clock.Elapsed}");
            await WaitUntilAsync(() => server.OpenConnections == 0);
            System.Console.WriteLine($"600 unfinished heads closed in {clock.ElapsedMilliseconds} ms");
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }

        using HttpClient http = HostingChecks.NewClient();
        Assert.True((await http.GetAsync(server.Url + "/seg/info")).IsSuccessStatusCode);
        if (before > 0)
        {
            int after = Directory.GetFiles("/proc/self/fd").Length;
            System.Console.WriteLine($"descriptors before {before}, after {after}");
            Assert.True(after <= before + 10, $"descriptors before {before}, after {after}");
        }
    }

    [Fact]
    public async Task ARangeOnAGzChunkIsNeverWrongBytes()
    {
        string root = RepoPaths.NewScratch("local-gz-range");
        Directory.CreateDirectory(Path.Combine(root, "s"));
        byte[] content = new byte[3000];
        new System.Random(5).NextBytes(content);
        byte[] stored = Gzip(content);
        File.WriteAllBytes(Path.Combine(root, "s", "0-8_0-8_0-8.gz"), stored);
        File.WriteAllBytes(Path.Combine(root, "s", "8-16_0-8_0-8.gz"), content); // not gzip: served as stored
        using var server = new StaticFileServer(root);
        server.Start();
        using var client = new HttpClient(new HttpClientHandler { AutomaticDecompression = System.Net.DecompressionMethods.None });

        // Accepting gzip: the stored bytes whole with Content-Encoding gzip (Range ignored), or exactly the range of the stored bytes.
        var gzipRequest = new HttpRequestMessage(HttpMethod.Get, server.Url + "/s/0-8_0-8_0-8");
        gzipRequest.Headers.AcceptEncoding.ParseAdd("gzip");
        gzipRequest.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(10, 19);
        HttpResponseMessage gz = await client.SendAsync(gzipRequest);
        Assert.Equal(new[] { "gzip" }, gz.Content.Headers.ContentEncoding);
        byte[] body = await gz.Content.ReadAsByteArrayAsync();
        if (gz.StatusCode == System.Net.HttpStatusCode.PartialContent)
        {
            Assert.Equal(stored[10..20], body);
        }
        else
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, gz.StatusCode);
            Assert.Equal(stored, body);
        }

        // Not accepting gzip: the inflated content, whole (a range of inflated bytes is not offered).
        var plainRequest = new HttpRequestMessage(HttpMethod.Get, server.Url + "/s/0-8_0-8_0-8");
        plainRequest.Headers.AcceptEncoding.ParseAdd("identity");
        plainRequest.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(10, 19);
        HttpResponseMessage plain = await client.SendAsync(plainRequest);
        Assert.Equal(System.Net.HttpStatusCode.OK, plain.StatusCode);
        Assert.Empty(plain.Content.Headers.ContentEncoding);
        Assert.Equal(content, await plain.Content.ReadAsByteArrayAsync());

        // A .gz whose bytes are not gzip is a stored file: the range is served from it.
        var storedRequest = new HttpRequestMessage(HttpMethod.Get, server.Url + "/s/8-16_0-8_0-8");
        storedRequest.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(10, 19);
        HttpResponseMessage asStored = await client.SendAsync(storedRequest);
        Assert.Equal(System.Net.HttpStatusCode.PartialContent, asStored.StatusCode);
        Assert.Equal(content[10..20], await asStored.Content.ReadAsByteArrayAsync());
    }

    private static byte[] Gzip(byte[] content)
    {
        using var output = new MemoryStream();
        using (var zip = new System.IO.Compression.GZipStream(output, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
        {
            zip.Write(content);
        }

        return output.ToArray();
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

    [Fact]
    public async Task SlowHeadsAreCutOffAndConnectionsBeyondTheLimitAreRefusedAtOnce()
    {
        string root = RepoPaths.NewScratch("local-slow");
        HandMadeDataset.Write(root, "seg");
        using var server = new StaticFileServer(root) { MaxConnections = 20, HeaderTimeout = System.TimeSpan.FromSeconds(1) };
        server.Start();
        var clients = new System.Collections.Generic.List<System.Net.Sockets.TcpClient>();
        try
        {
            // Twenty connections that never finish their heads, one of them trickling a byte at a time.
            for (int i = 0; i < 20; i++)
            {
                clients.Add(await OpenAsync(server.Port, "GET /seg/info HTTP/1.1\r\nHost: x\r\n"));
            }

            await WaitUntilAsync(() => server.OpenConnections == 20);
            var trickle = Task.Run(async () =>
            {
                var stream = clients[0].GetStream();
                for (int k = 0; k < 20; k++)
                {
                    await Task.Delay(150);
                    try
                    {
                        await stream.WriteAsync(new[] { (byte)'X' });
                    }
                    catch (IOException)
                    {
                        return k;
                    }
                }

                return 20;
            });

            // Ten more are answered 503 and closed at once, while the twenty are held.
            var clock = System.Diagnostics.Stopwatch.StartNew();
            for (int i = 0; i < 10; i++)
            {
                using var extra = await OpenAsync(server.Port, "GET /seg/info HTTP/1.1\r\nHost: x\r\n\r\n");
                string answer = ReadToEnd(extra, System.TimeSpan.FromSeconds(5));
                Assert.StartsWith("HTTP/1.1 503 ", answer, System.StringComparison.Ordinal);
            }

            Assert.True(clock.Elapsed < System.TimeSpan.FromSeconds(1), $"refusing took {clock.Elapsed}");
            Assert.True(server.OpenConnections <= 20);

            // Past the header timeout every slow connection is closed by the server, trickling or not.
            foreach (var client in clients)
            {
                Assert.Equal("", ReadToEnd(client, System.TimeSpan.FromSeconds(5)));
            }

            Assert.True(await trickle < 20, "the trickling client kept its connection");
            await WaitUntilAsync(() => server.OpenConnections == 0);

            using HttpClient http = HostingChecks.NewClient();
            Assert.True((await http.GetAsync(server.Url + "/seg/info")).IsSuccessStatusCode);
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task KeptAliveConnectionsServePipelinedRequestsInOrder()
    {
        string root = RepoPaths.NewScratch("local-pipeline");
        HandMadeDataset.Write(root, "seg");
        byte[] info = File.ReadAllBytes(Path.Combine(root, "seg", "info"));
        using var server = new StaticFileServer(root);
        server.Start();
        using var client = await OpenAsync(server.Port, "GET /seg/info HTTP/1.1\r\nHost: x\r\n\r\nHEAD /seg/info HTTP/1.1\r\nHost: x\r\n\r\nGET /seg/missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        string all = ReadToEnd(client, System.TimeSpan.FromSeconds(10));
        string[] heads = System.Text.RegularExpressions.Regex.Matches(all, "HTTP/1.1 (\\d+) ").Select(m => m.Groups[1].Value).ToArray();
        Assert.Equal(new[] { "200", "200", "404" }, heads);
        Assert.Contains("Content-Length: " + info.Length, all, System.StringComparison.Ordinal);
        Assert.Contains(System.Text.Encoding.UTF8.GetString(info), all, System.StringComparison.Ordinal);
        Assert.Equal(3, server.RequestCount);
    }

    [Theory]
    [InlineData("NONSENSE\r\n\r\n", "400")]
    [InlineData("GET /seg/info HTTP/1.1\r\nHost: x\r\n folded: header\r\n\r\n", "400")]
    [InlineData("GET /seg/info HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n", "431")]
    [InlineData("POST /seg/info HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", "405")]
    public async Task HeadsItCannotTakeAreAnsweredAndClosed(string request, string status)
    {
        string root = RepoPaths.NewScratch("local-badhead");
        HandMadeDataset.Write(root, "seg");
        using var server = new StaticFileServer(root);
        server.Start();
        using var client = await OpenAsync(server.Port, request.Replace("{big}", new string('a', 20000), System.StringComparison.Ordinal));
        string answer = ReadToEnd(client, System.TimeSpan.FromSeconds(5));
        Assert.StartsWith("HTTP/1.1 " + status + " ", answer, System.StringComparison.Ordinal);
        Assert.Contains("Connection: close", answer, System.StringComparison.Ordinal);
    }

    private static async Task<System.Net.Sockets.TcpClient> OpenAsync(int port, string text)
    {
        var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(System.Net.IPAddress.Loopback, port);
        await client.GetStream().WriteAsync(System.Text.Encoding.ASCII.GetBytes(text));
        return client;
    }

    /// <summary>Everything the server sends until it closes the connection ("" when it closes without a byte).</summary>
    private static string ReadToEnd(System.Net.Sockets.TcpClient client, System.TimeSpan timeout)
    {
        client.ReceiveTimeout = (int)timeout.TotalMilliseconds;
        var buffer = new MemoryStream();
        var chunk = new byte[8192];
        try
        {
            int n;
            while ((n = client.GetStream().Read(chunk, 0, chunk.Length)) > 0)
            {
                buffer.Write(chunk, 0, n);
            }
        }
        catch (IOException ex) when (ex.InnerException is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionReset })
        {
            // Closed with data unread: a reset is a close too.
        }

        return System.Text.Encoding.ASCII.GetString(buffer.ToArray());
    }

    private static async Task WaitUntilAsync(System.Func<bool> condition)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < System.TimeSpan.FromSeconds(10), "the condition never held");
            await Task.Delay(20);
        }
    }

    [Theory]
    [InlineData("gzip, deflate, br", true)]
    [InlineData("br;q=1, gzip;q=0", false)]
    [InlineData("*", true)]
    [InlineData("identity", false)]
    [InlineData(null, false)]
    public void ReadsAcceptEncoding(string? header, bool expected) => Assert.Equal(expected, StaticFileServer.AcceptsGzip(header));
}
