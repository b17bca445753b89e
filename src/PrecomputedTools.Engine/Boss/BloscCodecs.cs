using System;
using System.IO;
using System.IO.Compression;

namespace PrecomputedTools.Engine.Boss;

/// <summary>BloscLZ stream decompression (Blosc codec 0, c-blosc README_HEADER.rst), following c-blosc 1.11.2's decompressor.</summary>
internal static class BloscLz
{
    private const int MaxDistance = 8191;

    /// <summary>Decodes one stream into <paramref name="output"/>; returns the bytes written.</summary>
    public static unsafe int Decompress(ReadOnlySpan<byte> input, Span<byte> output)
    {
        int n = input.Length;
        int outLength = output.Length;
        if (n == 0)
        {
            return 0;
        }

        fixed (byte* ip0 = input)
        fixed (byte* op0 = output)
        {
            int i = 0;
            int o = 0;
            int ctrl = ip0[i++] & 31;
            while (true)
            {
                if (ctrl >= 32)
                {
                    int len = (ctrl >> 5) - 1;
                    int ofs = (ctrl & 31) << 8;
                    if (len == 6)
                    {
                        int code;
                        do
                        {
                            if (i >= n)
                            {
                                throw BloscDecoder.Corrupt("a blosclz match length runs past the end of its stream");
                            }

                            code = ip0[i++];
                            len += code;
                        }
                        while (code == 255);
                    }

                    if (i >= n)
                    {
                        throw BloscDecoder.Corrupt("a blosclz match distance runs past the end of its stream");
                    }

                    int low = ip0[i++];
                    len += 3;
                    ofs += low;
                    if (low == 255 && ofs == (31 << 8) + 255)
                    {
                        if (i + 2 > n)
                        {
                            throw BloscDecoder.Corrupt("a blosclz far distance runs past the end of its stream");
                        }

                        ofs = (ip0[i] << 8) + ip0[i + 1] + MaxDistance;
                        i += 2;
                    }

                    int from = o - ofs - 1;
                    if (from < 0)
                    {
                        throw BloscDecoder.Corrupt("a blosclz match points before the start of its block");
                    }

                    if (len > outLength - o)
                    {
                        throw BloscDecoder.Corrupt("a blosclz match writes past the end of its block");
                    }

                    CopyMatch(op0, from, o, len);
                    o += len;
                }
                else
                {
                    int count = ctrl + 1;
                    if (count > n - i)
                    {
                        throw BloscDecoder.Corrupt("a blosclz literal run reads past the end of its stream");
                    }

                    if (count > outLength - o)
                    {
                        throw BloscDecoder.Corrupt("a blosclz literal run writes past the end of its block");
                    }

                    if (count <= 32 && n - i >= 32 && outLength - o >= 32)
                    {
                        // Wide copy: both sides have 32 bytes of room; the extra bytes are overwritten later.
                        ulong* s = (ulong*)(ip0 + i);
                        ulong* d = (ulong*)(op0 + o);
                        d[0] = s[0];
                        d[1] = s[1];
                        d[2] = s[2];
                        d[3] = s[3];
                    }
                    else
                    {
                        Buffer.MemoryCopy(ip0 + i, op0 + o, outLength - o, count);
                    }

                    i += count;
                    o += count;
                }

                if (i >= n)
                {
                    break;
                }

                ctrl = ip0[i++];
            }

            return o;
        }
    }

    /// <summary>Forward copy of an LZ match where source and destination may overlap (runs).</summary>
    internal static unsafe void CopyMatch(byte* buffer, int from, int to, int length)
    {
        int distance = to - from;
        byte* s = buffer + from;
        byte* d = buffer + to;
        if (distance == 1)
        {
            new Span<byte>(d, length).Fill(*s);
            return;
        }

        if (distance >= 8)
        {
            int k = 0;
            for (; k + 8 <= length; k += 8)
            {
                *(ulong*)(d + k) = *(ulong*)(s + k);
            }

            for (; k < length; k++)
            {
                d[k] = s[k];
            }

            return;
        }

        for (int k = 0; k < length; k++)
        {
            d[k] = s[k];
        }
    }
}

