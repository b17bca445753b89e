using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Security.Cryptography;
using PrecomputedTools.Engine;

namespace PrecomputedTools.Benchmarks;

/// <summary>Best and median wall time of a pass, and process CPU seconds per pass, in seconds.</summary>
public readonly record struct Timing(double Best, double Median, double CpuPerPass);

/// <summary>Shared state for the sections: options, the Z-Brain volume (loaded once) and timing/report helpers.</summary>
public sealed class BenchContext
{
    /// <summary>Z-Brain in the guide's orientation: size x=1406, y=621, z=138.</summary>
    public static readonly Int3 ZBrainSize = new(1406, 621, 138);

    private const string ZBrainOrientedSha256 = "97cbd30d914377f81317de2fceaa1373550bdf9085edabc8a3e322d1980c2ed7";
    private byte[]? _zbrain;

    public BenchContext(BenchOptions options)
    {
        Options = options;
        SharedData = FindSharedData();
    }

    public BenchOptions Options { get; }

    public int Threads => Math.Max(1, Options.Threads);

    public string SharedData { get; }

    /// <summary>The Z-Brain labels as uint8, volume[z][y][x] (x fastest), checked against the README's sha256.</summary>
    public byte[] ZBrain => _zbrain ??= LoadZBrain();

    /// <summary>Cuts Z-Brain into chunks of <paramref name="chunk"/> (clipped at the edges), widened to uint64.</summary>
    public List<(Box3 Box, ulong[] Voxels)> ZBrainChunks64(Int3 chunk)
    {
        byte[] vol = ZBrain;
        var result = new List<(Box3, ulong[])>();
        Int3 s = ZBrainSize;
        for (int z0 = 0; z0 < s.Z; z0 += chunk.Z)
        {
            for (int y0 = 0; y0 < s.Y; y0 += chunk.Y)
            {
                for (int x0 = 0; x0 < s.X; x0 += chunk.X)
                {
                    var box = new Box3(new Int3(x0, y0, z0), Int3.Min(new Int3(x0, y0, z0) + chunk, s));
                    Int3 c = box.Size;
                    var voxels = new ulong[c.Volume];
                    int i = 0;
                    for (int z = 0; z < c.Z; z++)
                    {
                        for (int y = 0; y < c.Y; y++)
                        {
                            long row = x0 + ((long)s.X * (y0 + y + ((long)s.Y * (z0 + z))));
                            for (int x = 0; x < c.X; x++)
                            {
                                voxels[i++] = vol[row + x];
                            }
                        }
                    }

                    result.Add((box, voxels));
                }
            }
        }

        return result;
    }

    /// <summary>
    /// Runs <paramref name="pass"/> once to warm up, then repeatedly until the configured time has passed
    /// (at least three passes). Returns the best wall time of a pass, the median, and the process CPU time
    /// per pass (all threads). On a shared, loaded machine the CPU time is the fairer "per core" measure:
    /// time-slicing by other processes inflates wall time but not our CPU time.
    /// </summary>
    public Timing Time(Action pass)
    {
        pass();
        var times = new List<double>();
        using Process self = Process.GetCurrentProcess();
        self.Refresh();
        TimeSpan cpu0 = self.TotalProcessorTime;
        var total = Stopwatch.StartNew();
        while (times.Count < 3 || (total.Elapsed.TotalSeconds < Options.SecondsPerMeasurement && times.Count < 1000))
        {
            var sw = Stopwatch.StartNew();
            pass();
            times.Add(sw.Elapsed.TotalSeconds);
        }

        self.Refresh();
        double cpuPerPass = (self.TotalProcessorTime - cpu0).TotalSeconds / times.Count;
        times.Sort();
        return new Timing(times[0], times[times.Count / 2], cpuPerPass);
    }

    /// <summary>
    /// Prints one result line: wall-clock throughput of the best pass (all threads together), throughput per
    /// CPU-second (= per core) and its ratio to a per-core target (0 = no target).
    /// </summary>
    public void Report(string what, int threads, Timing t, double units, string unit, double perCoreTarget)
    {
        double wall = units / t.Best;
        double perCpu = units / t.CpuPerPass;
        string ratio = perCoreTarget > 0 ? string.Format(CultureInfo.InvariantCulture, "{0,5:F2}x target {1:F0}/core", perCpu / perCoreTarget, perCoreTarget) : string.Empty;
        Console.WriteLine(string.Format(
            CultureInfo.InvariantCulture,
            "  {0,-42} {1} thr  wall {2,8:F0} {3} (median {4,8:F0})  per core {5,8:F0} {3}  {6}",
            what,
            threads,
            wall,
            unit,
            units / t.Median,
            perCpu,
            ratio));
    }

