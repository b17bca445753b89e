using System;
using System.Numerics;
using System.Runtime.CompilerServices;
#if NET
using System.Runtime.Intrinsics;
#endif

namespace PrecomputedTools.Engine.Meshing;

/// <summary>
/// The raw marching-cubes output of one label in one block, in pages of 4096 vertices (or
/// triangles) from the worker's <see cref="IntPagePool"/>: pages stay below the large-object
/// size and are reused from block to block, so a meshing worker stops allocating once warmed up.
/// </summary>
internal sealed class LabelSurface
{
    public const int PageShift = 12;
    public const int PageItems = 1 << PageShift;
    public const int PageInts = 3 * PageItems;

    private readonly IntPagePool _pool;
    private readonly System.Collections.Generic.List<int[]> _positions = new();
    private readonly System.Collections.Generic.List<int[]> _triangles = new();

    public LabelSurface(IntPagePool pool) => _pool = pool;

    /// <summary>Vertices so far; their doubled voxel-centre coordinates (2x, 2y, 2z) are exact integers in the volume's 0-based grid.</summary>
    public int VertexCount { get; private set; }

    public int TriangleCount { get; private set; }

    // The page being filled and the next free int in it (PageInts: take a new page first).
    private int[] _vertexPage = Array.Empty<int>();
    private int _vertexAt = PageInts;
    private int[] _trianglePage = Array.Empty<int>();
    private int _triangleAt = PageInts;

    public int AddVertex(int x2, int y2, int z2)
    {
        if (_vertexAt == PageInts)
        {
            _vertexPage = _pool.Take();
            _positions.Add(_vertexPage);
            _vertexAt = 0;
        }

        int[] page = _vertexPage;
        int at = _vertexAt;
        page[at] = x2;
        page[at + 1] = y2;
        page[at + 2] = z2;
        _vertexAt = at + 3;
        return VertexCount++;
    }

    public void AddTriangle(int a, int b, int c)
    {
        if (_triangleAt == PageInts)
        {
            _trianglePage = _pool.Take();
            _triangles.Add(_trianglePage);
            _triangleAt = 0;
        }

        int[] page = _trianglePage;
        int at = _triangleAt;
        page[at] = a;
        page[at + 1] = b;
        page[at + 2] = c;
        _triangleAt = at + 3;
        TriangleCount++;
    }

    /// <summary>The doubled coordinates of every vertex, in order.</summary>
    public void CopyPositions(Span<int> destination) => Copy(_positions, 3 * VertexCount, destination);

    /// <summary>Three vertex indices per triangle, in order.</summary>
    public void CopyTriangles(Span<int> destination) => Copy(_triangles, 3 * TriangleCount, destination);

    /// <summary>Gives the pages back to the pool.</summary>
    public void Release()
    {
        foreach (int[] page in _positions)
        {
            _pool.Return(page);
        }

        foreach (int[] page in _triangles)
        {
            _pool.Return(page);
        }

        _positions.Clear();
        _triangles.Clear();
        _vertexPage = _trianglePage = Array.Empty<int>();
        _vertexAt = _triangleAt = PageInts;
        VertexCount = 0;
        TriangleCount = 0;
    }

    private static void Copy(System.Collections.Generic.List<int[]> pages, int count, Span<int> destination)
    {
        for (int page = 0; count > 0; page++)
        {
            int n = Math.Min(count, PageInts);
            pages[page].AsSpan(0, n).CopyTo(destination);
            destination = destination.Slice(n);
            count -= n;
        }
    }
}

/// <summary>
/// Spare pages of a meshing worker. A page comes back only after a block needed it, so keeping
/// it never raises the worker's peak memory; it saves allocating (and the collector copying) the
/// same surfaces' pages again for the next block. Beyond 256 MB, pages go back to the collector.
/// </summary>
internal sealed class IntPagePool
{
    private const int KeepPages = (256 << 20) / (4 * LabelSurface.PageInts);
    private readonly System.Collections.Generic.Stack<int[]> _spare = new();

