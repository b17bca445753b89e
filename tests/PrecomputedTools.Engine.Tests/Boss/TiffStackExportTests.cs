using System;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using BitMiracle.LibTiff.Classic;
using LibTiffFile = BitMiracle.LibTiff.Classic.Tiff;
using PrecomputedTools.Engine.Boss;
using PrecomputedTools.Engine.Export;
using PrecomputedTools.TestServers;
using Xunit;

namespace PrecomputedTools.Engine.Tests.Boss;

public sealed class TiffStackExportTests : IDisposable
{
    private readonly BossTestServer _server = new();

    public void Dispose() => _server.Dispose();

    private static byte[] ReadPage(LibTiffFile tiff)
    {
        int height = tiff.GetField(TiffTag.IMAGELENGTH)[0].ToInt();
        int width = tiff.GetField(TiffTag.IMAGEWIDTH)[0].ToInt();
        int bits = tiff.GetField(TiffTag.BITSPERSAMPLE)[0].ToInt();
        byte[] page = new byte[(long)width * height * bits / 8];
        int offset = 0;
        for (int s = 0; s < tiff.NumberOfStrips(); s++)
        {
            int read = tiff.ReadEncodedStrip(s, page, offset, -1);
            Assert.True(read > 0);
            offset += read;
        }

        Assert.Equal(page.Length, offset);
        return page;
    }

    [Theory]
    [InlineData("img16", null)]
    [InlineData("seg", null)]
    [InlineData("em", "stack.tif")]
    public async Task SlicesRoundTripThroughLibTiff(string channel, string? stack)
    {
        using var client = new BossClient(new BossConnection(_server.BaseUri, BossTestServer.ValidToken, "test"), BossDownloadTests.FastOptions());
        var options = new BossCutoutOptions { Collection = "lab", Experiment = "small", Channel = channel, Resolution = 1, XRange = new[] { 20, 333 }, YRange = new[] { 5, 290 }, ZRange = new[] { 7, 27 }, BlockShape = new Int3(512, 512, 16) };
        var d = await BossVolumeDescriptor.CreateAsync(client, options, default);
        string dir = TestData.NewScratch("tiff-export");
        var written = await TiffStackExporter.ExportAsync(d, dir, stack, new OperationMonitor(), default);
        int eb = VoxelTypes.SizeOf(d.DataType);
        if (stack is null)
        {
            Assert.Equal(20, written.Count);
            Assert.Equal($"lab_small_{channel}_x20-333_y5-290_z07.tif", Path.GetFileName(written[0]));
            Assert.Equal($"lab_small_{channel}_x20-333_y5-290_z26.tif", Path.GetFileName(written[19]));
            for (int k = 0; k < written.Count; k++)
            {
                using LibTiffFile tiff = LibTiffFile.Open(written[k], "r");
                Assert.Equal((int)Compression.ADOBE_DEFLATE, tiff.GetField(TiffTag.COMPRESSION)[0].ToInt());
                Assert.Equal(Path.GetFileName(written[k]), tiff.GetField(TiffTag.DOCUMENTNAME)[0].ToString());
                Assert.False(tiff.IsBigEndian());
                byte[] expected = _server.Expected("lab", "small", channel, 1, 20, 333, 5, 290, 7 + k, 8 + k);
                Assert.True(expected.AsSpan().SequenceEqual(ReadPage(tiff)), "slice " + k);
            }
        }
        else
        {
            string file = Assert.Single(written);
            Assert.Equal(new[] { file }, Directory.GetFiles(dir));
            using LibTiffFile tiff = LibTiffFile.Open(file, "r");
            Assert.Equal(20, tiff.NumberOfDirectories());
            for (short k = 0; k < 20; k++)
            {
                Assert.True(tiff.SetDirectory(k));
                byte[] expected = _server.Expected("lab", "small", channel, 1, 20, 333, 5, 290, 7 + k, 8 + k);
                Assert.True(expected.AsSpan().SequenceEqual(ReadPage(tiff)), "page " + k);
            }
        }

        Assert.Empty(Directory.GetFiles(dir, "*" + Storage.AtomicFile.TempSuffix));
        Assert.Equal(eb * 313L * 285 * 20, d.Size.Volume * eb);
    }
}
