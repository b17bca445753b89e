using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json.Nodes;
using System.Threading;
using PrecomputedTools.Engine.Meshing;
using PrecomputedTools.Engine.Precomputed;
using Xunit;
using PrecomputedTools.Engine.Stages;

namespace PrecomputedTools.Engine.Tests;

/// <summary>
/// Multi-resolution meshes (neuroglancer meshes.md, 'Multi-resolution mesh format') checked from outside: every fragment is decoded by
/// Debian's draco_decoder (Google's own decoder), dequantized with the manifest's formula, and the
/// geometry is checked per level of detail.
/// </summary>
public class MultiResolutionMeshTests
{
    private static readonly double[] Resolution = { 4, 4, 40 };
    private static readonly Int3 Offset = new(10, -3, 2);

    /// <summary>A ball in the middle, a slab touching the volume's low faces, a one-voxel speck.</summary>
    private static ulong[] Volume(out Int3 size)
    {
        size = new Int3(40, 36, 30);
        var v = Vol.New(size);
        for (int z = 0; z < size.Z; z++)
        {
            for (int y = 0; y < size.Y; y++)
            {
                for (int x = 0; x < size.X; x++)
                {
                    double dx = x - 21.3, dy = y - 17.8, dz = z - 15.1;
                    if ((dx * dx) + (dy * dy) + (dz * dz) <= 11.5 * 11.5)
                    {
                        Vol.Set(v, size, x, y, z, 5);
                    }
                }
            }
        }

        Vol.Box(v, size, new Int3(0, 0, 0), new Int3(9, 30, 4), 9);
        Vol.Set(v, size, 37, 33, 27, 77);
        return v;
    }

    /// <summary>Two shards of two minishards, ids spread by murmurhash, gzip manifests: every path of the sharded layout.</summary>
    private static readonly ShardingSpec TestSharding = new() { PreshiftBits = 0, MinishardBits = 1, ShardBits = 1, Hash = ShardingSpec.MurmurHash, MinishardIndexEncoding = "gzip", DataEncoding = "gzip" };

    private static (string Mesh, IReadOnlyList<SegmentMeshRecord> Records, MultiResolutionGrid Grid) Run(int bits, ShardingSpec? sharding = null)
    {
        ulong[] labels = Volume(out Int3 size);
        var plan = new MeshPlanSettings
        {
            ChunkSize = new Int3(8, 8, 8),
            Resolution = Resolution,
            VoxelOffset = Offset,
            VolumeSize = size,
            Format = MeshFormat.MultiResolution,
            VertexQuantizationBits = bits,
            Sharding = sharding,
        };
        MultiResolutionGrid grid = plan.ToMultiResolutionGrid()!;
        string dataset = TestData.NewScratch("mesh-multires");
        var writer = new LegacyMeshWriter(dataset, "mesh", Offset, plan.Parameters, false) { MultiResolution = grid };
        writer.BeginJournal();
        using var reader = new ArrayVolumeReader(labels, size, new Int3(8, 8, 8));
        SegmentMesher.RunAsync(reader, plan.ToMeshSettings(2), writer, plan.MeshingChunks().ToList(), OperationMonitor.None, CancellationToken.None).GetAwaiter().GetResult();
        return (Path.Combine(dataset, "mesh"), writer.Finish(), grid);
    }

