using System;
using System.IO;
using BitMiracle.LibTiff.Classic;

namespace PrecomputedTools.SampleGenerator;

/// <summary>
/// Writes the bundled sample as one deflate-compressed uint16 TIFF per z slice, named
/// slice_0.tif .. slice_47.tif (deliberately not zero-padded: natural sorting matters).
/// Usage: dotnet run --project tests/PrecomputedTools.SampleGenerator -- [outputFolder]
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        string output = args.Length > 0 ? args[0] : Path.Combine("module", "samples", "sample-labels");
        Directory.CreateDirectory(output);
        foreach (string old in Directory.GetFiles(output, "*.tif"))
        {
            File.Delete(old);
        }

        ushort[] labels = SampleVolume.Generate();
        long bytes = 0;
        for (int z = 0; z < SampleVolume.SizeZ; z++)
        {
            string file = Path.Combine(output, $"slice_{z}.tif");
            WriteSlice(file, labels, z);
            bytes += new FileInfo(file).Length;
        }

        Console.WriteLine($"Wrote {SampleVolume.SizeZ} slices of {SampleVolume.SizeX}x{SampleVolume.SizeY} uint16 to {output} ({bytes:N0} bytes).");
        return 0;
    }

    private static void WriteSlice(string file, ushort[] labels, int z)
    {
        using Tiff tif = Tiff.Open(file, "w") ?? throw new IOException("Cannot create " + file);
        tif.SetField(TiffTag.IMAGEWIDTH, SampleVolume.SizeX);
        tif.SetField(TiffTag.IMAGELENGTH, SampleVolume.SizeY);
        tif.SetField(TiffTag.BITSPERSAMPLE, 16);
        tif.SetField(TiffTag.SAMPLESPERPIXEL, 1);
        tif.SetField(TiffTag.SAMPLEFORMAT, SampleFormat.UINT);
        tif.SetField(TiffTag.PHOTOMETRIC, Photometric.MINISBLACK);
        tif.SetField(TiffTag.PLANARCONFIG, PlanarConfig.CONTIG);
        tif.SetField(TiffTag.COMPRESSION, Compression.ADOBE_DEFLATE);
        tif.SetField(TiffTag.PREDICTOR, Predictor.HORIZONTAL);
        tif.SetField(TiffTag.ROWSPERSTRIP, 32);
        tif.SetField(TiffTag.SOFTWARE, "PrecomputedTools sample generator");
        byte[] row = new byte[SampleVolume.SizeX * 2];
        for (int y = 0; y < SampleVolume.SizeY; y++)
        {
            Buffer.BlockCopy(labels, 2 * SampleVolume.SizeX * (y + SampleVolume.SizeY * z), row, 0, row.Length);
            if (!tif.WriteScanline(row, y))
            {
                throw new IOException($"Cannot write row {y} of {file}");
            }
        }
    }
}
