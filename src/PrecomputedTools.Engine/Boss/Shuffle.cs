using System;

namespace PrecomputedTools.Engine.Boss;

/// <summary>Blosc's byte and bit unshuffle filters (BOSS.md §6.6).</summary>
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
            if (typeSize == 8)
            {
                Unshuffle8(s, d, q);
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

    private static unsafe void Unshuffle8(byte* s, byte* d, int q)
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
