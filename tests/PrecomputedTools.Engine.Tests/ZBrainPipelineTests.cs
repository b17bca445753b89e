using System;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using BitMiracle.LibTiff.Classic;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Stages;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Engine.Tiff;
using PrecomputedTools.Tests.Shared;
using Xunit;
using LibTiffFile = BitMiracle.LibTiff.Classic.Tiff;

namespace PrecomputedTools.Engine.Tests;

/// <summary>
/// Acceptance 1 of issue 2 at the engine level: the guide's pipeline on the real Z-Brain labels,
/// checked by the independent decoder and the reference majority.
/// </summary>
public class ZBrainPipelineTests
{
    private static readonly int[] s_size = { 1406, 621, 138 };
    private static readonly Lazy<ulong[]> s_labels = new(() => ReferenceImplementations.LoadZBrainLabels(TestData.ZBrainTiff));

    internal static async Task<PrecomputedInfo> RunPipelineAsync(TiffStackDescriptor stack, string output, int targetChunk = 256)
    {
        var info = new PrecomputedInfo { Type = "segmentation", DataType = VoxelType.UInt64, Mesh = "mesh" };
        info.Scales.AddRange(ScalePyramid.Generate(stack.Size, new double[] { 798, 798, 2000 }, Int3.Zero, targetChunk, ChunkEncodings.CompressedSegmentation, null));
        using var directory = new DatasetStore(new FolderStore(output));
        directory.WriteInfo(info);
        var options = new ChunkWriteOptions();
        using (var reader = stack.OpenReader())
        {
            await ScaleWriter.WriteFromVolumeAsync(reader, directory, info, options, OperationMonitor.None, CancellationToken.None);
        }

        for (int i = 1; i < info.Scales.Count; i++)
        {
            await ScaleWriter.DownscaleAsync(directory, info, i, DownscaleMethod.Majority, options, OperationMonitor.None, CancellationToken.None);
        }

        return info;
    }

    [Fact]
    public async Task MultiPageTiffGivesTheSourceAtScale0AndReferenceMajorityBelow()
    {
        string output = TestData.NewScratch("zbrain-multipage");
        PrecomputedInfo info = await RunPipelineAsync(TiffStackDescriptor.Open(TestData.ZBrainTiff, swapXY: true), output);
        Assert.Equal(new[] { "1um", "2um", "3um" }, info.Scales.Select(s => s.Key));
        Assert.Equal(36 + 6 + 2, Directory.EnumerateFiles(output, "*.gz", SearchOption.AllDirectories).Count());
        Assert.Empty(DatasetVerifier.Verify(output, s_labels.Value, s_size));
    }

    [Fact]
    public async Task OneUint64TiffPerSliceGivesTheSameDataset()
    {
        string slices = TestData.NewScratch("zbrain-slices");
        ulong[] labels = s_labels.Value;
        Parallel.For(0, s_size[2], z =>
        {
            using LibTiffFile tif = LibTiffFile.Open(Path.Combine(slices, $"zbrain_{z}.tif"), "w");
            tif.SetField(TiffTag.IMAGEWIDTH, s_size[0]);
            tif.SetField(TiffTag.IMAGELENGTH, s_size[1]);
            tif.SetField(TiffTag.BITSPERSAMPLE, 64);
            tif.SetField(TiffTag.SAMPLESPERPIXEL, 1);
            tif.SetField(TiffTag.SAMPLEFORMAT, SampleFormat.UINT);
            tif.SetField(TiffTag.PHOTOMETRIC, Photometric.MINISBLACK);
            tif.SetField(TiffTag.COMPRESSION, Compression.ADOBE_DEFLATE);
            tif.SetField(TiffTag.ROWSPERSTRIP, 64);
            byte[] row = new byte[s_size[0] * 8];
            for (int y = 0; y < s_size[1]; y++)
            {
                Buffer.BlockCopy(labels, 8 * s_size[0] * (y + s_size[1] * z), row, 0, row.Length);
                tif.WriteScanline(row, y);
            }
        });

        string output = TestData.NewScratch("zbrain-slices-out");
        var stack = TiffStackDescriptor.Open(slices);
        Assert.Equal(VoxelType.UInt64, stack.DataType);
        await RunPipelineAsync(stack, output);
        Assert.Empty(DatasetVerifier.Verify(output, labels, s_size));
    }

