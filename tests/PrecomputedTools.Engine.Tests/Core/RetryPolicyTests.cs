using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.TestServers;
using Xunit;

namespace PrecomputedTools.Engine.Tests.Core;

/// <summary>
/// The engine's one retry mechanism, alone and in the stores that use it: transient failures are
/// tried again, nothing else is, the count is the caller's, a server's wait is honoured, and
/// cancellation stops a wait at once.
/// </summary>
public sealed class RetryPolicyTests
{
    private static readonly RetryPolicy s_fast = new(TimeSpan.FromMilliseconds(2), TimeSpan.FromMilliseconds(20));

    [Fact]
    public async Task ATransientFailureIsTriedAgainUntilItSucceeds()
    {
        int calls = 0;
        var notices = new List<RetryAttempt<int>>();
        int result = await s_fast.ExecuteAsync(
            _ => ++calls < 3 ? throw new IOException("reset") : Task.FromResult(42),
            maxAttempts: 5,
            isTransient: ex => ex is IOException,
            onRetry: notices.Add,
            CancellationToken.None);
        Assert.Equal(42, result);
        Assert.Equal(3, calls);
        Assert.Equal(new[] { 1, 2 }, notices.Select(n => n.Attempts));
        Assert.All(notices, n => Assert.IsType<IOException>(n.Exception));
        Assert.All(notices, n => Assert.InRange(n.Delay, TimeSpan.Zero, TimeSpan.FromMilliseconds(20)));
    }

    [Fact]
    public async Task TheLastFailureSurfacesAfterTheCallersAttemptsAndAPermanentOneAtOnce()
    {
        int calls = 0;
        var last = await Assert.ThrowsAsync<IOException>(() => s_fast.ExecuteAsync<int>(
            _ => throw new IOException("attempt " + ++calls),
            maxAttempts: 4,
            isTransient: ex => ex is IOException,
            onRetry: null,
            CancellationToken.None));
        Assert.Equal(4, calls);
        Assert.Equal("attempt 4", last.Message);

        calls = 0;
        await Assert.ThrowsAsync<InvalidDataException>(() => s_fast.ExecuteAsync<int>(
            _ => throw new InvalidDataException("attempt " + ++calls),
            maxAttempts: 4,
            isTransient: ex => ex is IOException,
            onRetry: null,
            CancellationToken.None));
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task AFailureValueIsRetriedByItsRuleAndTheServersWaitIsUsed()
    {
        var policy = new RetryPolicy(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30));
        int calls = 0;
        var delays = new List<TimeSpan>();
        (bool Ok, TimeSpan? Asked) result = await policy.ExecuteAsync<(bool Ok, TimeSpan? Asked)>(
            _ => Task.FromResult(++calls < 3 ? (false, (TimeSpan?)TimeSpan.FromMilliseconds(calls * 15)) : (true, null)),
            attempt => !attempt.Result.Ok,
            attempt => delays.Add(attempt.Delay),
            CancellationToken.None,
            r => r.Asked);
        Assert.True(result.Ok);
        // The server's 15 and 30 ms, not the policy's own 30 s.
        Assert.Equal(new[] { TimeSpan.FromMilliseconds(15), TimeSpan.FromMilliseconds(30) }, delays);
    }

    [Fact]
    public async Task OwnWaitsGrowAndStayUnderTheCap()
    {
        var policy = new RetryPolicy(TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(8));
        var delays = new List<TimeSpan>();
        await Assert.ThrowsAsync<IOException>(() => policy.ExecuteAsync<int>(
            _ => throw new IOException(),
            maxAttempts: 12,
            isTransient: _ => true,
            onRetry: n => delays.Add(n.Delay),
            CancellationToken.None));
        Assert.Equal(11, delays.Count);
        Assert.All(delays, d => Assert.InRange(d, TimeSpan.Zero, TimeSpan.FromMilliseconds(8)));
        Assert.True(delays.Skip(6).Average(d => d.TotalMilliseconds) > delays.Take(1).Average(d => d.TotalMilliseconds), string.Join(", ", delays));
    }

