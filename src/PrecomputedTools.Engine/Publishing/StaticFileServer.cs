using System;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine.Storage;

namespace PrecomputedTools.Engine.Publishing;

/// <summary>
/// A small static HTTP server with the semantics of the generated nginx block (<see cref="NginxConfig"/>): CORS on
/// every response (404 included), "X.gz" served for "X" with Content-Encoding: gzip (inflated for
/// clients that do not accept gzip), JSON type for info files and manifests, "&lt;id&gt;:0" mapped to a
/// colon-free "&lt;id&gt;.json", Range on plain files, GET/HEAD/OPTIONS only, no listing, and no path
/// outside the root. Loopback by default. HTTP/1.1 is spoken over sockets here (not HttpListener, whose
/// managed implementation has no header timeout and no connection limit): see <see cref="HttpConnection"/>.
/// </summary>
public sealed class StaticFileServer : IDisposable
{
    private const string ExposeHeaders = "Content-Length, Content-Range, Content-Encoding, ETag";
    private readonly string _root;
    private readonly CancellationTokenSource _stop = new();
    private readonly string? _realRoot; // the root with its links resolved, once: every request is checked against it
    private readonly System.Collections.Concurrent.ConcurrentDictionary<HttpConnection, byte> _open = new();
    private TcpListener? _listener;
    private Task? _acceptLoop;
    private long _requests;
    private int _connections;
    private int _stopped;

    public StaticFileServer(string root, string bindAddress = "127.0.0.1", int port = 0)
    {
        _root = Path.GetFullPath(root).TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
        _realRoot = RealPath(_root);
        if (!Directory.Exists(_root))
        {
            throw new EngineException("ServerRootNotFound", EngineErrorKind.ObjectNotFound, $"The folder '{root}' does not exist.", root);
        }

        BindAddress = string.IsNullOrWhiteSpace(bindAddress) ? "127.0.0.1" : bindAddress.Trim();
        Port = port;
    }

    /// <summary>The folder served at "/".</summary>
    public string Root => _root;

    /// <summary>Serve files whose links lead outside the root (off by default: a link to /etc must not publish it).</summary>
    public bool FollowLinksOutsideRoot { get; set; }

    public string BindAddress { get; }

    /// <summary>The port (chosen at <see cref="Start"/> when 0 was given).</summary>
    public int Port { get; private set; }

    /// <summary>
    /// Connections served at once (nginx's worker_connections is 512 too); one more is answered 503
    /// and closed at once, so a flood of idle connections cannot exhaust the process's descriptors.
    /// </summary>
    public int MaxConnections { get; set; } = 512;

    /// <summary>Time from a connection's first byte (or its accept) to the end of a request head, like nginx's client_header_timeout.</summary>
    public TimeSpan HeaderTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Time a kept-alive connection may wait for its next request, or a response write may wait for the client to read.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Connections open now (for tests and diagnostics).</summary>
    public int OpenConnections => Volatile.Read(ref _connections);

    /// <summary>"http://127.0.0.1:8080" (no trailing slash); a wildcard bind reports 127.0.0.1.</summary>
    public string Url
    {
        get
        {
            string host = BindAddress is "0.0.0.0" or "*" or "+" or "::" ? "127.0.0.1" : BindAddress;
            if (host.IndexOf(':') >= 0)
            {
                host = "[" + host + "]";
            }

            return "http://" + host + ":" + Port.ToString(CultureInfo.InvariantCulture);
        }
    }

    public bool IsRunning => _listener is not null && Volatile.Read(ref _stopped) == 0;

    public long RequestCount => Interlocked.Read(ref _requests);

    public void Start()
    {
        IPAddress address = BindAddress switch
        {
            "0.0.0.0" or "*" or "+" => IPAddress.Any,
            "::" => IPAddress.IPv6Any,
            _ when IPAddress.TryParse(BindAddress, out IPAddress? parsed) => parsed,
            _ => ResolveHost(BindAddress),
        };
        var listener = new TcpListener(address, Port);
        try
        {
            listener.Start(backlog: 512);
        }
        catch (SocketException ex)
        {
            throw new EngineException("ServerStartFailed", EngineErrorKind.ResourceExists, $"Cannot listen on {Url}: {ex.Message}", Url, ex, "Choose another -Port.");
        }

        Port = ((IPEndPoint)listener.LocalEndpoint).Port;
        _listener = listener;
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    public void Stop()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        _stop.Cancel();
        _listener?.Stop();
        foreach (HttpConnection connection in _open.Keys)
        {
            connection.Close(); // kept-alive connections would otherwise go on serving
        }

        try
        {
            _acceptLoop?.Wait(2000);
        }
        catch (AggregateException)
        {
            // The accept loop ends with the listener's disposal exception; nothing to report after a stop.
        }
    }

