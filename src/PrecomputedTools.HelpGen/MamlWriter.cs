using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Xml.Linq;

namespace PrecomputedTools.HelpGen;

/// <summary>Writes commands as MAML, the XML that Get-Help reads from en-US/&lt;Module&gt;.dll-Help.xml.</summary>
internal static class MamlWriter
{
    private static readonly XNamespace s_msh = "http://msh";
    private static readonly XNamespace s_maml = "http://schemas.microsoft.com/maml/2004/10";
    private static readonly XNamespace s_command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
    private static readonly XNamespace s_dev = "http://schemas.microsoft.com/maml/dev/2004/10";

    public sealed record Entry(CommandModel Command, HelpSource? Source, List<string> Synopsis, List<string> Description, List<(Type Type, List<string> Text)> Inputs, List<(Type Type, List<string> Text)> Outputs);

    public static XDocument Write(IEnumerable<Entry> entries)
    {
        var root = new XElement(
            s_msh + "helpItems",
            new XAttribute("schema", "maml"),
            new XAttribute(XNamespace.Xmlns + "maml", s_maml),
            new XAttribute(XNamespace.Xmlns + "command", s_command),
            new XAttribute(XNamespace.Xmlns + "dev", s_dev));
        foreach (Entry entry in entries)
        {
            root.Add(Command(entry));
        }

        return new XDocument(new XDeclaration("1.0", "utf-8", null), root);
    }

    private static XElement Command(Entry entry)
    {
        CommandModel command = entry.Command;
        HelpSource? source = entry.Source;
        var parameters = command.Parameters.ToList();
        return new XElement(
            s_command + "command",
            new XElement(
                s_command + "details",
                new XElement(s_command + "name", command.Name),
                new XElement(s_command + "verb", command.Verb),
                new XElement(s_command + "noun", command.Noun),
                Description(entry.Synopsis)),
            Description(entry.Description),
            new XElement(s_command + "syntax", command.SetNames.Select(set => SyntaxItem(command, set))),
            new XElement(
                s_command + "parameters",
                parameters.Select(p => Parameter(p, p.Sets, includeValues: true)),
                command.SupportsShouldProcess ? ShouldProcessParameters() : null),
            new XElement(s_command + "inputTypes", entry.Inputs.Select(i => TypeEntry(s_command + "inputType", i.Type, i.Text))),
            new XElement(s_command + "returnValues", entry.Outputs.Select(o => TypeEntry(s_command + "returnValue", o.Type, o.Text))),
            source is { Notes.Count: > 0 }
                ? new XElement(s_maml + "alertSet", new XElement(s_maml + "alert", Paragraphs(source.Notes)))
                : null,
            new XElement(
                s_command + "examples",
                (source?.Examples ?? new List<HelpExample>()).Select((example, i) => new XElement(
                    s_command + "example",
                    new XElement(s_maml + "title", $"-------------------------- {Title(example.Title, i)} --------------------------"),
                    new XElement(s_dev + "code", example.Code),
                    new XElement(s_dev + "remarks", Paragraphs(example.Remarks))))),
            new XElement(
                s_command + "relatedLinks",
                (source?.Links ?? new List<HelpLink>()).Select(link => new XElement(
                    s_maml + "navigationLink",
                    new XElement(s_maml + "linkText", link.Text),
                    new XElement(s_maml + "uri", link.Uri)))));
    }

    private static string Title(string title, int index) =>
        title.StartsWith("Example", StringComparison.OrdinalIgnoreCase) ? title : $"Example {index + 1}: {title}";

    private static XElement SyntaxItem(CommandModel command, string set)
    {
        var item = new XElement(s_command + "syntaxItem", new XElement(s_maml + "name", command.Name));
        foreach (ParameterInSet entry in command.ParametersOf(set))
        {
            item.Add(Parameter(entry.Parameter, new[] { entry }, includeValues: true));
        }

        if (command.SupportsShouldProcess)
        {
            item.Add(ShouldProcessParameters());
        }

        return item;
    }

