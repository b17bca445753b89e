using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using PrecomputedTools.Engine.Meshing.Draco;

namespace PrecomputedTools.Engine.Meshing;

/// <summary>
/// The octree every segment of a multi-resolution run shares (neuroglancer meshes.md, 'Multi-resolution
/// mesh manifest file format'): stored-model
/// coordinates are nanometres (the info's transform is the identity), node (x, y, z) at lod L spans
/// <see cref="Origin"/> + (x, y, z)·<see cref="NodeShape"/>·2^L with extent NodeShape·2^L. A lod-0
/// node is one meshing chunk, so chunk borders (where the mesher locks vertices) are node borders
/// (<see cref="MeshPlanSettings.MeshingChunks"/>).
/// </summary>
public sealed class MultiResolutionGrid
{
    public MultiResolutionGrid(double[] origin, double[] nodeShape, double[] resolution, int quantizationBits, double baseError)
    {
        if (quantizationBits is not (10 or 16))
        {
            throw new EngineException("InvalidQuantizationBits", EngineErrorKind.InvalidArgument, $"vertex_quantization_bits must be 10 or 16, not {quantizationBits}.");
        }

        Origin = origin;
        NodeShape = nodeShape;
        Resolution = resolution;
        QuantizationBits = quantizationBits;
        BaseError = baseError;

        // Vertices are float32 nanometres in the lod-0 fragments; a twentieth of a voxel is far
        // above their rounding at any realistic coordinate and far below anything visible.
        Tolerance = 0.05 * resolution.Min();
    }

    public double[] Origin { get; }

    public double[] NodeShape { get; }

    public double[] Resolution { get; }

    public int QuantizationBits { get; }

    /// <summary>Segments written into shard files (mesh/info "sharding", neuroglancer meshes.md, sharded storage: the segment id is the key, fragments sit just before the manifest); null: "&lt;id&gt;" and "&lt;id&gt;.index" per segment.</summary>
    public Precomputed.ShardingSpec? Sharding { get; set; }

    /// <summary>A lod-0 node in voxels (the meshing chunk).</summary>
    public Int3 ChunkVoxels { get; set; }

    /// <summary>Global position of voxel (0,0,0) of the meshed scale (fragment names carry global boxes).</summary>
    public Int3 VoxelOffset { get; set; }

    /// <summary>The lod-0 node of a meshing chunk that begins at <paramref name="globalBegin"/> (chunk i begins at voxel i·C − 1, the first at 0).</summary>
    public Int3 NodeOfChunk(Int3 globalBegin)
    {
        Int3 local = globalBegin - VoxelOffset;
        return new Int3((local.X + 1) / ChunkVoxels.X, (local.Y + 1) / ChunkVoxels.Y, (local.Z + 1) / ChunkVoxels.Z);
    }

    /// <summary>Simplification bound of lod 0 (nm); lod L is simplified within BaseError·2^L.</summary>
    public double BaseError { get; }

    /// <summary>Distance within which a vertex counts as lying on a node border or split plane.</summary>
    public double Tolerance { get; }

    /// <summary>Largest quantized coordinate, 2^bits − 1.</summary>
    public int MaxQuantized => (1 << QuantizationBits) - 1;

    /// <summary>Where the viewer splits a node into its 2×2×2 sub-nodes: 2^(bits−1) (neuroglancer's Draco partition point).</summary>
    public int SplitQuantized => 1 << (QuantizationBits - 1);

    /// <summary>lod_scales[L]: the spatial resolution of lod L in nm, one voxel (coarsest axis) doubled per level.</summary>
    public double LodScale(int lod) => Resolution.Max() * Math.Pow(2, lod);

    /// <summary>Lower corner of a node on one axis.</summary>
    public double NodeMin(int axis, int position, int lod) => Origin[axis] + ((double)position * NodeShape[axis] * (1L << lod));

    /// <summary>mesh/info of a multi-resolution mesh folder (neuroglancer meshes.md, 'Multi-resolution mesh info JSON file format').</summary>
    public byte[] InfoJson(string? segmentProperties = null)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("@type", "neuroglancer_multilod_draco");
            w.WriteNumber("vertex_quantization_bits", QuantizationBits);
            w.WriteStartArray("transform");
            foreach (int v in new[] { 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0 })
            {
                w.WriteNumberValue(v);
            }

            w.WriteEndArray();
            w.WriteNumber("lod_scale_multiplier", 1.0);
            if (Sharding is not null)
            {
                w.WritePropertyName("sharding");
                Sharding.ToJson().WriteTo(w);
            }

