using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine.Stages;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Engine.Tiff;
using PrecomputedTools.Engine.Volumes;

namespace PrecomputedTools.Benchmarks;

/// <summary>
/// The guide's whole pipeline (read the Z-Brain TIFF, write scale 0 as compressed_segmentation,
/// all lower scales by majority) in a child process, reporting wall time and peak memory (VmHWM);
/// then the same on a synthetic volume 4x deeper, to show peak memory does not grow with depth.
/// </summary>
public sealed class PipelineBench : IBenchSection
{
    public const string ChildFlag = "--child-pipeline";
    public const string MeshChildFlag = "--child-pipeline-mesh";
    private const double MeshPeakTargetMb = 500;
    private const double WallTargetSeconds = 10;
    private const double PeakTargetMb = 600;

    public string Name => "pipeline";

    public string Description => "whole guide pipeline on Z-Brain (TIFF -> scale 0 -> all scales), wall time and peak RSS in a child process; 4x and 8x deeper synthetic volumes; then meshing each in a child process of its own";

    public void Run(BenchContext context)
    {
        string tif = context.ZBrainTiffPath;
        (double wall1, double peak1, double meshWall1, double meshPeak1) = RunChild(tif, 1, context.Threads);
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "  {0,-42} {1} thr  wall {2,6:F2} s   ({3:F2}x target {4} s)   peak RSS {5,6:F0} MB ({6:F2}x target {7} MB)", "Z-Brain 1406x621x138, chunk 256", context.Threads, wall1, WallTargetSeconds / wall1, WallTargetSeconds, peak1, PeakTargetMb / peak1, PeakTargetMb));
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "  {0,-42} {1} thr  wall {2,6:F2} s   peak RSS {3,6:F0} MB ({4:F2}x target {5} MB)", "  then meshes of every segment", context.Threads, meshWall1, meshPeak1, MeshPeakTargetMb / meshPeak1, MeshPeakTargetMb));
        (double wall4, double peak4, double meshWall4, double meshPeak4) = RunChild(tif, 4, context.Threads);
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "  {0,-42} {1} thr  wall {2,6:F2} s   peak RSS {3,6:F0} MB   peak ratio 4x-deep / 1x = {4:F2}", "synthetic 1406x621x552 (Z-Brain x4 in z)", context.Threads, wall4, peak4, peak4 / peak1));

        // Z-Brain (138 planes) is shallower than the 256-deep chunks of scales 1+, so 1x has clipped,
        // smaller chunks; once chunks are full depth, more depth must not add memory: 8x vs 4x.
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "  {0,-42} {1} thr  wall {2,6:F2} s   peak RSS {3,6:F0} MB   mesh peak ratio 4x-deep / 1x = {4:F2}", "  then meshes of every segment", context.Threads, meshWall4, meshPeak4, meshPeak4 / meshPeak1));
        (double wall8, double peak8, double meshWall8, double meshPeak8) = RunChild(tif, 8, context.Threads);
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "  {0,-42} {1} thr  wall {2,6:F2} s   peak RSS {3,6:F0} MB   peak ratio 8x-deep / 4x = {4:F2}", "synthetic 1406x621x1104 (Z-Brain x8 in z)", context.Threads, wall8, peak8, peak8 / peak4));
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "  {0,-42} {1} thr  wall {2,6:F2} s   peak RSS {3,6:F0} MB   mesh peak ratio 8x-deep / 4x = {4:F2}", "  then meshes of every segment", context.Threads, meshWall8, meshPeak8, meshPeak8 / meshPeak4));
    }

    private static (double WallSeconds, double PeakMb, double MeshWallSeconds, double MeshPeakMb) RunChild(string tif, int depthRepeat, int threads)
    {
        string output = Path.Combine(Path.GetTempPath(), "pt-bench", "pipeline-" + depthRepeat + "-" + Guid.NewGuid().ToString("N").Substring(0, 6));
        string text, mesh;
        try
        {
            text = BenchContext.RunSelf(ChildFlag, tif, output, depthRepeat.ToString(CultureInfo.InvariantCulture), threads.ToString(CultureInfo.InvariantCulture));

            // Meshing in a process of its own: its peak is not hidden under the pipeline's.
            mesh = BenchContext.RunSelf(MeshChildFlag, output, threads.ToString(CultureInfo.InvariantCulture));
        }
        finally
        {
            try
            {
                Directory.Delete(output, recursive: true);
            }
            catch (IOException)
            {
                // Leftovers in the temp folder do not affect the numbers.
            }
        }

        string[] parts = text.Trim().Split(' ');
        string[] meshParts = mesh.Trim().Split(' ');
        return (double.Parse(parts[0], CultureInfo.InvariantCulture), double.Parse(parts[1], CultureInfo.InvariantCulture),
            double.Parse(meshParts[0], CultureInfo.InvariantCulture), double.Parse(meshParts[1], CultureInfo.InvariantCulture));
    }

    /// <summary>Child process: meshes scale 0 of the dataset as New-SegmentMesh does, prints "wallSeconds peakMb".</summary>
    public static int RunMeshChild(string[] args)
    {
        string output = args[1];
        int threads = int.Parse(args[2], CultureInfo.InvariantCulture);
        var clock = Stopwatch.StartNew();
        using var store = new DatasetStore(new FolderStore(output));
        BenchContext.MeshScale0(store, store.ReadInfo(), threads, "pipeline benchmark");
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "{0:F3} {1:F1}", clock.Elapsed.TotalSeconds, BenchContext.PeakResidentMegabytes()));
        return 0;
    }

    /// <summary>Child process: runs the pipeline once and prints "wallSeconds peakMb".</summary>
    public static int RunChild(string[] args)
    {
        string tif = args[1];
        string output = args[2];
        int repeat = int.Parse(args[3], CultureInfo.InvariantCulture);
        int threads = int.Parse(args[4], CultureInfo.InvariantCulture);
        var clock = Stopwatch.StartNew();
        VolumeDescriptor volume = TiffStackDescriptor.Open(tif, swapXY: true);
        if (repeat > 1)
        {
            volume = new RepeatedDepthVolume(volume, repeat);
        }

        var info = new PrecomputedInfo { Type = "segmentation", DataType = VoxelType.UInt64 };
        info.Scales.AddRange(ScalePyramid.Generate(volume.Size, new double[] { 798, 798, 2000 }, Int3.Zero, 256, ChunkEncodings.CompressedSegmentation, null));
        using var directory = new DatasetStore(new FolderStore(output));
        directory.WriteInfo(info);
        var options = new ChunkWriteOptions { ThrottleLimit = threads };
        using (IVolumeReader reader = volume.OpenReader())
        {
            ScaleWriter.WriteFromVolumeAsync(reader, directory, info, options, OperationMonitor.None, CancellationToken.None).GetAwaiter().GetResult();
        }

        for (int i = 1; i < info.Scales.Count; i++)
        {
            ScaleWriter.DownscaleAsync(directory, info, i, DownscaleMethod.Majority, options, OperationMonitor.None, CancellationToken.None).GetAwaiter().GetResult();
        }

        double wall = clock.Elapsed.TotalSeconds;
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "{0:F3} {1:F1}", wall, BenchContext.PeakResidentMegabytes()));
        return 0;
    }

    /// <summary>A volume made deeper by repeating the source along z; reads stream from the source.</summary>
    private sealed class RepeatedDepthVolume : VolumeDescriptor
    {
        private readonly VolumeDescriptor _inner;
        private readonly int _repeat;

        public RepeatedDepthVolume(VolumeDescriptor inner, int repeat)
        {
            _inner = inner;
            _repeat = repeat;
        }

        public override Int3 Size => new(_inner.Size.X, _inner.Size.Y, _inner.Size.Z * _repeat);

        public override VoxelType DataType => _inner.DataType;

        public override string SourceKind => "Synthetic";

        public override string Source => _inner.Source + " x" + _repeat;

        public override IVolumeReader OpenReader() => new Reader(_inner.OpenReader(), Size);

        private sealed class Reader : IVolumeReader
        {
            private readonly IVolumeReader _inner;

            public Reader(IVolumeReader inner, Int3 size)
            {
                _inner = inner;
                Size = size;
            }

            public Int3 Size { get; }

            public VoxelType DataType => _inner.DataType;

            public Int3 ReadGranularity => _inner.ReadGranularity;

            public async Task ReadAsync(Box3 region, Memory<byte> destination, CancellationToken cancellationToken)
            {
                int depth = _inner.Size.Z;
                long slice = (long)region.Size.X * region.Size.Y * VoxelTypes.SizeOf(DataType);
                for (int z = region.Begin.Z; z < region.End.Z; z++)
                {
                    var one = new Box3(new Int3(region.Begin.X, region.Begin.Y, z % depth), new Int3(region.End.X, region.End.Y, z % depth + 1));
                    await _inner.ReadAsync(one, destination.Slice((int)((z - region.Begin.Z) * slice), (int)slice), cancellationToken).ConfigureAwait(false);
                }
            }

            public void Dispose() => _inner.Dispose();
        }
    }
}
