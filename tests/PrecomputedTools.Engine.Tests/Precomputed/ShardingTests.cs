using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using PrecomputedTools.Engine.Precomputed;
using Xunit;

namespace PrecomputedTools.Engine.Tests.Precomputed;

/// <summary>neuroglancer_uint64_sharded_v1 (neuroglancer sharded.md; volume.md, 'Compressed morton code'), checked against known vectors.</summary>
public sealed class ShardingTests
{
    [Theory]
    [InlineData(3, 2, 1, 2, 1, 0, 6UL)]
    [InlineData(4, 4, 4, 1, 2, 3, 53UL)]
    [InlineData(10, 3, 1, 9, 2, 0, 41UL)]
    [InlineData(6, 3, 2, 5, 2, 1, 53UL)]
    [InlineData(6, 3, 2, 1, 0, 0, 1UL)]
    [InlineData(6, 3, 2, 0, 1, 0, 2UL)]
    [InlineData(6, 3, 2, 0, 0, 1, 4UL)]
    public void ChunkIdsAreCompressedMortonCodes(int gx, int gy, int gz, int x, int y, int z, ulong expected) =>
        Assert.Equal(expected, ShardingSpec.ChunkId(new Int3(gx, gy, gz), new Int3(x, y, z)));

    [Theory]
    [InlineData(3, 2, 1)]
    [InlineData(10, 3, 1)]
    [InlineData(6, 3, 2)]
    [InlineData(5, 7, 9)]
    public void ChunkIdsMapBackToTheirCellsAndNothingElseIsACell(int gx, int gy, int gz)
    {
        var grid = new Int3(gx, gy, gz);
        var ids = new HashSet<ulong>();
        for (int z = 0; z < gz; z++)
        {
            for (int y = 0; y < gy; y++)
            {
                for (int x = 0; x < gx; x++)
                {
                    ulong id = ShardingSpec.ChunkId(grid, new Int3(x, y, z));
                    ids.Add(id);
                    Assert.True(ShardingSpec.TryGetCell(grid, id, out Int3 cell));
                    Assert.Equal(new Int3(x, y, z), cell);
                }
            }
        }

        for (ulong id = 0; id < 2048; id++)
        {
            Assert.Equal(ids.Contains(id), ShardingSpec.TryGetCell(grid, id, out _));
        }
    }

    [Theory]
    [InlineData(0UL, 0x4772b084e028ae41UL)]
    [InlineData(1UL, 0xe8bd67d616d4ce9aUL)]
    [InlineData(2UL, 0xd62f9cd21b013f5aUL)]
    [InlineData(3UL, 0x6b596e4f0e43e4d1UL)]
    [InlineData(12345UL, 0x1d31307e3a65e510UL)]
    public void MurmurHashMatchesTheViewersVectors(ulong id, ulong expected) =>
        Assert.Equal(expected, ShardingSpec.Murmur3X86128Low64(id));

    [Theory]
    [InlineData(1UL, 3, 2UL, 6UL, "6.shard")]
    [InlineData(12345UL, 3, 0UL, 4UL, "4.shard")]
    [InlineData(1UL, 5, 2UL, 6UL, "06.shard")]
    [InlineData(12345UL, 5, 0UL, 4UL, "04.shard")]
    public void MurmurRoutingMatchesTheWorkedExamples(ulong id, int shardBits, ulong minishard, ulong shard, string file)
    {
        var spec = new ShardingSpec { Hash = ShardingSpec.MurmurHash, MinishardBits = 2, ShardBits = shardBits };
        Assert.Equal((shard, minishard), spec.Locate(id));
        Assert.Equal(file, spec.ShardFileName(shard));
    }

    [Fact]
    public void TheWorkedShardFileIsByteForByteTheSpecs()
    {
        var spec = new ShardingSpec { MinishardBits = 1, ShardBits = 0, MinishardIndexEncoding = "raw", DataEncoding = "raw" };
        var chunks = Enumerable.Range(0, 8).Select(i => new KeyValuePair<ulong, byte[]>((ulong)i, Enumerable.Repeat((byte)i, 100 + (10 * i)).ToArray())).Reverse();
        byte[] shard = ShardBuilder.Build(spec, chunks);
        Assert.Equal(1304, shard.Length);
        ulong U(int offset) => BinaryPrimitives.ReadUInt64LittleEndian(shard.AsSpan(offset));
        Assert.Equal(new ulong[] { 1080, 1176, 1176, 1272 }, new[] { U(0), U(8), U(16), U(24) });
        int m0 = 32 + 1080, m1 = 32 + 1176;
        Assert.Equal(new ulong[] { 0, 2, 2, 2, 0, 0, 0, 0, 100, 120, 140, 160 }, Enumerable.Range(0, 12).Select(i => U(m0 + (8 * i))));
        Assert.Equal(new ulong[] { 1, 2, 2, 2, 520, 0, 0, 0, 110, 130, 150, 170 }, Enumerable.Range(0, 12).Select(i => U(m1 + (8 * i))));
        Assert.Equal(Enumerable.Repeat((byte)3, 130), shard.Skip(32 + 630).Take(130));
    }

