using System;
using System.Buffers.Binary;
using System.Threading.Tasks;

namespace PrecomputedTools.Engine.Boss;

/// <summary>The 16-byte header of a Blosc1 frame (c-blosc README_HEADER.rst).</summary>
public readonly struct BloscHeader
{
    public const int Size = 16;

    public BloscHeader(byte version, byte versionLz, byte flags, byte typeSize, int uncompressedBytes, int blockSize, int compressedBytes)
    {
        Version = version;
        VersionLz = versionLz;
        Flags = flags;
        TypeSize = typeSize;
        UncompressedBytes = uncompressedBytes;
        BlockSize = blockSize;
        CompressedBytes = compressedBytes;
    }

    public byte Version { get; }

    public byte VersionLz { get; }

    public byte Flags { get; }

    /// <summary>The shuffle group size. BOSS writes the bit depth here (8, 16, 64), not the element size.</summary>
    public byte TypeSize { get; }

    /// <summary>nbytes: length of the decoded data.</summary>
    public int UncompressedBytes { get; }

    public int BlockSize { get; }

    /// <summary>cbytes: the whole frame's length, header included.</summary>
    public int CompressedBytes { get; }

    public bool ByteShuffle => (Flags & 0x01) != 0;

    public bool Memcpyed => (Flags & 0x02) != 0;

    public bool BitShuffle => (Flags & 0x04) != 0;

    public bool DontSplit => (Flags & 0x10) != 0;

    public int CodecId => Flags >> 5;

    public string CodecName => BloscDecoder.CodecName(CodecId);

    /// <summary>Reads the header without validating it; <see cref="BloscDecoder"/> validates.</summary>
    public static BloscHeader Read(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < Size)
        {
            throw BloscDecoder.Corrupt($"the frame is {frame.Length} bytes long, shorter than the 16-byte blosc header");
        }

        return new BloscHeader(
            frame[0],
            frame[1],
            frame[2],
            frame[3],
            BinaryPrimitives.ReadInt32LittleEndian(frame.Slice(4)),
            BinaryPrimitives.ReadInt32LittleEndian(frame.Slice(8)),
            BinaryPrimitives.ReadInt32LittleEndian(frame.Slice(12)));
    }
}

/// <summary>
/// A managed decoder for Blosc1 frames as the BOSS cutout service sends them (c-blosc README_HEADER.rst): blosclz, lz4,
/// zlib and zstd inner codecs, byte shuffle with any type size (BOSS writes the bit depth), bit
/// shuffle, memcpyed frames, split and unsplit blocks. Every length is checked; a frame that is
/// not exactly what its header promises fails with <c>BossPayloadCorrupt</c>, one this decoder
/// cannot handle with <c>BossPayloadUnsupported</c> naming the codec or flag.
/// </summary>
public static class BloscDecoder
{
    public const string CorruptErrorId = "BossPayloadCorrupt";
    public const string UnsupportedErrorId = "BossPayloadUnsupported";
    private const int MaxSplits = 16;
    private const int MinBufferSize = 128;

    public static string CodecName(int codecId) => codecId switch
    {
        0 => "blosclz",
        1 => "lz4",
        2 => "snappy",
        3 => "zlib",
        4 => "zstd",
        _ => "unknown codec " + codecId,
    };