    [Theory]
    [InlineData(16, false)]
    [InlineData(10, false)]
    [InlineData(16, true)]
    public void EveryFragmentDecodesWithGooglesDecoderAndEveryLodIsClosed(int bits, bool sharded)
    {
        ShardingSpec? sharding = sharded ? TestSharding : null;
        (string mesh, IReadOnlyList<SegmentMeshRecord> records, MultiResolutionGrid grid) = Run(bits, sharding);
        Assert.Equal(new ulong[] { 5, 9, 77 }, records.Select(r => r.Id).ToArray());
        JsonNode info = JsonNode.Parse(File.ReadAllText(Path.Combine(mesh, "info")))!;
        Assert.Equal("neuroglancer_multilod_draco", info["@type"]!.GetValue<string>());
        Assert.Equal(bits, info["vertex_quantization_bits"]!.GetValue<int>());
        Assert.Equal(new double[] { 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0 }, info["transform"]!.AsArray().Select(n => n!.GetValue<double>()).ToArray());
        Assert.Empty(Directory.EnumerateFiles(mesh, "*.frag"));
        if (sharding is not null)
        {
            Assert.Equal(ShardingSpec.MurmurHash, info["sharding"]!["hash"]!.GetValue<string>());
            Assert.Equal(Directory.EnumerateFiles(mesh).Select(Path.GetFileName).OrderBy(n => n), new[] { "0.shard", "1.shard", "info" }.Where(n => n == "info" || records.Any(r => sharding.ShardFileName(sharding.Locate(r.Id).Shard) == n)));
            var problems = new System.Collections.Concurrent.ConcurrentQueue<string>();
            using (DatasetStore store = DatasetStore.Open(Path.GetDirectoryName(mesh)!))
            {
                DatasetValidator.CheckMeshFolder(store, "mesh", problems, new System.Threading.Tasks.ParallelOptions());
            }

            Assert.Empty(problems);
        }

        Assert.False(Directory.Exists(Path.Combine(Path.GetDirectoryName(mesh)!, LegacyMeshWriter.JournalDirectoryName)));

        int max = (1 << bits) - 1, split = 1 << (bits - 1);
        foreach (SegmentMeshRecord record in records)
        {
            string id = record.Id.ToString(CultureInfo.InvariantCulture);
            byte[] data;
            MultiResolutionManifest manifest;
            if (sharding is null)
            {
                Assert.Equal(Path.Combine(mesh, id + ".index"), record.ManifestPath);
                data = File.ReadAllBytes(Path.Combine(mesh, id));
                manifest = MultiResolutionManifest.Parse(File.ReadAllBytes(record.ManifestPath));
            }
            else
            {
                // The segment id is the key; the manifest is the value, the fragments sit right before it.
                string shardPath = Path.Combine(mesh, sharding.ShardFileName(sharding.Locate(record.Id).Shard));
                Assert.Equal(shardPath, record.ManifestPath);
                byte[] shard = File.ReadAllBytes(shardPath);
                var reader = new ShardReader(sharding, (n, offset, length) => n == sharding.Locate(record.Id).Shard ? shard.AsSpan((int)offset, (int)Math.Min(length, shard.Length - offset)).ToArray() : null);
                (ulong _, long start, long length) = reader.Find(record.Id, shardPath)!.Value;
                manifest = MultiResolutionManifest.Parse(reader.Decode(shard.AsSpan((int)start, (int)length).ToArray(), shardPath));
                data = shard.AsSpan((int)(start - manifest.DataLength), (int)manifest.DataLength).ToArray();
                Assert.Equal(manifest.Sizes.SelectMany(x => x).Select(x => (long)x).Sum(), data.Length);
            }

            Assert.Equal(data.Length, manifest.DataLength);
            Assert.Equal(record.Lods, manifest.Positions.Length);
            Assert.Single(manifest.Positions[^1]);
            Assert.Equal(grid.NodeShape.Select(v => (float)v), manifest.ChunkShape);
            Assert.Equal(grid.Origin.Select(v => (float)v), manifest.GridOrigin);
            Assert.All(manifest.VertexOffsets, o => Assert.Equal(0f, o));
            for (int lod = 0; lod < manifest.Positions.Length; lod++)
            {
                Int3[] nodes = manifest.Positions[lod];
                for (int i = 1; i < nodes.Length; i++)
                {
                    Assert.True(MultiResolutionMeshBuilder.ZOrder(nodes[i - 1]) < MultiResolutionMeshBuilder.ZOrder(nodes[i]), $"lod {lod}: nodes in Z-curve order");
                }

                if (lod > 0)
                {
                    // Each node of a coarser lod is exactly the parent of some finer nodes, and every finer node has its parent.
                    Assert.Equal(
                        manifest.Positions[lod - 1].Select(p => new Int3(p.X >> 1, p.Y >> 1, p.Z >> 1)).Distinct().OrderBy(MultiResolutionMeshBuilder.ZOrder),
                        nodes);
                    Assert.True(manifest.LodScales[lod] > manifest.LodScales[lod - 1]);
                }
            }

            // Decode every fragment with draco_decoder; dequantize as the viewer does.
            long offset = 0;
            var perLod = new List<MeshData>();
            for (int lod = 0; lod < manifest.Positions.Length; lod++)
            {
                var pieces = new MemorySink();
                for (int i = 0; i < manifest.Positions[lod].Length; i++)
                {
                    int length = (int)manifest.Sizes[lod][i];
                    (int[] q, int[] faces) = DracoDecoder.Decode(data.AsSpan((int)offset, length).ToArray());
                    offset += length;
                    Assert.All(q, c => Assert.InRange(c, 0, max));
                    if (lod > 0)
                    {
                        // neuroglancer renders a coarse node's eight sub-nodes separately: no triangle crosses the split.
                        for (int t = 0; t < faces.Length; t += 3)
                        {
                            for (int axis = 0; axis < 3; axis++)
                            {
                                int a = q[(3 * faces[t]) + axis], b = q[(3 * faces[t + 1]) + axis], c = q[(3 * faces[t + 2]) + axis];
                                bool low = a <= split && b <= split && c <= split, high = a >= split && b >= split && c >= split;
                                Assert.True(low || high, $"segment {id} lod {lod}: a triangle crosses the split on axis {axis} ({a}, {b}, {c})");
                            }
                        }
                    }

                    Int3 node = manifest.Positions[lod][i];
                    double[] positions = new double[q.Length];
                    for (int v = 0; v < q.Length; v++)
                    {
                        int axis = v % 3;
                        double extent = manifest.ChunkShape[axis] * (double)(1 << lod);
                        positions[v] = manifest.GridOrigin[axis] + (extent * (node[axis] + ((double)q[v] / max)));
                    }

                    pieces.AddFragment(record.Id, default, new MeshData(positions, q.Length / 3, faces, faces.Length / 3));
                }

                MeshData merged = pieces.Merged(record.Id);
                perLod.Add(merged);
                MeshReport report = MeshReport.Of(merged);
                Assert.True(report.BoundaryEdges == 0 && report.PairedEdges, $"segment {id} lod {lod} of {manifest.Positions.Length}: neighbouring nodes meet without cracks: {report}");
            }

            Assert.Equal(data.Length, offset);
            for (int lod = 1; lod < perLod.Count; lod++)
            {
                Assert.True(perLod[lod].TriangleCount <= perLod[lod - 1].TriangleCount, $"segment {id}: lod {lod} has no more triangles than lod {lod - 1}");
            }

            if (record.Id == 5)
            {
                // The ball lies inside the volume: its surface encloses its voxels (as the legacy tests check).
                Assert.Equal(4, manifest.Positions.Length);
                double voxels = Volume(out Int3 _).Count(l => l == 5) * Resolution[0] * Resolution[1] * Resolution[2];
                double ratio = perLod[0].SignedVolume() / voxels;
                Assert.True(ratio >= 0.95 && ratio <= 1.05, $"lod 0: enclosed volume / voxel volume = {ratio:F3}");
            }

            // Lod L is simplified from lod L-1 within BaseError·2^L, so it stays within the sum of
            // those bounds (< BaseError·2^(L+1)) of lod 0, plus a quantization step.
            for (int lod = 1; lod < perLod.Count; lod++)
            {
                double bound = (grid.BaseError * Math.Pow(2, lod + 1)) + (grid.NodeShape.Max() * Math.Pow(2, lod) / max);
                double worst = Enumerable.Range(0, perLod[lod].VertexCount).Max(v => DistanceToSurface(perLod[lod].Positions.AsSpan(3 * v, 3), perLod[0]));
                Assert.True(worst <= bound, $"segment {id} lod {lod}: a vertex is {worst:F1} nm from lod 0 (bound {bound:F1} nm)");
            }

            if (record.Id == 5)
            {
                Assert.True(perLod[^1].TriangleCount < perLod[0].TriangleCount / 2, $"the coarsest lod is coarser: {perLod[^1].TriangleCount} of {perLod[0].TriangleCount}");
            }
        }
    }

