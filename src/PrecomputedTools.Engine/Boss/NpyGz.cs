using System;
using System.Globalization;
using System.IO;
using System.Text;

namespace PrecomputedTools.Engine.Boss;

/// <summary>
/// The BOSS <c>application/npygz</c> payload (BOSS API docs, cutout service): a zlib (RFC 1950) stream of a whole .npy file.
/// The array bytes are inflated straight into the caller's buffer after the header is checked.
/// </summary>
public static class NpyGz
{
    private static readonly byte[] s_magic = { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y' };

    /// <summary>The parsed .npy header.</summary>
    public sealed class NpyHeader
    {
        public NpyHeader(string descr, bool fortranOrder, long[] shape)
        {
            Descr = descr;
            FortranOrder = fortranOrder;
            Shape = shape;
        }

        public string Descr { get; }

        public bool FortranOrder { get; }

        public long[] Shape { get; }
    }

    /// <summary>
    /// Decodes a payload into <paramref name="destination"/>, checking that its dtype is
    /// <paramref name="type"/> and its shape equals <paramref name="expectedShape"/> (C order, e.g. z,y,x).
    /// </summary>
    public static NpyHeader Decode(Stream payload, VoxelType type, long[] expectedShape, Span<byte> destination)
    {
        using Stream inflater = ZlibInflate.OpenStream(payload);
        NpyHeader header = ReadHeader(inflater);
        string expectedDescr = DescrOf(type);
        if (header.Descr != expectedDescr)
        {
            throw BloscDecoder.Corrupt($"the npy payload holds '{header.Descr}' values; '{expectedDescr}' was expected").WithPrefix("npygz");
        }

        if (header.FortranOrder)
        {
            throw BloscDecoder.Corrupt("the npy payload is in Fortran order").WithPrefix("npygz");
        }

        if (!ShapeEquals(header.Shape, expectedShape))
        {
            throw BloscDecoder.Corrupt($"the npy payload has shape ({string.Join(", ", header.Shape)}); ({string.Join(", ", expectedShape)}) was expected").WithPrefix("npygz");
        }

        long bytes = VoxelTypes.SizeOf(type);
        foreach (long d in header.Shape)
        {
            bytes *= d;
        }

        if (bytes != destination.Length)
        {
            throw BloscDecoder.Corrupt($"the npy payload holds {bytes:N0} bytes; the destination holds {destination.Length:N0}").WithPrefix("npygz");
        }

        int read = ZlibInflate.ReadFully(inflater, destination);
        if (read != destination.Length)
        {
            throw BloscDecoder.Corrupt($"the npy data ends after {read:N0} of {destination.Length:N0} bytes; the download was cut short").WithPrefix("npygz");
        }

        if (ZlibInflate.HasMore(inflater))
        {
            throw BloscDecoder.Corrupt("the npy data has extra bytes after the array").WithPrefix("npygz");
        }

        return header;
    }

    public static string DescrOf(VoxelType type) => type switch
    {
        VoxelType.UInt8 => "|u1",
        VoxelType.UInt16 => "<u2",
        VoxelType.UInt32 => "<u4",
        VoxelType.UInt64 => "<u8",
        VoxelType.Float32 => "<f4",
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    /// <summary>Reads the magic, version, length and dict of a .npy header from <paramref name="stream"/>.</summary>
    public static NpyHeader ReadHeader(Stream stream)
    {
        Span<byte> prefix = stackalloc byte[12];
        int got = ZlibInflate.ReadFully(stream, prefix.Slice(0, 10));
        if (got < 10 || !prefix.Slice(0, 6).SequenceEqual(s_magic))
        {
            throw BloscDecoder.Corrupt("the payload is not a .npy file (bad magic)").WithPrefix("npygz");
        }

        int major = prefix[6];
        int headerLength;
        if (major == 1)
        {
            headerLength = prefix[8] | (prefix[9] << 8);
        }
        else if (major is 2 or 3)
        {
            if (ZlibInflate.ReadFully(stream, prefix.Slice(10, 2)) < 2)
            {
                throw BloscDecoder.Corrupt("the .npy header is cut short").WithPrefix("npygz");
            }

            headerLength = prefix[8] | (prefix[9] << 8) | (prefix[10] << 16) | (prefix[11] << 24);
            if (headerLength < 0 || headerLength > 1 << 20)
            {
                throw BloscDecoder.Corrupt("the .npy header length is implausible").WithPrefix("npygz");
            }
        }
        else
        {
            throw BloscDecoder.Corrupt($"the .npy format version {major} is unknown").WithPrefix("npygz");
        }

        byte[] text = new byte[headerLength];
        if (ZlibInflate.ReadFully(stream, text) != headerLength)
        {
            throw BloscDecoder.Corrupt("the .npy header is cut short").WithPrefix("npygz");
        }

        return ParseDict(Encoding.UTF8.GetString(text));
    }

    /// <summary>Parses "{'descr': '&lt;u2', 'fortran_order': False, 'shape': (16, 512, 512), }".</summary>
    public static NpyHeader ParseDict(string text)
    {
        string? descr = null;
        bool? fortran = null;
        long[]? shape = null;
        int i = 0;
        SkipSpace(text, ref i);
        Expect(text, ref i, '{');
        while (true)
        {
            SkipSpace(text, ref i);
            if (i < text.Length && text[i] == '}')
            {
                break;
            }

            string key = ReadQuoted(text, ref i);
            SkipSpace(text, ref i);
            Expect(text, ref i, ':');
            SkipSpace(text, ref i);
            switch (key)
            {
                case "descr":
                    descr = ReadQuoted(text, ref i);
                    break;
                case "fortran_order":
                    if (string.CompareOrdinal(text, i, "True", 0, 4) == 0)
                    {
                        fortran = true;
                        i += 4;
                    }
                    else if (string.CompareOrdinal(text, i, "False", 0, 5) == 0)
                    {
                        fortran = false;
                        i += 5;
                    }
                    else
                    {
                        throw BadHeader();
                    }

                    break;
                case "shape":
                    shape = ReadTuple(text, ref i);
                    break;
                default:
                    throw BloscDecoder.Corrupt($"the .npy header has an unknown key '{key}'").WithPrefix("npygz");
            }

            SkipSpace(text, ref i);
            if (i < text.Length && text[i] == ',')
            {
                i++;
            }
        }

        if (descr is null || fortran is null || shape is null)
        {
            throw BloscDecoder.Corrupt("the .npy header lacks descr, fortran_order or shape").WithPrefix("npygz");
        }

        return new NpyHeader(descr, fortran.Value, shape);
    }

    private static long[] ReadTuple(string text, ref int i)
    {
        Expect(text, ref i, '(');
        var values = new System.Collections.Generic.List<long>();
        while (true)
        {
            SkipSpace(text, ref i);
            if (i < text.Length && text[i] == ')')
            {
                i++;
                return values.ToArray();
            }

            int start = i;
            while (i < text.Length && char.IsDigit(text[i]))
            {
                i++;
            }

            if (i == start || !long.TryParse(text.Substring(start, i - start), NumberStyles.None, CultureInfo.InvariantCulture, out long value))
            {
                throw BadHeader();
            }

            values.Add(value);
            SkipSpace(text, ref i);
            if (i < text.Length && text[i] == ',')
            {
                i++;
            }
        }
    }

    private static string ReadQuoted(string text, ref int i)
    {
        if (i >= text.Length || (text[i] != '\'' && text[i] != '"'))
        {
            throw BadHeader();
        }

        char quote = text[i++];
        int end = text.IndexOf(quote, i);
        if (end < 0)
        {
            throw BadHeader();
        }

        string value = text.Substring(i, end - i);
        i = end + 1;
        return value;
    }

    private static void Expect(string text, ref int i, char c)
    {
        if (i >= text.Length || text[i] != c)
        {
            throw BadHeader();
        }

        i++;
    }

    private static void SkipSpace(string text, ref int i)
    {
        while (i < text.Length && char.IsWhiteSpace(text[i]))
        {
            i++;
        }
    }

    private static EngineException BadHeader() => BloscDecoder.Corrupt("the .npy header cannot be parsed").WithPrefix("npygz");

    private static bool ShapeEquals(long[] a, long[] b)
    {
        if (a.Length != b.Length)
        {
            return false;
        }

        for (int k = 0; k < a.Length; k++)
        {
            if (a[k] != b[k])
            {
                return false;
            }
        }

        return true;
    }

    private static EngineException WithPrefix(this EngineException ex, string format) =>
        new(ex.ErrorId, ex.Kind, ex.Message.Replace("The blosc frame is corrupt", "The " + format + " payload is corrupt"), ex.Target, ex.InnerException);
}
