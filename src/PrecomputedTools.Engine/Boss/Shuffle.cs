using System;
#if NET
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
#endif

namespace PrecomputedTools.Engine.Boss;

/// <summary>Blosc's byte and bit unshuffle filters (flag bits 0 and 2 of c-blosc README_HEADER.rst).</summary>
internal static class Shuffle
{
    /// <summary>
    /// Undoes the byte shuffle of one block: byte i of element k comes from position i·q + k.
    /// Trailing bytes that do not fill an element were never shuffled and are copied.
    /// </summary>
    public static unsafe void ByteUnshuffle(ReadOnlySpan<byte> source, Span<byte> destination, int typeSize)
    {
        int size = source.Length;
        int q = size / typeSize;
        fixed (byte* s = source)
        fixed (byte* d = destination)
        {
            if (typeSize % 8 == 0 && TryUnshuffleSimd(s, d, q, typeSize))
            {
            }
            else if (typeSize == 8)
            {
                Unshuffle8(s, d, q, 0);
            }
            else if (typeSize % 8 == 0)
            {
                // Groups of 8 streams at a time: each output element gets 8 bytes per store.
                for (int g = 0; g < typeSize; g += 8)
                {
                    byte* s0 = s + (long)g * q;
                    for (int k = 0; k < q; k++)
                    {
                        byte* row = s0 + k;
                        ulong value = row[0]
                            | ((ulong)row[q] << 8)
                            | ((ulong)row[2 * q] << 16)
                            | ((ulong)row[3 * q] << 24)
                            | ((ulong)row[4 * q] << 32)
                            | ((ulong)row[5 * q] << 40)
                            | ((ulong)row[6 * q] << 48)
                            | ((ulong)row[7 * q] << 56);
                        *(ulong*)(d + (long)k * typeSize + g) = value;
                    }
                }
            }
            else
            {
                for (int i = 0; i < typeSize; i++)
                {
                    byte* row = s + (long)i * q;
                    byte* column = d + i;
                    for (int k = 0; k < q; k++)
                    {
                        column[(long)k * typeSize] = row[k];
                    }
                }
            }

            int done = q * typeSize;
            for (int r = done; r < size; r++)
            {
                d[r] = s[r];
            }
        }
    }

    /// <summary>
    /// SSE2 byte-matrix transpose: 8 streams × 16 elements at a time become 16 elements × 8 bytes
    /// with three rounds of unpacks; groups of 8 streams cover typesize 8, 16, 64 (the BOSS values).
    /// </summary>
    private static unsafe bool TryUnshuffleSimd(byte* s, byte* d, int q, int typeSize)
    {
#if NET
        if (!Sse2.IsSupported || q < 16)
        {
            return false;
        }

        int whole = q & ~15;
        for (int g = 0; g < typeSize; g += 8)
        {
            byte* rows = s + (long)g * q;
            for (int k = 0; k < whole; k += 16)
            {
                byte* p = rows + k;
                Vector128<byte> a0 = Sse2.LoadVector128(p);
                Vector128<byte> a1 = Sse2.LoadVector128(p + q);
                Vector128<byte> a2 = Sse2.LoadVector128(p + 2 * q);
                Vector128<byte> a3 = Sse2.LoadVector128(p + 3 * q);
                Vector128<byte> a4 = Sse2.LoadVector128(p + 4 * q);
                Vector128<byte> a5 = Sse2.LoadVector128(p + 5 * q);
                Vector128<byte> a6 = Sse2.LoadVector128(p + 6 * q);
                Vector128<byte> a7 = Sse2.LoadVector128(p + 7 * q);
                Vector128<ushort> b0 = Sse2.UnpackLow(a0, a1).AsUInt16();
                Vector128<ushort> b1 = Sse2.UnpackHigh(a0, a1).AsUInt16();
                Vector128<ushort> b2 = Sse2.UnpackLow(a2, a3).AsUInt16();
                Vector128<ushort> b3 = Sse2.UnpackHigh(a2, a3).AsUInt16();
                Vector128<ushort> b4 = Sse2.UnpackLow(a4, a5).AsUInt16();
                Vector128<ushort> b5 = Sse2.UnpackHigh(a4, a5).AsUInt16();
                Vector128<ushort> b6 = Sse2.UnpackLow(a6, a7).AsUInt16();
                Vector128<ushort> b7 = Sse2.UnpackHigh(a6, a7).AsUInt16();
                Vector128<uint> c0 = Sse2.UnpackLow(b0, b2).AsUInt32();
                Vector128<uint> c1 = Sse2.UnpackHigh(b0, b2).AsUInt32();
                Vector128<uint> c2 = Sse2.UnpackLow(b1, b3).AsUInt32();
                Vector128<uint> c3 = Sse2.UnpackHigh(b1, b3).AsUInt32();
                Vector128<uint> c4 = Sse2.UnpackLow(b4, b6).AsUInt32();
                Vector128<uint> c5 = Sse2.UnpackHigh(b4, b6).AsUInt32();
                Vector128<uint> c6 = Sse2.UnpackLow(b5, b7).AsUInt32();
                Vector128<uint> c7 = Sse2.UnpackHigh(b5, b7).AsUInt32();
                Vector128<ulong> d0 = Sse2.UnpackLow(c0, c4).AsUInt64();
                Vector128<ulong> d1 = Sse2.UnpackHigh(c0, c4).AsUInt64();
                Vector128<ulong> d2 = Sse2.UnpackLow(c1, c5).AsUInt64();
                Vector128<ulong> d3 = Sse2.UnpackHigh(c1, c5).AsUInt64();
                Vector128<ulong> d4 = Sse2.UnpackLow(c2, c6).AsUInt64();
                Vector128<ulong> d5 = Sse2.UnpackHigh(c2, c6).AsUInt64();
                Vector128<ulong> d6 = Sse2.UnpackLow(c3, c7).AsUInt64();
                Vector128<ulong> d7 = Sse2.UnpackHigh(c3, c7).AsUInt64();
                if (typeSize == 8)
                {
                    byte* o = d + (long)k * 8;
                    Sse2.Store(o, d0.AsByte());
                    Sse2.Store(o + 16, d1.AsByte());
                    Sse2.Store(o + 32, d2.AsByte());
                    Sse2.Store(o + 48, d3.AsByte());
                    Sse2.Store(o + 64, d4.AsByte());
                    Sse2.Store(o + 80, d5.AsByte());
                    Sse2.Store(o + 96, d6.AsByte());
                    Sse2.Store(o + 112, d7.AsByte());
                }
                else
                {
                    byte* o = d + (long)k * typeSize + g;
                    long t = typeSize;
                    *(ulong*)o = d0.GetElement(0);
                    *(ulong*)(o + t) = d0.GetElement(1);
                    *(ulong*)(o + 2 * t) = d1.GetElement(0);
                    *(ulong*)(o + 3 * t) = d1.GetElement(1);
                    *(ulong*)(o + 4 * t) = d2.GetElement(0);
                    *(ulong*)(o + 5 * t) = d2.GetElement(1);
                    *(ulong*)(o + 6 * t) = d3.GetElement(0);
                    *(ulong*)(o + 7 * t) = d3.GetElement(1);
                    *(ulong*)(o + 8 * t) = d4.GetElement(0);
                    *(ulong*)(o + 9 * t) = d4.GetElement(1);
                    *(ulong*)(o + 10 * t) = d5.GetElement(0);
                    *(ulong*)(o + 11 * t) = d5.GetElement(1);
                    *(ulong*)(o + 12 * t) = d6.GetElement(0);
                    *(ulong*)(o + 13 * t) = d6.GetElement(1);
                    *(ulong*)(o + 14 * t) = d7.GetElement(0);
                    *(ulong*)(o + 15 * t) = d7.GetElement(1);
                }
            }

            // The elements past the last multiple of 16.
            for (int k = whole; k < q; k++)
            {
                byte* row = rows + k;
                ulong value = row[0]
                    | ((ulong)row[q] << 8)
                    | ((ulong)row[2 * q] << 16)
                    | ((ulong)row[3 * q] << 24)
                    | ((ulong)row[4 * q] << 32)
                    | ((ulong)row[5 * q] << 40)
                    | ((ulong)row[6 * q] << 48)
                    | ((ulong)row[7 * q] << 56);
                *(ulong*)(d + (long)k * typeSize + g) = value;
            }
        }

        return true;
#else
        return false;
#endif
    }

