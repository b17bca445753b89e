using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using PrecomputedTools.Tests.Shared;
using Xunit;

namespace PrecomputedTools.Module.Tests;

/// <summary>Issue 2 through the hosted runspace: the guide's pipeline, errors, -WhatIf, Ctrl+C and -Resume.</summary>
public class PipelineCmdletTests
{
    private static string SampleFolder => Path.Combine(Paths.RepoRoot, "module", "samples", "sample-labels");

    private static string ZBrainTiff
    {
        get
        {
            // Shared with the engine tests: extracted once per machine.
            string target = Path.Combine(Path.GetTempPath(), "pt-tests", "zbrain", "ZBrain2_0.tif");
            if (!File.Exists(target) || new FileInfo(target).Length != 120_508_831)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                using var zip = System.IO.Compression.ZipFile.OpenRead(Path.Combine(Paths.SharedData, "zbrain", "ZBrain2_0.zip"));
                string temp = target + "." + Guid.NewGuid().ToString("N") + ".tmp";
                zip.GetEntry("ZBrain2_0.tif")!.ExtractToFile(temp);
                File.Move(temp, target, overwrite: true);
            }

            return target;
        }
    }

    private static Dictionary<string, object?> Vars(params (string Name, object? Value)[] pairs) => pairs.ToDictionary(p => p.Name, p => p.Value);

    [Fact]
    public void TheGuidesPipelineWithItsOwnInfoFileGivesTheRightVoxels()
    {
        using var session = new ModuleSession();
        string work = Paths.NewScratch("guide");
        string infoFile = Path.Combine(work, "info.json");
        // The guide's base info, as a user has it: encoding at the top level.
        File.WriteAllText(infoFile, """
            {
                "encoding": "compressed_segmentation",
                "scales": [ { "voxel_offset": [0,0,0], "resolution": [798,798,2000], "size": [1406,621,138] } ],
                "compressed_segmentation_block_size": [8,8,8],
                "data_type": "uint64",
                "mesh": "mesh",
                "type": "segmentation",
                "num_channels": 1
            }
            """);
        string output = Path.Combine(work, "output");
        var result = session.Run(
            "New-PrecomputedInfo -Path $info -Destination $out -TargetChunkSize 256 | Out-Null; " +
            "Import-TiffStack -Path $tif -SwapXY | ConvertTo-CompressedSegmentation -Path $out | Invoke-MajorityDownscale",
            Vars(("info", infoFile), ("out", output), ("tif", ZBrainTiff)));
        Assert.Null(result.Terminating);
        Assert.Empty(result.PowerShell.Streams.Error);
        Assert.Contains(result.PowerShell.Streams.Warning, w => w.Message.Contains("top level", StringComparison.Ordinal));
        PSObject dataset = Assert.Single(result.Output);
        Assert.Equal("PrecomputedTools.PrecomputedDataset", dataset.BaseObject.GetType().FullName);

        var scales = DatasetVerifier.ReadScales(output);
        Assert.Equal(new[] { "1um", "2um", "3um" }, scales.Select(s => s.Key));
        Assert.All(scales, s => Assert.Equal(new[] { 8, 8, 8 }, s.Block));
        ulong[] labels = ReferenceImplementations.LoadZBrainLabels(ZBrainTiff);
        Assert.Empty(DatasetVerifier.Verify(output, labels, new[] { 1406, 621, 138 }));

        var report = session.RunOk("Test-PrecomputedDataset -Path $out", Vars(("out", output)));
        Assert.True((bool)Assert.Single(report).Properties["IsValid"].Value);
    }

    [Theory]
    [InlineData("mismatch", "TiffSliceMismatch", ErrorCategory.InvalidData)]
    [InlineData("nottiff", "NotATiffFile", ErrorCategory.InvalidData)]
    [InlineData("empty", "NoTiffSlices", ErrorCategory.ObjectNotFound)]
    [InlineData("rgb", "UnsupportedTiffFormat", ErrorCategory.InvalidData)]
    public void BadTiffInputGivesAClearErrorAndWritesNothing(string kind, string errorId, ErrorCategory category)
    {
        using var session = new ModuleSession();
        string work = Paths.NewScratch("bad-" + kind);
        string input = Path.Combine(work, "in");
        Directory.CreateDirectory(input);
        string sample = Path.Combine(SampleFolder, "slice_0.tif");
        switch (kind)
        {
            case "mismatch":
                File.Copy(sample, Path.Combine(input, "a1.tif"));
                // A slice of another size: the TIFF of a different stack.
                File.WriteAllBytes(Path.Combine(input, "a2.tif"), TinyTiff(4, 4));
                break;
            case "nottiff":
                File.WriteAllText(Path.Combine(input, "slice.tif"), "plain text, not a TIFF");
                break;
            case "rgb":
                File.WriteAllBytes(Path.Combine(input, "rgb.tif"), TinyTiff(4, 4, samplesPerPixel: 3));
                break;
        }

        string output = Path.Combine(work, "out");
        var result = session.Run(
            "Import-TiffStack -Path $in -ErrorAction Stop | ConvertTo-CompressedSegmentation -Path $out -Resolution 1,1,1",
            Vars(("in", input), ("out", output)));
        ErrorRecord error = Assert.IsType<ErrorRecord>(result.FirstError);
        Assert.Equal(errorId + ",PrecomputedTools.Commands.ImportTiffStackCommand", error.FullyQualifiedErrorId);
        Assert.Equal(category, error.CategoryInfo.Category);
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void TheInfoPlannedForAVolumeHasTheLabelTypeConvertingItWrites()
    {
        using var session = new ModuleSession();
        string work = Paths.NewScratch("label-type");
        var vars = Vars(("in", SampleFolder), ("work", work));
        session.RunOk("$u16 = Import-TiffStack $in -Resolution 800,800,2000; Import-TiffStack $in -Resolution 800,800,2000 | ConvertTo-CompressedSegmentation -Path \"$work/u32\" -LabelType uint32 | Out-Null; $u32 = Import-PrecomputedVolume -Path \"$work/u32\"", vars);
        Assert.Equal("uint16", session.RunOk("$u16.DataType").Single().BaseObject);
        Assert.Equal("uint32", session.RunOk("$u32.DataType").Single().BaseObject);

        // Each line: the volume, extra parameters; New-PrecomputedInfo's planned type must be the
        // type ConvertTo-CompressedSegmentation writes (a uint32 volume was planned as uint32 and
        // written as uint64 before there was one rule).
        var cases = new (string Volume, string Extra, string Expected)[]
        {
            ("$u16", "", "uint64"),
            ("$u32", "", "uint64"),
            ("$u16", " -LabelType uint32", "uint32"),
            ("$u32", " -LabelType uint32", "uint32"),
            ("$u32", " -Encoding raw", "uint32"),
            ("$u16", " -Encoding raw", "uint16"),
            ("$u16", " -Encoding raw -LabelType uint64", "uint64"),
        };
        int n = 0;
        foreach ((string volume, string extra, string expected) in cases)
        {
            string planned = (string)session.RunOk($"({volume} | New-PrecomputedInfo -Destination \"$work/info-{n}\"{extra}).DataType", vars).Single().BaseObject;
            string written = (string)session.RunOk($"({volume} | ConvertTo-CompressedSegmentation -Path \"$work/ds-{n}\"{extra}).DataType", vars).Single().BaseObject;
            Assert.True(expected == planned && expected == written, $"{volume}{extra}: planned {planned}, written {written}, expected {expected}");
            n++;
        }

        var error = session.Run("New-PrecomputedInfo -Size 8,8,8 -Resolution 1,1,1 -DataType float32 -Destination $p", Vars(("p", Path.Combine(work, "float")))).FirstError;
        Assert.NotNull(error);
        Assert.Equal("InvalidLabelType,PrecomputedTools.Commands.NewPrecomputedInfoCommand", error!.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.InvalidData, error.CategoryInfo.Category);
        Assert.False(File.Exists(Path.Combine(work, "float", "info")));
        Assert.Equal("uint32", session.RunOk("(New-PrecomputedInfo -Size 8,8,8 -Resolution 1,1,1 -DataType uint32 -Destination $p).DataType", Vars(("p", Path.Combine(work, "explicit")))).Single().BaseObject);
    }

    [Fact]
    public void InfoWithZeroSizeIsRejected()
    {
        using var session = new ModuleSession();
        string work = Paths.NewScratch("zero-size");
        var result = session.Run("New-PrecomputedInfo -Size 0,10,10 -Resolution 1,1,1 -Destination $out", Vars(("out", work)));
        ErrorRecord error = Assert.IsType<ErrorRecord>(result.FirstError);
        Assert.Equal("InvalidVolumeGeometry,PrecomputedTools.Commands.NewPrecomputedInfoCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
        Assert.False(File.Exists(Path.Combine(work, "info")));

        File.WriteAllText(Path.Combine(work, "bad.json"), """{"type":"segmentation","data_type":"uint64","num_channels":1,"scales":[{"size":[10,0,10],"resolution":[1,1,1]}]}""");
        result = session.Run("New-PrecomputedInfo -Path $p", Vars(("p", Path.Combine(work, "bad.json"))));
        Assert.Equal("InvalidVolumeGeometry,PrecomputedTools.Commands.NewPrecomputedInfoCommand", result.FirstError!.FullyQualifiedErrorId);
    }

    [Fact]
    public void ExistingOutputIsNotOverwrittenWithoutForce()
    {
        using var session = new ModuleSession();
        string output = Path.Combine(Paths.NewScratch("exists"), "ds");
        var vars = Vars(("in", SampleFolder), ("out", output));
        session.RunOk("Import-TiffStack $in -Resolution 800,800,2000 | ConvertTo-CompressedSegmentation -Path $out | Out-Null", vars);
        string someChunk = Directory.EnumerateFiles(Path.Combine(output, "1um")).First();
        DateTime stamp = File.GetLastWriteTimeUtc(someChunk);

        var result = session.Run("Import-TiffStack $in -Resolution 800,800,2000 | ConvertTo-CompressedSegmentation -Path $out", vars);
        ErrorRecord error = Assert.IsType<ErrorRecord>(result.FirstError);
        Assert.Equal("OutputExists,PrecomputedTools.Commands.ConvertToCompressedSegmentationCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.ResourceExists, error.CategoryInfo.Category);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(someChunk));

        session.RunOk("Import-TiffStack $in -Resolution 800,800,2000 | ConvertTo-CompressedSegmentation -Path $out -Force | Invoke-MajorityDownscale | Out-Null", vars);
        result = session.Run("Invoke-MajorityDownscale -Path $out", vars);
        Assert.Equal("OutputExists,PrecomputedTools.Commands.InvokeMajorityDownscaleCommand", result.FirstError!.FullyQualifiedErrorId);
    }

    [Fact]
    public void PathsResolveThroughPowerShellWithWildcardsAndLiterally()
    {
        using var session = new ModuleSession();
        string work = Paths.NewScratch("paths");
        // Square brackets are wildcard characters: only -LiteralPath takes this folder name as it is.
        string output = Path.Combine(work, "ds[1]");
        var vars = Vars(("in", SampleFolder), ("out", output), ("work", work));
        session.RunOk("Import-TiffStack $in -Resolution 800,800,2000 | ConvertTo-CompressedSegmentation -Path $out | Out-Null", vars);
        Assert.True(File.Exists(Path.Combine(output, "info")));

        var downscaled = Assert.Single(session.RunOk("Invoke-MajorityDownscale -LiteralPath $out", vars));
        Assert.Equal(output, downscaled.Properties["Path"].Value);
        var literal = Assert.Single(session.RunOk("Test-PrecomputedDataset -LiteralPath $out -Quiet", vars));
        Assert.True((bool)literal.BaseObject);
        // Relative to the current location, and with a wildcard that matches the folder.
        var relative = Assert.Single(session.RunOk("$ExecutionContext.SessionState.Path.SetLocation($work) | Out-Null; Test-PrecomputedDataset -Path 'ds?1?' -Quiet", vars));
        Assert.True((bool)relative.BaseObject);
    }

    [Fact]
    public void WhatIfWritesNothingAndSaysWhatItWouldDo()
    {
        using var session = new ModuleSession();
        string output = Path.Combine(Paths.NewScratch("whatif"), "ds");
        var output1 = session.RunOk("Import-TiffStack $in -Resolution 800,800,2000 | ConvertTo-CompressedSegmentation -Path $out -WhatIf", Vars(("in", SampleFolder), ("out", output)));
        // Only the planned dataset goes on, for the next stage of a -WhatIf pipeline to describe.
        var planned = Assert.Single(output1);
        Assert.True((bool)planned.Properties["IsPlanned"].Value);
        Assert.False(Directory.Exists(output));
        string text = session.TakeHostText();
        Assert.Contains("What if:", text);
        Assert.Contains("Write precomputed scale 0", text);
        Assert.Single(text.Split('\n'), l => l.Contains("What if:", StringComparison.Ordinal));
    }

    [Fact]
    public void StopMidWriteLeavesNoPartialChunkAndResumeCompletesTheSameDataset()
    {
        using var session = new ModuleSession();
        string work = Paths.NewScratch("stop");
        string clean = Path.Combine(work, "clean");
        string stopped = Path.Combine(work, "stopped");
        var vars = Vars(("tif", ZBrainTiff), ("clean", clean), ("stopped", stopped));
        session.RunOk("Import-TiffStack $tif -SwapXY -Resolution 798,798,2000 | ConvertTo-CompressedSegmentation -Path $clean -TargetChunkSize 32 -ThrottleLimit 1 | Invoke-MajorityDownscale | Out-Null", vars);

        using (PowerShell ps = PowerShell.Create())
        {
            ps.Runspace = session.Runspace;
            foreach (var pair in vars)
            {
                session.Runspace.SessionStateProxy.SetVariable(pair.Key, pair.Value);
            }

            ps.AddScript("Import-TiffStack $tif -SwapXY -Resolution 798,798,2000 | ConvertTo-CompressedSegmentation -Path $stopped -TargetChunkSize 32 -ThrottleLimit 1");
            IAsyncResult handle = ps.BeginInvoke();
            string scale0 = Path.Combine(stopped, "1um");
            var deadline = DateTime.UtcNow.AddMinutes(2);
            while ((!Directory.Exists(scale0) || Directory.EnumerateFiles(scale0, "*.gz").Count() < 20) && DateTime.UtcNow < deadline && !handle.IsCompleted)
            {
                Thread.Sleep(10);
            }

            ps.Stop();
            Assert.Throws<PipelineStoppedException>(() => ps.EndInvoke(handle));
            Assert.Equal(PSInvocationState.Stopped, ps.InvocationStateInfo.State);
        }

        Assert.Empty(Directory.EnumerateFiles(stopped, "*.pt-tmp", SearchOption.AllDirectories));
        int partial = Directory.EnumerateFiles(Path.Combine(stopped, "1um")).Count();
        int total = Directory.EnumerateFiles(Path.Combine(clean, "1um")).Count();
        Assert.InRange(partial, 1, total - 1);
        // The info declares a dataset complete, so a stopped first run has none; every chunk file
        // that exists is whole: the same bytes as the clean run's.
        Assert.False(File.Exists(Path.Combine(stopped, "info")), "the info is written last");
        foreach (string file in Directory.EnumerateFiles(Path.Combine(stopped, "1um")))
        {
            Assert.Equal(ReferenceImplementations.ReadChunkFile(Path.Combine(clean, "1um", Path.GetFileName(file))), ReferenceImplementations.ReadChunkFile(file));
        }

        // Without -Resume or -Force, the chunks of the interrupted run are not overwritten.
        var refused = session.Run("Import-TiffStack $tif -SwapXY -Resolution 798,798,2000 | ConvertTo-CompressedSegmentation -Path $stopped -TargetChunkSize 32", vars);
        Assert.Equal("OutputExists,PrecomputedTools.Commands.ConvertToCompressedSegmentationCommand", refused.FirstError?.FullyQualifiedErrorId);

        session.RunOk("Import-TiffStack $tif -SwapXY -Resolution 798,798,2000 | ConvertTo-CompressedSegmentation -Path $stopped -Resume | Invoke-MajorityDownscale -Resume | Out-Null", vars);
        var cleanFiles = Directory.EnumerateFiles(clean, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(clean, f)).OrderBy(f => f).ToList();
        var resumedFiles = Directory.EnumerateFiles(stopped, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(stopped, f)).OrderBy(f => f).ToList();
        Assert.Equal(cleanFiles, resumedFiles);
        foreach (string file in cleanFiles.Where(f => f.EndsWith(".gz", StringComparison.Ordinal)))
        {
            Assert.Equal(ReferenceImplementations.ReadChunkFile(Path.Combine(clean, file)), ReferenceImplementations.ReadChunkFile(Path.Combine(stopped, file)));
        }
    }

    [Fact]
    public void ProgressIsReportedAndCompleted()
    {
        using var session = new ModuleSession();
        string output = Path.Combine(Paths.NewScratch("progress"), "ds");
        var result = session.Run("Import-TiffStack $tif -SwapXY -Resolution 798,798,2000 | ConvertTo-CompressedSegmentation -Path $out -TargetChunkSize 32 -ThrottleLimit 1 | Out-Null", Vars(("tif", ZBrainTiff), ("out", output)));
        Assert.Null(result.Terminating);
        var progress = result.PowerShell.Streams.Progress;
        Assert.NotEmpty(progress);
        Assert.Equal(ProgressRecordType.Completed, progress[progress.Count - 1].RecordType);
        Assert.Contains(progress, p => p.StatusDescription.Contains("chunks", StringComparison.Ordinal));
    }

    // A minimal uncompressed little-endian TIFF (8-bit, 1 or 3 samples) built by hand.
    private static byte[] TinyTiff(int width, int height, int samplesPerPixel = 1)
    {
        var entries = new List<(ushort Tag, ushort Type, uint Count, uint Value)>
        {
            (256, 3, 1, (uint)width),
            (257, 3, 1, (uint)height),
            (258, 3, 1, 8),
            (259, 3, 1, 1),
            (262, 3, 1, samplesPerPixel == 3 ? 2u : 1u),
            (273, 4, 1, 0),
            (277, 3, 1, (uint)samplesPerPixel),
            (278, 3, 1, (uint)height),
            (279, 4, 1, (uint)(width * height * samplesPerPixel)),
        };
        if (samplesPerPixel == 3)
        {
            // BitsPerSample needs 3 values for RGB; point them at an array after the IFD.
            entries[2] = (258, 3, 3, 0);
        }

        using var stream = new MemoryStream();
        using var w = new BinaryWriter(stream);
        w.Write((byte)'I');
        w.Write((byte)'I');
        w.Write((ushort)42);
        w.Write(8u);
        uint ifdSize = (uint)(2 + entries.Count * 12 + 4);
        uint extra = 8 + ifdSize;
        uint pixels = extra + 8;
        w.Write((ushort)entries.Count);
        foreach (var e in entries)
        {
            w.Write(e.Tag);
            w.Write(e.Type);
            w.Write(e.Count);
            uint value = e.Tag == 273 ? pixels : e.Tag == 258 && e.Count == 3 ? extra : e.Value;
            if (e.Type == 3 && e.Count == 1)
            {
                w.Write((ushort)value);
                w.Write((ushort)0);
            }
            else
            {
                w.Write(value);
            }
        }

        w.Write(0u);
        w.Write((ushort)8);
        w.Write((ushort)8);
        w.Write((ushort)8);
        w.Write((ushort)0);
        w.Write(new byte[width * height * samplesPerPixel]);
        return stream.ToArray();
    }
}
