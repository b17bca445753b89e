using System.Linq;
using PrecomputedTools.Engine.Precomputed;
using Xunit;

namespace PrecomputedTools.Engine.Tests;

public class ScalePyramidTests
{
    [Fact]
    public void RunningExampleMatchesFormatsTable()
    {
        var scales = ScalePyramid.Generate(new Int3(1406, 621, 138), new double[] { 798, 798, 2000 }, Int3.Zero, 256, ChunkEncodings.CompressedSegmentation, null);
        Assert.Equal(new[] { "1um", "2um", "3um" }, scales.Select(s => s.Key));
        Assert.Equal(new[] { new Int3(1406, 621, 138), new Int3(703, 311, 138), new Int3(352, 156, 69) }, scales.Select(s => s.Size));
        Assert.Equal(new[] { new Int3(256, 256, 128), new Int3(256, 256, 256), new Int3(256, 256, 256) }, scales.Select(s => s.ChunkSize));
        Assert.Equal(new[] { 3192.0, 3192, 4000 }, scales[2].Resolution);
        Assert.Equal(new long[] { 36, 6, 2 }, scales.Select(s => s.ChunkCount));
    }

    [Fact]
    public void TargetChunk64GivesFiveScales()
    {
        var scales = ScalePyramid.Generate(new Int3(1406, 621, 138), new double[] { 798, 798, 2000 }, Int3.Zero, 64, ChunkEncodings.CompressedSegmentation, null);
        Assert.Equal(new[] { "1um", "2um", "3um", "6um", "13um" }, scales.Select(s => s.Key));
        Assert.Equal(new Int3(64, 64, 32), scales[0].ChunkSize);
        Assert.Equal(new Int3(88, 39, 18), scales[4].Size);
        Assert.All(scales.Skip(1), s => Assert.Equal(new Int3(64, 64, 64), s.ChunkSize));
    }

    [Fact]
    public void IsotropicEmExample()
    {
        var scales = ScalePyramid.Generate(new Int3(2048, 2048, 256), new double[] { 8, 8, 40 }, Int3.Zero, 64, ChunkEncodings.CompressedSegmentation, null);
        Assert.Equal(new[] { "8nm", "16nm", "32nm", "64nm", "128nm" }, scales.Select(s => s.Key));
        Assert.Equal(new[] { new Int3(128, 128, 32), new Int3(64, 64, 32), new Int3(64, 64, 64), new Int3(64, 64, 64), new Int3(64, 64, 64) }, scales.Select(s => s.ChunkSize));
        Assert.Equal(new Int3(128, 128, 64), scales[4].Size);
        Assert.Equal(new[] { 128.0, 128, 160 }, scales[4].Resolution);
    }

    [Fact]
    public void StronglyAnisotropicExample()
    {
        var scales = ScalePyramid.Generate(new Int3(10000, 10000, 100), new double[] { 4, 4, 200 }, Int3.Zero, 64, ChunkEncodings.CompressedSegmentation, null);
        Assert.Equal(8, scales.Count);
        Assert.Equal(
            new[] { new Int3(256, 256, 4), new Int3(256, 256, 8), new Int3(128, 128, 8), new Int3(128, 128, 16), new Int3(128, 128, 32), new Int3(64, 64, 32), new Int3(64, 64, 64), new Int3(64, 64, 64) },
            scales.Select(s => s.ChunkSize));
        Assert.Equal("4nm", scales[0].Key);
        Assert.Equal("200nm", scales[6].Key);
        Assert.Equal("400nm", scales[7].Key);
    }

    [Fact]
    public void NonZeroOffsetIsCarriedDown()
    {
        var scales = ScalePyramid.Generate(new Int3(1406, 621, 138), new double[] { 798, 798, 2000 }, new Int3(100, 0, 0), 256, ChunkEncodings.CompressedSegmentation, null);
        Assert.Equal(new Int3(50, 0, 0), scales[1].VoxelOffset);
        Assert.Equal("100-356_0-256_0-128", scales[0].ChunkName(scales[0].ChunkBox(Int3.Zero)));
        Assert.Equal("50-306_0-256_0-138", scales[1].ChunkName(scales[1].ChunkBox(Int3.Zero)));
        Assert.Equal("562-753_0-256_0-138", scales[1].ChunkName(scales[1].ChunkBox(new Int3(2, 0, 0))));
    }
}