            if (segmentProperties is not null)
            {
                w.WriteString("segment_properties", segmentProperties);
            }

            w.WriteEndObject();
        }

        return stream.ToArray();
    }
}

/// <summary>One segment's multi-resolution mesh: the fragment data file and its manifest.</summary>
public sealed class MultiResolutionSegment
{
    internal MultiResolutionSegment(byte[] data, byte[] manifest, int[] fragmentsPerLod, long[] trianglesPerLod, long vertices)
    {
        Data = data;
        Manifest = manifest;
        FragmentsPerLod = fragmentsPerLod;
        TrianglesPerLod = trianglesPerLod;
        Vertices = vertices;
    }

    /// <summary>The Draco fragments, lod 0 first, in manifest order (the file "&lt;id&gt;").</summary>
    public byte[] Data { get; }

    /// <summary>The manifest (the file "&lt;id&gt;.index").</summary>
    public byte[] Manifest { get; }

    public int[] FragmentsPerLod { get; }

    public long[] TrianglesPerLod { get; }

    /// <summary>Vertices at lod 0.</summary>
    public long Vertices { get; }

    public int Lods => FragmentsPerLod.Length;
}

/// <summary>
/// Builds a segment's levels of detail from its lod-0 pieces (one per meshing chunk, whose chunk
/// borders the mesher kept fixed), as neuroglancer_multilod_draco asks (neuroglancer meshes.md, 'Multi-resolution mesh fragment data file format'):
/// </summary>
/// <remarks>
/// <para>
/// Lod L (L ≥ 1) has a node wherever lod L−1 has a child. Its mesh is its children's meshes, each
/// simplified on its own with the child's borders locked and then welded: so no triangle crosses
/// the node's 2×2×2 split, and every vertex on a node border at any lod is the lod-0 vertex, which
/// is what makes neighbours meet at every lod and at mixed lods. The bound doubles per lod.
/// </para>
/// <para>
/// Quantization is node-local: border vertices become exactly 0 or 2^bits−1, vertices on the
/// split plane exactly 2^(bits−1) (the viewer's partition point), and every other vertex is kept
/// on its own sub-node's side, so the viewer's partition never sees a triangle across the split.
/// </para>
/// <para>
/// Memory: the octree is built depth first and each lod-0 piece is read when its branch is reached,
/// so a segment as large as the volume holds its encoded fragments and the meshes on one path of
/// the octree (at most eight simplified children per lod), not its whole mesh at every lod.
/// </para>
/// </remarks>
public static class MultiResolutionMeshBuilder
{
    private const int MaxGridBits = 21;

    /// <summary>Builds the fragments and the manifest of one segment from pieces already in memory.</summary>
    /// <param name="pieces">lod-0 node position and mesh (nanometres) of each meshing chunk holding the segment.</param>
    /// <param name="grid">The run's octree.</param>
    /// <param name="buffers">The simplifier's working arrays (one set per thread), or null for new ones.</param>
    public static MultiResolutionSegment Build(IReadOnlyList<(Int3 Node, MeshData Mesh)> pieces, MultiResolutionGrid grid, MeshSimplifier.Buffers? buffers = null)
    {
        var byNode = pieces.GroupBy(p => p.Node).ToDictionary(g => g.Key, g => g.Select(p => p.Mesh).ToList());
        return Build(byNode.Keys.ToList(), node => byNode[node], grid, buffers);
    }