    private static double DistanceToSurface(ReadOnlySpan<double> p, MeshData surface)
    {
        double best = double.MaxValue;
        for (int t = 0; t < surface.TriangleCount; t++)
        {
            best = Math.Min(best, PointTriangleDistance(p, surface, surface.Indices[3 * t], surface.Indices[(3 * t) + 1], surface.Indices[(3 * t) + 2]));
        }

        return best;
    }

    // Closest point on a triangle by its barycentric regions (Ericson, Real-Time Collision Detection §5.1.5).
    private static double PointTriangleDistance(ReadOnlySpan<double> p, MeshData m, int ia, int ib, int ic)
    {
        double[] P = m.Positions;
        (double X, double Y, double Z) A = (P[3 * ia], P[(3 * ia) + 1], P[(3 * ia) + 2]), B = (P[3 * ib], P[(3 * ib) + 1], P[(3 * ib) + 2]), C = (P[3 * ic], P[(3 * ic) + 1], P[(3 * ic) + 2]);
        (double X, double Y, double Z) Sub((double X, double Y, double Z) u, (double X, double Y, double Z) v) => (u.X - v.X, u.Y - v.Y, u.Z - v.Z);
        double Dot((double X, double Y, double Z) u, (double X, double Y, double Z) v) => (u.X * v.X) + (u.Y * v.Y) + (u.Z * v.Z);
        (double X, double Y, double Z) Q = (p[0], p[1], p[2]);
        var ab = Sub(B, A);
        var ac = Sub(C, A);
        var ap = Sub(Q, A);
        double d1 = Dot(ab, ap), d2 = Dot(ac, ap);
        (double X, double Y, double Z) closest;
        if (d1 <= 0 && d2 <= 0)
        {
            closest = A;
        }
        else
        {
            var bp = Sub(Q, B);
            double d3 = Dot(ab, bp), d4 = Dot(ac, bp);
            var cp = Sub(Q, C);
            double d5 = Dot(ab, cp), d6 = Dot(ac, cp);
            double vc = (d1 * d4) - (d3 * d2), vb = (d5 * d2) - (d1 * d6), va = (d3 * d6) - (d5 * d4);
            if (d3 >= 0 && d4 <= d3)
            {
                closest = B;
            }
            else if (d6 >= 0 && d5 <= d6)
            {
                closest = C;
            }
            else if (vc <= 0 && d1 >= 0 && d3 <= 0)
            {
                double v = d1 / (d1 - d3);
                closest = (A.X + (v * ab.X), A.Y + (v * ab.Y), A.Z + (v * ab.Z));
            }
            else if (vb <= 0 && d2 >= 0 && d6 <= 0)
            {
                double w = d2 / (d2 - d6);
                closest = (A.X + (w * ac.X), A.Y + (w * ac.Y), A.Z + (w * ac.Z));
            }
            else if (va <= 0 && (d4 - d3) >= 0 && (d5 - d6) >= 0)
            {
                double w = (d4 - d3) / ((d4 - d3) + (d5 - d6));
                closest = (B.X + (w * (C.X - B.X)), B.Y + (w * (C.Y - B.Y)), B.Z + (w * (C.Z - B.Z)));
            }
            else
            {
                double denom = 1 / (va + vb + vc);
                double v = vb * denom, w = vc * denom;
                closest = (A.X + (ab.X * v) + (ac.X * w), A.Y + (ab.Y * v) + (ac.Y * w), A.Z + (ab.Z * v) + (ac.Z * w));
            }
        }

        var d = Sub(Q, closest);
        return Math.Sqrt(Dot(d, d));
    }

