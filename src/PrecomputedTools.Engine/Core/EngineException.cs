using System;

namespace PrecomputedTools.Engine;

/// <summary>What kind of failure an <see cref="EngineException"/> is; the cmdlet layer maps it to an ErrorCategory.</summary>
public enum EngineErrorKind
{
    InvalidArgument,
    InvalidData,
    InvalidOperation,
    ObjectNotFound,
    ResourceExists,
    NotSupported,
    AuthenticationError,
    PermissionDenied,
    LimitsExceeded,
    QuotaExceeded,
    ConnectionError,
    OperationTimeout,
    ReadError,
    WriteError,
}

/// <summary>
/// A failure the user can act on. <see cref="ErrorId"/> is stable (it becomes the PowerShell
/// FullyQualifiedErrorId) and the message says what went wrong in the user's terms.
/// </summary>
public class EngineException : Exception
{
    public EngineException(string errorId, EngineErrorKind kind, string message, object? target = null, Exception? inner = null, string? recommendedAction = null)
        : base(message, inner)
    {
        ErrorId = errorId;
        Kind = kind;
        Target = target;
        RecommendedAction = recommendedAction;
    }

    public string ErrorId { get; }

    public EngineErrorKind Kind { get; }

    /// <summary>What the error is about: a path, a chunk name, an URI (never a secret).</summary>
    public object? Target { get; }

    public string? RecommendedAction { get; }
}