    /// <summary>
    /// Builds the fragments and the manifest of one segment, reading each lod-0 piece only when its
    /// branch of the octree is built: depth first in Z-curve order, so what is held at once is the
    /// encoded fragments and, per lod on the current path, at most eight simplified children; not
    /// the segment's whole mesh at every lod.
    /// </summary>
    /// <param name="nodes">lod-0 node of each meshing chunk holding the segment.</param>
    /// <param name="load">The segment's mesh pieces (nanometres) in one lod-0 node.</param>
    /// <param name="grid">The run's octree.</param>
    /// <param name="buffers">The simplifier's working arrays (one set per thread), or null for new ones.</param>
    public static MultiResolutionSegment Build(IReadOnlyCollection<Int3> nodes, Func<Int3, IReadOnlyList<MeshData>> load, MultiResolutionGrid grid, MeshSimplifier.Buffers? buffers = null)
    {
        MeshSimplifier.Buffers work = buffers ?? new MeshSimplifier.Buffers();
        foreach (Int3 n in nodes)
        {
            if (n.X < 0 || n.Y < 0 || n.Z < 0 || n.X >= (1 << MaxGridBits) || n.Y >= (1 << MaxGridBits) || n.Z >= (1 << MaxGridBits))
            {
                throw new EngineException("InvalidMeshNode", EngineErrorKind.InvalidArgument, $"Octree node {n} is outside the grid the manifest can describe.");
            }
        }

        if (nodes.Count == 0)
        {
            throw new EngineException("EmptySegmentMesh", EngineErrorKind.InvalidArgument, "A multi-resolution mesh needs at least one lod-0 piece.");
        }

        // The node positions of every lod, each in Z-curve order; a lod L node has a parent at L+1.
        var levels = new List<Int3[]> { nodes.Distinct().OrderBy(ZOrder).ToArray() };
        while (levels[levels.Count - 1].Length > 1)
        {
            levels.Add(levels[levels.Count - 1].Select(Half).Distinct().OrderBy(ZOrder).ToArray());
        }

        var children = levels.Select(level => level.GroupBy(Half).ToDictionary(g => g.Key, g => g.ToArray())).ToList();
        var fragments = levels.Select(_ => new List<byte[]>()).ToArray();
        var triangles = new long[levels.Count];
        long vertices = 0;
        int[] quantized = Array.Empty<int>();

        // Depth first, children in Z-curve order: each lod's fragments come out in Z-curve order.
        Node Visit(int lod, Int3 position)
        {
            var welder = new Welder();
            if (lod == 0)
            {
                foreach (MeshData piece in load(position))
                {
                    welder.Append(piece, 0);
                }
            }
            else
            {
                // lod 0 was simplified within BaseError already; each coarser lod doubles the bound.
                double maxError = grid.BaseError * Math.Pow(2, lod);
                foreach (Int3 childPosition in children[lod - 1][position])
                {
                    Node child = Visit(lod - 1, childPosition);
                    MeshData locked = LockBorders(child, lod - 1, grid);
                    int target = Math.Max(4, locked.TriangleCount / 4);
                    welder.Append(MeshSimplifier.Simplify(locked, target, maxError, work), Octant(childPosition));
                }
            }

            Node node = welder.ToNode(position);
            MeshData mesh = node.Mesh;
            if (quantized.Length < mesh.VertexCount * 3)
            {
                quantized = new int[mesh.VertexCount * 3];
            }

            Quantize(node, lod, grid, quantized);
            fragments[lod].Add(DracoMeshEncoder.Encode(quantized.AsSpan(0, mesh.VertexCount * 3), mesh.Indices.AsSpan(0, mesh.TriangleCount * 3)));
            triangles[lod] += mesh.TriangleCount;
            if (lod == 0)
            {
                vertices += mesh.VertexCount;
            }

            return node;
        }

        Visit(levels.Count - 1, levels[levels.Count - 1][0]);
        var data = new MemoryStream((int)Math.Min(int.MaxValue, fragments.Sum(l => l.Sum(f => (long)f.Length))));
        foreach (byte[] fragment in fragments.SelectMany(l => l))
        {
            data.Write(fragment, 0, fragment.Length);
        }

        byte[] manifest = Manifest(levels, fragments.Select(l => l.Select(f => f.Length).ToArray()).ToList(), grid);
        return new MultiResolutionSegment(data.ToArray(), manifest, levels.Select(l => l.Length).ToArray(), triangles, vertices);
    }

    /// <summary>Morton (Z-curve) key: x in bit 0 of each triple (the x, y, z Z-curve order of neuroglancer meshes.md's manifest).</summary>
    public static ulong ZOrder(Int3 p)
    {
        ulong key = 0;
        for (int bit = 0; bit < MaxGridBits; bit++)
        {
            key |= (((ulong)(p.X >> bit) & 1) << (3 * bit)) | (((ulong)(p.Y >> bit) & 1) << ((3 * bit) + 1)) | (((ulong)(p.Z >> bit) & 1) << ((3 * bit) + 2));
        }

        return key;
    }


    private static Int3 Half(Int3 p) => new(p.X >> 1, p.Y >> 1, p.Z >> 1);

    private static int Octant(Int3 p) => (p.X & 1) | ((p.Y & 1) << 1) | ((p.Z & 1) << 2);

