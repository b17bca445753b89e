using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using PrecomputedTools.Module.Tests;
using PrecomputedTools.SampleGenerator;
using Xunit;

namespace PrecomputedTools.Browser.Tests;

/// <summary>
/// A dataset the module wrote, with the source voxels it came from (a raw file the Node checks read
/// directly) and probe positions whose labels are read from that source, not from the module.
/// </summary>
public sealed record ModuleDataset(
    string Name, string Root, string Path, string Raw, string RawType, string RawAxes, long RawOffset,
    IReadOnlyList<Probe> Probes, bool Meshed)
{
    /// <summary>The non-zero labels at the probes: the segments selected in the viewer.</summary>
    public IReadOnlyList<string> Segments => Probes.Where(p => p.Label != "0").Select(p => p.Label).Distinct().ToList();
}

/// <summary>A segmentation and the EM image layer under it, side by side in <paramref name="Root"/>.</summary>
public sealed record EmPair(string Root, ModuleDataset Segmentation, string ImagePath);

/// <summary>
/// Runs the module through the hosted runspace, once per test run, on the bundled sample and on the
/// Z-Brain atlas: Import-TiffStack | ConvertTo-CompressedSegmentation | Invoke-MajorityDownscale
/// | New-SegmentMesh (the last step as soon as the module exports it: the checks then require a mesh
/// for every selected segment and a non-blank 3-D panel).
/// </summary>
public sealed class ModuleDatasets : IDisposable
{
    private readonly string _scratch;

    public ModuleDatasets()
    {
        _scratch = Paths.NewScratch("browser-module");
        using var session = new ModuleSession();
        Meshed = (bool)session.RunOk("[bool](Get-Command New-SegmentMesh -Module PrecomputedTools -ErrorAction SilentlyContinue)")[0].BaseObject;
        MeshStep = Meshed ? " | New-SegmentMesh" : "";
        Sample = MakeSample(session);
        ZBrain = MakeZBrain(session);
        ZBrainSharded = MakeSharded(session, ZBrain);
        EmPair = MakeEmPair(session, Sample);
        if (Meshed)
        {
            SampleMultiResolution = MakeMultiResolution(session, Sample);
            ZBrainMultiResolution = MakeMultiResolution(session, ZBrain);
            ZBrainMultiResolutionSharded = MakeMultiResolution(session, ZBrain, sharded: true);
        }
    }

    /// <summary>Whether the module exports New-SegmentMesh, so the datasets carry legacy meshes.</summary>
    public bool Meshed { get; }

    private string MeshStep { get; }

    public ModuleDataset Sample { get; }

    public ModuleDataset ZBrain { get; }

    /// <summary>Z-Brain copied with Copy-PrecomputedDataset -Sharded: every scale in shard files, read by the viewer through byte ranges.</summary>
    public ModuleDataset ZBrainSharded { get; }

    /// <summary>The sample segmentation beside an EM-like jpeg image layer of the same volume, in one folder.</summary>
    public EmPair EmPair { get; }

    /// <summary>The sample with its meshes made again by New-SegmentMesh -Format MultiResolution (neuroglancer_multilod_draco).</summary>
    public ModuleDataset? SampleMultiResolution { get; }

    /// <summary>Z-Brain with multi-resolution meshes: the viewer reads manifests, then fragment data by byte ranges, coarse lods first.</summary>
    public ModuleDataset? ZBrainMultiResolution { get; }

    /// <summary>Z-Brain with multi-resolution meshes in shard files (manifests and fragments read out of mesh/&lt;n&gt;.shard by byte ranges).</summary>
    public ModuleDataset? ZBrainMultiResolutionSharded { get; }

