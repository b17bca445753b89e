using System.Linq;
using System.Management.Automation;
using Xunit;

namespace PrecomputedTools.Module.Tests;

public class ModuleImportTests
{
    [Fact]
    public void ModuleImportsAndNewPrecomputedInfoBuildsTheRunningExample()
    {
        using var session = new ModuleSession();
        var output = session.RunOk("New-PrecomputedInfo -Size 1406,621,138 -Resolution 798,798,2000 -TargetChunkSize 256");
        var dataset = Assert.Single(output);
        Assert.Equal("PrecomputedTools.PrecomputedDataset", dataset.BaseObject.GetType().FullName);
        var scales = (object[])dataset.Properties["Scales"].Value;
        Assert.Equal(3, scales.Length);
        Assert.Equal("3um", ((PSObject)PSObject.AsPSObject(scales[2])).Properties["Key"].Value);
    }

    [Fact]
    public void EngineTypesDoNotResolveFromPowerShell()
    {
        using var session = new ModuleSession();
        session.RunOk("New-PrecomputedInfo -Size 8,8,8 -Resolution 1,1,1 | Out-Null");
        // The engine lives in the private load context, so PowerShell cannot see its types by name.
        var result = session.Run("[PrecomputedTools.Engine.Int3]");
        Assert.Empty(result.Output);
        Assert.NotNull(result.FirstError);
        Assert.Contains("Unable to find type", result.FirstError!.ToString());
        var context = session.RunOk("[System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext((New-PrecomputedInfo -Size 8,8,8 -Resolution 1,1,1).GetType().Assembly).Name");
        Assert.Equal("Default", Assert.Single(context).BaseObject);
    }
}
