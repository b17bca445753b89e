using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using Amazon;
using Amazon.Runtime;
using Amazon.Runtime.CredentialManagement;
using Amazon.Runtime.Credentials;
using Amazon.S3;
using Amazon.S3.Model;

namespace PrecomputedTools.Engine.Storage;

/// <summary>How to reach S3 or an S3-compatible server: region, endpoint and credentials, as Publish-PrecomputedS3 and AWS.Tools take them.</summary>
public sealed class S3ConnectionOptions
{
    /// <summary>The public endpoint of Google Cloud Storage's S3-compatible (interoperability) API, used for gs:// locations.</summary>
    public static readonly Uri GoogleStorageEndpoint = new("https://storage.googleapis.com");

    /// <summary>AWS region (for AWS) or the signing region (for other endpoints; default us-east-1).</summary>
    public string? Region { get; set; }

    /// <summary>An S3-compatible endpoint ("http://127.0.0.1:4568"); requests then use path style. Null for AWS itself.</summary>
    public Uri? EndpointUrl { get; set; }

    /// <summary>A profile of the shared AWS credentials/config files.</summary>
    public string? ProfileName { get; set; }

    public string? AccessKey { get; set; }

    public string? SecretKey { get; set; }

    public string? SessionToken { get; set; }

    /// <summary>Requests in flight at once.</summary>
    public int MaxInFlight { get; set; } = 16;

    /// <summary>Attempts per request for transient failures (the first try included), through the engine's retry policy.</summary>
    public int MaxAttempts { get; set; } = 5;

    public S3ConnectionOptions Clone() => (S3ConnectionOptions)MemberwiseClone();

    /// <summary>
    /// The one place the module turns connection settings into an S3 client (S3Store, S3Publisher
    /// and DependencyProbe all come here), with the rules every S3 path shares: plain (non
    /// aws-chunked) bodies and no checksum trailers, which S3-compatible servers store verbatim;
    /// path style for endpoints; no retries of the SDK's own (the engine's retry policy does them,
    /// once); one connection per request in flight.
    /// </summary>
    public AmazonS3Client CreateClient(out string signingRegion)
    {
        signingRegion = Region is { Length: > 0 } r ? r : "us-east-1";
        var config = new AmazonS3Config
        {
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            MaxErrorRetry = 0,
            Timeout = TimeSpan.FromMinutes(5),
            MaxConnectionsPerServer = Math.Max(MaxInFlight, 2),
        };
        if (EndpointUrl is not null)
        {
            config.ServiceURL = EndpointUrl.ToString();
            config.ForcePathStyle = true;
            config.AuthenticationRegion = signingRegion;
        }
        else if (Region is { Length: > 0 })
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(Region);
        }
        else
        {
            signingRegion = config.RegionEndpoint?.SystemName ?? "us-east-1";
        }

        return new AmazonS3Client(ResolveCredentials(config), config);
    }

    private AWSCredentials ResolveCredentials(AmazonS3Config config)
    {
        if (AccessKey is { Length: > 0 })
        {
            return SessionToken is { Length: > 0 }
                ? new SessionAWSCredentials(AccessKey, SecretKey ?? "", SessionToken)
                : new BasicAWSCredentials(AccessKey, SecretKey ?? "");
        }

        if (ProfileName is { Length: > 0 })
        {
            if (new CredentialProfileStoreChain().TryGetAWSCredentials(ProfileName, out AWSCredentials profileCredentials))
            {
                return profileCredentials;
            }

            throw new EngineException("S3ProfileNotFound", EngineErrorKind.ObjectNotFound, $"No AWS credentials profile named '{ProfileName}' was found in the shared credentials or config files.", ProfileName);
        }

        try
        {
            return DefaultAWSCredentialsIdentityResolver.GetCredentials(config);
        }
        catch (AmazonClientException ex)
        {
            throw new EngineException(
                "S3CredentialsNotFound",
                EngineErrorKind.AuthenticationError,
                "No AWS credentials were found (environment, shared credentials file, or instance role): " + ex.Message,
                null,
                ex,
                "Give -Credential or -ProfileName, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.");
        }
    }
}

