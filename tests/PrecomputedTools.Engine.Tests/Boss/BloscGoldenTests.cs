using System;
using System.Collections.Generic;
using System.IO;
using System.Security.Cryptography;
using System.Text.Json;
using PrecomputedTools.Engine.Boss;
using Xunit;

namespace PrecomputedTools.Engine.Tests.Boss;

public class BloscGoldenTests
{
    private static string Dir => TestData.Shared("vectors", "blosc");

    public static IEnumerable<object[]> Cases()
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestData.Shared("vectors", "blosc"), "manifest.json")));
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

    internal static byte[] ReadChecked(string dir, string file, string sha256)
    {
        byte[] bytes = File.ReadAllBytes(Path.Combine(dir, file));
        Assert.Equal(sha256, Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant());
        return bytes;
    }

    [Fact]
    public void ManifestListsSixteenCases()
    {
        int count = 0;
        foreach (object[] _ in Cases())
        {
            count++;
        }

        Assert.Equal(16, count);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GoldenFrameDecodesToRawByteForByte(string name)
    {
        JsonElement c = CaseOf(name);
        byte[] frame = ReadChecked(Dir, c.GetProperty("frame").GetString()!, c.GetProperty("frame_sha256").GetString()!);
        byte[] raw = ReadChecked(Dir, c.GetProperty("raw").GetString()!, c.GetProperty("raw_sha256").GetString()!);
        Assert.Equal(c.GetProperty("frame_bytes").GetInt64(), frame.Length);

        BloscHeader header = BloscDecoder.ReadHeader(frame);
        JsonElement h = c.GetProperty("header");
        Assert.Equal(h.GetProperty("flags").GetInt32(), header.Flags);
        Assert.Equal(h.GetProperty("typesize").GetInt32(), header.TypeSize);
        Assert.Equal(h.GetProperty("nbytes").GetInt32(), header.UncompressedBytes);
        Assert.Equal(h.GetProperty("codec").GetString()!.Replace("lz4hc", "lz4"), header.CodecName);

        byte[] decoded = new byte[raw.Length];
        decoded.AsSpan().Fill(0xCD);
        BloscDecoder.Decode(frame, decoded);
        Assert.True(raw.AsSpan().SequenceEqual(decoded), name + " decoded bytes differ from the .raw file");
    }

    [Fact]
    public void WrongExpectedLengthIsCorruptBeforeDecoding()
    {
        byte[] frame = File.ReadAllBytes(Path.Combine(Dir, "u16_16x128x256.blosc"));
        var ex = Assert.Throws<EngineException>(() => BloscDecoder.Decode(frame, new byte[1048576 - 2]));
        Assert.Equal("BossPayloadCorrupt", ex.ErrorId);
        Assert.Equal(EngineErrorKind.InvalidData, ex.Kind);
    }

    [Fact]
    public void TruncatedFrameSaysCutShort()
    {
        byte[] frame = File.ReadAllBytes(Path.Combine(Dir, "u8_em_16x512x512.blosc"));
        var ex = Assert.Throws<EngineException>(() => BloscDecoder.Decode(frame.AsSpan(0, frame.Length - 100), new byte[4194304]));
        Assert.Equal("BossPayloadCorrupt", ex.ErrorId);
        Assert.Contains("cut short", ex.Message);
    }

    [Fact]
    public void ExtraTrailingBytesAreCorrupt()
    {
        byte[] frame = File.ReadAllBytes(Path.Combine(Dir, "u8_em_16x512x512.blosc"));
        Array.Resize(ref frame, frame.Length + 3);
        var ex = Assert.Throws<EngineException>(() => BloscDecoder.Decode(frame, new byte[4194304]));
        Assert.Contains("extra bytes", ex.Message);
    }

    [Fact]
    public void FlippedBytesInsideStreamAreDetected()
    {
        byte[] frame = File.ReadAllBytes(Path.Combine(Dir, "u64_zbrain_labels_16x128x128.blosc"));
        byte[] raw = File.ReadAllBytes(Path.Combine(Dir, "u64_zbrain_labels_16x128x128.raw"));
        int failures = 0;
        var rng = new Random(7);
        for (int trial = 0; trial < 20; trial++)
        {
            byte[] copy = (byte[])frame.Clone();
            int at = 200 + rng.Next(copy.Length - 200);
            copy[at] ^= 0x5A;
            byte[] decoded = new byte[raw.Length];
            try
            {
                BloscDecoder.Decode(copy, decoded);
                if (!decoded.AsSpan().SequenceEqual(raw))
                {
                    failures++;
                }
            }
            catch (EngineException ex)
            {
                Assert.Equal("BossPayloadCorrupt", ex.ErrorId);
                failures++;
            }
        }

        // A flip either fails loudly or changes the data; it never silently reproduces the original.
        Assert.True(failures >= 18, $"only {failures} of 20 flips were noticed");
    }

    [Theory]
    [InlineData(2, "snappy")]
    [InlineData(5, "unknown codec 5")]
    public void UnsupportedCodecNamesTheCodec(int codec, string expected)
    {
        byte[] frame = File.ReadAllBytes(Path.Combine(Dir, "u8_noshuffle_4x128x512.blosc"));
        frame[2] = (byte)((frame[2] & 0x1F) | (codec << 5));
        var ex = Assert.Throws<EngineException>(() => BloscDecoder.Decode(frame, new byte[262144]));
        Assert.Equal("BossPayloadUnsupported", ex.ErrorId);
        Assert.Equal(EngineErrorKind.NotSupported, ex.Kind);
        Assert.Contains(expected, ex.Message);
        Assert.Contains("npygz", ex.RecommendedAction);
    }

    [Fact]
    public void Blosc2VersionIsRejectedClearly()
    {
        byte[] frame = File.ReadAllBytes(Path.Combine(Dir, "u8_noshuffle_4x128x512.blosc"));
        frame[0] = 3;
        var ex = Assert.Throws<EngineException>(() => BloscDecoder.Decode(frame, new byte[262144]));
        Assert.Equal("BossPayloadUnsupported", ex.ErrorId);
        Assert.Contains("Blosc2", ex.Message);
    }

    [Fact]
    public void ReservedFlagIsRejected()
    {
        byte[] frame = File.ReadAllBytes(Path.Combine(Dir, "u8_noshuffle_4x128x512.blosc"));
        frame[2] |= 0x08;
        var ex = Assert.Throws<EngineException>(() => BloscDecoder.Decode(frame, new byte[262144]));
        Assert.Contains("0x08", ex.Message);
    }

    [Theory]
    [InlineData("02616263800200 58", "abcabcabcX")]
    [InlineData("0041C0000042", "AAAAAAAAAB")]
    public void BloscLzWorkedExamples(string hex, string expected)
    {
        byte[] input = Convert.FromHexString(hex.Replace(" ", ""));
        byte[] output = new byte[expected.Length];
        Assert.Equal(expected.Length, BloscLz.Decompress(input, output));
        Assert.Equal(expected, System.Text.Encoding.ASCII.GetString(output));
    }

    [Fact]
    public void BloscLzLongRun()
    {
        byte[] input = Convert.FromHexString("0061E0FF04000062");
        byte[] output = new byte[270];
        Assert.Equal(270, BloscLz.Decompress(input, output));
        Assert.Equal((byte)'a', output[0]);
        Assert.All(output.AsSpan(1, 268).ToArray(), b => Assert.Equal((byte)'a', b));
        Assert.Equal((byte)'b', output[269]);
    }

    [Fact]
    public void BloscLzRejectsMatchBeforeStart()
    {
        byte[] input = Convert.FromHexString("0061800500");
        var ex = Assert.Throws<EngineException>(() => BloscLz.Decompress(input, new byte[16]));
        Assert.Equal("BossPayloadCorrupt", ex.ErrorId);
    }

    [Fact]
    public void Lz4RejectsZeroOffset()
    {
        byte[] input = Convert.FromHexString("1061000000");
        Assert.Throws<EngineException>(() => Lz4Block.Decompress(input, new byte[16]));
    }
}
