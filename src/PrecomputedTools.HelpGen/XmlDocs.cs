using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace PrecomputedTools.HelpGen;

/// <summary>The compiler's XML documentation file: member id -> summary paragraphs.</summary>
internal sealed class XmlDocs
{
    private readonly Dictionary<string, XElement> _members = new(StringComparer.Ordinal);

    public XmlDocs(string? path)
    {
        if (path is null || !File.Exists(path))
        {
            return;
        }

        foreach (XElement member in XDocument.Load(path).Descendants("member"))
        {
            if (member.Attribute("name")?.Value is { } name)
            {
                _members[name] = member;
            }
        }
    }

    public List<string> Summary(string memberId) =>
        _members.TryGetValue(memberId, out XElement? member) && member.Element("summary") is { } summary
            ? ToParagraphs(summary)
            : new List<string>();

    public List<string> Remarks(string memberId) =>
        _members.TryGetValue(memberId, out XElement? member) && member.Element("remarks") is { } remarks
            ? ToParagraphs(remarks)
            : new List<string>();

    private static List<string> ToParagraphs(XElement element)
    {
        var paragraphs = new List<string>();
        var current = new StringBuilder();

        void End()
        {
            string text = Regex.Replace(current.ToString(), @"\s+", " ").Trim();
            if (text.Length > 0)
            {
                paragraphs.Add(text);
            }

            current.Clear();
        }

        void Walk(XNode node)
        {
            switch (node)
            {
                case XText text:
                    current.Append(text.Value);
                    break;
                case XElement { Name.LocalName: "para" } para:
                    End();
                    foreach (XNode child in para.Nodes())
                    {
                        Walk(child);
                    }

                    End();
                    break;
                case XElement { Name.LocalName: "see" or "seealso" } see:
                    if (see.Attribute("langword")?.Value is { } word)
                    {
                        current.Append(word == "null" ? "$null" : word);
                    }
                    else if (!see.IsEmpty)
                    {
                        current.Append(see.Value);
                    }
                    else if (see.Attribute("cref")?.Value is { } cref)
                    {
                        string name = cref.Substring(cref.IndexOf(':') + 1);
                        current.Append(name.Substring(name.LastIndexOf('.') + 1));
                    }

                    break;
                case XElement { Name.LocalName: "paramref" or "typeparamref" } reference:
                    current.Append(reference.Attribute("name")?.Value);
                    break;
                case XElement other:
                    foreach (XNode child in other.Nodes())
                    {
                        Walk(child);
                    }

                    break;
            }
        }

        foreach (XNode node in element.Nodes())
        {
            Walk(node);
        }

        End();
        return paragraphs.Where(p => p.Length > 0).ToList();
    }
}
