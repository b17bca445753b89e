using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading;
using PrecomputedTools.Engine.Codecs;
using Xunit;

namespace PrecomputedTools.Engine.Tests;

/// <summary>The hot paths allocate nothing once their buffers exist (no per-voxel or per-block allocation in hot loops).</summary>
public class AllocationTests
{
    private static ulong[] ZBrainChunk()
    {
        byte[] input = File.ReadAllBytes(TestData.Shared("vectors", "cseg", "zbrain_x768_y256_z64_64x64x64.input"));
        return MemoryMarshal.Cast<byte, ulong>(input).ToArray();
    }

    /// <summary>
    /// Smallest allocation seen over several rounds of <paramref name="action"/>. The runtime's tiered JIT can
    /// allocate on the calling thread while it instruments a method, so a single round may see a few hundred
    /// bytes that are not ours; an allocation in our code shows up in every round.
    /// </summary>
    private static long MinAllocatedBytes(Action action)
    {
        long min = long.MaxValue;
        for (int round = 0; round < 8 && min > 0; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            action();
            min = Math.Min(min, GC.GetAllocatedBytesForCurrentThread() - before);
            Thread.Sleep(50);
        }

        return min;
    }

    [Fact]
    public void ReusedEncoderAllocatesNothing()
    {
        ulong[] voxels = ZBrainChunk();
        Int3 shape = new(64, 64, 64), block = new(8, 8, 8);
        var encoder = new CompressedSegmentationEncoder();
        int length = encoder.EncodeToBuffer(voxels, shape, block).Length;
        Assert.Equal(0, MinAllocatedBytes(() => encoder.EncodeToBuffer(voxels, shape, block)));
        Assert.Equal(length, encoder.EncodedLength);
    }

    [Fact]
    public void DecodeAndMajorityAllocateNothing()
    {
        ulong[] voxels = ZBrainChunk();
        Int3 shape = new(64, 64, 64), block = new(8, 8, 8);
        byte[] encoded = CompressedSegmentation.Encode(voxels, shape, block);
        var decoded = new ulong[voxels.Length];
        var half = new ulong[32 * 32 * 32];
        var quarter = new ulong[32 * 32 * 64];
        Assert.Equal(0, MinAllocatedBytes(() => CompressedSegmentation.Decode(encoded, shape, block, decoded)));
        Assert.Equal(0, MinAllocatedBytes(() => Downsampling.Majority(decoded, shape, new Int3(2, 2, 2), half)));
        Assert.Equal(0, MinAllocatedBytes(() => Downsampling.Majority(decoded, shape, new Int3(2, 2, 1), quarter)));
        Assert.Equal(voxels, decoded);
    }
}
