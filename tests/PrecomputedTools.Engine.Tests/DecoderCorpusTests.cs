using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text;
using System.Text.Json;
using PrecomputedTools.Engine.Boss;
using PrecomputedTools.Engine.Codecs;
using PrecomputedTools.Engine.Meshing;
using PrecomputedTools.Engine.Meshing.Draco;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Storage;
using Xunit;

namespace PrecomputedTools.Engine.Tests;

/// <summary>
/// A seeded, bounded corpus of damaged inputs for every decoder that reads bytes from outside: blosc
/// frames, npygz payloads, info JSON, compressed_segmentation chunks, gzip chunk files, shard files,
/// Draco meshes, legacy mesh fragments and multi-resolution manifests. Each mutant either decodes or
/// fails with an EngineException; none may take 2 s or allocate 256 MB (all inputs are under 1 MB).
/// Decoding runs on the test's own thread so that the allocation counter sees all of it.
/// </summary>
public sealed class DecoderCorpusTests
{
    private const int MutantsPerTarget = 20000;
    private const long AllocationLimit = 256L << 20;
    private static readonly TimeSpan TimeLimit = TimeSpan.FromSeconds(2);

    [Fact]
    public void BloscFrames() => Run("blosc", BloscSeeds(), (bytes, expectedLength) =>
    {
        var destination = new byte[expectedLength];
        BloscDecoder.Decode(bytes, destination, maxParallelism: 1);
    });

