using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine;

namespace PrecomputedTools.Infrastructure;

/// <summary>
/// The one base class of the module's cmdlets: cancellation (Ctrl+C cancels a token the engine
/// observes), every Write* on the pipeline thread, throttled progress, and error records with
/// stable ids.
/// </summary>
public abstract class PrecomputedCmdlet : PSCmdlet, IDisposable
{
    private const int PollIntervalMs = 100;
    private const int ProgressIntervalMs = 300;
    private readonly CancellationTokenSource _stop = new();
    private bool _disposed;

    /// <summary>Cancelled when the user presses Ctrl+C or the pipeline is stopped.</summary>
    protected CancellationToken StopToken => _stop.Token;

    protected override void BeginProcessing() => EngineBootstrap.EnsureInstalled();

    protected override void StopProcessing() => _stop.Cancel();

    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _stop.Dispose();
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Runs engine work on the thread pool while this (pipeline) thread writes its messages and
    /// progress. Stops promptly on Ctrl+C; engine errors come back as terminating error records.
    /// </summary>
    /// <remarks><paramref name="onPoll"/> runs on this thread while the work runs and once after: it writes what the engine queued (records emitted as tasks finish).</remarks>
    internal T RunEngine<T>(Func<OperationMonitor, CancellationToken, Task<T>> work, OperationMonitor monitor, int progressId = 1, int parentProgressId = -1, Action? onPoll = null)
    {
        Task<T> task = Task.Run(() => work(monitor, StopToken), StopToken);
        var progress = new ProgressWriter(this, monitor, progressId, parentProgressId);
        try
        {
            while (!IsDone(task))
            {
                FlushMessages(monitor);
                onPoll?.Invoke();
                progress.WriteIfDue();
            }

            FlushMessages(monitor);
            onPoll?.Invoke();
            return task.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (StopToken.IsCancellationRequested)
        {
            // Give the workers a moment to delete their temp files before the pipeline unwinds.
            WaitQuietly(task, 5000);
            throw new PipelineStoppedException();
        }
        catch (PipelineStoppedException)
        {
            // Stopped while writing progress or messages (every Write* throws once the pipeline
            // stops): the workers still get their moment to clean up, as above.
            WaitQuietly(task, 5000);
            throw;
        }
        catch (Exception ex) when (ex is not PipelineStoppedException)
        {
            FlushMessages(monitor);
            Exception failure = Unwrap(ex);
            if (failure is OperationCanceledException && StopToken.IsCancellationRequested)
            {
                throw new PipelineStoppedException();
            }

            ThrowTerminatingError(ToErrorRecord(failure));
            throw; // unreachable: ThrowTerminatingError always throws
        }
        finally
        {
            progress.Complete();
        }
    }

    // Parallel loops wrap the first failure of each worker; report the first one.
    private static Exception Unwrap(Exception ex)
    {
        while (ex is AggregateException aggregate && aggregate.InnerExceptions.Count > 0)
        {
            ex = aggregate.Flatten().InnerExceptions[0];
        }

        return ex;
    }

    internal void RunEngine(Func<OperationMonitor, CancellationToken, Task> work, OperationMonitor monitor, int progressId = 1, int parentProgressId = -1, Action? onPoll = null) =>
        RunEngine<bool>(
            async (m, ct) =>
            {
                await work(m, ct).ConfigureAwait(false);
                return true;
            },
            monitor,
            progressId,
            parentProgressId,
            onPoll);

    private bool IsDone(Task task)
    {
        try
        {
            return task.Wait(PollIntervalMs, StopToken);
        }
        catch (AggregateException)
        {
            return true;
        }
    }

    private static void WaitQuietly(Task task, int milliseconds)
    {
        try
        {
            task.Wait(milliseconds);
        }
        catch (AggregateException)
        {
            // The task was cancelled or failed after the stop; its outcome no longer matters.
        }
    }

    internal void FlushMessages(OperationMonitor monitor)
    {
        while (monitor.TryDequeue(out EngineMessage message))
        {
            switch (message.Level)
            {
                case EngineMessageLevel.Warning:
                    WriteWarning(message.Text);
                    break;
                case EngineMessageLevel.Debug:
                    WriteDebug(message.Text);
                    break;
                default:
                    WriteVerbose(message.Text);
                    break;
            }
        }
    }

    /// <summary>An error record for any failure: engine errors keep their id; I/O and others get generic ids.</summary>
    /// <summary>-LabelType (uint32 or uint64, validated by its ValidateSet) as a type; null when not given.</summary>
    internal static VoxelType? RequestedLabelType(string? labelType) =>
        VoxelTypes.TryParse(labelType, out VoxelType type) ? type : null;

    internal static ErrorRecord ToErrorRecord(Exception ex) => ex switch
    {
        EngineException engine => ToErrorRecord(engine),
        UnauthorizedAccessException => new ErrorRecord(ex, "AccessDenied", ErrorCategory.PermissionDenied, null),
        System.IO.IOException => new ErrorRecord(ex, "FileSystemError", ErrorCategory.WriteError, null),
        _ => new ErrorRecord(ex, "UnexpectedEngineError", ErrorCategory.NotSpecified, null),
    };

    /// <summary>An error record for an engine failure: stable id, mapped category, target.</summary>
    internal static ErrorRecord ToErrorRecord(EngineException ex)
    {
        var record = new ErrorRecord(ex, ex.ErrorId, MapCategory(ex.Kind), ex.Target);
        if (ex.RecommendedAction is not null)
        {
            record.ErrorDetails = new ErrorDetails(ex.Message) { RecommendedAction = ex.RecommendedAction };
        }

        return record;
    }

    internal static ErrorRecord NewError(string errorId, ErrorCategory category, string message, object? target, string? recommendedAction = null, Exception? inner = null)
    {
        var record = new ErrorRecord(inner is null ? new InvalidOperationException(message) : new InvalidOperationException(message, inner), errorId, category, target);
        if (recommendedAction is not null)
        {
            record.ErrorDetails = new ErrorDetails(message) { RecommendedAction = recommendedAction };
        }

        return record;
    }

    /// <summary>True under -WhatIf (given, or $WhatIfPreference): writers describe their work and pass a planned dataset on.</summary>
    internal bool WhatIfRequested => MyInvocation.BoundParameters.TryGetValue("WhatIf", out object? given)
        ? LanguagePrimitives.IsTrue(given)
        : LanguagePrimitives.IsTrue(SessionState.PSVariable.GetValue("WhatIfPreference"));

    /// <summary>A stage given a planned dataset describes its work only under -WhatIf; otherwise it stops (DatasetOnlyPlanned).</summary>
    internal void RequireWhatIfFor(PrecomputedDataset planned)
    {
        if (!WhatIfRequested)
        {
            ThrowTerminatingError(PlannedDatasetError(planned));
        }
    }

    /// <summary>A planned dataset (from a writer under -WhatIf, or saved as plans) reached a stage that runs for real.</summary>
    internal static ErrorRecord PlannedDatasetError(PrecomputedDataset dataset) => dataset.PlanPath.Length > 0
        ? NewError(
            "DatasetOnlyPlanned",
            ErrorCategory.InvalidOperation,
            $"'{dataset.Path}' is only planned (saved plans: {string.Join(", ", dataset.PlanPath)}); its plans have not run.",
            dataset.Path,
            "Give this stage -PlanPath too, or run the plans first (Invoke-PrecomputedTask, Submit-PrecomputedSlurmJob).")
        : NewError(
            "DatasetOnlyPlanned",
            ErrorCategory.InvalidOperation,
            $"'{dataset.Path}' was only planned by a -WhatIf step before this one and was never written.",
            dataset.Path,
            "Run the whole pipeline with -WhatIf, or the earlier step without it.");

    /// <summary>The OutputExists error: the target exists and -Force was not given.</summary>
    internal ErrorRecord OutputExistsError(string path) => NewError(
        "OutputExists",
        ErrorCategory.ResourceExists,
        $"'{path}' already exists. Use -Force to overwrite it, or -Resume to finish an interrupted run.",
        path,
        "Use -Force to overwrite, or -Resume to continue.");

    internal static ErrorCategory MapCategory(EngineErrorKind kind) => kind switch
    {
        EngineErrorKind.InvalidArgument => ErrorCategory.InvalidArgument,
        EngineErrorKind.InvalidData => ErrorCategory.InvalidData,
        EngineErrorKind.InvalidOperation => ErrorCategory.InvalidOperation,
        EngineErrorKind.ObjectNotFound => ErrorCategory.ObjectNotFound,
        EngineErrorKind.ResourceExists => ErrorCategory.ResourceExists,
        EngineErrorKind.NotSupported => ErrorCategory.NotImplemented,
        EngineErrorKind.AuthenticationError => ErrorCategory.AuthenticationError,
        EngineErrorKind.PermissionDenied => ErrorCategory.PermissionDenied,
        EngineErrorKind.LimitsExceeded => ErrorCategory.LimitsExceeded,
        EngineErrorKind.QuotaExceeded => ErrorCategory.QuotaExceeded,
        EngineErrorKind.ConnectionError => ErrorCategory.ConnectionError,
        EngineErrorKind.OperationTimeout => ErrorCategory.OperationTimeout,
        EngineErrorKind.ReadError => ErrorCategory.ReadError,
        EngineErrorKind.WriteError => ErrorCategory.WriteError,
        _ => ErrorCategory.NotSpecified,
    };

    /// <summary>Resolves an existing file-system path (wildcards, ~, PSDrives, relative to the current location).</summary>
    internal string ResolveExistingPath(string path, bool literal)
    {
        try
        {
            if (literal)
            {
                string resolved = SessionState.Path.GetUnresolvedProviderPathFromPSPath(path, out ProviderInfo literalProvider, out _);
                RequireFileSystem(literalProvider, path);
                if (!File.Exists(resolved) && !Directory.Exists(resolved))
                {
                    throw new ItemNotFoundException($"Cannot find path '{path}' because it does not exist.");
                }

                return resolved;
            }

            var paths = GetResolvedProviderPathFromPSPath(path, out ProviderInfo provider);
            RequireFileSystem(provider, path);
            if (paths.Count != 1)
            {
                ThrowTerminatingError(NewError("AmbiguousPath", ErrorCategory.InvalidArgument, $"'{path}' matches {paths.Count} items; give exactly one.", path));
            }

            return paths[0];
        }
        catch (ItemNotFoundException ex)
        {
            ThrowTerminatingError(NewError("PathNotFound", ErrorCategory.ObjectNotFound, ex.Message, path, inner: ex));
            throw;
        }
    }

    /// <summary>Resolves a path that may not exist yet (an output location).</summary>
    internal string ResolveOutputPath(string path)
    {
        string resolved = SessionState.Path.GetUnresolvedProviderPathFromPSPath(path, out ProviderInfo provider, out _);
        RequireFileSystem(provider, path);
        return resolved;
    }

    private void RequireFileSystem(ProviderInfo provider, string path)
    {
        if (!string.Equals(provider.Name, "FileSystem", StringComparison.OrdinalIgnoreCase))
        {
            ThrowTerminatingError(NewError("NotAFileSystemPath", ErrorCategory.InvalidArgument, $"'{path}' is on the {provider.Name} provider; give a file-system path.", path));
        }
    }

    /// <summary>Writes throttled progress records from an <see cref="OperationMonitor"/>.</summary>
    private sealed class ProgressWriter
    {
        private readonly PrecomputedCmdlet _cmdlet;
        private readonly OperationMonitor _monitor;
        private readonly int _id;
        private readonly int _parentId;
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private long _lastWriteMs = -ProgressIntervalMs;
        private long _lastItems = -1;
        private string _lastPhase = "";
        private bool _shown;

        public ProgressWriter(PrecomputedCmdlet cmdlet, OperationMonitor monitor, int id, int parentId)
        {
            _cmdlet = cmdlet;
            _monitor = monitor;
            _id = id;
            _parentId = parentId;
        }

        public void WriteIfDue()
        {
            long now = _clock.ElapsedMilliseconds;
            long done = _monitor.CompletedItems;
            string phase = _monitor.Phase;
            if (now - _lastWriteMs < ProgressIntervalMs || (done == _lastItems && phase == _lastPhase) || _monitor.TotalItems == 0)
            {
                return;
            }

            _lastWriteMs = now;
            _lastItems = done;
            _lastPhase = phase;
            long total = _monitor.TotalItems;
            var record = new ProgressRecord(_id, _monitor.Activity, Describe(done, total, now))
            {
                ParentActivityId = _parentId,
                PercentComplete = total > 0 ? (int)Math.Min(100, done * 100 / total) : -1,
                CurrentOperation = phase.Length > 0 ? phase : null,
            };
            if (done > 0 && total > done)
            {
                record.SecondsRemaining = (int)Math.Min(int.MaxValue, now / 1000.0 * (total - done) / done);
            }

            _cmdlet.WriteProgress(record);
            _shown = true;
        }

        public void Complete()
        {
            if (_shown)
            {
                _cmdlet.WriteProgress(new ProgressRecord(_id, _monitor.Activity, "Done")
                {
                    ParentActivityId = _parentId,
                    RecordType = ProgressRecordType.Completed,
                });
            }
        }

        private string Describe(long done, long total, long elapsedMs)
        {
            string text = string.Format(CultureInfo.InvariantCulture, "{0:N0} of {1:N0} {2}", done, total, _monitor.ItemName);
            long bytes = _monitor.CompletedBytes;
            if (bytes > 0 && elapsedMs > 0)
            {
                text += string.Format(CultureInfo.InvariantCulture, ", {0:N1} MB ({1:N1} MB/s)", bytes / 1e6, bytes / 1e3 / elapsedMs);
            }

            return text;
        }
    }
}
