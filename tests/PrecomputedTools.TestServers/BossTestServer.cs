using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;

namespace PrecomputedTools.TestServers;

/// <summary>Ways a response can go wrong (fault injection of the BOSS stand-in).</summary>
public enum BossFault
{
    None,
    Throttled429,
    ThrottledForGood429,
    Error500Text,
    Html502,
    Html503,
    Html504,
    SlowHeaders,
    StallBody,
    TruncatedWithLength,
    TruncatedNoLength,
    ResetBeforeHeaders,
    Chunked,
    FlipBytes,
    WrongNbytes,
    ExtraBytes,
    JsonBody200,

    /// <summary>A hostile or careless server: a 500 whose reason phrase and long HTML body repeat the request's token.</summary>
    EchoToken500,

    /// <summary>A 302 whose Location carries the request's token.</summary>
    EchoTokenRedirect,
}

/// <summary>A fault rule: which requests (path substring), how often (probability with a seed, or the first K attempts), which faults.</summary>
public sealed class BossFaultRule
{
    public string PathContains { get; init; } = "/cutout/";

    public double Probability { get; init; }

    public int FailFirstAttempts { get; init; }

    public int Seed { get; init; } = 1;

    public BossFault[] Kinds { get; init; } = { BossFault.Error500Text };

    /// <summary>Faults every kind that a correct client survives: 429, 500, HTML gateway errors, slow, stalls, truncation, resets.</summary>
    public static BossFault[] Transient => new[]
    {
        BossFault.Throttled429, BossFault.Error500Text, BossFault.Html502, BossFault.Html503, BossFault.Html504,
        BossFault.SlowHeaders, BossFault.StallBody, BossFault.TruncatedWithLength, BossFault.TruncatedNoLength,
        BossFault.ResetBeforeHeaders, BossFault.Chunked,
    };
}

/// <summary>One request as the server saw it. The token itself is never stored, only its kind.</summary>
public sealed record BossRequestLog(string Method, string Path, string Query, string? Accept, string? UserAgent, string? AuthorizationKind, bool TokenInUrl, int Status, BossFault Fault, long BytesSent, DateTime Start, DateTime End, string Host);

/// <summary>
/// An in-process BOSS stand-in on 127.0.0.1 (routes and errors of the BOSS API docs), a minimal HTTP/1.1 server on a raw
/// socket so framing faults (truncation, resets, stalls) can be produced exactly.
/// </summary>
public sealed class BossTestServer : IDisposable
{
    /// <summary>A valid 40-hex-digit token for tests.</summary>
    public const string ValidToken = "c0ffee00deadbeef0123456789abcdef76543210";

    private static readonly Regex s_name = new("^[A-Za-z0-9_-]+$", RegexOptions.Compiled);
    private static readonly Regex s_range = new("^(\\d+):(\\d+)$", RegexOptions.Compiled);
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private readonly ConcurrentDictionary<string, int> _attempts = new();
    private readonly ConcurrentDictionary<string, byte[]> _bodyCache = new();
    private readonly List<BossFaultRule> _faults = new();
    private readonly ConcurrentBag<TcpClient> _clients = new();
    private int _inFlight;
    private int _maxInFlight;