    // Every item of a page is written before it is read, so new pages need not be zeroed.
    public int[] Take() => _spare.Count > 0 ? _spare.Pop() :
#if NET
        GC.AllocateUninitializedArray<int>(LabelSurface.PageInts);
#else
        new int[LabelSurface.PageInts];
#endif

    public void Return(int[] page)
    {
        if (_spare.Count < KeepPages)
        {
            _spare.Push(page);
        }
    }
}

/// <summary>
/// Marching cubes over every label of a block in one pass (see <see cref="MarchingCubesTable"/>
/// for the conventions). The block holds compact label indices (0 = background), x fastest; its
/// element 0 sits at <c>origin</c> in the volume grid (it may be −1 on a padded side). Every cell
/// whose lower corner lies in the block and whose upper corner does too is processed: callers give
/// the block one voxel of overlap on the high side and one voxel of background padding where the
/// volume ends, so the surface closes there.
/// </summary>
/// <remarks>
/// A vertex is shared by the cells around its edge through a cache holding, per edge and side
/// (lower or upper corner inside, which names the label), the vertex index + 1. Five regions of
/// two ints per voxel of a plane: x- and y-edges at the cell layer's lower and upper planes, and
/// the z-edges between them. Only entries that were written are cleared between layers, so a
/// block whose planes are larger than the caches pays for its surface, not for its area.
/// </remarks>
internal sealed unsafe class LabelBlockMesher
{
    private static readonly int VectorWidth = Vector<int>.Count;
    private static readonly Vector<int> AllTrue = new(-1);

    // Per edge: its cache region (0/1: x-edges at z / z+1, 2/3: y-edges at z / z+1, 4: z-edges),
    // the voxel offset of its lower end within the cell, and the doubled offset of its midpoint.
    private static readonly int[] EdgeRegion = { 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 4, 4 };
    private static readonly int[] EdgeDx = { 0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1 };
    private static readonly int[] EdgeDy = { 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 1 };
    private static readonly int[] EdgeMx2 = { 1, 1, 1, 1, 0, 2, 0, 2, 0, 2, 0, 2 };
    private static readonly int[] EdgeMy2 = { 0, 2, 0, 2, 1, 1, 1, 1, 0, 0, 2, 2 };
    private static readonly int[] EdgeMz2 = { 0, 0, 2, 2, 0, 0, 2, 2, 1, 1, 1, 1 };

    // Cache entries per voxel of a plane: two sides for each of the five regions, side by side so a
    // cell's lookups touch a few cache lines rather than one in each of five plane-sized arrays.
    private const int EntriesPerVoxel = 10;

    private int[] _cache = Array.Empty<int>();
    private bool _cacheDirty;
    private readonly int[] _regionStart = new int[5];
    private readonly int[][] _written = { new int[256], new int[256], new int[256], new int[256], new int[256] };
    private readonly int[] _writtenCount = new int[5];

    // Per layer: the cache position of each edge's entries for the cell at x = y = 0.
    private readonly int[] _edgeStart = new int[12];
    private readonly int[] _edgeVertex = new int[12];
    private readonly int[] _corners = new int[8];

    /// <summary>Pages of the label surfaces; the caller releases each surface when done with it.</summary>
    public IntPagePool Pages { get; } = new();

    /// <summary>Non-uniform cells seen by the last run (for diagnostics and benchmarks).</summary>
    public long ActiveCells { get; private set; }

    /// <summary>
    /// Whether 256-bit vector instructions may be used where the hardware has them. Tests turn
    /// this off to check the portable path gives the same surfaces; it affects only this instance.
    /// </summary>
    public bool UseVectors { get; set; } = true;