    [Theory]
    [InlineData(ShardingSpec.IdentityHash, "gzip", "gzip")]
    [InlineData(ShardingSpec.MurmurHash, "raw", "gzip")]
    [InlineData(ShardingSpec.MurmurHash, "gzip", "raw")]
    public void AReaderGetsBackEveryChunkThroughByteRanges(string hash, string indexEncoding, string dataEncoding)
    {
        var spec = new ShardingSpec { Hash = hash, PreshiftBits = 1, MinishardBits = 2, ShardBits = 2, MinishardIndexEncoding = indexEncoding, DataEncoding = dataEncoding };
        var random = new Random(7);
        var all = Enumerable.Range(0, 300).Select(i => (Id: (ulong)(i * 37 % 1000), Data: Enumerable.Range(0, random.Next(1, 200)).Select(_ => (byte)random.Next(256)).ToArray()))
            .GroupBy(c => c.Id).Select(g => g.First()).ToList();
        var files = all.GroupBy(c => spec.Locate(c.Id).Shard).ToDictionary(g => g.Key, g => ShardBuilder.Build(spec, g.Select(c => new KeyValuePair<ulong, byte[]>(c.Id, c.Data))));
        foreach (byte[] file in files.Values.Where(_ => indexEncoding == "gzip"))
        {
            ulong start = BinaryPrimitives.ReadUInt64LittleEndian(file);
            ulong end = BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(8));
            if (end > start)
            {
                Assert.Equal(new byte[] { 0x1f, 0x8b }, file.Skip(16 * spec.MinishardCount + (int)start).Take(2)); // RFC 1952, not zlib
            }
        }

        int ranges = 0;
        var reader = new ShardReader(spec, (shard, offset, length) =>
        {
            ranges++;
            return files.TryGetValue(shard, out byte[]? f) ? f.Skip((int)offset).Take(length).ToArray() : null;
        });
        foreach (var chunk in all)
        {
            Assert.Equal(chunk.Data, reader.Read(chunk.Id, "test"));
        }