/// <summary>
/// A dataset under an S3 prefix (or an S3-compatible server's, or Google Cloud Storage's through its
/// S3-interoperable endpoint). Each object is one PUT, atomic by nature; gzip-encoded objects keep
/// the plain key with <c>Content-Encoding: gzip</c>, info and manifests are <c>application/json</c>,
/// exactly as Publish-PrecomputedS3 uploads them, so the viewer reads the result directly.
/// Writes are uploaded behind the caller (write-behind), at most <see cref="S3ConnectionOptions.MaxInFlight"/>
/// at once, so encoding threads never wait on the network and memory is bounded by the requests in
/// flight; <see cref="Flush"/> waits for them and reports the first failure, and any read waits
/// for the writes before it (read-your-writes).
/// </summary>
public sealed class S3Store : IObjectStore
{
    private readonly AmazonS3Client _client;
    private readonly SemaphoreSlim _inFlight;
    private readonly string _prefix;
    private readonly string _scheme;
    private readonly S3ConnectionOptions _options;
    private readonly object _pendingGate = new();
    private readonly HashSet<Task> _pending = new();
    private EngineException? _writeFailure;
    private int _bucketChecked;
    private readonly RetryPolicy _retry;

    public S3Store(string bucket, string prefix, S3ConnectionOptions options, string scheme = "s3")
    {
        if (string.IsNullOrWhiteSpace(bucket))
        {
            throw new EngineException("S3BucketNameMissing", EngineErrorKind.InvalidArgument, "A bucket name is required.");
        }

        Bucket = bucket;
        _prefix = (prefix ?? "").Replace('\\', '/').Trim('/');
        _scheme = scheme;
        _options = options.Clone();
        _client = _options.CreateClient(out string region);
        _retry = new RetryPolicy(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10));
        SigningRegion = region;
        _inFlight = new SemaphoreSlim(Math.Max(1, _options.MaxInFlight));
    }

    public string Bucket { get; }

    /// <summary>Key prefix of the dataset without slashes at either end ("" for the bucket root).</summary>
    public string Prefix => _prefix;

    public string SigningRegion { get; }

    /// <summary>PUT requests sent (every attempt counts, as S3 bills them).</summary>
    public long PutRequests => Interlocked.Read(ref _putRequests);

    private long _putRequests;

    public S3ConnectionOptions Connection => _options.Clone();

    public string Location => _scheme + "://" + Bucket + (_prefix.Length == 0 ? "" : "/" + _prefix);

    public StoreKind Kind => StoreKind.S3;

    public bool CanWrite => true;

    public bool CanList => true;

    /// <summary>The http(s) URL of the dataset: path style on endpoints, regional virtual-hosted on AWS.</summary>
    public string HttpUrl => HttpUrlOf(_options.EndpointUrl, Bucket, _prefix, SigningRegion);

    /// <summary>
    /// The http(s) URL of <paramref name="prefix"/> in <paramref name="bucket"/> (no trailing slash):
    /// path style on an endpoint and for bucket names with dots (they break TLS in the
    /// virtual-hosted form), regional virtual-hosted on AWS otherwise.
    /// </summary>
    public static string HttpUrlOf(Uri? endpointUrl, string bucket, string prefix, string region)
    {
        string path = string.Join("/", prefix.Split(new[] { '/' }, StringSplitOptions.RemoveEmptyEntries).Select(Uri.EscapeDataString));
        string suffix = path.Length == 0 ? "" : "/" + path;
        if (endpointUrl is not null)
        {
            return endpointUrl.ToString().TrimEnd('/') + "/" + Uri.EscapeDataString(bucket) + suffix;
        }

        return bucket.IndexOf('.') >= 0
            ? $"https://s3.{region}.amazonaws.com/{bucket}{suffix}"
            : $"https://{bucket}.s3.{region}.amazonaws.com{suffix}";
    }

    private string FullKey(string key) => ObjectNames.Join(_prefix, key);

    private string Target(string key) => Location + "/" + key;

    /// <summary>Fails with S3BucketNotFound / S3AccessDenied before anything is written when the bucket cannot be used.</summary>
    public void CheckBucket(CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _bucketChecked) == 1)
        {
            return;
        }

        Call(() => _client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = Bucket, Prefix = _prefix.Length == 0 ? "" : _prefix + "/", MaxKeys = 1 }, cancellationToken), Location, "read the bucket", cancellationToken);
        Volatile.Write(ref _bucketChecked, 1);
    }

    /// <summary>Creates the bucket when it does not exist; true when it was created.</summary>
    public bool EnsureBucket(CancellationToken cancellationToken = default)
    {
        try
        {
            CheckBucket(cancellationToken);
            return false;
        }
        catch (EngineException ex) when (ex.ErrorId == "S3BucketNotFound")
        {
            var request = new PutBucketRequest { BucketName = Bucket };
            if (_options.EndpointUrl is null && SigningRegion != "us-east-1")
            {
                request.BucketRegionName = SigningRegion;
            }

            Call(() => _client.PutBucketAsync(request, cancellationToken), Location, "create the bucket", cancellationToken);
            Volatile.Write(ref _bucketChecked, 1);
            return true;
        }
    }

    public PooledBytes? Read(string key, int maxLength, CancellationToken cancellationToken = default)
    {
        WaitForPendingWrites();
        using GetObjectResponse? response = CallOrNotFound(() => _client.GetObjectAsync(new GetObjectRequest { BucketName = Bucket, Key = FullKey(key) }, cancellationToken), Target(key), "read", cancellationToken);
        if (response is null)
        {
            return null;
        }

        bool gzip = IsGzipEncoding(response.Headers.ContentEncoding);
        try
        {
            return ObjectContent.ReadAll(response.ResponseStream, gzip, maxLength, response.ContentLength, Target(key));
        }
        catch (Exception ex) when (ex is IOException or AmazonClientException)
        {
            throw S3Errors.Map(ex, Target(key), Bucket, "read");
        }
    }

    public byte[]? ReadRange(string key, long offset, int length, CancellationToken cancellationToken = default)
    {
        WaitForPendingWrites();
        if (length <= 0)
        {
            return Array.Empty<byte>();
        }

        var request = new GetObjectRequest { BucketName = Bucket, Key = FullKey(key), ByteRange = new ByteRange(offset, offset + length - 1) };
        GetObjectResponse? response;
        try
        {
            response = CallOrNotFound(() => _client.GetObjectAsync(request, cancellationToken), Target(key), "read", cancellationToken);
        }
        catch (EngineException ex) when (ex.InnerException is AmazonS3Exception { StatusCode: HttpStatusCode.RequestedRangeNotSatisfiable })
        {
            return Array.Empty<byte>();
        }

        if (response is null)
        {
            return null;
        }

        using (response)
        {
            using var buffer = new MemoryStream();
            response.ResponseStream.CopyTo(buffer);
            return buffer.ToArray();
        }
    }

    public StoredObject? Stat(string key, CancellationToken cancellationToken = default)
    {
        WaitForPendingWrites();
        GetObjectMetadataResponse? head = CallOrNotFound(() => _client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = Bucket, Key = FullKey(key) }, cancellationToken), Target(key), "read", cancellationToken);
        return head is null ? null : new StoredObject(key, head.ContentLength, IsGzipEncoding(head.Headers.ContentEncoding));
    }

    public void Write(string key, ReadOnlySpan<byte> content, bool gzip, CancellationToken cancellationToken = default)
    {
        byte[] body;
        if (gzip)
        {
            using var buffer = new MemoryStream();
            using (var zip = new GZipStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
            {
                AtomicFile.WriteTo(zip, content);
            }

            body = buffer.ToArray();
        }
        else
        {
            body = content.ToArray();
        }

        Put(key, body, gzip, cancellationToken);
    }

    public IObjectWriter OpenWrite(string key, bool gzip) => new BufferedWriter(this, key, gzip);

    public bool Delete(string key, CancellationToken cancellationToken = default)
    {
        WaitForPendingWrites();
        if (Stat(key, cancellationToken) is null)
        {
            return false;
        }

        Call(() => _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = Bucket, Key = FullKey(key) }, cancellationToken), Target(key), "delete", cancellationToken);
        return true;
    }

    public IEnumerable<StoredObject> List(string prefix, CancellationToken cancellationToken = default)
    {
        WaitForPendingWrites();
        string full = _prefix.Length == 0 ? prefix : _prefix + "/" + prefix;
        int strip = _prefix.Length == 0 ? 0 : _prefix.Length + 1;
        string? token = null;
        do
        {
            var request = new ListObjectsV2Request { BucketName = Bucket, Prefix = full, ContinuationToken = token };
            ListObjectsV2Response page = Call(() => _client.ListObjectsV2Async(request, cancellationToken), Location + "/" + prefix, "list", cancellationToken);
            foreach (S3Object o in page.S3Objects ?? new List<S3Object>())
            {
                yield return new StoredObject(o.Key.Substring(strip), o.Size ?? 0, null);
            }

            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (token is not null);
    }

    public int RemoveIncompleteWrites() => 0; // a PUT is atomic: an interrupted one leaves nothing

    /// <summary>Waits for every upload started so far; throws the first failure (once).</summary>
    public void Flush()
    {
        WaitForPendingWrites();
        EngineException? failure = Interlocked.Exchange(ref _writeFailure, null);
        if (failure is not null)
        {
            throw failure;
        }
    }

    public void Dispose()
    {
        // No upload may run on a disposed client: wait for them (a failure was reported by Flush, or
        // the run failed earlier and never wrote its info).
        Task[] pending;
        lock (_pendingGate)
        {
            pending = _pending.ToArray();
        }

        Task.WhenAll(pending).ContinueWith(_ => { }, TaskScheduler.Default).Wait();
        _client.Dispose();
        _inFlight.Dispose();
    }

    private void WaitForPendingWrites()
    {
        Task[] pending;
        lock (_pendingGate)
        {
            if (_pending.Count == 0)
            {
                return;
            }

            pending = _pending.ToArray();
        }

        // Failures are recorded by the uploads themselves and thrown by Flush or the next Write.
        Task.WhenAll(pending).ContinueWith(_ => { }, TaskScheduler.Default).Wait();
    }

    public override string ToString() => Location;

    // Starts the upload and returns once it holds one of the in-flight slots.
    private void Put(string key, byte[] body, bool gzip, CancellationToken cancellationToken)
    {
        EngineException? failure = Interlocked.Exchange(ref _writeFailure, null);
        if (failure is not null)
        {
            throw failure;
        }

        string full = FullKey(key);
#pragma warning disable CA5351 // MD5 is S3's integrity check (Content-MD5), not security.
        using var md5 = MD5.Create();
        string digest = Convert.ToBase64String(md5.ComputeHash(body));
#pragma warning restore CA5351
        _inFlight.Wait(cancellationToken);
        Task upload = Task.Run(
            async () =>
            {
                int attempts = 0;
                try
                {
                    // A fresh request (and body stream) per attempt.
                    await Retried(
                        token =>
                        {
                            attempts++;
                            Interlocked.Increment(ref _putRequests);
                            var request = new PutObjectRequest
                            {
                                BucketName = Bucket,
                                Key = full,
                                InputStream = new MemoryStream(body, writable: false),
                                AutoCloseStream = true,
                                ContentType = ObjectNames.ContentType(key),
                                UseChunkEncoding = false,
                                MD5Digest = digest,
                            };
                            if (gzip)
                            {
                                request.Headers.ContentEncoding = "gzip";
                            }

                            request.Headers.CacheControl = ObjectNames.CacheControl(key);

                            return _client.PutObjectAsync(request, token);
                        },
                        cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    EngineException mapped = ex is OperationCanceledException && cancellationToken.IsCancellationRequested
                        ? new EngineException("S3UploadCancelled", EngineErrorKind.WriteError, $"The upload of {Target(key)} was cancelled.", Target(key), ex)
                        : S3Errors.Map(ex, Target(key), Bucket, "write", "S3UploadFailed", attempts);
                    Interlocked.CompareExchange(ref _writeFailure, mapped, null);
                }
                finally
                {
                    _inFlight.Release();
                }
            },
            CancellationToken.None);
        lock (_pendingGate)
        {
            _pending.Add(upload);
        }

        upload.ContinueWith(
            t =>
            {
                lock (_pendingGate)
                {
                    _pending.Remove(t);
                }
            },
            TaskScheduler.Default);
    }

    private static bool IsGzipEncoding(string? encoding) =>
        encoding is not null && encoding.IndexOf("gzip", StringComparison.OrdinalIgnoreCase) >= 0;

    private T Call<T>(Func<Task<T>> request, string target, string action, CancellationToken cancellationToken)
    {
        _inFlight.Wait(cancellationToken);
        int attempts = 0;
        try
        {
            return Retried(
                _ =>
                {
                    attempts++;
                    return request();
                },
                cancellationToken).GetAwaiter().GetResult();
        }
        catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            throw S3Errors.Map(ex, target, Bucket, action, attempts: attempts);
        }
        finally
        {
            _inFlight.Release();
        }
    }

    /// <summary>A request with retries of transient failures (a missing object is an answer, not a failure).</summary>
    private Task<T> Retried<T>(Func<CancellationToken, Task<T>> request, CancellationToken cancellationToken) =>
        _retry.ExecuteAsync(request, Math.Max(1, _options.MaxAttempts), S3Errors.IsTransient, null, cancellationToken);

    private T? CallOrNotFound<T>(Func<Task<T>> request, string target, string action, CancellationToken cancellationToken)
        where T : class
    {
        try
        {
            return Call(request, target, action, cancellationToken);
        }
        catch (EngineException ex) when (ex.ErrorId == "S3ObjectNotFound")
        {
            return null;
        }
    }

    private sealed class BufferedWriter : IObjectWriter
    {
        private readonly S3Store _store;
        private readonly string _key;
        private readonly bool _gzip;
        private readonly MemoryStream _buffer = new();
        private readonly Stream _stream;

        public BufferedWriter(S3Store store, string key, bool gzip)
        {
            _store = store;
            _key = key;
            _gzip = gzip;
            _stream = gzip ? new GZipStream(_buffer, CompressionLevel.Optimal, leaveOpen: true) : _buffer;
        }

        public void Write(ReadOnlySpan<byte> data) => AtomicFile.WriteTo(_stream, data);

        public void Commit()
        {
            if (!ReferenceEquals(_stream, _buffer))
            {
                _stream.Dispose();
            }

            _store.Put(_key, _buffer.ToArray(), _gzip, CancellationToken.None);
        }

        public void Dispose()
        {
            _stream.Dispose();
            _buffer.Dispose();
        }
    }
}

