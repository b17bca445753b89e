using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;
using PrecomputedTools.Engine.Codecs;
using Xunit;

namespace PrecomputedTools.Engine.Tests;

public class DownsamplingTests
{
    private static ulong[] Majority(ulong[] source, Int3 shape, Int3 factor)
    {
        Int3 o = Downsampling.OutputShape(shape, factor);
        var dst = new ulong[o.Volume];
        Downsampling.Majority(source, shape, factor, dst);
        return dst;
    }

    [Fact]
    public void TieOfTwoGoesToTheSmallerLabel() =>
        Assert.Equal(new ulong[] { 3 }, Majority(new ulong[] { 5, 3, 5, 3 }, new Int3(2, 2, 1), new Int3(2, 2, 1)));

    [Fact]
    public void FourWayTieGoesToZero() =>
        Assert.Equal(new ulong[] { 0 }, Majority(new ulong[] { 1, 1, 2, 2, 3, 3, 0, 0 }, new Int3(2, 2, 2), new Int3(2, 2, 2)));

    [Fact]
    public void MostFrequentWins() =>
        Assert.Equal(new ulong[] { 9 }, Majority(new ulong[] { 7, 7, 7, 9, 9, 9, 9, 0 }, new Int3(2, 2, 2), new Int3(2, 2, 2)));

    [Fact]
    public void TruncatedEdgeBlocksUseOnlyRealVoxels()
    {
        ulong[] slice = { 1, 1, 2, 1, 2, 2, 3, 3, 2 };
        Assert.Equal(new ulong[] { 1, 2, 3, 2 }, Majority(slice, new Int3(3, 3, 1), new Int3(2, 2, 1)));
    }

    [Fact]
    public void OneDimensionalEdge() =>
        Assert.Equal(new ulong[] { 4, 6 }, Majority(new ulong[] { 4, 4, 6 }, new Int3(3, 1, 1), new Int3(2, 1, 1)));

    [Fact]
    public void DirectAndCascadedDiffer()
    {
        ulong[] src = { 1, 2, 3, 3 };
        Assert.Equal(new ulong[] { 3 }, Majority(src, new Int3(4, 1, 1), new Int3(4, 1, 1)));
        ulong[] half = Majority(src, new Int3(4, 1, 1), new Int3(2, 1, 1));
        Assert.Equal(new ulong[] { 1, 3 }, half);
        Assert.Equal(new ulong[] { 1 }, Majority(half, new Int3(2, 1, 1), new Int3(2, 1, 1)));
    }

    [Fact]
    public void LabelsAboveTwoToThe63SortUnsigned()
    {
        ulong big = 1UL << 63;
        Assert.Equal(new ulong[] { 5 }, Majority(new ulong[] { big, 5, big + 1, 7 }, new Int3(2, 2, 1), new Int3(2, 2, 1)));
        Assert.Equal(new ulong[] { big }, Majority(new ulong[] { big, big, ulong.MaxValue, ulong.MaxValue, 3, big, 4, 2 }, new Int3(2, 2, 2), new Int3(2, 2, 2)));
    }

