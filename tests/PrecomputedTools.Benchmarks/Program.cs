using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;

namespace PrecomputedTools.Benchmarks;

/// <summary>Runs the benchmark sections named on the command line (all when none is given).</summary>
public static class Program
{
    private static readonly Dictionary<string, Func<string[], Task<int>>> s_sections = new(StringComparer.OrdinalIgnoreCase)
    {
        ["mesh"] = MeshBenchmark.RunAsync,
    };

    public static async Task<int> Main(string[] args)
    {
        string[] names = args.Length > 0 && s_sections.ContainsKey(args[0]) ? new[] { args[0] } : s_sections.Keys.ToArray();
        string[] rest = args.Length > 0 && s_sections.ContainsKey(args[0]) ? args.Skip(1).ToArray() : args;
        int rc = 0;
        foreach (string name in names)
        {
            Console.WriteLine($"== {name} ==");
            rc |= await s_sections[name](rest).ConfigureAwait(false);
        }

        return rc;
    }
}
