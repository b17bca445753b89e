using System;
using System.IO;
using System.Linq;
using System.Threading;
using BitMiracle.LibTiff.Classic;
using LibTiffFile = BitMiracle.LibTiff.Classic.Tiff;
using PrecomputedTools.Engine.Tiff;
using Xunit;

namespace PrecomputedTools.Engine.Tests;

public class TiffStackTests
{
    /// <summary>Writes one single-page TIFF with the given sample layout; pixel (x,y) = value(x,y).</summary>
    internal static void WriteTiff(string path, int width, int height, int bits, SampleFormat format, Func<int, int, ulong> value, int samples = 1, Compression compression = Compression.ADOBE_DEFLATE, int tile = 0)
    {
        using LibTiffFile tif = LibTiffFile.Open(path, "w");
        tif.SetField(TiffTag.IMAGEWIDTH, width);
        tif.SetField(TiffTag.IMAGELENGTH, height);
        tif.SetField(TiffTag.BITSPERSAMPLE, bits);
        tif.SetField(TiffTag.SAMPLESPERPIXEL, samples);
        tif.SetField(TiffTag.SAMPLEFORMAT, format);
        tif.SetField(TiffTag.PHOTOMETRIC, samples == 3 ? Photometric.RGB : Photometric.MINISBLACK);
        tif.SetField(TiffTag.PLANARCONFIG, PlanarConfig.CONTIG);
        tif.SetField(TiffTag.COMPRESSION, compression);
        int bytesPerPixel = bits / 8 * samples;
        if (tile > 0)
        {
            tif.SetField(TiffTag.TILEWIDTH, tile);
            tif.SetField(TiffTag.TILELENGTH, tile);
            byte[] buffer = new byte[tile * tile * bytesPerPixel];
            for (int ty = 0; ty < height; ty += tile)
            {
                for (int tx = 0; tx < width; tx += tile)
                {
                    Array.Clear(buffer);
                    for (int y = ty; y < Math.Min(height, ty + tile); y++)
                    {
                        for (int x = tx; x < Math.Min(width, tx + tile); x++)
                        {
                            BitConverter.GetBytes(value(x, y)).AsSpan(0, bits / 8).CopyTo(buffer.AsSpan(((y - ty) * tile + (x - tx)) * bytesPerPixel));
                        }
                    }

                    tif.WriteEncodedTile(tif.ComputeTile(tx, ty, 0, 0), buffer, buffer.Length);
                }
            }

            return;
        }

        tif.SetField(TiffTag.ROWSPERSTRIP, 7);
        byte[] row = new byte[width * bytesPerPixel];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                for (int s = 0; s < samples; s++)
                {
                    BitConverter.GetBytes(value(x, y)).AsSpan(0, bits / 8).CopyTo(row.AsSpan((x * samples + s) * bits / 8));
                }
            }

