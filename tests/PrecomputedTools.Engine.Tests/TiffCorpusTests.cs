using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using PrecomputedTools.Engine.Tiff;
using Xunit;

namespace PrecomputedTools.Engine.Tests;

/// <summary>
/// Damaged TIFFs (a seeded, bounded corpus of mutations of the bundled sample's slices): opening and
/// reading them fails only with an EngineException, never with the TIFF library's own exceptions,
/// within 2 s and 256 MB of allocation to open each.
/// </summary>
public sealed class TiffCorpusTests
{
    private const int Mutants = 6000;

    [Fact]
    public void ATagClaimingMoreValuesThanTheFileHoldsIsRefusedBeforeTheLibraryAllocatesThem()
    {
        // The outside report's reproducer: SamplesPerPixel (277) with a count of 637,534,209 shorts
        // in a 518-byte slice took 10 s and gigabytes inside LibTiff.NET.
        string samples = Path.Combine(TestData.RepoRoot, "module", "samples", "sample-labels");
        byte[] bytes = File.ReadAllBytes(Path.Combine(samples, "slice_0.tif"));
        Assert.Equal((byte)'I', bytes[0]);
        int ifd = BitConverter.ToInt32(bytes, 4);
        int entries = BitConverter.ToUInt16(bytes, ifd);
        int patched = 0;
        for (int e = 0; e < entries; e++)
        {
            int at = ifd + 2 + (12 * e);
            if (BitConverter.ToUInt16(bytes, at) == 277)
            {
                BitConverter.TryWriteBytes(bytes.AsSpan(at + 4), 637_534_209);
                patched++;
            }
        }

        Assert.Equal(1, patched);
        string file = Path.Combine(TestData.NewScratch("tiff-count"), "huge-count.tif");
        File.WriteAllBytes(file, bytes);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long before = GC.GetAllocatedBytesForCurrentThread();
        EngineException error = Assert.Throws<EngineException>(() => TiffStackDescriptor.Open(file));
        Assert.Equal("CorruptTiffFile", error.ErrorId);
        Assert.Contains("tag 277", error.Message, StringComparison.Ordinal);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), clock.Elapsed.ToString());
    }

    [Fact]
    public async System.Threading.Tasks.Task MutatedTiffsFailOnlyWithEngineErrors()
    {
        string samples = Path.Combine(TestData.RepoRoot, "module", "samples", "sample-labels");
        byte[][] seeds = Directory.EnumerateFiles(samples, "*.tif").OrderBy(f => f, StringComparer.Ordinal).Take(3).Select(File.ReadAllBytes).ToArray();
        Assert.NotEmpty(seeds);
        string scratch = TestData.NewScratch("tiff-corpus");
        var random = new Random(2026);
        var escaped = new Dictionary<string, string>();
        var slow = new List<string>();
        var greedy = new List<string>();
        int opened = 0, refused = 0;
        for (int n = 0; n < Mutants; n++)
        {
            // Directories and strip tables sit in the first few hundred bytes of these slices.
            byte[] bytes = DecoderCorpusTests.Mutate(seeds[n % seeds.Length], random, front: 512);

            string file = Path.Combine(scratch, $"m{n:D4}.tif");
            File.WriteAllBytes(file, bytes);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                TiffStackDescriptor volume = TiffStackDescriptor.Open(file);
                // Opening reads every directory on this thread: huge tag counts would show here.
                long openAllocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
                if (openAllocated > 256L << 20)
                {
                    greedy.Add($"{file}: {openAllocated >> 20} MB to open");
                }

                long length = volume.Size.Volume * VoxelTypes.SizeOf(volume.DataType);
                if (length <= 64L << 20)
                {
                    using Volumes.IVolumeReader reader = volume.OpenReader();
                    await reader.ReadAsync(Box3.FromSize(volume.Size), new byte[length], CancellationToken.None);
                }

                opened++;
            }
            catch (EngineException)
            {
                refused++;
            }
            catch (AggregateException ex) when (ex.Flatten().InnerExceptions.All(i => i is EngineException))
            {
                refused++;
            }
            catch (Exception ex)
            {
                Exception inner = ex is AggregateException a ? a.Flatten().InnerExceptions.First(i => i is not EngineException) : ex;
                string signature = inner.GetType().Name + " at " + (inner.StackTrace ?? "").Split('\n').FirstOrDefault()?.Trim();
                escaped.TryAdd(signature, file);
            }

            if (clock.Elapsed > TimeSpan.FromSeconds(2))
            {
                slow.Add($"{file}: {clock.Elapsed.TotalSeconds:F1} s");
            }
        }

        Assert.True(escaped.Count == 0, $"{escaped.Count} kinds of non-engine exception escaped:\n" + string.Join("\n", escaped.Select(kv => kv.Key + " (" + kv.Value + ")")));
        Assert.True(slow.Count == 0, "mutants over 2 s: " + string.Join(", ", slow));
        Assert.True(greedy.Count == 0, "mutants allocating over 256 MB: " + string.Join(", ", greedy));
        Assert.True(refused > Mutants / 10, $"only {refused} of {Mutants} mutants were refused: the corpus damages too little ({opened} opened)");
    }

    /// <summary>An uncompressed 8x8 uint8 slice (one strip), optionally with an extra tag of <paramref name="extraCount"/> LONGs at offset 8.</summary>
    private static byte[] EightByEight(ushort extraTag, uint extraCount, uint samplesPerPixelCount = 1)
    {
        var entries = new List<(ushort Tag, ushort Type, uint Count, uint Value)>
        {
            (256, 3, 1, 8), (257, 3, 1, 8), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
            (273, 4, 1, 0), (277, 3, samplesPerPixelCount, 1), (278, 3, 1, 8), (279, 4, 1, 64),
        };
        if (extraTag != 0)
        {
            entries.Add((extraTag, 4, extraCount, 8));
        }

        int dataOffset = 8 + 2 + (12 * entries.Count) + 4;
        using var stream = new MemoryStream();
        using var writer = new BinaryWriter(stream);
        writer.Write(new byte[] { (byte)'I', (byte)'I', 42, 0 });
        writer.Write(8u);
        writer.Write((ushort)entries.Count);
        foreach (var (tag, type, count, value) in entries)
        {
            writer.Write(tag);
            writer.Write(type);
            writer.Write(count);
            writer.Write(tag == 273 ? (uint)dataOffset : value);
        }

        writer.Write(0u);
        for (int i = 0; i < 64; i++)
        {
            writer.Write((byte)i);
        }

        return stream.ToArray();
    }

    [Theory]
    [InlineData(65000, 0x7FFFFFF0u, 1u)] // a private tag no reader uses, 8 GB of LONGs claimed
    [InlineData(33432, 0x7FFFFFF0u, 1u)] // Copyright, as LONGs
    [InlineData(0, 0u, 0x7FFFFFF0u)]     // SamplesPerPixel itself with count 0x7FFFFFF0
    public async System.Threading.Tasks.Task AnEightByEightSliceWithAHugeTagCountIsQuickAndSmall(ushort tag, uint count, uint samplesPerPixelCount)
    {
        // The slice without the huge count is a valid TIFF, so a refusal below is about the count alone.
        string folder = TestData.NewScratch("tiff-8x8");
        string clean = Path.Combine(folder, "clean.tif");
        File.WriteAllBytes(clean, EightByEight(0, 0));
        TiffStackDescriptor valid = TiffStackDescriptor.Open(clean);
        using (Volumes.IVolumeReader cleanReader = valid.OpenReader())
        {
            byte[] cleanVoxels = new byte[64];
            await cleanReader.ReadAsync(Box3.FromSize(valid.Size), cleanVoxels, CancellationToken.None);
            Assert.Equal(63, cleanVoxels[63]);
        }

        string file = Path.Combine(folder, "huge.tif");
        File.WriteAllBytes(file, EightByEight(tag, count, samplesPerPixelCount));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            TiffStackDescriptor volume = TiffStackDescriptor.Open(file);
            using Volumes.IVolumeReader reader = volume.OpenReader();
            byte[] voxels = new byte[64];
            await reader.ReadAsync(Box3.FromSize(volume.Size), voxels, CancellationToken.None);
            Assert.Equal(63, voxels[63]);
        }
        catch (EngineException error)
        {
            Assert.Contains(error.ErrorId, new[] { "CorruptTiffFile", "TiffReadFailed", "NotATiffFile" });
        }

        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20, $"{(GC.GetAllocatedBytesForCurrentThread() - before) >> 20} MB");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), clock.Elapsed.ToString());
    }
}
