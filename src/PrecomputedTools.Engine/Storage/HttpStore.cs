using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Threading;
using System.Threading.Tasks;

namespace PrecomputedTools.Engine.Storage;

/// <summary>
/// A dataset served over http(s), read-only: GET for whole objects (gzip content encoding is
/// undone by the client), HTTP Range for parts of objects (the sharded format reads shard
/// indexes and minishards this way), HEAD for existence. It cannot list or write.
/// </summary>
public sealed class HttpStore : IObjectStore
{
    private readonly HttpClient _client;
    private readonly SemaphoreSlim _inFlight;
    private readonly string _base;
    private readonly RetryPolicy _retry = new(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10));
    private readonly int _maxAttempts;

    /// <param name="baseUrl">The dataset's URL.</param>
    /// <param name="maxInFlight">Requests in flight at once.</param>
    /// <param name="timeout">Time allowed per request.</param>
    /// <param name="maxAttempts">Attempts per request (the first included) when the server fails (5xx, 429), times out or cannot be reached.</param>
    public HttpStore(Uri baseUrl, int maxInFlight = 16, TimeSpan? timeout = null, int maxAttempts = 4)
    {
        _maxAttempts = Math.Max(1, maxAttempts);
        if (baseUrl.Scheme != Uri.UriSchemeHttp && baseUrl.Scheme != Uri.UriSchemeHttps)
        {
            throw new ArgumentException("An http or https URL is required.", nameof(baseUrl));
        }

        _base = baseUrl.ToString().TrimEnd('/');
#if NET
        var handler = new SocketsHttpHandler
        {
            AutomaticDecompression = DecompressionMethods.GZip | DecompressionMethods.Deflate,
            MaxConnectionsPerServer = Math.Max(2, maxInFlight),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        };
#else
        var handler = new HttpClientHandler
        {
            AutomaticDecompression = DecompressionMethods.GZip | DecompressionMethods.Deflate,
            MaxConnectionsPerServer = Math.Max(2, maxInFlight),
        };
#endif
        _client = new HttpClient(handler) { Timeout = timeout ?? TimeSpan.FromMinutes(2) };
        _inFlight = new SemaphoreSlim(Math.Max(1, maxInFlight));
    }

    public string Location => _base;

    public StoreKind Kind => StoreKind.Http;

    public bool CanWrite => false;

    public bool CanList => false;

    /// <summary>The URL of an object (each key segment escaped; ':' of manifests kept as the viewer sends it).</summary>
    public string UrlOf(string key) => _base + "/" + string.Join("/", key.Split('/').Select(s => Uri.EscapeDataString(s).Replace("%3A", ":")));

    public PooledBytes? Read(string key, int maxLength, CancellationToken cancellationToken = default)
    {
        string url = UrlOf(key);
        return Send(HttpMethod.Get, url, null, cancellationToken, response =>
        {
            using Stream body = response.Content.ReadAsStreamAsync().GetAwaiter().GetResult();
            try
            {
                return ObjectContent.ReadAll(body, gzip: false, maxLength, response.Content.Headers.ContentLength ?? 0, url);
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException)
            {
                throw new EngineException("HttpReadFailed", EngineErrorKind.ReadError, $"Reading {url} failed: {ExceptionText.Full(ex)}", url, ex);
            }
        });
    }

    public byte[]? ReadRange(string key, long offset, int length, CancellationToken cancellationToken = default)
    {
        if (length <= 0)
        {
            return Array.Empty<byte>();
        }

        string url = UrlOf(key);
        return Send(HttpMethod.Get, url, new RangeHeaderValue(offset, offset + length - 1), cancellationToken, response =>
        {
            byte[] body = response.Content.ReadAsByteArrayAsync().GetAwaiter().GetResult();
            if (response.StatusCode == HttpStatusCode.PartialContent)
            {
                return body;
            }

            // A server that ignores Range sends the whole object: take the part asked for.
            if (offset >= body.Length)
            {
                return Array.Empty<byte>();
            }

            return body.AsSpan((int)offset, (int)Math.Min(length, body.Length - offset)).ToArray();
        }, rangeNotSatisfiable: Array.Empty<byte>());
    }

    public StoredObject? Stat(string key, CancellationToken cancellationToken = default)
    {
        string url = UrlOf(key);
        return Send<StoredObject?>(HttpMethod.Head, url, null, cancellationToken, response =>
            new StoredObject(key, response.Content.Headers.ContentLength ?? -1, response.Content.Headers.ContentEncoding.Contains("gzip")));
    }

    public void Write(string key, ReadOnlySpan<byte> content, bool gzip, CancellationToken cancellationToken = default) => throw ReadOnly();

    public IObjectWriter OpenWrite(string key, bool gzip) => throw ReadOnly();

    public bool Delete(string key, CancellationToken cancellationToken = default) => throw ReadOnly();

    public IEnumerable<StoredObject> List(string prefix, CancellationToken cancellationToken = default) =>
        throw new EngineException("StoreCannotList", EngineErrorKind.NotSupported, $"{_base} is served over http(s), which cannot list its files.", _base);

    public int RemoveIncompleteWrites() => 0;

    public void Flush()
    {
    }

    public void Dispose()
    {
        _client.Dispose();
        _inFlight.Dispose();
    }

    public override string ToString() => _base;

    private EngineException ReadOnly() => new(
        "StoreIsReadOnly",
        EngineErrorKind.InvalidArgument,
        $"{_base} is an http(s) location, which is read-only; write to a folder or an s3:// location instead.",
        _base);

    /// <summary>A server error, throttling, a timeout or no connection: another attempt may succeed.</summary>
    private static bool IsTransient(HttpResponseMessage? response, Exception? exception) =>
        exception is HttpRequestException or OperationCanceledException
        || (response is not null && ((int)response.StatusCode >= 500 || (int)response.StatusCode == 429));

    private T? Send<T>(HttpMethod method, string url, RangeHeaderValue? range, CancellationToken cancellationToken, Func<HttpResponseMessage, T> read, T? rangeNotSatisfiable = default)
    {
        _inFlight.Wait(cancellationToken);
        try
        {
            HttpResponseMessage response;
            try
            {
                response = _retry.ExecuteAsync(
                    async token =>
                    {
                        using var request = new HttpRequestMessage(method, url);
                        request.Headers.Range = range;
                        if (range is not null)
                        {
                            // Ranges address the stored bytes: ask for them unencoded.
                            request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity"));
                        }

                        return await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token).ConfigureAwait(false);
                    },
                    attempt => attempt.Attempts < _maxAttempts && IsTransient(attempt.Result, attempt.Exception),
                    attempt => attempt.Result?.Dispose(),
                    cancellationToken,
                    response => response.Headers.RetryAfter?.Delta is TimeSpan asked && asked < TimeSpan.FromMinutes(1) ? asked : null).GetAwaiter().GetResult();
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new EngineException("HttpTimeout", EngineErrorKind.OperationTimeout, $"{method} {url} timed out after {_client.Timeout.TotalSeconds:N0} s.", url);
            }
            catch (HttpRequestException ex)
            {
                throw new EngineException("HttpUnreachable", EngineErrorKind.ConnectionError, $"{method} {url} failed: {ExceptionText.Full(ex)}", url, ex);
            }

            using (response)
            {
                switch (response.StatusCode)
                {
                    case HttpStatusCode.NotFound:
                    case HttpStatusCode.Gone:
                        return default;
                    case HttpStatusCode.RequestedRangeNotSatisfiable when range is not null:
                        return rangeNotSatisfiable;
                    case HttpStatusCode.Unauthorized:
                    case HttpStatusCode.Forbidden:
                        throw new EngineException("HttpAccessDenied", EngineErrorKind.PermissionDenied, $"{method} {url}: HTTP {(int)response.StatusCode} {response.ReasonPhrase}.", url);
                }

                if (!response.IsSuccessStatusCode)
                {
                    throw new EngineException("HttpReadFailed", EngineErrorKind.ReadError, $"{method} {url}: HTTP {(int)response.StatusCode} {response.ReasonPhrase}.", url);
                }

                return read(response);
            }
        }
        finally
        {
            _inFlight.Release();
        }
    }

}