    private static MeshData LockBorders(Node node, int lod, MultiResolutionGrid grid)
    {
        var locked = new bool[node.Mesh.VertexCount];
        double[] p = node.Mesh.Positions;
        for (int v = 0; v < locked.Length; v++)
        {
            for (int axis = 0; axis < 3 && !locked[v]; axis++)
            {
                double min = grid.NodeMin(axis, node.Position[axis], lod);
                double max = min + (grid.NodeShape[axis] * (1L << lod));
                double x = p[(3 * v) + axis];
                locked[v] = Math.Abs(x - min) <= grid.Tolerance || Math.Abs(x - max) <= grid.Tolerance;
            }
        }

        return new MeshData(p, node.Mesh.VertexCount, node.Mesh.Indices, node.Mesh.TriangleCount, locked);
    }

    private static void Quantize(Node node, int lod, MultiResolutionGrid grid, int[] output)
    {
        int max = grid.MaxQuantized;
        int split = grid.SplitQuantized;
        double[] p = node.Mesh.Positions;
        for (int axis = 0; axis < 3; axis++)
        {
            double extent = grid.NodeShape[axis] * (1L << lod);
            double min = grid.NodeMin(axis, node.Position[axis], lod);
            double mid = min + (extent / 2);
            for (int v = 0; v < node.Mesh.VertexCount; v++)
            {
                double x = p[(3 * v) + axis];
                int q;
                if (Math.Abs(x - min) <= grid.Tolerance)
                {
                    q = 0;
                }
                else if (Math.Abs(x - (min + extent)) <= grid.Tolerance)
                {
                    q = max;
                }
                else if (lod > 0 && Math.Abs(x - mid) <= grid.Tolerance)
                {
                    q = split;
                }
                else
                {
                    q = (int)Math.Max(0, Math.Min(max, Math.Floor(((x - min) / extent * max) + 0.5)));
                    if (lod > 0)
                    {
                        // The vertex stays on the side of the sub-node it was simplified in.
                        bool upper = ((node.Octants[v] >> axis) & 1) != 0;
                        q = upper ? Math.Max(q, split) : Math.Min(q, split);
                    }
                }

                output[(3 * v) + axis] = q;
            }
        }
    }

    private static byte[] Manifest(List<Int3[]> levels, List<int[]> sizes, MultiResolutionGrid grid)
    {
        int lods = levels.Count;
        int fragments = levels.Sum(l => l.Length);
        var stream = new MemoryStream((4 * 7) + (lods * 20) + (fragments * 16));
        using var writer = new BinaryWriter(stream); // little-endian on every platform
        void Float(double value) => writer.Write((float)value);
        void UInt(uint value) => writer.Write(value);

        for (int axis = 0; axis < 3; axis++)
        {
            Float(grid.NodeShape[axis]);
        }

        for (int axis = 0; axis < 3; axis++)
        {
            Float(grid.Origin[axis]);
        }

        UInt((uint)lods);
        for (int lod = 0; lod < lods; lod++)
        {
            Float(grid.LodScale(lod));
        }

        for (int i = 0; i < lods * 3; i++)
        {
            Float(0);
        }

        foreach (Int3[] level in levels)
        {
            UInt((uint)level.Length);
        }

        for (int lod = 0; lod < lods; lod++)
        {
            for (int axis = 0; axis < 3; axis++)
            {
                foreach (Int3 node in levels[lod])
                {
                    UInt((uint)node[axis]);
                }
            }

            foreach (int size in sizes[lod])
            {
                UInt((uint)size);
            }
        }

        writer.Flush();
        return stream.ToArray();
    }

    /// <summary>A node of one lod: its position and mesh, and per vertex the sub-node (octant) it came from.</summary>
    private sealed class Node
    {
        public Node(Int3 position, MeshData mesh, byte[] octants)
        {
            Position = position;
            Mesh = mesh;
            Octants = octants;
        }

        public Int3 Position { get; }

        public MeshData Mesh { get; }

        public byte[] Octants { get; }
    }

    /// <summary>Concatenates meshes, merging vertices at identical positions (the locked borders two pieces share).</summary>
    private sealed class Welder
    {
        private readonly Dictionary<(double, double, double), int> _index = new();
        private readonly List<double> _positions = new();
        private readonly List<byte> _octants = new();
        private readonly List<int> _triangles = new();

