using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Amazon.S3;
using Amazon.S3.Model;
using PrecomputedTools.Engine.Storage;

namespace PrecomputedTools.Engine.Publishing;

/// <summary>Where and how to publish. No AWSSDK type appears here, so the cmdlet layer can fill it.</summary>
public sealed class S3PublishOptions
{
    public string BucketName { get; set; } = "";

    /// <summary>Key prefix of the dataset ("datasets/zbrain"); a trailing '/' is added when missing.</summary>
    public string KeyPrefix { get; set; } = "";

    /// <summary>AWS region (for AWS) or the signing region (for other endpoints; default us-east-1).</summary>
    public string? Region { get; set; }

    /// <summary>An S3-compatible endpoint ("http://127.0.0.1:4568"). Null for AWS itself.</summary>
    public Uri? EndpointUrl { get; set; }

    /// <summary>A profile of the shared AWS credentials/config files.</summary>
    public string? ProfileName { get; set; }

    public string? AccessKey { get; set; }

    public string? SecretKey { get; set; }

    public string? SessionToken { get; set; }

    /// <summary>Uploads in flight at once.</summary>
    public int ThrottleLimit { get; set; } = 16;

    /// <summary>Upload every object, even those whose size and MD5 already match.</summary>
    public bool Force { get; set; }

    /// <summary>Create the bucket when it does not exist.</summary>
    public bool CreateBucket { get; set; } = true;

    /// <summary>Attempts per object (the first try included) for transient failures.</summary>
    public int MaxAttempts { get; set; } = 5;

    /// <summary>Delay before the first retry; doubled for each further one (with jitter).</summary>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>After this many objects have failed for good, the rest are not attempted.</summary>
    public int MaxFailures { get; set; } = 10;

    /// <summary>Read back this many objects (one of each kind first) and compare bytes and headers.</summary>
    public int VerifyCount { get; set; } = 4;

    /// <summary>The connection part of these options, so the publisher's client is built exactly as the stores' are.</summary>
    internal S3ConnectionOptions ToConnectionOptions() => new()
    {
        Region = Region,
        EndpointUrl = EndpointUrl,
        ProfileName = ProfileName,
        AccessKey = AccessKey,
        SecretKey = SecretKey,
        SessionToken = SessionToken,
        // One connection per upload in flight.
        MaxInFlight = ThrottleLimit,
        MaxAttempts = MaxAttempts,
    };

    internal string NormalizedPrefix
    {
        get
        {
            string p = (KeyPrefix ?? "").Replace('\\', '/').Trim('/');
            return p.Length == 0 ? "" : p + "/";
        }
    }
}

/// <summary>What a publish run did.</summary>
public sealed class S3PublishResult
{
    public string BucketName { get; internal set; } = "";

    /// <summary>The key prefix with a trailing '/', or "" for the bucket root.</summary>
    public string KeyPrefix { get; internal set; } = "";

    public int ObjectCount { get; internal set; }

    public int UploadedCount { get; internal set; }

    public int SkippedCount { get; internal set; }

    public long UploadedBytes { get; internal set; }

    public long TotalBytes { get; internal set; }

    public int VerifiedCount { get; internal set; }

    public bool BucketCreated { get; internal set; }

    public TimeSpan Elapsed { get; internal set; }

    /// <summary>The dataset's URL over http(s): regional virtual-hosted on AWS, path style on other endpoints.</summary>
    public string Url { get; internal set; } = "";

    /// <summary>"s3://bucket/prefix".</summary>
    public string S3Uri { get; internal set; } = "";

    /// <summary>The neuroglancer data source: "precomputed://" + <see cref="Url"/>.</summary>
    public string Source { get; internal set; } = "";
}

/// <summary>
/// Uploads a dataset to S3 or an S3-compatible store with the rules of README, 'Publish-PrecomputedS3': keys without
/// ".gz", Content-Encoding from the bytes, explicit Content-Type, manifests as "&lt;id&gt;:0", plain
/// (non aws-chunked) bodies, many uploads in flight, unchanged objects skipped, retries with backoff.
/// </summary>
public sealed class S3Publisher : IDisposable
{
    internal static readonly string[] CorsExposeHeaders = { "ETag", "Content-Range", "Content-Encoding", "Content-Length" };

    private readonly S3PublishOptions _options;
    private readonly AmazonS3Client _client;
    private readonly RetryPolicy _retry;
    private readonly string _prefix;
    private readonly string _region;

    public S3Publisher(S3PublishOptions options)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        if (string.IsNullOrWhiteSpace(options.BucketName))
        {
            throw new EngineException("S3BucketNameMissing", EngineErrorKind.InvalidArgument, "A bucket name is required.");
        }

