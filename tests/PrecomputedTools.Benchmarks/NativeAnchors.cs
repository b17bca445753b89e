using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;

namespace PrecomputedTools.Benchmarks;

/// <summary>
/// The native reference programs of ../shared/anchors (built by its build.sh into $PT_ANCHORS or
/// /tmp/anchors, reading Z-Brain as raw uint64 from $PT_ZBRAIN_RAW or /tmp/zbrain.raw; see the
/// benchmark README). When present, sections run them between their own repetitions so that every
/// ratio comes from one run on the same machine state.
/// </summary>
public static class NativeAnchors
{
    private static readonly Regex s_line = new(@"^\s+(?<what>.+?)\s+wall best\s+(?<best>[\d.]+)\s+median\s+(?<median>[\d.]+)\s+(?<unit>\S+)\s+per CPU-s\s+(?<cpu>[\d.]+)", RegexOptions.CultureInvariant);

    public static string Folder => Environment.GetEnvironmentVariable("PT_ANCHORS") is { Length: > 0 } a ? a : "/tmp/anchors";

    public static string ZBrainRaw => Environment.GetEnvironmentVariable("PT_ZBRAIN_RAW") is { Length: > 0 } r ? r : "/tmp/zbrain.raw";

    public static bool Has(string tool) => File.Exists(Path.Combine(Folder, tool)) && File.Exists(ZBrainRaw);

    /// <summary>Runs a tool once; each result line's median rate by "label (unit)".</summary>
    public static Dictionary<string, double> Run(string tool, double seconds) => Run(tool, seconds, ZBrainRaw, out _);

    /// <summary>Runs an anchor on another 1406 × 621 × 138 uint64 raw volume; <paramref name="output"/> is everything it printed.</summary>
    public static Dictionary<string, double> Run(string tool, double seconds, string raw, out string output)
    {
        var start = new ProcessStartInfo(Path.Combine(Folder, tool))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(raw);
        start.ArgumentList.Add(seconds.ToString(CultureInfo.InvariantCulture));
        using Process process = Process.Start(start) ?? throw new InvalidOperationException("cannot start " + tool);
        output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} failed ({process.ExitCode}): {process.StandardError.ReadToEnd()}");
        }

        var rates = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (string line in output.Split('\n'))
        {
            Match m = s_line.Match(line);
            if (m.Success)
            {
                rates[m.Groups["what"].Value + " (" + m.Groups["unit"].Value + ")"] = double.Parse(m.Groups["median"].Value, CultureInfo.InvariantCulture);
                rates[m.Groups["what"].Value + " (" + m.Groups["unit"].Value + " per CPU-s)"] = double.Parse(m.Groups["cpu"].Value, CultureInfo.InvariantCulture);
            }
        }

        return rates;
    }

    /// <summary>
    /// The side-by-side loop every section uses: <paramref name="repetitions"/> rounds, each running
    /// the tool once and then measuring each row of ours, so both sides see the same machine state;
    /// then one ratio line per row.
    /// </summary>
    /// <param name="rows">What a row is called, the tool's line it is compared with ("label (unit)"), how ours is measured (a rate in <paramref name="unit"/>), and the target ratio.</param>
    public static void SideBySide(string tool, string anchor, BenchContext context, IReadOnlyList<(string What, string Theirs, Func<double> Ours, double Target)> rows, string unit, int repetitions = 3)
    {
        var ours = rows.Select(_ => new List<double>()).ToArray();
        var theirs = rows.Select(_ => new List<double>()).ToArray();
        for (int rep = 0; rep < repetitions; rep++)
        {
            Dictionary<string, double> rates = Run(tool, context.Options.SecondsPerMeasurement);
            for (int r = 0; r < rows.Count; r++)
            {
                ours[r].Add(rows[r].Ours());
                theirs[r].Add(rates.TryGetValue(rows[r].Theirs, out double rate) ? rate : throw new InvalidOperationException($"{tool} printed no line '{rows[r].Theirs}'."));
            }
        }

        for (int r = 0; r < rows.Count; r++)
        {
            ReportRatios(rows[r].What, anchor, ours[r], theirs[r], unit, rows[r].Target);
        }
    }

    /// <summary>Prints ours / theirs per pair (medians of each run) and the median ratio.</summary>
    public static void ReportRatios(string what, string anchor, IReadOnlyList<double> ours, IReadOnlyList<double> theirs, string unit, double target = 1.0)
    {
        double[] ratios = ours.Zip(theirs, (o, t) => o / t).OrderBy(r => r).ToArray();
        double median = ratios[ratios.Length / 2];
        Console.WriteLine(string.Format(
            CultureInfo.InvariantCulture,
            "  {0,-42} ours {1,7:F0} vs {2} {3,7:F0} {4}: {5:F2}x (pairs: {6}){7}",
            what,
            ours.OrderBy(x => x).ElementAt(ours.Count / 2),
            anchor,
            theirs.OrderBy(x => x).ElementAt(theirs.Count / 2),
            unit,
            median,
            string.Join(", ", ratios.Select(r => r.ToString("F2", CultureInfo.InvariantCulture))),
            median >= target ? "" : "  BELOW " + target.ToString("F1", CultureInfo.InvariantCulture) + "x"));
    }
}
