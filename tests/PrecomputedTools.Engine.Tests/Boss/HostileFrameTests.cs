using System;
using System.Buffers.Binary;
using System.IO;
using System.Text;
using PrecomputedTools.Engine.Boss;
using Xunit;

namespace PrecomputedTools.Engine.Tests.Boss;

/// <summary>The reproducers of hostile BOSS payloads found from outside, kept as regression tests.</summary>
public sealed class HostileFrameTests
{
    /// <summary>A zlib stream whose first <paramref name="data"/> bytes are a valid stored block, followed by a block of the reserved type 3.</summary>
    private static byte[] ZlibWithCorruptTail(byte[] data)
    {
        using var stream = new MemoryStream();
        stream.Write(new byte[] { 0x78, 0x01 });
        stream.WriteByte(0x00); // BFINAL 0, BTYPE 00 (stored), padded to the byte
        Span<byte> lengths = stackalloc byte[4];
        BinaryPrimitives.WriteUInt16LittleEndian(lengths, (ushort)data.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(lengths.Slice(2), (ushort)~data.Length);
        stream.Write(lengths);
        stream.Write(data);
        stream.WriteByte(0x07); // BFINAL 1, BTYPE 11: reserved, an error when reached
        stream.Write(new byte[8]);
        return stream.ToArray();
    }

    [Fact]
    public void ACorruptZlibTailAfterTheBlockIsAnEngineError()
    {
        byte[] data = new byte[100];
        new Random(1).NextBytes(data);
        EngineException error = Assert.Throws<EngineException>(() => ZlibInflate.Decompress(ZlibWithCorruptTail(data), new byte[data.Length]));
        Assert.Equal(BloscDecoder.CorruptErrorId, error.ErrorId);
    }

    [Fact]
    public void ACorruptZlibTailAfterTheNpyArrayIsAnEngineError()
    {
        string header = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 4), }";
        header = header.PadRight(128 - 10 - 1) + "\n";
        using var npy = new MemoryStream();
        npy.Write(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 });
        npy.Write(BitConverter.GetBytes((ushort)header.Length));
        npy.Write(Encoding.ASCII.GetBytes(header));
        npy.Write(new byte[24]);
        EngineException error = Assert.Throws<EngineException>(() =>
            NpyGz.Decode(new MemoryStream(ZlibWithCorruptTail(npy.ToArray())), VoxelType.UInt8, new long[] { 2, 3, 4 }, new byte[24]));
        Assert.Equal(BloscDecoder.CorruptErrorId, error.ErrorId);
    }

    [Fact]
    public void ASplitBlockThatIsNotAWholeNumberOfItemsIsRefusedNotHalfWritten()
    {
        // nbytes = blocksize = 257, type size 2, byte shuffle: two stored streams of 257 / 2 = 128
        // bytes would leave byte 256 as whatever the buffer held before.
        const int nbytes = 257;
        byte[] frame = new byte[16 + 4 + (2 * (4 + 128))];
        frame[0] = 2; // format version
        frame[1] = 1; // blosclz version
        frame[2] = 0x01; // byte shuffle, split, blosclz
        frame[3] = 2; // type size
        BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(4), nbytes);
        BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(8), nbytes);
        BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(12), frame.Length);
        BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(16), 20);
        BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(20), 128);
        BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(20 + 4 + 128), 128);
        EngineException error = Assert.Throws<EngineException>(() => BloscDecoder.Decode(frame, new byte[nbytes], 1));
        Assert.Equal(BloscDecoder.CorruptErrorId, error.ErrorId);
        Assert.Contains("cannot be split", error.Message, StringComparison.Ordinal);
    }
}
