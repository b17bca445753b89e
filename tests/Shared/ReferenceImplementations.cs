using System;
using System.IO;
using System.IO.Compression;

namespace PrecomputedTools.Tests.Shared;

/// <summary>
/// Deliberately plain implementations written from the specs, independent of the module's code, used as
/// oracles: a compressed_segmentation decoder (neuroglancer's compressed_segmentation README, 'Format
/// specification') and a majority downsampler (README, 'Invoke-MajorityDownscale').
/// </summary>
public static class ReferenceImplementations
{
    /// <summary>Decodes a single-channel uint64 compressed_segmentation chunk of the given shape.</summary>
    public static ulong[] DecodeCompressedSegmentation(byte[] file, int sx, int sy, int sz, int bx, int by, int bz)
    {
        if (file.Length % 4 != 0)
        {
            throw new InvalidDataException("length is not a multiple of 4");
        }

        var words = new uint[file.Length / 4];
        Buffer.BlockCopy(file, 0, words, 0, file.Length);
        uint c = words[0];
        if (c != 1)
        {
            throw new InvalidDataException("first word is not 1");
        }

        int gx = (sx + bx - 1) / bx, gy = (sy + by - 1) / by;
        var result = new ulong[(long)sx * sy * sz];
        for (int z = 0; z < sz; z++)
        {
            for (int y = 0; y < sy; y++)
            {
                for (int x = 0; x < sx; x++)
                {
                    long h = c + 2L * (x / bx + gx * (y / by + gy * (long)(z / bz)));
                    uint tableOffset = words[h] & 0xFFFFFF;
                    int bits = (int)(words[h] >> 24);
                    uint valuesOffset = words[h + 1] & 0xFFFFFF;
                    if (bits is not (0 or 1 or 2 or 4 or 8 or 16 or 32))
                    {
                        throw new InvalidDataException($"bad bit width {bits}");
                    }

                    ulong index = 0;
                    if (bits > 0)
                    {
                        long p = (long)bits * (x % bx + bx * (y % by + by * (z % bz)));
                        uint w = words[c + valuesOffset + p / 32];
                        uint mask = bits == 32 ? 0xFFFFFFFFu : (1u << bits) - 1;
                        index = (w >> (int)(p % 32)) & mask;
                    }

                    long entry = c + tableOffset + 2 * (long)index;
                    result[x + (long)sx * (y + (long)sy * z)] = words[entry] | ((ulong)words[entry + 1] << 32);
                }
            }
        }

        return result;
    }

    /// <summary>Majority (mode, ties to the smallest) of each factor block, truncated at the edges.</summary>
    public static ulong[] Majority(ulong[] source, int sx, int sy, int sz, int fx, int fy, int fz)
    {
        int ox = (sx + fx - 1) / fx, oy = (sy + fy - 1) / fy, oz = (sz + fz - 1) / fz;
        var output = new ulong[(long)ox * oy * oz];
        var block = new ulong[fx * fy * fz];
        for (int z = 0; z < oz; z++)
        {
            for (int y = 0; y < oy; y++)
            {
                for (int x = 0; x < ox; x++)
                {
                    int n = 0;
                    for (int dz = 0; dz < fz && z * fz + dz < sz; dz++)
                    {
                        for (int dy = 0; dy < fy && y * fy + dy < sy; dy++)
                        {
                            for (int dx = 0; dx < fx && x * fx + dx < sx; dx++)
                            {
                                block[n++] = source[(x * fx + dx) + (long)sx * ((y * fy + dy) + (long)sy * (z * fz + dz))];
                            }
                        }
                    }

                    // Sorted ascending, the first longest run is the mode with ties to the smallest.
                    Array.Sort(block, 0, n);
                    ulong best = block[0];
                    int bestCount = 0;
                    for (int i = 0; i < n;)
                    {
                        int j = i;
                        while (j < n && block[j] == block[i])
                        {
                            j++;
                        }

                        if (j - i > bestCount)
                        {
                            bestCount = j - i;
                            best = block[i];
                        }

                        i = j;
                    }

                    output[x + (long)ox * (y + (long)oy * z)] = best;
                }
            }
        }

        return output;
    }

    /// <summary>Reads a whole chunk file as the viewer would get it (gzip inflated when named .gz).</summary>
    public static byte[] ReadChunkFile(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (!path.EndsWith(".gz", StringComparison.Ordinal))
        {
            return bytes;
        }

        if (bytes.Length < 2 || bytes[0] != 0x1f || bytes[1] != 0x8b)
        {
            throw new InvalidDataException(path + " is named .gz but is not gzip");
        }

        using var zip = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
        using var output = new MemoryStream();
        zip.CopyTo(output);
        return output.ToArray();
    }

    /// <summary>
    /// The Z-Brain atlas in the guide's orientation as uint64 labels, x fastest, size 1406x621x138,
    /// read straight from the uncompressed big-endian TIFF (pixel data contiguous from byte 181).
    /// </summary>
    public static ulong[] LoadZBrainLabels(string tiffPath)
    {
        const int Width = 621, Height = 1406, Pages = 138;
        byte[] bytes = File.ReadAllBytes(tiffPath);
        var labels = new ulong[(long)Height * Width * Pages];
        for (int z = 0; z < Pages; z++)
        {
            for (int row = 0; row < Height; row++)
            {
                for (int col = 0; col < Width; col++)
                {
                    // volume[z][y][x] = page[z][row = x][column = y]
                    labels[row + (long)Height * (col + (long)Width * z)] = bytes[181 + ((long)z * Height + row) * Width + col];
                }
            }
        }

        return labels;
    }
}
