using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Meshing;
using PrecomputedTools.Engine.Volumes;

namespace PrecomputedTools.Benchmarks;

internal static class Probe
{
    public static async Task<int> RunAsync(string[] args)
    {
        byte[] all = ZBrainData.Load();
        var region = new Box3(new Int3(640, 256, 30), new Int3(840, 420, 138));
        Int3 s = region.Size;
        byte[] crop = new byte[s.Volume];
        for (int z = 0; z < s.Z; z++)
            for (int y = 0; y < s.Y; y++)
                Array.Copy(all, (((region.Begin.Z + z) * 621) + region.Begin.Y + y) * 1406 + region.Begin.X, crop, ((z * s.Y) + y) * s.X, s.X);
        var geometry = new MeshGeometry { Resolution = new double[] { 798, 798, 2000 } };
        foreach (bool simplify in new[] { false, true })
        foreach (Int3 chunk in new[] { s, new Int3(64, 48, 40) })
        {
            var sw = Stopwatch.StartNew();
            var r = new MeshBenchmarkReader(crop, s);
            var sum = await SegmentMesher.RunAsync(r, new SegmentMeshSettings { Geometry = geometry, Simplify = simplify, ChunkSize = chunk, ThrottleLimit = 1 }, new NullSink(), OperationMonitor.None, CancellationToken.None);
            Console.WriteLine($"simplify={simplify} chunk={chunk}: {sw.Elapsed.TotalSeconds:F2} s, tris {sum.TrianglesBeforeSimplification} -> {sum.TrianglesWritten}, mc {sum.MarchingCubesSeconds:F2} simp {sum.SimplificationSeconds:F2}");
        }
        return 0;
    }

    private sealed class NullSink : IMeshFragmentSink
    {
        public bool IsChunkComplete(Box3 chunk) => false;
        public void AddFragment(ulong segmentId, Box3 chunk, MeshData mesh) { }
        public void ChunkCompleted(Box3 chunk) { }
    }
}

internal sealed class MeshBenchmarkReader : IVolumeReader
{
    private readonly byte[] _data;
    public MeshBenchmarkReader(byte[] data, Int3 size) { _data = data; Size = size; }
    public Int3 Size { get; }
    public VoxelType DataType => VoxelType.UInt8;
    public Int3 ReadGranularity => new(32, 32, 32);
    public Task ReadAsync(Box3 region, Memory<byte> destination, CancellationToken cancellationToken)
    {
        Int3 s = region.Size;
        for (int z = 0; z < s.Z; z++)
            for (int y = 0; y < s.Y; y++)
                _data.AsSpan((((region.Begin.Z + z) * Size.Y) + region.Begin.Y + y) * Size.X + region.Begin.X, s.X).CopyTo(destination.Span.Slice(((z * s.Y) + y) * s.X));
        return Task.CompletedTask;
    }
    public void Dispose() { }
}