/// <summary>S3 failures as errors with stable ids, and which of them are worth another try.</summary>
public static class S3Errors
{
    /// <summary>Server errors, throttling, timeouts and dropped connections: another attempt may succeed.</summary>
    public static bool IsTransient(Exception ex) => ex switch
    {
        AmazonS3Exception s3 => (int)s3.StatusCode >= 500 || (int)s3.StatusCode == 429 || s3.StatusCode == HttpStatusCode.RequestTimeout
            || s3.ErrorCode is "SlowDown" or "RequestTimeout" or "InternalError" or "ServiceUnavailable" or "BadDigest" || (s3.StatusCode == 0 && s3.InnerException is not null),
        AmazonServiceException service => (int)service.StatusCode >= 500 || (int)service.StatusCode == 429 || (service.StatusCode == 0 && service.InnerException is not null),
        HttpRequestException or IOException or SocketException or TimeoutException => true,
        OperationCanceledException => true, // an HTTP timeout, not the caller's token (the retry policy never retries a cancelled call)
        AmazonClientException client => client.InnerException is HttpRequestException or IOException or SocketException or WebException,
        _ => false,
    };

    /// <summary>A failure in a few words for a debug line.</summary>
    public static string Describe(Exception ex) => ex switch
    {
        AmazonServiceException service => $"HTTP {(int)service.StatusCode} {service.ErrorCode}, request id {service.RequestId}",
        _ => ex.GetType().Name + ": " + ex.Message,
    };

