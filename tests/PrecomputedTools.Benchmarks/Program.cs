using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;

namespace PrecomputedTools.Benchmarks;

/// <summary>
/// Console benchmarks on the real Z-Brain labels. Usage:
/// <c>dotnet run -c Release --project tests/PrecomputedTools.Benchmarks -- [section ...] [--seconds N] [--threads N]</c>.
/// With no section every section runs. Sections register themselves in <see cref="Sections"/>.
/// </summary>
public static class Program
{
    /// <summary>Every bench section, by the name given on the command line. Add new sections here.</summary>
    public static readonly IReadOnlyList<IBenchSection> Sections = new IBenchSection[]
    {
        new CodecBench(),
        new MajorityBench(),
        new PipelineBench(),
        new BossBench(),
        new PublishBench(),
        new MeshBench(),
        new MarchingCubesBench(),
        new SimplifyBench(),
        new MultiResolutionBench(),
        new StorageBench(),
        new ScaleBench(),
        new ScaleCostBench(),
        new ShardBench(),
        new ImageBench(),
    };

    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == PipelineBench.ChildFlag)
        {
            return PipelineBench.RunChild(args);
        }

        if (args.Length > 0 && args[0] == PipelineBench.MeshChildFlag)
        {
            return PipelineBench.RunMeshChild(args);
        }

        if (args.Length > 0 && args[0] == ScaleBench.ChildFlag)
        {
            return ScaleBench.RunChild(args);
        }

        if (args.Length > 0 && args[0] == ShardBench.ChildFlag)
        {
            return ShardBench.RunChild(args);
        }

        if (args.Length > 0 && args[0] == StorageBench.ChildFlag)
        {
            return StorageBench.RunChild(args);
        }

        // For ClusterBench.ps1: the synthetic EM-like segmentation as TIFF slices workers can read.
        if (args.Length == 3 && args[0] == "--write-em-tiff")
        {
            var volume = Synthetic.SyntheticEmVolume.Gigavoxel(int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture));
            Engine.Export.TiffStackExporter.ExportAsync(volume, args[1], null, Engine.OperationMonitor.None, System.Threading.CancellationToken.None).GetAwaiter().GetResult();
            Console.WriteLine($"{volume.Size} {volume.CellCount} cells");
            return 0;
        }

        var selected = new List<IBenchSection>();
        var options = new BenchOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            switch (a)
            {
                case "--seconds":
                    options.SecondsPerMeasurement = double.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture);
                    continue;
                case "--threads":
                    options.Threads = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture);
                    continue;
                case "--list":
                case "-h":
                case "--help":
                    PrintUsage();
                    return 0;
            }

            IBenchSection? section = Sections.FirstOrDefault(s => string.Equals(s.Name, a, StringComparison.OrdinalIgnoreCase));
            if (section is null)
            {
                Console.Error.WriteLine($"Unknown section '{a}'.");
                PrintUsage();
                return 2;
            }

            selected.Add(section);
        }

        if (selected.Count == 0)
        {
            selected.AddRange(Sections);
        }

#if DEBUG
        Console.WriteLine("WARNING: Debug build; run with -c Release for meaningful numbers.");
#endif
        var context = new BenchContext(options);
        Console.WriteLine($"PrecomputedTools benchmarks  {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC  .NET {Environment.Version}  {Environment.ProcessorCount} logical cores, {context.Threads} used for 'all cores'");
        Console.WriteLine($"Shared data: {context.SharedData}");
        var total = Stopwatch.StartNew();
        foreach (IBenchSection section in selected)
        {
            Console.WriteLine();
            Console.WriteLine($"== {section.Name}: {section.Description}");
            section.Run(context);
        }

        Console.WriteLine();
        Console.WriteLine($"Done in {total.Elapsed.TotalSeconds:F1} s.");
        return 0;
    }

    private static void PrintUsage()
    {
        Console.WriteLine("Usage: PrecomputedTools.Benchmarks [section ...] [--seconds N] [--threads N]");
        Console.WriteLine("Sections:");
        foreach (IBenchSection s in Sections)
        {
            Console.WriteLine($"  {s.Name,-12} {s.Description}");
        }
    }
}

/// <summary>One named group of measurements.</summary>
public interface IBenchSection
{
    string Name { get; }

    string Description { get; }

    void Run(BenchContext context);
}

public sealed class BenchOptions
{
    /// <summary>Minimum time spent on each measurement (after a warm-up pass).</summary>
    public double SecondsPerMeasurement { get; set; } = 1.0;

    /// <summary>Threads for the "all cores" measurements (default: all logical cores).</summary>
    public int Threads { get; set; } = Environment.ProcessorCount;
}

/// <summary>The BOSS download and blosc decode measurements (see BossBenchmarks).</summary>
public sealed class BossBench : IBenchSection
{
    public string Name => "boss";

    public string Description => "loopback BOSS download vs plain HTTP GET; managed blosc decode vs native libblosc";

    public void Run(BenchContext context) => BossBenchmarks.RunAsync().GetAwaiter().GetResult();
}
