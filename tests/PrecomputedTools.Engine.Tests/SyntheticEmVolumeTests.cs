using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Volumes;
using PrecomputedTools.Synthetic;
using Xunit;

namespace PrecomputedTools.Engine.Tests;

public sealed class SyntheticEmVolumeTests
{
    [Fact]
    public void GigavoxelHasTensOfThousandsOfCellsAndIsUInt64()
    {
        SyntheticEmVolume volume = SyntheticEmVolume.Gigavoxel();
        Assert.Equal(new Int3(2048, 2048, 256), volume.Size);
        Assert.Equal(1L << 30, (long)volume.Size.X * volume.Size.Y * volume.Size.Z);
        Assert.Equal(VoxelType.UInt64, volume.DataType);
        Assert.InRange(volume.CellCount, 20_000, 40_000);
    }

    [Fact]
    public void FastFillEqualsTheDefinitionEverywhereInBoxesAcrossCellAndVolumeEdges()
    {
        var volume = new SyntheticEmVolume(new Int3(150, 110, 40), cellXY: 24, cellZ: 8);
        var random = new Random(7);
        for (int trial = 0; trial < 12; trial++)
        {
            int x0 = random.Next(0, 140), y0 = random.Next(0, 100), z0 = random.Next(0, 36);
            var box = new Box3(new Int3(x0, y0, z0), new Int3(random.Next(x0 + 1, 151), random.Next(y0 + 1, 111), random.Next(z0 + 1, 41)));
            var labels = new ulong[box.Size.X * box.Size.Y * box.Size.Z];
            volume.Fill(box, labels);
            int i = 0;
            for (int z = box.Begin.Z; z < box.End.Z; z++)
            {
                for (int y = box.Begin.Y; y < box.End.Y; y++)
                {
                    for (int x = box.Begin.X; x < box.End.X; x++)
                    {
                        Assert.Equal(volume.LabelAt(x, y, z), labels[i++]);
                    }
                }
            }
        }
    }

    [Fact]
    public async Task LooksLikeEmCellsWithMembranesAndIsDeterministic()
    {
        var size = new Int3(256, 256, 64);
        var a = new SyntheticEmVolume(size);
        var b = new SyntheticEmVolume(size);
        var labels = new ulong[size.X * size.Y * size.Z];
        var again = new ulong[labels.Length];
        var bytes = new byte[labels.Length * 8];
        using (IVolumeReader reader = a.OpenReader())
        {
            await reader.ReadAsync(new Box3(Int3.Zero, size), bytes, CancellationToken.None);
        }

        a.Fill(new Box3(Int3.Zero, size), labels);
        Assert.Equal(labels, MemoryMarshal.Cast<byte, ulong>(bytes).ToArray());
        b.Fill(new Box3(Int3.Zero, size), again);
        Assert.Equal(labels, again);

        var ids = new HashSet<ulong>();
        long membrane = 0;
        foreach (ulong v in labels)
        {
            if (v == 0)
            {
                membrane++;
            }
            else
            {
                ids.Add(v);
            }
        }

        // About (256/48)^2 * (64/16) ≈ 114 cells, with partial ones at the edges; ids spread over 64 bits.
        Assert.InRange(ids.Count, 90, 200);
        Assert.Contains(ids, id => id > uint.MaxValue);
        Assert.InRange(membrane / (double)labels.Length, 0.03, 0.25);

        // A different seed gives different ids.
        var other = new SyntheticEmVolume(size, seed: 1);
        Assert.NotEqual(a.LabelAt(100, 100, 30), other.LabelAt(100, 100, 30));
    }

    [Fact]
    public async Task ReaderWritesLittleEndianUInt64ForASubRegion()
    {
        var volume = new SyntheticEmVolume(new Int3(100, 90, 20), cellXY: 16, cellZ: 4);
        var box = new Box3(new Int3(10, 20, 3), new Int3(60, 70, 9));
        var bytes = new byte[box.Size.X * box.Size.Y * box.Size.Z * 8];
        using IVolumeReader reader = volume.OpenReader();
        Assert.Equal(volume.Size, reader.Size);
        await reader.ReadAsync(box, bytes, CancellationToken.None);
        Assert.Equal(volume.LabelAt(10, 20, 3), BitConverter.ToUInt64(bytes, 0));
        Assert.Equal(volume.LabelAt(59, 69, 8), BitConverter.ToUInt64(bytes, bytes.Length - 8));
        Assert.Throws<ArgumentOutOfRangeException>(() => volume.Fill(new Box3(Int3.Zero, new Int3(101, 1, 1)), new ulong[101]));
    }
}