    private ModuleDataset MakeMultiResolution(ModuleSession session, ModuleDataset source, bool sharded = false)
    {
        string name = source.Name + (sharded ? "-multires-sharded" : "-multires");
        string root = System.IO.Path.Combine(_scratch, name + "-root");
        string path = System.IO.Path.Combine(root, source.Name);
        session.RunOk(
            "Copy-PrecomputedDataset -Path $in -Destination $out | Out-Null; New-SegmentMesh -Path $out -Format MultiResolution -Sharded:$sharded -Force | Out-Null",
            new Dictionary<string, object?> { ["in"] = source.Path, ["out"] = path, ["sharded"] = sharded });
        return source with { Name = name, Root = root, Path = path };
    }

    // An EM-like uint8 image of the sample's own cells (dark membranes where the label changes, a
    // brightness per cell, granular texture and noise), through TIFF slices to a jpeg image layer
    // with an averaged pyramid; the segmentation is copied beside it.
    private EmPair MakeEmPair(ModuleSession session, ModuleDataset segmentation)
    {
        string root = System.IO.Path.Combine(_scratch, "em-pair-root");
        string slices = System.IO.Path.Combine(_scratch, "sample-em-slices");
        ushort[] labels = SampleVolume.Generate();
        int sx = SampleVolume.SizeX, sy = SampleVolume.SizeY;
        ushort Label(int x, int y, int z) => labels[Math.Clamp(x, 0, sx - 1) + (sx * (Math.Clamp(y, 0, sy - 1) + (sy * z)))];
        static int Noise(int x, int y, int z) => (int)((((uint)(x * 73856093) ^ (uint)(y * 19349663) ^ (uint)(z * 83492791)) * 2654435761u) >> 27) - 16;
        TinyTiff.WriteStack(slices, sx, sy, SampleVolume.SizeZ, (x, y, z) =>
        {
            ushort l = Label(x, y, z);
            bool membrane = l != Label(x + 1, y, z) || l != Label(x, y + 1, z) || l != Label(x - 1, y, z) || l != Label(x, y - 1, z);
            int value = membrane ? 35 : l == 0 ? 95 : 135 + (l * 37 % 80) + ((((x / 3) + (y / 3)) % 4) * 6);
            return (byte)Math.Clamp(value + Noise(x, y, z), 0, 255);
        });
        string image = System.IO.Path.Combine(root, "sample-em");
        string copy = System.IO.Path.Combine(root, segmentation.Name);
        session.RunOk(
            "Import-TiffStack -Path $slices -Resolution 800, 800, 2000 | ConvertTo-CompressedSegmentation -Path $image -Encoding jpeg -Quality 90 | Invoke-MajorityDownscale | Out-Null; Copy-PrecomputedDataset -Path $seg -Destination $copy | Out-Null",
            new Dictionary<string, object?> { ["slices"] = slices, ["image"] = image, ["seg"] = segmentation.Path, ["copy"] = copy });
        return new EmPair(root, segmentation with { Name = "sample-with-em", Root = root, Path = copy }, image);
    }

    private ModuleDataset MakeSharded(ModuleSession session, ModuleDataset source)
    {
        string root = System.IO.Path.Combine(_scratch, source.Name + "-sharded-root");
        string path = System.IO.Path.Combine(root, source.Name);
        session.RunOk("Copy-PrecomputedDataset -Path $in -Destination $out -Sharded | Out-Null", new Dictionary<string, object?> { ["in"] = source.Path, ["out"] = path });
        return source with { Name = source.Name + "-sharded", Root = root, Path = path };
    }

    private ModuleDataset MakeSample(ModuleSession session)
    {
        string root = System.IO.Path.Combine(_scratch, "sample-root");
        string path = System.IO.Path.Combine(root, "sample");
        string samples = System.IO.Path.Combine(Paths.RepoRoot, "module", "samples", "sample-labels");
        session.RunOk(
            "Import-TiffStack -Path $samples -Resolution 800, 800, 2000 | ConvertTo-CompressedSegmentation -Path $out | Invoke-MajorityDownscale" + MeshStep + " | Out-Null",
            new Dictionary<string, object?> { ["samples"] = samples, ["out"] = path });

        // Ground truth: the generator the committed sample was written by (a test in main checks they agree).
        ushort[] labels = SampleVolume.Generate();
        string raw = System.IO.Path.Combine(_scratch, "sample.u16");
        var bytes = new byte[labels.Length * 2];
        Buffer.BlockCopy(labels, 0, bytes, 0, bytes.Length);
        File.WriteAllBytes(raw, bytes);
        int[] size = { SampleVolume.SizeX, SampleVolume.SizeY, SampleVolume.SizeZ };
        IReadOnlyList<Probe> probes = PickProbes(size, (x, y, z) => labels[x + size[0] * (y + size[1] * z)], 4);
        return new ModuleDataset("sample", root, path, raw, "uint16", "xyz", 0, probes, Meshed);
    }

