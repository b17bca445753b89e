using System;
using System.Collections.Generic;
using System.Linq;

namespace PrecomputedTools.Engine.Meshing.Draco;

/// <summary>
/// Draco's entropy coding of unsigned symbols (google/draco bitstream 2.2, "symbol coding"): a
/// scheme byte, then either the raw scheme (a probability table over the symbols and one rANS
/// stream) or the tagged scheme (a rANS stream of bit lengths, one per entry of
/// <c>components</c> values, then the values themselves as that many bits each, LSB first).
/// Both are written and the shorter kept. rANS: 4·precision lower bound, byte-wise renormalisation,
/// symbols coded last to first so that the decoder reads them first to last; the final state is
/// stored in 1-4 bytes whose top two bits give its length.
/// </summary>
internal static class DracoSymbolCoding
{
    private const byte TaggedScheme = 0;
    private const byte RawScheme = 1;
    private const int MaxRawBitLength = 18;
    private const int TagBitLength = 5;

    /// <summary>Appends the coded <paramref name="symbols"/> (entries of <paramref name="components"/> values) to <paramref name="output"/>.</summary>
    public static void Encode(ReadOnlySpan<uint> symbols, int components, List<byte> output)
    {
        if (symbols.Length == 0)
        {
            return;
        }

        var tagged = new List<byte>();
        EncodeTagged(symbols, components, tagged);
        uint max = 0;
        foreach (uint s in symbols)
        {
            max = Math.Max(max, s);
        }

        // The raw scheme's table has an entry per value up to the largest (runs of absent values
        // cost a byte per 64): only worth building when the values are not spread thinly.
        if (BitLength(max) <= MaxRawBitLength && max < 8L * symbols.Length)
        {
            var raw = new List<byte>();
            EncodeRaw(symbols, max, raw);
            if (raw.Count < tagged.Count)
            {
                output.AddRange(raw);
                return;
            }
        }

        output.AddRange(tagged);
    }

    /// <summary>Reads <paramref name="destination"/>.Length symbols coded by <see cref="Encode"/> (or any Draco encoder) at <paramref name="at"/>.</summary>
    public static void Decode(ReadOnlySpan<byte> data, ref int at, int components, Span<uint> destination)
    {
        if (destination.Length == 0)
        {
            return;
        }

        byte scheme = Byte(data, ref at);
        if (scheme == RawScheme)
        {
            int bitLength = Byte(data, ref at);
            if (bitLength < 1 || bitLength > MaxRawBitLength)
            {
                throw Invalid($"has a raw symbol bit length of {bitLength}");
            }

            var decoder = new RansDecoder(data, ref at, Precision(bitLength));
            for (int i = 0; i < destination.Length; i++)
            {
                destination[i] = decoder.Read();
            }
        }
        else if (scheme == TaggedScheme)
        {
            var tags = new RansDecoder(data, ref at, Precision(TagBitLength));
            long bit = 0;
            for (int i = 0; i < destination.Length; i += components)
            {
                uint length = tags.Read();
                if (length > 32)
                {
                    throw Invalid($"has a tag of {length} bits");
                }

                for (int c = 0; c < components && i + c < destination.Length; c++)
                {
                    uint value = 0;
                    for (int b = 0; b < length; b++, bit++)
                    {
                        int index = at + (int)(bit >> 3);
                        if (index >= data.Length)
                        {
                            throw Invalid("ends inside its tagged values");
                        }

                        value |= (uint)((data[index] >> (int)(bit & 7)) & 1) << b;
                    }

                    destination[i + c] = value;
                }
            }

            at += (int)((bit + 7) >> 3);
        }
        else
        {
            throw Invalid($"has symbol coding scheme {scheme}");
        }
    }

    private static void EncodeRaw(ReadOnlySpan<uint> symbols, uint max, List<byte> output)
    {
        long[] frequencies = new long[max + 1];
        int unique = 0;
        foreach (uint s in symbols)
        {
            if (frequencies[s]++ == 0)
            {
                unique++;
            }
        }

        int bitLength = Math.Min(Math.Max(1, BitLength((uint)unique)), MaxRawBitLength);
        output.Add(RawScheme);
        output.Add((byte)bitLength);
        WriteCoded(symbols, frequencies, Precision(bitLength), output);
    }