    /// <param name="labels">Compact labels, nx·ny·nz, x fastest.</param>
    /// <param name="nx">Block size along x.</param>
    /// <param name="ny">Block size along y.</param>
    /// <param name="nz">Block size along z.</param>
    /// <param name="origin">Volume position of the block's element 0.</param>
    /// <param name="surfaces">Indexed by compact label; entries are created on demand. Index 0 is never meshed.</param>
    public void Run(ReadOnlySpan<int> labels, int nx, int ny, int nz, Int3 origin, LabelSurface?[] surfaces)
    {
        ActiveCells = 0;
        if (nx < 2 || ny < 2 || nz < 2)
        {
            return;
        }

        if ((long)nx * ny * nz > labels.Length)
        {
            throw new ArgumentException("The block is smaller than its dimensions.", nameof(labels));
        }

        int plane = nx * ny;
        PrepareCache(plane);
        _cacheDirty = true;
        long active = 0;
        fixed (int* block = labels)
        {
            for (int z = 0; z + 1 < nz; z++)
            {
                ClearRegion(1);
                ClearRegion(3);
                ClearRegion(4);
                for (int e = 0; e < 12; e++)
                {
                    _edgeStart[e] = _regionStart[EdgeRegion[e]] + (EntriesPerVoxel * (EdgeDx[e] + (nx * EdgeDy[e])));
                }

                var cell = new CellPosition(2 * origin.X, 2 * origin.Y, (2 * origin.Z) + (2 * z));
                for (int y = 0; y + 1 < ny; y++)
                {
                    int* r00 = block + ((long)z * plane) + ((long)y * nx);
                    cell.Y2 = (2 * origin.Y) + (2 * y);
                    cell.RowEntry = EntriesPerVoxel * nx * y;
#if NET
                    if (UseVectors && Vector256.IsHardwareAccelerated)
                    {
                        active += ScanRowVector256(r00, r00 + nx, r00 + plane, r00 + plane + nx, nx, ref cell, surfaces);
                        continue;
                    }
#endif
                    active += ScanRowPortable(r00, r00 + nx, r00 + plane, r00 + plane + nx, nx, ref cell, surfaces);
                }

                // The upper planes' x- and y-edges are the next layer's lower ones.
                SwapRegions(0, 1);
                SwapRegions(2, 3);
            }
        }

        for (int region = 0; region < 5; region++)
        {
            ClearRegion(region);
        }

        _cacheDirty = false;
        ActiveCells = active;
    }

    /// <summary>Where a cell row sits: doubled volume coordinates of its first cell, and its cache offset.</summary>
    private struct CellPosition
    {
        public readonly int X2;
        public int Y2;
        public readonly int Z2;
        public int RowEntry;

        public CellPosition(int x2, int y2, int z2)
        {
            X2 = x2;
            Y2 = y2;
            Z2 = z2;
            RowEntry = 0;
        }
    }

    /// <summary>
    /// One row of cells, uniform cells skipped a vector at a time; the four voxel rows are y/z
    /// neighbours (r10 = y + 1, r01 = z + 1).
    /// </summary>
    private long ScanRowPortable(int* r00, int* r10, int* r01, int* r11, int nx, ref CellPosition cell, LabelSurface?[] surfaces)
    {
        long active = 0;
        int x = 0;
        while (x + 1 < nx)
        {
            if (x + VectorWidth + 1 <= nx)
            {
                Vector<int> a = Load(r00 + x);
                Vector<int> eq = Vector.Equals(a, Load(r00 + x + 1))
                    & Vector.Equals(a, Load(r10 + x)) & Vector.Equals(a, Load(r10 + x + 1))
                    & Vector.Equals(a, Load(r01 + x)) & Vector.Equals(a, Load(r01 + x + 1))
                    & Vector.Equals(a, Load(r11 + x)) & Vector.Equals(a, Load(r11 + x + 1));
                if (eq == AllTrue)
                {
                    x += VectorWidth;
                    continue;
                }
            }

            int end = Math.Min(nx - 1, x + VectorWidth);
            for (; x < end; x++)
            {
                active += CellPortable(r00, r10, r01, r11, x, ref cell, surfaces) ? 1 : 0;
            }
        }

        return active;
    }

