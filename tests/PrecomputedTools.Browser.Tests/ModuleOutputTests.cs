using System;
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
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    /// <summary>Every chunk of every scale decodes with neuroglancer's decoder; scale 0 equals the source voxels.</summary>
    [Theory]
    [InlineData("sample")]
    [InlineData("zbrain")]
    public void DecodeCheck_ModuleOutputEqualsTheSource(string name)
    {
        ModuleDataset ds = Get(name);
        NodeResult r = Checks.Decode(ds.Path, ds.Raw, ds.RawType, ds.RawAxes, ds.RawOffset, ds.Meshed ? ds.Segments : Array.Empty<string>(), _log);
        Checks.AssertOk(r, "DECODE-CHECK");
        Assert.DoesNotContain("\"voxelsCompared\":0", r.Stdout);
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
