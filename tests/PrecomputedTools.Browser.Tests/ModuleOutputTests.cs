using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Xunit;
using Xunit.Abstractions;

namespace PrecomputedTools.Browser.Tests;

/// <summary>What the module writes, read by neuroglancer's own code: in Node, and in the viewer.</summary>
[Collection(ModuleDatasetsCollection.Name)]
public sealed class ModuleOutputTests
{
    private readonly ModuleDatasets _datasets;
    private readonly ITestOutputHelper _log;

    public ModuleOutputTests(ModuleDatasets datasets, ITestOutputHelper log)
    {
        _datasets = datasets;
        _log = log;
    }

    private ModuleDataset Get(string name) => name switch
    {
        "sample" => _datasets.Sample,
        "zbrain" => _datasets.ZBrain,
        "zbrain-sharded" => _datasets.ZBrainSharded,
        "sample-multires" => _datasets.SampleMultiResolution ?? throw new InvalidOperationException("the module does not mesh"),
        "zbrain-multires" => _datasets.ZBrainMultiResolution ?? throw new InvalidOperationException("the module does not mesh"),
        "zbrain-multires-sharded" => _datasets.ZBrainMultiResolutionSharded ?? throw new InvalidOperationException("the module does not mesh"),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    /// <summary>
    /// Every chunk of every scale decodes with neuroglancer's decoder; scale 0 equals the source
    /// voxels. Meshes go through the viewer's decoders too: multi-resolution fragments through its
    /// Draco WebAssembly decoder and partition, placed inside each segment's voxel box.
    /// </summary>
    [Theory]
    [InlineData("sample")]
    [InlineData("zbrain")]
    [InlineData("zbrain-sharded")]
    [InlineData("sample-multires")]
    [InlineData("zbrain-multires")]
    [InlineData("zbrain-multires-sharded")]
    public void DecodeCheck_ModuleOutputEqualsTheSource(string name)
    {
        ModuleDataset ds = Get(name);
        NodeResult r = Checks.Decode(ds.Path, ds.Raw, ds.RawType, ds.RawAxes, ds.RawOffset, ds.Meshed ? ds.Segments : Array.Empty<string>(), _log);
        Checks.AssertOk(r, "DECODE-CHECK");
        Assert.DoesNotContain("\"voxelsCompared\":0", r.Stdout);
    }

    /// <summary>
    /// The multi-resolution checks can fail: a manifest cut short, a fragment that is not Draco, and a
    /// lod-1 vertex moved across its node's split (the viewer's partition then holds a triangle
    /// outside its octant), each named.
    /// </summary>
    [Fact]
    public void DecodeCheck_NamesBrokenMultiResolutionMeshes()
    {
        ModuleDataset ds = Get("zbrain-multires");
        string copy = Path.Combine(Path.GetTempPath(), "pt-broken-multires-" + Guid.NewGuid().ToString("N"));
        try
        {
            foreach (string file in Directory.EnumerateFiles(ds.Path, "*", SearchOption.AllDirectories))
            {
                string target = Path.Combine(copy, Path.GetRelativePath(ds.Path, file));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target);
            }

            string mesh = Path.Combine(copy, "mesh");
            List<string> ids = Directory.EnumerateFiles(mesh, "*.index").Select(f => Path.GetFileNameWithoutExtension(f)).OrderBy(n => n, StringComparer.Ordinal).ToList();
            string cut = ids[0], notDraco = ids[1];
            using (FileStream f = File.OpenWrite(Path.Combine(mesh, cut + ".index")))
            {
                f.SetLength(f.Length - 4);
            }

            byte[] data = File.ReadAllBytes(Path.Combine(mesh, notDraco));
            data[0] = (byte)'X';
            File.WriteAllBytes(Path.Combine(mesh, notDraco), data);
            string crossed = ids.Skip(2).First(id => MoveALod1VertexAcrossTheSplit(Path.Combine(mesh, id)));

            NodeResult r = Checks.Decode(copy, ds.Raw, ds.RawType, ds.RawAxes, ds.RawOffset, Array.Empty<string>(), _log);
            Assert.Equal(1, r.ExitCode);
            IReadOnlyList<string> fails = r.Lines("DECODE-CHECK FAIL");
            Assert.Contains(fails, l => l.Contains($"{cut}.index: ", StringComparison.Ordinal) && l.Contains("the viewer requires exactly", StringComparison.Ordinal));
            Assert.Contains(fails, l => l.Contains($"{notDraco}.index: lod 0 fragment 0: the viewer's Draco decoder failed", StringComparison.Ordinal));
            Assert.Contains(fails, l => l.Contains($"{crossed}.index: lod 1 ", StringComparison.Ordinal) && l.Contains("crosses the 2x2x2 split", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(copy, recursive: true);
        }
    }

    // The first lod-1 fragment of the segment replaced by a one-triangle Draco mesh written here by
    // hand (sequential connectivity, plain indices, generic int32 positions) whose triangle spans
    // the node's split; the manifest's size for it is updated so that everything else still fits.
    private static bool MoveALod1VertexAcrossTheSplit(string dataFile)
    {
        byte[] manifest = File.ReadAllBytes(dataFile + ".index");
        int lods = BitConverter.ToInt32(manifest, 24);
        if (lods < 2)
        {
            return false;
        }

        int at = 28 + (4 * lods) + (12 * lods);
        int lod0 = BitConverter.ToInt32(manifest, at);
        int lod1 = BitConverter.ToInt32(manifest, at + 4);
        at += 4 * lods;
        long offset = 0;
        at += 12 * lod0;
        for (int i = 0; i < lod0; i++, at += 4)
        {
            offset += BitConverter.ToUInt32(manifest, at);
        }

        at += 12 * lod1;
        int oldSize = BitConverter.ToInt32(manifest, at);
        var fragment = new List<byte>();
        fragment.AddRange(System.Text.Encoding.ASCII.GetBytes("DRACO"));
        fragment.AddRange(new byte[] { 2, 2, 1, 0, 0, 0 }); // version 2.2, mesh, sequential, no flags
        fragment.AddRange(new byte[] { 1, 3, 1, 0, 1, 2 }); // 1 face, 3 points, plain indices 0 1 2
        fragment.AddRange(new byte[] { 1, 1, 0, 5, 3, 0, 0, 0 }); // one POSITION of 3 x int32, generic
        foreach (int v in new[] { 0, 0, 0, 65535, 0, 0, 0, 65535, 0 })
        {
            fragment.AddRange(BitConverter.GetBytes(v));
        }

        byte[] data = File.ReadAllBytes(dataFile);
        byte[] changed = data.Take((int)offset).Concat(fragment).Concat(data.Skip((int)offset + oldSize)).ToArray();
        BitConverter.GetBytes(fragment.Count).CopyTo(manifest, at);
        File.WriteAllBytes(dataFile, changed);
        File.WriteAllBytes(dataFile + ".index", manifest);
        return true;
    }

#if !HOSTS
    /// <summary>
    /// The module's output in the viewer, served by the driver's reference server (nginx gzip_static
    /// semantics). Superseded by <c>HostedViewTests</c> (the module's own hosts) once they compile.
    /// </summary>
    [Theory]
    [InlineData("sample")]
    [InlineData("zbrain")]
    public void ViewCheck_ModuleOutputFromTheReferenceServer(string name)
    {
        ModuleDataset ds = Get(name);
        NodeResult r = Checks.ViewReference($"{name}-reference", ds.Root, ds.Path, ds.Segments, ds.Probes, "none", _log);
        Checks.AssertOk(r, "VIEW-CHECK");
        foreach (Probe p in ds.Probes)
        {
            Assert.Contains($"\"expected\":\"{p.Label}\",\"seen\":\"{p.Label}\"", r.Stdout);
        }
    }
#endif
}