    public BossTestServer(BossTestCatalog? catalog = null)
    {
        Catalog = catalog ?? BossTestCatalog.CreateDefault();
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start(256);
        int port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        BaseUri = new Uri("http://127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture));
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    public BossTestCatalog Catalog { get; }

    public Uri BaseUri { get; }

    /// <summary>The server's cutout size limit (520 MiB; uint64 counts a quarter).</summary>
    public long CutoutLimitBytes { get; set; } = 520L * 1024 * 1024;

    /// <summary>How long SlowHeaders and StallBody faults wait.</summary>
    public TimeSpan SlowDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Answer an invalid token on a binary request with a non-JSON 500, as a real server may when its blosc renderer gets the error.</summary>
    public bool InvalidTokenBinaryAs500 { get; set; }

    /// <summary>Keep rendered bodies by URL (for benchmarks: the server's own cost out of the picture).</summary>
    public bool CacheBodies { get; set; }

    /// <summary>The blosc codec of cutouts (blosclz like BOSS; lz4, zlib, zstd, snappy to test support).</summary>
    public string BloscCodec { get; set; } = "blosclz";

    /// <summary>Write typesize in bytes instead of BOSS's bits.</summary>
    public bool TypeSizeInBytes { get; set; }

    /// <summary>Frames come from the native c-blosc when it is installed; otherwise memcpyed frames.</summary>
    public bool UsesNativeBlosc => NativeBlosc.IsAvailable;

    public ConcurrentQueue<BossRequestLog> Requests { get; } = new();

    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    public void AddFault(BossFaultRule rule)
    {
        lock (_faults)
        {
            _faults.Add(rule);
        }
    }

    public void ClearFaults()
    {
        lock (_faults)
        {
            _faults.Clear();
        }
    }

    /// <summary>Cutout requests (any outcome) whose path contains <paramref name="box"/> like "0:512/0:512/0:16".</summary>
    public int CountCutouts(string? box = null) =>
        Requests.Count(r => r.Path.Contains("/cutout/", StringComparison.Ordinal) && (box is null || r.Path.Contains(box, StringComparison.Ordinal)));

    /// <summary>Cutout requests answered 200 with no fault.</summary>
    public int CountGoodCutouts() => Requests.Count(r => r.Path.Contains("/cutout/", StringComparison.Ordinal) && r.Status == 200 && r.Fault is BossFault.None or BossFault.Chunked);

    /// <summary>The expected voxels of a box ([z][y][x] C order, level coordinates), zero past the level's extent.</summary>
    public byte[] Expected(string collection, string experiment, string channel, int level, int x0, int x1, int y0, int y1, int z0, int z1, int t = -1, bool iso = false)
    {
        BossTestChannel ch = Catalog.FindChannel(collection, experiment, channel) ?? throw new ArgumentException("no such channel");
        int time = t < 0 ? ch.DefaultTimeSample : t;
        return Render(ch, level, iso, time, time + 1, x0, x1, y0, y1, z0, z1);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        foreach (TcpClient client in _clients)
        {
            client.Dispose();
        }

        try
        {
            _acceptLoop.Wait(2000);
        }
        catch (AggregateException)
        {
            // The loop ends with the listener; how it ended does not matter here.
        }

        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            client.NoDelay = true;
            _clients.Add(client);
            _ = Task.Run(() => ServeConnectionAsync(client));
        }
    }

    private async Task ServeConnectionAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                NetworkStream stream = client.GetStream();
                var reader = new HeadReader(stream);
                while (!_stop.IsCancellationRequested)
                {
                    Request? request = await reader.ReadAsync(_stop.Token).ConfigureAwait(false);
                    if (request is null)
                    {
                        return;
                    }

                    bool keepOpen = await HandleAsync(client, stream, request).ConfigureAwait(false);
                    if (!keepOpen)
                    {
                        return;
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // The client went away (timeouts, cancellation) or the server is stopping.
            }
        }
    }

    private async Task<bool> HandleAsync(TcpClient client, NetworkStream stream, Request request)
    {
        DateTime start = DateTime.UtcNow;
        bool isCutout = request.Path.Contains("/cutout/", StringComparison.Ordinal);
        if (isCutout)
        {
            int now = Interlocked.Increment(ref _inFlight);
            int seen;
            while (now > (seen = Volatile.Read(ref _maxInFlight)) && Interlocked.CompareExchange(ref _maxInFlight, now, seen) != seen)
            {
            }
        }

        Response response;
        BossFault fault = BossFault.None;
        long sent = 0;
        try
        {
            fault = PickFault(request);
            response = fault switch
            {
                BossFault.Throttled429 => Json(429, new { status = 429, code = 3004, message = "Request was throttled. Expected available in 1 second." }),
                BossFault.ThrottledForGood429 => Json(429, new { status = 429, code = 3004, message = "User is throttled. Expected available tomorrow." }),
                BossFault.Error500Text => new Response(500, "text/plain", Encoding.ASCII.GetBytes("Internal Server Error")),
                BossFault.Html502 => Html(502, "Bad Gateway"),
                BossFault.Html503 => Html(503, "Service Temporarily Unavailable"),
                BossFault.Html504 => Html(504, "Gateway Time-out"),
                BossFault.EchoToken500 => EchoToken500(request),
                BossFault.EchoTokenRedirect => EchoTokenRedirect(request),
                _ => Route(request),
            };

            Log(request, fault, response.Status, response.Body.Length, start);
            switch (fault)
            {
                case BossFault.ResetBeforeHeaders:
                    client.Client.LingerState = new LingerOption(true, 0);
                    client.Client.Close();
                    return false;
                case BossFault.SlowHeaders:
                    await Task.Delay(SlowDelay, _stop.Token).ConfigureAwait(false);
                    break;
                case BossFault.FlipBytes when response.Status == 200 && response.Body.Length > 64:
                    response.Body = (byte[])response.Body.Clone();
                    for (int k = 40; k < response.Body.Length; k += Math.Max(1, response.Body.Length / 7))
                    {
                        response.Body[k] ^= 0x55;
                    }

                    break;
                case BossFault.WrongNbytes when response.Status == 200 && response.Body.Length >= 16:
                    response.Body = (byte[])response.Body.Clone();
                    response.Body[5] ^= 0x01;
                    break;
                case BossFault.ExtraBytes when response.Status == 200:
                    response.Body = response.Body.Concat(new byte[] { 1, 2, 3 }).ToArray();
                    break;
                case BossFault.JsonBody200:
                    response = new Response(200, "application/json", Encoding.UTF8.GetBytes("{\"ok\": true}"));
                    break;
            }

            sent = await WriteAsync(stream, response, fault).ConfigureAwait(false);
            return fault is not (BossFault.TruncatedWithLength or BossFault.TruncatedNoLength);
        }
        finally
        {
            if (isCutout)
            {
                Interlocked.Decrement(ref _inFlight);
            }
        }
    }