    [Fact]
    public void TheValidatorFindsDamagedSegments()
    {
        (string mesh, _, _) = Run(16);
        string dataset = Path.GetDirectoryName(mesh)!;
        List<string> Check()
        {
            var problems = new System.Collections.Concurrent.ConcurrentQueue<string>();
            using DatasetStore store = DatasetStore.Open(dataset);
            DatasetValidator.CheckMeshFolder(store, "mesh", problems, new System.Threading.Tasks.ParallelOptions());
            return problems.ToList();
        }

        void Damaged(string file, Func<byte[], byte[]> damage, string expected, int count = 1)
        {
            string path = Path.Combine(mesh, file);
            byte[] good = File.ReadAllBytes(path);
            File.WriteAllBytes(path, damage((byte[])good.Clone()));
            List<string> problems = Check();
            Assert.True(problems.Count == count && problems.All(p => p.Contains(expected, StringComparison.Ordinal)), $"{file}: expected {count} problem(s) with \"{expected}\", got: {string.Join(" | ", problems)}");
            File.WriteAllBytes(path, good);
        }

        Assert.Empty(Check());
        Damaged("5", d => d[..^1], "add up to");
        Damaged("5", d => { d[0] = (byte)'X'; return d; }, "Draco magic");
        Damaged("5.index", d => d[..^4], "multi-resolution manifest");
        Damaged("info", d => System.Text.Encoding.UTF8.GetBytes(System.Text.Encoding.UTF8.GetString(d).Replace("\"vertex_quantization_bits\":16", "\"vertex_quantization_bits\":10", StringComparison.Ordinal)), "outside [0, 2^10)", count: 3);
        File.Move(Path.Combine(mesh, "9.index"), Path.Combine(mesh, "9.moved"));
        Assert.Contains(Check(), p => p.Contains("mesh/9: fragment data without its manifest", StringComparison.Ordinal));
    }

