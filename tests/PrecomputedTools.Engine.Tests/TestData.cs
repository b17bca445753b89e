using System;
using System.IO;
using System.IO.Compression;

namespace PrecomputedTools.Engine.Tests;

/// <summary>Locates the repository, ../shared/data and scratch folders for tests.</summary>
public static class TestData
{
    private static readonly Lazy<string> s_repoRoot = new(() =>
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PrecomputedTools.psd1")) && Directory.Exists(Path.Combine(dir.FullName, "src")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Cannot find the repository root above " + AppContext.BaseDirectory);
    });

    public static string RepoRoot => s_repoRoot.Value;

    /// <summary>../shared/data beside the repository (or $PRECOMPUTEDTOOLS_SHARED_DATA).</summary>
    public static string SharedData =>
        Environment.GetEnvironmentVariable("PRECOMPUTEDTOOLS_SHARED_DATA") is { Length: > 0 } env
            ? env
            : Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "data"));

    public static string Shared(params string[] parts) => Path.Combine(SharedData, Path.Combine(parts));

    /// <summary>A fresh, empty scratch folder under the system temp directory.</summary>
    public static string NewScratch(string name)
    {
        string path = Path.Combine(Path.GetTempPath(), "pt-tests", name + "-" + Guid.NewGuid().ToString("N").Substring(0, 8));
        Directory.CreateDirectory(path);
        return path;
    }

    private static readonly object s_zbrainGate = new();

    /// <summary>The Z-Brain 2.0 multi-page TIFF, extracted once per machine from ../shared/data/zbrain.</summary>
    public static string ZBrainTiff
    {
        get
        {
            lock (s_zbrainGate)
            {
                string target = Path.Combine(Path.GetTempPath(), "pt-tests", "zbrain", "ZBrain2_0.tif");
                if (File.Exists(target) && new FileInfo(target).Length == 120_508_831)
                {
                    return target;
                }

                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                using ZipArchive zip = ZipFile.OpenRead(Shared("zbrain", "ZBrain2_0.zip"));
                string temp = target + "." + Guid.NewGuid().ToString("N") + ".tmp";
                zip.GetEntry("ZBrain2_0.tif")!.ExtractToFile(temp);
                File.Move(temp, target, overwrite: true);
                return target;
            }
        }
    }
}