    private static unsafe void Unshuffle8(byte* s, byte* d, int q, int unused)
    {
        byte* r0 = s;
        byte* r1 = s + q;
        byte* r2 = s + 2 * q;
        byte* r3 = s + 3 * q;
        byte* r4 = s + 4 * q;
        byte* r5 = s + 5 * q;
        byte* r6 = s + 6 * q;
        byte* r7 = s + 7 * q;
        ulong* o = (ulong*)d;
        for (int k = 0; k < q; k++)
        {
            o[k] = r0[k]
                | ((ulong)r1[k] << 8)
                | ((ulong)r2[k] << 16)
                | ((ulong)r3[k] << 24)
                | ((ulong)r4[k] << 32)
                | ((ulong)r5[k] << 40)
                | ((ulong)r6[k] << 48)
                | ((ulong)r7[k] << 56);
        }
    }

    /// <summary>
    /// Undoes blosc's bit shuffle of one block: bit row r (r = 8·byte + bit) holds bit r of every
    /// element, eight elements per byte, least significant bit first. Only whole groups of eight
    /// elements are shuffled; when the element count is not a multiple of 8 the block is a copy.
    /// </summary>
    public static unsafe void BitUnshuffle(ReadOnlySpan<byte> source, Span<byte> destination, int typeSize)
    {
        int size = source.Length;
        int elements = size / typeSize;
        if (elements % 8 != 0)
        {
            source.CopyTo(destination);
            return;
        }

        int rowBytes = elements / 8;
        int bits = typeSize * 8;
        fixed (byte* s = source)
        fixed (byte* d = destination)
        {
            new Span<byte>(d, elements * typeSize).Clear();
            for (int r = 0; r < bits; r++)
            {
                byte* row = s + (long)r * rowBytes;
                int byteInElement = r >> 3;
                int bit = r & 7;
                for (int b = 0; b < rowBytes; b++)
                {
                    int packed = row[b];
                    if (packed == 0)
                    {
                        continue;
                    }

                    byte* target = d + ((long)b * 8 * typeSize) + byteInElement;
                    for (int e = 0; e < 8; e++)
                    {
                        target[(long)e * typeSize] |= (byte)(((packed >> e) & 1) << bit);
                    }
                }
            }

            int done = elements * typeSize;
            for (int r = done; r < size; r++)
            {
                d[r] = s[r];
            }
        }
    }
}