    [Fact]
    public void TheValidatorFindsADamagedShard()
    {
        (string mesh, _, _) = Run(16, TestSharding);
        List<string> Check()
        {
            var problems = new System.Collections.Concurrent.ConcurrentQueue<string>();
            using DatasetStore store = DatasetStore.Open(Path.GetDirectoryName(mesh)!);
            DatasetValidator.CheckMeshFolder(store, "mesh", problems, new System.Threading.Tasks.ParallelOptions());
            return problems.ToList();
        }

        Assert.Empty(Check());
        string shard = Directory.EnumerateFiles(mesh, "*.shard").First();
        byte[] good = File.ReadAllBytes(shard);
        byte[] bad = (byte[])good.Clone();
        bad[16 * TestSharding.MinishardCount] = (byte)'X'; // the first fragment's "DRACO"
        File.WriteAllBytes(shard, bad);
        Assert.Contains(Check(), p => p.Contains("Draco magic", StringComparison.Ordinal));
        File.WriteAllBytes(shard, good.AsSpan(0, good.Length / 2).ToArray());
        Assert.NotEmpty(Check());
        File.WriteAllBytes(shard, good);
        Assert.Empty(Check());
    }

    /// <summary>A run stopped after meshing some chunks resumes: the same files, byte for byte, as an uninterrupted run.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async System.Threading.Tasks.Task AnInterruptedRunResumesToTheSameBytes(bool sharded)
    {
        (string fresh, _, _) = Run(16, sharded ? TestSharding : null);
        ulong[] labels = Volume(out Int3 size);
        var plan = new MeshPlanSettings { ChunkSize = new Int3(8, 8, 8), Resolution = Resolution, VoxelOffset = Offset, VolumeSize = size, Format = MeshFormat.MultiResolution, Sharding = sharded ? TestSharding : null };
        string dataset = TestData.NewScratch("mesh-multires-resume");
        List<Box3> chunks = plan.MeshingChunks().ToList();
        using (var reader = new ArrayVolumeReader(labels, size, new Int3(8, 8, 8)))
        {
            // The first run meshes a third of the chunks and stops before any segment is written.
            var first = new LegacyMeshWriter(dataset, "mesh", Offset, plan.Parameters, false) { MultiResolution = plan.ToMultiResolutionGrid() };
            first.BeginJournal();
            await SegmentMesher.RunAsync(reader, plan.ToMeshSettings(2), first, chunks.Take(chunks.Count / 3).ToList(), OperationMonitor.None, CancellationToken.None);

            var second = new LegacyMeshWriter(dataset, "mesh", Offset, plan.Parameters, false) { MultiResolution = plan.ToMultiResolutionGrid() };
            Assert.Equal(chunks.Count / 3, second.LoadJournal());
            second.BeginJournal();
            MeshRunSummary summary = await SegmentMesher.RunAsync(reader, plan.ToMeshSettings(2), second, chunks, OperationMonitor.None, CancellationToken.None);
            Assert.Equal(chunks.Count / 3, summary.ChunksSkipped);
            second.Finish();
        }

        string[] Files(string mesh) => Directory.EnumerateFiles(mesh).Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal).ToArray()!;
        string resumed = Path.Combine(dataset, "mesh");
        Assert.Equal(Files(fresh), Files(resumed));
        foreach (string name in Files(fresh))
        {
            Assert.True(File.ReadAllBytes(Path.Combine(fresh, name)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(resumed, name))), name);
        }
    }

    [Fact]
    public void SegmentFilesAreRecognisedAsMeshOutput()
    {
        Assert.Equal(12UL, LegacyMeshWriter.SegmentOfFile("12"));
        Assert.Equal(12UL, LegacyMeshWriter.SegmentOfFile("12.index"));
        Assert.Null(LegacyMeshWriter.SegmentOfFile("info"));
        Assert.Null(LegacyMeshWriter.SegmentOfFile("12.indexes"));
    }

    [Fact]
    public void ManifestParserRejectsALengthThatDoesNotMatch()
    {
        (string mesh, IReadOnlyList<SegmentMeshRecord> records, _) = Run(16);
        byte[] manifest = File.ReadAllBytes(records[0].ManifestPath);
        Assert.Equal("InvalidMeshManifest", Assert.Throws<EngineException>(() => MultiResolutionManifest.Parse(manifest.AsSpan(0, manifest.Length - 4))).ErrorId);
        Assert.Equal("InvalidMeshManifest", Assert.Throws<EngineException>(() => MultiResolutionManifest.Parse(manifest.Concat(new byte[4]).ToArray())).ErrorId);
        Assert.Equal("InvalidMeshManifest", Assert.Throws<EngineException>(() => MultiResolutionManifest.Parse(new byte[12])).ErrorId);
        Assert.True(Directory.Exists(mesh));
    }

    [Fact]
    public void QuantizationBitsOtherThan10Or16AreRefused()
    {
        var plan = new MeshPlanSettings { ChunkSize = new Int3(8, 8, 8), Format = MeshFormat.MultiResolution, VertexQuantizationBits = 12 };
        Assert.Equal("InvalidQuantizationBits", Assert.Throws<EngineException>(() => plan.ToMultiResolutionGrid()).ErrorId);
    }
}