    public void Dispose()
    {
        Stop();
        _stop.Dispose();
    }

    private IPAddress ResolveHost(string host)
    {
        try
        {
            IPAddress[] addresses = Dns.GetHostAddresses(host);
            return Array.Find(addresses, a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses[0];
        }
        catch (Exception ex) when (ex is SocketException or ArgumentException or IndexOutOfRangeException)
        {
            throw new EngineException("ServerStartFailed", EngineErrorKind.InvalidArgument, $"Cannot listen on '{host}': it is not an address of this machine.", host, ex);
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener!.AcceptTcpClientAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or InvalidOperationException)
            {
                if (_stop.IsCancellationRequested)
                {
                    return;
                }

                continue; // a connection reset before it was accepted
            }

            if (Interlocked.Increment(ref _connections) > MaxConnections)
            {
                Interlocked.Decrement(ref _connections);
                _ = RefuseAsync(client);
                continue;
            }

            _ = Task.Run(() => ServeConnectionAsync(client));
        }
    }

    private async Task RefuseAsync(TcpClient client)
    {
        using var connection = new HttpConnection(client, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        await connection.SendBareAsync(503, "Service Unavailable").ConfigureAwait(false);
    }

    private async Task ServeConnectionAsync(TcpClient client)
    {
        using var connection = new HttpConnection(client, HeaderTimeout, IdleTimeout);
        _open[connection] = 0;
        if (_stop.IsCancellationRequested)
        {
            connection.Close();
        }

        try
        {
            for (bool first = true; !_stop.IsCancellationRequested; first = false)
            {
                HttpRequestHead? request = await connection.ReadRequestAsync(first).ConfigureAwait(false);
                if (request is null)
                {
                    return;
                }

                Interlocked.Increment(ref _requests);
                // A request body is not read: answer, then close, instead of parsing what follows.
                var response = new HttpResponse(connection, request.HttpMethod == "HEAD", request.KeepAlive && !request.HasBody && !_stop.IsCancellationRequested);
                await ServeAsync(request, response).ConfigureAwait(false);
                if (response.Aborted)
                {
                    return;
                }

                await response.CompleteAsync().ConfigureAwait(false);
                if (!response.KeepAlive)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException)
        {
            // The client went away, or a deadline closed the connection; there is no one left to tell.
        }
        finally
        {
            _open.TryRemove(connection, out _);
            Interlocked.Decrement(ref _connections);
        }
    }

    private async Task ServeAsync(HttpRequestHead request, HttpResponse response)
    {
        response.Headers["Access-Control-Allow-Origin"] = "*";
        response.Headers["Access-Control-Expose-Headers"] = ExposeHeaders;
        response.Headers["Cache-Control"] = "public, max-age=300";
        string method = request.HttpMethod;
        if (method == "OPTIONS")
        {
            response.Headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS";
            response.Headers["Access-Control-Allow-Headers"] = "Range, If-None-Match, If-Modified-Since, Cache-Control";
            response.Headers["Access-Control-Max-Age"] = "86400";
            response.StatusCode = 204;
            return;
        }

        if (method != "GET" && method != "HEAD")
        {
            response.Headers["Allow"] = "GET, HEAD, OPTIONS";
            await WriteStatusAsync(response, 405, method == "HEAD").ConfigureAwait(false);
            return;
        }

        bool head = method == "HEAD";
        ResolvedFile resolved = Resolve(_root, request.RawUrl ?? "/", FollowLinksOutsideRoot, _realRoot);
        if (resolved.Status != 200)
        {
            await WriteStatusAsync(response, resolved.Status, head).ConfigureAwait(false);
            return;
        }

        var file = new FileInfo(resolved.Path!);
        string etag = "\"" + file.LastWriteTimeUtc.Ticks.ToString("x", CultureInfo.InvariantCulture) + "-" + file.Length.ToString("x", CultureInfo.InvariantCulture) + "\"";
        response.ContentType = resolved.ContentType;
        response.Headers["ETag"] = etag;
        response.Headers["Last-Modified"] = file.LastWriteTimeUtc.ToString("R", CultureInfo.InvariantCulture);
        if (resolved.Gzip)
        {
            response.Headers["Vary"] = "Accept-Encoding";
        }

        if (request["If-None-Match"] is { } match && match.Trim() == etag)
        {
            response.StatusCode = 304;
            return;
        }

        // A ".gz" file whose bytes are not gzip is served as stored, like Publish-PrecomputedS3
        // publishes it: inflating it would fail after the headers and leave the client hanging.
        if (resolved.Gzip && !PublishRules.FileIsGzip(file.FullName))
        {
            resolved = new ResolvedFile(200, resolved.Path, resolved.ContentType, gzip: false);
        }

        if (resolved.Gzip)
        {
            if (AcceptsGzip(request["Accept-Encoding"]))
            {
                response.Headers["Content-Encoding"] = "gzip";
                await SendFileAsync(response, file, 0, file.Length, head).ConfigureAwait(false);
            }
            else
            {
                // Inflate for the client, like nginx's gunzip; the length is unknown up front.
                response.StatusCode = 200;
                if (!head)
                {
                    using var source = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, useAsync: true);
                    using var inflate = new GZipStream(source, CompressionMode.Decompress);
                    try
                    {
                        byte[] buffer = new byte[81920];
                        int n;
                        while ((n = await inflate.ReadAsync(buffer, 0, buffer.Length).ConfigureAwait(false)) > 0)
                        {
                            await response.WriteAsync(buffer, 0, n).ConfigureAwait(false);
                        }
                    }
                    catch (Exception ex) when (ObjectContent.IsCorruptCompressedData(ex))
                    {
                        // Corrupt past its header: the status is sent, so only closing tells the client.
                        response.Abort();
                        return;
                    }
                }
            }

            return;
        }

        response.Headers["Accept-Ranges"] = "bytes";
        if (request["Range"] is { } range)
        {
            RangeOutcome outcome = ParseRange(range, file.Length, out long start, out long end);
            if (outcome == RangeOutcome.Unsatisfiable)
            {
                response.Headers["Content-Range"] = "bytes */" + file.Length.ToString(CultureInfo.InvariantCulture);
                await WriteStatusAsync(response, 416, head).ConfigureAwait(false);
                return;
            }

            if (outcome == RangeOutcome.Whole)
            {
                // What cannot be served as one range (several, or malformed) gets the whole file (RFC 9110 §14.2).
                await SendFileAsync(response, file, 0, file.Length, head).ConfigureAwait(false);
                return;
            }

            response.StatusCode = 206;
            response.Headers["Content-Range"] = string.Format(CultureInfo.InvariantCulture, "bytes {0}-{1}/{2}", start, end, file.Length);
            await SendFileAsync(response, file, start, end - start + 1, head).ConfigureAwait(false);
            return;
        }

        await SendFileAsync(response, file, 0, file.Length, head).ConfigureAwait(false);
    }

    private static async Task SendFileAsync(HttpResponse response, FileInfo file, long offset, long length, bool head)
    {
        if (response.StatusCode != 206)
        {
            response.StatusCode = 200;
        }

        response.ContentLength64 = length;
        if (head || length == 0)
        {
            return;
        }

        using var stream = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, useAsync: true);
        stream.Position = offset;
        byte[] buffer = new byte[(int)Math.Min(81920, Math.Max(1, length))];
        long left = length;
        while (left > 0)
        {
            int n = await stream.ReadAsync(buffer, 0, (int)Math.Min(buffer.Length, left)).ConfigureAwait(false);
            if (n == 0)
            {
                throw new IOException($"'{file.FullName}' became shorter while it was being sent.");
            }

            await response.WriteAsync(buffer, 0, n).ConfigureAwait(false);
            left -= n;
        }
    }