    /// <summary>Logs a request before its answer goes out, so a client that saw the answer also sees the log entry.</summary>
    private void Log(Request request, BossFault fault, int status, long bytes, DateTime start)
    {
        string? auth = request.Headers.TryGetValue("authorization", out string? a) ? a : null;
        string? kind = auth is null ? null : auth == "Token " + ValidToken ? "valid" : auth == "Token public" ? "public" : "invalid";
        bool tokenInUrl = (request.Path + request.Query).Contains(ValidToken, StringComparison.Ordinal);
        Requests.Enqueue(new BossRequestLog("GET", request.Path, request.Query, request.Header("accept"), request.Header("user-agent"), kind, tokenInUrl, status, fault, bytes, start, DateTime.UtcNow, request.Header("host") ?? ""));
    }

    private static int LastStatus(Request request) => request.Status;

    private BossFault PickFault(Request request)
    {
        lock (_faults)
        {
            if (_faults.Count == 0)
            {
                return BossFault.None;
            }
        }

        string key = request.Path + "?" + request.Query;
        int attempt = _attempts.AddOrUpdate(key, 1, (_, n) => n + 1);
        lock (_faults)
        {
            foreach (BossFaultRule rule in _faults)
            {
                if (!request.Path.Contains(rule.PathContains, StringComparison.Ordinal))
                {
                    continue;
                }

                ulong h = Hash(rule.Seed, key, attempt);
                bool hit = attempt <= rule.FailFirstAttempts || (h % 1_000_000) / 1e6 < rule.Probability;
                if (hit)
                {
                    return rule.Kinds[(int)((h / 1_000_000) % (ulong)rule.Kinds.Length)];
                }
            }
        }

        return BossFault.None;
    }

    private static ulong Hash(int seed, string key, int attempt)
    {
        ulong h = 14695981039346656037UL ^ (ulong)seed;
        foreach (char c in key)
        {
            h = (h ^ c) * 1099511628211UL;
        }

        h = (h ^ (ulong)attempt) * 1099511628211UL;
        h ^= h >> 29;
        h *= 0xBF58476D1CE4E5B9UL;
        h ^= h >> 32;
        return h;
    }