        Assert.Null(reader.Read(999_999, "test"));
        Assert.True(ranges < 3 * all.Count, "minishard indices are read once");
    }

    /// <summary>Acceptance 4 of the sharding issue: a duplicated id and a zlib stream labelled gzip are clear InvalidShard errors.</summary>
    [Fact]
    public void ADuplicatedIdAndZlibLabelledGzipAreInvalidShards()
    {
        var spec = new ShardingSpec { Hash = ShardingSpec.IdentityHash, MinishardBits = 0, ShardBits = 0, MinishardIndexEncoding = "raw", DataEncoding = "raw" };
        byte[] shard = ShardBuilder.Build(spec, new[] { new KeyValuePair<ulong, byte[]>(5, new byte[] { 1, 2, 3 }), new KeyValuePair<ulong, byte[]>(9, new byte[] { 4, 5 }) });
        ShardReader Reader(ShardingSpec s, byte[] file) => new(s, (_, offset, length) => file.Skip((int)offset).Take(length).ToArray());
        Assert.Equal(new byte[] { 4, 5 }, Reader(spec, shard).Read(9, "ok.shard"));

        // The second id delta set to 0: id 5 listed twice.
        byte[] duplicated = (byte[])shard.Clone();
        ulong indexStart = BinaryPrimitives.ReadUInt64LittleEndian(duplicated);
        BinaryPrimitives.WriteUInt64LittleEndian(duplicated.AsSpan(16 + (int)indexStart + 8), 0);
        EngineException dup = Assert.Throws<EngineException>(() => Reader(spec, duplicated).Read(5, "dup.shard"));
        Assert.Equal("InvalidShard", dup.ErrorId);
        Assert.Contains("out of order", dup.Message, StringComparison.Ordinal);

        // Chunk data compressed with zlib (RFC 1950) under data_encoding gzip (RFC 1952).
        byte[] Zlib(byte[] data)
        {
            using var output = new MemoryStream();
            using (var z = new ZLibStream(output, CompressionLevel.Optimal, leaveOpen: true))
            {
                z.Write(data);
            }

            return output.ToArray();
        }

        byte[] zlibShard = ShardBuilder.Build(spec, new[] { new KeyValuePair<ulong, byte[]>(5, Zlib(new byte[] { 1, 2, 3 })) });
        var labelledGzip = new ShardingSpec { Hash = spec.Hash, MinishardBits = 0, ShardBits = 0, MinishardIndexEncoding = "raw", DataEncoding = "gzip" };
        EngineException zlib = Assert.Throws<EngineException>(() => Reader(labelledGzip, zlibShard).Read(5, "zlib.shard"));
        Assert.Equal("InvalidShard", zlib.ErrorId);
        Assert.Contains("not valid gzip", zlib.Message, StringComparison.Ordinal);
    }

    /// <summary>Acceptance 3 of the sharding issue: a shard's bytes do not depend on the order its chunks arrive in.</summary>
    [Fact]
    public void AShardIsTheSameBytesWhateverOrderItsChunksComeIn()
    {
        var spec = new ShardingSpec { Hash = ShardingSpec.MurmurHash, MinishardBits = 3, ShardBits = 0, MinishardIndexEncoding = "gzip", DataEncoding = "gzip" };
        var random = new Random(11);
        var chunks = Enumerable.Range(0, 200).Select(i => new KeyValuePair<ulong, byte[]>((ulong)(i * 7919), Enumerable.Range(0, random.Next(1, 100)).Select(_ => (byte)random.Next(256)).ToArray())).ToList();
        byte[] ordered = ShardBuilder.Build(spec, chunks);
        for (int seed = 0; seed < 5; seed++)
        {
            var shuffle = new Random(seed);
            Assert.Equal(ordered, ShardBuilder.Build(spec, chunks.OrderBy(_ => shuffle.Next()).ToList()));
        }
    }

    [Fact]
    public void ShardsOfEncodingsThatBarelyCompressHoldAnEighthOfTheVoxels()
    {
        // A shard is assembled in memory from encoded chunks: 1 GiB of voxels per shard where the
        // encoding shrinks them many times, 128 MiB where raw or png chunks stay about as large.
        int ChunksPerShard(string encoding, int bytesPerVoxel)
        {
            var scale = new ScaleInfo { Key = "8nm", Size = new Int3(2048, 2048, 256), ChunkSize = new Int3(64, 64, 64), Resolution = new double[] { 8, 8, 8 }, Encoding = encoding };
            ShardingSpec spec = ShardingSpec.ForScale(scale, bytesPerVoxel);
            return 1 << (spec.PreshiftBits + spec.MinishardBits);
        }

        Assert.Equal(512, ChunksPerShard(ChunkEncodings.CompressedSegmentation, 8)); // 512 x 2 MiB = 1 GiB
        Assert.Equal(4096, ChunksPerShard(ChunkEncodings.Jpeg, 1));                  // 4096 x 256 KiB = 1 GiB
        Assert.Equal(512, ChunksPerShard(ChunkEncodings.Raw, 1));                    // 512 x 256 KiB = 128 MiB
        Assert.Equal(512, ChunksPerShard(ChunkEncodings.Png, 1));
        Assert.Equal(64, ChunksPerShard(ChunkEncodings.Raw, 8));                     // 64 x 2 MiB = 128 MiB
    }

    [Fact]
    public void ChosenParametersMakeEachShardAnAlignedBlockOfChunks()
    {
        var scale = new ScaleInfo { Key = "8nm", Size = new Int3(34432, 39552, 51508), ChunkSize = new Int3(64, 64, 64), Resolution = new double[] { 8, 8, 8 } };
        ShardingSpec spec = ShardingSpec.ForScale(scale, 8);
        Assert.Equal(0, (spec.PreshiftBits + spec.MinishardBits) % 3);
        Assert.InRange(spec.MinishardBits, 0, 9);
        Assert.Equal(ShardingSpec.BitsFor(538) + ShardingSpec.BitsFor(618) + ShardingSpec.BitsFor(805), spec.PreshiftBits + spec.MinishardBits + spec.ShardBits);

        // Chunks of one shard form a box: its bounding box holds exactly as many cells as the shard has.
        var grid = new Int3(16, 16, 16);
        var small = new ScaleInfo { Key = "s", Size = new Int3(1024, 1024, 1024), ChunkSize = new Int3(64, 64, 64), Resolution = new double[] { 1, 1, 1 } };
        ShardingSpec blocks = ShardingSpec.ForScale(small, 8, targetShardBytes: 64L * 64 * 64 * 8 * 64);
        var cells = new Dictionary<ulong, List<Int3>>();
        for (int z = 0; z < 16; z++)
        {
            for (int y = 0; y < 16; y++)
            {
                for (int x = 0; x < 16; x++)
                {
                    ulong shard = blocks.Locate(ShardingSpec.ChunkId(grid, new Int3(x, y, z))).Shard;
                    (cells.TryGetValue(shard, out var list) ? list : cells[shard] = new List<Int3>()).Add(new Int3(x, y, z));
                }
            }
        }

        Assert.Equal(64, cells.Count);
        foreach (List<Int3> list in cells.Values)
        {
            Int3 min = list.Aggregate(Int3.Min), max = list.Aggregate(Int3.Max);
            Assert.Equal(list.Count, (max - min + Int3.One).Volume);
        }
    }
}
