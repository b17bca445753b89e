using System;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Text.Json.Nodes;
using Xunit;

namespace PrecomputedTools.Module.Tests;

public class NewSegmentMeshTests
{
    private const ulong Big = 18446744073709551614UL; // 2^64 − 2

    /// <summary>A raw uint64 dataset of one 20×16×8 chunk: a box of <see cref="Big"/>, a box of 5, or only zeros.</summary>
    private static string RawDataset(string name, bool empty = false)
    {
        string root = Path.Combine(Paths.NewScratch("mesh-module"), name);
        Directory.CreateDirectory(Path.Combine(root, "s0"));
        File.WriteAllText(Path.Combine(root, "info"), "{\"@type\":\"neuroglancer_multiscale_volume\",\"type\":\"segmentation\",\"data_type\":\"uint64\",\"num_channels\":1,"
            + "\"scales\":[{\"key\":\"s0\",\"size\":[20,16,8],\"voxel_offset\":[0,0,0],\"resolution\":[8,8,40],\"chunk_sizes\":[[20,16,8]],\"encoding\":\"raw\"}]}");
        byte[] bytes = new byte[20 * 16 * 8 * 8];
        if (!empty)
        {
            for (int z = 0; z < 8; z++)
            {
                for (int y = 0; y < 16; y++)
                {
                    for (int x = 0; x < 20; x++)
                    {
                        ulong label = x >= 2 && x < 9 && y >= 3 && y < 12 && z >= 1 && z < 6 ? Big : x >= 12 && y >= 4 && z >= 2 ? 5UL : 0UL;
                        BitConverter.GetBytes(label).CopyTo(bytes, 8 * (x + (20 * (y + (16 * z)))));
                    }
                }
            }
        }

        File.WriteAllBytes(Path.Combine(root, "s0", "0-20_0-16_0-8"), bytes);
        return root;
    }

    [Fact]
    public void SampleDatasetMeshesThroughThePipeline()
    {
        using var s = new ModuleSession();
        string samples = Path.Combine(Paths.RepoRoot, "module", "samples", "sample-labels");
        string dataset = Path.Combine(Paths.NewScratch("mesh-sample"), "sample");
        var output = s.RunOk(
            "Import-TiffStack -Path $samples -Resolution 800,800,2000 | ConvertTo-CompressedSegmentation -Path $dataset -TargetChunkSize 64 -Force | New-SegmentMesh -SegmentName @{ 1 = 'first'; '2' = 'second' } -ThrottleLimit 2",
            new System.Collections.Generic.Dictionary<string, object?> { ["samples"] = samples, ["dataset"] = dataset });
        Assert.True(output.Count >= 2);
        Assert.Equal("PrecomputedTools.PrecomputedDataset", output[^1].BaseObject.GetType().FullName);
        Assert.Equal("mesh", output[^1].Properties["MeshDirectory"].Value);
        var meshes = output.Take(output.Count - 1).ToList();
        Assert.All(meshes, m => Assert.Equal("PrecomputedTools.SegmentMesh", m.BaseObject.GetType().FullName));
        Assert.Equal(meshes.Select(m => (ulong)m.Properties["Id"].Value).OrderBy(i => i), meshes.Select(m => (ulong)m.Properties["Id"].Value));
        foreach (PSObject m in meshes)
        {
            string manifest = (string)m.Properties["ManifestPath"].Value;
            Assert.Equal(m.Properties["SegmentId"].Value + ":0", Path.GetFileName(manifest));
            JsonArray fragments = JsonNode.Parse(File.ReadAllText(manifest))!["fragments"]!.AsArray();
            Assert.Equal((string[])m.Properties["Fragments"].Value, fragments.Select(f => f!.GetValue<string>()).ToArray());
            Assert.All(fragments, f => Assert.True(File.Exists(Path.Combine(dataset, "mesh", f!.GetValue<string>()))));
            Assert.True((long)m.Properties["TriangleCount"].Value > 0);
        }

        Assert.Equal("first", meshes.First(m => (ulong)m.Properties["Id"].Value == 1).Properties["Name"].Value);
        JsonNode info = JsonNode.Parse(File.ReadAllText(Path.Combine(dataset, "info")))!;
        Assert.Equal("mesh", info["mesh"]!.GetValue<string>());
        Assert.Equal("segment_properties", info["segment_properties"]!.GetValue<string>());
        Assert.Equal("neuroglancer_legacy_mesh", JsonNode.Parse(File.ReadAllText(Path.Combine(dataset, "mesh", "info")))!["@type"]!.GetValue<string>());
        JsonNode props = JsonNode.Parse(File.ReadAllText(Path.Combine(dataset, "segment_properties", "info")))!;
        Assert.Equal(new[] { "1", "2" }, props["inline"]!["ids"]!.AsArray().Select(n => n!.GetValue<string>()).ToArray());
        Assert.False(Directory.Exists(Path.Combine(dataset, ".pt-mesh-journal")));

        // A second run without -Force or -Resume refuses to overwrite; -WhatIf writes nothing.
        RunResult again = s.Run("New-SegmentMesh -Path $dataset", new System.Collections.Generic.Dictionary<string, object?> { ["dataset"] = dataset });
        Assert.Equal("OutputExists,PrecomputedTools.Commands.NewSegmentMeshCommand", again.FirstError?.FullyQualifiedErrorId);
        DateTime stamp = File.GetLastWriteTimeUtc(Path.Combine(dataset, "mesh", "info"));
        s.TakeHostText();
        s.RunOk("New-SegmentMesh -Path $dataset -Force -WhatIf | Out-Null", new System.Collections.Generic.Dictionary<string, object?> { ["dataset"] = dataset });
        Assert.Contains("What if:", s.TakeHostText());
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(Path.Combine(dataset, "mesh", "info")));

