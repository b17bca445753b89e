using System;
using System.Collections;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using Xunit;

namespace PrecomputedTools.Module.Tests;

/// <summary>The manifest is Gallery-ready and matches the cmdlet assembly; the cmdlet layer stays thin.</summary>
public class ManifestTests : IClassFixture<ManifestTests.Session>
{
    private static readonly string[] s_thirdPartyPrefixes = { "AWSSDK.", "Microsoft.Extensions.", "BitMiracle." };

    // Cmdlets whose verb promises no side effect; every other cmdlet must support -WhatIf/-Confirm.
    private static readonly string[] s_readOnlyVerbs = { "Get", "Test", "Import", "Find", "Measure", "Resolve", "Search" };

    // Read-only cmdlets with another verb (they only compute and return a value).
    private static readonly string[] s_readOnlyCmdlets = { "New-NeuroglancerUrl" };

    private readonly ModuleSession _session;

    public ManifestTests(Session session) => _session = session.Value;

    public sealed class Session : IDisposable
    {
        public ModuleSession Value { get; } = new();

        public void Dispose() => Value.Dispose();
    }

    private static string ModuleDirectory => Path.Combine(Paths.RepoRoot, "module", "PrecomputedTools");

    private static string CmdletAssembly => Path.Combine(ModuleDirectory, "PrecomputedTools.dll");

    [Fact]
    public void TestModuleManifestPassesAndTheManifestIsGalleryReady()
    {
        var result = _session.Run("Test-ModuleManifest -Path $args[0]".Replace("$args[0]", "'" + ModuleSession.ModulePath.Replace("'", "''") + "'"));
        Assert.True(result.Terminating is null, result.Terminating?.Message);
        Assert.Empty(result.PowerShell.Streams.Error);
        var module = (PSModuleInfo)Assert.Single(result.Output).BaseObject;
        Assert.Equal(new[] { "Core", "Desktop" }, module.CompatiblePSEditions.OrderBy(e => e, StringComparer.Ordinal));
        Assert.Equal(new Version(5, 1), module.PowerShellVersion);
        Assert.NotNull(module.LicenseUri);
        Assert.NotNull(module.ProjectUri);
        Assert.False(string.IsNullOrWhiteSpace(module.ReleaseNotes));
        Assert.False(string.IsNullOrWhiteSpace(module.Description));
        Assert.Contains("neuroglancer", module.Tags);
        Assert.Contains("PSEdition_Core", module.Tags);
        Assert.Contains("PSEdition_Desktop", module.Tags);
        Assert.Empty(module.RequiredAssemblies);
        Assert.Empty(module.ExportedFunctions);
        Assert.Empty(module.ExportedAliases);
        Assert.Empty(module.ExportedVariables);

        // Explicit lists: a wildcard would make discovery load the dll.
        Hashtable data = ReadManifest();
        foreach (string key in new[] { "CmdletsToExport", "FunctionsToExport", "AliasesToExport", "VariablesToExport" })
        {
            Assert.True(data.ContainsKey(key), key + " is missing from the manifest");
            var values = data[key] is object[] array ? array.Select(v => v.ToString()!) : new[] { data[key]?.ToString() ?? "" };
            Assert.DoesNotContain(values, v => v.Contains('*'));
        }
    }

    [Fact]
    public void CmdletsToExportEqualsTheCmdletClassesOfTheAssembly()
    {
        var declared = ((object[])ReadManifest()["CmdletsToExport"]!).Select(o => o.ToString()!).OrderBy(n => n, StringComparer.Ordinal).ToList();
        var classes = CmdletClasses().OrderBy(n => n, StringComparer.Ordinal).ToList();
        Assert.True(
            declared.SequenceEqual(classes),
            $"PrecomputedTools.psd1 CmdletsToExport: {string.Join(", ", declared)}\n[Cmdlet] classes in PrecomputedTools.dll: {string.Join(", ", classes)}\n" +
            $"missing from the manifest: {string.Join(", ", classes.Except(declared))}; without a class: {string.Join(", ", declared.Except(classes))}");
        var exported = _session.RunOk("Get-Command -Module PrecomputedTools -CommandType Cmdlet | ForEach-Object { $_.Name }")
            .Select(o => o.ToString()).OrderBy(n => n, StringComparer.Ordinal);
        Assert.Equal(classes, exported);
    }