    private static XElement Parameter(ParameterModel parameter, IReadOnlyList<ParameterInSet> sets, bool includeValues)
    {
        bool required = sets.Count > 0 && sets.All(s => s.Mandatory);
        var positions = sets.Select(s => s.Position).Distinct().ToList();
        string position = positions.Count == 1 && positions[0] >= 0 ? positions[0].ToString(System.Globalization.CultureInfo.InvariantCulture) : "named";
        bool byValue = sets.Any(s => s.ByValue);
        bool byName = sets.Any(s => s.ByPropertyName);
        string pipeline = (byValue, byName) switch
        {
            (true, true) => "True (ByPropertyName, ByValue)",
            (true, false) => "True (ByValue)",
            (false, true) => "True (ByPropertyName)",
            _ => "False",
        };
        string typeName = TypeName(parameter.Type);
        return new XElement(
            s_command + "parameter",
            new XAttribute("required", required ? "true" : "false"),
            new XAttribute("variableLength", "true"),
            new XAttribute("globbing", parameter.Globbing ? "true" : "false"),
            new XAttribute("pipelineInput", pipeline),
            new XAttribute("position", position),
            new XAttribute("aliases", parameter.Aliases.Count == 0 ? "none" : string.Join(", ", parameter.Aliases)),
            new XElement(s_maml + "name", parameter.Name),
            Description(parameter.Description),
            includeValues && parameter.AllowedValues.Count > 0
                ? new XElement(
                    s_command + "parameterValueGroup",
                    parameter.AllowedValues.Select(v => new XElement(
                        s_command + "parameterValue",
                        new XAttribute("required", "false"),
                        new XAttribute(s_command + "variableLength", "false"),
                        v)))
                : null,
            parameter.IsSwitch
                ? null
                : new XElement(s_command + "parameterValue", new XAttribute("required", "true"), new XAttribute("variableLength", "false"), typeName),
            new XElement(s_dev + "type", new XElement(s_maml + "name", typeName), new XElement(s_maml + "uri")),
            new XElement(s_dev + "defaultValue", parameter.DefaultValue));
    }

    private static IEnumerable<XElement> ShouldProcessParameters()
    {
        yield return SwitchParameter("Confirm", "cf", "Prompts you for confirmation before running the cmdlet. In runbooks and other non-interactive hosts, pass -Confirm:$false.");
        yield return SwitchParameter("WhatIf", "wi", "Shows what would happen if the cmdlet runs. The cmdlet is not run and nothing is written.");
    }

    private static XElement SwitchParameter(string name, string alias, string text) => new(
        s_command + "parameter",
        new XAttribute("required", "false"),
        new XAttribute("variableLength", "true"),
        new XAttribute("globbing", "false"),
        new XAttribute("pipelineInput", "False"),
        new XAttribute("position", "named"),
        new XAttribute("aliases", alias),
        new XElement(s_maml + "name", name),
        Description(new List<string> { text }),
        new XElement(s_dev + "type", new XElement(s_maml + "name", nameof(System.Management.Automation.SwitchParameter)), new XElement(s_maml + "uri")),
        new XElement(s_dev + "defaultValue", "False"));

    private static XElement TypeEntry(XName name, Type type, List<string> text) => new(
        name,
        new XElement(s_dev + "type", new XElement(s_maml + "name", type.FullName), new XElement(s_maml + "uri")),
        Description(text));

    private static XElement Description(IEnumerable<string> paragraphs) => new(s_maml + "description", Paragraphs(paragraphs));

    private static IEnumerable<XElement> Paragraphs(IEnumerable<string> paragraphs) =>
        paragraphs.Select(p => new XElement(s_maml + "para", p));

    /// <summary>String[], Int32, SwitchParameter, PrecomputedTools.VolumeSource: short names for system types, as platyPS does.</summary>
    internal static string TypeName(Type type)
    {
        if (type.IsArray)
        {
            return TypeName(type.GetElementType()!) + "[]";
        }

        if (type.Namespace is { } ns && (ns == "System" || ns.StartsWith("System.", StringComparison.Ordinal)))
        {
            return type.Name;
        }

        return type.FullName ?? type.Name;
    }
}