    private async Task<long> WriteAsync(NetworkStream stream, Response response, BossFault fault)
    {
        var head = new StringBuilder();
        head.Append("HTTP/1.1 ").Append(response.Status).Append(' ').Append(response.ReasonPhrase ?? Reason(response.Status)).Append("\r\n");
        head.Append("Content-Type: ").Append(response.ContentType).Append("\r\n");
        foreach (var pair in response.Headers)
        {
            head.Append(pair.Key).Append(": ").Append(pair.Value).Append("\r\n");
        }

        bool chunked = fault == BossFault.Chunked;
        if (fault == BossFault.TruncatedNoLength)
        {
            head.Append("Connection: close\r\n");
        }
        else if (chunked)
        {
            head.Append("Transfer-Encoding: chunked\r\n");
        }
        else
        {
            head.Append("Content-Length: ").Append(response.Body.Length).Append("\r\n");
        }

        head.Append("\r\n");
        byte[] headBytes = Encoding.ASCII.GetBytes(head.ToString());
        await stream.WriteAsync(headBytes, _stop.Token).ConfigureAwait(false);
        byte[] body = response.Body;
        switch (fault)
        {
            case BossFault.TruncatedWithLength:
            case BossFault.TruncatedNoLength:
                await stream.WriteAsync(body.AsMemory(0, body.Length / 2), _stop.Token).ConfigureAwait(false);
                await stream.FlushAsync().ConfigureAwait(false);
                return headBytes.Length + body.Length / 2;
            case BossFault.StallBody:
                await stream.WriteAsync(body.AsMemory(0, body.Length / 2), _stop.Token).ConfigureAwait(false);
                await stream.FlushAsync().ConfigureAwait(false);
                await Task.Delay(SlowDelay, _stop.Token).ConfigureAwait(false);
                await stream.WriteAsync(body.AsMemory(body.Length / 2), _stop.Token).ConfigureAwait(false);
                break;
            case BossFault.Chunked:
                for (int offset = 0; offset < body.Length; offset += 65536)
                {
                    int n = Math.Min(65536, body.Length - offset);
                    await stream.WriteAsync(Encoding.ASCII.GetBytes(n.ToString("x", CultureInfo.InvariantCulture) + "\r\n"), _stop.Token).ConfigureAwait(false);
                    await stream.WriteAsync(body.AsMemory(offset, n), _stop.Token).ConfigureAwait(false);
                    await stream.WriteAsync("\r\n"u8.ToArray(), _stop.Token).ConfigureAwait(false);
                }

                await stream.WriteAsync("0\r\n\r\n"u8.ToArray(), _stop.Token).ConfigureAwait(false);
                break;
            default:
                await stream.WriteAsync(body, _stop.Token).ConfigureAwait(false);
                break;
        }

        return headBytes.Length + body.Length;
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        406 => "Not Acceptable",
        413 => "Request Entity Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    };

    private static Response Json(int status, object body) => new(status, "application/json", JsonSerializer.SerializeToUtf8Bytes(body));

    private static Response Error(int status, int code, string message) => Json(status, new { status, code, message });

    private static string SentToken(Request request) =>
        request.Headers.TryGetValue("authorization", out string? auth) && auth.StartsWith("Token ", StringComparison.Ordinal) ? auth.Substring(6) : "";

    // The token straddles the first 200 characters of the body (where a client may cut its quote) and repeats after them.
    private static Response EchoToken500(Request request)
    {
        string token = SentToken(request);
        string body = "<html><body>" + new string('x', 180) + " Token " + token + " rejected; " + new string('y', 500) + " Authorization: Token " + token + "</body></html>";
        return new Response(500, "text/html", Encoding.ASCII.GetBytes(body)) { ReasonPhrase = "Internal Server Error (Token " + token + ")" };
    }

    private static Response EchoTokenRedirect(Request request)
    {
        var response = new Response(302, "text/html", Encoding.ASCII.GetBytes("<a href=\"https://login.example/?token=" + SentToken(request) + "\">moved</a>"));
        response.Headers["Location"] = "https://login.example/sso?next=/cutout&token=" + SentToken(request);
        return response;
    }

    private static Response Html(int status, string title) =>
        new(status, "text/html", Encoding.ASCII.GetBytes($"<html>\r\n<head><title>{status} {title}</title></head>\r\n<body>\r\n<center><h1>{status} {title}</h1></center>\r\n</body>\r\n</html>\r\n"));

    private Response Route(Request request)
    {
        Response response = RouteCore(request);
        request.Status = response.Status;
        return response;
    }

    private Response RouteCore(Request request)
    {
        string path = request.Path;
        string rest;
        if (path.StartsWith("/v1/", StringComparison.Ordinal))
        {
            rest = path.Substring(4);
        }
        else if (path.StartsWith("/latest/", StringComparison.Ordinal))
        {
            rest = path.Substring(8);
        }
        else if (path is "/ping/" or "/ping")
        {
            return Json(200, new { status = "ok" });
        }
        else
        {
            return Error(400, 9003, "Unsupported API version");
        }

        string[] parts = rest.Trim('/').Split('/', StringSplitOptions.None);
        string? auth = request.Header("authorization");
        string? user = null;
        if (auth is not null)
        {
            if (auth == "Token " + ValidToken)
            {
                user = "valid";
            }
            else if (auth == "Token public")
            {
                user = "public";
            }
            else
            {
                string accept = request.Header("accept") ?? "";
                if (InvalidTokenBinaryAs500 && !accept.Contains("json", StringComparison.Ordinal))
                {
                    return new Response(500, "text/plain", Encoding.ASCII.GetBytes("Server Error (500)"));
                }

                return Json(401, new { detail = "Invalid token." });
            }
        }

        bool privileged = user == "valid";
        switch (parts[0])
        {
            case "collection":
                return Metadata(parts, privileged);
            case "coord":
                if (parts.Length == 2 && Catalog.Frames.TryGetValue(parts[1], out BossTestFrame? f))
                {
                    return Json(200, new
                    {
                        name = f.Name,
                        description = "",
                        x_start = f.XStart, x_stop = f.XStop, y_start = f.YStart, y_stop = f.YStop, z_start = f.ZStart, z_stop = f.ZStop,
                        x_voxel_size = f.XVoxel, y_voxel_size = f.YVoxel, z_voxel_size = f.ZVoxel, voxel_unit = f.Unit,
                    });
                }

                return Error(404, 4000, $"Coordinate frame {(parts.Length > 1 ? parts[1] : "")} not found");
            case "downsample":
            {
                if (parts.Length != 4)
                {
                    return Error(400, 1000, "Invalid URL");
                }

                if (Lookup(parts[1], parts[2], parts[3], privileged, out BossTestChannel? ch) is { } failure)
                {
                    return failure;
                }

                bool iso = string.Equals(request.QueryValue("iso"), "true", StringComparison.OrdinalIgnoreCase);
                var levels = ch!.Experiment.Downsample(iso);
                var voxel = new Dictionary<string, double[]>();
                var extent = new Dictionary<string, long[]>();
                var cuboid = new Dictionary<string, int[]>();
                for (int r = 0; r < levels.Length; r++)
                {
                    string key = r.ToString(CultureInfo.InvariantCulture);
                    voxel[key] = levels[r].Voxel;
                    extent[key] = levels[r].Extent;
                    cuboid[key] = new[] { 512, 512, 16 };
                }

                return Json(200, new { status = ch.DownsampleStatus, num_hierarchy_levels = ch.Experiment.Levels, voxel_size = voxel, extent, cuboid_size = cuboid });
            }

            case "cutout":
            case "ids":
            case "raw":
                // "raw" is not a BOSS route: the same voxels uncompressed, the baseline of the benchmarks.
                return Cutout(request, parts, privileged, parts[0] == "ids");
            default:
                return Error(404, 2004, "Invalid request");
        }
    }

    private Response? Lookup(string c, string e, string ch, bool privileged, out BossTestChannel? channel)
    {
        channel = null;
        foreach (string name in new[] { c, e, ch })
        {
            if (!s_name.IsMatch(name))
            {
                return Error(400, 1001, "Invalid resource name " + name);
            }
        }

        if (!Catalog.Collections.TryGetValue(c, out bool collectionPublic))
        {
            return Error(404, 4000, $"Collection {c} not found");
        }

        BossTestExperiment? experiment = Catalog.FindExperiment(c, e);
        if (experiment is null)
        {
            return Error(404, 4000, $"Experiment {e} not found");
        }

        channel = Catalog.FindChannel(c, e, ch);
        if (channel is null)
        {
            return Error(404, 4000, $"Channel {ch} not found");
        }

        if (!channel.Public && !privileged)
        {
            return Error(403, 3001, "This user does not have the required permissions");
        }

        _ = collectionPublic;
        return null;
    }

    private Response Metadata(string[] parts, bool privileged)
    {
        if (parts.Length == 1)
        {
            return Json(200, new { collections = Catalog.Collections.Where(p => p.Value || privileged).Select(p => p.Key).ToArray() });
        }

        string c = parts[1];
        if (!Catalog.Collections.TryGetValue(c, out bool collectionPublic))
        {
            return Error(404, 4000, $"Collection {c} not found");
        }

        if (!collectionPublic && !privileged)
        {
            return Error(403, 3001, "This user does not have the required permissions");
        }

        var experiments = Catalog.Experiments.Where(x => x.Collection == c).ToList();
        if (parts.Length == 2)
        {
            return Json(200, new { name = c, @public = collectionPublic, description = "Loopback collection " + c, experiments = experiments.Select(x => x.Name).ToArray(), creator = "tester" });
        }

        if (parts[2] != "experiment")
        {
            return Error(404, 2004, "Invalid request");
        }

        if (parts.Length == 3)
        {
            return Json(200, new { experiments = experiments.Select(x => x.Name).ToArray() });
        }

        BossTestExperiment? e = experiments.FirstOrDefault(x => x.Name == parts[3]);
        if (e is null)
        {
            return Error(404, 4000, $"Experiment {parts[3]} not found");
        }

        if (parts.Length == 4)
        {
            return Json(200, new
            {
                channels = e.Channels.Select(x => x.Name).ToArray(), name = e.Name, @public = e.Public, description = "", collection = c,
                coord_frame = e.Frame.Name, num_hierarchy_levels = e.Levels, hierarchy_method = e.Method, num_time_samples = e.TimeSamples,
                time_step = 0, time_step_unit = "seconds", creator = "tester",
            });
        }

        if (parts[4] != "channel")
        {
            return Error(404, 2004, "Invalid request");
        }

        if (parts.Length == 5)
        {
            return Json(200, new { channels = e.Channels.Select(x => x.Name).ToArray() });
        }

        BossTestChannel? ch = e.Channels.FirstOrDefault(x => x.Name == parts[5]);
        if (ch is null)
        {
            return Error(404, 4000, $"Channel {parts[5]} not found");
        }

        return Json(200, new
        {
            name = ch.Name, @public = ch.Public, description = "", experiment = e.Name, default_time_sample = ch.DefaultTimeSample, type = ch.Type,
            base_resolution = ch.BaseResolution, datatype = ch.Datatype, creator = "tester", sources = Array.Empty<string>(),
            downsample_status = ch.DownsampleStatus, related = Array.Empty<string>(), storage_type = ch.StorageType,
            bucket = ch.StorageType == "cloudvol" ? "bossdb-open-data" : null, cv_path = ch.StorageType == "cloudvol" ? "/lab/small/cloud" : null,
        });
    }

    private Response Cutout(Request request, string[] parts, bool privileged, bool ids)
    {
        // cutout/{c}/{e}/{ch}/{res}/{x}/{y}/{z}/[{t}/]
        if (parts.Length is not (8 or 9))
        {
            return Error(400, 1000, "Invalid URL");
        }

        if (Lookup(parts[1], parts[2], parts[3], privileged, out BossTestChannel? ch) is { } failure)
        {
            return failure;
        }

        if (ids && !privileged)
        {
            return Error(403, 3001, "This user does not have the required permissions");
        }

        BossTestExperiment e = ch!.Experiment;
        if (parts[4].Length != 1 || !char.IsDigit(parts[4][0]))
        {
            return Error(400, 1002, "Invalid resolution " + parts[4]);
        }

        int res = parts[4][0] - '0';
        if (res < ch.BaseResolution || res >= ch.BaseResolution + e.Levels)
        {
            return Error(400, 1002, $"Resolution {res} is out of range for this channel");
        }

        if (ch.Datatype == "uint32")
        {
            return Error(400, 1002, "Unsupported data type: uint32");
        }

        if (ids && ch.Type != "annotation")
        {
            return Error(400, 2003, "This request is only supported on annotation channels");
        }

        int[] r = new int[6];
        BossTestFrame f = e.Frame;
        int[] lower = { f.XStart, f.YStart, f.ZStart };
        int[] upper = { f.XStop, f.YStop, f.ZStop };
        for (int axis = 0; axis < 3; axis++)
        {
            Match m = s_range.Match(parts[5 + axis]);
            if (!m.Success || !int.TryParse(m.Groups[1].Value, out r[2 * axis]) || !int.TryParse(m.Groups[2].Value, out r[2 * axis + 1])
                || r[2 * axis] >= r[2 * axis + 1] || r[2 * axis] < lower[axis] || r[2 * axis + 1] > upper[axis])
            {
                return Error(400, 1001, $"Incorrect cutout arguments {parts[4]}/{parts[5]}/{parts[6]}/{parts[7]}");
            }
        }

        int t0 = ch.DefaultTimeSample, t1 = t0 + 1;
        bool hasTime = parts.Length == 9;
        if (hasTime)
        {
            Match m = s_range.Match(parts[8]);
            if (!m.Success || !int.TryParse(m.Groups[1].Value, out t0) || !int.TryParse(m.Groups[2].Value, out t1) || t0 > e.TimeSamples || t1 < t0 || t1 > e.TimeSamples + 1)
            {
                return Error(400, 1000, "Invalid time range " + parts[8]);
            }
        }

        long voxels = (long)(r[1] - r[0]) * (r[3] - r[2]) * (r[5] - r[4]) * Math.Max(1, t1 - t0);
        long bytes = voxels * ch.BitDepth / 8;
        if (ch.BitDepth == 64)
        {
            bytes /= 4;
        }

        if (!ids && bytes > CutoutLimitBytes)
        {
            return Error(413, 2000, "Cutout request is over 500MB when uncompressed. Reduce cutout dimensions.");
        }

        string? filter = request.QueryValue("filter");
        if (filter is not null && ch.Type != "annotation")
        {
            return Error(400, 2003, "Filter only valid for annotation channels");
        }

        string? mode = request.QueryValue("access-mode");
        string? noCache = request.QueryValue("no-cache");
        if ((mode is not null && mode is not ("cache" or "no-cache" or "raw")) || (mode is not null && noCache is not null) || (noCache is not null && noCache is not ("true" or "false")))
        {
            return Error(400, 1001, "Invalid access mode");
        }

        bool iso = string.Equals(request.QueryValue("iso"), "true", StringComparison.OrdinalIgnoreCase);
        if (ids)
        {
            byte[] all = Render(ch, res, iso, t0, Math.Max(t1, t0 + 1), r[0], r[1], r[2], r[3], r[4], r[5]);
            var set = new SortedSet<ulong>();
            for (int k = 0; k + 8 <= all.Length; k += 8)
            {
                ulong v = BitConverter.ToUInt64(all, k);
                if (v != 0)
                {
                    set.Add(v);
                }
            }

            return Json(200, new { ids = set.Select(v => v.ToString(CultureInfo.InvariantCulture)).ToArray() });
        }

        string accept = request.Header("accept") ?? "*/*";
        string format = parts[0] == "raw" ? "application/octet-stream" : accept is "*/*" or "application/blosc" ? "application/blosc" : accept;
        if (format is not ("application/blosc" or "application/npygz" or "application/octet-stream"))
        {
            return Json(406, new { detail = "Could not satisfy the request Accept header." });
        }

        string cacheKey = format + " " + request.Path + "?" + request.Query;
        if (CacheBodies && _bodyCache.TryGetValue(cacheKey, out byte[]? cached))
        {
            return new Response(200, format, cached);
        }

        HashSet<ulong>? keep = filter?.Split(',').Select(s => ulong.Parse(s, CultureInfo.InvariantCulture)).ToHashSet();
        byte[] data = Render(ch, res, iso, t0, Math.Max(t1, t0 + 1), r[0], r[1], r[2], r[3], r[4], r[5]);
        if (keep is not null)
        {
            for (int k = 0; k + 8 <= data.Length; k += 8)
            {
                if (!keep.Contains(BitConverter.ToUInt64(data, k)))
                {
                    BitConverter.TryWriteBytes(data.AsSpan(k), 0UL);
                }
            }
        }

        byte[] body;
        if (format == "application/octet-stream")
        {
            body = data;
        }
        else if (format == "application/blosc")
        {
            int typeSize = TypeSizeInBytes ? ch.ElementBytes : ch.BitDepth;
            body = NativeBlosc.IsAvailable ? NativeBlosc.Compress(data, typeSize, BloscCodec) : MemcpyedFrame(data, typeSize);
        }
        else
        {
            long[] shape = hasTime
                ? new long[] { t1 - t0, r[5] - r[4], r[3] - r[2], r[1] - r[0] }
                : new long[] { r[5] - r[4], r[3] - r[2], r[1] - r[0] };
            body = NpyGzBody(data, ch.Datatype, shape);
        }

        if (CacheBodies)
        {
            _bodyCache[cacheKey] = body;
        }

        return new Response(200, format, body);
    }

    private byte[] Render(BossTestChannel ch, int level, bool iso, int t0, int t1, int x0, int x1, int y0, int y1, int z0, int z1)
    {
        var (extent, _) = ch.Experiment.Downsample(iso)[level - ch.BaseResolution];
        int cx1 = (int)Math.Min(x1, extent[0]), cy1 = (int)Math.Min(y1, extent[1]), cz1 = (int)Math.Min(z1, extent[2]);
        byte[] full = ch.Render(level, t0, t1, x0, x1, y0, y1, z0, z1);
        if (cx1 < x1 || cy1 < y1 || cz1 < z1)
        {
            // Past the level's extent the server pads with zeros (it checks ranges against the base-resolution frame).
            int eb = ch.ElementBytes;
            long o = 0;
            for (int t = t0; t < t1; t++)
            {
                for (int z = z0; z < z1; z++)
                {
                    for (int y = y0; y < y1; y++)
                    {
                        for (int x = x0; x < x1; x++, o += eb)
                        {
                            if (x >= cx1 || y >= cy1 || z >= cz1)
                            {
                                Array.Clear(full, (int)o, eb);
                            }
                        }
                    }
                }
            }
        }

        return full;
    }

    /// <summary>A memcpyed Blosc1 frame: the managed fallback when libblosc is not installed.</summary>
    public static byte[] MemcpyedFrame(ReadOnlySpan<byte> data, int typeSize)
    {
        byte[] frame = new byte[data.Length + 16];
        frame[0] = 2;
        frame[1] = 1;
        frame[2] = 0x13;
        frame[3] = (byte)Math.Min(255, typeSize);
        BitConverter.TryWriteBytes(frame.AsSpan(4), data.Length);
        BitConverter.TryWriteBytes(frame.AsSpan(8), Math.Max(1, data.Length));
        BitConverter.TryWriteBytes(frame.AsSpan(12), frame.Length);
        data.CopyTo(frame.AsSpan(16));
        return frame;
    }

    /// <summary>numpy-identical .npy (v1.0, header padded to 64) compressed with zlib level 6.</summary>
    public static byte[] NpyGzBody(byte[] data, string datatype, long[] shape)
    {
        string descr = datatype switch { "uint8" => "|u1", "uint16" => "<u2", "uint32" => "<u4", _ => "<u8" };
        string shapeText = shape.Length == 1 ? "(" + shape[0] + ",)" : "(" + string.Join(", ", shape) + ")";
        string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shapeText + ", }";
        int total = 10 + dict.Length + 1;
        int padded = (total + 63) / 64 * 64;
        dict = dict + new string(' ', padded - total) + "\n";
        var npy = new MemoryStream();
        npy.Write(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 });
        npy.Write(BitConverter.GetBytes((ushort)dict.Length));
        npy.Write(Encoding.ASCII.GetBytes(dict));
        npy.Write(data);
        var body = new MemoryStream();
        using (var z = new ZLibStream(body, new ZLibCompressionOptions { CompressionLevel = 6 }, leaveOpen: true))
        {
            npy.Position = 0;
            npy.CopyTo(z);
        }

        return body.ToArray();
    }

