using System;
using System.IO;
using System.IO.Compression;

namespace PrecomputedTools.Benchmarks;

/// <summary>The Z-Brain 2.0 labels in the guide's orientation (x = TIFF row, y = TIFF column), uint8, x fastest.</summary>
internal static class ZBrainData
{
    public const int SizeX = 1406, SizeY = 621, SizeZ = 138;
    private const long PixelOffset = 181;

    public static string SharedData =>
        Environment.GetEnvironmentVariable("PRECOMPUTEDTOOLS_SHARED_DATA") is { Length: > 0 } env
            ? env
            : Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "..", "shared", "data"));

    public static byte[] Load()
    {
        string tiff = Path.Combine(Path.GetTempPath(), "pt-tests", "zbrain", "ZBrain2_0.tif");
        if (!File.Exists(tiff) || new FileInfo(tiff).Length != 120_508_831)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(tiff)!);
            using ZipArchive zip = ZipFile.OpenRead(Path.Combine(SharedData, "zbrain", "ZBrain2_0.zip"));
            string temp = tiff + "." + Guid.NewGuid().ToString("N") + ".tmp";
            zip.GetEntry("ZBrain2_0.tif")!.ExtractToFile(temp);
            File.Move(temp, tiff, overwrite: true);
        }

        byte[] pages = new byte[(long)SizeX * SizeY * SizeZ];
        using (var stream = File.OpenRead(tiff))
        {
            stream.Position = PixelOffset;
            stream.ReadExactly(pages);
        }

        // page[z][row = x][column = y] -> volume[z][y][x]
        byte[] volume = new byte[pages.Length];
        for (int z = 0; z < SizeZ; z++)
        {
            int page = z * SizeX * SizeY;
            for (int x = 0; x < SizeX; x++)
            {
                int row = page + (x * SizeY);
                for (int y = 0; y < SizeY; y++)
                {
                    volume[page + (y * SizeX) + x] = pages[row + y];
                }
            }
        }

        return volume;
    }
}
