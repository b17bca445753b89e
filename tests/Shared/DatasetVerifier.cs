using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace PrecomputedTools.Tests.Shared;

/// <summary>
/// Checks a written dataset against the source labels using only the reference oracles: scale 0
/// voxel for voxel, every lower scale against a cascaded reference majority of the scale above.
/// Reads the info with System.Text.Json, not with the module's parser.
/// </summary>
public static class DatasetVerifier
{
    public sealed record Scale(string Key, int[] Size, int[] Chunk, int[] Block, int[] Offset, double[] Resolution);

    public static List<Scale> ReadScales(string dataset)
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dataset, "info")));
        var scales = new List<Scale>();
        foreach (JsonElement s in doc.RootElement.GetProperty("scales").EnumerateArray())
        {
            int[] Ints(string name) => s.GetProperty(name).EnumerateArray().Select(e => e.GetInt32()).ToArray();
            scales.Add(new Scale(
                s.GetProperty("key").GetString()!,
                Ints("size"),
                s.GetProperty("chunk_sizes")[0].EnumerateArray().Select(e => e.GetInt32()).ToArray(),
                s.GetProperty("encoding").GetString() == "compressed_segmentation" ? Ints("compressed_segmentation_block_size") : new[] { 0, 0, 0 },
                Ints("voxel_offset"),
                s.GetProperty("resolution").EnumerateArray().Select(e => e.GetDouble()).ToArray()));
        }

        return scales;
    }

    /// <summary>Returns a list of mismatches (empty when the dataset is right); checks every chunk file.</summary>
    public static List<string> Verify(string dataset, ulong[] source, int[] size, int maxReports = 20)
    {
        var problems = new List<string>();
        List<Scale> scales = ReadScales(dataset);
        ulong[] expected = source;
        int[] expectedSize = size;
        for (int s = 0; s < scales.Count; s++)
        {
            Scale scale = scales[s];
            if (s > 0)
            {
                int[] factor = Enumerable.Range(0, 3).Select(d => (int)Math.Round(scale.Resolution[d] / scales[s - 1].Resolution[d])).ToArray();
                expected = ReferenceImplementations.Majority(expected, expectedSize[0], expectedSize[1], expectedSize[2], factor[0], factor[1], factor[2]);
                expectedSize = Enumerable.Range(0, 3).Select(d => (expectedSize[d] + factor[d] - 1) / factor[d]).ToArray();
            }

            if (!scale.Size.SequenceEqual(expectedSize))
            {
                problems.Add($"{scale.Key}: size [{string.Join(",", scale.Size)}], expected [{string.Join(",", expectedSize)}]");
                return problems;
            }

            for (int z0 = 0; z0 < scale.Size[2]; z0 += scale.Chunk[2])
            {
                for (int y0 = 0; y0 < scale.Size[1]; y0 += scale.Chunk[1])
                {
                    for (int x0 = 0; x0 < scale.Size[0]; x0 += scale.Chunk[0])
                    {
                        int x1 = Math.Min(x0 + scale.Chunk[0], scale.Size[0]);
                        int y1 = Math.Min(y0 + scale.Chunk[1], scale.Size[1]);
                        int z1 = Math.Min(z0 + scale.Chunk[2], scale.Size[2]);
                        string name = $"{x0 + scale.Offset[0]}-{x1 + scale.Offset[0]}_{y0 + scale.Offset[1]}-{y1 + scale.Offset[1]}_{z0 + scale.Offset[2]}-{z1 + scale.Offset[2]}";
                        string file = Path.Combine(dataset, scale.Key, name + ".gz");
                        if (!File.Exists(file))
                        {
                            file = Path.Combine(dataset, scale.Key, name);
                        }

                        if (!File.Exists(file))
                        {
                            problems.Add($"{scale.Key}/{name}: missing");
                            continue;
                        }

                        ulong[] decoded = ReferenceImplementations.DecodeCompressedSegmentation(
                            ReferenceImplementations.ReadChunkFile(file), x1 - x0, y1 - y0, z1 - z0, scale.Block[0], scale.Block[1], scale.Block[2]);
                        for (int z = z0; z < z1 && problems.Count < maxReports; z++)
                        {
                            for (int y = y0; y < y1; y++)
                            {
                                for (int x = x0; x < x1; x++)
                                {
                                    ulong want = expected[x + (long)expectedSize[0] * (y + (long)expectedSize[1] * z)];
                                    ulong got = decoded[(x - x0) + (long)(x1 - x0) * ((y - y0) + (long)(y1 - y0) * (z - z0))];
                                    if (want != got)
                                    {
                                        problems.Add($"{scale.Key}/{name}: voxel ({x},{y},{z}) is {got}, expected {want}");
                                        goto nextChunk;
                                    }
                                }
                            }
                        }

                    nextChunk:;
                    }
                }
            }
        }

        return problems;
    }
}
