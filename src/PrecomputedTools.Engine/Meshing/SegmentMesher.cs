using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine.Volumes;

namespace PrecomputedTools.Engine.Meshing;

/// <summary>Where vertices go in physical space: nanometres in the global frame (neuroglancer meshes.md), aligned by default with
/// the voxels the viewer draws (+0.5 voxel against the marching-cubes grid; README, 'New-SegmentMesh').</summary>
public sealed class MeshGeometry
{
    /// <summary>Nanometres per voxel [x, y, z].</summary>
    public double[] Resolution { get; set; } = { 1, 1, 1 };

    /// <summary>Global position of voxel (0,0,0) of the meshed scale.</summary>
    public Int3 VoxelOffset { get; set; }

    /// <summary>
    /// True (default): vertex = (offset + v + 0.5)·resolution, so the mesh lies exactly on the voxels
    /// neuroglancer draws. False: the old workflow's (offset + v)·resolution, half a voxel low.
    /// </summary>
    public bool AlignToVoxels { get; set; } = true;

    /// <summary>Converts a doubled voxel-centre coordinate on <paramref name="axis"/> to nanometres.</summary>
    internal double ToNanometres(int axis, int doubled) =>
        (VoxelOffset[axis] + (doubled * 0.5) + (AlignToVoxels ? 0.5 : 0)) * Resolution[axis];
}

/// <summary>Settings of a meshing run.</summary>
public sealed class SegmentMeshSettings
{
    public MeshGeometry Geometry { get; set; } = new();

    /// <summary>Meshing chunk in voxels; null picks a multiple of the reader's granularity near 128.</summary>
    public Int3? ChunkSize { get; set; }

    public bool Simplify { get; set; } = true;

    /// <summary>Aim for at most 1/ReductionFactor of the marching-cubes triangles (per fragment).</summary>
    public double ReductionFactor { get; set; } = 10;

    /// <summary>
    /// Largest allowed deviation in nanometres; null = two voxels along the coarsest axis. It bounds
    /// the summed squared distances to every original plane merged into a vertex, so the distance to
    /// the original surface is in practice well below it.
    /// </summary>
    public double? MaxError { get; set; }

    public int ThrottleLimit { get; set; } = Environment.ProcessorCount;

    /// <summary>Mesh only these ids (null: every non-zero label).</summary>
    public ISet<ulong>? SegmentIds { get; set; }

    /// <summary>The error bound in use: <see cref="MaxError"/> or its default.</summary>
    public double EffectiveMaxError => MaxError ?? 2 * Geometry.Resolution.Max();

    /// <summary>The chunk size actually used for a reader.</summary>
    public Int3 ResolveChunkSize(Int3 volumeSize, Int3 granularity)
    {
        if (ChunkSize is { } given)
        {
            return Int3.Min(given, volumeSize);
        }

        // A multiple of the read granularity near 128 voxels: a 256-voxel chunk of uint64 labels with
        // its mesh in flight took 470-750 MB on Z-Brain, a 128-voxel one 270-300 MB (issue 16).
        int Pick(int g, int size)
        {
            g = Math.Max(1, Math.Min(g, size));
            while (g > 128 && g % 2 == 0)
            {
                // A coarse granularity (the guide's 256) is halved: each half still starts on a read boundary's half.
                g /= 2;
            }

            int multiple = Math.Max(1, 128 / g);
            return Math.Min(size, g * multiple);
        }

        return new Int3(Pick(granularity.X, volumeSize.X), Pick(granularity.Y, volumeSize.Y), Pick(granularity.Z, volumeSize.Z));
    }
}

/// <summary>Receives the fragments of a meshing run; called concurrently from worker threads.</summary>
public interface IMeshFragmentSink
{
    /// <summary>True when the chunk is already complete (a resumed run); its fragments are then not recomputed.</summary>
    bool IsChunkComplete(Box3 chunk);

    /// <summary>Stores one segment's fragment of one chunk.</summary>
    /// <remarks><paramref name="mesh"/> lives in the meshing worker's reused buffers: valid only during the call (keep <see cref="MeshData.Copy"/>).</remarks>
    void AddFragment(ulong segmentId, Box3 chunk, MeshData mesh);