    private static async Task WriteStatusAsync(HttpResponse response, int status, bool head)
    {
        response.StatusCode = status;
        response.ContentType = "text/plain; charset=utf-8";
        byte[] body = System.Text.Encoding.UTF8.GetBytes(status.ToString(CultureInfo.InvariantCulture) + " " + HttpResponse.ReasonPhrase(status) + "\n");
        response.ContentLength64 = body.Length;
        if (!head)
        {
            await response.WriteAsync(body, 0, body.Length).ConfigureAwait(false);
        }
    }

    internal static bool AcceptsGzip(string? acceptEncoding)
    {
        if (string.IsNullOrEmpty(acceptEncoding))
        {
            return false;
        }

        foreach (string part in acceptEncoding!.Split(','))
        {
            string[] pieces = part.Split(';');
            string coding = pieces[0].Trim();
            if (!coding.Equals("gzip", StringComparison.OrdinalIgnoreCase) && coding != "*")
            {
                continue;
            }

            bool refused = false;
            for (int i = 1; i < pieces.Length; i++)
            {
                string p = pieces[i].Trim();
                if (p.StartsWith("q=", StringComparison.OrdinalIgnoreCase)
                    && double.TryParse(p.Substring(2), NumberStyles.Float, CultureInfo.InvariantCulture, out double q) && q <= 0)
                {
                    refused = true;
                }
            }

            return !refused;
        }

        return false;
    }