    private sealed class Response
    {
        public Response(int status, string contentType, byte[] body)
        {
            Status = status;
            ContentType = contentType;
            Body = body;
        }

        public int Status { get; }

        public string ContentType { get; }

        public byte[] Body { get; set; }

        /// <summary>Sent instead of the status's usual reason phrase.</summary>
        public string? ReasonPhrase { get; init; }

        public Dictionary<string, string> Headers { get; } = new();
    }

    private sealed class Request
    {
        public string Path { get; init; } = "";

        public string Query { get; init; } = "";

        public Dictionary<string, string> Headers { get; } = new(StringComparer.OrdinalIgnoreCase);

        public int Status { get; set; }

        public string? Header(string name) => Headers.TryGetValue(name, out string? v) ? v : null;

        public string? QueryValue(string name)
        {
            foreach (string pair in Query.Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                int eq = pair.IndexOf('=');
                string key = Uri.UnescapeDataString(eq < 0 ? pair : pair.Substring(0, eq));
                if (key == name)
                {
                    return eq < 0 ? "" : Uri.UnescapeDataString(pair.Substring(eq + 1));
                }
            }

            return null;
        }
    }

    /// <summary>Reads request heads (GET only: no bodies) from a connection.</summary>
    private sealed class HeadReader
    {
        private readonly Stream _stream;
        private readonly byte[] _buffer = new byte[16384];
        private int _start;
        private int _end;

