using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Reflection;
using System.Runtime.Loader;

namespace PrecomputedTools.HelpGen;

/// <summary>
/// Writes the module's MAML help. Usage:
///   HelpGen --assembly PrecomputedTools.dll --xmldoc PrecomputedTools.xml --help Help/
///           --output en-US/PrecomputedTools.dll-Help.xml [--probe dir]... [--strict]
/// Each gap (a cmdlet without a help source, a parameter without a description, fewer than two
/// examples, ...) is reported as an MSBuild warning; --strict makes them errors.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        string? assemblyPath = null, xmlDocPath = null, helpDirectory = null, outputPath = null;
        var probes = new List<string>();
        bool strict = false;
        for (int i = 0; i < args.Length; i++)
        {
            string value = i + 1 < args.Length ? args[i + 1] : "";
            switch (args[i])
            {
                case "--assembly": assemblyPath = value; i++; break;
                case "--xmldoc": xmlDocPath = value; i++; break;
                case "--help": helpDirectory = value; i++; break;
                case "--output": outputPath = value; i++; break;
                case "--probe": probes.Add(value); i++; break;
                case "--strict": strict = true; break;
                default:
                    Console.Error.WriteLine($"HelpGen : error PTHELP000: unknown argument '{args[i]}'.");
                    return 2;
            }
        }

        if (assemblyPath is null || helpDirectory is null || outputPath is null)
        {
            Console.Error.WriteLine("HelpGen : error PTHELP000: give --assembly, --help and --output.");
            return 2;
        }

        probes.Add(Path.GetDirectoryName(Path.GetFullPath(assemblyPath))!);
        AssemblyLoadContext.Default.Resolving += (context, name) =>
        {
            foreach (string directory in probes)
            {
                string candidate = Path.Combine(directory, name.Name + ".dll");
                if (File.Exists(candidate))
                {
                    return context.LoadFromAssemblyPath(Path.GetFullPath(candidate));
                }
            }

            return null;
        };

        Assembly assembly = AssemblyLoadContext.Default.LoadFromAssemblyPath(Path.GetFullPath(assemblyPath));
        var generator = new Generator(new XmlDocs(xmlDocPath), helpDirectory);
        List<MamlWriter.Entry> entries = generator.Build(assembly);
        foreach (string gap in generator.Gaps)
        {
            Console.WriteLine($"HelpGen : {(strict ? "error" : "warning")} PTHELP001: {gap}");
        }

        string fullOutput = Path.GetFullPath(outputPath);
        Directory.CreateDirectory(Path.GetDirectoryName(fullOutput)!);
        string temp = fullOutput + ".pt-tmp";
        MamlWriter.Write(entries).Save(temp);
        File.Move(temp, fullOutput, overwrite: true);
        Console.WriteLine($"HelpGen: wrote help for {entries.Count} cmdlets to {fullOutput}");
        return strict && generator.Gaps.Count > 0 ? 1 : 0;
    }
}

/// <summary>Joins reflection, XML docs and the markdown sources; records every gap.</summary>
internal sealed class Generator
{
    private readonly XmlDocs _docs;
    private readonly Dictionary<string, HelpSource> _sources = new(StringComparer.OrdinalIgnoreCase);

    public Generator(XmlDocs docs, string helpDirectory)
    {
        _docs = docs;
        if (Directory.Exists(helpDirectory))
        {
            foreach (string file in Directory.GetFiles(helpDirectory, "*-*.md").OrderBy(f => f, StringComparer.Ordinal))
            {
                HelpSource source = HelpSource.Parse(file);
                string fileName = Path.GetFileNameWithoutExtension(file);
                if (!string.Equals(source.CommandName, fileName, StringComparison.OrdinalIgnoreCase))
                {
                    Gaps.Add($"{file}: the title '# {source.CommandName}' does not match the file name '{fileName}'.");
                }

                _sources[fileName] = source;
            }
        }
    }

    public List<string> Gaps { get; } = new();

