using System;
using System.Numerics;
using System.Runtime.InteropServices;

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

    public int AddVertex(int x2, int y2, int z2)
    {
        Append(_positions, VertexCount, x2, y2, z2);
        return VertexCount++;
    }

    public void AddTriangle(int a, int b, int c)
    {
        Append(_triangles, TriangleCount, a, b, c);
        TriangleCount++;
    }

    // Item n (three ints) of a paged list: page n >> PageShift, a new page from the pool when needed.
    private void Append(System.Collections.Generic.List<int[]> pages, int n, int a, int b, int c)
    {
        int page = n >> PageShift;
        if (page == pages.Count)
        {
            pages.Add(_pool.Take());
        }

        int at = 3 * (n & (PageItems - 1));
        int[] items = pages[page];
        items[at] = a;
        items[at + 1] = b;
        items[at + 2] = c;
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

/// <summary>Spare pages of a meshing worker, kept up to a fixed number of bytes.</summary>
internal sealed class IntPagePool
{
    private const int KeepPages = (32 << 20) / (4 * LabelSurface.PageInts);
    private readonly System.Collections.Generic.Stack<int[]> _spare = new();

    public int[] Take() => _spare.Count > 0 ? _spare.Pop() : new int[LabelSurface.PageInts];

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
internal sealed class LabelBlockMesher
{
    private static readonly int VectorWidth = Vector<int>.Count;
    private static readonly Vector<int> AllTrue = new(-1);

    // Per edge: which cache (0/1: x-edges at z / z+1, 2/3: y-edges at z / z+1, 4: z-edges), the
    // voxel offset of its lower end within the cell, and the doubled offset of its midpoint.
    private static readonly int[] EdgeCache = { 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 4, 4 };
    private static readonly int[] EdgeDx = { 0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1 };
    private static readonly int[] EdgeDy = { 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 1 };
    private static readonly int[] EdgeMx2 = { 1, 1, 1, 1, 0, 2, 0, 2, 0, 2, 0, 2 };
    private static readonly int[] EdgeMy2 = { 0, 2, 0, 2, 1, 1, 1, 1, 0, 0, 2, 2 };
    private static readonly int[] EdgeMz2 = { 0, 0, 2, 2, 0, 0, 2, 2, 1, 1, 1, 1 };

    private readonly int[][] _caches = { Array.Empty<int>(), Array.Empty<int>(), Array.Empty<int>(), Array.Empty<int>(), Array.Empty<int>() };
    private readonly int[] _corners = new int[8];

    /// <summary>Pages of the label surfaces; the caller releases each surface when done with it.</summary>
    public IntPagePool Pages { get; } = new();
    private readonly int[] _vtx = new int[12];

    /// <summary>Non-uniform cells seen by the last run (for diagnostics and benchmarks).</summary>
    public long ActiveCells { get; private set; }

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

        int plane = nx * ny;
        EnsureCache(plane * 2);
        Array.Clear(_caches[0], 0, plane * 2);
        Array.Clear(_caches[2], 0, plane * 2);
        long active = 0;
        for (int z = 0; z + 1 < nz; z++)
        {
            Array.Clear(_caches[1], 0, plane * 2);
            Array.Clear(_caches[3], 0, plane * 2);
            Array.Clear(_caches[4], 0, plane * 2);
            int z2 = (2 * origin.Z) + (2 * z);
            for (int y = 0; y + 1 < ny; y++)
            {
                int row = (z * plane) + (y * nx);
                ReadOnlySpan<int> r00 = labels.Slice(row, nx);
                ReadOnlySpan<int> r10 = labels.Slice(row + nx, nx);
                ReadOnlySpan<int> r01 = labels.Slice(row + plane, nx);
                ReadOnlySpan<int> r11 = labels.Slice(row + plane + nx, nx);
                int x = 0;
                while (x + 1 < nx)
                {
                    // Fast path: skip uniform cells (all eight corners equal) a vector at a time.
                    if (x + VectorWidth + 1 <= nx)
                    {
                        Vector<int> a = Load(r00, x);
                        Vector<int> eq = Vector.Equals(a, Load(r00, x + 1))
                            & Vector.Equals(a, Load(r10, x)) & Vector.Equals(a, Load(r10, x + 1))
                            & Vector.Equals(a, Load(r01, x)) & Vector.Equals(a, Load(r01, x + 1))
                            & Vector.Equals(a, Load(r11, x)) & Vector.Equals(a, Load(r11, x + 1));
                        if (eq == AllTrue)
                        {
                            x += VectorWidth;
                            continue;
                        }
                    }

                    int end = Math.Min(nx - 1, x + VectorWidth);
                    for (; x < end; x++)
                    {
                        int c0 = r00[x];
                        if (r00[x + 1] == c0 && r10[x] == c0 && r10[x + 1] == c0 && r01[x] == c0 && r01[x + 1] == c0 && r11[x] == c0 && r11[x + 1] == c0)
                        {
                            continue;
                        }

                        int[] l = _corners;
                        l[0] = c0;
                        l[1] = r00[x + 1];
                        l[2] = r10[x];
                        l[3] = r10[x + 1];
                        l[4] = r01[x];
                        l[5] = r01[x + 1];
                        l[6] = r11[x];
                        l[7] = r11[x + 1];
                        MeshCell(x, y, nx, (2 * origin.X) + (2 * x), (2 * origin.Y) + (2 * y), z2, surfaces);
                        active++;
                    }
                }
            }

            (_caches[0], _caches[1]) = (_caches[1], _caches[0]);
            (_caches[2], _caches[3]) = (_caches[3], _caches[2]);
        }

        ActiveCells = active;
    }

    private static Vector<int> Load(ReadOnlySpan<int> row, int x) =>
        MemoryMarshal.Read<Vector<int>>(MemoryMarshal.AsBytes(row.Slice(x, VectorWidth)));

    /// <summary>Emits the triangles of every non-zero label present at the corners of one cell.</summary>
    private void MeshCell(int x, int y, int nx, int x2, int y2, int z2, LabelSurface?[] surfaces)
    {
        int[] l = _corners;
        byte[] tri = MarchingCubesTable.Triangles;
        int[] start = MarchingCubesTable.Start;
        for (int k = 0; k < 8; k++)
        {
            int label = l[k];
            if (label == 0)
            {
                continue;
            }

            bool seen = false;
            for (int j = 0; j < k; j++)
            {
                if (l[j] == label)
                {
                    seen = true;
                    break;
                }
            }

            if (seen)
            {
                continue;
            }

            int mask = 1 << k;
            for (int j = k + 1; j < 8; j++)
            {
                if (l[j] == label)
                {
                    mask |= 1 << j;
                }
            }

            LabelSurface surface = surfaces[label] ??= new LabelSurface(Pages);
            int[] vtx = _vtx;
            for (int e = 0; e < 12; e++)
            {
                vtx[e] = -1;
            }

            for (int t = start[mask], t1 = start[mask + 1]; t < t1; t += 3)
            {
                int va = Vertex(tri[t], x, y, nx, x2, y2, z2, label, surface);
                int vb = Vertex(tri[t + 1], x, y, nx, x2, y2, z2, label, surface);
                int vc = Vertex(tri[t + 2], x, y, nx, x2, y2, z2, label, surface);
                surface.AddTriangle(va, vb, vc);
            }
        }
    }

    /// <summary>The label's vertex on edge <paramref name="e"/> of the cell, created once per edge and side.</summary>
    private int Vertex(int e, int x, int y, int nx, int x2, int y2, int z2, int label, LabelSurface surface)
    {
        int v = _vtx[e];
        if (v >= 0)
        {
            return v;
        }

        // An edge crossing has one corner inside: slot 0 when it is the lower corner, else slot 1.
        int slot = _corners[MarchingCubesTable.EdgeCornerA[e]] == label ? 0 : 1;
        int[] cache = _caches[EdgeCache[e]];
        int index = ((x + EdgeDx[e] + (nx * (y + EdgeDy[e]))) * 2) + slot;
        v = cache[index] - 1;
        if (v < 0)
        {
            v = surface.AddVertex(x2 + EdgeMx2[e], y2 + EdgeMy2[e], z2 + EdgeMz2[e]);
            cache[index] = v + 1;
        }

        _vtx[e] = v;
        return v;
    }

    private void EnsureCache(int length)
    {
        if (_caches[0].Length < length)
        {
            for (int i = 0; i < _caches.Length; i++)
            {
                _caches[i] = new int[length];
            }
        }
    }
}
