using System;
using System.IO;

namespace PrecomputedTools.Module.Tests;

/// <summary>Writes small uncompressed 8-bit grayscale TIFF slices, so tests need no large input.</summary>
public static class TinyTiff
{
    /// <summary>A folder of <paramref name="depth"/> slices z000.tif.. of width x height, voxel = label pattern.</summary>
    public static string WriteStack(string folder, int width, int height, int depth) =>
        WriteStack(folder, width, height, depth, (x, y, z) => (byte)(1 + ((x / 4) + (y / 4) + z) % 5));

    /// <summary>A folder of slices z000.tif.. whose pixel (x, y) of slice z is <paramref name="pixel"/>(x, y, z).</summary>
    public static string WriteStack(string folder, int width, int height, int depth, Func<int, int, int, byte> pixel)
    {
        Directory.CreateDirectory(folder);
        for (int z = 0; z < depth; z++)
        {
            var pixels = new byte[width * height];
            for (int y = 0; y < height; y++)
            {
                for (int x = 0; x < width; x++)
                {
                    pixels[(y * width) + x] = pixel(x, y, z);
                }
            }

            File.WriteAllBytes(Path.Combine(folder, $"z{z:D3}.tif"), Slice(width, height, pixels));
        }

        return folder;
    }

    private static byte[] Slice(int width, int height, byte[] pixels)
    {
        const int entries = 9;
        int ifdOffset = 8;
        int ifdSize = 2 + (entries * 12) + 4;
        int dataOffset = ifdOffset + ifdSize;
        using var stream = new MemoryStream();
        using var writer = new BinaryWriter(stream);
        writer.Write((byte)'I');
        writer.Write((byte)'I');
        writer.Write((ushort)42);
        writer.Write(ifdOffset);
        writer.Write((ushort)entries);
        void Entry(ushort tag, ushort type, uint value)
        {
            writer.Write(tag);
            writer.Write(type);
            writer.Write(1u);
            if (type == 3)
            {
                writer.Write((ushort)value);
                writer.Write((ushort)0);
            }
            else
            {
                writer.Write(value);
            }
        }

        Entry(256, 4, (uint)width);        // ImageWidth
        Entry(257, 4, (uint)height);       // ImageLength
        Entry(258, 3, 8);                  // BitsPerSample
        Entry(259, 3, 1);                  // Compression: none
        Entry(262, 3, 1);                  // PhotometricInterpretation: black is zero
        Entry(273, 4, (uint)dataOffset);   // StripOffsets
        Entry(277, 3, 1);                  // SamplesPerPixel
        Entry(278, 4, (uint)height);       // RowsPerStrip
        Entry(279, 4, (uint)pixels.Length); // StripByteCounts
        writer.Write(0u);
        writer.Write(pixels);
        return stream.ToArray();
    }
}