    /// <summary>Reads and validates the header of <paramref name="frame"/> (the whole response body).</summary>
    public static BloscHeader ReadHeader(ReadOnlySpan<byte> frame)
    {
        BloscHeader header = BloscHeader.Read(frame);
        if (header.Version != 2)
        {
            throw header.Version is >= 3 and <= 5
                ? Unsupported($"the frame has format version {header.Version}, which is a Blosc2 chunk; only Blosc1 (version 2) frames are supported")
                : Corrupt($"the frame has format version {header.Version}; Blosc1 frames have version 2");
        }

        if (header.VersionLz != 1)
        {
            throw Unsupported($"the frame's codec format version (versionlz) is {header.VersionLz}; only 1 is supported");
        }

        if ((header.Flags & 0x08) != 0)
        {
            throw Corrupt($"the frame sets the reserved flag bit 0x08 (flags 0x{header.Flags:x2})");
        }

        if (header.TypeSize == 0)
        {
            throw Corrupt("the frame's typesize is 0");
        }

        if (header.UncompressedBytes < 0 || header.BlockSize <= 0 && header.UncompressedBytes > 0)
        {
            throw Corrupt($"the frame header is invalid (nbytes {header.UncompressedBytes}, blocksize {header.BlockSize})");
        }

        if (header.CompressedBytes != frame.Length)
        {
            throw Corrupt(header.CompressedBytes > frame.Length
                ? $"the frame is {frame.Length:N0} bytes long, but its header says {header.CompressedBytes:N0} bytes; the download was cut short"
                : $"the frame is {frame.Length:N0} bytes long, but its header says {header.CompressedBytes:N0} bytes; there are extra bytes after it");
        }

        return header;
    }

    /// <summary>
    /// Decodes <paramref name="frame"/> into <paramref name="destination"/>, whose length must equal
    /// the frame's nbytes (checked before any work, so a corrupt header cannot cause a huge allocation).
    /// </summary>
    public static void Decode(ReadOnlySpan<byte> frame, Span<byte> destination) => Decode(frame, destination, -1);

    /// <summary>As <see cref="Decode(ReadOnlySpan{byte}, Span{byte})"/>, with at most <paramref name="maxParallelism"/> blocks at once (-1: the thread pool decides).</summary>
    public static void Decode(ReadOnlySpan<byte> frame, Span<byte> destination, int maxParallelism)
    {
        BloscHeader header = ReadHeader(frame);
        if (header.UncompressedBytes != destination.Length)
        {
            throw Corrupt($"the frame decodes to {header.UncompressedBytes:N0} bytes, but {destination.Length:N0} were expected for the requested box and type");
        }

        if (header.UncompressedBytes == 0)
        {
            return;
        }

        if (header.Memcpyed)
        {
            if (header.CompressedBytes != header.UncompressedBytes + BloscHeader.Size)
            {
                throw Corrupt($"the memcpyed frame is {header.CompressedBytes:N0} bytes long; expected {header.UncompressedBytes + BloscHeader.Size:N0}");
            }

            frame.Slice(BloscHeader.Size, header.UncompressedBytes).CopyTo(destination);
            return;
        }

        int codec = header.CodecId;
        if (codec is not (0 or 1 or 3 or 4))
        {
            throw Unsupported($"the frame is compressed with {CodecName(codec)} (codec {codec}), which this module does not decode; use -Format npygz");
        }

        int nblocks = (int)(((long)header.UncompressedBytes + header.BlockSize - 1) / header.BlockSize);
        if (BloscHeader.Size + 4L * nblocks > header.CompressedBytes)
        {
            throw Corrupt($"the frame's block table ({nblocks:N0} blocks) does not fit in its {header.CompressedBytes:N0} bytes");
        }

        unsafe
        {
            fixed (byte* src = frame)
            fixed (byte* dst = destination)
            {
                var state = new FrameState(src, frame.Length, dst, header, nblocks);
                if (nblocks > 1 && header.UncompressedBytes >= 1 << 20 && maxParallelism != 1)
                {
                    try
                    {
                        Parallel.For(0, nblocks, new ParallelOptions { MaxDegreeOfParallelism = maxParallelism }, state.DecodeBlock);
                    }
                    catch (AggregateException ex) when (ex.InnerException is EngineException inner)
                    {
                        System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(inner).Throw();
                    }
                }
                else
                {
                    for (int j = 0; j < nblocks; j++)
                    {
                        state.DecodeBlock(j);
                    }
                }
            }
        }
    }

    internal static EngineException Corrupt(string reason) =>
        new(CorruptErrorId, EngineErrorKind.InvalidData, "The blosc frame is corrupt: " + reason + ".");

    internal static EngineException Unsupported(string reason) =>
        new(UnsupportedErrorId, EngineErrorKind.NotSupported, "The blosc frame cannot be decoded: " + reason + ".", recommendedAction: "Run the command again with -Format npygz.");

