using System.Collections.Concurrent;
using System.Threading;

namespace PrecomputedTools.Engine;

public enum EngineMessageLevel
{
    Verbose,
    Warning,
    Debug,
}

public readonly struct EngineMessage
{
    public EngineMessage(EngineMessageLevel level, string text)
    {
        Level = level;
        Text = text;
    }

    public EngineMessageLevel Level { get; }

    public string Text { get; }
}

/// <summary>
/// Thread-safe counters and a message queue that engine workers write to and the PowerShell
/// pipeline thread reads (PowerShell accepts Write* calls only from that thread).
/// </summary>
public sealed class OperationMonitor
{
    private readonly ConcurrentQueue<EngineMessage> _messages = new();
    private long _totalItems;
    private long _completedItems;
    private long _totalBytes;
    private long _completedBytes;
    private volatile string _phase = "";

    public OperationMonitor(string activity = "PrecomputedTools", string itemName = "items")
    {
        Activity = activity;
        ItemName = itemName;
    }

    /// <summary>A monitor nobody reads; for engine callers that do not care.</summary>
    public static OperationMonitor None => new();

    public string Activity { get; set; }

    /// <summary>Plural noun for the unit of work: "chunks", "blocks", "files".</summary>
    public string ItemName { get; set; }

    /// <summary>What is happening now, e.g. "Scale 1 (2um)".</summary>
    public string Phase
    {
        get => _phase;
        set => _phase = value ?? "";
    }

    public long TotalItems => Interlocked.Read(ref _totalItems);

    public long CompletedItems => Interlocked.Read(ref _completedItems);

    public long TotalBytes => Interlocked.Read(ref _totalBytes);

    public long CompletedBytes => Interlocked.Read(ref _completedBytes);

    public void AddWork(long items, long bytes = 0)
    {
        Interlocked.Add(ref _totalItems, items);
        Interlocked.Add(ref _totalBytes, bytes);
    }

    public void ReportDone(long items = 1, long bytes = 0)
    {
        Interlocked.Add(ref _completedItems, items);
        Interlocked.Add(ref _completedBytes, bytes);
    }

    public void Verbose(string text) => _messages.Enqueue(new EngineMessage(EngineMessageLevel.Verbose, text));

    public void Warning(string text) => _messages.Enqueue(new EngineMessage(EngineMessageLevel.Warning, text));

    public void Debug(string text) => _messages.Enqueue(new EngineMessage(EngineMessageLevel.Debug, text));

    public bool TryDequeue(out EngineMessage message) => _messages.TryDequeue(out message);
}
