using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Reflection;
using Xunit;

namespace PrecomputedTools.Module.Tests;

/// <summary>
/// The README's "Parameter vocabulary" table, checked on every cmdlet of the module so a new
/// cmdlet or parameter cannot drift from it. Old names stay accepted as aliases, and the rules
/// look at parameter names, so an alias such as the BOSS cmdlets' Resolution never counts as one.
/// </summary>
public class ParameterVocabularyTests : IClassFixture<ParameterVocabularyTests.CmdletTypes>
{
    private const string CmdletBaseName = "PrecomputedTools.Infrastructure.PrecomputedCmdlet";
    private const string BossCmdletBaseName = "PrecomputedTools.Infrastructure.BossCmdlet";

    // README: "-Destination on Copy-PrecomputedDataset, Export-TiffStack, New-PrecomputedInfo, New-SegmentMesh".
    private static readonly string[] CmdletsWithDestination = { "Copy-PrecomputedDataset", "Export-TiffStack", "New-PrecomputedInfo", "New-SegmentMesh" };

    // README: "-ResolutionLevel on Get-BossCutout, Get-BossSegmentId", alias Resolution.
    private static readonly string[] CmdletsWithResolutionLevel = { "Get-BossCutout", "Get-BossSegmentId" };

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
        where parameters.TryGetValue(name, out ParameterMetadata? parameter) && parameter.Name == name
        select (CmdletName(type), type, parameters[name]);

    private IEnumerable<(string Cmdlet, ParameterMetadata Parameter)> ParametersWithAlias(string alias) =>
        from type in _cmdlets.Types
        from parameter in new CommandMetadata(type).Parameters.Values
        where parameter.Aliases.Contains(alias)
        select (CmdletName(type), parameter);

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
        Assert.Empty(Parameters("OutputPath").Select(p => p.Cmdlet));
        Assert.Empty(Parameters("OutDir").Select(p => p.Cmdlet));

        foreach (string cmdlet in CmdletsWithDestination)
        {
            ParameterMetadata destination = Assert.Single(Parameters("Destination"), p => p.Cmdlet == cmdlet).Parameter;
            Assert.True(destination.ParameterType == typeof(string), cmdlet + " -Destination is not a string");
            Assert.True(destination.Aliases.Contains("OutputPath"), cmdlet + " -Destination lacks the alias OutputPath");
        }

        Assert.Contains("OutDir", Parameters("Destination").Single(p => p.Cmdlet == "Export-TiffStack").Parameter.Aliases);
        Assert.Contains("OutputPath", Parameters("Path").Single(p => p.Cmdlet == "ConvertTo-CompressedSegmentation").Parameter.Aliases);

        // Every OutputPath alias belongs to an output location named as the table says.
        Assert.Equal(
            CmdletsWithDestination.Append("ConvertTo-CompressedSegmentation").OrderBy(n => n, StringComparer.Ordinal),
            ParametersWithAlias("OutputPath").Select(p => p.Cmdlet).OrderBy(n => n, StringComparer.Ordinal));
        Assert.All(ParametersWithAlias("OutputPath"), p => Assert.True(p.Parameter.Name is "Destination" or "Path", p.Cmdlet + " -" + p.Parameter.Name + " has the alias OutputPath"));
    }

    [Fact]
    public void Resolution_is_a_voxel_size()
    {
        var resolutions = Parameters("Resolution").ToList();
        Assert.NotEmpty(resolutions);
        foreach ((string cmdlet, _, ParameterMetadata parameter) in resolutions)
        {
            Assert.True(parameter.ParameterType == typeof(double[]), cmdlet + " -Resolution is " + parameter.ParameterType.Name + ", not a voxel size (double[])");
            Assert.True(parameter.Aliases.Contains("VoxelSize"), cmdlet + " -Resolution lacks the alias VoxelSize");
            ValidateCountAttribute? count = parameter.Attributes.OfType<ValidateCountAttribute>().SingleOrDefault();
            Assert.True(count is { MinLength: 3, MaxLength: 3 }, cmdlet + " -Resolution does not take exactly x,y,z");
        }
    }

    [Fact]
    public void A_BOSS_level_is_ResolutionLevel_with_the_alias_Resolution()
    {
        var levels = Parameters("ResolutionLevel").ToList();
        Assert.Equal(CmdletsWithResolutionLevel, levels.Select(p => p.Cmdlet).OrderBy(n => n, StringComparer.Ordinal));
        foreach ((string cmdlet, Type type, ParameterMetadata parameter) in levels)
        {
            Assert.True(_cmdlets.BossCmdletBase.IsAssignableFrom(type), cmdlet + " has -ResolutionLevel but is not a BOSS cmdlet");
            Assert.True(parameter.ParameterType == typeof(int), cmdlet + " -ResolutionLevel is " + parameter.ParameterType.Name + ", not an int");
            Assert.True(parameter.Aliases.Contains("Resolution"), cmdlet + " -ResolutionLevel lacks the alias Resolution");
            ValidateRangeAttribute? range = Range(parameter);
            Assert.True(range is not null && Equals(range.MinRange, 0) && Equals(range.MaxRange, 9), cmdlet + " -ResolutionLevel is not 0..9");
            Assert.DoesNotContain(cmdlet, Parameters("Resolution").Select(p => p.Cmdlet));
        }

        // The alias Resolution means a BOSS level only there; everywhere else -Resolution is the voxel size.
        Assert.Equal(CmdletsWithResolutionLevel, ParametersWithAlias("Resolution").Select(p => p.Cmdlet).OrderBy(n => n, StringComparer.Ordinal));
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
    public void Force_means_overwrite_so_reading_a_level_the_BOSS_has_not_downsampled_has_its_own_switch()
    {
        // -Force is kept as an alias for scripts written before the rename.
        var ignore = Parameters("IgnoreDownsampleStatus").ToList();
        Assert.Equal(new[] { "Get-BossCutout" }, ignore.Select(p => p.Cmdlet).ToArray());
        Assert.Equal(new[] { "Force" }, ignore[0].Parameter.Aliases.ToArray());
        Assert.DoesNotContain(Parameters("Force"), p => p.Cmdlet == "Get-BossCutout");
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
