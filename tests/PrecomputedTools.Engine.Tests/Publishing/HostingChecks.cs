using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Threading.Tasks;
using PrecomputedTools.TestServers;
using Xunit;

namespace PrecomputedTools.Engine.Tests.Publishing;

/// <summary>The header and body checks of the served dataset (README, 'New-PrecomputedNginxConfig, Start-PrecomputedServer,
/// Stop-PrecomputedServer'), shared by the nginx and local-server tests.</summary>
internal static class HostingChecks
{
    public static HttpClient NewClient() => new(new HttpClientHandler { AutomaticDecompression = DecompressionMethods.None }) { Timeout = TimeSpan.FromSeconds(30) };

    public static async Task<HttpResponseMessage> GetAsync(HttpClient client, string url, bool acceptGzip, string method = "GET", string? range = null)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), url);
        request.Headers.TryAddWithoutValidation("Origin", "http://viewer.example");
        if (acceptGzip)
        {
            request.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip");
        }

        if (range is not null)
        {
            request.Headers.TryAddWithoutValidation("Range", range);
        }

        return await client.SendAsync(request);
    }

    public static string? Header(HttpResponseMessage response, string name)
    {
        if (response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values))
        {
            return string.Join(", ", values);
        }

        return null;
    }

    public static void AssertCors(HttpResponseMessage response, string what)
    {
        Assert.True(Header(response, "Access-Control-Allow-Origin") == "*", $"{what}: no Access-Control-Allow-Origin: * (status {(int)response.StatusCode})");
        string expose = Header(response, "Access-Control-Expose-Headers") ?? "";
        foreach (string h in new[] { "Content-Length", "Content-Range", "Content-Encoding", "ETag" })
        {
            Assert.Contains(h, expose);
        }
    }

    /// <summary>Every served name of the dataset, from a server that serves <paramref name="datasetUrl"/>.</summary>
    public static async Task AssertServesDatasetAsync(string datasetUrl, HandMadeDataset ds)
    {
        using HttpClient client = NewClient();
        foreach (var (key, _) in ds.Files)
        {
            string url = datasetUrl + "/" + key;
            using (HttpResponseMessage gz = await GetAsync(client, url, acceptGzip: true))
            {
                Assert.True(gz.StatusCode == HttpStatusCode.OK, $"{key}: {(int)gz.StatusCode}");
                AssertCors(gz, key);
                byte[] body = await gz.Content.ReadAsByteArrayAsync();
                if (ds.GzipKeys.Contains(key))
                {
                    Assert.Equal("gzip", Header(gz, "Content-Encoding"));
                    Assert.Equal(ds.StoredBytes(key), body);
                }
                else
                {
                    Assert.Null(Header(gz, "Content-Encoding"));
                    Assert.Equal(ds.StoredBytes(key), body);
                }

                string type = Header(gz, "Content-Type") ?? "";
                Assert.StartsWith(ds.JsonKeys.Contains(key) ? "application/json" : "application/octet-stream", type);
            }

            // A client that does not accept gzip gets the inflated bytes.
            using (HttpResponseMessage plain = await GetAsync(client, url, acceptGzip: false))
            {
                Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
                Assert.Null(Header(plain, "Content-Encoding"));
                Assert.Equal(ds.DecodedBytes(key), await plain.Content.ReadAsByteArrayAsync());
            }
        }

        // Missing chunk and missing manifest: 404 that still carries CORS.
        foreach (string missing in new[] { HandMadeDataset.ScaleKey + "/0-1_0-1_0-1", "mesh/99:0", "nothing/here" })
        {
            using HttpResponseMessage notFound = await GetAsync(client, datasetUrl + "/" + missing, acceptGzip: true);
            Assert.Equal(HttpStatusCode.NotFound, notFound.StatusCode);
            AssertCors(notFound, missing);
        }

        // The temp file is not data; the ".gz" name itself is never what the viewer asks for, and directories are not listed.
        foreach (string folder in new[] { "", "/", "/" + HandMadeDataset.ScaleKey + "/", "/mesh/" })
        {
            using HttpResponseMessage listing = await GetAsync(client, datasetUrl + folder, acceptGzip: true);
            Assert.NotEqual(HttpStatusCode.OK, listing.StatusCode);
            Assert.DoesNotContain("0-32_0-32_0-32", await listing.Content.ReadAsStringAsync());
        }

        // Preflight.
        using (HttpResponseMessage options = await GetAsync(client, datasetUrl + "/" + ds.FirstGzipChunk, acceptGzip: true, method: "OPTIONS"))
        {
            Assert.Equal(HttpStatusCode.NoContent, options.StatusCode);
            Assert.Equal("*", Header(options, "Access-Control-Allow-Origin"));
            Assert.Contains("GET", Header(options, "Access-Control-Allow-Methods") ?? "");
        }

        // Range on a plain file.
        using (HttpResponseMessage ranged = await GetAsync(client, datasetUrl + "/" + ds.PlainChunk, acceptGzip: true, range: "bytes=16-31"))
        {
            Assert.Equal(HttpStatusCode.PartialContent, ranged.StatusCode);
            Assert.Equal($"bytes 16-31/{ds.StoredBytes(ds.PlainChunk).Length}", Header(ranged, "Content-Range"));
            Assert.Equal(ds.StoredBytes(ds.PlainChunk).AsSpan(16, 16).ToArray(), await ranged.Content.ReadAsByteArrayAsync());
        }

        // HEAD carries the headers without a body.
        using (HttpResponseMessage head = await GetAsync(client, datasetUrl + "/" + ds.FirstGzipChunk, acceptGzip: true, method: "HEAD"))
        {
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
            Assert.Equal("gzip", Header(head, "Content-Encoding"));
            AssertCors(head, "HEAD");
        }

        // Writes are refused, with CORS.
        using (HttpResponseMessage post = await GetAsync(client, datasetUrl + "/info", acceptGzip: false, method: "POST"))
        {
            Assert.True((int)post.StatusCode is 403 or 405, $"POST gave {(int)post.StatusCode}");
            AssertCors(post, "POST");
        }
    }
}