    public static EngineException Map(Exception ex, string target, string bucket, string action, string fallbackId = "S3RequestFailed", int attempts = 1)
    {
        string tries = attempts > 1 ? $" after {attempts} attempts" : "";
        switch (ex)
        {
            case EngineException engine:
                return engine;
            case AmazonServiceException service when service.ErrorCode is "InvalidAccessKeyId" or "SignatureDoesNotMatch" or "ExpiredToken" or "InvalidToken":
                return new EngineException("S3AuthenticationFailed", EngineErrorKind.AuthenticationError, $"Could not {action} {target}: the credentials were rejected ({service.ErrorCode}, request id {service.RequestId}).", target, ex);
            case AmazonServiceException service when service.ErrorCode == "NoSuchBucket":
                return new EngineException("S3BucketNotFound", EngineErrorKind.ObjectNotFound, $"Could not {action} {target}: the bucket '{bucket}' does not exist (request id {service.RequestId}).", target, ex, "Create the bucket first (Copy-PrecomputedDataset creates it), or check its name and -EndpointUrl.");
            case AmazonServiceException service when service.StatusCode == HttpStatusCode.Forbidden:
                return new EngineException("S3AccessDenied", EngineErrorKind.PermissionDenied, $"Could not {action} {target}: access denied ({service.ErrorCode}, request id {service.RequestId}).", target, ex);
            case AmazonServiceException service when service.StatusCode == HttpStatusCode.NotFound || service.ErrorCode == "NoSuchKey":
                return new EngineException("S3ObjectNotFound", EngineErrorKind.ObjectNotFound, $"{target} does not exist.", target, ex);
            case AmazonServiceException service when service.StatusCode != 0:
                return new EngineException(fallbackId, EngineErrorKind.WriteError, $"Could not {action} {target}{tries}: HTTP {(int)service.StatusCode} {service.ErrorCode}: {service.Message} (request id {service.RequestId}).", target, ex);
            default:
                for (Exception? inner = ex; inner is not null; inner = inner.InnerException)
                {
                    if (inner is SocketException socket)
                    {
                        return new EngineException("S3EndpointUnreachable", EngineErrorKind.ConnectionError, $"Could not {action} {target}{tries}: {socket.Message}", target, ex);
                    }
                }

                return new EngineException(fallbackId, EngineErrorKind.WriteError, $"Could not {action} {target}{tries}: {ExceptionText.Full(ex)}", target, ex);
        }
    }
}
