using System;
using System.Threading.Tasks;

namespace PrecomputedTools.Benchmarks;

public static class Program
{
    /// <summary>Runs the named sections ("boss", ...); no argument runs all of them.</summary>
    public static async Task<int> Main(string[] args)
    {
        bool all = args.Length == 0;
        if (all || Array.IndexOf(args, "boss") >= 0)
        {
            await BossBenchmarks.RunAsync().ConfigureAwait(false);
        }

        return 0;
    }
}
