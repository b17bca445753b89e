using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using PrecomputedTools.Engine.Codecs;
using Xunit;

namespace PrecomputedTools.Engine.Tests;

public class CompressedSegmentationTests
{
    private static readonly Int3 B8 = new(8, 8, 8);

    public static TheoryData<string> ManifestCases()
    {
        var data = new TheoryData<string>();
        foreach (JsonElement c in LoadManifest())
        {
            data.Add(c.GetProperty("name").GetString()!);
        }

        return data;
    }

    private static List<JsonElement> LoadManifest()
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(TestData.Shared("vectors", "cseg", "manifest.json")));
        return doc.RootElement.GetProperty("cases").EnumerateArray().Select(e => e.Clone()).ToList();
    }

    private static byte[] ReadChecked(string file, JsonElement c, string sizeField, string shaField)
    {
        byte[] bytes = File.ReadAllBytes(TestData.Shared("vectors", "cseg", file));
        Assert.Equal(c.GetProperty(sizeField).GetInt64(), bytes.Length);
        Assert.Equal(c.GetProperty(shaField).GetString(), Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant());
        return bytes;
    }

    private static Int3 ReadInt3(JsonElement e) => new(e[0].GetInt32(), e[1].GetInt32(), e[2].GetInt32());

    [Fact]
    public void ManifestHasAllTwentyFiveCases()
    {
        Assert.Equal(25, LoadManifest().Count);
    }

    [Theory]
    [MemberData(nameof(ManifestCases))]
    public void GoldenVectorEncodesByteForByteAndDecodes(string name)
    {
        JsonElement c = LoadManifest().Single(e => e.GetProperty("name").GetString() == name);
        byte[] input = ReadChecked(c.GetProperty("input").GetString()!, c, "input_bytes", "input_sha256");
        byte[] expected = ReadChecked(c.GetProperty("output").GetString()!, c, "output_bytes", "output_sha256");
        Int3 shape = ReadInt3(c.GetProperty("size"));
        Int3 block = ReadInt3(c.GetProperty("block_size"));
        bool specOnly = c.TryGetProperty("spec_only", out JsonElement so) && so.GetBoolean();
        string dtype = c.GetProperty("dtype").GetString()!;

        if (dtype == "uint64")
        {
            ulong[] voxels = MemoryMarshal.Cast<byte, ulong>(input).ToArray();
            Assert.Equal(shape.Volume, voxels.Length);
            if (!specOnly)
            {
                Assert.Equal(expected, CompressedSegmentation.Encode(voxels, shape, block));
            }

            var decoded = new ulong[voxels.Length];
            CompressedSegmentation.Decode(expected, shape, block, decoded);
            Assert.Equal(voxels, decoded);
            Assert.Equal(voxels, ReferenceDecode64(expected, shape, block));
        }
        else
        {
            Assert.Equal("uint32", dtype);
            uint[] voxels = MemoryMarshal.Cast<byte, uint>(input).ToArray();
            Assert.Equal(shape.Volume, voxels.Length);
            if (!specOnly)
            {
                Assert.Equal(expected, CompressedSegmentation.Encode(voxels, shape, block));
            }

            var decoded = new uint[voxels.Length];
            CompressedSegmentation.Decode(expected, shape, block, decoded);
            Assert.Equal(voxels, decoded);
        }
    }

    [Fact]
    public void SpecOnly32BitBlockRoundTripsThroughOurEncoder()
    {
        // 68,921 distinct values in one 41^3 block need 32-bit indices (the reference encoders hang here).
        JsonElement c = LoadManifest().Single(e => e.GetProperty("name").GetString() == "u32_bits32_41x41x41_b41");
        uint[] voxels = MemoryMarshal.Cast<byte, uint>(File.ReadAllBytes(TestData.Shared("vectors", "cseg", c.GetProperty("input").GetString()!))).ToArray();
        Int3 shape = new(41, 41, 41);
        byte[] encoded = CompressedSegmentation.Encode(voxels, shape, shape);
        uint[] words = MemoryMarshal.Cast<byte, uint>(encoded).ToArray();
        Assert.Equal(32u, words[1] >> 24);
        Assert.Equal(ReferenceEncode(voxels.Select(v => (ulong)v).ToArray(), shape, shape, 1), words);
        var decoded = new uint[voxels.Length];
        CompressedSegmentation.Decode(encoded, shape, shape, decoded);
        Assert.Equal(voxels, decoded);
    }

    public static TheoryData<string, string, int[], int[], ulong[], uint[]> WorkedExamples() => new()
    {
        { "A", "u64", new[] { 2, 2, 2 }, new[] { 2, 2, 1 }, new ulong[] { 4, 3, 5, 4, 1, 3, 3, 3 }, new uint[] { 1, 33554437, 4, 16777228, 11, 97, 3, 0, 4, 0, 5, 0, 14, 1, 0, 3, 0 } },
        { "A", "u32", new[] { 2, 2, 2 }, new[] { 2, 2, 1 }, new ulong[] { 4, 3, 5, 4, 1, 3, 3, 3 }, new uint[] { 1, 33554437, 4, 16777225, 8, 97, 3, 4, 5, 14, 1, 3 } },
        { "B", "u64", new[] { 2, 2, 4 }, new[] { 2, 2, 1 }, new ulong[] { 4, 3, 5, 4, 1, 3, 3, 3, 3, 1, 1, 1, 5, 5, 3, 4 }, new uint[] { 1, 33554441, 8, 16777232, 15, 16777232, 20, 33554441, 21, 97, 3, 0, 4, 0, 5, 0, 14, 1, 0, 3, 0, 1, 74 } },
        { "B", "u32", new[] { 2, 2, 4 }, new[] { 2, 2, 1 }, new ulong[] { 4, 3, 5, 4, 1, 3, 3, 3, 3, 1, 1, 1, 5, 5, 3, 4 }, new uint[] { 1, 33554441, 8, 16777229, 12, 16777229, 15, 33554441, 16, 97, 3, 4, 5, 14, 1, 3, 1, 74 } },
        { "C", "u32", new[] { 3, 1, 1 }, new[] { 2, 1, 1 }, new ulong[] { 7, 9, 9 }, new uint[] { 1, 16777221, 4, 7, 7, 2, 7, 9, 9 } },
        { "D", "u64", new[] { 2, 1, 1 }, new[] { 2, 1, 1 }, new ulong[] { 0x1_00000002, 5 }, new uint[] { 1, 16777219, 2, 1, 5, 0, 2, 1 } },
        { "E", "u32", new[] { 4, 1, 1 }, new[] { 4, 1, 1 }, new ulong[] { 1, 2, 3, 4 }, new uint[] { 1, 33554435, 2, 228, 1, 2, 3, 4 } },
        { "F", "u32", new[] { 5, 1, 1 }, new[] { 5, 1, 1 }, new ulong[] { 1, 2, 3, 4, 5 }, new uint[] { 1, 67108867, 2, 274960, 1, 2, 3, 4, 5 } },
    };

    [Theory]
    [MemberData(nameof(WorkedExamples))]
    public void WorkedExampleWordsMatchFormats57(string name, string type, int[] shapeArr, int[] blockArr, ulong[] input, uint[] expectedWords)
    {
        Assert.NotNull(name);
        Int3 shape = Int3.From(shapeArr), block = Int3.From(blockArr);
        byte[] encoded = type == "u64"
            ? CompressedSegmentation.Encode(input, shape, block)
            : CompressedSegmentation.Encode(input.Select(v => (uint)v).ToArray(), shape, block);
        Assert.Equal(expectedWords, MemoryMarshal.Cast<byte, uint>(encoded).ToArray());
        if (type == "u64")
        {
            var back = new ulong[input.Length];
            CompressedSegmentation.Decode(encoded, shape, block, back);
            Assert.Equal(input, back);
        }
        else
        {
            var back = new uint[input.Length];
            CompressedSegmentation.Decode(encoded, shape, block, back);
            Assert.Equal(input.Select(v => (uint)v), back);
        }
    }

    [Fact]
    public void AllZeroChunksHaveTheVerifiedSizes()
    {
        byte[] u64 = CompressedSegmentation.Encode(new ulong[64 * 64 * 64], new Int3(64, 64, 64), B8);
        Assert.Equal(4108, u64.Length);
        uint[] w = MemoryMarshal.Cast<byte, uint>(u64).ToArray();
        Assert.Equal(1u, w[0]);
        Assert.Equal(1024u, w[1]);
        Assert.Equal(1024u, w[2]);
        for (int b = 1; b < 512; b++)
        {
            Assert.Equal(1024u, w[1 + (2 * b)]);
            Assert.Equal(1026u, w[2 + (2 * b)]);
        }

        Assert.Equal(4104, CompressedSegmentation.Encode(new uint[64 * 64 * 64], new Int3(64, 64, 64), B8).Length);
        Assert.Equal(16396, CompressedSegmentation.Encode(new ulong[128 * 128 * 64], new Int3(128, 128, 64), B8).Length);
    }

    [Fact]
    public void SingleVoxelChunk()
    {
        ulong v = 0xFEDC_BA98_7654_3210;
        uint[] w64 = MemoryMarshal.Cast<byte, uint>(CompressedSegmentation.Encode(new[] { v }, Int3.One, B8)).ToArray();
        Assert.Equal(new uint[] { 1, 2, 2, 0x76543210, 0xFEDCBA98 }, w64);
        uint[] w32 = MemoryMarshal.Cast<byte, uint>(CompressedSegmentation.Encode(new uint[] { 7 }, Int3.One, B8)).ToArray();
        Assert.Equal(new uint[] { 1, 2, 2, 7 }, w32);

        // The viewer's own fill-value chunk points its values offset at 0; the decoder ignores it for 0 bits.
        var one = new ulong[1];
        CompressedSegmentation.Decode(MemoryMarshal.AsBytes(new uint[] { 1, 2, 0, 0x76543210, 0xFEDCBA98 }.AsSpan()), Int3.One, B8, one);
        Assert.Equal(v, one[0]);
    }

    [Fact]
    public void EmptyChunkIsJustTheChannelWord()
    {
        Assert.Equal(new byte[] { 1, 0, 0, 0 }, CompressedSegmentation.Encode(Array.Empty<ulong>(), new Int3(0, 4, 4), B8));
    }

    [Theory]
    [InlineData(1, 8, 8, 8, 13, 11, 7, 3)]
    [InlineData(2, 8, 8, 8, 64, 64, 64, 5)]
    [InlineData(3, 4, 4, 4, 19, 9, 30, 40)]
    [InlineData(4, 5, 3, 2, 23, 17, 9, 300)]
    [InlineData(5, 8, 8, 8, 16, 16, 16, 600)]
    [InlineData(6, 16, 16, 16, 33, 20, 17, 2000)]
    [InlineData(7, 3, 7, 1, 10, 10, 3, 18)]
    public void RandomChunksMatchTheReferenceEncoder(int seed, int bx, int by, int bz, int sx, int sy, int sz, int labels)
    {
        var rng = new Random(seed);
        Int3 shape = new(sx, sy, sz), block = new(bx, by, bz);
        ulong[] palette = Enumerable.Range(0, labels).Select(_ => RandomLabel(rng)).ToArray();
        ulong[] voxels = new ulong[shape.Volume];

        // Piecewise-constant runs with a mix of uniform and noisy regions, so every bit width occurs.
        for (int i = 0; i < voxels.Length; i++)
        {
            voxels[i] = i > 0 && rng.Next(4) != 0 ? voxels[i - 1] : palette[rng.Next(Math.Min(labels, 1 + rng.Next(labels)))];
        }

        var encoder = new CompressedSegmentationEncoder();
        byte[] encoded = encoder.EncodeToBuffer(voxels, shape, block).ToArray();
        Assert.Equal(ReferenceEncode(voxels, shape, block, 2), MemoryMarshal.Cast<byte, uint>(encoded).ToArray());
        Assert.Equal(encoded, CompressedSegmentation.Encode(voxels, shape, block));
        var back = new ulong[voxels.Length];
        CompressedSegmentation.Decode(encoded, shape, block, back);
        Assert.Equal(voxels, back);

        uint[] voxels32 = voxels.Select(v => (uint)v).ToArray();
        byte[] encoded32 = encoder.EncodeToBuffer(voxels32, shape, block).ToArray();
        Assert.Equal(ReferenceEncode(voxels32.Select(v => (ulong)v).ToArray(), shape, block, 1), MemoryMarshal.Cast<byte, uint>(encoded32).ToArray());
        var back32 = new uint[voxels.Length];
        CompressedSegmentation.Decode(encoded32, shape, block, back32);
        Assert.Equal(voxels32, back32);

        // Re-using the encoder for the first chunk again gives the same bytes (no state leaks between calls).
        Assert.Equal(encoded, encoder.EncodeToBuffer(voxels, shape, block).ToArray());
    }

    [Fact]
    public void RegionsOfALargerVolumeEncodeAndDecodeWithoutCopies()
    {
        var rng = new Random(5);
        Int3 volumeShape = new(45, 38, 21);
        ulong[] volume = new ulong[volumeShape.Volume];
        for (int i = 0; i < volume.Length; i++)
        {
            volume[i] = i > 0 && rng.Next(6) != 0 ? volume[i - 1] : RandomLabel(rng);
        }

        uint[] volume32 = volume.Select(v => (uint)v).ToArray();
        var encoder = new CompressedSegmentationEncoder();
        var reassembled = new ulong[volume.Length];
        var reassembled32 = new uint[volume.Length];
        Int3 chunk = new(16, 16, 8);
        for (int z0 = 0; z0 < volumeShape.Z; z0 += chunk.Z)
        {
            for (int y0 = 0; y0 < volumeShape.Y; y0 += chunk.Y)
            {
                for (int x0 = 0; x0 < volumeShape.X; x0 += chunk.X)
                {
                    var region = new Box3(new Int3(x0, y0, z0), Int3.Min(new Int3(x0, y0, z0) + chunk, volumeShape));
                    Int3 size = region.Size;
                    var copy = new ulong[size.Volume];
                    for (int z = 0; z < size.Z; z++)
                    {
                        for (int y = 0; y < size.Y; y++)
                        {
                            Array.Copy(volume, x0 + (volumeShape.X * (y0 + y + (volumeShape.Y * (z0 + z)))), copy, size.X * (y + (size.Y * z)), size.X);
                        }
                    }

                    byte[] expected = CompressedSegmentation.Encode(copy, size, B8);
                    Assert.Equal(expected, encoder.EncodeToBuffer(volume, volumeShape, region, B8).ToArray());
                    CompressedSegmentation.Decode(expected, size, B8, reassembled, volumeShape, region.Begin);

                    byte[] expected32 = CompressedSegmentation.Encode(copy.Select(v => (uint)v).ToArray(), size, B8);
                    Assert.Equal(expected32, encoder.EncodeToBuffer(volume32, volumeShape, region, B8).ToArray());
                    CompressedSegmentation.Decode(expected32, size, B8, reassembled32, volumeShape, region.Begin);
                }
            }
        }

        Assert.Equal(volume, reassembled);
        Assert.Equal(volume.Select(v => (uint)v), reassembled32);
        Assert.Throws<ArgumentOutOfRangeException>(() => encoder.EncodeToBuffer(volume, volumeShape, new Box3(new Int3(40, 0, 0), new Int3(46, 8, 8)), B8).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => CompressedSegmentation.Decode(new byte[] { 1, 0, 0, 0 }, new Int3(8, 8, 8), B8, reassembled, volumeShape, new Int3(40, 0, 0)));
    }

    [Fact]
    public void DecoderAcceptsNonReferenceLayouts()
    {
        // neuroglancer-scripts style: table before values, padding with another value, 0-bit blocks past the table.
        // One 2x1x1 block of {9, 7} in a 4x1x1 block grid cell; values: 7 -> index 0, 9 -> index 1.
        // Channel: header (table at 2, 1 bit; values at 4), table [7, 9], values 0b1101: x0 -> 9, x1 -> 7, padding -> 9.
        uint[] file = { 1, 2u | (1u << 24), 4, 7, 9, 0b1101 };
        var dst = new uint[2];
        CompressedSegmentation.Decode(MemoryMarshal.AsBytes(file.AsSpan()), new Int3(2, 1, 1), new Int3(4, 1, 1), dst);
        Assert.Equal(new uint[] { 9, 7 }, dst);
    }

    [Fact]
    public void OffsetsBeyondTwentyFourBitsAreRefused()
    {
        // Values words follow the full block size, so a thin chunk with huge blocks overflows quickly:
        // 300 distinct values -> 16-bit indices, 2048x2048x1 blocks -> 2 Mi value words per block; 9 blocks > 2^24.
        Int3 shape = new(300, 1, 9), block = new(2048, 2048, 1);
        uint[] voxels = Enumerable.Range(0, (int)shape.Volume).Select(i => (uint)(i % 300)).ToArray();
        EngineException e = Assert.Throws<EngineException>(() => CompressedSegmentation.Encode(voxels, shape, block));
        Assert.Equal("CompressedSegmentationTooLarge", e.ErrorId);
        Assert.Equal(EngineErrorKind.LimitsExceeded, e.Kind);
        Assert.Contains("24-bit", e.Message);

        // Just under the limit (7 blocks, 14.7 Mi words) still encodes and round-trips.
        Int3 smaller = new(300, 1, 7);
        byte[] ok = CompressedSegmentation.Encode(voxels.AsSpan(0, 2100), smaller, block);
        var back = new uint[2100];
        CompressedSegmentation.Decode(ok, smaller, block, back);
        Assert.Equal(voxels.AsSpan(0, 2100).ToArray(), back);
    }

    [Fact]
    public void TooManyBlockHeadersAreRefused()
    {
        // 1x1x1 blocks: 2 header words per voxel; 8.4 M voxels would need 2^24 header words.
        Int3 shape = new(4096, 2048, 1);
        EngineException e = Assert.Throws<EngineException>(() => CompressedSegmentation.Encode(new uint[shape.Volume], shape, Int3.One));
        Assert.Equal("CompressedSegmentationTooLarge", e.ErrorId);
    }

    public static TheoryData<string, uint[]> CorruptChunks() => new()
    {
        { "empty", Array.Empty<uint>() },
        { "channel offset past the end", new uint[] { 9, 0, 0 } },
        { "channel offset zero", new uint[] { 0, 0, 0 } },
        { "headers cut short", new uint[] { 1, 2 } },
        { "bit width 3", new uint[] { 1, 2u | (3u << 24), 4, 5, 6, 7, 8 } },
        { "bit width 64", new uint[] { 1, 2u | (64u << 24), 4, 5, 6, 7, 8 } },
        { "table past the end", new uint[] { 1, 200, 2 } },
        { "values past the end", new uint[] { 1, 2u | (1u << 24), 400, 5, 6 } },
        { "index past the table", new uint[] { 1, 3u | (1u << 24), 2, 2, 7 } },
    };

    [Theory]
    [MemberData(nameof(CorruptChunks))]
    public void CorruptChunksAreRejectedClearly(string what, uint[] words)
    {
        Assert.NotNull(what);
        var dst = new uint[2];
        EngineException e = Assert.Throws<EngineException>(() => CompressedSegmentation.Decode(MemoryMarshal.AsBytes(words.AsSpan()), new Int3(2, 1, 1), new Int3(2, 1, 1), dst));
        Assert.Equal("CompressedSegmentationCorrupt", e.ErrorId);
        Assert.Equal(EngineErrorKind.InvalidData, e.Kind);
    }

    [Fact]
    public void LengthNotAMultipleOfFourIsCorrupt()
    {
        EngineException e = Assert.Throws<EngineException>(() => CompressedSegmentation.Decode(new byte[] { 1, 0, 0, 0, 2, 0 }, Int3.One, Int3.One, new ulong[1]));
        Assert.Equal("CompressedSegmentationCorrupt", e.ErrorId);
    }

    [Fact]
    public void WrongShapeForTheChunkIsCorrupt()
    {
        byte[] encoded = CompressedSegmentation.Encode(new ulong[8 * 8 * 8], new Int3(8, 8, 8), B8);
        EngineException e = Assert.Throws<EngineException>(() => CompressedSegmentation.Decode(encoded, new Int3(64, 64, 64), B8, new ulong[64 * 64 * 64]));
        Assert.Equal("CompressedSegmentationCorrupt", e.ErrorId);
    }

    [Fact]
    public void MutatedChunksNeverThrowAnythingButEngineException()
    {
        var rng = new Random(42);
        Int3 shape = new(20, 13, 9);
        ulong[] voxels = Enumerable.Range(0, (int)shape.Volume).Select(i => (ulong)(i / 37 % 5) * 1_000_000_007UL).ToArray();
        byte[] good = CompressedSegmentation.Encode(voxels, shape, B8);
        var dst = new ulong[shape.Volume];
        int rejected = 0;
        for (int trial = 0; trial < 3000; trial++)
        {
            byte[] bad = (byte[])good.Clone();
            int edits = 1 + rng.Next(4);
            for (int k = 0; k < edits; k++)
            {
                bad[rng.Next(Math.Min(bad.Length, 4 + (8 * 12)))] = (byte)rng.Next(256);
            }

            if (rng.Next(4) == 0)
            {
                Array.Resize(ref bad, rng.Next(bad.Length));
            }

            try
            {
                CompressedSegmentation.Decode(bad, shape, B8, dst);
            }
            catch (EngineException e)
            {
                Assert.Equal("CompressedSegmentationCorrupt", e.ErrorId);
                rejected++;
            }
        }

        Assert.True(rejected > 100, $"only {rejected} of 3000 mutated chunks were rejected");
    }

    private static ulong RandomLabel(Random rng) => rng.Next(3) switch
    {
        0 => (ulong)rng.Next(10),
        1 => (ulong)rng.NextInt64() | (1UL << 63),
        _ => (ulong)rng.NextInt64(),
    };

    /// <summary>
    /// A plain transcription of Google's reference encoder layout (neuroglancer compressed_segmentation README): sorted distinct values per clipped
    /// block, values then a new table, a dictionary keyed by the exact sorted list.
    /// </summary>
    internal static uint[] ReferenceEncode(ulong[] voxels, Int3 shape, Int3 block, int wordsPerValue)
    {
        int gx = Int3.CeilDiv(shape.X, block.X), gy = Int3.CeilDiv(shape.Y, block.Y), gz = Int3.CeilDiv(shape.Z, block.Z);
        var channel = new List<uint>(new uint[2 * gx * gy * gz]);
        var tables = new Dictionary<string, int>();
        int h = 0;
        for (int k = 0; k < gz; k++)
        {
            for (int j = 0; j < gy; j++)
            {
                for (int i = 0; i < gx; i++, h += 2)
                {
                    var values = new SortedSet<ulong>();
                    for (int z = k * block.Z; z < Math.Min(shape.Z, (k + 1) * block.Z); z++)
                    {
                        for (int y = j * block.Y; y < Math.Min(shape.Y, (j + 1) * block.Y); y++)
                        {
                            for (int x = i * block.X; x < Math.Min(shape.X, (i + 1) * block.X); x++)
                            {
                                values.Add(voxels[x + (shape.X * (y + (shape.Y * z)))]);
                            }
                        }
                    }

                    List<ulong> table = values.ToList();
                    int bits = 0;
                    while ((1L << bits) < table.Count)
                    {
                        bits = bits == 0 ? 1 : bits * 2;
                    }

                    int valuesOffset = channel.Count;
                    long valueWords = ((long)bits * block.Volume + 31) / 32;
                    channel.AddRange(new uint[valueWords]);
                    for (int z = k * block.Z; z < Math.Min(shape.Z, (k + 1) * block.Z); z++)
                    {
                        for (int y = j * block.Y; y < Math.Min(shape.Y, (j + 1) * block.Y); y++)
                        {
                            for (int x = i * block.X; x < Math.Min(shape.X, (i + 1) * block.X); x++)
                            {
                                uint index = (uint)table.BinarySearch(voxels[x + (shape.X * (y + (shape.Y * z)))]);
                                long bit = (long)bits * ((x - (i * block.X)) + (block.X * ((y - (j * block.Y)) + (block.Y * (z - (k * block.Z))))));
                                if (bits > 0)
                                {
                                    channel[valuesOffset + (int)(bit / 32)] |= index << (int)(bit % 32);
                                }
                            }
                        }
                    }

                    string key = string.Join(",", table);
                    if (!tables.TryGetValue(key, out int tableOffset))
                    {
                        tableOffset = channel.Count;
                        tables[key] = tableOffset;
                        foreach (ulong v in table)
                        {
                            channel.Add((uint)v);
                            if (wordsPerValue == 2)
                            {
                                channel.Add((uint)(v >> 32));
                            }
                        }
                    }

                    channel[h] = (uint)tableOffset | ((uint)bits << 24);
                    channel[h + 1] = (uint)valuesOffset;
                }
            }
        }

        channel.Insert(0, 1);
        return channel.ToArray();
    }

    /// <summary>neuroglancer's compressed_segmentation README ('Format specification') voxel by voxel: an independent decoder for uint64 chunks.</summary>
    internal static ulong[] ReferenceDecode64(byte[] encoded, Int3 shape, Int3 block)
    {
        uint[] word = MemoryMarshal.Cast<byte, uint>(encoded).ToArray();
        int c = (int)word[0];
        int gx = Int3.CeilDiv(shape.X, block.X), gy = Int3.CeilDiv(shape.Y, block.Y);
        var result = new ulong[shape.Volume];
        for (int z = 0; z < shape.Z; z++)
        {
            for (int y = 0; y < shape.Y; y++)
            {
                for (int x = 0; x < shape.X; x++)
                {
                    int h = c + (2 * ((x / block.X) + (gx * ((y / block.Y) + (gy * (z / block.Z))))));
                    int tableOffset = (int)(word[h] & 0xFFFFFF);
                    int bits = (int)(word[h] >> 24);
                    int valuesOffset = (int)(word[h + 1] & 0xFFFFFF);
                    uint index = 0;
                    if (bits > 0)
                    {
                        long p = (long)bits * ((x % block.X) + (block.X * ((y % block.Y) + (block.Y * (z % block.Z)))));
                        uint w = word[c + valuesOffset + (int)(p / 32)];
                        uint mask = bits == 32 ? 0xFFFFFFFF : (1u << bits) - 1;
                        index = (w >> (int)(p % 32)) & mask;
                    }

                    result[x + (shape.X * (y + (shape.Y * z)))] = word[c + tableOffset + (2 * index)] | ((ulong)word[c + tableOffset + (2 * index) + 1] << 32);
                }
            }
        }

        return result;
    }
}