    [Fact]
    public async Task CancellationStopsAWaitAndIsNeverRetried()
    {
        var policy = new RetryPolicy(TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
        using var cts = new CancellationTokenSource();
        int calls = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Task<int> run = policy.ExecuteAsync<int>(
            _ =>
            {
                calls++;
                cts.CancelAfter(50);
                throw new IOException();
            },
            maxAttempts: 5,
            isTransient: _ => true,
            onRetry: null,
            cts.Token);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.Equal(1, calls);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), clock.Elapsed.ToString());

        calls = 0;
        using var cancelled = new CancellationTokenSource();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => s_fast.ExecuteAsync<int>(
            token =>
            {
                calls++;
                cancelled.Cancel();
                token.ThrowIfCancellationRequested();
                return Task.FromResult(1);
            },
            maxAttempts: 5,
            isTransient: _ => true,
            onRetry: null,
            cancelled.Token));
        Assert.Equal(1, calls);
    }

    [Fact]
    public void AnS3StoreRetriesAPutThroughThePolicyAloneAndCountsItsAttempts()
    {
        // 503 SlowDown twice, then 200: one retry mechanism means exactly three PUTs (the SDK's own
        // retries would add more), and the object is written.
        using (var fake = new FakeS3((key, attempt) => key.EndsWith("flaky", StringComparison.Ordinal) && attempt <= 2 ? 503 : 200))
        using (var store = new S3Store("bucket", "ds", Options(fake.Url, maxAttempts: 5)))
        {
            store.Write("flaky", new byte[] { 1, 2, 3 }, gzip: false);
            store.Flush();
            Assert.Equal(3, fake.Puts.Count(p => p.Key == "ds/flaky"));
        }

        // With two attempts allowed the write fails after exactly two PUTs, and says so.
        using (var fake = new FakeS3((key, attempt) => 503))
        using (var store = new S3Store("bucket", "ds", Options(fake.Url, maxAttempts: 2)))
        {
            store.Write("down", new byte[] { 1 }, gzip: false);
            var error = Assert.Throws<EngineException>(store.Flush);
            Assert.Equal("S3UploadFailed", error.ErrorId);
            Assert.Contains("after 2 attempts", error.Message, StringComparison.Ordinal);
            Assert.Equal(2, fake.Puts.Count(p => p.Key == "ds/down"));
        }

        // A refused request (400) is not tried again.
        using (var fake = new FakeS3((key, attempt) => 400))
        using (var store = new S3Store("bucket", "ds", Options(fake.Url, maxAttempts: 5)))
        {
            store.Write("bad", new byte[] { 1 }, gzip: false);
            Assert.Equal("S3UploadFailed", Assert.Throws<EngineException>(store.Flush).ErrorId);
            Assert.Single(fake.Puts, p => p.Key == "ds/bad");
        }
    }

    [Fact]
    public void AnHttpStoreRetriesServerErrorsButNotAMissingObject()
    {
        var requests = new ConcurrentDictionary<string, int>();
        using var server = new ScriptedHttpServer(path =>
        {
            int n = requests.AddOrUpdate(path, 1, (_, c) => c + 1);
            return path switch
            {
                "/ds/flaky" => n <= 2 ? (503, "busy") : (200, "payload"),
                "/ds/down" => (502, "bad gateway"),
                _ => (404, "no"),
            };
        });
        using var store = new HttpStore(new Uri(server.Url + "/ds"), maxAttempts: 3);

        using (PooledBytes? body = store.Read("flaky", 1 << 20))
        {
            Assert.Equal("payload", Encoding.ASCII.GetString(body!.Span));
        }

        Assert.Equal(3, requests["/ds/flaky"]);

        Assert.Null(store.Read("missing", 1 << 20));
        Assert.Equal(1, requests["/ds/missing"]);

        var error = Assert.Throws<EngineException>(() => store.Read("down", 1 << 20));
        Assert.Equal("HttpReadFailed", error.ErrorId);
        Assert.Equal(3, requests["/ds/down"]);
    }

    private static S3ConnectionOptions Options(string endpoint, int maxAttempts) => new()
    {
        EndpointUrl = new Uri(endpoint),
        AccessKey = "test",
        SecretKey = "test",
        MaxAttempts = maxAttempts,
    };
}
