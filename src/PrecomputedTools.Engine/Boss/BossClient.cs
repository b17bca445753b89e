using System;
using System.Buffers;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;

namespace PrecomputedTools.Engine.Boss;

/// <summary>Tunables of a <see cref="BossClient"/>; the retry and split defaults are the rules of README, 'Get-BossCutout and the BOSS resources'.</summary>
public sealed class BossClientOptions
{
    /// <summary>Requests in flight at once (1-16).</summary>
    public int ThrottleLimit { get; set; } = 4;

    /// <summary>Time allowed until the response headers arrive.</summary>
    public TimeSpan HeaderTimeout { get; set; } = TimeSpan.FromSeconds(90);

    /// <summary>Longest pause allowed between two reads of a response body.</summary>
    public TimeSpan StallTimeout { get; set; } = TimeSpan.FromSeconds(60);

    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Attempts per request for gateway errors, resets, timeouts and truncation.</summary>
    public int MaxAttempts { get; set; } = 6;

    /// <summary>Attempts per request that may end in a plain 500 (usually deterministic).</summary>
    public int MaxServerErrorAttempts { get; set; } = 3;

    /// <summary>Attempts per request that may end in a 429 without "throttled" in its message.</summary>
    public int MaxThrottleAttempts { get; set; } = 3;

    /// <summary>Attempts per request that may end in a corrupt payload (a truncated body without Content-Length looks like one).</summary>
    public int MaxCorruptAttempts { get; set; } = 3;

    /// <summary>
    /// Failed requests in a row (no success between them, across every block in flight) after which
    /// the server is taken as down and every request fails at once (the circuit breaker of README, 'Get-BossCutout and the BOSS resources').
    /// </summary>
    public int CircuitBreakerThreshold { get; set; } = 10;

    /// <summary>The smallest block a 413 or repeated 504s split down to: the 512x512x16 BOSS cuboid.</summary>
    public Int3 MinimumSplitBlock { get; set; } = new(512, 512, 16);

    public string UserAgent { get; set; } = "PrecomputedTools/0.1";
}

/// <summary>
/// The BOSS REST client (BOSS API docs: metadata, downsample, ids and cutout services) with
/// retries, timeouts and payload verification. The HttpClient comes from an IHttpClientFactory;
/// the token goes only into the Authorization header and never into any message.
/// </summary>
public sealed class BossClient : IDisposable
{
    public const string HttpClientName = "PrecomputedTools.Boss";
    private static readonly Regex s_name = new("^[A-Za-z0-9_-]+$", RegexOptions.CultureInvariant);
    private static readonly Lazy<ServiceProvider> s_services = new(BuildServices, LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly Regex s_tags = new("<[^>]*>", RegexOptions.CultureInvariant);
    private readonly HttpClient _http;
    private readonly SemaphoreSlim _slots;
    private int _failuresInARow;
    private readonly RetryPolicy _retry;
    private long _successes;

    public BossClient(BossConnection connection, BossClientOptions? options = null, OperationMonitor? monitor = null)
    {
        Connection = connection;
        Options = options ?? new BossClientOptions();
        if (Options.ThrottleLimit < 1 || Options.ThrottleLimit > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "ThrottleLimit must be 1-64.");
        }

        Monitor = monitor ?? OperationMonitor.None;
        _http = s_services.Value.GetRequiredService<IHttpClientFactory>().CreateClient(HttpClientName);
        _slots = new SemaphoreSlim(Options.ThrottleLimit, Options.ThrottleLimit);
        _retry = new RetryPolicy(Options.RetryBaseDelay, Options.RetryMaxDelay);
    }

    public BossConnection Connection { get; }

    public BossClientOptions Options { get; }

    public OperationMonitor Monitor { get; set; }

    /// <summary>Requests sent (every attempt), for statistics.</summary>
    public long RequestCount => Interlocked.Read(ref _requests);

    private long _requests;

