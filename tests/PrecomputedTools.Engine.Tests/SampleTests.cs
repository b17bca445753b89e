using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using PrecomputedTools.Engine.Tiff;
using Xunit;

namespace PrecomputedTools.Engine.Tests;

public class SampleTests
{
    private static string SampleFolder => Path.Combine(TestData.RepoRoot, "module", "samples", "sample-labels");

    [Fact]
    public void CommittedSampleMatchesTheGenerator()
    {
        string fresh = TestData.NewScratch("sample-regenerated");
        Assert.Equal(0, PrecomputedTools.SampleGenerator.Program.Main(new[] { fresh }));
        string[] committed = Directory.GetFiles(SampleFolder, "*.tif").Select(Path.GetFileName).OrderBy(n => n).ToArray()!;
        Assert.Equal(Directory.GetFiles(fresh, "*.tif").Select(Path.GetFileName).OrderBy(n => n), committed);
        foreach (string name in committed)
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(fresh, name)), File.ReadAllBytes(Path.Combine(SampleFolder, name)));
        }
    }

    [Fact]
    public async System.Threading.Tasks.Task SampleIsSmallSmoothAndHasAFewHundredLabels()
    {
        long bytes = Directory.GetFiles(SampleFolder).Sum(f => new FileInfo(f).Length);
        Assert.InRange(bytes, 1, 2_000_000);
        var stack = TiffStackDescriptor.Open(SampleFolder);
        Assert.Equal(new Int3(320, 192, 48), stack.Size);
        using var reader = stack.OpenReader();
        var data = new byte[stack.Size.Volume * 2];
        await reader.ReadAsync(Box3.FromSize(stack.Size), data, CancellationToken.None);
        var labels = MemoryMarshal.Cast<byte, ushort>(data).ToArray();
        int distinct = labels.Distinct().Count();
        Assert.InRange(distinct, 200, 400);
        Assert.Contains((ushort)0, labels);
        // Smooth regions: neighbours along x mostly agree.
        int same = 0;
        for (int i = 1; i < labels.Length; i++)
        {
            if (labels[i] == labels[i - 1])
            {
                same++;
            }
        }

        Assert.True(same > labels.Length * 0.95, $"only {same} of {labels.Length} x-neighbours agree");
    }
}