    private ModuleDataset MakeZBrain(ModuleSession session)
    {
        string root = System.IO.Path.Combine(_scratch, "zbrain-root");
        string path = System.IO.Path.Combine(root, "zbrain");
        string tif = System.IO.Path.Combine(_scratch, "ZBrain2_0.tif");
        using (ZipArchive zip = ZipFile.OpenRead(System.IO.Path.Combine(Paths.SharedData, "zbrain", "ZBrain2_0.zip")))
        {
            zip.GetEntry("ZBrain2_0.tif")!.ExtractToFile(tif);
        }

        // The guide's orientation: x = TIFF row, y = TIFF column (-SwapXY), 1406 x 621 x 138 at 798 x 798 x 2000 nm.
        session.RunOk(
            "Import-TiffStack -Path $tif -SwapXY -Resolution 798, 798, 2000 | ConvertTo-CompressedSegmentation -Path $out | Invoke-MajorityDownscale" + MeshStep + " | Out-Null",
            new Dictionary<string, object?> { ["tif"] = tif, ["out"] = path });

        // The TIFF is uncompressed uint8 with contiguous pages from byte 181 (shared/data/README.md):
        // within a page the column (= y) is fastest, then the row (= x), then the page (= z).
        const long pixelOffset = 181;
        const int rows = 1406, columns = 621, pages = 138;
        int[] size = { rows, columns, pages };
        using FileStream stream = File.OpenRead(tif);
        byte ReadVoxel(int x, int y, int z)
        {
            stream.Position = pixelOffset + ((long)z * rows + x) * columns + y;
            return (byte)stream.ReadByte();
        }

        IReadOnlyList<Probe> probes = PickProbes(size, (x, y, z) => ReadVoxel(x, y, z), 4);
        return new ModuleDataset("zbrain", root, path, tif, "uint8", "yxz", pixelOffset, probes, Meshed);
    }

    /// <summary>
    /// Deterministic probes: scan a lattice of interior points and keep the first <paramref name="count"/>
    /// with distinct non-zero labels, plus one background voxel.
    /// </summary>
    private static IReadOnlyList<Probe> PickProbes(int[] size, Func<int, int, int, int> label, int count)
    {
        var probes = new List<Probe>();
        var seen = new HashSet<int>();
        Probe? background = null;
        for (int k = 1; k < 8 && probes.Count < count; k++)
        {
            for (int j = 1; j < 8 && probes.Count < count; j++)
            {
                for (int i = 1; i < 8 && probes.Count < count; i++)
                {
                    int x = size[0] * i / 8, y = size[1] * j / 8, z = size[2] * k / 8;
                    int v = label(x, y, z);
                    if (v == 0)
                    {
                        background ??= new Probe(x, y, z, "0");
                    }
                    else if (seen.Add(v))
                    {
                        probes.Add(new Probe(x, y, z, v.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                    }
                }
            }
        }

        Assert.True(probes.Count == count, $"only {probes.Count} labelled probe positions found");
        if (background is not null)
        {
            probes.Add(background);
        }

        return probes;
    }

    public void Dispose() => Directory.Delete(_scratch, recursive: true);
}

/// <summary>The module runs once per test run for all classes that view or decode its output.</summary>
[CollectionDefinition(Name)]
public sealed class ModuleDatasetsCollection : ICollectionFixture<ModuleDatasets>
{
    public const string Name = "module datasets";
}