    /// <summary>Every fragment of the chunk has been added.</summary>
    void ChunkCompleted(Box3 chunk);
}

/// <summary>Counts of a meshing run.</summary>
public sealed class MeshRunSummary
{
    public long Chunks { get; internal set; }

    public long ChunksSkipped { get; internal set; }

    public long Voxels { get; internal set; }

    public long ActiveCells { get; internal set; }

    public long TrianglesBeforeSimplification { get; internal set; }

    public long TrianglesWritten { get; internal set; }

    public double MarchingCubesSeconds { get; internal set; }

    public double SimplificationSeconds { get; internal set; }

    /// <summary>Ids that produced at least one fragment in a chunk meshed by this run.</summary>
    public ISet<ulong> SegmentsFound { get; } = new HashSet<ulong>();
}

/// <summary>
/// Meshes every label of a volume, chunk by chunk, with bounded memory: each worker holds one
/// chunk (plus one voxel of overlap on the high side), runs marching cubes over all its labels in
/// one pass, simplifies each label's piece with the chunk-border vertices locked, and hands the
/// fragments to a sink. Vertices on a border are computed from the same integers by both
/// neighbours, so fragments meet exactly and their union is watertight; outside the volume counts
/// as background, so surfaces close at the volume's faces.
/// </summary>
public static class SegmentMesher
{
    public static async Task<MeshRunSummary> RunAsync(IVolumeReader reader, SegmentMeshSettings settings, IMeshFragmentSink sink, OperationMonitor monitor, CancellationToken cancellationToken)
    {
        Int3 size = reader.Size;
        Int3 chunk = settings.ResolveChunkSize(size, reader.ReadGranularity);
        Int3 grid = Int3.CeilDiv(size, chunk);
        var boxes = new List<Box3>();
        for (int z = 0; z < grid.Z; z++)
        {
            for (int y = 0; y < grid.Y; y++)
            {
                for (int x = 0; x < grid.X; x++)
                {
                    Int3 begin = new Int3(x, y, z) * chunk;
                    boxes.Add(new Box3(begin, Int3.Min(begin + chunk, size)));
                }
            }
        }

        return await RunAsync(reader, settings, sink, boxes, monitor, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Meshes the given chunks (of the grid <see cref="SegmentMeshSettings.ResolveChunkSize"/> gives), several at once.</summary>
    public static async Task<MeshRunSummary> RunAsync(IVolumeReader reader, SegmentMeshSettings settings, IMeshFragmentSink sink, IReadOnlyList<Box3> boxes, OperationMonitor monitor, CancellationToken cancellationToken)
    {
        var summary = new MeshRunSummary();
        monitor.AddWork(boxes.Count);
        int next = -1;
        object gate = new();
        int workers = Math.Max(1, Math.Min(settings.ThrottleLimit, boxes.Count));
        var tasks = new Task[workers];
        for (int w = 0; w < workers; w++)
        {
            tasks[w] = Task.Run(
                async () =>
                {
                    var worker = new ChunkWorker(reader, settings);
                    int i;
                    while ((i = Interlocked.Increment(ref next)) < boxes.Count)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        Box3 box = boxes[i];
                        if (sink.IsChunkComplete(box))
                        {
                            lock (gate)
                            {
                                summary.ChunksSkipped++;
                            }

                            monitor.ReportDone();
                            continue;
                        }

                        ChunkStats stats = await worker.MeshAsync(box, sink, cancellationToken).ConfigureAwait(false);
                        sink.ChunkCompleted(box);
                        lock (gate)
                        {
                            summary.Chunks++;
                            summary.Voxels += box.VoxelCount;
                            summary.ActiveCells += stats.ActiveCells;
                            summary.TrianglesBeforeSimplification += stats.TrianglesBefore;
                            summary.TrianglesWritten += stats.TrianglesAfter;
                            summary.MarchingCubesSeconds += stats.MarchingCubesSeconds;
                            summary.SimplificationSeconds += stats.SimplificationSeconds;
                            summary.SegmentsFound.UnionWith(stats.Segments);
                        }

                        monitor.ReportDone(1, box.VoxelCount);
                    }
                },
                cancellationToken);
        }

        await Task.WhenAll(tasks).ConfigureAwait(false);
        return summary;
    }

    /// <summary>
    /// Meshes a whole in-memory label volume in one block (no chunking, nothing locked), for
    /// tests and small volumes. Labels are x fastest.
    /// </summary>
    public static SortedDictionary<ulong, MeshData> MeshInMemory(ReadOnlySpan<ulong> labels, Int3 size, MeshGeometry geometry)
    {
        var worker = new ChunkWorker(null, new SegmentMeshSettings { Geometry = geometry, Simplify = false });
        var result = new SortedDictionary<ulong, MeshData>();
        worker.MeshBlock(labels, size, new Box3(Int3.Zero, size), size, (id, mesh) => result[id] = mesh.Copy());
        return result;
    }

    internal readonly struct ChunkStats
    {
        public ChunkStats(long active, long before, long after, double mc, double simplify, List<ulong> segments)
        {
            ActiveCells = active;
            TrianglesBefore = before;
            TrianglesAfter = after;
            MarchingCubesSeconds = mc;
            SimplificationSeconds = simplify;
            Segments = segments;
        }

        public long ActiveCells { get; }

        public long TrianglesBefore { get; }

        public long TrianglesAfter { get; }

        public double MarchingCubesSeconds { get; }

        public double SimplificationSeconds { get; }

        public List<ulong> Segments { get; }
    }

    /// <summary>One worker's reusable state: buffers, the label map and the mesher.</summary>
    internal sealed class ChunkWorker
    {
        private readonly IVolumeReader? _reader;
        private readonly SegmentMeshSettings _settings;
        private readonly LabelBlockMesher _mesher = new();
        private readonly Dictionary<ulong, int> _map = new();
        private readonly List<ulong> _ids = new();
        private int[] _block = Array.Empty<int>();
        private byte[] _slab = Array.Empty<byte>();
        private ulong[] _row = Array.Empty<ulong>();
        private readonly int[] _lut = new int[65536];

        // Per-worker buffers reused from segment to segment and chunk to chunk: meshing a volume
        // allocates the largest segment's arrays once instead of large arrays per segment per chunk.
        private readonly MeshSimplifier.Buffers _simplifier = new();
        private double[] _positions = Array.Empty<double>();
        private bool[] _locked = Array.Empty<bool>();
        private int[] _doubled = Array.Empty<int>();
        private int[] _indices = Array.Empty<int>();

        public ChunkWorker(IVolumeReader? reader, SegmentMeshSettings settings)
        {
            _reader = reader;
            _settings = settings;
        }

        public long ActiveCells => _mesher.ActiveCells;

        public async Task<ChunkStats> MeshAsync(Box3 box, IMeshFragmentSink sink, CancellationToken cancellationToken)
        {
            IVolumeReader reader = _reader!;
            Int3 size = reader.Size;
            GetBlockExtent(box, size, out Int3 blockOrigin, out Int3 dims);
            ResetMap();
            EnsureBlock(dims);
            Array.Clear(_block, 0, (int)dims.Volume);

            // Read the part of the block inside the volume in slabs aligned to the reader's granularity.
            Box3 inside = new Box3(blockOrigin, blockOrigin + dims).Intersect(Box3.FromSize(size));
            int elementSize = VoxelTypes.SizeOf(reader.DataType);
            int gz = Math.Max(1, reader.ReadGranularity.Z);
            int z = inside.Begin.Z;
            while (z < inside.End.Z)
            {
                int zEnd = Math.Min(inside.End.Z, ((z / gz) + 1) * gz);
                var slab = new Box3(new Int3(inside.Begin.X, inside.Begin.Y, z), new Int3(inside.End.X, inside.End.Y, zEnd));
                int bytes = checked((int)(slab.VoxelCount * elementSize));
                if (_slab.Length < bytes)
                {
                    _slab = new byte[bytes];
                }

                await reader.ReadAsync(slab, _slab.AsMemory(0, bytes), cancellationToken).ConfigureAwait(false);
                CompactInto(_slab.AsSpan(0, bytes), reader.DataType, slab, blockOrigin, dims);
                z = zEnd;
            }

            cancellationToken.ThrowIfCancellationRequested();
            return Finish(box, size, blockOrigin, dims, (id, mesh) => sink.AddFragment(id, box, mesh));
        }

        /// <summary>Meshes a block held in memory (the whole volume here).</summary>
        public ChunkStats MeshBlock(ReadOnlySpan<ulong> volume, Int3 size, Box3 box, Int3 volumeSize, Action<ulong, MeshData> emit)
        {
            CompactBlock(volume, size, box, volumeSize, out Int3 blockOrigin, out Int3 dims);
            return Finish(box, volumeSize, blockOrigin, dims, emit);
        }

        /// <summary>
        /// The block of <paramref name="box"/>'s cells as compact label indices (what the mesher
        /// reads); returns the block and how many labels it holds, background included.
        /// </summary>
        public (int[] Block, int Labels) CompactBlock(ReadOnlySpan<ulong> volume, Int3 size, Box3 box, Int3 volumeSize, out Int3 blockOrigin, out Int3 dims)
        {
            GetBlockExtent(box, volumeSize, out blockOrigin, out dims);
            ResetMap();
            EnsureBlock(dims);
            Array.Clear(_block, 0, (int)dims.Volume);
            CompactInto(MemoryMarshal.AsBytes(volume), VoxelType.UInt64, Box3.FromSize(size), blockOrigin, dims);
            return (_block, _ids.Count);
        }

        /// <summary>Cells with lower corner in [box.Begin, box.End), plus −1 at the volume's low faces; voxels one further.</summary>
        private static void GetBlockExtent(Box3 box, Int3 volumeSize, out Int3 origin, out Int3 dims)
        {
            origin = new Int3(box.Begin.X == 0 ? -1 : box.Begin.X, box.Begin.Y == 0 ? -1 : box.Begin.Y, box.Begin.Z == 0 ? -1 : box.Begin.Z);
            dims = box.End + Int3.One - origin;
        }

        /// <summary>Compact index of a uint8/uint16 label seen for the first time in this chunk.</summary>
        private int MapSmall(int value, ISet<ulong>? only)
        {
            int index = 0;
            if (value != 0 && (only is null || only.Contains((ulong)value)))
            {
                index = _ids.Count;
                _ids.Add((ulong)value);
            }

            _lut[value] = index;
            return index;
        }

        private void ResetMap()
        {
#if NET
            Array.Fill(_lut, -1);
#else
            for (int i = 0; i < _lut.Length; i++)
            {
                _lut[i] = -1;
            }
#endif
            _map.Clear();
            _ids.Clear();
            _ids.Add(0);
            _map[0] = 0;
        }

        private void EnsureBlock(Int3 dims)
        {
            long n = dims.Volume;
            if (n > int.MaxValue / 2)
            {
                throw new EngineException("MeshChunkTooLarge", EngineErrorKind.LimitsExceeded, $"A meshing chunk of {dims} voxels is too large; choose a smaller chunk size.");
            }

            if (_block.Length < n)
            {
                _block = new int[n];
            }
        }

        /// <summary>Widens the slab's labels to ulong and stores compact indices into the block.</summary>
        private void CompactInto(ReadOnlySpan<byte> data, VoxelType type, Box3 slab, Int3 origin, Int3 dims)
        {
            Int3 s = slab.Size;
            ISet<ulong>? only = _settings.SegmentIds;
            ulong last = 0;
            int lastIndex = 0;
            int esize = VoxelTypes.SizeOf(type);
            if (_row.Length < s.X)
            {
                _row = new ulong[s.X];
            }
            for (int z = 0; z < s.Z; z++)
            {
                for (int y = 0; y < s.Y; y++)
                {
                    int src = ((z * s.Y) + y) * s.X;
                    int dst = (((slab.Begin.Z + z - origin.Z) * dims.Y) + (slab.Begin.Y + y - origin.Y)) * dims.X + (slab.Begin.X - origin.X);
                    Span<int> row = _block.AsSpan(dst, s.X);
                    if (type == VoxelType.UInt8)
                    {
                        ReadOnlySpan<byte> narrow = data.Slice(src, s.X);
                        for (int x = 0; x < narrow.Length; x++)
                        {
                            int index = _lut[narrow[x]];
                            row[x] = index >= 0 ? index : MapSmall(narrow[x], only);
                        }

                        continue;
                    }

                    if (type == VoxelType.UInt16)
                    {
                        ReadOnlySpan<byte> pairs = data.Slice(src * 2, s.X * 2);
                        for (int x = 0; x < s.X; x++)
                        {
                            ushort value = BinaryPrimitives.ReadUInt16LittleEndian(pairs.Slice(2 * x));
                            int index = _lut[value];
                            row[x] = index >= 0 ? index : MapSmall(value, only);
                        }

                        continue;
                    }

                    ReadOnlySpan<ulong> wide;
                    if (type == VoxelType.UInt64 && BitConverter.IsLittleEndian)
                    {
                        wide = MemoryMarshal.Cast<byte, ulong>(data.Slice(src * esize, s.X * esize));
                    }
                    else
                    {
                        Widen(data.Slice(src * esize, s.X * esize), type, _row.AsSpan(0, s.X));
                        wide = _row.AsSpan(0, s.X);
                    }

                    CompactRow(wide, row, only, ref last, ref lastIndex);
                }
            }
        }

        /// <summary>
        /// Compact indices of one row of labels. Labels come in runs (background, cell interiors),
        /// so four at a time are compared with the last label and written at once when they all
        /// equal it; the dictionary is asked only where the label changes.
        /// </summary>
        private void CompactRow(ReadOnlySpan<ulong> wide, Span<int> row, ISet<ulong>? only, ref ulong last, ref int lastIndex)
        {
            int x = 0;
#if NET
            if (System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated)
            {
                ref ulong source = ref MemoryMarshal.GetReference(wide);
                ref int target = ref MemoryMarshal.GetReference(row);
                while (x + 4 <= wide.Length)
                {
                    var four = System.Runtime.Intrinsics.Vector256.LoadUnsafe(ref source, (nuint)x);
                    if (System.Runtime.Intrinsics.Vector256.EqualsAll(four, System.Runtime.Intrinsics.Vector256.Create(last)))
                    {
                        System.Runtime.Intrinsics.Vector128.StoreUnsafe(System.Runtime.Intrinsics.Vector128.Create(lastIndex), ref target, (nuint)x);
                        x += 4;
                        continue;
                    }

                    for (int end = x + 4; x < end; x++)
                    {
                        row[x] = IndexOf(wide[x], only, ref last, ref lastIndex);
                    }
                }
            }
#endif
            for (; x < wide.Length; x++)
            {
                row[x] = IndexOf(wide[x], only, ref last, ref lastIndex);
            }
        }

        private int IndexOf(ulong label, ISet<ulong>? only, ref ulong last, ref int lastIndex)
        {
            if (label != last)
            {
                last = label;
                if (!_map.TryGetValue(label, out lastIndex))
                {
                    if (only is not null && !only.Contains(label))
                    {
                        lastIndex = 0;
                    }
                    else
                    {
                        lastIndex = _ids.Count;
                        _ids.Add(label);
                    }

                    _map[label] = lastIndex;
                }
            }

            return lastIndex;
        }

        private static void Widen(ReadOnlySpan<byte> bytes, VoxelType type, Span<ulong> wide)
        {
            switch (type)
            {
                case VoxelType.UInt8:
                    for (int x = 0; x < wide.Length; x++)
                    {
                        wide[x] = bytes[x];
                    }

                    break;
                case VoxelType.UInt16:
                    for (int x = 0; x < wide.Length; x++)
                    {
                        wide[x] = BinaryPrimitives.ReadUInt16LittleEndian(bytes.Slice(2 * x));
                    }

                    break;
                case VoxelType.UInt32:
                    for (int x = 0; x < wide.Length; x++)
                    {
                        wide[x] = BinaryPrimitives.ReadUInt32LittleEndian(bytes.Slice(4 * x));
                    }

                    break;
                case VoxelType.UInt64:
                    for (int x = 0; x < wide.Length; x++)
                    {
                        wide[x] = BinaryPrimitives.ReadUInt64LittleEndian(bytes.Slice(8 * x));
                    }

                    break;
                default:
                    throw new EngineException("MeshNeedsIntegerLabels", EngineErrorKind.InvalidArgument, "Meshing needs integer labels; this volume holds float32 values.");
            }
        }

        private ChunkStats Finish(Box3 box, Int3 volumeSize, Int3 origin, Int3 dims, Action<ulong, MeshData> emit)
        {
            var segments = new List<ulong>();
            if (_ids.Count == 1)
            {
                return new ChunkStats(0, 0, 0, 0, 0, segments);
            }

            var clock = System.Diagnostics.Stopwatch.StartNew();
            var surfaces = new LabelSurface?[_ids.Count];
            _mesher.Run(_block.AsSpan(0, (int)dims.Volume), dims.X, dims.Y, dims.Z, origin, surfaces);
            double mcSeconds = clock.Elapsed.TotalSeconds;
            long before = 0, after = 0;
            double simplifySeconds = 0;
            MeshGeometry g = _settings.Geometry;

            // Border planes shared with a neighbouring chunk, as doubled coordinates (int.MinValue: none).
            int lx = box.Begin.X > 0 ? 2 * box.Begin.X : int.MinValue, hx = box.End.X < volumeSize.X ? 2 * box.End.X : int.MinValue;
            int ly = box.Begin.Y > 0 ? 2 * box.Begin.Y : int.MinValue, hy = box.End.Y < volumeSize.Y ? 2 * box.End.Y : int.MinValue;
            int lz = box.Begin.Z > 0 ? 2 * box.Begin.Z : int.MinValue, hz = box.End.Z < volumeSize.Z ? 2 * box.End.Z : int.MinValue;
            var order = new List<int>();
            for (int i = 1; i < surfaces.Length; i++)
            {
                if (surfaces[i] is { VertexCount: > 0 })
                {
                    order.Add(i);
                }
            }

            order.Sort((a, b) => _ids[a].CompareTo(_ids[b]));
            foreach (int i in order)
            {
                LabelSurface s = surfaces[i]!;
                int nv = s.VertexCount;
                int nt = s.TriangleCount;
                double[] positions = MeshSimplifier.Buffers.Grow(ref _positions, nv * 3);
                bool[] locked = MeshSimplifier.Buffers.Grow(ref _locked, nv);
                Array.Clear(locked, 0, nv);
                int[] pos2 = MeshSimplifier.Buffers.Grow(ref _doubled, nv * 3);
                s.CopyPositions(pos2);
                int[] indices = MeshSimplifier.Buffers.Grow(ref _indices, nt * 3);
                s.CopyTriangles(indices);
                s.Release();
                bool anyLocked = false;
                for (int v = 0; v < nv; v++)
                {
                    int x2 = pos2[3 * v], y2 = pos2[(3 * v) + 1], z2 = pos2[(3 * v) + 2];
                    positions[3 * v] = g.ToNanometres(0, x2);
                    positions[(3 * v) + 1] = g.ToNanometres(1, y2);
                    positions[(3 * v) + 2] = g.ToNanometres(2, z2);
                    if (x2 == lx || x2 == hx || y2 == ly || y2 == hy || z2 == lz || z2 == hz)
                    {
                        locked[v] = true;
                        anyLocked = true;
                    }
                }

                var mesh = new MeshData(positions, nv, indices, nt, anyLocked ? locked : null);
                before += mesh.TriangleCount;
                if (_settings.Simplify)
                {
                    long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                    int target = Math.Max(4, (int)(mesh.TriangleCount / Math.Max(1, _settings.ReductionFactor)));
                    mesh = MeshSimplifier.Simplify(mesh, target, _settings.EffectiveMaxError, _simplifier);
                    simplifySeconds += (System.Diagnostics.Stopwatch.GetTimestamp() - t0) / (double)System.Diagnostics.Stopwatch.Frequency;
                }

                after += mesh.TriangleCount;
                segments.Add(_ids[i]);
                emit(_ids[i], mesh);
            }

            return new ChunkStats(_mesher.ActiveCells, before, after, mcSeconds, simplifySeconds, segments);
        }
    }
}
