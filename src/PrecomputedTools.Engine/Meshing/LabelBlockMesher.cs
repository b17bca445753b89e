using System;

namespace PrecomputedTools.Engine.Meshing;

/// <summary>The raw marching-cubes output of one label in one block.</summary>
internal sealed class LabelSurface
{
    /// <summary>Doubled voxel-centre coordinates (2x, 2y, 2z) of each vertex, in the volume's 0-based grid; exact integers.</summary>
    public int[] Pos2 = new int[96];

    public int VertexCount;

    public int[] Tris = new int[96];

    public int IndexCount;

    public int TriangleCount => IndexCount / 3;

    public int AddVertex(int x2, int y2, int z2)
    {
        int n = VertexCount * 3;
        if (n + 3 > Pos2.Length)
        {
            Array.Resize(ref Pos2, Pos2.Length * 2);
        }

        Pos2[n] = x2;
        Pos2[n + 1] = y2;
        Pos2[n + 2] = z2;
        return VertexCount++;
    }

    public void AddTriangle(int a, int b, int c)
    {
        if (IndexCount + 3 > Tris.Length)
        {
            Array.Resize(ref Tris, Tris.Length * 2);
        }

        Tris[IndexCount] = a;
        Tris[IndexCount + 1] = b;
        Tris[IndexCount + 2] = c;
        IndexCount += 3;
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
    private int[] _xe0 = Array.Empty<int>();
    private int[] _xe1 = Array.Empty<int>();
    private int[] _ye0 = Array.Empty<int>();
    private int[] _ye1 = Array.Empty<int>();
    private int[] _ze = Array.Empty<int>();

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
        if (nx < 2 || ny < 2 || nz < 2)
        {
            return;
        }

        int plane = nx * ny;
        EnsureCache(plane * 2);
        Array.Clear(_xe0, 0, plane * 2);
        Array.Clear(_ye0, 0, plane * 2);
        int ox2 = origin.X * 2, oy2 = origin.Y * 2, oz2 = origin.Z * 2;
        Span<int> l = stackalloc int[8];
        long active = 0;
        byte[] tri = MarchingCubesTable.Triangles;
        int[] start = MarchingCubesTable.Start;
        byte[] cornerA = MarchingCubesTable.EdgeCornerA;
        Span<int> vtx = stackalloc int[12];
        for (int z = 0; z + 1 < nz; z++)
        {
            Array.Clear(_xe1, 0, plane * 2);
            Array.Clear(_ye1, 0, plane * 2);
            Array.Clear(_ze, 0, plane * 2);
            for (int y = 0; y + 1 < ny; y++)
            {
                int row = (z * plane) + (y * nx);
                ReadOnlySpan<int> r00 = labels.Slice(row, nx);
                ReadOnlySpan<int> r10 = labels.Slice(row + nx, nx);
                ReadOnlySpan<int> r01 = labels.Slice(row + plane, nx);
                ReadOnlySpan<int> r11 = labels.Slice(row + plane + nx, nx);
                int a0 = r00[0];
                bool prevColumnUniform = r10[0] == a0 && r01[0] == a0 && r11[0] == a0;
                for (int x = 0; x + 1 < nx; x++)
                {
                    int b0 = r00[x + 1];
                    bool columnUniform = r10[x + 1] == b0 && r01[x + 1] == b0 && r11[x + 1] == b0;
                    if (prevColumnUniform && columnUniform && a0 == b0)
                    {
                        a0 = b0;
                        continue;
                    }

                    prevColumnUniform = columnUniform;
                    a0 = b0;
                    active++;
                    l[0] = r00[x];
                    l[1] = r00[x + 1];
                    l[2] = r10[x];
                    l[3] = r10[x + 1];
                    l[4] = r01[x];
                    l[5] = r01[x + 1];
                    l[6] = r11[x];
                    l[7] = r11[x + 1];
                    for (int k = 0; k < 8; k++)
                    {
                        int label = l[k];
                        if (label == 0)
                        {
                            continue;
                        }

                        int mask = 0;
                        bool seen = false;
                        for (int j = 0; j < 8; j++)
                        {
                            if (l[j] == label)
                            {
                                if (j < k)
                                {
                                    seen = true;
                                    break;
                                }

                                mask |= 1 << j;
                            }
                        }

                        if (seen)
                        {
                            continue;
                        }

                        LabelSurface surface = surfaces[label] ??= new LabelSurface();
                        int t0 = start[mask], t1 = start[mask + 1];
                        vtx.Fill(-1);
                        for (int t = t0; t < t1; t += 3)
                        {
                            int va = Vertex(tri[t], x, y, l, label, nx, ox2, oy2, oz2 + (2 * z), surface, vtx, cornerA);
                            int vb = Vertex(tri[t + 1], x, y, l, label, nx, ox2, oy2, oz2 + (2 * z), surface, vtx, cornerA);
                            int vc = Vertex(tri[t + 2], x, y, l, label, nx, ox2, oy2, oz2 + (2 * z), surface, vtx, cornerA);
                            surface.AddTriangle(va, vb, vc);
                        }
                    }
                }
            }

            (_xe0, _xe1) = (_xe1, _xe0);
            (_ye0, _ye1) = (_ye1, _ye0);
        }

        ActiveCells = active;
    }

    private int Vertex(int e, int x, int y, Span<int> l, int label, int nx, int ox2, int oy2, int oz2, LabelSurface surface, Span<int> vtx, byte[] cornerA)
    {
        int cached = vtx[e];
        if (cached >= 0)
        {
            return cached;
        }

        int slot = l[cornerA[e]] == label ? 0 : 1;
        int[] cache;
        int index;
        int x2 = ox2 + (2 * x), y2 = oy2 + (2 * y), z2 = oz2;
        if (e < 4)
        {
            int dy = e & 1;
            int dz = e >> 1;
            cache = dz == 0 ? _xe0 : _xe1;
            index = (x + (nx * (y + dy))) * 2;
            x2 += 1;
            y2 += 2 * dy;
            z2 += 2 * dz;
        }
        else if (e < 8)
        {
            int k = e - 4;
            int dx = k & 1;
            int dz = k >> 1;
            cache = dz == 0 ? _ye0 : _ye1;
            index = (x + dx + (nx * y)) * 2;
            x2 += 2 * dx;
            y2 += 1;
            z2 += 2 * dz;
        }
        else
        {
            int k = e - 8;
            int dx = k & 1;
            int dy = k >> 1;
            cache = _ze;
            index = (x + dx + (nx * (y + dy))) * 2;
            x2 += 2 * dx;
            y2 += 2 * dy;
            z2 += 1;
        }

        index += slot;
        int v = cache[index] - 1;
        if (v < 0)
        {
            v = surface.AddVertex(x2, y2, z2);
            cache[index] = v + 1;
        }

        vtx[e] = v;
        return v;
    }

    private void EnsureCache(int length)
    {
        if (_xe0.Length < length)
        {
            _xe0 = new int[length];
            _xe1 = new int[length];
            _ye0 = new int[length];
            _ye1 = new int[length];
            _ze = new int[length];
        }
    }
}