    private static void EncodeTagged(ReadOnlySpan<uint> symbols, int components, List<byte> output)
    {
        int entries = (symbols.Length + components - 1) / components;
        uint[] tags = new uint[entries];
        long[] frequencies = new long[33];
        long bits = 0;
        for (int e = 0; e < entries; e++)
        {
            uint max = 0;
            for (int c = 0; c < components && (e * components) + c < symbols.Length; c++)
            {
                max = Math.Max(max, symbols[(e * components) + c]);
            }

            tags[e] = (uint)Math.Max(1, BitLength(max));
            frequencies[tags[e]]++;
            bits += tags[e] * components;
        }

        int last = 32;
        while (frequencies[last] == 0)
        {
            last--;
        }

        Array.Resize(ref frequencies, last + 1);
        output.Add(TaggedScheme);
        WriteCoded(tags, frequencies, Precision(TagBitLength), output);

        // The values, LSB first: bits gather in a 64-bit accumulator and leave a byte at a time.
        byte[] packed = new byte[(bits + 7) >> 3];
        int written = 0;
        ulong pending = 0;
        int pendingBits = 0;
        for (int e = 0; e < entries; e++)
        {
            int length = (int)tags[e];
            for (int c = 0; c < components && (e * components) + c < symbols.Length; c++)
            {
                ulong value = length == 32 ? symbols[(e * components) + c] : symbols[(e * components) + c] & ((1u << length) - 1);
                pending |= value << pendingBits;
                pendingBits += length;
                while (pendingBits >= 8)
                {
                    packed[written++] = (byte)pending;
                    pending >>= 8;
                    pendingBits -= 8;
                }
            }
        }

        if (pendingBits > 0)
        {
            packed[written] = (byte)pending;
        }

        output.AddRange(packed);
    }

    // The probability table, then varint(length) and the rANS bytes of the symbols.
    private static void WriteCoded(ReadOnlySpan<uint> symbols, long[] frequencies, int precisionBits, List<byte> output)
    {
        uint[] probabilities = Normalize(frequencies, precisionBits);
        WriteVarUInt(output, (uint)probabilities.Length);
        for (int i = 0; i < probabilities.Length; i++)
        {
            uint p = probabilities[i];
            if (p == 0)
            {
                // A run of zero probabilities: 6 bits of (run − 1), token 3. The last symbol is never zero.
                int run = 1;
                while (run < 64 && probabilities[i + run] == 0)
                {
                    run++;
                }

                output.Add((byte)(((run - 1) << 2) | 3));
                i += run - 1;
                continue;
            }

            int extra = p >= (1u << 14) ? 2 : p >= (1u << 6) ? 1 : 0;
            output.Add((byte)((p << 2) | (uint)extra));
            for (int b = 0; b < extra; b++)
            {
                output.Add((byte)(p >> ((8 * (b + 1)) - 2)));
            }
        }

        uint[] cumulative = new uint[probabilities.Length];
        for (int i = 1; i < probabilities.Length; i++)
        {
            cumulative[i] = cumulative[i - 1] + probabilities[i - 1];
        }

        uint precision = 1u << precisionBits;
        uint lower = precision * 4;
        var stream = new List<byte>();
        uint state = lower;
        for (int i = symbols.Length - 1; i >= 0; i--)
        {
            uint p = probabilities[symbols[i]];
            while (state >= lower / precision * 256 * p)
            {
                stream.Add((byte)state);
                state >>= 8;
            }

            state = ((state / p) * precision) + (state % p) + cumulative[symbols[i]];
        }

        uint rest = state - lower;
        if (rest < (1u << 6))
        {
            stream.Add((byte)rest);
        }
        else if (rest < (1u << 14))
        {
            uint v = (1u << 14) + rest;
            stream.Add((byte)v);
            stream.Add((byte)(v >> 8));
        }
        else if (rest < (1u << 22))
        {
            uint v = (2u << 22) + rest;
            stream.Add((byte)v);
            stream.Add((byte)(v >> 8));
            stream.Add((byte)(v >> 16));
        }
        else
        {
            uint v = (3u << 30) + rest;
            stream.Add((byte)v);
            stream.Add((byte)(v >> 8));
            stream.Add((byte)(v >> 16));
            stream.Add((byte)(v >> 24));
        }

        WriteVarUInt(output, (uint)stream.Count);
        output.AddRange(stream);
    }

    // Frequencies scaled to sum to exactly 2^precisionBits, every symbol that occurs at least 1.
    private static uint[] Normalize(long[] frequencies, int precisionBits)
    {
        long total = 0;
        foreach (long f in frequencies)
        {
            total += f;
        }

        long precision = 1L << precisionBits;
        uint[] probabilities = new uint[frequencies.Length];
        long sum = 0;
        for (int i = 0; i < frequencies.Length; i++)
        {
            if (frequencies[i] > 0)
            {
                probabilities[i] = (uint)Math.Max(1, frequencies[i] * precision / total);
                sum += probabilities[i];
            }
        }

        // Hand the remainder to (or take the excess from) the most probable symbols first.
        var present = new List<int>();
        for (int i = 0; i < frequencies.Length; i++)
        {
            if (frequencies[i] > 0)
            {
                present.Add(i);
            }
        }

        int[] order = present.ToArray();
        long[] keys = order.Select(i => -frequencies[i]).ToArray();
        Array.Sort(keys, order);
        while (sum != precision)
        {
            bool changed = false;
            foreach (int i in order)
            {
                if (sum == precision)
                {
                    break;
                }

                if (sum < precision)
                {
                    // Most of a shortfall goes to the most probable symbol at once.
                    long add = Math.Max(1, (precision - sum) / 2);
                    probabilities[i] += (uint)add;
                    sum += add;
                    changed = true;
                }
                else if (probabilities[i] > 1)
                {
                    long take = Math.Max(1, Math.Min(probabilities[i] - 1, (sum - precision) / 2));
                    probabilities[i] -= (uint)take;
                    sum -= take;
                    changed = true;
                }
            }

            if (!changed)
            {
                throw new InvalidOperationException("More distinct symbols than the rANS precision can hold.");
            }
        }

        return probabilities;
    }