    private static ServiceProvider BuildServices()
    {
        var services = new ServiceCollection();
        services.AddHttpClient(HttpClientName, c => c.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(CreateHandler)
            .SetHandlerLifetime(TimeSpan.FromMinutes(10));
        return services.BuildServiceProvider();
    }

    private static HttpMessageHandler CreateHandler()
    {
#if NET
        return new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(15),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            MaxConnectionsPerServer = 64,
            UseCookies = false,
        };
#else
        return new HttpClientHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            MaxConnectionsPerServer = 64,
            UseCookies = false,
        };
#endif
    }

    public void Dispose() => _slots.Dispose();

    /// <summary>Rejects names the API cannot carry (letters, digits, '_' and '-' only).</summary>
    public static void ValidateName(string kind, string name)
    {
        if (string.IsNullOrEmpty(name) || !s_name.IsMatch(name))
        {
            throw new EngineException("BossInvalidName", EngineErrorKind.InvalidArgument, $"'{name}' is not a valid BOSS {kind} name: use letters, digits, '_' and '-' only.", name);
        }
    }

    public async Task<string[]> ListCollectionsAsync(CancellationToken ct) =>
        BossCollectionInfo.Strings(await GetJsonAsync("v1/collection/", "collections", ct).ConfigureAwait(false), "collections");

    public async Task<string[]> ListExperimentsAsync(string collection, CancellationToken ct)
    {
        ValidateName("collection", collection);
        return BossCollectionInfo.Strings(await GetJsonAsync($"v1/collection/{collection}/experiment/", collection, ct).ConfigureAwait(false), "experiments");
    }

    public async Task<string[]> ListChannelsAsync(string collection, string experiment, CancellationToken ct)
    {
        ValidateName("collection", collection);
        ValidateName("experiment", experiment);
        return BossCollectionInfo.Strings(await GetJsonAsync($"v1/collection/{collection}/experiment/{experiment}/channel/", collection + "/" + experiment, ct).ConfigureAwait(false), "channels");
    }

    public async Task<BossCollectionInfo> GetCollectionAsync(string collection, CancellationToken ct)
    {
        ValidateName("collection", collection);
        return BossCollectionInfo.Parse(await GetJsonAsync($"v1/collection/{collection}/", collection, ct).ConfigureAwait(false));
    }

    public async Task<BossExperimentInfo> GetExperimentAsync(string collection, string experiment, CancellationToken ct)
    {
        ValidateName("collection", collection);
        ValidateName("experiment", experiment);
        return BossExperimentInfo.Parse(await GetJsonAsync($"v1/collection/{collection}/experiment/{experiment}/", collection + "/" + experiment, ct).ConfigureAwait(false));
    }

    public async Task<BossChannelInfo> GetChannelAsync(string collection, string experiment, string channel, CancellationToken ct)
    {
        ValidateName("collection", collection);
        ValidateName("experiment", experiment);
        ValidateName("channel", channel);
        return BossChannelInfo.Parse(await GetJsonAsync($"v1/collection/{collection}/experiment/{experiment}/channel/{channel}/", collection + "/" + experiment + "/" + channel, ct).ConfigureAwait(false));
    }

    public async Task<BossCoordinateFrameInfo> GetCoordinateFrameAsync(string name, CancellationToken ct)
    {
        ValidateName("coordinate frame", name);
        return BossCoordinateFrameInfo.Parse(await GetJsonAsync($"v1/coord/{name}/", name, ct).ConfigureAwait(false));
    }

    public async Task<BossDownsampleInfo> GetDownsampleAsync(string collection, string experiment, string channel, bool iso, CancellationToken ct)
    {
        ValidateName("collection", collection);
        ValidateName("experiment", experiment);
        ValidateName("channel", channel);
        string path = $"v1/downsample/{collection}/{experiment}/{channel}/" + (iso ? "?iso=true" : "");
        return BossDownsampleInfo.Parse(await GetJsonAsync(path, collection + "/" + experiment + "/" + channel, ct).ConfigureAwait(false), iso);
    }

    /// <summary>The distinct non-zero ids in a box of an annotation channel (/v1/ids/).</summary>
    public async Task<ulong[]> GetIdsAsync(string collection, string experiment, string channel, int resolution, Box3 box, int? time, CancellationToken ct)
    {
        string path = $"v1/ids/{collection}/{experiment}/{channel}/{resolution}/{Ranges(box)}/" + (time is int t ? $"{t}:{t + 1}/" : "");
        JsonElement json = await GetJsonAsync(path, collection + "/" + experiment + "/" + channel, ct).ConfigureAwait(false);
        string[] ids = BossCollectionInfo.Strings(json, "ids");
        var result = new ulong[ids.Length];
        for (int k = 0; k < ids.Length; k++)
        {
            if (!ulong.TryParse(ids[k], NumberStyles.None, CultureInfo.InvariantCulture, out result[k]))
            {
                throw new EngineException("BossPayloadCorrupt", EngineErrorKind.InvalidData, $"The BOSS ids answer holds '{ids[k]}', which is not a uint64.", path);
            }
        }

        Array.Sort(result);
        return result;
    }

    internal static string Ranges(Box3 box) => string.Format(
        CultureInfo.InvariantCulture,
        "{0}:{1}/{2}:{3}/{4}:{5}",
        box.Begin.X,
        box.End.X,
        box.Begin.Y,
        box.End.Y,
        box.Begin.Z,
        box.End.Z);

    /// <summary>"x 0:512, y 0:512, z 0:16" for messages.</summary>
    public static string Describe(Box3 box) => string.Format(
        CultureInfo.InvariantCulture,
        "x {0}:{1}, y {2}:{3}, z {4}:{5}",
        box.Begin.X,
        box.End.X,
        box.Begin.Y,
        box.End.Y,
        box.Begin.Z,
        box.End.Z);

    /// <summary>
    /// Downloads one cutout box (level coordinates) into <paramref name="destination"/> ([z][y][x],
    /// exactly box voxels × element bytes), with retries by outcome (README, 'Get-BossCutout and the BOSS resources').
    /// </summary>
    public async Task GetCutoutAsync(string collection, string experiment, string channel, int resolution, Box3 box, int? time, bool iso, VoxelType type, BossTransferFormat format, Memory<byte> destination, CancellationToken ct)
    {
        long expected = box.VoxelCount * VoxelTypes.SizeOf(type);
        if (destination.Length != expected)
        {
            throw new ArgumentException("The destination does not match the box.", nameof(destination));
        }

        string path = $"v1/cutout/{collection}/{experiment}/{channel}/{resolution}/{Ranges(box)}/" + (time is int t ? $"{t}:{t + 1}/" : "") + "?access-mode=no-cache" + (iso ? "&iso=true" : "");
        string what = $"block {Describe(box)} of {collection}/{experiment}/{channel} (level {resolution})";
        string accept = format == BossTransferFormat.Blosc ? "application/blosc" : "application/npygz";
        (Box3 First, Box3 Second)? halves = SplitBox(box);
        var budget = new CutoutBudget();
        RetryableFailure failure = await _retry.ExecuteAsync(
            async token =>
            {
                if (Volatile.Read(ref _failuresInARow) >= Options.CircuitBreakerThreshold)
                {
                    throw new EngineException(
                        "BossCircuitOpen",
                        EngineErrorKind.ConnectionError,
                        $"The BOSS server at {Connection.BaseUri.Host} failed {Options.CircuitBreakerThreshold} requests in a row; the download stops instead of retrying a server that is down. Try again later (-Resume keeps what was written).",
                        Describe(box));
                }

                await _slots.WaitAsync(token).ConfigureAwait(false);
                try
                {
                    return await TryCutoutOnceAsync(path, accept, what, box, type, time is not null, format, destination, token).ConfigureAwait(false);
                }
                finally
                {
                    _slots.Release();
                }
            },
            attempt => attempt.Exception is null && ShouldRetryCutout(attempt.Result, attempt.Attempts, budget, halves is not null),
            attempt => Monitor.Debug($"BOSS {what}: {attempt.Result.Exception?.Message} Retrying in {attempt.Delay.TotalSeconds:0.0} s (attempt {attempt.Attempts + 1})."),
            ct,
            f => f.RetryAfter).ConfigureAwait(false);

        if (failure.Exception is null)
        {
            Volatile.Write(ref _failuresInARow, 0);
            return;
        }

        if (budget.Split && halves is { } split)
        {
            Volatile.Write(ref _failuresInARow, 0);
            Monitor.Debug($"BOSS {what}: {failure.Exception.Message} Splitting it into {Describe(split.First)} and {Describe(split.Second)}.");
            await GetHalvesAsync(collection, experiment, channel, resolution, box, split, time, iso, type, format, destination, ct).ConfigureAwait(false);
            return;
        }

        throw failure.Exception;
    }

    /// <summary>What one block's attempts have used of each retry budget (transient, 500, 429, corrupt payload), and whether it is to be split.</summary>
    private sealed class CutoutBudget
    {
        public int Transient;
        public int ServerErrors;
        public int Throttled;
        public int Corrupt;
        public bool LastWasGatewayTimeout;
        public bool Split;
    }

    private bool ShouldRetryCutout(RetryableFailure failure, int attempts, CutoutBudget budget, bool canSplit)
    {
        if (failure.Exception is null)
        {
            return false;
        }

        // The breaker counts what a down server gives (no answer, resets, gateway errors), not
        // throttling, server bugs or bad payloads, which have their own limits.
        if (failure.Kind == FailureKind.Transient)
        {
            Interlocked.Increment(ref _failuresInARow);
        }

        // Too large for the server (413), or two gateway timeouts in a row for this block: the
        // server cannot assemble it in time, so it is asked for in two halves aligned to the
        // cuboid grid. A 413 for the smallest aligned block fails: a larger one will not do either.
        bool gatewayTimeout = failure.Status == 504;
        if (failure.Kind == FailureKind.TooLarge || (gatewayTimeout && budget.LastWasGatewayTimeout && canSplit))
        {
            budget.Split = canSplit;
            return false;
        }

        budget.LastWasGatewayTimeout = gatewayTimeout;
        (int used, int allowed) = failure.Kind switch
        {
            FailureKind.ServerError => (++budget.ServerErrors, Options.MaxServerErrorAttempts),
            FailureKind.Throttled => (++budget.Throttled, Options.MaxThrottleAttempts),
            FailureKind.Corrupt => (++budget.Corrupt, Options.MaxCorruptAttempts),
            _ => (++budget.Transient, Options.MaxAttempts),
        };
        return used < allowed && attempts < Options.MaxAttempts + Options.MaxServerErrorAttempts + Options.MaxThrottleAttempts;
    }

    /// <summary>
    /// The two halves of a block along its longest axis that can be split, cut at a multiple of the
    /// minimum block on that axis (so both halves stay aligned to the BOSS cuboids); null when no
    /// axis is longer than one minimum block.
    /// </summary>
    internal (Box3 First, Box3 Second)? SplitBox(Box3 box)
    {
        Int3 size = box.Size;
        Int3 unit = Options.MinimumSplitBlock;
        foreach (int axis in new[] { 0, 1, 2 }.OrderByDescending(a => size[a]))
        {
            int begin = box.Begin[axis], end = box.End[axis];
            int middle = begin + (size[axis] / 2);
            int aligned = (int)Math.Round(middle / (double)unit[axis], MidpointRounding.AwayFromZero) * unit[axis];
            if (aligned <= begin || aligned >= end)
            {
                aligned = ((begin / unit[axis]) + 1) * unit[axis];
            }

            if (aligned > begin && aligned < end && size[axis] > unit[axis])
            {
                Int3 firstEnd = box.End.With(axis, aligned);
                Int3 secondBegin = box.Begin.With(axis, aligned);
                return (new Box3(box.Begin, firstEnd), new Box3(secondBegin, box.End));
            }
        }

        return null;
    }

    private async Task GetHalvesAsync(string collection, string experiment, string channel, int resolution, Box3 box, (Box3 First, Box3 Second) halves, int? time, bool iso, VoxelType type, BossTransferFormat format, Memory<byte> destination, CancellationToken ct)
    {
        int element = VoxelTypes.SizeOf(type);
        foreach (Box3 half in new[] { halves.First, halves.Second })
        {
            int bytes = checked((int)(half.VoxelCount * element));
            byte[] buffer = EngineBuffers.Bytes.Rent(Math.Max(1, bytes));
            try
            {
                await GetCutoutAsync(collection, experiment, channel, resolution, half, time, iso, type, format, buffer.AsMemory(0, bytes), ct).ConfigureAwait(false);

                // Both are [z][y][x]: copy the half's rows into their place in the block.
                Int3 outer = box.Size, inner = half.Size;
                Span<byte> target = destination.Span;
                int row = inner.X * element;
                for (int z = 0; z < inner.Z; z++)
                {
                    for (int y = 0; y < inner.Y; y++)
                    {
                        long from = ((long)z * inner.Y + y) * inner.X * element;
                        long to = ((((long)(half.Begin.Z - box.Begin.Z + z) * outer.Y) + (half.Begin.Y - box.Begin.Y + y)) * outer.X + (half.Begin.X - box.Begin.X)) * element;
                        buffer.AsSpan((int)from, row).CopyTo(target.Slice((int)to, row));
                    }
                }
            }
            finally
            {
                EngineBuffers.Bytes.Return(buffer);
            }
        }
    }

    private enum FailureKind
    {
        None,
        Transient,
        ServerError,
        Throttled,
        Corrupt,
        TooLarge,
    }

    private readonly struct RetryableFailure
    {
        public RetryableFailure(FailureKind kind, EngineException exception, TimeSpan? retryAfter = null, int status = 0)
        {
            Kind = kind;
            Exception = exception;
            RetryAfter = retryAfter;
            Status = status;
        }

        /// <summary>The HTTP status, when the server answered.</summary>
        public int Status { get; }

        public FailureKind Kind { get; }

        public EngineException? Exception { get; }

        public TimeSpan? RetryAfter { get; }
    }

    private HttpRequestMessage NewRequest(string path, string accept)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Connection.BaseUri, path));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(accept));
        request.Headers.TryAddWithoutValidation("User-Agent", Options.UserAgent);
        if (Connection.Token is { } token)
        {
            request.Headers.TryAddWithoutValidation("Authorization", "Token " + token);
        }

        return request;
    }

    private async Task<RetryableFailure> TryCutoutOnceAsync(string path, string accept, string what, Box3 box, VoxelType type, bool hasTime, BossTransferFormat format, Memory<byte> destination, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Options.HeaderTimeout);
        Interlocked.Increment(ref _requests);
        HttpResponseMessage response;
        using HttpRequestMessage request = NewRequest(path, accept);
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new RetryableFailure(FailureKind.Transient, new EngineException("BossTimeout", EngineErrorKind.OperationTimeout, $"The BOSS server did not answer {what} within {Options.HeaderTimeout.TotalSeconds:0.#} s.", Describe(box)));
        }
        catch (HttpRequestException ex)
        {
            return new RetryableFailure(FailureKind.Transient, new EngineException("BossServerUnavailable", EngineErrorKind.ConnectionError, $"The connection to {Connection.BaseUri.Host} failed while requesting {what}: {Redact(ExceptionText.Full(ex))}", Describe(box), ex));
        }

        using (response)
        {
            int status = (int)response.StatusCode;
            string? contentType = response.Content.Headers.ContentType?.MediaType;
            if (status != 200)
            {
                string body = await ReadErrorBodyAsync(response, timeout.Token).ConfigureAwait(false);
                EngineException error = MapError(response, body, what, Describe(box));
                return status switch
                {
                    429 when !IsThrottledForGood(body) => new RetryableFailure(FailureKind.Throttled, error, RetryAfter(response)),
                    500 => new RetryableFailure(FailureKind.ServerError, error),
                    502 or 503 or 504 => new RetryableFailure(FailureKind.Transient, error, status: status),
                    413 => new RetryableFailure(FailureKind.TooLarge, error, status: status),
                    _ => throw error,
                };
            }

            if (!string.Equals(contentType, accept, StringComparison.OrdinalIgnoreCase))
            {
                return new RetryableFailure(FailureKind.Corrupt, new EngineException("BossPayloadCorrupt", EngineErrorKind.InvalidData, $"The BOSS server answered {what} with '{contentType}' instead of '{accept}'.", Describe(box)));
            }

            long expected = destination.Length;
            long limit = format == BossTransferFormat.Blosc ? expected + 16 + 8 * (expected / 128 + 64) + 65536 : expected + expected / 2 + 65536;
            long? declared = response.Content.Headers.ContentLength;
            if (declared > limit)
            {
                return new RetryableFailure(FailureKind.Corrupt, new EngineException("BossPayloadCorrupt", EngineErrorKind.InvalidData, $"The BOSS server answered {what} with {declared:N0} bytes, more than a payload of {expected:N0} bytes can take.", Describe(box)));
            }

            byte[]? body2 = null;
            int length = 0;
            try
            {
                try
                {
                    (body2, length) = await ReadBodyAsync(response, declared, limit, ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    return new RetryableFailure(FailureKind.Transient, new EngineException("BossTimeout", EngineErrorKind.OperationTimeout, $"The BOSS server stalled for more than {Options.StallTimeout.TotalSeconds:0.#} s while sending {what}.", Describe(box)));
                }
                catch (Exception ex) when (ex is IOException or HttpRequestException)
                {
                    return new RetryableFailure(FailureKind.Transient, new EngineException("BossServerUnavailable", EngineErrorKind.ConnectionError, $"The download of {what} broke off: {Redact(ExceptionText.Full(ex))}", Describe(box), ex));
                }

                if (body2 is null)
                {
                    return new RetryableFailure(FailureKind.Corrupt, new EngineException("BossPayloadCorrupt", EngineErrorKind.InvalidData, $"The BOSS answer for {what} is longer than any valid payload.", Describe(box)));
                }

                try
                {
                    if (format == BossTransferFormat.Blosc)
                    {
                        // Blocks in flight already use every core; one thread per frame avoids oversubscription.
                        BloscDecoder.Decode(body2.AsSpan(0, length), destination.Span, 1);
                    }
                    else
                    {
                        Int3 s = box.Size;
                        long[] shape = hasTime ? new long[] { 1, s.Z, s.Y, s.X } : new long[] { s.Z, s.Y, s.X };
                        using var stream = new MemoryStream(body2, 0, length, writable: false);
                        NpyGz.Decode(stream, type, shape, destination.Span);
                    }
                }
                catch (EngineException ex)
                {
                    var wrapped = new EngineException(ex.ErrorId, ex.Kind, $"The BOSS answer for {what} cannot be used. {ex.Message}", Describe(box), ex, ex.RecommendedAction);
                    if (ex.ErrorId == BloscDecoder.CorruptErrorId)
                    {
                        return new RetryableFailure(FailureKind.Corrupt, wrapped);
                    }

                    throw wrapped;
                }

                Interlocked.Increment(ref _successes);
                return default;
            }
            finally
            {
                if (body2 is not null)
                {
                    ArrayPool<byte>.Shared.Return(body2);
                }
            }
        }
    }

    private async Task<(byte[]? Buffer, int Length)> ReadBodyAsync(HttpResponseMessage response, long? declared, long limit, CancellationToken ct)
    {
        using Stream stream = await response.Content.ReadAsStreamAsync().ConfigureAwait(false);
        byte[] buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(limit, Math.Max(declared ?? 1 << 20, 4096)));
        int length = 0;
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(ct);
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (buffer.Length >= limit)
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                        return (null, 0);
                    }

                    byte[] bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(limit, (long)buffer.Length * 2));
                    Buffer.BlockCopy(buffer, 0, bigger, 0, length);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }

                stall.CancelAfter(Options.StallTimeout);
