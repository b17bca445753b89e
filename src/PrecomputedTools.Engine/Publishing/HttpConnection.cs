using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace PrecomputedTools.Engine.Publishing;

/// <summary>
/// One HTTP/1.1 connection of the local server (RFC 9112): reads request heads, keeps the connection
/// alive between requests, and closes it when a deadline passes. The watchdog is re-armed before every
/// read and write: a client that sends its head too slowly, idles between requests, or stops reading
/// the response loses its connection, so a slow client holds no socket for long.
/// </summary>
internal sealed class HttpConnection : IDisposable
{
    private const int MaxHeadBytes = 16 * 1024;
    private static readonly byte[] s_headEnd = { (byte)'\r', (byte)'\n', (byte)'\r', (byte)'\n' };

    private readonly TcpClient _client;
    private readonly NetworkStream _stream;
    private readonly CancellationTokenSource _watchdog = new();
    private readonly byte[] _buffer = new byte[MaxHeadBytes];
    private int _start;
    private int _end;

    public HttpConnection(TcpClient client, TimeSpan headerTimeout, TimeSpan idleTimeout)
    {
        _client = client;
        _client.NoDelay = true;
        _stream = client.GetStream();
        HeaderTimeout = headerTimeout;
        IdleTimeout = idleTimeout;
        // Closing the socket is the one cancellation every pending read and write honours.
        _watchdog.Token.Register(() => _client.Dispose());
    }

    public TimeSpan HeaderTimeout { get; }

    public TimeSpan IdleTimeout { get; }

    /// <summary>Reads the next request head; null when the client closed the connection or sent a head that is not HTTP (after answering 400).</summary>
    public async Task<HttpRequestHead?> ReadRequestAsync(bool first)
    {
        // The first request has HeaderTimeout from the accept; later ones may idle first.
        Arm(first ? HeaderTimeout : IdleTimeout);
        bool started = _end > _start;
        while (true)
        {
            int at = _buffer.AsSpan(_start, _end - _start).IndexOf(s_headEnd);
            if (at >= 0)
            {
                int headLength = at + 4;
                string head = Encoding.ASCII.GetString(_buffer, _start, headLength);
                _start += headLength;
                HttpRequestHead? request = HttpRequestHead.Parse(head);
                if (request is null)
                {
                    await SendBareAsync(400, "Bad Request").ConfigureAwait(false);
                }

                return request;
            }

            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }

            if (_end == _buffer.Length)
            {
                await SendBareAsync(431, "Request Header Fields Too Large").ConfigureAwait(false);
                return null;
            }

            int read = await _stream.ReadAsync(_buffer, _end, _buffer.Length - _end).ConfigureAwait(false);
            if (read == 0)
            {
                return null;
            }

            _end += read;
            if (!started)
            {
                started = true;
                Arm(HeaderTimeout);
            }
        }
    }

    /// <summary>Writes bytes of a response, re-arming the idle deadline (a client that stops reading is cut off).</summary>
    public async Task WriteAsync(byte[] buffer, int offset, int count)
    {
        Arm(IdleTimeout);
        await _stream.WriteAsync(buffer, offset, count).ConfigureAwait(false);
    }

    /// <summary>A response with no body and Connection: close, for heads this server cannot take.</summary>
    public async Task SendBareAsync(int status, string reason)
    {
        byte[] bytes = Encoding.ASCII.GetBytes($"HTTP/1.1 {status.ToString(CultureInfo.InvariantCulture)} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        try
        {
            await WriteAsync(bytes, 0, bytes.Length).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException)
        {
            // The client is gone already.
        }
    }

    /// <summary>Sets the deadline: the connection is closed unless the next <see cref="Arm"/> comes within <paramref name="timeout"/>.</summary>
    public void Arm(TimeSpan timeout)
    {
        try
        {
            _watchdog.CancelAfter(timeout);
        }
        catch (ObjectDisposedException)
        {
            // Disposed with the connection.
        }
    }

    /// <summary>Closes the socket from another thread (server stop): pending reads and writes end.</summary>
    public void Close() => _client.Dispose();

    public void Dispose()
    {
        _watchdog.Dispose();
        _client.Dispose();
    }
}

/// <summary>The request line and headers of one request (RFC 9112 §3, §5).</summary>
internal sealed class HttpRequestHead
{
    private readonly Dictionary<string, string> _headers;

    private HttpRequestHead(string method, string target, string version, Dictionary<string, string> headers)
    {
        HttpMethod = method;
        RawUrl = target;
        Version = version;
        _headers = headers;
    }

    public string HttpMethod { get; }

    /// <summary>The origin-form target ("/path?query"); an absolute-form target is reduced to it.</summary>
    public string RawUrl { get; }

    public string Version { get; }

    /// <summary>Whether a request body follows the head (this server answers and then closes instead of reading it).</summary>
    public bool HasBody =>
        _headers.ContainsKey("Transfer-Encoding")
        || (_headers.TryGetValue("Content-Length", out string? length) && length.Trim() != "0");

    /// <summary>Whether the client wants the connection kept (HTTP/1.1 unless "Connection: close"; HTTP/1.0 is closed).</summary>
    public bool KeepAlive =>
        Version == "HTTP/1.1" && !(this["Connection"] is { } connection && connection.IndexOf("close", StringComparison.OrdinalIgnoreCase) >= 0);

    /// <summary>A header's value (repeated headers joined with ", "), or null.</summary>
    public string? this[string name] => _headers.TryGetValue(name, out string? value) ? value : null;