        _prefix = options.NormalizedPrefix;
        _client = options.ToConnectionOptions().CreateClient(out _region);
        _retry = new RetryPolicy(options.InitialBackoff, TimeSpan.FromSeconds(10));
    }

    public string BucketName => _options.BucketName;

    public string KeyPrefix => _prefix;

    /// <summary>The http(s) URL of the prefix (no trailing slash).</summary>
    public string DatasetUrl => S3Store.HttpUrlOf(_options.EndpointUrl, _options.BucketName, _prefix, _region);

    public string S3Uri => FormatS3Uri(_options.BucketName, _prefix);

    /// <summary>"s3://bucket/prefix" for a bucket and a key prefix (normalised as the publisher does).</summary>
    public static string FormatS3Uri(string bucketName, string? keyPrefix) =>
        "s3://" + bucketName + "/" + new S3PublishOptions { KeyPrefix = keyPrefix ?? "" }.NormalizedPrefix.TrimEnd('/');

    public void Dispose() => _client.Dispose();

    /// <summary>The bucket policy that lets anyone read (only) the objects under the prefix.</summary>
    public static string BuildPublicReadPolicy(string bucketName, string keyPrefix)
    {
        string prefix = (keyPrefix ?? "").Replace('\\', '/').Trim('/');
        string resource = "arn:aws:s3:::" + bucketName + "/" + (prefix.Length == 0 ? "" : prefix + "/") + "*";
        using var buffer = new MemoryStream();
        using (var writer = new System.Text.Json.Utf8JsonWriter(buffer, new System.Text.Json.JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteString("Version", "2012-10-17");
            writer.WriteStartArray("Statement");
            writer.WriteStartObject();
            writer.WriteString("Sid", "PrecomputedToolsPublicRead");
            writer.WriteString("Effect", "Allow");
            writer.WriteString("Principal", "*");
            writer.WriteString("Action", "s3:GetObject");
            writer.WriteString("Resource", resource);
            writer.WriteEndObject();
            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Creates the bucket if it does not exist; true when it was created.</summary>
    public async Task<bool> EnsureBucketAsync(OperationMonitor monitor, CancellationToken cancellationToken)
    {
        try
        {
            await _client.GetBucketLocationAsync(new GetBucketLocationRequest { BucketName = _options.BucketName }, cancellationToken).ConfigureAwait(false);
            return false;
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound || ex.ErrorCode == "NoSuchBucket")
        {
            if (!_options.CreateBucket)
            {
                throw new EngineException("S3BucketNotFound", EngineErrorKind.ObjectNotFound, $"The bucket '{_options.BucketName}' does not exist.", "s3://" + _options.BucketName, ex);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            throw S3Errors.Map(ex, "s3://" + _options.BucketName, _options.BucketName, "read the bucket");
        }

        monitor.Verbose($"Creating bucket '{_options.BucketName}'.");
        try
        {
            var request = new PutBucketRequest { BucketName = _options.BucketName };
            if (_options.EndpointUrl is null && _region != "us-east-1")
            {
                request.BucketRegionName = _region;
            }

            await _client.PutBucketAsync(request, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            throw S3Errors.Map(ex, "s3://" + _options.BucketName, _options.BucketName, "create the bucket");
        }
    }

    /// <summary>Writes the CORS rule neuroglancer needs (Amazon S3 API, PutBucketCors), replacing the bucket's CORS configuration.</summary>
    public async Task SetCorsAsync(CancellationToken cancellationToken)
    {
        var rule = new CORSRule
        {
            Id = "PrecomputedToolsNeuroglancer",
            AllowedMethods = new List<string> { "GET", "HEAD" },
            AllowedOrigins = new List<string> { "*" },
            AllowedHeaders = new List<string> { "*" },
            ExposeHeaders = new List<string>(CorsExposeHeaders),
            MaxAgeSeconds = 3000,
        };
        try
        {
            await _client.PutCORSConfigurationAsync(
                new PutCORSConfigurationRequest
                {
                    BucketName = _options.BucketName,
                    Configuration = new CORSConfiguration { Rules = new List<CORSRule> { rule } },
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            throw S3Errors.Map(ex, "s3://" + _options.BucketName, _options.BucketName, "set the bucket CORS configuration", "S3CorsFailed");
        }
    }

    /// <summary>
    /// Relaxes the bucket's BlockPublicPolicy/RestrictPublicBuckets (ACL blocks stay on) and writes a
    /// read-only public policy scoped to the prefix (Amazon S3 API, PutPublicAccessBlock and PutBucketPolicy).
    /// </summary>
    public async Task SetPublicReadPolicyAsync(OperationMonitor monitor, CancellationToken cancellationToken)
    {
        string target = "s3://" + _options.BucketName;
        try
        {
            await _client.PutPublicAccessBlockAsync(
                new PutPublicAccessBlockRequest
                {
                    BucketName = _options.BucketName,
                    PublicAccessBlockConfiguration = new PublicAccessBlockConfiguration
                    {
                        BlockPublicAcls = true,
                        IgnorePublicAcls = true,
                        BlockPublicPolicy = false,
                        RestrictPublicBuckets = false,
                    },
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotImplemented)
        {
            // Some S3-compatible servers have no Block Public Access; the policy alone is what they need.
            monitor.Verbose($"The server does not implement PutPublicAccessBlock ({ex.ErrorCode}); continuing with the policy.");
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            throw S3Errors.Map(ex, target, _options.BucketName, "relax the bucket's Block Public Access settings", "S3PolicyFailed");
        }

        try
        {
            await _client.PutBucketPolicyAsync(
                new PutBucketPolicyRequest { BucketName = _options.BucketName, Policy = BuildPublicReadPolicy(_options.BucketName, _prefix) },
                cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.Forbidden)
        {
            throw new EngineException(
                "S3PublicAccessBlocked",
                EngineErrorKind.PermissionDenied,
                $"The public-read policy for '{target}' was refused ({ex.ErrorCode}, request id {ex.RequestId}). An account-level Block Public Access setting, or missing s3:PutBucketPolicy permission, prevents public buckets.",
                target,
                ex,
                "Turn off BlockPublicPolicy and RestrictPublicBuckets in the account's S3 Block Public Access settings, or serve the data another way.");
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            throw S3Errors.Map(ex, target, _options.BucketName, "write the bucket policy", "S3PolicyFailed");
        }
    }

    /// <summary>Uploads the plan; objects whose size and MD5 already match are skipped unless Force.</summary>
    public async Task<S3PublishResult> PublishAsync(PublishPlan plan, OperationMonitor monitor, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var result = new S3PublishResult
        {
            BucketName = _options.BucketName,
            KeyPrefix = _prefix,
            ObjectCount = plan.Items.Count,
            TotalBytes = plan.TotalBytes,
            Url = DatasetUrl,
            S3Uri = S3Uri,
            Source = "precomputed://" + DatasetUrl,
        };
        foreach (string warning in plan.Warnings)
        {
            monitor.Warning(warning);
        }

        result.BucketCreated = await EnsureBucketAsync(monitor, cancellationToken).ConfigureAwait(false);
        var existing = new Dictionary<string, (long Size, string ETag)>(StringComparer.Ordinal);
        bool checkEach = false;
        if (!_options.Force && !result.BucketCreated)
        {
            try
            {
                existing = await ListExistingAsync(monitor, cancellationToken).ConfigureAwait(false);
            }
            catch (EngineException ex) when (ex.Kind == EngineErrorKind.WriteError)
            {
                // Some S3-compatible servers fail to list large prefixes; a HEAD per object still finds what is there.
                monitor.Warning($"Listing {S3Uri} failed ({ex.Message}); checking each object with HEAD instead.");
                checkEach = true;
            }
        }
        monitor.Verbose($"Publishing {plan.Items.Count:N0} objects ({plan.TotalBytes:N0} bytes) to {S3Uri}; {existing.Count:N0} objects already under the prefix.");
        monitor.AddWork(plan.Items.Count, plan.TotalBytes);

        var failures = new ConcurrentQueue<EngineException>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        int next = -1;
        int uploaded = 0;
        int skipped = 0;
        long uploadedBytes = 0;

        async Task WorkerAsync()
        {
            while (!stop.IsCancellationRequested)
            {
                int index = Interlocked.Increment(ref next);
                if (index >= plan.Items.Count)
                {
                    return;
                }

                PublishItem item = plan.Items[index];
                string key = _prefix + item.RelativeKey;
                byte[] md5 = ComputeMd5(item.LocalPath);
                (long Size, string ETag) current = default;
                bool found;
                if (checkEach)
                {
                    (long Size, string ETag)? head = await TryHeadAsync(key, stop.Token).ConfigureAwait(false);
                    found = head.HasValue;
                    current = head.GetValueOrDefault();
                }
                else
                {
                    found = existing.TryGetValue(key, out current);
                }

                if (found && current.Size == item.Length && string.Equals(current.ETag, ToHex(md5), StringComparison.OrdinalIgnoreCase))
                {
                    Interlocked.Increment(ref skipped);
                    monitor.ReportDone(1, item.Length);
                    continue;
                }

                try
                {
                    await PutWithRetriesAsync(item, key, md5, monitor, stop.Token).ConfigureAwait(false);
                    Interlocked.Increment(ref uploaded);
                    Interlocked.Add(ref uploadedBytes, item.Length);
                    monitor.ReportDone(1, item.Length);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
                catch (EngineException ex)
                {
                    failures.Enqueue(ex);
                    monitor.Debug(ex.Message);
                    if (failures.Count >= Math.Max(1, _options.MaxFailures) || ex.Kind is EngineErrorKind.PermissionDenied or EngineErrorKind.AuthenticationError or EngineErrorKind.ObjectNotFound)
                    {
                        stop.Cancel();
                    }
                }
            }
        }

        var workers = new Task[Math.Max(1, Math.Min(_options.ThrottleLimit, plan.Items.Count))];
        for (int i = 0; i < workers.Length; i++)
        {
            workers[i] = Task.Run(WorkerAsync, CancellationToken.None);
        }

        await Task.WhenAll(workers).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        result.UploadedCount = uploaded;
        result.SkippedCount = skipped;
        result.UploadedBytes = uploadedBytes;
        if (failures.TryPeek(out EngineException? first))
        {
            int notTried = plan.Items.Count - uploaded - skipped - failures.Count;
            string message = $"{failures.Count:N0} of {plan.Items.Count:N0} objects failed to upload to {S3Uri}"
                + (notTried > 0 ? $" and {notTried:N0} were not attempted" : "")
                + $"; {uploaded:N0} uploaded, {skipped:N0} already present. First failure: {first.Message} Run the command again to upload only what is missing.";
            throw new EngineException(first.ErrorId, first.Kind, message, first.Target, first);
        }

        result.VerifiedCount = await VerifyAsync(plan, monitor, cancellationToken).ConfigureAwait(false);
        result.Elapsed = clock.Elapsed;
        monitor.Verbose($"Uploaded {uploaded:N0} objects ({uploadedBytes:N0} bytes), skipped {skipped:N0} unchanged, verified {result.VerifiedCount} in {clock.Elapsed.TotalSeconds:N1} s.");
        return result;
    }

    private async Task PutWithRetriesAsync(PublishItem item, string key, byte[] md5, OperationMonitor monitor, CancellationToken cancellationToken)
    {
        string target = "s3://" + _options.BucketName + "/" + key;
        int attempts = 0;
        try
        {
            await _retry.ExecuteAsync(
                async token =>
                {
                    attempts++;
                    var request = new PutObjectRequest
                    {
                        BucketName = _options.BucketName,
                        Key = key,
                        FilePath = item.LocalPath,
                        ContentType = item.ContentType,
                        // A plain body: aws-chunked framing (S3 SigV4 streaming uploads) is stored verbatim by some servers.
                        UseChunkEncoding = false,
                        MD5Digest = Convert.ToBase64String(md5),
                    };
                    if (item.ContentEncoding is not null)
                    {
                        request.Headers.ContentEncoding = item.ContentEncoding;
                    }

                    request.Headers.CacheControl = item.CacheControl;
                    return await _client.PutObjectAsync(request, token).ConfigureAwait(false);
                },
                _options.MaxAttempts,
                S3Errors.IsTransient,
                retry => monitor.Debug($"PUT {target} failed ({S3Errors.Describe(retry.Exception!)}); retry {retry.Attempts} in {retry.Delay.TotalMilliseconds:N0} ms."),
                cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            throw S3Errors.Map(ex, target, _options.BucketName, "upload", "S3UploadFailed", attempts);
        }
    }

    private async Task<(long Size, string ETag)?> TryHeadAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            GetObjectMetadataResponse head = await WithRetriesAsync(
                () => _client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = _options.BucketName, Key = key }, cancellationToken),
                null,
                cancellationToken).ConfigureAwait(false);
            return (head.ContentLength, (head.ETag ?? "").Trim('"'));
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Unknown state: upload it; a failing server reports the real error on the PUT.
            return null;
        }
    }

    private Task<T> WithRetriesAsync<T>(Func<Task<T>> call, OperationMonitor? monitor, CancellationToken cancellationToken) =>
        _retry.ExecuteAsync(
            _ => call(),
            _options.MaxAttempts,
            ex => S3Errors.IsTransient(ex) && !(ex is AmazonS3Exception { StatusCode: HttpStatusCode.NotFound }),
            retry => monitor?.Debug($"{S3Errors.Describe(retry.Exception!)}; retry {retry.Attempts} in {retry.Delay.TotalMilliseconds:N0} ms."),
            cancellationToken);

    private async Task<Dictionary<string, (long Size, string ETag)>> ListExistingAsync(OperationMonitor monitor, CancellationToken cancellationToken)
    {
        var existing = new Dictionary<string, (long, string)>(StringComparer.Ordinal);
        var request = new ListObjectsV2Request { BucketName = _options.BucketName, Prefix = _prefix };
        try
        {
            while (true)
            {
                ListObjectsV2Response response = await WithRetriesAsync(() => _client.ListObjectsV2Async(request, cancellationToken), monitor, cancellationToken).ConfigureAwait(false);
                foreach (S3Object o in response.S3Objects ?? new List<S3Object>())
                {
                    existing[o.Key] = (o.Size ?? -1, (o.ETag ?? "").Trim('"'));
                }

                if (response.IsTruncated != true || string.IsNullOrEmpty(response.NextContinuationToken))
                {
                    return existing;
                }

                request.ContinuationToken = response.NextContinuationToken;
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            throw S3Errors.Map(ex, S3Uri, _options.BucketName, "list the objects under the prefix");
        }
    }

    /// <summary>Reads back a sample (the info, and one object of each other kind) and compares bytes and headers.</summary>
    private async Task<int> VerifyAsync(PublishPlan plan, OperationMonitor monitor, CancellationToken cancellationToken)
    {
        if (_options.VerifyCount <= 0 || plan.Items.Count == 0)
        {
            return 0;
        }

        var sample = new List<PublishItem>();
        foreach (var group in plan.Items.GroupBy(i => (i.ContentType, i.ContentEncoding)).OrderByDescending(g => g.Key.ContentType))
        {
            sample.Add(group.FirstOrDefault(i => i.RelativeKey == "info") ?? group.First());
        }

        foreach (PublishItem item in plan.Items)
        {
            if (sample.Count >= _options.VerifyCount)
            {
                break;
            }

            if (!sample.Contains(item))
            {
                sample.Add(item);
            }
        }

        foreach (PublishItem item in sample.Take(Math.Max(_options.VerifyCount, sample.Count)))
        {
            string key = _prefix + item.RelativeKey;
            string target = "s3://" + _options.BucketName + "/" + key;
            byte[] stored;
            string? encoding;
            string? type;
            try
            {
                using GetObjectResponse response = await _client.GetObjectAsync(new GetObjectRequest { BucketName = _options.BucketName, Key = key }, cancellationToken).ConfigureAwait(false);
                using var copy = new MemoryStream();
                await response.ResponseStream.CopyToAsync(copy, 81920, cancellationToken).ConfigureAwait(false);
                stored = copy.ToArray();
                encoding = response.Headers.ContentEncoding;
                type = response.Headers.ContentType;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                throw S3Errors.Map(ex, target, _options.BucketName, "read back");
            }

            string? problem = null;
            if (!stored.AsSpan().SequenceEqual(File.ReadAllBytes(item.LocalPath)))
            {
                problem = $"its bytes differ from '{item.LocalPath}' ({stored.Length:N0} stored, {item.Length:N0} local)";
            }
            else if (!string.Equals(NullIfEmpty(encoding), item.ContentEncoding, StringComparison.Ordinal))
            {
                problem = $"it is stored with Content-Encoding '{encoding}' instead of '{item.ContentEncoding ?? "(none)"}'";
            }
            else if (type is null || !type.StartsWith(item.ContentType, StringComparison.OrdinalIgnoreCase))
            {
                problem = $"it is stored with Content-Type '{type}' instead of '{item.ContentType}'";
            }

            if (problem is not null)
            {
                throw new EngineException(
                    "S3VerificationFailed",
                    EngineErrorKind.InvalidData,
                    $"The object {target} was uploaded but {problem}. The server does not store objects as sent; the viewer would show blank data.",
                    target);
            }

            monitor.Debug($"Verified {target}: {stored.Length:N0} bytes, Content-Encoding '{encoding}', Content-Type '{type}'.");
        }

        return sample.Count;
    }

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;

    internal static byte[] ComputeMd5(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, FileOptions.SequentialScan);
#pragma warning disable CA5351 // MD5 is what S3 uses for ETags and Content-MD5; it is an integrity check here, not security.
        using var md5 = MD5.Create();
#pragma warning restore CA5351
        return md5.ComputeHash(stream);
    }

    internal static string ToHex(byte[] bytes)
    {
        var text = new StringBuilder(bytes.Length * 2);
        foreach (byte b in bytes)
        {
            text.Append(b.ToString("x2", CultureInfo.InvariantCulture));
        }

        return text.ToString();
    }
}