    /// <summary>Parses a single "bytes=a-b", "bytes=a-" or "bytes=-n" range; false when unsatisfiable or malformed.</summary>
    /// <summary>What a Range header asks for.</summary>
    internal enum RangeOutcome
    {
        /// <summary>No single range this server serves (several ranges, another unit, malformed): send the whole file.</summary>
        Whole,

        /// <summary>One satisfiable range, [start, end].</summary>
        Partial,

        /// <summary>A well-formed range that starts past the end: 416.</summary>
        Unsatisfiable,
    }

    internal static RangeOutcome ParseRange(string header, long length, out long start, out long end)
    {
        start = end = 0;
        string h = header.Trim();
        if (!h.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase) || h.IndexOf(',') >= 0 || length == 0)
        {
            return RangeOutcome.Whole;
        }

        string spec = h.Substring(6).Trim();
        int dash = spec.IndexOf('-');
        if (dash < 0)
        {
            return RangeOutcome.Whole;
        }

        string a = spec.Substring(0, dash).Trim();
        string b = spec.Substring(dash + 1).Trim();
        if (a.Length == 0)
        {
            if (!TryParsePosition(b, out long suffix))
            {
                return RangeOutcome.Whole;
            }

            if (suffix == 0)
            {
                return RangeOutcome.Unsatisfiable;
            }

            start = Math.Max(0, length - suffix);
            end = length - 1;
            return RangeOutcome.Partial;
        }

        if (!TryParsePosition(a, out start))
        {
            return RangeOutcome.Whole;
        }

        if (b.Length == 0)
        {
            end = length - 1;
        }
        else if (!TryParsePosition(b, out end) || end < start)
        {
            return RangeOutcome.Whole;
        }

        if (start >= length)
        {
            return RangeOutcome.Unsatisfiable;
        }