        public HeadReader(Stream stream) => _stream = stream;

        public async Task<Request?> ReadAsync(CancellationToken ct)
        {
            var line = new StringBuilder();
            var lines = new List<string>();
            while (true)
            {
                if (_start == _end)
                {
                    _start = 0;
                    _end = await _stream.ReadAsync(_buffer, ct).ConfigureAwait(false);
                    if (_end == 0)
                    {
                        return null;
                    }
                }

                char c = (char)_buffer[_start++];
                if (c == '\n')
                {
                    string text = line.ToString().TrimEnd('\r');
                    line.Clear();
                    if (text.Length == 0)
                    {
                        if (lines.Count == 0)
                        {
                            continue;
                        }

                        break;
                    }

                    lines.Add(text);
                }
                else
                {
                    line.Append(c);
                }
            }

            string[] first = lines[0].Split(' ');
            string target = first.Length > 1 ? first[1] : "/";
            int q = target.IndexOf('?');
            var request = new Request { Path = q < 0 ? target : target.Substring(0, q), Query = q < 0 ? "" : target.Substring(q + 1) };
            foreach (string header in lines.Skip(1))
            {
                int colon = header.IndexOf(':');
                if (colon > 0)
                {
                    request.Headers[header.Substring(0, colon).Trim()] = header.Substring(colon + 1).Trim();
                }
            }

            return request;
        }
    }
}