    [Fact]
    public async Task ResumeAfterCancellationEqualsACleanRun()
    {
        var stack = TiffStackDescriptor.Open(TestData.ZBrainTiff, swapXY: true);
        string clean = TestData.NewScratch("zbrain-clean");
        await RunPipelineAsync(stack, clean, targetChunk: 64);

        string interrupted = TestData.NewScratch("zbrain-interrupted");
        var info = new PrecomputedInfo { Type = "segmentation", DataType = VoxelType.UInt64 };
        info.Scales.AddRange(ScalePyramid.Generate(stack.Size, new double[] { 798, 798, 2000 }, Int3.Zero, 64, ChunkEncodings.CompressedSegmentation, null));
        using var directory = new DatasetStore(new FolderStore(interrupted));
        directory.WriteInfo(info);
        // Cancel deterministically from inside the run: on the 37th slab read, part-way through a row of chunks.
        using var cancel = new CancellationTokenSource();
        Task run = Task.Run(async () =>
        {
            using var reader = new CancellingReader(stack.OpenReader(), 37, cancel);
            await ScaleWriter.WriteFromVolumeAsync(reader, directory, info, new ChunkWriteOptions(), OperationMonitor.None, cancel.Token);
        });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.Empty(Directory.EnumerateFiles(interrupted, "*" + AtomicFile.TempSuffix, SearchOption.AllDirectories));
        long written = Directory.EnumerateFiles(Path.Combine(interrupted, "1um")).Count();
        Assert.InRange(written, 1, info.Scales[0].ChunkCount - 1);

        using (var reader = stack.OpenReader())
        {
            await ScaleWriter.WriteFromVolumeAsync(reader, directory, info, new ChunkWriteOptions { Resume = true }, OperationMonitor.None, CancellationToken.None);
        }

        for (int i = 1; i < info.Scales.Count; i++)
        {
            await ScaleWriter.DownscaleAsync(directory, info, i, DownscaleMethod.Majority, new ChunkWriteOptions { Resume = true }, OperationMonitor.None, CancellationToken.None);
        }

        foreach (string file in Directory.EnumerateFiles(clean, "*.gz", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(clean, file);
            Assert.Equal(ReferenceImplementations.ReadChunkFile(file), ReferenceImplementations.ReadChunkFile(Path.Combine(interrupted, relative)));
        }

        Assert.Equal(
            Directory.EnumerateFiles(clean, "*", SearchOption.AllDirectories).Count(),
            Directory.EnumerateFiles(interrupted, "*", SearchOption.AllDirectories).Count());
    }

    /// <summary>Passes reads through and cancels the run on the n-th one.</summary>
    private sealed class CancellingReader : PrecomputedTools.Engine.Volumes.IVolumeReader
    {
        private readonly PrecomputedTools.Engine.Volumes.IVolumeReader _inner;
        private readonly int _cancelAt;
        private readonly CancellationTokenSource _cancel;
        private int _reads;

        public CancellingReader(PrecomputedTools.Engine.Volumes.IVolumeReader inner, int cancelAt, CancellationTokenSource cancel)
        {
            _inner = inner;
            _cancelAt = cancelAt;
            _cancel = cancel;
        }

        public Int3 Size => _inner.Size;

        public VoxelType DataType => _inner.DataType;

        public Int3 ReadGranularity => _inner.ReadGranularity;

        public async Task ReadAsync(Box3 region, Memory<byte> destination, CancellationToken cancellationToken)
        {
            await _inner.ReadAsync(region, destination, cancellationToken);
            if (Interlocked.Increment(ref _reads) == _cancelAt)
            {
                _cancel.Cancel();
                cancellationToken.ThrowIfCancellationRequested();
            }
        }

        public void Dispose() => _inner.Dispose();
    }
}
