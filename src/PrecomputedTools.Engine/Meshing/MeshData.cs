using System;
using System.IO;

namespace PrecomputedTools.Engine.Meshing;

/// <summary>
/// A triangle mesh: positions (x, y, z per vertex, nanometres unless stated) and triangles
/// (three vertex indices each, counter-clockwise seen from outside).
/// </summary>
public sealed class MeshData
{
    public MeshData(double[] positions, int vertexCount, int[] indices, int triangleCount, bool[]? locked = null)
    {
        if (positions.Length < vertexCount * 3 || indices.Length < triangleCount * 3)
        {
            throw new ArgumentException("The arrays are shorter than the counts.");
        }

        Positions = positions;
        VertexCount = vertexCount;
        Indices = indices;
        TriangleCount = triangleCount;
        Locked = locked;
    }

    /// <summary>x, y, z per vertex; only the first <see cref="VertexCount"/> × 3 entries count.</summary>
    public double[] Positions { get; }

    public int VertexCount { get; }

    /// <summary>Three indices per triangle; only the first <see cref="TriangleCount"/> × 3 entries count.</summary>
    public int[] Indices { get; }

    public int TriangleCount { get; }

    /// <summary>Vertices the simplifier must keep in place (on a chunk border shared with a neighbour), or null.</summary>
    public bool[]? Locked { get; }

    public static MeshData Empty { get; } = new(Array.Empty<double>(), 0, Array.Empty<int>(), 0);

    /// <summary>A copy with arrays of its own, exactly as long as the counts (a mesh backed by reused buffers is valid only briefly).</summary>
    public MeshData Copy()
    {
        double[] positions = new double[VertexCount * 3];
        Array.Copy(Positions, positions, positions.Length);
        int[] indices = new int[TriangleCount * 3];
        Array.Copy(Indices, indices, indices.Length);
        bool[]? locked = null;
        if (Locked is not null)
        {
            locked = new bool[VertexCount];
            Array.Copy(Locked, locked, VertexCount);
        }

        return new MeshData(positions, VertexCount, indices, TriangleCount, locked);
    }

    /// <summary>Signed enclosed volume Σ a·(b×c)/6: positive for a closed, outward-wound mesh.</summary>
    public double SignedVolume()
    {
        double sum = 0;
        double[] p = Positions;
        int[] t = Indices;
        for (int i = 0; i < TriangleCount; i++)
        {
            int a = t[3 * i] * 3, b = t[(3 * i) + 1] * 3, c = t[(3 * i) + 2] * 3;
            double bx = p[b], by = p[b + 1], bz = p[b + 2];
            double cx = p[c], cy = p[c + 1], cz = p[c + 2];
            sum += (p[a] * ((by * cz) - (bz * cy))) + (p[a + 1] * ((bz * cx) - (bx * cz))) + (p[a + 2] * ((bx * cy) - (by * cx)));
        }

        return sum / 6;
    }

    /// <summary>Bytes of the legacy fragment (<see cref="WriteFragment"/>).</summary>
    public int FragmentLength
    {
        get
        {
            long length = 4 + (12L * VertexCount) + (12L * TriangleCount);
            if (length > int.MaxValue)
            {
                throw new EngineException("MeshFragmentTooLarge", EngineErrorKind.LimitsExceeded, $"A mesh fragment of {VertexCount} vertices and {TriangleCount} triangles is too large for one file; use a smaller chunk size.");
            }

            return (int)length;
        }
    }

    /// <summary>The legacy precomputed fragment bytes (neuroglancer meshes.md, 'Legacy single-resolution mesh format'): nv, float32 positions, uint32 indices.</summary>
    public byte[] ToFragmentBytes()
    {
        byte[] bytes = new byte[FragmentLength];
        WriteFragment(bytes);
        return bytes;
    }

    /// <summary>Writes the fragment bytes into the first <see cref="FragmentLength"/> bytes of <paramref name="bytes"/> (a reused buffer).</summary>
    public void WriteFragment(Span<byte> bytes)
    {
        if (bytes.Length < FragmentLength)
        {
            throw new ArgumentException("The buffer is shorter than the fragment.", nameof(bytes));
        }

        WriteUInt32(bytes, 0, (uint)VertexCount);
        int offset = 4;
        for (int i = 0; i < VertexCount * 3; i++, offset += 4)
        {
            WriteSingle(bytes, offset, (float)Positions[i]);
        }

        for (int i = 0; i < TriangleCount * 3; i++, offset += 4)
        {
            WriteUInt32(bytes, offset, (uint)Indices[i]);
        }
    }

    /// <summary>Parses and checks a legacy fragment: length, finite floats, indices below nv.</summary>
    public static MeshData FromFragmentBytes(ReadOnlySpan<byte> bytes, string? source = null)
    {
        if (bytes.Length < 4)
        {
            throw Invalid("is shorter than 4 bytes", source);
        }

        uint nv = ReadUInt32(bytes, 0);
        long rest = bytes.Length - 4 - (12L * nv);
        if (rest < 0 || rest % 12 != 0)
        {
            throw Invalid($"has {bytes.Length} bytes, which is not 4 + 12·{nv} + 12·triangles", source);
        }

        int nt = (int)(rest / 12);
        double[] positions = new double[nv * 3];
        for (int i = 0; i < positions.Length; i++)
        {
            float f = ReadSingle(bytes, 4 + (4 * i));
            if (float.IsNaN(f) || float.IsInfinity(f))
            {
                throw Invalid("holds a non-finite coordinate", source);
            }

            positions[i] = f;
        }

        int[] indices = new int[nt * 3];
        int start = 4 + (12 * (int)nv);
        for (int i = 0; i < indices.Length; i++)
        {
            uint index = ReadUInt32(bytes, start + (4 * i));
            if (index >= nv)
            {
                throw Invalid($"has vertex index {index}, but only {nv} vertices", source);
            }

            indices[i] = (int)index;
        }

        return new MeshData(positions, (int)nv, indices, nt);
    }

    public static MeshData ReadFragment(string path) => FromFragmentBytes(File.ReadAllBytes(path), path);

    private static EngineException Invalid(string what, string? source) =>
        new("InvalidMeshFragment", EngineErrorKind.InvalidData, $"The mesh fragment{(source is null ? "" : " '" + source + "'")} {what}.", source);

    private static void WriteUInt32(Span<byte> b, int o, uint v)
    {
        b[o] = (byte)v;
        b[o + 1] = (byte)(v >> 8);
        b[o + 2] = (byte)(v >> 16);
        b[o + 3] = (byte)(v >> 24);
    }

    private static unsafe void WriteSingle(Span<byte> b, int o, float f) => WriteUInt32(b, o, *(uint*)&f);

    private static uint ReadUInt32(ReadOnlySpan<byte> b, int o) =>
        b[o] | ((uint)b[o + 1] << 8) | ((uint)b[o + 2] << 16) | ((uint)b[o + 3] << 24);

    private static unsafe float ReadSingle(ReadOnlySpan<byte> b, int o)
    {
        uint u = ReadUInt32(b, o);
        return *(float*)&u;
    }
}
