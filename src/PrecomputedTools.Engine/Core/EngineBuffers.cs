using System;
using System.Buffers;

namespace PrecomputedTools.Engine;

/// <summary>
/// The pool for the large, short-lived buffers of the streaming writers (slabs, block layers,
/// chunk files). ArrayPool.Shared keeps a buffer per size in every thread that ever rented one,
/// so its retained memory grows with the number of pool threads over a long run; this pool keeps
/// a fixed number per size, whatever the thread.
/// </summary>
internal static class EngineBuffers
{
    public static readonly ArrayPool<byte> Bytes = ArrayPool<byte>.Create(1 << 30, Math.Max(4, 2 * Environment.ProcessorCount));

    public static readonly ArrayPool<ulong> Labels = ArrayPool<ulong>.Create(1 << 27, Math.Max(4, 2 * Environment.ProcessorCount));
}