        // The table view.
        s.RunOk("New-SegmentMesh -Path $dataset -Force -NoSimplify | Out-Default", new System.Collections.Generic.Dictionary<string, object?> { ["dataset"] = dataset });
        string text = s.TakeHostText();
        Assert.Contains("SegmentId", text);
        Assert.Contains("Triangles", text);
    }

    [Fact]
    public void IdsAbove2To63FlowThroughNamesJsonAndOutput()
    {
        using var s = new ModuleSession();
        string dataset = RawDataset("big");
        var vars = new System.Collections.Generic.Dictionary<string, object?> { ["dataset"] = dataset };
        RunResult result = s.Run("New-SegmentMesh -Path $dataset -ColonFreeManifest -SegmentId 18446744073709551614, 77 -SegmentName @{ '18446744073709551614' = 'max-1' }", vars);
        Assert.Null(result.Terminating);
        Assert.Empty(result.PowerShell.Streams.Error);
        Assert.Contains(result.PowerShell.Streams.Warning, w => w.Message.Contains("77") && w.Message.Contains("no voxels"));
        PSObject mesh = result.Output.First();
        Assert.Equal(Big, (ulong)mesh.Properties["Id"].Value);
        Assert.Equal("18446744073709551614", mesh.Properties["SegmentId"].Value);
        Assert.Equal("max-1", mesh.Properties["Name"].Value);
        Assert.Equal(2, result.Output.Count); // the one mesh, then the dataset
        string manifest = Path.Combine(dataset, "mesh", "18446744073709551614.json");
        Assert.True(File.Exists(manifest));
        Assert.All(Directory.EnumerateFiles(Path.Combine(dataset, "mesh")), f => Assert.DoesNotContain(':', Path.GetFileName(f)));
        Assert.False(File.Exists(Path.Combine(dataset, "mesh", "5.json")), "-SegmentId restricts the meshed ids");
        JsonNode props = JsonNode.Parse(File.ReadAllText(Path.Combine(dataset, "segment_properties", "info")))!;
        Assert.Equal("18446744073709551614", props["inline"]!["ids"]![0]!.GetValue<string>());
        string fragment = JsonNode.Parse(File.ReadAllText(manifest))!["fragments"]![0]!.GetValue<string>();
        Assert.StartsWith("18446744073709551614_", fragment);

        // Aligned placement: the box's voxels x 2..8 at 8 nm give a mesh within [16, 72] nm.
        byte[] bytes = File.ReadAllBytes(Path.Combine(dataset, "mesh", fragment));
        int nv = BitConverter.ToInt32(bytes, 0);
        float minX = float.MaxValue, maxX = float.MinValue;
        for (int v = 0; v < nv; v++)
        {
            float x = BitConverter.ToSingle(bytes, 4 + (12 * v));
            minX = Math.Min(minX, x);
            maxX = Math.Max(maxX, x);
        }

        Assert.Equal(16f, minX);
        Assert.Equal(72f, maxX);
    }

    [Fact]
    public void BackgroundOnlyAndCsvNamesGiveClearOutcomes()
    {
        using var s = new ModuleSession();
        string empty = RawDataset("empty", empty: true);
        RunResult result = s.Run("New-SegmentMesh -Path $dataset", new System.Collections.Generic.Dictionary<string, object?> { ["dataset"] = empty });
        Assert.Null(result.Terminating);
        Assert.Empty(result.PowerShell.Streams.Error);
        Assert.Contains(result.PowerShell.Streams.Warning, w => w.Message.Contains("only background"));
        Assert.Single(result.Output); // just the dataset

        string dataset = RawDataset("csv");
        // Rows as Import-Csv gives them (this host has no Import-Csv; tests/Pester reads real CSV files).
        const string rows = "@([pscustomobject]@{ id = '5'; name = 'Raphe, Inferior'; path = 'Hindbrain / Raphe' }, [pscustomobject]@{ id = '18446744073709551614'; name = 'big'; path = 'x' })";
        var output = s.RunOk("New-SegmentMesh -Path $dataset -SegmentName " + rows + " -LegacyVertexPlacement", new System.Collections.Generic.Dictionary<string, object?> { ["dataset"] = dataset });
        Assert.Equal(new ulong[] { 5, Big }, output.Take(2).Select(o => (ulong)o.Properties["Id"].Value).ToArray());
        Assert.Equal("Raphe, Inferior", output[0].Properties["Name"].Value);
        Assert.True(File.Exists(Path.Combine(dataset, "mesh", "5:0")));
        JsonNode props = JsonNode.Parse(File.ReadAllText(Path.Combine(dataset, "segment_properties", "info")))!;
        Assert.Equal("path", props["inline"]!["properties"]![1]!["id"]!.GetValue<string>());
        Assert.Equal("Hindbrain / Raphe", props["inline"]!["properties"]![1]!["values"]![0]!.GetValue<string>());

        RunResult bad = s.Run("New-SegmentMesh -Path $dataset -Force -Resume", new System.Collections.Generic.Dictionary<string, object?> { ["dataset"] = dataset });
        Assert.Equal("ForceAndResume,PrecomputedTools.Commands.NewSegmentMeshCommand", bad.FirstError?.FullyQualifiedErrorId);
    }

    [Fact]
    public void CommandContract()
    {
        using var s = new ModuleSession();
        var output = s.RunOk("(Get-Command New-SegmentMesh).OutputType | ForEach-Object { $_.Name }");
        Assert.Contains("PrecomputedTools.SegmentMesh", output.Select(o => o.ToString()));
        Assert.Contains("PrecomputedTools.PrecomputedDataset", output.Select(o => o.ToString()));
        var help = s.RunOk("(Get-Command New-SegmentMesh).Parameters.Keys");
        foreach (string p in new[] { "InputObject", "Scale", "SegmentId", "ReductionFactor", "MaxError", "SegmentName", "ThrottleLimit", "Force", "Resume", "WhatIf", "ColonFreeManifest" })
        {
            Assert.Contains(p, help.Select(o => o.ToString()));
        }
    }
}