    public static HttpRequestHead? Parse(string head)
    {
        string[] lines = head.Split(new[] { "\r\n" }, StringSplitOptions.None);
        string[] requestLine = lines[0].Split(' ');
        if (requestLine.Length != 3 || requestLine[0].Length == 0 || requestLine[1].Length == 0 || !requestLine[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
        {
            return null;
        }

        string target = requestLine[1];
        if (target.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || target.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            int path = target.IndexOf('/', target.IndexOf("//", StringComparison.Ordinal) + 2);
            target = path < 0 ? "/" : target.Substring(path);
        }

        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 1; i < lines.Length; i++)
        {
            string line = lines[i];
            if (line.Length == 0)
            {
                continue;
            }

            int colon = line.IndexOf(':');
            if (colon <= 0 || line[0] is ' ' or '\t')
            {
                return null; // no name, or obsolete line folding (RFC 9112 §5.2)
            }

            string name = line.Substring(0, colon).Trim();
            string value = line.Substring(colon + 1).Trim();
            headers[name] = headers.TryGetValue(name, out string? before) ? before + ", " + value : value;
        }

        return new HttpRequestHead(requestLine[0], target, requestLine[2], headers);
    }
}

/// <summary>
/// A response on an <see cref="HttpConnection"/>: status and headers are sent with the first body
/// bytes (or at completion); the body is delimited by Content-Length when it is known, else chunked.
/// </summary>
internal sealed class HttpResponse
{
    private readonly HttpConnection _connection;
    private readonly bool _head;
    private readonly List<KeyValuePair<string, string>> _headers = new();
    private HttpResponseHeaders? _headerView;
    private bool _headSent;
    private bool _chunked;

    public HttpResponse(HttpConnection connection, bool head, bool keepAlive)
    {
        _connection = connection;
        _head = head;
        KeepAlive = keepAlive;
    }

    public int StatusCode { get; set; } = 200;

    public string? ContentType { get; set; }

    /// <summary>The body length, or -1 when unknown (the body is then chunked).</summary>
    public long ContentLength64 { get; set; } = -1;

    public bool KeepAlive { get; set; }

    /// <summary>Set when the response could not be finished: the connection is closed rather than reused.</summary>
    public bool Aborted { get; private set; }

    public HttpResponseHeaders Headers => _headerView ??= new(this);

    public void Abort() => Aborted = true;

    public async Task WriteAsync(byte[] buffer, int offset, int count)
    {
        await SendHeadAsync().ConfigureAwait(false);
        if (_head || count == 0)
        {
            return;
        }

        if (_chunked)
        {
            byte[] size = Encoding.ASCII.GetBytes(count.ToString("x", CultureInfo.InvariantCulture) + "\r\n");
            await _connection.WriteAsync(size, 0, size.Length).ConfigureAwait(false);
            await _connection.WriteAsync(buffer, offset, count).ConfigureAwait(false);
            await _connection.WriteAsync(s_crlf, 0, 2).ConfigureAwait(false);
        }
        else
        {
            await _connection.WriteAsync(buffer, offset, count).ConfigureAwait(false);
        }
    }

    /// <summary>Sends the head if nothing was written and ends a chunked body.</summary>
    public async Task CompleteAsync()
    {
        await SendHeadAsync().ConfigureAwait(false);
        if (_chunked && !_head)
        {
            await _connection.WriteAsync(s_lastChunk, 0, s_lastChunk.Length).ConfigureAwait(false);
        }
    }

    private static readonly byte[] s_crlf = { (byte)'\r', (byte)'\n' };
    private static readonly byte[] s_lastChunk = Encoding.ASCII.GetBytes("0\r\n\r\n");

    internal void SetHeader(string name, string value)
    {
        for (int i = 0; i < _headers.Count; i++)
        {
            if (string.Equals(_headers[i].Key, name, StringComparison.OrdinalIgnoreCase))
            {
                _headers[i] = new(name, value);
                return;
            }
        }

        _headers.Add(new(name, value));
    }

    private async Task SendHeadAsync()
    {
        if (_headSent)
        {
            return;
        }

        _headSent = true;
        var head = new StringBuilder(512);
        head.Append("HTTP/1.1 ").Append(StatusCode.ToString(CultureInfo.InvariantCulture)).Append(' ').Append(ReasonPhrase(StatusCode)).Append("\r\n");
        head.Append("Date: ").Append(DateTime.UtcNow.ToString("R", CultureInfo.InvariantCulture)).Append("\r\n");
        head.Append("Server: PrecomputedTools\r\n");
        if (ContentType is not null)
        {
            head.Append("Content-Type: ").Append(ContentType).Append("\r\n");
        }

        bool bodyless = StatusCode is 204 or 304 || (StatusCode >= 100 && StatusCode < 200);
        if (!bodyless)
        {
            if (ContentLength64 >= 0)
            {
                head.Append("Content-Length: ").Append(ContentLength64.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
            }
            else if (!_head)
            {
                _chunked = true;
                head.Append("Transfer-Encoding: chunked\r\n");
            }
        }

        foreach (KeyValuePair<string, string> header in _headers)
        {
            head.Append(header.Key).Append(": ").Append(header.Value).Append("\r\n");
        }

        head.Append(KeepAlive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
        head.Append("\r\n");
        byte[] bytes = Encoding.ASCII.GetBytes(head.ToString());
        await _connection.WriteAsync(bytes, 0, bytes.Length).ConfigureAwait(false);
    }

    internal static string ReasonPhrase(int status) => status switch
    {
        200 => "OK",
        204 => "No Content",
        206 => "Partial Content",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        416 => "Range Not Satisfiable",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    };
}

/// <summary>Sets response headers by name (replacing an earlier value), as <c>response.Headers["X"] = v</c>.</summary>
internal sealed class HttpResponseHeaders
{
    private readonly HttpResponse _response;

    public HttpResponseHeaders(HttpResponse response) => _response = response;

    public string this[string name]
    {
        set => _response.SetHeader(name, value);
    }
}