    /// <summary>Meshes one cell; false when it is uniform.</summary>
    private bool CellPortable(int* r00, int* r10, int* r01, int* r11, int x, ref CellPosition cell, LabelSurface?[] surfaces)
    {
        int[] l = _corners;
        l[0] = r00[x];
        l[1] = r00[x + 1];
        l[2] = r10[x];
        l[3] = r10[x + 1];
        l[4] = r01[x];
        l[5] = r01[x + 1];
        l[6] = r11[x];
        l[7] = r11[x + 1];
        uint remaining = 0xFF;
        bool first = true;
        while (remaining != 0)
        {
            int label = l[TrailingZeros(remaining)];
            uint inside = 0;
            for (int k = 0; k < 8; k++)
            {
                inside |= l[k] == label ? 1u << k : 0u;
            }

            if (first && inside == 0xFF)
            {
                return false;
            }

            first = false;
            remaining &= ~inside;
            if (label != 0)
            {
                Emit(inside, label, x, ref cell, surfaces);
            }
        }

        return true;
    }

#if NET
    /// <summary>
    /// The same row with 256-bit vectors: eight cells tested for uniformity at once, only the
    /// non-uniform ones visited, and a cell's eight corners compared with a label in one instruction.
    /// </summary>
    private long ScanRowVector256(int* r00, int* r10, int* r01, int* r11, int nx, ref CellPosition cell, LabelSurface?[] surfaces)
    {
        long active = 0;
        int x = 0;
        for (; x + 9 <= nx; x += 8)
        {
            var a = Vector256.Load(r00 + x);
            var eq = Vector256.Equals(a, Vector256.Load(r00 + x + 1))
                & Vector256.Equals(a, Vector256.Load(r10 + x))
                & Vector256.Equals(a, Vector256.Load(r10 + x + 1))
                & Vector256.Equals(a, Vector256.Load(r01 + x))
                & Vector256.Equals(a, Vector256.Load(r01 + x + 1))
                & Vector256.Equals(a, Vector256.Load(r11 + x))
                & Vector256.Equals(a, Vector256.Load(r11 + x + 1));
            uint mixed = ~eq.ExtractMostSignificantBits() & 0xFF;
            while (mixed != 0)
            {
                int cx = x + TrailingZeros(mixed);
                mixed &= mixed - 1;
                CellVector256(r00, r10, r01, r11, cx, ref cell, surfaces);
                active++;
            }
        }

        for (; x + 1 < nx; x++)
        {
            active += CellVector256(r00, r10, r01, r11, x, ref cell, surfaces) ? 1 : 0;
        }

        return active;
    }

    /// <summary>Meshes one cell; false when it is uniform.</summary>
    private bool CellVector256(int* r00, int* r10, int* r01, int* r11, int x, ref CellPosition cell, LabelSurface?[] surfaces)
    {
        // Corner i is bit i: (x, x+1) pairs from the rows y/z, y+1/z, y/z+1, y+1/z+1, in that order.
        var corners = Vector256.Create(
            Unsafe.ReadUnaligned<ulong>(r00 + x),
            Unsafe.ReadUnaligned<ulong>(r10 + x),
            Unsafe.ReadUnaligned<ulong>(r01 + x),
            Unsafe.ReadUnaligned<ulong>(r11 + x)).AsInt32();
        uint remaining = 0xFF;
        bool first = true;
        while (remaining != 0)
        {
            int label = corners.GetElement(TrailingZeros(remaining));
            uint inside = Vector256.Equals(corners, Vector256.Create(label)).ExtractMostSignificantBits();
            if (first && inside == 0xFF)
            {
                return false;
            }

            first = false;
            remaining &= ~inside;
            if (label != 0)
            {
                Emit(inside, label, x, ref cell, surfaces);
            }
        }

        return true;
    }
#endif

