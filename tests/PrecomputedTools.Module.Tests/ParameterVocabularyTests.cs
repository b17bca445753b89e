using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Reflection;
using Xunit;

namespace PrecomputedTools.Module.Tests;

/// <summary>
/// The README's "Parameter vocabulary" table, checked on every cmdlet of the module so a new
/// cmdlet or parameter cannot drift from it. The deviations that exist today are named below,
/// each with its reason, rather than hidden in a looser rule.
/// </summary>
public class ParameterVocabularyTests : IClassFixture<ParameterVocabularyTests.CmdletTypes>
{
    private const string CmdletBaseName = "PrecomputedTools.Infrastructure.PrecomputedCmdlet";
    private const string BossCmdletBaseName = "PrecomputedTools.Infrastructure.BossCmdlet";

    // They write things other than a dataset (a TIFF folder, an info file, a mesh folder) and predate the table.
    private static readonly string[] CmdletsWithOutputPathParameter = { "Export-TiffStack", "New-PrecomputedInfo", "New-SegmentMesh" };

    private readonly CmdletTypes _cmdlets;

    public ParameterVocabularyTests(CmdletTypes cmdlets) => _cmdlets = cmdlets;

    /// <summary>The cmdlet classes of the loaded module (public, sealed, derived from its cmdlet base), with their parameters as PowerShell binds them.</summary>
    public sealed class CmdletTypes
    {
        public CmdletTypes()
        {
            using var session = new ModuleSession();
            var exported = session.RunOk("Get-Command -Module PrecomputedTools -CommandType Cmdlet").Select(o => (CmdletInfo)o.BaseObject).ToList();
            Assembly assembly = exported[0].ImplementingType.Assembly;
            Type cmdletBase = assembly.GetType(CmdletBaseName, throwOnError: true)!;
            BossCmdletBase = assembly.GetType(BossCmdletBaseName, throwOnError: true)!;
            Types = assembly.GetExportedTypes().Where(t => t.IsSealed && cmdletBase.IsAssignableFrom(t)).ToList();
            ExportedNames = exported.Select(c => c.Name).ToList();
        }

        public IReadOnlyList<Type> Types { get; }

        public IReadOnlyList<string> ExportedNames { get; }

        public Type BossCmdletBase { get; }
    }

    private static string CmdletName(Type type)
    {
        CmdletAttribute attribute = type.GetCustomAttribute<CmdletAttribute>() ?? throw new InvalidOperationException(type.FullName + " has no [Cmdlet].");
        return attribute.VerbName + "-" + attribute.NounName;
    }

    private IEnumerable<(string Cmdlet, Type Type, ParameterMetadata Parameter)> Parameters(string name) =>
        from type in _cmdlets.Types
        let parameters = new CommandMetadata(type).Parameters
        where parameters.ContainsKey(name)
        select (CmdletName(type), type, parameters[name]);

    private static ValidateRangeAttribute? Range(ParameterMetadata parameter) => parameter.Attributes.OfType<ValidateRangeAttribute>().SingleOrDefault();

    [Fact]
    public void Every_exported_cmdlet_is_one_of_the_audited_classes()
    {
        Assert.NotEmpty(_cmdlets.Types);
        Assert.Equal(_cmdlets.ExportedNames.OrderBy(n => n, StringComparer.Ordinal), _cmdlets.Types.Select(CmdletName).OrderBy(n => n, StringComparer.Ordinal));
    }

    [Fact]
    public void ThrottleLimit_accepts_1_to_1024()
    {
        var throttled = Parameters("ThrottleLimit").ToList();
        Assert.NotEmpty(throttled);
        foreach ((string cmdlet, Type type, ParameterMetadata parameter) in throttled)
        {
            Assert.True(parameter.ParameterType == typeof(int), cmdlet + " -ThrottleLimit is " + parameter.ParameterType.Name);
            ValidateRangeAttribute? range = Range(parameter);
            Assert.True(range is not null, cmdlet + " -ThrottleLimit has no ValidateRange");

            // BOSS servers throttle clients hard; the BOSS cmdlets (and the engine's BOSS source) cap requests in flight at 16.
            int max = _cmdlets.BossCmdletBase.IsAssignableFrom(type) ? 16 : 1024;
            Assert.True(Equals(range!.MinRange, 1) && Equals(range.MaxRange, max), $"{cmdlet} -ThrottleLimit is {range.MinRange}..{range.MaxRange}, not 1..{max}");
        }
    }