    // Precision bits for a symbol bit length: 3/2 of it, clamped to 12..20 (Draco's rule).
    private static int Precision(int bitLength) => Math.Min(20, Math.Max(12, 3 * bitLength / 2));

    private static int BitLength(uint value)
    {
        int bits = 0;
        while (value != 0)
        {
            bits++;
            value >>= 1;
        }

        return bits;
    }

    internal static void WriteVarUInt(List<byte> output, uint value)
    {
        while (value >= 0x80)
        {
            output.Add((byte)(value | 0x80));
            value >>= 7;
        }

        output.Add((byte)value);
    }

    internal static uint ReadVarUInt(ReadOnlySpan<byte> data, ref int at)
    {
        uint v = 0;
        for (int shift = 0; shift < 35; shift += 7)
        {
            byte b = Byte(data, ref at);
            v |= (uint)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return v;
            }
        }

        throw Invalid("has a varint longer than 5 bytes");
    }

    private static byte Byte(ReadOnlySpan<byte> data, ref int at) => at < data.Length ? data[at++] : throw Invalid("ends early");

    internal static EngineException Invalid(string what) => new("InvalidDracoMesh", EngineErrorKind.InvalidData, $"The Draco fragment {what}.");

    /// <summary>Reads one rANS-coded symbol stream: its probability table, its length and its bytes.</summary>
    private ref struct RansDecoder
    {
        private readonly ReadOnlySpan<byte> _stream;
        private readonly uint[] _probabilities;
        private readonly uint[] _cumulative;
        private readonly uint[] _lookup;
        private readonly uint _precision;
        private readonly uint _lower;
        private int _offset;
        private uint _state;

        public RansDecoder(ReadOnlySpan<byte> data, ref int at, int precisionBits)
        {
            _precision = 1u << precisionBits;
            _lower = _precision * 4;
            uint count = ReadVarUInt(data, ref at);
            if (count == 0 || count / 64 > data.Length - at)
            {
                throw Invalid($"has a probability table of {count} symbols");
            }

            _probabilities = new uint[count];
            for (uint i = 0; i < count; i++)
            {
                byte first = Byte(data, ref at);
                int token = first & 3;
                if (token == 3)
                {
                    uint run = (uint)(first >> 2);
                    if (i + run >= count)
                    {
                        throw Invalid("has a zero run past the end of its probability table");
                    }

                    i += run;
                    continue;
                }

                uint p = (uint)(first >> 2);
                for (int b = 0; b < token; b++)
                {
                    p |= (uint)Byte(data, ref at) << ((8 * (b + 1)) - 2);
                }

                _probabilities[i] = p;
            }

            _cumulative = new uint[count];
            _lookup = new uint[_precision];
            uint sum = 0;
            for (uint i = 0; i < count; i++)
            {
                _cumulative[i] = sum;
                if (sum + (ulong)_probabilities[i] > _precision)
                {
                    throw Invalid("has probabilities that add up to more than the rANS precision");
                }

                for (uint j = sum; j < sum + _probabilities[i]; j++)
                {
                    _lookup[j] = i;
                }

                sum += _probabilities[i];
            }

            if (sum != _precision)
            {
                throw Invalid("has probabilities that do not add up to the rANS precision");
            }

            uint length = ReadVarUInt(data, ref at);
            if (length < 1 || length > data.Length - at)
            {
                throw Invalid($"has a rANS stream of {length} bytes");
            }

            _stream = data.Slice(at, (int)length);
            at += (int)length;
            int kind = _stream[(int)length - 1] >> 6;
            int bytes = kind + 1;
            if (length < bytes)
            {
                throw Invalid("has a rANS stream shorter than its final state");
            }

            _offset = (int)length - bytes;
            uint state = 0;
            for (int b = 0; b < bytes; b++)
            {
                state |= (uint)_stream[_offset + b] << (8 * b);
            }

            _state = (state & ((1u << ((8 * bytes) - 2)) - 1)) + _lower;
            if (_state >= _lower * 256)
            {
                throw Invalid("has a rANS state out of range");
            }
        }

        public uint Read()
        {
            while (_state < _lower && _offset > 0)
            {
                _state = (_state << 8) | _stream[--_offset];
            }

            uint quotient = _state / _precision;
            uint remainder = _state % _precision;
            uint symbol = _lookup[remainder];
            _state = (quotient * _probabilities[symbol]) + remainder - _cumulative[symbol];
            return symbol;
        }
    }
}
