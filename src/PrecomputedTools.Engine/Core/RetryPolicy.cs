using System;
using System.Threading;
using System.Threading.Tasks;
using Polly;
using Polly.Retry;

namespace PrecomputedTools.Engine;

/// <summary>
/// What one attempt of a retried call gave: its result, or the exception it threw; how many attempts
/// have been made so far (1 after the first); and, when a retry is announced, the wait before it.
/// </summary>
public readonly struct RetryAttempt<T>
{
    public RetryAttempt(T? result, Exception? exception, int attempts, TimeSpan delay)
    {
        Result = result;
        Exception = exception;
        Attempts = attempts;
        Delay = delay;
    }

    public T? Result { get; }

    public Exception? Exception { get; }

    public int Attempts { get; }

    public TimeSpan Delay { get; }
}

/// <summary>
/// The engine's one retry mechanism (on Polly): every client that talks to a server (BOSS, S3,
/// HTTP stores, the S3 publisher) retries through it. A call says which outcomes deserve another
/// try (each client keeps its own rules: BOSS budgets by outcome, S3's transient errors)
/// and may pass the wait a server asked for (Retry-After); otherwise the wait grows exponentially
/// with jitter up to a cap, so many clients that failed together do not come back together.
/// </summary>
public sealed class RetryPolicy
{
    private static readonly ResiliencePropertyKey<RetryCall> s_callKey = new("PrecomputedTools.RetryCall");

    private readonly ResiliencePipeline _pipeline;

    /// <param name="baseDelay">The typical wait before the first retry.</param>
    /// <param name="maxDelay">No wait the policy chooses is longer than this (a server's own Retry-After is the caller's to cap).</param>
    public RetryPolicy(TimeSpan baseDelay, TimeSpan maxDelay)
    {
        BaseDelay = baseDelay > TimeSpan.Zero ? baseDelay : TimeSpan.FromMilliseconds(1);
        MaxDelay = maxDelay >= BaseDelay ? maxDelay : BaseDelay;
        var options = new RetryStrategyOptions
        {
            // The call's own rule decides when to stop; Polly's count is only a backstop.
            MaxRetryAttempts = int.MaxValue,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = BaseDelay,
            MaxDelay = MaxDelay,
            ShouldHandle = static args => new ValueTask<bool>(CallOf(args.Context).ShouldRetry(args.Outcome.Result, args.Outcome.Exception, args.AttemptNumber + 1, args.Context.CancellationToken)),
            DelayGenerator = static args => new ValueTask<TimeSpan?>(CallOf(args.Context).ServerDelay(args.Outcome.Result) is TimeSpan asked ? (asked > TimeSpan.Zero ? asked : TimeSpan.Zero) : null),
            OnRetry = static args =>
            {
                CallOf(args.Context).Retrying(args.Outcome.Result, args.Outcome.Exception, args.AttemptNumber + 1, args.RetryDelay);
                return default;
            },
        };
        _pipeline = new ResiliencePipelineBuilder().AddRetry(options).Build();
    }

    public TimeSpan BaseDelay { get; }

    public TimeSpan MaxDelay { get; }

    /// <summary>
    /// Runs <paramref name="attempt"/> until it succeeds or <paramref name="shouldRetry"/> says stop;
    /// then returns the last result or rethrows the last exception. Cancellation is never retried.
    /// </summary>
    /// <param name="attempt">One try of the call.</param>
    /// <param name="shouldRetry">Whether an outcome deserves another attempt (never asked about a success unless the result itself is a failure value).</param>
    /// <param name="onRetry">Told before each wait (for debug logs).</param>
    /// <param name="serverDelay">The wait the server asked for in a result, if any.</param>
    /// <param name="cancellationToken">Stops the call, including a wait between attempts.</param>
    public async Task<T> ExecuteAsync<T>(
        Func<CancellationToken, Task<T>> attempt,
        Func<RetryAttempt<T>, bool> shouldRetry,
        Action<RetryAttempt<T>>? onRetry,
        CancellationToken cancellationToken,
        Func<T, TimeSpan?>? serverDelay = null)
    {
        ResilienceContext context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            context.Properties.Set(s_callKey, new RetryCall<T>(shouldRetry, onRetry, serverDelay));
            return await _pipeline.ExecuteAsync(static async (ctx, run) => await run(ctx.CancellationToken).ConfigureAwait(false), context, attempt).ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// <summary>Runs a call whose failures are exceptions: retried while <paramref name="isTransient"/> holds, at most <paramref name="maxAttempts"/> attempts in all.</summary>
    public Task<T> ExecuteAsync<T>(Func<CancellationToken, Task<T>> attempt, int maxAttempts, Func<Exception, bool> isTransient, Action<RetryAttempt<T>>? onRetry, CancellationToken cancellationToken) =>
        ExecuteAsync(
            attempt,
            a => a.Exception is not null && a.Attempts < maxAttempts && isTransient(a.Exception),
            onRetry,
            cancellationToken);

    private static RetryCall CallOf(ResilienceContext context) =>
        context.Properties.TryGetValue(s_callKey, out RetryCall? call) ? call : throw new InvalidOperationException("A retried call must carry its rules.");

    private abstract class RetryCall
    {
        public abstract bool ShouldRetry(object? result, Exception? exception, int attempts, CancellationToken cancellationToken);

        public abstract TimeSpan? ServerDelay(object? result);

        public abstract void Retrying(object? result, Exception? exception, int attempts, TimeSpan delay);
    }

    private sealed class RetryCall<T> : RetryCall
    {
        private readonly Func<RetryAttempt<T>, bool> _shouldRetry;
        private readonly Action<RetryAttempt<T>>? _onRetry;
        private readonly Func<T, TimeSpan?>? _serverDelay;

        public RetryCall(Func<RetryAttempt<T>, bool> shouldRetry, Action<RetryAttempt<T>>? onRetry, Func<T, TimeSpan?>? serverDelay)
        {
            _shouldRetry = shouldRetry;
            _onRetry = onRetry;
            _serverDelay = serverDelay;
        }

        public override bool ShouldRetry(object? result, Exception? exception, int attempts, CancellationToken cancellationToken)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                return false;
            }

            return _shouldRetry(new RetryAttempt<T>(exception is null ? (T?)result : default, exception, attempts, TimeSpan.Zero));
        }

        public override TimeSpan? ServerDelay(object? result) => _serverDelay is not null && result is T value ? _serverDelay(value) : null;

        public override void Retrying(object? result, Exception? exception, int attempts, TimeSpan delay) =>
            _onRetry?.Invoke(new RetryAttempt<T>(exception is null ? (T?)result : default, exception, attempts, delay));
    }
}