    [Fact]
    public void OutputPath_is_an_alias_of_the_output_location()
    {
        foreach ((string cmdlet, _, _) in Parameters("OutputPath"))
        {
            Assert.True(CmdletsWithOutputPathParameter.Contains(cmdlet), cmdlet + " has a parameter named OutputPath; name it as the README's table says and keep OutputPath as an alias");
        }

        Assert.Contains("OutputPath", Parameters("Path").Single(p => p.Cmdlet == "ConvertTo-CompressedSegmentation").Parameter.Aliases);
        Assert.Contains("OutputPath", Parameters("Destination").Single(p => p.Cmdlet == "Copy-PrecomputedDataset").Parameter.Aliases);
    }

    [Fact]
    public void Resolution_is_a_voxel_size()
    {
        var resolutions = Parameters("Resolution").ToList();
        Assert.NotEmpty(resolutions);
        foreach ((string cmdlet, Type type, ParameterMetadata parameter) in resolutions)
        {
            if (_cmdlets.BossCmdletBase.IsAssignableFrom(type))
            {
                // BOSS calls its level index "resolution" (README: Get-BossCutout -Resolution 0).
                Assert.True(parameter.ParameterType == typeof(int), cmdlet + " -Resolution is a BOSS level, an int");
                continue;
            }

            Assert.True(parameter.ParameterType == typeof(double[]), cmdlet + " -Resolution is " + parameter.ParameterType.Name + ", not a voxel size (double[])");
            Assert.True(parameter.Aliases.Contains("VoxelSize"), cmdlet + " -Resolution lacks the alias VoxelSize");
            ValidateCountAttribute? count = parameter.Attributes.OfType<ValidateCountAttribute>().SingleOrDefault();
            Assert.True(count is { MinLength: 3, MaxLength: 3 }, cmdlet + " -Resolution does not take exactly x,y,z");
        }
    }

    [Fact]
    public void LiteralPath_pairs_with_Path_and_takes_PSPath_and_LP()
    {
        var literals = Parameters("LiteralPath").ToList();
        Assert.NotEmpty(literals);
        foreach ((string cmdlet, Type type, ParameterMetadata parameter) in literals)
        {
            Assert.True(parameter.ParameterType == typeof(string), cmdlet + " -LiteralPath is not a string");
            Assert.Equal(new[] { "LP", "PSPath" }, parameter.Aliases.OrderBy(a => a, StringComparer.Ordinal));
            Assert.True(new CommandMetadata(type).Parameters.ContainsKey("Path"), cmdlet + " has -LiteralPath without -Path");
        }
    }

    [Fact]
    public void Switches_plans_and_S3_connection_have_one_shape()
    {
        var expected = new Dictionary<string, Type>
        {
            ["Force"] = typeof(SwitchParameter),
            ["Resume"] = typeof(SwitchParameter),
            ["PlanPath"] = typeof(string),
            ["Plan"] = typeof(string[]),
            ["Region"] = typeof(string),
            ["EndpointUrl"] = typeof(Uri),
            ["ProfileName"] = typeof(string),
            ["Credential"] = typeof(PSCredential),
        };
        foreach ((string name, Type type) in expected)
        {
            foreach ((string cmdlet, _, ParameterMetadata parameter) in Parameters(name))
            {
                Assert.True(parameter.ParameterType == type, $"{cmdlet} -{name} is {parameter.ParameterType.Name}, not {type.Name}");
            }
        }

        foreach ((string cmdlet, _, ParameterMetadata parameter) in Parameters("Plan"))
        {
            Assert.True(parameter.Aliases.Contains("PlanPath"), cmdlet + " -Plan lacks the alias PlanPath");
        }
    }
}
