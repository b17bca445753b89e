using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using PrecomputedTools.Engine.Boss;
using Xunit;

namespace PrecomputedTools.Engine.Tests.Boss;

public class NpyGzGoldenTests
{
    private static string Dir => TestData.Shared("vectors", "npygz");

    public static IEnumerable<object[]> Cases()
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestData.Shared("vectors", "npygz"), "manifest.json")));
        foreach (JsonElement c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            yield return new object[] { c.GetProperty("name").GetString()! };
        }
    }

    private static JsonElement CaseOf(string name)
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "manifest.json")));
        foreach (JsonElement c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            if (c.GetProperty("name").GetString() == name)
            {
                return c.Clone();
            }
        }

        throw new InvalidOperationException(name);
    }

    private static VoxelType TypeOf(string dtype) => dtype switch
    {
        "uint8" => VoxelType.UInt8,
        "uint16" => VoxelType.UInt16,
        "uint64" => VoxelType.UInt64,
        _ => throw new ArgumentException(dtype),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void GoldenPayloadDecodesToRaw(string name)
    {
        JsonElement c = CaseOf(name);
        byte[] payload = BloscGoldenTests.ReadChecked(Dir, c.GetProperty("payload").GetString()!, c.GetProperty("payload_sha256").GetString()!);
        byte[] raw = BloscGoldenTests.ReadChecked(Dir, c.GetProperty("raw").GetString()!, c.GetProperty("raw_sha256").GetString()!);
        var shape = new List<long>();
        foreach (JsonElement d in c.GetProperty("shape").EnumerateArray())
        {
            shape.Add(d.GetInt64());
        }

        byte[] decoded = new byte[raw.Length];
        NpyGz.NpyHeader header = NpyGz.Decode(new MemoryStream(payload), TypeOf(c.GetProperty("dtype").GetString()!), shape.ToArray(), decoded);
        Assert.Equal(c.GetProperty("npy_descr").GetString(), header.Descr);
        Assert.Equal(raw, decoded);
    }

    [Fact]
    public void WrongShapeIsCorrupt()
    {
        byte[] payload = File.ReadAllBytes(Path.Combine(Dir, "u8_16x64x64.npygz"));
        var ex = Assert.Throws<EngineException>(() => NpyGz.Decode(new MemoryStream(payload), VoxelType.UInt8, new long[] { 16, 64, 32 }, new byte[16 * 64 * 32]));
        Assert.Equal("BossPayloadCorrupt", ex.ErrorId);
        Assert.Contains("shape", ex.Message);
    }

    [Fact]
    public void WrongDtypeIsCorrupt()
    {
        byte[] payload = File.ReadAllBytes(Path.Combine(Dir, "u8_16x64x64.npygz"));
        var ex = Assert.Throws<EngineException>(() => NpyGz.Decode(new MemoryStream(payload), VoxelType.UInt16, new long[] { 16, 64, 64 }, new byte[16 * 64 * 64 * 2]));
        Assert.Contains("'|u1'", ex.Message);
    }

    [Fact]
    public void TruncatedPayloadIsCorrupt()
    {
        byte[] payload = File.ReadAllBytes(Path.Combine(Dir, "u8_16x64x64.npygz"));
        var ex = Assert.Throws<EngineException>(() => NpyGz.Decode(new MemoryStream(payload, 0, payload.Length / 2), VoxelType.UInt8, new long[] { 16, 64, 64 }, new byte[65536]));
        Assert.Equal("BossPayloadCorrupt", ex.ErrorId);
    }

    [Theory]
    [InlineData("{'descr': '<u2', 'fortran_order': False, 'shape': (5,), }", "<u2", new long[] { 5 })]
    [InlineData("{ 'shape': (2, 3),'fortran_order': False,'descr': '|u1' }\n", "|u1", new long[] { 2, 3 })]
    [InlineData("{'descr': '<u8', 'fortran_order': False, 'shape': (), }", "<u8", new long[0])]
    public void HeaderDictParsesInAnyOrder(string text, string descr, long[] shape)
    {
        NpyGz.NpyHeader header = NpyGz.ParseDict(text);
        Assert.Equal(descr, header.Descr);
        Assert.Equal(shape, header.Shape);
        Assert.False(header.FortranOrder);
    }

    [Fact]
    public void Version2HeaderWorks()
    {
        string dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }";
        dict = dict.PadRight(64 - 12 - 1) + "\n";
        var npy = new MemoryStream();
        npy.Write(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 2, 0 });
        npy.Write(BitConverter.GetBytes(dict.Length));
        npy.Write(Encoding.ASCII.GetBytes(dict));
        npy.Write(new byte[] { 1, 2, 3, 4 });
        var body = new MemoryStream();
        using (var z = new ZLibStream(body, CompressionLevel.Optimal, leaveOpen: true))
        {
            z.Write(npy.ToArray());
        }

        byte[] decoded = new byte[4];
        body.Position = 0;
        NpyGz.Decode(body, VoxelType.UInt8, new long[] { 2, 2 }, decoded);
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, decoded);
    }
}