    private sealed unsafe class FrameState
    {
        private readonly byte* _src;
        private readonly int _srcLength;
        private readonly byte* _dst;
        private readonly BloscHeader _header;
        private readonly int _nblocks;

        public FrameState(byte* src, int srcLength, byte* dst, BloscHeader header, int nblocks)
        {
            _src = src;
            _srcLength = srcLength;
            _dst = dst;
            _header = header;
            _nblocks = nblocks;
        }

        public void DecodeBlock(int j)
        {
            int blockSize = _header.BlockSize;
            int nbytes = _header.UncompressedBytes;
            int leftover = nbytes % blockSize;
            bool leftoverBlock = j == _nblocks - 1 && leftover > 0;
            int bsize = leftoverBlock ? leftover : blockSize;
            int typeSize = _header.TypeSize;
            bool split = !_header.DontSplit && typeSize <= MaxSplits && bsize / typeSize >= MinBufferSize && !leftoverBlock;
            int nsplits = split ? typeSize : 1;
            int neblock = bsize / nsplits;
            if (neblock * nsplits != bsize)
            {
                // c-blosc splits only blocks that are whole multiples of the type size: streams of
                // bsize / typesize bytes would leave the last bytes of the block unwritten.
                throw Corrupt($"block {j} of {bsize} bytes cannot be split into {nsplits} streams");
            }

            bool byteShuffled = _header.ByteShuffle && typeSize > 1;
            bool bitShuffled = !byteShuffled && _header.BitShuffle && blockSize >= typeSize;
            bool shuffled = byteShuffled || bitShuffled;

            int start = BinaryPrimitives.ReadInt32LittleEndian(new ReadOnlySpan<byte>(_src + BloscHeader.Size + 4 * j, 4));
            if (start < BloscHeader.Size + 4 * _nblocks || start > _srcLength)
            {
                throw Corrupt($"block {j} starts at offset {start}, outside the frame");
            }

            byte[]? scratch = shuffled ? System.Buffers.ArrayPool<byte>.Shared.Rent(bsize) : null;
            try
            {
                var output = new Span<byte>(_dst + (long)j * blockSize, bsize);
                Span<byte> target = scratch is null ? output : scratch.AsSpan(0, bsize);
                long pos = start;
                for (int s = 0; s < nsplits; s++)
                {
                    if (pos + 4 > _srcLength)
                    {
                        throw Corrupt($"block {j} stream {s} runs past the end of the frame");
                    }

                    int csize = BinaryPrimitives.ReadInt32LittleEndian(new ReadOnlySpan<byte>(_src + pos, 4));
                    pos += 4;
                    if (csize < 0 || pos + csize > _srcLength)
                    {
                        throw Corrupt($"block {j} stream {s} claims {csize} bytes, past the end of the frame");
                    }

                    var input = new ReadOnlySpan<byte>(_src + pos, csize);
                    Span<byte> piece = target.Slice(s * neblock, neblock);
                    if (csize == neblock)
                    {
                        input.CopyTo(piece);
                    }
                    else
                    {
                        DecodeStream(_header.CodecId, input, piece, j, s);
                    }

                    pos += csize;
                }

                if (scratch is not null)
                {
                    if (bitShuffled)
                    {
                        Shuffle.BitUnshuffle(target, output, typeSize);
                    }
                    else
                    {
                        Shuffle.ByteUnshuffle(target, output, typeSize);
                    }
                }
            }
            finally
            {
                if (scratch is not null)
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(scratch);
                }
            }
        }

        private static void DecodeStream(int codec, ReadOnlySpan<byte> input, Span<byte> output, int block, int stream)
        {
            int written = codec switch
            {
                0 => BloscLz.Decompress(input, output),
                1 => Lz4Block.Decompress(input, output),
                3 => ZlibInflate.Decompress(input, output),
                4 => ZstdInflate.Decompress(input, output),
                _ => throw Unsupported($"codec {codec}"),
            };
            if (written != output.Length)
            {
                throw Corrupt($"block {block} stream {stream} ({CodecName(codec)}) decoded to {written} bytes instead of {output.Length}");
            }
        }
    }
}