    /// <summary>The triangles of one label in one cell; <paramref name="inside"/> has bit i set when corner i holds the label.</summary>
    private void Emit(uint inside, int label, int x, ref CellPosition cell, LabelSurface?[] surfaces)
    {
        LabelSurface surface = surfaces[label] ??= new LabelSurface(Pages);
        byte[] tri = MarchingCubesTable.Triangles;
        int known = 0;
        int cacheCell = cell.RowEntry + (EntriesPerVoxel * x);
        int x2 = cell.X2 + (2 * x);
        for (int t = MarchingCubesTable.Start[inside], t1 = MarchingCubesTable.Start[inside + 1]; t < t1; t += 3)
        {
            int va = Vertex(tri[t], inside, cacheCell, x2, ref cell, surface, ref known);
            int vb = Vertex(tri[t + 1], inside, cacheCell, x2, ref cell, surface, ref known);
            int vc = Vertex(tri[t + 2], inside, cacheCell, x2, ref cell, surface, ref known);
            surface.AddTriangle(va, vb, vc);
        }
    }

    /// <summary>The label's vertex on edge <paramref name="e"/> of the cell, created once per edge and side.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Vertex(int e, uint inside, int cacheCell, int x2, ref CellPosition cell, LabelSurface surface, ref int known)
    {
        if ((known & (1 << e)) != 0)
        {
            return _edgeVertex[e];
        }

        // An edge crossing has one corner inside: slot 0 when it is the lower corner, else slot 1.
        int slot = (int)((inside >> MarchingCubesTable.EdgeCornerA[e]) & 1) ^ 1;
        int index = _edgeStart[e] + cacheCell + slot;
        int v = _cache[index] - 1;
        if (v < 0)
        {
            v = surface.AddVertex(x2 + EdgeMx2[e], cell.Y2 + EdgeMy2[e], cell.Z2 + EdgeMz2[e]);
            _cache[index] = v + 1;
            Written(EdgeRegion[e], index);
        }

        _edgeVertex[e] = v;
        known |= 1 << e;
        return v;
    }

    private void Written(int region, int index)
    {
        int n = _writtenCount[region];
        int[] list = _written[region];
        if (n == list.Length)
        {
            Array.Resize(ref _written[region], 2 * n);
            list = _written[region];
        }

        list[n] = index;
        _writtenCount[region] = n + 1;
    }

    private void ClearRegion(int region)
    {
        int[] list = _written[region];
        int[] cache = _cache;
        for (int i = _writtenCount[region] - 1; i >= 0; i--)
        {
            cache[list[i]] = 0;
        }

        _writtenCount[region] = 0;
    }

    private void SwapRegions(int a, int b)
    {
        (_regionStart[a], _regionStart[b]) = (_regionStart[b], _regionStart[a]);
        (_written[a], _written[b]) = (_written[b], _written[a]);
        (_writtenCount[a], _writtenCount[b]) = (_writtenCount[b], _writtenCount[a]);
    }

    /// <summary>A zeroed cache for planes of <paramref name="plane"/> voxels; entries a failed run left behind are cleared.</summary>
    private void PrepareCache(int plane)
    {
        if (_cache.Length < (long)EntriesPerVoxel * plane)
        {
            _cache = new int[EntriesPerVoxel * plane];
        }
        else if (_cacheDirty)
        {
            Array.Clear(_cache, 0, _cache.Length);
        }

        for (int region = 0; region < 5; region++)
        {
            _regionStart[region] = 2 * region;
            _writtenCount[region] = 0;
        }
    }

    private static Vector<int> Load(int* p) => Unsafe.ReadUnaligned<Vector<int>>(p);

    private static int TrailingZeros(uint value)
    {
#if NET
        return BitOperations.TrailingZeroCount(value);
#else
        int n = 0;
        while ((value & 1) == 0)
        {
            value >>= 1;
            n++;
        }

        return n;
#endif
    }
}
