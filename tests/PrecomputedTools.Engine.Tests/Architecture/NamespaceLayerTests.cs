using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using Xunit;

namespace PrecomputedTools.Engine.Tests.Architecture;

/// <summary>
/// The engine's namespaces form layers: no namespace uses one that uses it back, directly or
/// around a loop (Storage and Precomputed once used each other, then Precomputed and Meshing). Read
/// from the sources: every <c>using PrecomputedTools.Engine.X</c> and every qualified
/// <c>Engine.X.</c> reference in a file counts for the namespace the file declares.
/// </summary>
public sealed class NamespaceLayerTests
{
    private static readonly Regex s_namespace = new(@"^namespace PrecomputedTools\.Engine(?:\.(?<name>[A-Za-z]+))?[.;\s]", RegexOptions.Multiline);
    private static readonly Regex s_reference = new(@"(?:using PrecomputedTools\.Engine\.|PrecomputedTools\.Engine\.|[^.\w]Engine\.)(?<name>[A-Z][A-Za-z]+)\b");

    [Fact]
    public void TheEnginesNamespacesHaveNoCycle()
    {
        string engine = Path.Combine(TestData.RepoRoot, "src", "PrecomputedTools.Engine");
        var uses = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (string file in Directory.EnumerateFiles(engine, "*.cs", SearchOption.AllDirectories).Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)))
        {
            string text = File.ReadAllText(file);
            Match declared = s_namespace.Match(text);
            if (!declared.Success)
            {
                continue;
            }

            string from = declared.Groups["name"].Success ? declared.Groups["name"].Value : "(root)";
            HashSet<string> set = uses.TryGetValue(from, out HashSet<string>? known) ? known : uses[from] = new HashSet<string>(StringComparer.Ordinal);
            foreach (Match m in s_reference.Matches(text))
            {
                string to = m.Groups["name"].Value;
                if (to != from && Directory.Exists(Path.Combine(engine, to)))
                {
                    set.Add(to);
                }
            }
        }

        Assert.Contains("Stages", uses.Keys);
        Assert.Contains("Precomputed", uses["Stages"]);

        // Depth-first search for a way back to where it started.
        foreach (string start in uses.Keys)
        {
            var path = new Stack<string>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            string? Cycle(string at)
            {
                path.Push(at);
                foreach (string next in uses.TryGetValue(at, out HashSet<string>? n) ? n : new HashSet<string>())
                {
                    if (next == start)
                    {
                        return string.Join(" -> ", path.Reverse().Append(start));
                    }

                    if (seen.Add(next) && Cycle(next) is { } found)
                    {
                        return found;
                    }
                }

                path.Pop();
                return null;
            }

            Assert.Null(Cycle(start));
        }
    }
}
