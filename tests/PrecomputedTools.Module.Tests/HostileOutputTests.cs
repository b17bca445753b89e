using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using Xunit;

namespace PrecomputedTools.Module.Tests;

/// <summary>Issue 17 through the cmdlets: outputs that cannot be written (k) and hostile infos (i) end as engine errors with stable ids and categories.</summary>
public sealed class HostileOutputTests
{
    private static string SampleFolder => Path.Combine(Paths.RepoRoot, "module", "samples", "sample-labels");

    private static readonly Dictionary<string, string> s_commands = new()
    {
        ["ConvertToCompressedSegmentationCommand"] = "Import-TiffStack -Path $samples -Resolution 800,800,2000 | ConvertTo-CompressedSegmentation -Path $out",
        ["NewSegmentMeshCommand"] = "New-SegmentMesh -Volume (Import-TiffStack -Path $samples -Resolution 800,800,2000) -Destination $out -SegmentId 1",
        ["ExportTiffStackCommand"] = "Import-TiffStack -Path $samples -Resolution 800,800,2000 | Export-TiffStack -Destination $out",
    };

    [Theory]
    [InlineData("ConvertToCompressedSegmentationCommand", "file", "OutputIsAFile", ErrorCategory.InvalidArgument)]
    [InlineData("ConvertToCompressedSegmentationCommand", "under-a-file", "OutputIsAFile", ErrorCategory.InvalidArgument)]
    [InlineData("ConvertToCompressedSegmentationCommand", "proc", "OutputNotWritable", ErrorCategory.PermissionDenied)]
    [InlineData("ConvertToCompressedSegmentationCommand", "sys", "OutputNotWritable", ErrorCategory.PermissionDenied)]
    [InlineData("NewSegmentMeshCommand", "file", "OutputIsAFile", ErrorCategory.InvalidArgument)]
    [InlineData("NewSegmentMeshCommand", "under-a-file", "OutputIsAFile", ErrorCategory.InvalidArgument)]
    [InlineData("NewSegmentMeshCommand", "proc", "OutputNotWritable", ErrorCategory.PermissionDenied)]
    [InlineData("NewSegmentMeshCommand", "sys", "OutputNotWritable", ErrorCategory.PermissionDenied)]
    [InlineData("ExportTiffStackCommand", "file", "OutputIsAFile", ErrorCategory.InvalidArgument)]
    [InlineData("ExportTiffStackCommand", "under-a-file", "OutputIsAFile", ErrorCategory.InvalidArgument)]
    [InlineData("ExportTiffStackCommand", "proc", "OutputNotWritable", ErrorCategory.PermissionDenied)]
    [InlineData("ExportTiffStackCommand", "sys", "OutputNotWritable", ErrorCategory.PermissionDenied)]
    [InlineData("ExportTiffStackCommand", "read-only", "OutputNotWritable", ErrorCategory.PermissionDenied)]
    [InlineData("ConvertToCompressedSegmentationCommand", "read-only", "OutputNotWritable", ErrorCategory.PermissionDenied)]
    public void OutputsThatCannotBeWrittenFailWithTheirIdAndCategory(string command, string where, string errorId, ErrorCategory category)
    {
        string scratch = Paths.NewScratch("hostile-output");
        string file = Path.Combine(scratch, "file");
        File.WriteAllText(file, "x");
        string output;
        switch (where)
        {
            case "file":
                output = file;
                break;
            case "under-a-file":
                output = Path.Combine(file, "sub");
                break;
            case "proc":
                // Root can write almost anywhere; /proc takes no new entries, not even from root.
                if (!Directory.Exists("/proc/self"))
                {
                    return;
                }

                output = "/proc/self/pt-output";
                break;
            case "sys":
                if (!Directory.Exists("/sys/kernel"))
                {
                    return;
                }

                output = "/sys/kernel/pt-output/ds";
                break;
            default:
                // chmod 555 stops everyone but root (these tests often run as root: skipped there).
                if (OperatingSystem.IsWindows() || Environment.UserName == "root")
                {
                    return;
                }

                output = Path.Combine(scratch, "read-only");
                Directory.CreateDirectory(output);
                File.SetUnixFileMode(output, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
                break;
        }

        using var session = new ModuleSession();
        RunResult result = session.Run(s_commands[command], new Dictionary<string, object?> { ["samples"] = SampleFolder, ["out"] = output });
        ErrorRecord error = result.FirstError ?? throw new InvalidOperationException("no error");
        Assert.Equal(errorId + ",PrecomputedTools.Commands." + command, error.FullyQualifiedErrorId);
        Assert.Equal(category, error.CategoryInfo.Category);
        Assert.Equal("x", File.ReadAllText(file));
        Assert.True(Directory.EnumerateFileSystemEntries(scratch).All(f => Path.GetFileName(f) is "file" or "read-only"), "nothing was written");
    }

    [Theory]
    [InlineData("\"num_channels\":\"1\"", "", "num_channels")]
    [InlineData("\"num_channels\":1", ",\"hidden\":1", "hidden")]
    [InlineData("\"num_channels\":1,\"num_channels\":2", "", "num_channels")]
    public void AHostileInfoIsInvalidPrecomputedInfoNamingTheMemberInEveryCmdletThatReadsIt(string top, string scaleExtra, string member)
    {
        string scratch = Paths.NewScratch("hostile-info");
        string dataset = Path.Combine(scratch, "ds");
        Directory.CreateDirectory(dataset);
        File.WriteAllText(Path.Combine(dataset, "info"), "{\"@type\":\"neuroglancer_multiscale_volume\",\"type\":\"segmentation\",\"data_type\":\"uint8\"," + top
            + ",\"scales\":[{\"key\":\"1\",\"size\":[8,8,8],\"resolution\":[1,1,1],\"voxel_offset\":[0,0,0],\"chunk_sizes\":[[8,8,8]],\"encoding\":\"raw\"" + scaleExtra + "}]}");
        var vars = new Dictionary<string, object?> { ["ds"] = dataset, ["copy"] = Path.Combine(scratch, "copy"), ["samples"] = SampleFolder };
        using var session = new ModuleSession();

        PSObject report = Assert.Single(session.RunOk("Test-PrecomputedDataset -Path $ds", vars));
        string problem = Assert.Single((string[])report.Properties["Problems"].Value);
        Assert.Contains("\"" + member + "\"", problem, StringComparison.Ordinal);

        foreach ((string script, string command) in new[]
        {
            ("Copy-PrecomputedDataset -Path $ds -Destination $copy", "CopyPrecomputedDatasetCommand"),
            ("Import-PrecomputedVolume -Path $ds", "ImportPrecomputedVolumeCommand"),
            ("Import-TiffStack -Path $samples -Resolution 800,800,2000 | ConvertTo-CompressedSegmentation -Path $ds -Resume", "ConvertToCompressedSegmentationCommand"),
        })
        {
            ErrorRecord error = session.Run(script, vars).FirstError ?? throw new InvalidOperationException("no error from " + script);
            Assert.Equal("InvalidPrecomputedInfo,PrecomputedTools.Commands." + command, error.FullyQualifiedErrorId);
            Assert.Equal(ErrorCategory.InvalidData, error.CategoryInfo.Category);
            Assert.Contains("\"" + member + "\"", error.Exception.Message, StringComparison.Ordinal);
        }

        Assert.False(Directory.Exists(Path.Combine(scratch, "copy")) && File.Exists(Path.Combine(scratch, "copy", "info")));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ATiffWhosePixelDataIsCutOffFailsAndTheFirstRunLeavesNoInfo(bool deflate)
    {
        // Cut off: the strip table claims more than the file holds (refused when the stack is opened).
        // Deflate: sizes agree but the last slice's stream is garbage, found only when that slice is
        // read, after the chunks of the slices before it were written.
        string scratch = Paths.NewScratch("hostile-tiff-cut");
        string stack = Path.Combine(scratch, "stack");
        if (deflate)
        {
            WriteDeflateStack(stack, 96, 96, 40);
        }
        else
        {
            TinyTiff.WriteStack(stack, 96, 96, 40);
            string last = Path.Combine(stack, "z039.tif");
            byte[] bytes = File.ReadAllBytes(last);
            File.WriteAllBytes(last, bytes[..(bytes.Length / 2)]); // the directory stays, half the strip is gone
        }

        string output = Path.Combine(scratch, "out");
        using var session = new ModuleSession();
        RunResult result = session.Run("Import-TiffStack -Path $stack -Resolution 8,8,8 | ConvertTo-CompressedSegmentation -Path $out -TargetChunkSize 16 -MaxScales 1 -ThrottleLimit 1", new Dictionary<string, object?> { ["stack"] = stack, ["out"] = output });
        ErrorRecord error = result.FirstError ?? throw new InvalidOperationException("no error");
        Assert.Matches("^(TiffReadFailed|CorruptTiffFile),PrecomputedTools.Commands.", error.FullyQualifiedErrorId);
        Assert.Contains(error.CategoryInfo.Category, new[] { ErrorCategory.InvalidData, ErrorCategory.ReadError });
        Assert.Contains("z039.tif", error.Exception.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(output, "info")), "a failed first run left an info");
        if (deflate)
        {
            Assert.NotEmpty(Directory.EnumerateFiles(output, "*.gz", SearchOption.AllDirectories)); // it did fail part way
        }

        if (Directory.Exists(output))
        {
            Assert.Empty(Directory.EnumerateFiles(output, "*.pt-tmp", SearchOption.AllDirectories));
        }
    }

    // Slices of one Deflate-compressed strip (TIFF 6.0 compression 8); the last slice's stream is garbage after its zlib header.
    private static void WriteDeflateStack(string folder, int width, int height, int depth)
    {
        Directory.CreateDirectory(folder);
        for (int z = 0; z < depth; z++)
        {
            byte[] pixels = new byte[width * height];
            for (int i = 0; i < pixels.Length; i++)
            {
                pixels[i] = (byte)((((i % width) / 8) + ((i / width) / 8) + (z / 8)) % 5 + 1);
            }

            using var compressed = new MemoryStream();
            using (var zlib = new System.IO.Compression.ZLibStream(compressed, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true))
            {
                zlib.Write(pixels);
            }

            byte[] data = compressed.ToArray();
            if (z == depth - 1)
            {
                Array.Fill(data, (byte)0xFF, 2, data.Length - 2);
            }

            const int entries = 9;
            int dataOffset = 8 + 2 + (entries * 12) + 4;
            using var stream = new MemoryStream();
            using var writer = new BinaryWriter(stream);
            writer.Write(new byte[] { (byte)'I', (byte)'I', 42, 0 });
            writer.Write(8u);
            writer.Write((ushort)entries);
            foreach ((ushort tag, ushort type, uint value) in new (ushort, ushort, uint)[]
            {
                (256, 4, (uint)width), (257, 4, (uint)height), (258, 3, 8), (259, 3, 8), (262, 3, 1),
                (273, 4, (uint)dataOffset), (277, 3, 1), (278, 4, (uint)height), (279, 4, (uint)data.Length),
            })
            {
                writer.Write(tag);
                writer.Write(type);
                writer.Write(1u);
                writer.Write(value);
            }

            writer.Write(0u);
            writer.Write(data);
            writer.Flush();
            File.WriteAllBytes(Path.Combine(folder, $"z{z:D3}.tif"), stream.ToArray());
        }
    }
}