    [Fact]
    public void CmdletAssemblyReferencesNoThirdPartyAssembly()
    {
        foreach (string dll in new[] { CmdletAssembly, Path.Combine(ModuleDirectory, "PrecomputedTools.Loader.dll") })
        {
            var references = AssemblyReferences(dll);
            Assert.Contains(references, r => r == "netstandard" || r == "System.Runtime");
            var thirdParty = references.Where(r => s_thirdPartyPrefixes.Any(p => r.StartsWith(p, StringComparison.Ordinal))).ToList();
            Assert.True(thirdParty.Count == 0, $"{Path.GetFileName(dll)} references {string.Join(", ", thirdParty)}");
        }

        // The engine does reference them: the check above is looking at the right names.
        var engine = AssemblyReferences(Path.Combine(ModuleDirectory, "Dependencies", "net8.0", "PrecomputedTools.Engine.dll"));
        Assert.Contains(engine, r => s_thirdPartyPrefixes.Any(p => r.StartsWith(p, StringComparison.Ordinal)));

        // Nothing third-party next to the cmdlet dll: it would load into the shared context.
        var rootDlls = Directory.GetFiles(ModuleDirectory, "*.dll").Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal);
        Assert.Equal(new[] { "PrecomputedTools.Loader.dll", "PrecomputedTools.dll" }, rootDlls);
    }

    [Fact]
    public void EveryCmdletDeclaresOutputTypeAndEveryWriterSupportsShouldProcess()
    {
        var problems = new List<string>();
        foreach (PSObject item in _session.RunOk("Get-Command -Module PrecomputedTools -CommandType Cmdlet"))
        {
            var command = (CmdletInfo)item.BaseObject;
            if (command.OutputType.Count == 0)
            {
                problems.Add(command.Name + ": no [OutputType]");
            }

            bool readOnly = s_readOnlyVerbs.Contains(command.Verb) || s_readOnlyCmdlets.Contains(command.Name);
            bool supportsShouldProcess = command.Parameters.ContainsKey("WhatIf") && command.Parameters.ContainsKey("Confirm");
            if (!readOnly && !supportsShouldProcess)
            {
                problems.Add(command.Name + ": has side effects (verb " + command.Verb + ") but no SupportsShouldProcess");
            }

            if (readOnly && command.Parameters.ContainsKey("Force") && !supportsShouldProcess)
            {
                problems.Add(command.Name + ": has -Force but no SupportsShouldProcess");
            }
        }

        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    // What Import-PowerShellDataFile does (it is not among the hosted engine's core cmdlets).
    private static Hashtable ReadManifest()
    {
        var ast = Parser.ParseFile(ModuleSession.ModulePath, out _, out ParseError[] errors);
        Assert.Empty(errors);
        var table = (HashtableAst)ast.Find(a => a is HashtableAst, searchNestedScriptBlocks: false)!;
        return (Hashtable)table.SafeGetValue();
    }

    private static List<string> AssemblyReferences(string path)
    {
        using var stream = File.OpenRead(path);
        using var pe = new PEReader(stream);
        MetadataReader reader = pe.GetMetadataReader();
        return reader.AssemblyReferences.Select(h => reader.GetString(reader.GetAssemblyReference(h).Name)).ToList();
    }

    /// <summary>Verb-Noun of every public [Cmdlet] class, read from metadata without loading the dll.</summary>
    private static List<string> CmdletClasses()
    {
        using var stream = File.OpenRead(CmdletAssembly);
        using var pe = new PEReader(stream);
        MetadataReader reader = pe.GetMetadataReader();
        var names = new List<string>();
        foreach (TypeDefinitionHandle handle in reader.TypeDefinitions)
        {
            TypeDefinition type = reader.GetTypeDefinition(handle);
            bool isPublic = (type.Attributes & System.Reflection.TypeAttributes.VisibilityMask) == System.Reflection.TypeAttributes.Public;
            if (!isPublic || (type.Attributes & System.Reflection.TypeAttributes.Abstract) != 0)
            {
                continue;
            }

            foreach (CustomAttributeHandle attributeHandle in type.GetCustomAttributes())
            {
                CustomAttribute attribute = reader.GetCustomAttribute(attributeHandle);
                if (AttributeTypeName(reader, attribute) != "System.Management.Automation.CmdletAttribute")
                {
                    continue;
                }

                CustomAttributeValue<string> value = attribute.DecodeValue(new AttributeTypeProvider());
                names.Add(value.FixedArguments[0].Value + "-" + value.FixedArguments[1].Value);
            }
        }

        return names;
    }

    private static string AttributeTypeName(MetadataReader reader, CustomAttribute attribute)
    {
        EntityHandle type = attribute.Constructor.Kind switch
        {
            HandleKind.MemberReference => reader.GetMemberReference((MemberReferenceHandle)attribute.Constructor).Parent,
            HandleKind.MethodDefinition => reader.GetMethodDefinition((MethodDefinitionHandle)attribute.Constructor).GetDeclaringType(),
            _ => default,
        };
        return type.Kind switch
        {
            HandleKind.TypeReference => reader.GetString(reader.GetTypeReference((TypeReferenceHandle)type).Namespace) + "." + reader.GetString(reader.GetTypeReference((TypeReferenceHandle)type).Name),
            HandleKind.TypeDefinition => reader.GetString(reader.GetTypeDefinition((TypeDefinitionHandle)type).Namespace) + "." + reader.GetString(reader.GetTypeDefinition((TypeDefinitionHandle)type).Name),
            _ => "",
        };
    }

    // Enough of a type provider to decode [Cmdlet(verb, noun, Named = ...)]: enums (ConfirmImpact) are int.
    private sealed class AttributeTypeProvider : ICustomAttributeTypeProvider<string>
    {
        public string GetPrimitiveType(PrimitiveTypeCode typeCode) => typeCode.ToString();

        public string GetSystemType() => "System.Type";

        public string GetSZArrayType(string elementType) => elementType + "[]";

        public string GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) => reader.GetString(reader.GetTypeDefinition(handle).Name);

        public string GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) => reader.GetString(reader.GetTypeReference(handle).Name);

        public string GetTypeFromSerializedName(string name) => name;

        public PrimitiveTypeCode GetUnderlyingEnumType(string type) => PrimitiveTypeCode.Int32;

        public bool IsSystemType(string type) => type == "System.Type";
    }
}
