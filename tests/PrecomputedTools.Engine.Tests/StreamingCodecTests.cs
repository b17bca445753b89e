using System;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text.Json;
using PrecomputedTools.Engine.Codecs;
using Xunit;

namespace PrecomputedTools.Engine.Tests;

/// <summary>Block-layer streaming encode/decode gives exactly the whole-chunk results.</summary>
public class StreamingCodecTests
{
    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(TestData.Shared("vectors", "cseg", "manifest.json")));
        foreach (JsonElement c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            if (c.TryGetProperty("spec_only", out JsonElement specOnly) && specOnly.GetBoolean())
            {
                continue;
            }

            foreach (int layers in new[] { 1, 2, 3 })
            {
                data.Add(c.GetProperty("name").GetString()!, layers);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LayerByLayerEqualsTheGoldenFile(string name, int layersPerCall)
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(TestData.Shared("vectors", "cseg", "manifest.json")));
        JsonElement c = doc.RootElement.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        byte[] input = File.ReadAllBytes(TestData.Shared("vectors", "cseg", c.GetProperty("input").GetString()!));
        byte[] expected = File.ReadAllBytes(TestData.Shared("vectors", "cseg", c.GetProperty("output").GetString()!));
        Int3 shape = new(c.GetProperty("size")[0].GetInt32(), c.GetProperty("size")[1].GetInt32(), c.GetProperty("size")[2].GetInt32());
        Int3 block = new(c.GetProperty("block_size")[0].GetInt32(), c.GetProperty("block_size")[1].GetInt32(), c.GetProperty("block_size")[2].GetInt32());
        bool u64 = c.GetProperty("dtype").GetString() == "uint64";
        int plane = shape.X * shape.Y;

        var encoder = new CompressedSegmentationEncoder();
        encoder.BeginStream(shape, block);
        while (encoder.NextPlane < shape.Z)
        {
            int from = encoder.NextPlane;
            int planes = encoder.PlanesFor(layersPerCall);
            if (u64)
            {
                encoder.AppendLayers(MemoryMarshal.Cast<byte, ulong>(input).Slice(from * plane, planes * plane), layersPerCall);
            }
            else
            {
                encoder.AppendLayers(MemoryMarshal.Cast<byte, uint>(input).Slice(from * plane, planes * plane), layersPerCall);
            }
        }

        Assert.Equal(expected, encoder.FinishStream().ToArray());

        // Decoding a range of block layers gives exactly those planes.
        for (int z0 = 0; z0 < shape.Z; z0 += block.Z * layersPerCall)
        {
            int z1 = Math.Min(shape.Z, z0 + (block.Z * layersPerCall));
            if (u64)
            {
                var planes = new ulong[(z1 - z0) * plane];
                CompressedSegmentation.DecodePlanes(expected, shape, block, z0, z1, planes);
                Assert.Equal(MemoryMarshal.Cast<byte, ulong>(input).Slice(z0 * plane, (z1 - z0) * plane).ToArray(), planes);
            }
            else
            {
                var planes = new uint[(z1 - z0) * plane];
                CompressedSegmentation.DecodePlanes(expected, shape, block, z0, z1, planes);
                Assert.Equal(MemoryMarshal.Cast<byte, uint>(input).Slice(z0 * plane, (z1 - z0) * plane).ToArray(), planes);
            }
        }
    }

    // The chunk placed inside a larger buffer (a slab of several chunks, as scale 0 reads it and
    // the lower scales decode into): strided encoding gives the golden file, strided decoding
    // writes exactly the chunk's voxels and nothing around them.
    [Theory]
    [MemberData(nameof(Cases))]
    public void StridedLayersEqualTheGoldenFile(string name, int layersPerCall)
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(TestData.Shared("vectors", "cseg", "manifest.json")));
        JsonElement c = doc.RootElement.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        byte[] input = File.ReadAllBytes(TestData.Shared("vectors", "cseg", c.GetProperty("input").GetString()!));
        byte[] expected = File.ReadAllBytes(TestData.Shared("vectors", "cseg", c.GetProperty("output").GetString()!));
        Int3 shape = new(c.GetProperty("size")[0].GetInt32(), c.GetProperty("size")[1].GetInt32(), c.GetProperty("size")[2].GetInt32());
        Int3 block = new(c.GetProperty("block_size")[0].GetInt32(), c.GetProperty("block_size")[1].GetInt32(), c.GetProperty("block_size")[2].GetInt32());
        bool u64 = c.GetProperty("dtype").GetString() == "uint64";
        ulong[] voxels = u64 ? MemoryMarshal.Cast<byte, ulong>(input).ToArray() : MemoryMarshal.Cast<byte, uint>(input).ToArray().Select(v => (ulong)v).ToArray();

        // A larger volume with the chunk at (3, 2, 0): 5 voxels more per row, 3 rows more per plane.
        long strideY = shape.X + 5, strideZ = strideY * (shape.Y + 3), offset = 3 + (2 * strideY);
        const ulong Fill = 0xDEAD;
        var big = Enumerable.Repeat(Fill, (int)(strideZ * shape.Z)).ToArray();
        for (int z = 0; z < shape.Z; z++)
        {
            for (int y = 0; y < shape.Y; y++)
            {
                for (int x = 0; x < shape.X; x++)
                {
                    big[offset + x + (y * strideY) + (z * strideZ)] = voxels[x + (shape.X * (y + (shape.Y * z)))];
                }
            }
        }

        uint[] big32 = big.Select(v => (uint)v).ToArray();
        var encoder = new CompressedSegmentationEncoder();
        encoder.BeginStream(shape, block);
        while (encoder.NextPlane < shape.Z)
        {
            long from = offset + (encoder.NextPlane * strideZ);
            if (u64)
            {
                encoder.AppendLayers(big, from, strideY, strideZ, layersPerCall);
            }
            else
            {
                encoder.AppendLayers(big32, from, strideY, strideZ, layersPerCall);
            }
        }

        Assert.Equal(expected, encoder.FinishStream().ToArray());

        for (int z0 = 0; z0 < shape.Z; z0 += block.Z * layersPerCall)
        {
            int z1 = Math.Min(shape.Z, z0 + (block.Z * layersPerCall));
            var decoded = Enumerable.Repeat(Fill, (int)(strideZ * (z1 - z0))).ToArray();
            uint[] decoded32 = decoded.Select(v => (uint)v).ToArray();
            if (u64)
            {
                CompressedSegmentation.DecodePlanes(expected, shape, block, z0, z1, decoded, offset, strideY, strideZ);
            }
            else
            {
                CompressedSegmentation.DecodePlanes(expected, shape, block, z0, z1, decoded32, offset, strideY, strideZ);
                decoded = decoded32.Select(v => (ulong)v).ToArray();
            }

            Assert.Equal(big.AsSpan((int)(z0 * strideZ), decoded.Length).ToArray(), decoded);
        }

        if (shape.Volume > 0)
        {
            // One plane too far down: the chunk would not fit.
            int planes = Math.Min(shape.Z, block.Z);
            Assert.Throws<ArgumentException>(() => CompressedSegmentation.DecodePlanes(expected, shape, block, 0, planes, new ulong[strideZ * planes], offset + strideZ, strideY, strideZ));
        }
    }

    [Fact]
    public void FinishingEarlyOrMisalignedPlanesAreRejected()
    {
        var encoder = new CompressedSegmentationEncoder();
        encoder.BeginStream(new Int3(8, 8, 16), new Int3(8, 8, 8));
        encoder.AppendLayers(new ulong[8 * 8 * 8], 1);
        Assert.Throws<InvalidOperationException>(() => encoder.FinishStream());
        Assert.Throws<ArgumentException>(() => encoder.AppendLayers(new ulong[7], 1));
        Assert.Throws<ArgumentException>(() => CompressedSegmentation.DecodePlanes(new byte[20], new Int3(8, 8, 16), new Int3(8, 8, 8), 3, 8, new ulong[8 * 8 * 5]));
    }
}
