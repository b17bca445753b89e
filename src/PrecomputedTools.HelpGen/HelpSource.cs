using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace PrecomputedTools.HelpGen;

/// <summary>One example: a title, the code, and the paragraphs that explain it.</summary>
internal sealed record HelpExample(string Title, string Code, IReadOnlyList<string> Remarks);

/// <summary>A related link: its text and, for web pages, its address.</summary>
internal sealed record HelpLink(string Text, string Uri);

/// <summary>
/// The hand-written part of a cmdlet's help, read from src/PrecomputedTools/Help/Verb-Noun.md.
/// The layout follows platyPS markdown (## SYNOPSIS, ## DESCRIPTION, ## EXAMPLES with ### titles
/// and fenced code, ## PARAMETERS with ### -Name to add to or replace a parameter's XML doc,
/// ## INPUTS / ## OUTPUTS with ### TypeName, ## NOTES, ## RELATED LINKS as a list).
/// </summary>
internal sealed class HelpSource
{
    public string CommandName { get; private set; } = "";

    public string SourcePath { get; private set; } = "";

    public List<string> Synopsis { get; } = new();

    public List<string> Description { get; } = new();

    public List<HelpExample> Examples { get; } = new();

    public Dictionary<string, List<string>> Parameters { get; } = new(StringComparer.OrdinalIgnoreCase);

    public Dictionary<string, List<string>> Inputs { get; } = new(StringComparer.OrdinalIgnoreCase);

    public Dictionary<string, List<string>> Outputs { get; } = new(StringComparer.OrdinalIgnoreCase);

    public List<string> Notes { get; } = new();

    public List<HelpLink> Links { get; } = new();

    public static HelpSource Parse(string path)
    {
        var source = new HelpSource { SourcePath = path };
        string[] lines = File.ReadAllText(path).Replace("\r\n", "\n").Split('\n');
        string section = "";
        string subsection = "";
        var block = new List<string>();
        string? pendingCode = null;
        var exampleTitle = "";
        int i = 0;

        void Flush()
        {
            List<string> paragraphs = Paragraphs(block);
            block.Clear();
            switch (section)
            {
                case "SYNOPSIS":
                    source.Synopsis.AddRange(paragraphs);
                    break;
                case "DESCRIPTION":
                    source.Description.AddRange(paragraphs);
                    break;
                case "NOTES":
                    source.Notes.AddRange(paragraphs);
                    break;
                case "EXAMPLES":
                    if (exampleTitle.Length > 0)
                    {
                        source.Examples.Add(new HelpExample(exampleTitle, pendingCode ?? "", paragraphs));
                    }

                    exampleTitle = "";
                    pendingCode = null;
                    break;
                case "PARAMETERS":
                    AddTo(source.Parameters, subsection.TrimStart('-'), paragraphs);
                    break;
                case "INPUTS":
                    AddTo(source.Inputs, subsection, paragraphs);
                    break;
                case "OUTPUTS":
                    AddTo(source.Outputs, subsection, paragraphs);
                    break;
                case "RELATED LINKS":
                    foreach (string paragraph in paragraphs)
                    {
                        foreach (string item in paragraph.Split('\n'))
                        {
                            if (ParseLink(item) is { } link)
                            {
                                source.Links.Add(link);
                            }
                        }
                    }

                    break;
            }
        }

        for (; i < lines.Length; i++)
        {
            string line = lines[i];
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                var code = new StringBuilder();
                for (i++; i < lines.Length && !lines[i].StartsWith("```", StringComparison.Ordinal); i++)
                {
                    code.Append(lines[i]).Append('\n');
                }

                if (section == "EXAMPLES" && pendingCode is null && block.Count == 0)
                {
                    pendingCode = code.ToString().TrimEnd('\n');
                }
                else
                {
                    // A second code block (or code inside prose) stays part of the text.
                    block.Add(code.ToString().TrimEnd('\n'));
                    block.Add("");
                }

                continue;
            }

            if (line.StartsWith("# ", StringComparison.Ordinal))
            {
                Flush();
                source.CommandName = line.Substring(2).Trim();
                section = "";
                continue;
            }

            if (line.StartsWith("## ", StringComparison.Ordinal))
            {
                Flush();
                section = line.Substring(3).Trim().ToUpperInvariant();
                subsection = "";
                continue;
            }

            if (line.StartsWith("### ", StringComparison.Ordinal))
            {
                Flush();
                subsection = line.Substring(4).Trim();
                if (section == "EXAMPLES")
                {
                    exampleTitle = subsection;
                }

                continue;
            }

            block.Add(line);
        }

        Flush();
        return source;
    }

    private static void AddTo(Dictionary<string, List<string>> map, string key, List<string> paragraphs)
    {
        if (key.Length == 0 || paragraphs.Count == 0)
        {
            return;
        }

        if (!map.TryGetValue(key, out List<string>? list))
        {
            map[key] = list = new List<string>();
        }

        list.AddRange(paragraphs);
    }

    // "- [Text](https://...)", "- [Other-Cmdlet]()", "- Other-Cmdlet"
    private static HelpLink? ParseLink(string item)
    {
        string text = item.Trim();
        if (text.StartsWith("- ", StringComparison.Ordinal) || text.StartsWith("* ", StringComparison.Ordinal))
        {
            text = text.Substring(2).Trim();
        }

        if (text.Length == 0)
        {
            return null;
        }

        if (text[0] == '[')
        {
            int close = text.IndexOf("](", StringComparison.Ordinal);
            if (close > 0 && text.EndsWith(")", StringComparison.Ordinal))
            {
                return new HelpLink(text.Substring(1, close - 1), text.Substring(close + 2, text.Length - close - 3));
            }
        }

        return new HelpLink(text, "");
    }

    /// <summary>
    /// Splits lines into paragraphs at blank lines. Prose lines are joined with spaces; lists and
    /// indented lines keep their line breaks.
    /// </summary>
    internal static List<string> Paragraphs(List<string> lines)
    {
        var result = new List<string>();
        var current = new List<string>();

        void End()
        {
            if (current.Count == 0)
            {
                return;
            }

            bool keepBreaks = current.Exists(l => l.StartsWith("- ", StringComparison.Ordinal) || l.StartsWith("* ", StringComparison.Ordinal) || l.StartsWith("  ", StringComparison.Ordinal) || l.Contains('\n'));
            result.Add(keepBreaks ? string.Join("\n", current) : string.Join(" ", current.ConvertAll(l => l.Trim())));
            current.Clear();
        }

        foreach (string line in lines)
        {
            if (line.Trim().Length == 0)
            {
                End();
            }
            else
            {
                current.Add(line.TrimEnd());
            }
        }

        End();
        return result;
    }
}