        end = Math.Min(end, length - 1);
        return RangeOutcome.Partial;
    }

    // Digits only; a position past long.MaxValue (a 20-digit end) is as good as "to the end".
    private static bool TryParsePosition(string text, out long value)
    {
        value = 0;
        if (text.Length == 0 || text.Any(c => c < '0' || c > '9'))
        {
            return false;
        }

        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value))
        {
            value = long.MaxValue;
        }

        return true;
    }

    /// <summary>The outcome of mapping a request path to a file.</summary>
    internal readonly struct ResolvedFile
    {
        public ResolvedFile(int status, string? path = null, string contentType = "", bool gzip = false)
        {
            Status = status;
            Path = path;
            ContentType = contentType;
            Gzip = gzip;
        }

        public int Status { get; }

        public string? Path { get; }

        public string ContentType { get; }

        public bool Gzip { get; }
    }

    /// <summary>
    /// Maps a raw request target to a file under <paramref name="root"/>: 400 for malformed targets,
    /// 403 for anything that would leave the root ("..", absolute or drive paths, encoded
    /// traversal, backslashes, NUL), 404 for directories and missing files.
    /// </summary>
    internal static ResolvedFile Resolve(string root, string rawTarget, bool followLinksOutsideRoot = false, string? realRoot = null)
    {
        string target = rawTarget;
        int cut = target.IndexOfAny(new[] { '?', '#' });
        if (cut >= 0)
        {
            target = target.Substring(0, cut);
        }

        if (target.Length == 0 || target[0] != '/')
        {
            return new ResolvedFile(400);
        }

        string decoded;
        try
        {
            decoded = Uri.UnescapeDataString(target);
        }
        catch (UriFormatException)
        {
            return new ResolvedFile(400);
        }

        if (decoded.IndexOf('\0') >= 0 || decoded.IndexOf('\\') >= 0)
        {
            return new ResolvedFile(403);
        }

        string[] segments = decoded.Split(new[] { '/' }, StringSplitOptions.RemoveEmptyEntries);
        foreach (string segment in segments)
        {
            // Dotfiles (bookkeeping such as an interrupted mesh run's journal) and temporary files of
            // writes in progress are not part of any dataset.
            if (segment.StartsWith(".", StringComparison.Ordinal) && segment != "." && segment != "..")
            {
                return new ResolvedFile(404);
            }

            if (segment == "." || segment == ".." || System.IO.Path.IsPathRooted(segment) || (segment.Length >= 2 && segment[1] == ':' && char.IsLetter(segment[0]) && !char.IsDigit(segment[0])))
            {
                return new ResolvedFile(403);
            }
        }

        if (segments.Length == 0)
        {
            return new ResolvedFile(404);
        }

        string relative = string.Join(System.IO.Path.DirectorySeparatorChar.ToString(), segments);
        string full = System.IO.Path.GetFullPath(System.IO.Path.Combine(root, relative));
        if (!full.StartsWith(root + System.IO.Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            return new ResolvedFile(403);
        }

        string name = segments[segments.Length - 1];
        if (AtomicFile.IsTempFile(name))
        {
            return new ResolvedFile(404);
        }

        ResolvedFile found = Find(full, name);
        if (found.Status != 200)
        {
            return found;
        }

        // Links are followed to the file itself (its real length), but not out of the root.
        string? real = RealPath(found.Path!);
        realRoot ??= RealPath(root);
        if (real is null || realRoot is null)
        {
            return new ResolvedFile(403);
        }

        bool inside = real.StartsWith(realRoot + System.IO.Path.DirectorySeparatorChar, StringComparison.Ordinal);
        if (!followLinksOutsideRoot && !inside)
        {
            return new ResolvedFile(403);
        }

        // A link does not make a dotfile or a write in progress servable: the same rule holds for where it leads.
        string[] realSegments = inside
            ? real.Substring(realRoot.Length + 1).Split(System.IO.Path.DirectorySeparatorChar)
            : new[] { System.IO.Path.GetFileName(real) };
        if (realSegments.Any(s => s.StartsWith(".", StringComparison.Ordinal)) || AtomicFile.IsTempFile(real))
        {
            return new ResolvedFile(404);
        }

        return new ResolvedFile(200, real, found.ContentType, found.Gzip);
    }

    private static ResolvedFile Find(string full, string name)
    {
        string type = ContentTypeFor(name);
        if (File.Exists(full))
        {
            return new ResolvedFile(200, full, type);
        }

        if (Directory.Exists(full))
        {
            return new ResolvedFile(404);
        }

        if (File.Exists(full + PublishRules.GzipSuffix))
        {
            return new ResolvedFile(200, full + PublishRules.GzipSuffix, type, gzip: true);
        }

        if (PublishRules.ColonFreeNameFromManifest(name) is { } colonFree)
        {
            string mapped = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(full)!, colonFree);
            if (File.Exists(mapped))
            {
                return new ResolvedFile(200, mapped, PublishRules.JsonType);
            }
        }

        return new ResolvedFile(404);
    }

    /// <summary>The path with every link along it resolved; null when a link is broken (or, without link support, when there is one).</summary>
    internal static string? RealPath(string path) => RealPath(path, 0);

    // Like POSIX realpath(3): a link's target is itself resolved component by component (a target
    // inside the root may pass through another link that leaves it); at most 40 links, as Linux's
    // MAXSYMLINKS, so a loop ends as a broken link.
    private static string? RealPath(string path, int links)
    {
        string full = System.IO.Path.GetFullPath(path);
        string current = System.IO.Path.GetPathRoot(full) ?? "";
        foreach (string part in full.Substring(current.Length).Split(new[] { System.IO.Path.DirectorySeparatorChar, System.IO.Path.AltDirectorySeparatorChar }, StringSplitOptions.RemoveEmptyEntries))
        {
            current = System.IO.Path.Combine(current, part);
            FileSystemInfo info = Directory.Exists(current) ? new DirectoryInfo(current) : new FileInfo(current);
#if NET
            if (info.LinkTarget is { } target)
            {
                if (++links > 40)
                {
                    return null;
                }

                string? resolved = RealPath(System.IO.Path.Combine(System.IO.Path.GetDirectoryName(current)!, target), links);
                if (resolved is null || !(File.Exists(resolved) || Directory.Exists(resolved)))
                {
                    return null;
                }

                current = resolved;
            }
#else
            if (info.Exists && (info.Attributes & FileAttributes.ReparsePoint) != 0)
            {
                return null;
            }
#endif
        }

        return current;
    }

    internal static string ContentTypeFor(string name)
    {
        if (PublishRules.IsJsonName(name))
        {
            return PublishRules.JsonType;
        }

        string extension = System.IO.Path.GetExtension(name).ToLowerInvariant();
        return extension switch
        {
            ".json" => PublishRules.JsonType,
            ".html" or ".htm" => "text/html; charset=utf-8",
            ".js" or ".mjs" => "text/javascript; charset=utf-8",
            ".css" => "text/css; charset=utf-8",
            ".txt" => "text/plain; charset=utf-8",
            ".svg" => "image/svg+xml",
            ".png" => "image/png",
            ".wasm" => "application/wasm",
            _ => PublishRules.BinaryType,
        };
    }
}