    private static string FindSharedData()
    {
        if (Environment.GetEnvironmentVariable("PRECOMPUTEDTOOLS_SHARED_DATA") is { Length: > 0 } env)
        {
            return env;
        }

        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PrecomputedTools.psd1")))
            {
                string shared = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "data"));
                if (Directory.Exists(shared))
                {
                    return shared;
                }
            }
        }

        throw new InvalidOperationException("Cannot find ../shared/data; set PRECOMPUTEDTOOLS_SHARED_DATA.");
    }

    /// <summary>The Z-Brain multi-page TIFF, extracted from ../shared/data once per machine.</summary>
    public string ZBrainTiffPath
    {
        get
        {
            string tif = Path.Combine(Path.GetTempPath(), "pt-tests", "zbrain", "ZBrain2_0.tif");
            if (!File.Exists(tif) || new FileInfo(tif).Length != 120_508_831)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(tif)!);
                using ZipArchive zip = ZipFile.OpenRead(Path.Combine(SharedData, "zbrain", "ZBrain2_0.zip"));
                string temp = tif + "." + Guid.NewGuid().ToString("N") + ".tmp";
                zip.GetEntry("ZBrain2_0.tif")!.ExtractToFile(temp);
                File.Move(temp, tif, overwrite: true);
            }

            return tif;
        }
    }

    private byte[] LoadZBrain()
    {
        var sw = Stopwatch.StartNew();
        string tif = ZBrainTiffPath;

        // Uncompressed big-endian uint8 TIFF: 138 pages of 621 wide x 1406 high, pixels contiguous from byte 181.
        // The guide's orientation transposes each page: volume[z][y][x] = page[z][row = x][column = y].
        const int width = 621, height = 1406, pages = 138, dataStart = 181;
        byte[] raw = new byte[(long)width * height * pages];
        using (FileStream fs = File.OpenRead(tif))
        {
            fs.Position = dataStart;
            fs.ReadExactly(raw);
        }

        Int3 s = ZBrainSize;
        byte[] vol = new byte[raw.Length];
        for (int z = 0; z < pages; z++)
        {
            long page = (long)z * width * height;
            for (int y = 0; y < s.Y; y++)
            {
                long dst = (long)s.X * (y + ((long)s.Y * z));
                for (int x = 0; x < s.X; x++)
                {
                    vol[dst + x] = raw[page + ((long)x * width) + y];
                }
            }
        }

        string sha = Convert.ToHexString(SHA256.HashData(vol)).ToLowerInvariant();
        if (sha != ZBrainOrientedSha256)
        {
            throw new InvalidDataException($"Z-Brain volume checksum mismatch: {sha}");
        }

        Console.WriteLine($"  (Z-Brain {s} loaded and verified in {sw.Elapsed.TotalSeconds:F1} s; {vol.Count(b => b == 0) * 100.0 / vol.Length:F1} % background)");
        return vol;
    }

    /// <summary>Runs this benchmark program again as a child with <paramref name="args"/>; returns its standard output, throwing if it failed.</summary>
    public static string RunSelf(params string[] args)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
        if (string.Equals(Path.GetFileNameWithoutExtension(Environment.ProcessPath), "dotnet", StringComparison.OrdinalIgnoreCase))
        {
            start.ArgumentList.Add(typeof(BenchContext).Assembly.Location);
        }

        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        using Process child = Process.Start(start)!;
        string text = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        if (child.ExitCode != 0)
        {
            throw new InvalidOperationException($"benchmark child {args[0]} failed: " + text);
        }

        return text;
    }

    /// <summary>Meshes scale 0 of a dataset as New-SegmentMesh does (legacy format, the meshing cache); returns the run's counts and the segments written.</summary>
    public static (Engine.Meshing.MeshRunSummary Summary, int Segments) MeshScale0(Engine.Precomputed.DatasetStore store, Engine.Precomputed.PrecomputedInfo info, int threads, string parameters)
    {
        Engine.Precomputed.ScaleInfo scale = info.Scales[0];
        using var reader = new Engine.Precomputed.PrecomputedVolumeReader(store, info, scale, Engine.Precomputed.PrecomputedVolumeReader.MeshingCacheBytes);
        var settings = new Engine.Meshing.SegmentMeshSettings
        {
            Geometry = new Engine.Meshing.MeshGeometry { Resolution = scale.Resolution, VoxelOffset = scale.VoxelOffset },
            ThrottleLimit = threads,
        };
        var writer = new Engine.Meshing.LegacyMeshWriter(store.Objects, "mesh", scale.VoxelOffset, parameters);
        Engine.Meshing.MeshRunSummary summary = Engine.Meshing.SegmentMesher.RunAsync(reader, settings, writer, OperationMonitor.None, System.Threading.CancellationToken.None).GetAwaiter().GetResult();
        return (summary, writer.FinishSegments().Count());
    }

    /// <summary>This process's peak resident set (VmHWM on Linux), in MB.</summary>
    public static double PeakResidentMegabytes()
    {
        string? line = File.Exists("/proc/self/status") ? File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal)) : null;
        if (line is null)
        {
            return Process.GetCurrentProcess().PeakWorkingSet64 / 1e6;
        }

        return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024 / 1e6;
    }
}