            tif.WriteScanline(row, y);
        }
    }

    private static byte[] ReadAll(TiffStackDescriptor stack, Box3 region)
    {
        using var reader = stack.OpenReader();
        byte[] buffer = new byte[region.VoxelCount * VoxelTypes.SizeOf(stack.DataType)];
        reader.ReadAsync(region, buffer, CancellationToken.None).GetAwaiter().GetResult();
        return buffer;
    }

    [Fact]
    public void SlicesAreSortedNaturallyAndReadByRegion()
    {
        string dir = TestData.NewScratch("tiff-natural");
        // z index encoded in the file name without padding: slice_10 must come after slice_9.
        for (int z = 0; z < 12; z++)
        {
            WriteTiff(Path.Combine(dir, $"slice_{z}.tif"), 30, 20, 16, SampleFormat.UINT, (x, y) => (ulong)(z * 1000 + y * 30 + x));
        }

        File.WriteAllText(Path.Combine(dir, "notes.txt"), "stray files are ignored");
        var stack = TiffStackDescriptor.Open(dir);
        Assert.Equal(new Int3(30, 20, 12), stack.Size);
        Assert.Equal(VoxelType.UInt16, stack.DataType);
        byte[] data = ReadAll(stack, new Box3(new Int3(3, 5, 8), new Int3(13, 19, 12)));
        var values = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(data);
        for (int z = 8; z < 12; z++)
        {
            for (int y = 5; y < 19; y++)
            {
                for (int x = 3; x < 13; x++)
                {
                    Assert.Equal((ushort)(z * 1000 + y * 30 + x), values[(x - 3) + 10 * ((y - 5) + 14 * (z - 8))]);
                }
            }
        }
    }

    [Fact]
    public void TiledUint64SlicesAndSwapXY()
    {
        string dir = TestData.NewScratch("tiff-tiled");
        for (int z = 0; z < 3; z++)
        {
            WriteTiff(Path.Combine(dir, $"t{z}.tif"), 40, 35, 64, SampleFormat.UINT, (x, y) => ((ulong)z << 60) | (ulong)(uint)(y * 100 + x), tile: 16);
        }

        var stack = TiffStackDescriptor.Open(dir, swapXY: true);
        Assert.Equal(new Int3(35, 40, 3), stack.Size);
        byte[] data = ReadAll(stack, Box3.FromSize(stack.Size));
        var values = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(data);
        // Swapped: volume (x, y) = page (row = x, column = y).
        Assert.Equal(((ulong)2 << 60) | (ulong)(7 * 100 + 11), values[7 + 35 * (11 + 40 * 2)]);
        Assert.Equal((ulong)(34 * 100 + 39), values[34 + 35 * 39]);
    }

    [Fact]
    public void SlicesOfDifferentSizesAreRejected()
    {
        string dir = TestData.NewScratch("tiff-mismatch");
        WriteTiff(Path.Combine(dir, "a1.tif"), 10, 10, 8, SampleFormat.UINT, (x, y) => 1);
        WriteTiff(Path.Combine(dir, "a2.tif"), 10, 11, 8, SampleFormat.UINT, (x, y) => 1);
        var ex = Assert.Throws<EngineException>(() => TiffStackDescriptor.Open(dir));
        Assert.Equal("TiffSliceMismatch", ex.ErrorId);
        Assert.Equal(EngineErrorKind.InvalidData, ex.Kind);
        Assert.Contains("a2.tif", ex.Message);
    }

    [Fact]
    public void SlicesOfDifferentTypesAreRejected()
    {
        string dir = TestData.NewScratch("tiff-types");
        WriteTiff(Path.Combine(dir, "a1.tif"), 10, 10, 8, SampleFormat.UINT, (x, y) => 1);
        WriteTiff(Path.Combine(dir, "a2.tif"), 10, 10, 16, SampleFormat.UINT, (x, y) => 1);
        Assert.Equal("TiffSliceMismatch", Assert.Throws<EngineException>(() => TiffStackDescriptor.Open(dir)).ErrorId);
    }

    [Fact]
    public void UnsupportedSampleFormatsAreRejected()
    {
        string dir = TestData.NewScratch("tiff-unsupported");
        WriteTiff(Path.Combine(dir, "rgb.tif"), 8, 8, 8, SampleFormat.UINT, (x, y) => 3, samples: 3);
        var ex = Assert.Throws<EngineException>(() => TiffStackDescriptor.Open(Path.Combine(dir, "rgb.tif")));
        Assert.Equal("UnsupportedTiffFormat", ex.ErrorId);

        WriteTiff(Path.Combine(dir, "signed.tif"), 8, 8, 16, SampleFormat.INT, (x, y) => 3);
        Assert.Equal("UnsupportedTiffFormat", Assert.Throws<EngineException>(() => TiffStackDescriptor.Open(Path.Combine(dir, "signed.tif"))).ErrorId);
    }

    [Fact]
    public void NonTiffAndEmptyFolderAreRejected()
    {
        string dir = TestData.NewScratch("tiff-bad");
        Assert.Equal("NoTiffSlices", Assert.Throws<EngineException>(() => TiffStackDescriptor.Open(dir)).ErrorId);
        File.WriteAllText(Path.Combine(dir, "fake.tif"), "this is not a TIFF file at all");
        var ex = Assert.Throws<EngineException>(() => TiffStackDescriptor.Open(dir));
        Assert.Equal("NotATiffFile", ex.ErrorId);
        Assert.Equal(EngineErrorKind.InvalidData, ex.Kind);
    }

    [Fact]
    public void NaturalComparerOrdersNumbersByValue()
    {
        string[] names = { "z10.tif", "z2.tif", "z1.tif", "z02.tif", "a.tif" };
        Assert.Equal(new[] { "a.tif", "z1.tif", "z2.tif", "z02.tif", "z10.tif" }, names.OrderBy(n => n, NaturalStringComparer.Instance));
    }

    [Fact]
    public void ZBrainMultiPageFileReadsLikeTheRawBytes()
    {
        var stack = TiffStackDescriptor.Open(TestData.ZBrainTiff, swapXY: true);
        Assert.Equal(new Int3(1406, 621, 138), stack.Size);
        Assert.Equal(VoxelType.UInt8, stack.DataType);
        byte[] data = ReadAll(stack, Box3.FromSize(stack.Size));
        // The sha256 of the guide-orientation uint8 volume, as recorded with the shared test data.
        string hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(data)).ToLowerInvariant();
        Assert.Equal("97cbd30d914377f81317de2fceaa1373550bdf9085edabc8a3e322d1980c2ed7", hash);
    }
}