#if NET
                int read = await stream.ReadAsync(buffer.AsMemory(length), stall.Token).ConfigureAwait(false);
#else
                int read = await stream.ReadAsync(buffer, length, buffer.Length - length, stall.Token).ConfigureAwait(false);
#endif
                if (read == 0)
                {
                    break;
                }

                length += read;
            }
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }

        return (buffer, length);
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        RetryConditionHeaderValue? value = response.Headers.RetryAfter;
        if (value?.Delta is TimeSpan delta)
        {
            return delta < TimeSpan.FromMinutes(2) ? delta : TimeSpan.FromMinutes(2);
        }

        return null;
    }

    private async Task<JsonElement> GetJsonAsync(string path, string target, CancellationToken ct)
    {
        string resource = path.Split('?')[0];
        (JsonElement Json, EngineException? Failure) outcome = await _retry.ExecuteAsync(
            token => TryJsonOnceAsync(path, resource, target, token),
            attempt => attempt.Result.Failure is not null && attempt.Attempts < Math.Min(Options.MaxAttempts, 4),
            attempt => Monitor.Debug($"BOSS {resource}: {attempt.Result.Failure?.Message} Retrying in {attempt.Delay.TotalSeconds:0.0} s."),
            ct).ConfigureAwait(false);
        return outcome.Failure is null ? outcome.Json : throw outcome.Failure;
    }

    /// <summary>One metadata request: the document, or a failure worth another try (gateway errors, 429, timeouts, no connection); anything else throws.</summary>
    private async Task<(JsonElement Json, EngineException? Failure)> TryJsonOnceAsync(string path, string resource, string target, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Options.HeaderTimeout);
        try
        {
            Interlocked.Increment(ref _requests);
            using HttpRequestMessage request = NewRequest(path, "application/json");
            using HttpResponseMessage response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, timeout.Token).ConfigureAwait(false);
            string body = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
            int status = (int)response.StatusCode;
            if (status == 200)
            {
                try
                {
                    using JsonDocument doc = JsonDocument.Parse(body);
                    Interlocked.Increment(ref _successes);
                    return (doc.RootElement.Clone(), null);
                }
                catch (JsonException ex)
                {
                    throw new EngineException("BossPayloadCorrupt", EngineErrorKind.InvalidData, $"The BOSS server answered {path} with something that is not JSON.", target, ex);
                }
            }

            EngineException failure = MapError(response, body, resource, target);
            if (status is not (500 or 502 or 503 or 504 or 429) || (status == 429 && IsThrottledForGood(body)))
            {
                throw failure;
            }

            return (default, failure);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return (default, new EngineException("BossTimeout", EngineErrorKind.OperationTimeout, $"The BOSS server did not answer {resource} within {Options.HeaderTimeout.TotalSeconds:0.#} s.", target));
        }
        catch (HttpRequestException ex)
        {
            return (default, new EngineException("BossServerUnavailable", EngineErrorKind.ConnectionError, $"Cannot reach the BOSS server {Connection.BaseUri.GetLeftPart(UriPartial.Authority)}: {Redact(ExceptionText.Full(ex))}", Connection.BaseUri.ToString(), ex));
        }
    }

    private static async Task<string> ReadErrorBodyAsync(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            using Stream stream = await response.Content.ReadAsStreamAsync().ConfigureAwait(false);
            byte[] buffer = new byte[16384];
            int length = 0;
            while (length < buffer.Length)
            {
#if NET
                int read = await stream.ReadAsync(buffer.AsMemory(length), ct).ConfigureAwait(false);
#else
                int read = await stream.ReadAsync(buffer, length, buffer.Length - length, ct).ConfigureAwait(false);
#endif
                if (read == 0)
                {
                    break;
                }

                length += read;
            }

            return Encoding.UTF8.GetString(buffer, 0, length);
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException or OperationCanceledException)
        {
            return "";
        }
    }

    /// <summary>Turns a non-200 answer into an error id by status (BossAuthenticationFailed, BossThrottled, ...), quoting the server's own message (JSON or a stripped snippet).</summary>
    internal EngineException MapError(HttpResponseMessage response, string body, string what, object target)
    {
        int status = (int)response.StatusCode;
        string? contentType = response.Content.Headers.ContentType?.MediaType;
        string message = "";
        int code = 0;
        if (string.Equals(contentType, "application/json", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                using JsonDocument doc = JsonDocument.Parse(body);
                JsonElement root = doc.RootElement;
                if (root.ValueKind == JsonValueKind.Object)
                {
                    message = BossCollectionInfo.Str(root, "message");
                    if (message.Length == 0)
                    {
                        message = BossCollectionInfo.Str(root, "detail");
                    }

                    code = BossCollectionInfo.Int(root, "code");
                }
            }
            catch (JsonException)
            {
                message = Snippet(Redact(body));
            }
        }
        else
        {
            message = Snippet(Redact(body));
        }

        // A server may echo what it got, in any part of its answer: the token never reaches a
        // message, whole or cut (every string from the network is redacted before it is shortened).
        message = Redact(message);
        string quoted = message.Length > 0 ? $" The server said: \"{message}\"" + (code != 0 ? $" (code {code})." : ".") : "";
        string head = $"The BOSS server answered {what} with {status} {Redact(response.ReasonPhrase ?? "")}.";
        if (status is >= 300 and < 400)
        {
            string location = Redact(response.Headers.Location?.ToString() ?? "(no location)");
            return new EngineException("BossRedirected", EngineErrorKind.InvalidOperation, head + $" It redirects to {location}; redirects are not followed so the token never leaves the configured host. Use that address as -BaseUri.", Connection.BaseUri.ToString());
        }

        bool authFailure = status == 401 || (status == 403 && code == 3004 && Interlocked.Read(ref _successes) == 0);
        return status switch
        {
            _ when authFailure => new EngineException("BossAuthenticationFailed", EngineErrorKind.AuthenticationError, head + quoted + " Check the token (-Token, -Credential, -ConfigFile, ~/.intern/intern.cfg, INTERN_TOKEN or BOSS_TOKEN).", Connection.BaseUri.ToString()),
            403 => new EngineException("BossPermissionDenied", EngineErrorKind.PermissionDenied, head + quoted, target),
            404 => new EngineException("BossResourceNotFound", EngineErrorKind.ObjectNotFound, head + quoted, target),
            413 => new EngineException("BossRequestTooLarge", EngineErrorKind.LimitsExceeded, head + quoted + " Use a smaller -BlockShape.", target),
            429 => new EngineException("BossThrottled", EngineErrorKind.QuotaExceeded, head + quoted, target),
            500 => new EngineException("BossServerError", EngineErrorKind.ConnectionError, head + quoted, target),
            502 or 503 or 504 => new EngineException("BossServerUnavailable", EngineErrorKind.ConnectionError, head + quoted, target),
            _ => new EngineException("BossBadRequest", EngineErrorKind.InvalidArgument, head + quoted, target),
        };
    }

    /// <summary>
    /// The BOSS egress budget answers "User is throttled. Expected available tomorrow.": it resets
    /// much later, so the run stops at once. Other 429s (rate limits) are retried.
    /// </summary>
    private static bool IsThrottledForGood(string body) =>
        body.IndexOf("User is throttled", StringComparison.OrdinalIgnoreCase) >= 0 || body.IndexOf("tomorrow", StringComparison.OrdinalIgnoreCase) >= 0;

    /// <summary>The text with the token, and any run of 6 or more of its characters (a cut or partly echoed token), replaced by ***.</summary>
    internal string Redact(string text) => RedactSecret(text, Connection.Token);

    internal static string RedactSecret(string text, string? secret, int minimumRun = 6)
    {
        if (secret is null || secret.Length < minimumRun || text.Length < minimumRun)
        {
            return text;
        }

        var result = new System.Text.StringBuilder(text.Length);
        int i = 0;
        while (i < text.Length)
        {
            int longest = 0;
            for (int j = 0; j < secret.Length && longest < secret.Length - j; j++)
            {
                int k = 0;
                while (i + k < text.Length && j + k < secret.Length && text[i + k] == secret[j + k])
                {
                    k++;
                }

                longest = Math.Max(longest, k);
            }

            if (longest >= minimumRun)
            {
                result.Append("***");
                i += longest;
            }
            else
            {
                result.Append(text[i]);
                i++;
            }
        }

        return result.ToString();
    }

    private static string Snippet(string body)
    {
        string text = s_tags.Replace(body, " ");
        text = Regex.Replace(text, "\\s+", " ").Trim();
        return text.Length > 200 ? text.Substring(0, 200) + "..." : text;
    }
}