    public static TheoryData<int> Seeds()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < 40; i++)
        {
            data.Add(i);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void MatchesPlainReferenceOnRandomVolumes(int seed)
    {
        var rng = new Random(seed);
        Int3[] factors = { new(2, 2, 2), new(2, 2, 1), new(2, 1, 1), new(1, 1, 1), new(3, 2, 1), new(4, 4, 4), new(1, 3, 2), new(5, 5, 5) };
        Int3 factor = seed < factors.Length ? factors[seed] : new Int3(1 + rng.Next(4), 1 + rng.Next(4), 1 + rng.Next(3));
        Int3 shape = new(1 + rng.Next(37), 1 + rng.Next(23), 1 + rng.Next(11));
        int labels = 1 + rng.Next(6);
        ulong[] palette = Enumerable.Range(0, labels).Select(i => rng.Next(3) switch
        {
            0 => (ulong)i,
            1 => ulong.MaxValue - (ulong)rng.Next(4),
            _ => (1UL << 63) + (ulong)rng.Next(1000),
        }).ToArray();
        var src = new ulong[shape.Volume];
        for (int i = 0; i < src.Length; i++)
        {
            // Runs so that uniform blocks (the fast path) and mixed ones both occur.
            src[i] = i > 0 && rng.Next(3) != 0 ? src[i - 1] : palette[rng.Next(labels)];
        }

        ulong[] expected = ReferenceMajority(src, shape, factor);
        Assert.Equal(expected, Majority(src, shape, factor));

        // The uint32 overload agrees with the reference on the low 32 bits.
        uint[] src32 = src.Select(v => (uint)(v % 7)).ToArray();
        ulong[] expected32 = ReferenceMajority(src32.Select(v => (ulong)v).ToArray(), shape, factor);
        var dst32 = new uint[expected32.Length];
        Downsampling.Majority(src32, shape, factor, dst32);
        Assert.Equal(expected32.Select(v => (uint)v), dst32);
    }

    [Theory]
    [InlineData(1, 2, 2, 2)]
    [InlineData(2, 2, 2, 1)]
    [InlineData(3, 2, 1, 1)]
    [InlineData(4, 2, 2, 2)]
    [InlineData(5, 2, 2, 1)]
    public void MatchesPlainReferenceOnSmoothVolumes(int seed, int fx, int fy, int fz)
    {
        // Long identical rows (the row-segment and vector fast paths) with sparse perturbations (the fallbacks).
        var rng = new Random(seed);
        Int3 shape = new(131 + rng.Next(2), 9, 7), factor = new(fx, fy, fz);
        ulong[] labels = { 0, 3, 1UL << 63, ulong.MaxValue, 17 };
        var src = new ulong[shape.Volume];
        for (int z = 0; z < shape.Z; z++)
        {
            for (int y = 0; y < shape.Y; y++)
            {
                for (int x = 0; x < shape.X; x++)
                {
                    ulong v = labels[(x / (5 + seed)) % labels.Length];
                    if (rng.Next(50) == 0)
                    {
                        v = labels[rng.Next(labels.Length)];
                    }

                    src[x + (shape.X * (y + (shape.Y * z)))] = v;
                }
            }
        }

        Assert.Equal(ReferenceMajority(src, shape, factor), Majority(src, shape, factor));
        uint[] src32 = src.Select(v => (uint)(v % 1000)).ToArray();
        ulong[] expected32 = ReferenceMajority(src32.Select(v => (ulong)v).ToArray(), shape, factor);
        var dst32 = new uint[expected32.Length];
        Downsampling.Majority(src32, shape, factor, dst32);
        Assert.Equal(expected32.Select(v => (uint)v), dst32);
    }

    [Fact]
    public void AssemblingAnOutputChunkFromEightSourceChunksEqualsOneBigMajority()
    {
        // An output chunk is assembled from up to 2x2x2 source chunks, each reduced in place.
        var rng = new Random(11);
        Int3 whole = new(37, 30, 21), piece = new(20, 16, 12), factor = new(2, 2, 2);
        ulong[] src = new ulong[whole.Volume];
        for (int i = 0; i < src.Length; i++)
        {
            src[i] = i > 0 && rng.Next(5) != 0 ? src[i - 1] : (ulong)rng.Next(4) << 62;
        }

        Int3 outShape = Downsampling.OutputShape(whole, factor);
        ulong[] assembled = Enumerable.Repeat(ulong.MaxValue - 1, (int)outShape.Volume).ToArray();
        for (int z0 = 0; z0 < whole.Z; z0 += piece.Z)
        {
            for (int y0 = 0; y0 < whole.Y; y0 += piece.Y)
            {
                for (int x0 = 0; x0 < whole.X; x0 += piece.X)
                {
                    Int3 size = Int3.Min(piece, whole - new Int3(x0, y0, z0));
                    var part = new ulong[size.Volume];
                    for (int z = 0; z < size.Z; z++)
                    {
                        for (int y = 0; y < size.Y; y++)
                        {
                            Array.Copy(src, x0 + (whole.X * (y0 + y + (whole.Y * (z0 + z)))), part, size.X * (y + (size.Y * z)), size.X);
                        }
                    }

                    Downsampling.Majority(part, size, factor, assembled, outShape, new Int3(x0 / 2, y0 / 2, z0 / 2));
                }
            }
        }

        Assert.Equal(ReferenceMajority(src, whole, factor), assembled);
        Assert.Throws<ArgumentOutOfRangeException>(() => Downsampling.Majority(new ulong[8], new Int3(2, 2, 2), factor, assembled, outShape, new Int3(outShape.X, 0, 0)));
    }

    [Theory]
    [InlineData(2, 3)]
    [InlineData(1, 4)]
    public void EveryBlockOverAFewLabels(int fz, int labelCount)
    {
        // Every possible 2x2xfz block over the labels, side by side along x: all tie and count cases.
        ulong[] labels = { ulong.MaxValue, 0, 1UL << 63, 5 };
        int perBlock = 4 * fz;
        int blocks = (int)Math.Pow(labelCount, perBlock);
        Int3 shape = new(2 * blocks, 2, fz), factor = new(2, 2, fz);
        var src = new ulong[shape.Volume];
        for (int b = 0; b < blocks; b++)
        {
            int code = b;
            for (int z = 0; z < fz; z++)
            {
                for (int y = 0; y < 2; y++)
                {
                    for (int x = 0; x < 2; x++)
                    {
                        src[(2 * b) + x + (shape.X * (y + (2 * z)))] = labels[code % labelCount];
                        code /= labelCount;
                    }
                }
            }
        }

        Assert.Equal(ReferenceMajority(src, shape, factor), Majority(src, shape, factor));
    }

    [Fact]
    public void PortablePathsMatchTheReferenceToo()
    {
        // The AVX2 kernels handle uint64 2x2x2 / 2x2x1 on this hardware; the portable ones run on the
        // netstandard2.0 build and other CPUs. The flag only selects a path, so a concurrent test is unaffected.
        try
        {
            Downsampling.DisableVectorPaths = true;
            EveryBlockOverAFewLabels(2, 3);
            EveryBlockOverAFewLabels(1, 4);
            for (int seed = 0; seed < 12; seed++)
            {
                MatchesPlainReferenceOnRandomVolumes(seed);
            }

            MatchesPlainReferenceOnSmoothVolumes(1, 2, 2, 2);
            MatchesPlainReferenceOnSmoothVolumes(2, 2, 2, 1);
        }
        finally
        {
            Downsampling.DisableVectorPaths = false;
        }
    }

    [Fact]
    public void LargeBlocksUseTheHeapPath()
    {
        var rng = new Random(7);
        Int3 shape = new(20, 20, 20), factor = new(9, 9, 9);
        ulong[] src = Enumerable.Range(0, 8000).Select(_ => (ulong)rng.Next(5)).ToArray();
        Assert.Equal(ReferenceMajority(src, shape, factor), Majority(src, shape, factor));
    }

    /// <summary>Counts with a dictionary, then picks the highest count, ties to the smallest label.</summary>
    internal static ulong[] ReferenceMajority(ulong[] src, Int3 shape, Int3 factor)
    {
        Int3 o = new(Int3.CeilDiv(shape.X, factor.X), Int3.CeilDiv(shape.Y, factor.Y), Int3.CeilDiv(shape.Z, factor.Z));
        var result = new ulong[o.Volume];
        for (int oz = 0; oz < o.Z; oz++)
        {
            for (int oy = 0; oy < o.Y; oy++)
            {
                for (int ox = 0; ox < o.X; ox++)
                {
                    var counts = new Dictionary<ulong, int>();
                    for (int z = oz * factor.Z; z < Math.Min(shape.Z, (oz + 1) * factor.Z); z++)
                    {
                        for (int y = oy * factor.Y; y < Math.Min(shape.Y, (oy + 1) * factor.Y); y++)
                        {
                            for (int x = ox * factor.X; x < Math.Min(shape.X, (ox + 1) * factor.X); x++)
                            {
                                ulong v = src[x + (shape.X * (y + (shape.Y * z)))];
                                counts[v] = counts.GetValueOrDefault(v) + 1;
                            }
                        }
                    }

                    int max = counts.Values.Max();
                    result[ox + (o.X * (oy + (o.Y * oz)))] = counts.Where(kv => kv.Value == max).Min(kv => kv.Key);
                }
            }
        }

        return result;
    }

    [Fact]
    public void AverageRoundsToNearestForIntegers()
    {
        // Blocks of 2x2x1: {1,2,3,4} -> 2.5 -> 3; {0,0,0,1} -> 0.25 -> 0; edge {10, 11} -> 10.5 -> 11.
        byte[] src = { 1, 2, 0, 0, 10, 3, 4, 0, 1, 11 };
        var dst = new byte[3];
        Downsampling.Average(src, VoxelType.UInt8, new Int3(5, 2, 1), new Int3(2, 2, 1), dst);
        Assert.Equal(new byte[] { 3, 0, 11 }, dst);

        ushort[] src16 = { 65535, 65535, 65534, 65535 };
        var dst16 = new ushort[1];
        Downsampling.Average(MemoryMarshal.AsBytes(src16.AsSpan()), VoxelType.UInt16, new Int3(2, 2, 1), new Int3(2, 2, 1), MemoryMarshal.AsBytes(dst16.AsSpan()));
        Assert.Equal((ushort)65535, dst16[0]);

        // uint64 sums past 2^64 still average exactly.
        ulong[] src64 = { ulong.MaxValue, ulong.MaxValue - 2, ulong.MaxValue - 2, ulong.MaxValue };
        var dst64 = new ulong[1];
        Downsampling.Average(MemoryMarshal.AsBytes(src64.AsSpan()), VoxelType.UInt64, new Int3(4, 1, 1), new Int3(4, 1, 1), MemoryMarshal.AsBytes(dst64.AsSpan()));
        Assert.Equal(ulong.MaxValue - 1, dst64[0]);

        uint[] src32 = { 1, 2, 2 };
        var dst32 = new uint[2];
        Downsampling.Average(MemoryMarshal.AsBytes(src32.AsSpan()), VoxelType.UInt32, new Int3(3, 1, 1), new Int3(2, 1, 1), MemoryMarshal.AsBytes(dst32.AsSpan()));
        Assert.Equal(new uint[] { 2, 2 }, dst32);
    }

    [Fact]
    public void AverageOfFloatsIsTheMean()
    {
        float[] src = { 1f, 2f, 4f, 8f, 0.5f, -0.5f, 3f, 3f };
        var dst = new float[2];
        Downsampling.Average(MemoryMarshal.AsBytes(src.AsSpan()), VoxelType.Float32, new Int3(2, 2, 2), new Int3(2, 2, 1), MemoryMarshal.AsBytes(dst.AsSpan()));
        Assert.Equal(new[] { 3.75f, 1.5f }, dst);
    }

    [Fact]
    public void StrideTakesTheFirstVoxelOfEachBlock()
    {
        var rng = new Random(3);
        Int3 shape = new(7, 5, 3), factor = new(2, 2, 2);
        ushort[] src = Enumerable.Range(0, (int)shape.Volume).Select(_ => (ushort)rng.Next(65536)).ToArray();
        Int3 o = Downsampling.OutputShape(shape, factor);
        Assert.Equal(new Int3(4, 3, 2), o);
        var dst = new ushort[o.Volume];
        Downsampling.Stride(MemoryMarshal.AsBytes(src.AsSpan()), VoxelType.UInt16, shape, factor, MemoryMarshal.AsBytes(dst.AsSpan()));
        for (int z = 0; z < o.Z; z++)
        {
            for (int y = 0; y < o.Y; y++)
            {
                for (int x = 0; x < o.X; x++)
                {
                    Assert.Equal(src[(2 * x) + (shape.X * ((2 * y) + (shape.Y * 2 * z)))], dst[x + (o.X * (y + (o.Y * z)))]);
                }
            }
        }
    }

    [Fact]
    public void ArgumentsAreChecked()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Downsampling.Majority(new ulong[8], new Int3(2, 2, 2), new Int3(0, 2, 2), new ulong[1]));
        Assert.Throws<ArgumentException>(() => Downsampling.Majority(new ulong[7], new Int3(2, 2, 2), new Int3(2, 2, 2), new ulong[1]));
        Assert.Throws<ArgumentException>(() => Downsampling.Majority(new ulong[8], new Int3(2, 2, 2), new Int3(1, 1, 1), new ulong[7]));
    }
}