    public List<MamlWriter.Entry> Build(Assembly assembly)
    {
        var commands = assembly.GetExportedTypes()
            .Where(t => t.IsClass && !t.IsAbstract)
            .Select(t => (Type: t, Cmdlet: t.GetCustomAttribute<CmdletAttribute>()))
            .Where(c => c.Cmdlet is not null)
            .Select(c => CommandModel.FromType(c.Type, c.Cmdlet!))
            .OrderBy(c => c.Name, StringComparer.OrdinalIgnoreCase)
            .ToList();

        var entries = commands.Select(Entry).ToList();
        foreach (string orphan in _sources.Keys.Except(commands.Select(c => c.Name), StringComparer.OrdinalIgnoreCase))
        {
            Gaps.Add($"{_sources[orphan].SourcePath}: no cmdlet named {orphan} in {assembly.GetName().Name}.");
        }

        return entries;
    }

    private MamlWriter.Entry Entry(CommandModel command)
    {
        string typeId = "T:" + command.Type.FullName;
        _sources.TryGetValue(command.Name, out HelpSource? source);
        if (source is null)
        {
            Gaps.Add($"{command.Name}: no help source; write src/PrecomputedTools/Help/{command.Name}.md (synopsis, description, two examples, links).");
        }

        List<string> synopsis = source?.Synopsis.Count > 0 ? source.Synopsis : _docs.Summary(typeId);
        List<string> description = source?.Description.Count > 0 ? source.Description : _docs.Remarks(typeId);
        Require(command, synopsis.Count > 0, "no synopsis (## SYNOPSIS)");
        Require(command, description.Count > 0, "no description (## DESCRIPTION)");
        Require(command, (source?.Examples.Count ?? 0) >= 2, $"{source?.Examples.Count ?? 0} example(s), at least 2 wanted (## EXAMPLES, ### titles, fenced code)");
        Require(command, source?.Examples.TrueForAll(e => e.Code.Length > 0) ?? true, "an example without code");
        Require(command, (source?.Links.Count ?? 0) > 0, "no related links (## RELATED LINKS)");

        foreach (ParameterModel parameter in command.Parameters)
        {
            List<string>? own = null;
            source?.Parameters.TryGetValue(parameter.Name, out own);
            parameter.Description = own is { Count: > 0 }
                ? own
                : _docs.Summary($"P:{parameter.Property.DeclaringType!.FullName}.{parameter.Property.Name}");
            Require(command, parameter.Description.Count > 0, $"parameter -{parameter.Name} has no description (/// <summary> on the property)");
        }

        if (source is not null)
        {
            foreach (string name in source.Parameters.Keys.Where(n => !command.Parameters.Exists(p => string.Equals(p.Name, n, StringComparison.OrdinalIgnoreCase))))
            {
                Gaps.Add($"{command.Name}: the help source describes -{name}, which the cmdlet does not have.");
            }
        }

        var inputs = command.Parameters
            .Where(p => p.Sets.Exists(s => s.ByValue))
            .Select(p => p.Type.IsArray ? p.Type.GetElementType()! : p.Type)
            .Distinct()
            .Select(t => (t, TypeText(t, source?.Inputs)))
            .ToList();
        var outputs = command.OutputTypes.Select(t => (t, TypeText(t, source?.Outputs))).ToList();
        Require(command, outputs.Count > 0, "no [OutputType]");
        return new MamlWriter.Entry(command, source, synopsis, description, inputs, outputs);
    }

    private List<string> TypeText(Type type, Dictionary<string, List<string>>? own)
    {
        if (own is not null && (own.TryGetValue(type.FullName!, out List<string>? text) || own.TryGetValue(type.Name, out text)))
        {
            return text;
        }

        return _docs.Summary("T:" + type.FullName);
    }

    private void Require(CommandModel command, bool condition, string gap)
    {
        if (!condition)
        {
            Gaps.Add($"{command.Name}: {gap}.");
        }
    }
}
