using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;

namespace PrecomputedTools.Engine.Tiff;

/// <summary>
/// Checks a TIFF file's directory chain against its length before the TIFF library reads it (TIFF 6.0
/// §2 and the BigTIFF extension): every directory inside the file and visited once, and no entry
/// claiming more value bytes than the file holds. LibTiff.NET allocates what a count says and re-reads
/// it with every directory, so one tag with a count of 2^29 in a 500-byte file cost seconds and
/// gigabytes; here it is refused by arithmetic.
/// </summary>
internal static class TiffStructure
{
    private const int MaxDirectories = 1 << 20;

    public static void Check(string file)
    {
        FileStream stream;
        try
        {
            stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 4096, FileOptions.RandomAccess);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new EngineException("TiffReadFailed", EngineErrorKind.ReadError, $"Cannot read '{file}': {ex.Message}", file, ex);
        }

        using (stream)
        {
            CheckDirectories(file, stream);
        }
    }

    private static void CheckDirectories(string file, FileStream stream)
    {
        long length = stream.Length;
        byte[] header = new byte[16];
        if (ReadAt(stream, 0, header, 8) < 8)
        {
            return; // too short to be a TIFF: LibTiff says so in its own words
        }

        bool little = header[0] == 'I' && header[1] == 'I';
        if (!little && !(header[0] == 'M' && header[1] == 'M'))
        {
            return;
        }

        int version = Read16(header.AsSpan(2), little);
        bool big = version == 43;
        if (version != 42 && !big)
        {
            return;
        }

        long offset;
        if (big)
        {
            if (ReadAt(stream, 0, header, 16) < 16)
            {
                throw Damaged(file, "the BigTIFF header is cut short");
            }

            offset = (long)Read64(header.AsSpan(8), little);
        }
        else
        {
            offset = Read32(header.AsSpan(4), little);
        }

        int countSize = big ? 8 : 2, entrySize = big ? 20 : 12, inline = big ? 8 : 4;
        var visited = new HashSet<long>();
        byte[] table = Array.Empty<byte>();
        byte[] counter = new byte[8];
        for (int directory = 0; offset != 0; directory++)
        {
            if (offset < 0 || offset + countSize > length)
            {
                throw Damaged(file, $"directory {directory} starts at byte {offset}, past the end of the {length:N0}-byte file");
            }

            if (!visited.Add(offset) || directory >= MaxDirectories)
            {
                throw Damaged(file, $"its directories form a loop at byte {offset}");
            }

            ReadAt(stream, offset, counter, countSize);
            long entries = big ? (long)Read64(counter, little) : Read16(counter, little);
            long next = offset + countSize + (entries * entrySize);
            if (entries < 0 || entries > length / entrySize || next + (big ? 8 : 4) > length)
            {
                throw Damaged(file, $"directory {directory} claims {entries:N0} entries, more than the file holds");
            }

            // The whole directory in one read (it fits in the file: checked above).
            int tableBytes = (int)(entries * entrySize);
            if (table.Length < tableBytes)
            {
                table = new byte[tableBytes];
            }

            ReadAt(stream, offset + countSize, table, tableBytes);
            for (long e = 0; e < entries; e++)
            {
                Span<byte> entry = table.AsSpan((int)(e * entrySize), entrySize);
                int tag = Read16(entry, little);
                int type = Read16(entry.Slice(2), little);
                ulong count = big ? Read64(entry.Slice(4), little) : Read32(entry.Slice(4), little);
                ulong bytes = count * (ulong)TypeSize(type);
                if (count > (ulong)length || bytes > (ulong)length)
                {
                    throw Damaged(file, $"tag {tag} of directory {directory} claims {count:N0} values, more than the {length:N0}-byte file holds");
                }

                long valuesAt = offset + countSize + (e * entrySize) + (big ? 12 : 8);
                if (bytes > (ulong)inline)
                {
                    ulong at = big ? Read64(entry.Slice(12), little) : Read32(entry.Slice(8), little);
                    if (at + bytes > (ulong)length)
                    {
                        throw Damaged(file, $"the values of tag {tag} of directory {directory} lie past the end of the file");
                    }

                    valuesAt = (long)at;
                }

                // The library allocates a strip or tile of the size these say before reading it.
                if (tag is StripByteCounts or TileByteCounts && type is 3 or 4 or 16)
                {
                    CheckByteCounts(file, stream, valuesAt, (int)count, TypeSize(type), little, length, directory);
                }
            }

            ReadAt(stream, next, counter, big ? 8 : 4);
            offset = big ? (long)Read64(counter, little) : Read32(counter, little);
        }
    }

    private const int StripByteCounts = 279;
    private const int TileByteCounts = 325;

    private static void CheckByteCounts(string file, FileStream stream, long at, int count, int size, bool little, long length, int directory)
    {
        byte[] values = new byte[Math.Min(count, 8192) * size];
        for (int done = 0; done < count;)
        {
            int batch = Math.Min(count - done, values.Length / size);
            ReadAt(stream, at + ((long)done * size), values, batch * size);
            for (int i = 0; i < batch; i++)
            {
                ReadOnlySpan<byte> value = values.AsSpan(i * size, size);
                ulong bytes = size switch { 2 => (ulong)Read16(value, little), 4 => Read32(value, little), _ => Read64(value, little) };
                if (bytes > (ulong)length)
                {
                    throw Damaged(file, $"strip or tile {done + i} of directory {directory} claims {bytes:N0} bytes, more than the {length:N0}-byte file holds");
                }
            }

            done += batch;
        }
    }

    /// <summary>Bytes per value of a TIFF field type; unknown types count one byte each (bounded by the file all the same).</summary>
    private static int TypeSize(int type) => type switch
    {
        3 or 8 => 2,
        4 or 9 or 11 or 13 => 4,
        5 or 10 or 12 or 16 or 17 or 18 => 8,
        _ => 1,
    };

    private static int ReadAt(FileStream stream, long offset, byte[] buffer, int count)
    {
        stream.Position = offset;
        int total = 0;
        while (total < count)
        {
            int n = stream.Read(buffer, total, count - total);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }

    private static int Read16(ReadOnlySpan<byte> b, bool little) => little ? BinaryPrimitives.ReadUInt16LittleEndian(b) : BinaryPrimitives.ReadUInt16BigEndian(b);

    private static uint Read32(ReadOnlySpan<byte> b, bool little) => little ? BinaryPrimitives.ReadUInt32LittleEndian(b) : BinaryPrimitives.ReadUInt32BigEndian(b);

    private static ulong Read64(ReadOnlySpan<byte> b, bool little) => little ? BinaryPrimitives.ReadUInt64LittleEndian(b) : BinaryPrimitives.ReadUInt64BigEndian(b);

    private static EngineException Damaged(string file, string why) => new(
        "CorruptTiffFile",
        EngineErrorKind.InvalidData,
        $"'{file}' is a damaged TIFF file: {why}.",
        file);
}
