using System;
using System.Collections.Concurrent;
using System.IO;
using System.Net;
using System.Text;
using System.Threading.Tasks;

namespace PrecomputedTools.TestServers;

/// <summary>A minimal S3 endpoint that records PUTs and answers with scripted statuses.</summary>
public sealed class FakeS3 : ListenerServer
{
    private readonly Func<string, int, int> _statusFor;
    private readonly ConcurrentDictionary<string, int> _attempts = new();

    public FakeS3(Func<string, int, int> statusFor)
    {
        _statusFor = statusFor;
        Start();
    }

    /// <summary>Answer bucket listings with HTTP 500 (a server whose listing is broken).</summary>
    public bool FailListing { get; set; }

    public int ListRequests => _listRequests;

    private int _listRequests;

    public ConcurrentBag<Put> Puts { get; } = new();

    public sealed record Put(string Key, byte[] Body, string? ContentEncoding, string? ContentType, string? PayloadHash, string? ContentMd5);

    protected override void Handle(HttpListenerContext context)
    {
        HttpListenerRequest request = context.Request;
        string raw = request.RawUrl ?? "/";
        string path = Uri.UnescapeDataString(raw.Split('?')[0]).TrimStart('/');
        int slash = path.IndexOf('/');
        string key = slash < 0 ? "" : path.Substring(slash + 1);
        string xml;
        int status = 200;
        if (request.HttpMethod == "PUT" && key.Length > 0)
        {
            using var body = new MemoryStream();
            request.InputStream.CopyTo(body);
            Puts.Add(new Put(key, body.ToArray(), request.Headers["Content-Encoding"], request.ContentType, request.Headers["x-amz-content-sha256"], request.Headers["Content-MD5"]));
            int attempt = _attempts.AddOrUpdate(key, 1, (_, n) => n + 1);
            status = _statusFor(key, attempt);
            xml = status == 200 ? "" : $"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{(status == 503 ? "SlowDown" : "InvalidRequest")}</Code><Message>scripted</Message><RequestId>req-{attempt}</RequestId></Error>";
            if (status == 200)
            {
                context.Response.Headers["ETag"] = "\"" + Convert.ToHexString(System.Security.Cryptography.MD5.HashData(body.ToArray())).ToLowerInvariant() + "\"";
            }
        }
        else if (raw.Contains("location", StringComparison.Ordinal))
        {
            xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>";
        }
        else if (raw.Contains("list-type", StringComparison.Ordinal) && FailListing)
        {
            System.Threading.Interlocked.Increment(ref _listRequests);
            status = 500;
            xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InternalError</Code><Message>scripted</Message><RequestId>list</RequestId></Error>";
        }
        else if (request.HttpMethod == "HEAD")
        {
            status = 404;
            xml = "";
        }
        else
        {
            xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>bucket</Name><Prefix></Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>";
        }

        context.Response.StatusCode = status;
        byte[] bytes = Encoding.UTF8.GetBytes(xml);
        context.Response.ContentType = "application/xml";
        context.Response.ContentLength64 = bytes.Length;
        context.Response.OutputStream.Write(bytes, 0, bytes.Length);
        context.Response.Close();
    }
}