/// <summary>Debian's draco_decoder (Google's reference decoder) on one fragment: positions and faces.</summary>
internal static class DracoDecoder
{
    public static (int[] Positions, int[] Faces) Decode(byte[] fragment)
    {
        string dir = Path.Combine(Path.GetTempPath(), "draco-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string drc = Path.Combine(dir, "m.drc");
            string obj = Path.Combine(dir, "m.obj");
            File.WriteAllBytes(drc, fragment);
            var psi = new ProcessStartInfo("draco_decoder", $"-i {drc} -o {obj}") { RedirectStandardOutput = true, RedirectStandardError = true };
            using (Process p = Process.Start(psi)!)
            {
                string err = p.StandardError.ReadToEnd() + p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                Assert.True(p.ExitCode == 0, "draco_decoder: " + err);
            }

            var positions = new List<int>();
            var faces = new List<int>();
            foreach (string line in File.ReadLines(obj))
            {
                string[] t = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (t.Length == 4 && t[0] == "v")
                {
                    for (int k = 1; k < 4; k++)
                    {
                        double value = double.Parse(t[k], CultureInfo.InvariantCulture);
                        Assert.Equal(Math.Floor(value), value);
                        positions.Add((int)value);
                    }
                }
                else if (t.Length == 4 && t[0] == "f")
                {
                    for (int k = 1; k < 4; k++)
                    {
                        faces.Add(int.Parse(t[k].Split('/')[0], CultureInfo.InvariantCulture) - 1);
                    }
                }
            }

            return (positions.ToArray(), faces.ToArray());
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