/// <summary>Raw LZ4 block decompression (Blosc codec 1; the LZ4 block format of lz4_Block_format.md), no frame header.</summary>
internal static class Lz4Block
{
    public static unsafe int Decompress(ReadOnlySpan<byte> input, Span<byte> output)
    {
        int n = input.Length;
        int outLength = output.Length;
        fixed (byte* ip0 = input)
        fixed (byte* op0 = output)
        {
            int i = 0;
            int o = 0;
            while (i < n)
            {
                int token = ip0[i++];
                int literals = token >> 4;
                if (literals == 15)
                {
                    int b;
                    do
                    {
                        if (i >= n)
                        {
                            throw BloscDecoder.Corrupt("an lz4 literal length runs past the end of its stream");
                        }

                        b = ip0[i++];
                        literals += b;
                    }
                    while (b == 255);
                }

                if (literals > n - i || literals > outLength - o)
                {
                    throw BloscDecoder.Corrupt("an lz4 literal run does not fit its stream or block");
                }

                if (literals <= 16 && n - i >= 16 && outLength - o >= 16)
                {
                    // Wide copy: both sides have room; bytes past the literals are rewritten later.
                    *(ulong*)(op0 + o) = *(ulong*)(ip0 + i);
                    *(ulong*)(op0 + o + 8) = *(ulong*)(ip0 + i + 8);
                }
                else
                {
                    Buffer.MemoryCopy(ip0 + i, op0 + o, outLength - o, literals);
                }

                i += literals;
                o += literals;
                if (i >= n)
                {
                    break;
                }

                if (i + 2 > n)
                {
                    throw BloscDecoder.Corrupt("an lz4 match offset runs past the end of its stream");
                }

                int offset = ip0[i] | (ip0[i + 1] << 8);
                i += 2;
                if (offset == 0 || offset > o)
                {
                    throw BloscDecoder.Corrupt("an lz4 match offset is invalid");
                }

                int matchLength = token & 15;
                if (matchLength == 15)
                {
                    int b;
                    do
                    {
                        if (i >= n)
                        {
                            throw BloscDecoder.Corrupt("an lz4 match length runs past the end of its stream");
                        }

                        b = ip0[i++];
                        matchLength += b;
                    }
                    while (b == 255);
                }

                matchLength += 4;
                if (matchLength > outLength - o)
                {
                    throw BloscDecoder.Corrupt("an lz4 match writes past the end of its block");
                }

                BloscLz.CopyMatch(op0, o - offset, o, matchLength);
                o += matchLength;
            }

            return o;
        }
    }
}

/// <summary>zlib (RFC 1950) inflation for Blosc codec 3 (c-blosc README_HEADER.rst) and the BOSS npygz payload.</summary>
public static class ZlibInflate
{
    /// <summary>Inflates a whole zlib stream into <paramref name="output"/>; returns the bytes written (at most its length; more is corrupt).</summary>
    public static int Decompress(ReadOnlySpan<byte> input, Span<byte> output)
    {
        byte[] copy = input.ToArray();
        using var source = new MemoryStream(copy, writable: false);
        using Stream inflater = OpenStream(source);
        int total = ReadFully(inflater, output);
        if (total == output.Length && HasMore(inflater))
        {
            throw BloscDecoder.Corrupt("a zlib stream decodes to more bytes than its block holds");
        }

        return total;
    }

    /// <summary>
    /// Opens an inflating stream over a zlib body. On netstandard2.0 the header is checked and
    /// skipped, and the Adler-32 trailer is not verified (DeflateStream stops before it).
    /// </summary>
    public static Stream OpenStream(Stream source)
    {
#if NET
        return new ZLibStream(source, CompressionMode.Decompress, leaveOpen: true);
#else
        int cmf = source.ReadByte();
        int flg = source.ReadByte();
        if (cmf < 0 || flg < 0 || (cmf & 0x0F) != 8 || ((cmf << 8) + flg) % 31 != 0)
        {
            throw BloscDecoder.Corrupt("the zlib stream header is invalid");
        }

        if ((flg & 0x20) != 0)
        {
            throw BloscDecoder.Corrupt("the zlib stream needs a preset dictionary");
        }

        return new DeflateStream(source, CompressionMode.Decompress, leaveOpen: true);
#endif
    }

    private static EngineException CorruptStream(Exception ex) =>
        new(BloscDecoder.CorruptErrorId, EngineErrorKind.InvalidData, "A zlib stream is corrupt: " + ex.Message, inner: ex);

    /// <summary>Whether the stream yields another byte; a corrupt tail is a corrupt stream (the same error as <see cref="ReadFully"/>).</summary>
    internal static bool HasMore(Stream stream)
    {
        try
        {
            return stream.ReadByte() >= 0;
        }
        catch (Exception ex) when (Storage.ObjectContent.IsCorruptCompressedData(ex))
        {
            throw CorruptStream(ex);
        }
    }

    internal static int ReadFully(Stream stream, Span<byte> output)
    {
        int total = 0;
        try
        {
#if NET
            while (total < output.Length)
            {
                int read = stream.Read(output.Slice(total));
                if (read == 0)
                {
                    break;
                }

                total += read;
            }
#else
            byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Min(Math.Max(output.Length, 1), 1 << 16));
            try
            {
                while (total < output.Length)
                {
                    int read = stream.Read(buffer, 0, Math.Min(buffer.Length, output.Length - total));
                    if (read == 0)
                    {
                        break;
                    }

                    buffer.AsSpan(0, read).CopyTo(output.Slice(total));
                    total += read;
                }
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            }
#endif
        }
        catch (Exception ex) when (Storage.ObjectContent.IsCorruptCompressedData(ex))
        {
            throw CorruptStream(ex);
        }

        return total;
    }
}

/// <summary>zstd frames for blosc codec 4, through the managed ZstdSharp port.</summary>
internal static class ZstdInflate
{
    public static int Decompress(ReadOnlySpan<byte> input, Span<byte> output)
    {
        try
        {
            using var decompressor = new ZstdSharp.Decompressor();
            return decompressor.Unwrap(input, output);
        }
        catch (ZstdSharp.ZstdException ex)
        {
            throw new EngineException(BloscDecoder.CorruptErrorId, EngineErrorKind.InvalidData, "A zstd stream in the blosc frame is corrupt: " + ex.Message, inner: ex);
        }
    }
}