        public void Append(MeshData mesh, int octant)
        {
            int[] map = new int[mesh.VertexCount];
            double[] p = mesh.Positions;
            for (int v = 0; v < mesh.VertexCount; v++)
            {
                var key = (p[3 * v], p[(3 * v) + 1], p[(3 * v) + 2]);
                if (!_index.TryGetValue(key, out int index))
                {
                    index = _octants.Count;
                    _index.Add(key, index);
                    _positions.Add(key.Item1);
                    _positions.Add(key.Item2);
                    _positions.Add(key.Item3);
                    _octants.Add((byte)octant);
                }

                map[v] = index;
            }

            for (int i = 0; i < mesh.TriangleCount * 3; i++)
            {
                _triangles.Add(map[mesh.Indices[i]]);
            }
        }

        public Node ToNode(Int3 position)
        {
            int[] indices = _triangles.ToArray();
            return new Node(position, new MeshData(_positions.ToArray(), _octants.Count, indices, indices.Length / 3), _octants.ToArray());
        }
    }
}

/// <summary>Reads a multi-resolution manifest (neuroglancer meshes.md, 'Multi-resolution mesh manifest file format') back, for checks.</summary>
public sealed class MultiResolutionManifest
{
    private MultiResolutionManifest(float[] chunkShape, float[] gridOrigin, float[] lodScales, float[] vertexOffsets, Int3[][] positions, uint[][] sizes)
    {
        ChunkShape = chunkShape;
        GridOrigin = gridOrigin;
        LodScales = lodScales;
        VertexOffsets = vertexOffsets;
        Positions = positions;
        Sizes = sizes;
    }

    public float[] ChunkShape { get; }

    public float[] GridOrigin { get; }

    public float[] LodScales { get; }

    /// <summary>[lod·3 + axis].</summary>
    public float[] VertexOffsets { get; }

    /// <summary>Fragment node positions per lod, in manifest order.</summary>
    public Int3[][] Positions { get; }

    /// <summary>Fragment byte sizes per lod, in manifest order.</summary>
    public uint[][] Sizes { get; }

    public long DataLength => Sizes.Sum(s => s.Sum(x => (long)x));

    /// <summary>Parses a manifest; its length must match its contents exactly.</summary>
    public static MultiResolutionManifest Parse(ReadOnlySpan<byte> bytes, string? source = null)
    {
        EngineException Invalid(string what) => new("InvalidMeshManifest", EngineErrorKind.InvalidData, $"The multi-resolution manifest{(source is null ? "" : " '" + source + "'")} {what}.", source);
        if (bytes.Length < 28 || bytes.Length % 4 != 0)
        {
            throw Invalid($"has {bytes.Length} bytes (at least 28, a multiple of 4)");
        }

        using var reader = new BinaryReader(new MemoryStream(bytes.ToArray(), writable: false));
        float F() => reader.ReadSingle();
        uint U() => reader.ReadUInt32();

        float[] shape = { F(), F(), F() };
        float[] origin = { F(), F(), F() };
        uint lods = U();
        if (lods == 0 || bytes.Length < 28 + (20L * lods))
        {
            throw Invalid($"is too short for {lods} lods");
        }

        float[] scales = new float[lods];
        for (int i = 0; i < lods; i++)
        {
            scales[i] = F();
        }

        float[] offsets = new float[lods * 3];
        for (int i = 0; i < offsets.Length; i++)
        {
            offsets[i] = F();
        }

        uint[] counts = new uint[lods];
        long total = 0;
        for (int i = 0; i < lods; i++)
        {
            counts[i] = U();
            total += counts[i];
        }

        long offset = reader.BaseStream.Position;
        if (bytes.Length != offset + (16 * total))
        {
            throw Invalid($"has {bytes.Length} bytes, but {lods} lods and {total} fragments need {offset + (16 * total)}");
        }

        var positions = new Int3[lods][];
        var sizes = new uint[lods][];
        for (int lod = 0; lod < lods; lod++)
        {
            int n = (int)counts[lod];
            uint[] raw = new uint[3 * n];
            for (int i = 0; i < raw.Length; i++)
            {
                raw[i] = U();
            }

            positions[lod] = new Int3[n];
            for (int i = 0; i < n; i++)
            {
                positions[lod][i] = new Int3((int)raw[i], (int)raw[n + i], (int)raw[(2 * n) + i]);
            }

            sizes[lod] = new uint[n];
            for (int i = 0; i < n; i++)
            {
                sizes[lod][i] = U();
            }
        }

        return new MultiResolutionManifest(shape, origin, scales, offsets, positions, sizes);
    }

    /// <summary>A short description for messages.</summary>
    public override string ToString() => string.Format(CultureInfo.InvariantCulture, "{0} lods, {1} fragments", Positions.Length, Positions.Sum(p => p.Length));
}
