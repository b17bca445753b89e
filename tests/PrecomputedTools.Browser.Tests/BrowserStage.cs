using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using PrecomputedTools.Module.Tests;
using Xunit;
using Xunit.Abstractions;

// One browser at a time: Chromium with SwiftShader saturates the two CI cores.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace PrecomputedTools.Browser.Tests;

/// <summary>Locations of the Node side (tests/browser) and running its scripts as child processes.</summary>
public static class BrowserStage
{
    public static string NodeProject => Path.Combine(Paths.RepoRoot, "tests", "browser");

    /// <summary>The viewer build .ci/install-browser.sh leaves in tests/browser/dist (or $PRECOMPUTEDTOOLS_VIEWER_DIST).</summary>
    public static string ViewerDist
    {
        get
        {
            string dist = Environment.GetEnvironmentVariable("PRECOMPUTEDTOOLS_VIEWER_DIST") is { Length: > 0 } env
                ? env
                : Path.Combine(NodeProject, "dist");
            Assert.True(File.Exists(Path.Combine(dist, "index.html")),
                $"No neuroglancer build in {dist}. Run .ci/install-browser.sh (installs Chromium, the npm packages and builds the viewer).");
            return dist;
        }
    }

    public static string Artifacts
    {
        get
        {
            string dir = Path.Combine(NodeProject, "artifacts");
            Directory.CreateDirectory(dir);
            return dir;
        }
    }

    /// <summary>Runs "node script args..." in tests/browser; returns exit code and output.</summary>
    public static NodeResult RunNode(string script, IEnumerable<string> args, TimeSpan timeout, ITestOutputHelper? log = null)
    {
        Assert.True(Directory.Exists(Path.Combine(NodeProject, "node_modules", "neuroglancer")),
            $"npm packages missing in {NodeProject}. Run .ci/install-browser.sh.");
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = NodeProject,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(script);
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (stdout) { stdout.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (stderr) { stderr.AppendLine(e.Data); } } };
        var clock = Stopwatch.StartNew();
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"node {script} did not finish within {timeout.TotalSeconds:F0} s. Output so far:\n{stdout}\n{stderr}");
        }

        process.WaitForExit(); // drains the asynchronous readers
        var result = new NodeResult(process.ExitCode, stdout.ToString(), stderr.ToString(), clock.Elapsed);
        log?.WriteLine($"node {script} {string.Join(' ', start.ArgumentList.Skip(1))}\nexit {result.ExitCode} after {result.Elapsed.TotalSeconds:F1} s\n{result.Stdout}{result.Stderr}");
        return result;
    }
}

public sealed record NodeResult(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed)
{
    public IReadOnlyList<string> Lines(string prefix) =>
        Stdout.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.StartsWith(prefix, StringComparison.Ordinal)).ToList();

    public override string ToString() => $"exit {ExitCode}\n{Stdout}{Stderr}";
}

/// <summary>A probe: a scale-0 voxel and the label the source volume has there.</summary>
public sealed record Probe(int X, int Y, int Z, string Label)
{
    public override string ToString() => $"{X},{Y},{Z}={Label}";
}

/// <summary>Arguments of decode-check.mjs and view-check.mjs.</summary>
public static class Checks
{
    public static NodeResult Decode(string dataset, string? raw, string rawType, string rawAxes, long rawOffset, IEnumerable<string> requireMesh, ITestOutputHelper log)
    {
        var args = new List<string> { "--dataset", dataset };
        if (raw is not null)
        {
            args.AddRange(new[] { "--raw", raw, "--raw-type", rawType, "--raw-axes", rawAxes, "--raw-offset", rawOffset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        }

        string ids = string.Join(",", requireMesh);
        if (ids.Length > 0)
        {
            args.AddRange(new[] { "--require-mesh", ids });
        }

        return BrowserStage.RunNode("decode-check.mjs", args, TimeSpan.FromMinutes(5), log);
    }

    /// <summary>view-check.mjs against a URL served by someone else (the module's hosts).</summary>
    public static NodeResult ViewUrl(string name, string url, string dataset, IEnumerable<Probe> probes, IEnumerable<string> noMesh, ITestOutputHelper log, string? imageDataset = null)
    {
        var args = new List<string> { "--viewer", BrowserStage.ViewerDist, "--url", url, "--dataset", dataset, "--name", name, "--artifacts", BrowserStage.Artifacts };
        if (imageDataset is not null)
        {
            args.AddRange(new[] { "--image-dataset", imageDataset });
        }

        AddCommon(args, probes, noMesh);
        return BrowserStage.RunNode("view-check.mjs", args, TimeSpan.FromMinutes(6), log);
    }

    /// <summary>view-check.mjs with its reference data server, optionally making one hosting mistake.</summary>
    public static NodeResult ViewReference(string name, string root, string dataset, IEnumerable<string> segments, IEnumerable<Probe> probes, string fault, ITestOutputHelper log)
    {
        var args = new List<string>
        {
            "--viewer", BrowserStage.ViewerDist, "--serve-data", root, "--dataset", dataset, "--segments", string.Join(",", segments),
            "--fault", fault, "--name", name, "--artifacts", BrowserStage.Artifacts,
        };
        AddCommon(args, probes, Array.Empty<string>());
        return BrowserStage.RunNode("view-check.mjs", args, TimeSpan.FromMinutes(6), log);
    }

    private static void AddCommon(List<string> args, IEnumerable<Probe> probes, IEnumerable<string> noMesh)
    {
        foreach (Probe p in probes)
        {
            args.Add("--probe");
            args.Add(p.ToString());
        }

        string ids = string.Join(",", noMesh);
        if (ids.Length > 0)
        {
            args.AddRange(new[] { "--no-mesh", ids });
        }
    }

    public static void AssertOk(NodeResult result, string tag)
    {
        Assert.True(result.ExitCode == 0 && result.Lines(tag + " OK").Count == 1, $"{tag} failed:\n{result}");
    }
}