    [Fact]
    public void NpyGzPayloads()
    {
        var seeds = new List<(byte[], int)>();
        var shapes = new List<(VoxelType, long[])>();
        string dir = TestData.Shared("vectors", "npygz");
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "manifest.json")));
        foreach (JsonElement c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            byte[] payload = File.ReadAllBytes(Path.Combine(dir, c.GetProperty("payload").GetString()!));
            int rawLength = (int)new FileInfo(Path.Combine(dir, c.GetProperty("raw").GetString()!)).Length;
            VoxelType type = c.GetProperty("dtype").GetString() switch { "uint8" => VoxelType.UInt8, "uint16" => VoxelType.UInt16, _ => VoxelType.UInt64 };
            shapes.Add((type, c.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray()));
            seeds.Add((payload, shapes.Count - 1));
        }

        Assert.NotEmpty(seeds);
        Run("npygz", seeds, (bytes, which) =>
        {
            (VoxelType type, long[] shape) = shapes[which];
            long length = shape.Aggregate((long)VoxelTypes.SizeOf(type), (a, b) => a * b);
            NpyGz.Decode(new MemoryStream(bytes), type, shape, new byte[length]);
        });
    }

    [Fact]
    public void InfoJson() => Run("info", InfoSeeds().Select(s => (Encoding.UTF8.GetBytes(s), 0)), (bytes, unused) =>
    {
        // As a dataset store reads it: parsed, then checked before any reader uses it.
        PrecomputedInfo info = PrecomputedInfo.Parse(Encoding.UTF8.GetString(bytes), source: "fuzz/info");
        info.Validate("fuzz/info");
        foreach (ScaleInfo scale in info.Scales)
        {
            // What every reader derives from a parsed scale next: the chunk grid and the chunk names.
            long chunks = scale.ChunkCount;
            string last = scale.ChunkName(scale.ChunkBox(scale.GridSize - new Int3(1, 1, 1)));
            int bound = ChunkCodec.MaxEncodedLength(info.DataType, info.NumChannels, scale, scale.ChunkSize);
        }
    }, structured: true);

    [Fact]
    public void CompressedSegmentationChunks()
    {
        var shape = new Int3(32, 24, 16);
        var block = new Int3(8, 8, 8);
        Run("compressed_segmentation", LabelSeeds(shape).SelectMany(labels => new[]
        {
            (CompressedSegmentation.Encode(labels, shape, block), 64),
            (CompressedSegmentation.Encode(labels.Select(l => (uint)l).ToArray(), shape, block), 32),
        }), (bytes, bits) =>
        {
            if (bits == 64)
            {
                CompressedSegmentation.Decode(bytes, shape, block, new ulong[shape.Volume]);
            }
            else
            {
                CompressedSegmentation.Decode(bytes, shape, block, new uint[shape.Volume]);
            }
        });
    }

    [Fact]
    public void GzipChunkFiles()
    {
        var shape = new Int3(32, 24, 16);
        var block = new Int3(8, 8, 8);
        int legalLength = ChunkCodec.MaxEncodedLength(VoxelType.UInt64, 1, new ScaleInfo { ChunkSize = shape, BlockSize = block }, shape);
        Run("gzip", LabelSeeds(shape).Select(labels => (Gzip(CompressedSegmentation.Encode(labels, shape, block)), 0)), (bytes, _) =>
        {
            // The store's read path: inflate into at most what the chunk can legally hold, then decode.
            using PooledBytes content = ObjectContent.ReadAll(new MemoryStream(bytes), gzip: true, legalLength, bytes.Length, "fuzz/chunk.gz");
            CompressedSegmentation.Decode(content.Span, shape, block, new ulong[shape.Volume]);
        });
    }

    [Fact]
    public void ShardFiles()
    {
        var shape = new Int3(16, 16, 8);
        var block = new Int3(8, 8, 8);
        var grid = new Int3(4, 2, 2);
        ulong[][] labels = LabelSeeds(shape).ToArray();
        var seeds = new List<(byte[], int)>();
        var specs = new List<ShardingSpec>();
        foreach ((string hash, string encoding) in new[] { ("identity", "gzip"), ("murmurhash3_x86_128", "raw"), ("identity", "raw") })
        {
            var spec = new ShardingSpec { Hash = hash, PreshiftBits = 1, MinishardBits = 2, ShardBits = 0, MinishardIndexEncoding = encoding, DataEncoding = encoding };
            var chunks = new List<KeyValuePair<ulong, byte[]>>();
            for (int n = 0; n < grid.Volume; n++)
            {
                var cell = new Int3(n % grid.X, n / grid.X % grid.Y, n / (grid.X * grid.Y));
                chunks.Add(new(ShardingSpec.ChunkId(grid, cell), CompressedSegmentation.Encode(labels[n % labels.Length], shape, block)));
            }

            specs.Add(spec);
            seeds.Add((ShardBuilder.Build(spec, chunks), specs.Count - 1));
        }

        int legalLength = ChunkCodec.MaxEncodedLength(VoxelType.UInt64, 1, new ScaleInfo { ChunkSize = shape, BlockSize = block }, shape);
        Run("shard", seeds, (bytes, which) =>
        {
            byte[]? ReadRange(ulong shard, long offset, int length) =>
                shard != 0 || offset < 0 || offset + length > bytes.Length ? null : bytes.AsSpan((int)offset, length).ToArray();
            var reader = new ShardReader(specs[which], ReadRange, maxChunks: grid.Volume);
            for (int n = 0; n < grid.Volume; n++)
            {
                var cell = new Int3(n % grid.X, n / grid.X % grid.Y, n / (grid.X * grid.Y));
                if (reader.Read(ShardingSpec.ChunkId(grid, cell), "fuzz/0.shard", legalLength) is { } chunk)
                {
                    CompressedSegmentation.Decode(chunk, shape, block, new ulong[shape.Volume]);
                }
            }
        });
    }

    [Fact]
    public void DracoMeshes()
    {
        var seeds = new List<(byte[], int)>();
        foreach (int size in new[] { 2, 5, 9 })
        {
            (int[] positions, int[] indices) = Grid(size);
            seeds.Add((DracoMeshEncoder.Encode(positions, indices), 0));
        }

        Run("draco", seeds, (bytes, _) => DracoMeshReader.Read(bytes));
    }

    [Fact]
    public void LegacyMeshFragments()
    {
        var seeds = new List<(byte[], int)>();
        foreach (int size in new[] { 2, 6 })
        {
            (int[] positions, int[] indices) = Grid(size);
            using var stream = new MemoryStream();
            using var writer = new BinaryWriter(stream);
            writer.Write((uint)(positions.Length / 3));
            foreach (int p in positions)
            {
                writer.Write((float)p);
            }

            foreach (int i in indices)
            {
                writer.Write((uint)i);
            }

            writer.Flush();
            seeds.Add((stream.ToArray(), 0));
        }

        Run("legacy mesh", seeds, (bytes, _) => MeshData.FromFragmentBytes(bytes, "fuzz/1:0"));
    }

    [Fact]
    public void MultiResolutionManifests()
    {
        using var stream = new MemoryStream();
        using var writer = new BinaryWriter(stream);
        foreach (float f in new float[] { 64, 64, 64, 0, 0, 0 })
        {
            writer.Write(f);
        }

        writer.Write(2u); // lods
        writer.Write(1f);
        writer.Write(2f);
        for (int k = 0; k < 6; k++)
        {
            writer.Write(0f);
        }

        writer.Write(2u); // fragments at lod 0
        writer.Write(1u); // and at lod 1
        foreach (uint v in new uint[] { 0, 1, 0, 0, 0, 0, 100, 120 })
        {
            writer.Write(v);
        }

        foreach (uint v in new uint[] { 0, 0, 0, 80 })
        {
            writer.Write(v);
        }

        writer.Flush();
        Run("multi-resolution manifest", new[] { (stream.ToArray(), 0) }, (bytes, _) => MultiResolutionManifest.Parse(bytes, "fuzz/1.index"));
    }

    /// <summary>
    /// Mutates each seed in turn (byte changes, bit flips, 0xFF and 0x00 runs that make huge or zero
    /// counts, cuts, duplicated spans; text seeds also get JSON-shaped edits) and decodes every mutant.
    /// </summary>
    private static void Run(string target, IEnumerable<(byte[] Bytes, int Context)> seedList, Action<byte[], int> decode, bool structured = false)
    {
        (byte[] Bytes, int Context)[] seeds = seedList.ToArray();
        Assert.NotEmpty(seeds);
        foreach ((byte[] seed, int context) in seeds)
        {
            decode(seed, context); // the seeds themselves are valid
        }

        // Fixed in CI; PT_FUZZ_SEED explores other corpora locally (a failure prints its input).
        int salt = int.TryParse(Environment.GetEnvironmentVariable("PT_FUZZ_SEED"), out int s) ? s : 0;
        var random = new Random(HashCode(target) + salt);
        var escaped = new Dictionary<string, string>();
        var slow = new List<string>();
        var greedy = new List<string>();
        int refused = 0;
        for (int n = 0; n < MutantsPerTarget; n++)
        {
            (byte[] seed, int context) = seeds[n % seeds.Length];
            byte[] bytes = structured && random.Next(2) == 0 ? MutateJson(seed, random) : Mutate(seed, random);
            Assert.True(bytes.Length < 1 << 20);
            long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            var clock = Stopwatch.StartNew();
            try
            {
                decode(bytes, context);
            }
            catch (EngineException)
            {
                refused++;
            }
            catch (Exception ex)
            {
                string signature = ex.GetType().Name + " at " + (ex.StackTrace ?? "").Split('\n').FirstOrDefault()?.Trim();
                escaped.TryAdd(signature, Convert.ToBase64String(bytes.Length > 600 ? bytes.AsSpan(0, 600).ToArray() : bytes));
            }

            clock.Stop();
            long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
            if (clock.Elapsed > TimeLimit)
            {
                slow.Add($"mutant {n}: {clock.Elapsed.TotalSeconds:F1} s");
            }

            if (allocated > AllocationLimit)
            {
                greedy.Add($"mutant {n}: {allocated >> 20} MB");
            }
        }

        Assert.True(escaped.Count == 0, $"{target}: {escaped.Count} kinds of non-engine exception escaped:\n" + string.Join("\n", escaped.Select(kv => kv.Key + "\n  input (base64): " + kv.Value)));
        Assert.True(slow.Count == 0, $"{target}: inputs over {TimeLimit.TotalSeconds} s: " + string.Join(", ", slow));
        Assert.True(greedy.Count == 0, $"{target}: inputs allocating over {AllocationLimit >> 20} MB: " + string.Join(", ", greedy));
        Assert.True(refused > MutantsPerTarget / 10, $"{target}: only {refused} of {MutantsPerTarget} mutants were refused; the corpus damages too little");
    }

    /// <summary>One mutant of <paramref name="seed"/>: most edits within its first <paramref name="front"/> bytes, where headers and tables are.</summary>
    internal static byte[] Mutate(byte[] seed, Random random, int front = 96)
    {
        byte[] bytes = (byte[])seed.Clone();
        int edits = 1 + random.Next(4);
        for (int e = 0; e < edits && bytes.Length > 0; e++)
        {
            // Most damage near the front, where headers and tables are; some anywhere.
            int limit = random.Next(3) == 0 ? bytes.Length : Math.Min(bytes.Length, front);
            int at = random.Next(limit);
            switch (random.Next(7))
            {
                case 0:
                    bytes[at] = (byte)random.Next(256);
                    break;
                case 1:
                    bytes[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 2:
                    Fill(bytes, at, random.Next(1, 9), 0xFF);
                    break;
                case 3:
                    Fill(bytes, at, random.Next(1, 9), 0x00);
                    break;
                case 4:
                    Array.Resize(ref bytes, at);
                    break;
                case 5:
                    // A 32-bit little-endian value at a 4-byte boundary: counts, offsets and sizes.
                    int aligned = at & ~3;
                    if (aligned + 4 <= bytes.Length)
                    {
                        uint value = random.Next(4) switch { 0 => 0x7FFFFFFFu, 1 => 0x80000000u, 2 => (uint)random.Next(1 << 16), _ => uint.MaxValue - (uint)random.Next(64) };
                        BitConverter.TryWriteBytes(bytes.AsSpan(aligned), value);
                    }

                    break;
                default:
                    int length = Math.Min(random.Next(1, 64), bytes.Length - at);
                    byte[] longer = new byte[bytes.Length + length];
                    bytes.AsSpan(0, at + length).CopyTo(longer);
                    bytes.AsSpan(at).CopyTo(longer.AsSpan(at + length));
                    bytes = longer;
                    break;
            }
        }

        return bytes;
    }

    private static readonly string[] JsonEdits =
    {
        "\"1\"", "1.5", "-1", "0", "2147483647", "9223372036854775807", "1e308", "null", "true", "[]", "{}", "[1,2]", "[2147483647,2147483647,2147483647]",
        "[[1,1,1]]", "[0,0,0]", "\"raw\"", "\"\\u0000\"", "\"../../etc\"", "[-5,-5,-5]",
    };

    /// <summary>Replaces one JSON value (a number, string, array or literal) with another of the wrong type or an extreme size, or duplicates a member.</summary>
    private static byte[] MutateJson(byte[] seed, Random random)
    {
        string text = Encoding.UTF8.GetString(seed);
        var starts = new List<int>();
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] == ':' || (text[i] == ',' && i + 1 < text.Length && text[i + 1] != '"'))
            {
                starts.Add(i + 1);
            }
        }

        int at = starts[random.Next(starts.Count)];
        int end = ValueEnd(text, at);
        if (random.Next(5) == 0)
        {
            // Duplicate the member this value belongs to.
            int memberStart = text.LastIndexOf('"', text.LastIndexOf('"', at - 2) - 1);
            if (memberStart > 0)
            {
                string member = text.Substring(memberStart, end - memberStart);
                return Encoding.UTF8.GetBytes(text.Insert(end, "," + member));
            }
        }

        return Encoding.UTF8.GetBytes(text.Substring(0, at) + JsonEdits[random.Next(JsonEdits.Length)] + text.Substring(end));
    }

    private static int ValueEnd(string text, int at)
    {
        int depth = 0;
        bool inString = false;
        for (int i = at; i < text.Length; i++)
        {
            char c = text[i];
            if (inString)
            {
                if (c == '\\')
                {
                    i++;
                }
                else if (c == '"')
                {
                    inString = false;
                }

                continue;
            }

            switch (c)
            {
                case '"':
                    inString = true;
                    break;
                case '[' or '{':
                    depth++;
                    break;
                case ']' or '}':
                    if (depth == 0)
                    {
                        return i;
                    }

                    depth--;
                    break;
                case ',':
                    if (depth == 0)
                    {
                        return i;
                    }

                    break;
            }
        }

        return text.Length;
    }

    private static void Fill(byte[] bytes, int at, int count, byte value)
    {
        for (int k = 0; k < count && at + k < bytes.Length; k++)
        {
            bytes[at + k] = value;
        }
    }

    private static int HashCode(string text)
    {
        int hash = 2026;
        foreach (char c in text)
        {
            hash = (hash * 31) + c;
        }

        return hash;
    }

    private static IEnumerable<(byte[], int)> BloscSeeds()
    {
        string dir = TestData.Shared("vectors", "blosc");
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "manifest.json")));
        var seeds = new List<(byte[], int)>();
        foreach (JsonElement c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            byte[] frame = File.ReadAllBytes(Path.Combine(dir, c.GetProperty("frame").GetString()!));
            if (frame.Length < 1 << 18)
            {
                seeds.Add((frame, (int)new FileInfo(Path.Combine(dir, c.GetProperty("raw").GetString()!)).Length));
            }
        }

        return seeds;
    }

    private static IEnumerable<string> InfoSeeds()
    {
        yield return "{\"@type\":\"neuroglancer_multiscale_volume\",\"type\":\"segmentation\",\"data_type\":\"uint64\",\"num_channels\":1,\"mesh\":\"mesh\","
            + "\"segment_properties\":\"segment_properties\",\"scales\":["
            + "{\"key\":\"2_2_2\",\"size\":[1406,621,138],\"resolution\":[2,2,2],\"voxel_offset\":[0,0,0],\"chunk_sizes\":[[64,64,64]],\"encoding\":\"compressed_segmentation\",\"compressed_segmentation_block_size\":[8,8,8]},"
            + "{\"key\":\"4_4_2\",\"size\":[703,311,138],\"resolution\":[4,4,2],\"voxel_offset\":[0,0,0],\"chunk_sizes\":[[64,64,64]],\"encoding\":\"compressed_segmentation\",\"compressed_segmentation_block_size\":[8,8,8],"
            + "\"sharding\":{\"@type\":\"neuroglancer_uint64_sharded_v1\",\"preshift_bits\":3,\"hash\":\"identity\",\"minishard_bits\":2,\"shard_bits\":1,\"minishard_index_encoding\":\"gzip\",\"data_encoding\":\"gzip\"}}]}";
        yield return "{\"@type\":\"neuroglancer_multiscale_volume\",\"type\":\"image\",\"data_type\":\"uint8\",\"num_channels\":1,\"scales\":["
            + "{\"key\":\"8_8_8\",\"size\":[512,512,64],\"resolution\":[8,8,8],\"voxel_offset\":[100,-20,3],\"chunk_sizes\":[[128,128,16],[64,64,64]],\"encoding\":\"jpeg\",\"jpeg_quality\":90}]}";
    }

    private static IEnumerable<ulong[]> LabelSeeds(Int3 shape)
    {
        var random = new Random(7);
        for (int seed = 0; seed < 3; seed++)
        {
            var labels = new ulong[shape.Volume];
            int cells = seed switch { 0 => 1, 1 => 12, _ => 300 };
            for (int i = 0; i < labels.Length; i++)
            {
                // Blocky regions (few values per block) for the first seeds, noise for the last.
                int x = i % shape.X, y = i / shape.X % shape.Y, z = i / (shape.X * shape.Y);
                labels[i] = seed == 2 ? (ulong)random.Next(cells) * 0x1_0000_0001UL : (ulong)(((x / 5) + (y / 7 * 3) + (z / 4 * 5)) % cells) + 1;
            }

            yield return labels;
        }
    }

    private static byte[] Gzip(byte[] bytes)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(bytes);
        }

        return output.ToArray();
    }

    /// <summary>A closed box surface of size n: vertex coordinates in a small integer grid and its triangles.</summary>
    private static (int[] Positions, int[] Indices) Grid(int n)
    {
        var positions = new List<int>();
        var indices = new List<int>();
        for (int face = 0; face < 2; face++)
        {
            int baseIndex = positions.Count / 3;
            for (int y = 0; y <= n; y++)
            {
                for (int x = 0; x <= n; x++)
                {
                    positions.AddRange(new[] { x * 4, y * 4, face * n * 4 });
                }
            }

            for (int y = 0; y < n; y++)
            {
                for (int x = 0; x < n; x++)
                {
                    int a = baseIndex + (y * (n + 1)) + x, b = a + 1, c = a + n + 1, d = c + 1;
                    if (face == 0)
                    {
                        indices.AddRange(new[] { a, c, b, b, c, d });
                    }
                    else
                    {
                        indices.AddRange(new[] { a, b, c, b, d, c });
                    }
                }
            }
        }

        return (positions.ToArray(), indices.ToArray());
    }
}
