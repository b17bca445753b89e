using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Net;
using System.Net.Http;
using System.Security;
using System.Text.RegularExpressions;
using PrecomputedTools.TestServers;
using Xunit;

namespace PrecomputedTools.Module.Tests;

/// <summary>A real Slurm, the BOSS stand-in and s3rver, started for the cluster tests.</summary>
public sealed class ClusterFixture : IDisposable
{
    private readonly Lazy<Dictionary<string, (byte[] Body, bool Gzip)>> _reference;

    public ClusterFixture()
    {
        Assert.True(SlurmInstance.IsInstalled, "Slurm is not installed (.ci/install-cluster.sh installs slurm-wlm and munge)");
        Slurm = SlurmInstance.Start();
        S3 = S3rverInstance.Start();
        Boss = new BossTestServer();

        Bucket = "pt-cluster-" + Guid.NewGuid().ToString("N").Substring(0, 8);
        using (var http = new HttpClient())
        {
            Assert.True(http.PutAsync(S3.Url + "/" + Bucket, new ByteArrayContent(Array.Empty<byte>())).GetAwaiter().GetResult().IsSuccessStatusCode);
        }

        Session = new ModuleSession();
        var secret = new SecureString();
        foreach (char c in S3rverInstance.SecretKey)
        {
            secret.AppendChar(c);
        }

        // Workers get credentials as real ones do, from their environment: here sbatch --export
        // (this process's environment is shared with other tests, so it is left alone).
        string export = $"--export=ALL,AWS_ACCESS_KEY_ID={S3rverInstance.AccessKey},AWS_SECRET_ACCESS_KEY={S3rverInstance.SecretKey},BOSS_TOKEN={BossTestServer.ValidToken}";
        Session.RunOk(
            "$global:boss = [uri]$boss0; $global:endpoint = [uri]$endpoint0; $global:bucket = $bucket0; $global:cred = $cred0; $global:workerEnv = $export0; " +
            "$global:tok = [System.Net.NetworkCredential]::new('', $token0).SecurePassword",
            new Dictionary<string, object?>
            {
                ["boss0"] = Boss.BaseUri.ToString(),
                ["endpoint0"] = S3.Url,
                ["bucket0"] = Bucket,
                ["cred0"] = new PSCredential(S3rverInstance.AccessKey, secret),
                ["export0"] = export,
                ["token0"] = BossTestServer.ValidToken,
            });
        _reference = new Lazy<Dictionary<string, (byte[], bool)>>(() =>
        {
            // The single-process run of the same stages, the reference every cluster run must equal.
            Session.RunOk(Guide("single", plans: null));
            return Objects("single/");
        });
    }

    public SlurmInstance Slurm { get; }

    public S3rverInstance S3 { get; }

    public BossTestServer Boss { get; }

    public string Bucket { get; }

    public ModuleSession Session { get; }

    /// <summary>The objects of the single-process run, relative to its prefix.</summary>
    public Dictionary<string, (byte[] Body, bool Gzip)> Reference => _reference.Value;

    /// <summary>How workers start pwsh: the repository's pinned tool.</summary>
    public static string Pwsh => $"cd '{Paths.RepoRoot}' && dotnet pwsh";

    /// <summary>
    /// The guide as one pipeline: a BOSS region to scale 0 on S3, the pyramid, multi-resolution
    /// meshes; with <paramref name="plans"/>, each stage saves its plan there instead of running.
    /// </summary>
    public static string Guide(string prefix, string? plans) =>
        "Get-BossCutout lab small seg -ResolutionLevel 0 -X 0,256 -Y 0,192 -Z 0,40 -BaseUri $boss -Token $tok" +
        $" | ConvertTo-CompressedSegmentation -Path \"s3://$bucket/{prefix}\" -EndpointUrl $endpoint -Credential $cred -TargetChunkSize 32" + Saved(plans, "convert") +
        " | Invoke-MajorityDownscale -EndpointUrl $endpoint -Credential $cred" + Saved(plans, "downscale") +
        " | New-SegmentMesh -Format MultiResolution -EndpointUrl $endpoint -Credential $cred -ChunkSize 64,64,40" + Saved(plans, "mesh");

    private static string Saved(string? plans, string stage) => plans is null ? "" : $" -PlanPath \"s3://$bucket/{plans}/{stage}.json\"";

    /// <summary>Every object under a prefix with its stored bytes (never inflated) and whether it is gzip-encoded.</summary>
    public Dictionary<string, (byte[] Body, bool Gzip)> Objects(string prefix)
    {
        using var http = new HttpClient(new HttpClientHandler { AutomaticDecompression = DecompressionMethods.None });
        var result = new Dictionary<string, (byte[], bool)>(StringComparer.Ordinal);
        string? token = null;
        do
        {
            string url = $"{S3.Url}/{Bucket}?list-type=2&prefix={Uri.EscapeDataString(prefix)}" + (token is null ? "" : "&continuation-token=" + Uri.EscapeDataString(token));
            string xml = http.GetStringAsync(url).GetAwaiter().GetResult();
            foreach (string key in Regex.Matches(xml, "<Key>([^<]*)</Key>").Select(m => WebUtility.HtmlDecode(m.Groups[1].Value)))
            {
                using HttpResponseMessage response = http.GetAsync($"{S3.Url}/{Bucket}/{string.Join("/", key.Split('/').Select(Uri.EscapeDataString))}").GetAwaiter().GetResult();
                Assert.True(response.IsSuccessStatusCode, key);
                result[key.Substring(prefix.Length)] = (response.Content.ReadAsByteArrayAsync().GetAwaiter().GetResult(), response.Content.Headers.ContentEncoding.Contains("gzip"));
            }

            Match next = Regex.Match(xml, "<NextContinuationToken>([^<]*)</NextContinuationToken>");
            token = next.Success ? WebUtility.HtmlDecode(next.Groups[1].Value) : null;
        }
        while (token is not null);
        return result;
    }

    public void Dispose()
    {
        Session.Dispose();
        Boss.Dispose();
        S3.Dispose();
        Slurm.Dispose();
    }
}

/// <summary>
/// Runs alone: Slurm's daemons and clients churn through ephemeral ports, which other tests pick
/// as "free" ports for their own listeners.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterCollection
{
    public const string Name = "Slurm cluster";
}

/// <summary>Issue 13: saved plans run as Slurm array jobs, one per phase, chained with afterok.</summary>
[Collection(ClusterCollection.Name)]
public class ClusterTests : IClassFixture<ClusterFixture>
{
    private readonly ClusterFixture _cluster;

    public ClusterTests(ClusterFixture cluster) => _cluster = cluster;

    private void AssertSameAsReference(string prefix)
    {
        Dictionary<string, (byte[] Body, bool Gzip)> reference = _cluster.Reference;
        Dictionary<string, (byte[] Body, bool Gzip)> written = _cluster.Objects(prefix + "/");
        Assert.Contains("info", reference.Keys);
        Assert.Contains(reference.Keys, k => k.StartsWith("mesh/", StringComparison.Ordinal) && k.EndsWith(".index", StringComparison.Ordinal));
        Assert.Equal(reference.Keys.OrderBy(k => k, StringComparer.Ordinal), written.Keys.OrderBy(k => k, StringComparer.Ordinal));
        Assert.All(reference, r =>
        {
            Assert.True(r.Value.Body.AsSpan().SequenceEqual(written[r.Key].Body), r.Key + " differs from the single-process run");
            Assert.Equal(r.Value.Gzip, written[r.Key].Gzip);
        });
    }

    private List<PSObject> Status(string plans, int count = 4) => _cluster.Session.RunOk(
        $"Get-PrecomputedPlanStatus -Plan (('convert','downscale','mesh') | ForEach-Object {{ \"s3://$bucket/{plans}/$_.json\" }}) -EndpointUrl $endpoint -Credential $cred -Count {count}").ToList();

    [Fact]
    public void TheGuideRunsAsChainedSlurmArrayJobsAndEqualsTheSingleProcessRunByteForByte()
    {
        string logs = Paths.NewScratch("slurm-logs");
        var jobs = _cluster.Session.RunOk(
            ClusterFixture.Guide("slurm", "plans-a") + $" | Submit-PrecomputedSlurmJob -Count 4 -EndpointUrl $endpoint -Credential $cred -AdditionalArgument $workerEnv -WarningAction SilentlyContinue -PwshCommand \"{ClusterFixture.Pwsh}\" -OutputDirectory '{logs}' -Wait").ToList();

        // One array job per phase, each after the one before; every stage's first phase uses 4 indices.
        Assert.True(jobs.Count >= 6, $"{jobs.Count} jobs");
        Assert.All(jobs, j => Assert.Matches("^[0-9]+$", (string)j.Properties["JobId"].Value));
        for (int i = 1; i < jobs.Count; i++)
        {
            Assert.Equal(jobs[i - 1].Properties["JobId"].Value, jobs[i].Properties["DependsOn"].Value);
        }

        foreach (string stage in new[] { "convert", "downscale", "mesh" })
        {
            PSObject first = jobs.First(j => (string)j.Properties["Stage"].Value == stage);
            Assert.Equal(4, (int)first.Properties["ArraySize"].Value);
            Assert.Equal("0-3", first.Properties["ArrayIndices"].Value);
        }

        string failedLogs = string.Join("\n", Directory.EnumerateFiles(logs, "*.out").Select(f => f + ":\n" + File.ReadAllText(f)).Where(t => t.Contains("Exception") || t.Contains("rror")));
        List<PSObject> status = Status("plans-a");
        Assert.True(status.All(s => (bool)s.Properties["IsComplete"].Value), "incomplete: " + string.Join("; ", status.Select(s => s.ToString())) + "\n" + failedLogs);
        Assert.True(Directory.EnumerateFiles(logs, "*.out").Count() >= 12, "every element wrote its log");
        AssertSameAsReference("slurm");
    }

    [Fact]
    public void ACancelledElementStopsWhatFollowsAndMissingOnlyFinishesWithTheSameBytes()
    {
        string logs = Paths.NewScratch("slurm-cancel");

        // One element at a time, so the last one is still pending when it is cancelled.
        var jobs = _cluster.Session.RunOk(
            ClusterFixture.Guide("cancel", "plans-b") + $" | Submit-PrecomputedSlurmJob -Count 4 -MaxRunning 1 -EndpointUrl $endpoint -Credential $cred -AdditionalArgument $workerEnv -WarningAction SilentlyContinue -PwshCommand \"{ClusterFixture.Pwsh}\" -OutputDirectory '{logs}'").ToList();
        string first = (string)jobs[0].Properties["JobId"].Value;
        (int exit, string output) = _cluster.Slurm.Command("scancel", first + "_3");
        Assert.True(exit == 0, output);
        _cluster.Slurm.WaitForJobs(jobs.Select(j => (string)j.Properties["JobId"].Value), TimeSpan.FromMinutes(5));

        // Index 3 of the first phase never ran, so nothing after it did (afterok, kill-on-invalid-dep).
        List<PSObject> status = Status("plans-b");
        PSObject convert = status.First();
        Assert.Equal(new[] { 3 }, (int[])convert.Properties["MissingIndex"].Value);
        Assert.True((int)convert.Properties["Done"].Value > 0);
        Assert.All(status.Skip(1), s => Assert.Equal(0, (int)s.Properties["Done"].Value));

        var rerun = _cluster.Session.RunOk(
            $"Submit-PrecomputedSlurmJob -Plan (('convert','downscale','mesh') | ForEach-Object {{ \"s3://$bucket/plans-b/$_.json\" }}) -Count 4 -MissingOnly -EndpointUrl $endpoint -Credential $cred -AdditionalArgument $workerEnv -WarningAction SilentlyContinue -PwshCommand \"{ClusterFixture.Pwsh}\" -OutputDirectory '{logs}' -Wait").ToList();
        Assert.Equal("3", rerun[0].Properties["ArrayIndices"].Value);
        Assert.All(Status("plans-b"), s => Assert.True((bool)s.Properties["IsComplete"].Value, s.ToString()));
        AssertSameAsReference("cancel");
    }

    [Fact]
    public void AWorkerKilledMidTaskLeavesNoPartialOutputAndItsRerunRedoesOnlyItsOwnTasks()
    {
        string logs = Paths.NewScratch("slurm-kill");
        string submit = $"-EndpointUrl $endpoint -Credential $cred -AdditionalArgument $workerEnv -WarningAction SilentlyContinue -PwshCommand \"{ClusterFixture.Pwsh}\" -OutputDirectory '{logs}'";
        List<PSObject> jobs;
        Dictionary<string, (byte[] Body, bool Gzip)> firstRecords;

        // Index 1 of the convert phase owns the tasks reading z 32-40: the BOSS stand-in holds
        // those requests, so that worker is caught mid-task while index 0 finishes.
        TimeSpan delay = _cluster.Boss.SlowDelay;
        _cluster.Boss.SlowDelay = TimeSpan.FromMinutes(10);
        _cluster.Boss.AddFault(new BossFaultRule { PathContains = "/32:40/", Probability = 1, Kinds = new[] { BossFault.SlowHeaders } });
        try
        {
            jobs = _cluster.Session.RunOk(ClusterFixture.Guide("kill", "plans-c") + " | Submit-PrecomputedSlurmJob -Count 2 " + submit).ToList();
            string first = (string)jobs[0].Properties["JobId"].Value;

            // Wait until index 0 has finished (records are written when a share is done) while index 1 is held.
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (true)
            {
                string zero = _cluster.Slurm.Command("squeue", $"--noheader --format=%T --jobs={first}_0").Output.Trim();
                string one = _cluster.Slurm.Command("squeue", $"--noheader --format=%T --jobs={first}_1").Output.Trim();
                firstRecords = _cluster.Objects("plans-c/convert.json.tasks/");
                if (zero.Length == 0 && one == "RUNNING" && firstRecords.Count > 0)
                {
                    break;
                }

                Assert.True(clock.Elapsed < TimeSpan.FromMinutes(3), $"index 0 did not finish while index 1 ran: index 0 '{zero}', index 1 '{one}', records {string.Join(", ", firstRecords.Keys)}");
                System.Threading.Thread.Sleep(250);
            }

            Assert.All(firstRecords.Keys, k => Assert.EndsWith(".done", k));

            (int exit, string output) = _cluster.Slurm.Command("scancel", first + "_1");
            Assert.True(exit == 0, output);
            _cluster.Slurm.WaitForJobs(jobs.Select(j => (string)j.Properties["JobId"].Value), TimeSpan.FromMinutes(5));
        }
        finally
        {
            _cluster.Boss.ClearFaults();
            _cluster.Boss.SlowDelay = delay;
        }

        // What is stored is whole: every chunk there equals the reference's (".pt-" objects are the run's own bookkeeping).
        Dictionary<string, (byte[] Body, bool Gzip)> stored = _cluster.Objects("kill/").Where(o => !o.Key.StartsWith(".pt-", StringComparison.Ordinal)).ToDictionary(o => o.Key, o => o.Value);
        Assert.NotEmpty(stored);
        Assert.All(stored, o => Assert.True(_cluster.Reference.TryGetValue(o.Key, out var r) && r.Body.AsSpan().SequenceEqual(o.Value.Body), o.Key + " is not a complete object of the dataset"));
        PSObject convert = Status("plans-c", 2).First();
        Assert.Equal(new[] { 1 }, (int[])convert.Properties["MissingIndex"].Value);
        Assert.Equal(firstRecords.Count, (int)convert.Properties["Done"].Value);

        // The rerun submits index 1 alone for that phase; index 0's records are untouched (not redone).
        var rerun = _cluster.Session.RunOk(
            "Submit-PrecomputedSlurmJob -Plan (('convert','downscale','mesh') | ForEach-Object { \"s3://$bucket/plans-c/$_.json\" }) -Count 2 -MissingOnly -Wait " + submit).ToList();
        Assert.Equal("1", rerun[0].Properties["ArrayIndices"].Value);
        Dictionary<string, (byte[] Body, bool Gzip)> records = _cluster.Objects("plans-c/convert.json.tasks/");
        Assert.All(firstRecords, r => Assert.True(records[r.Key].Body.AsSpan().SequenceEqual(r.Value.Body), r.Key + " was rewritten"));
        AssertSameAsReference("kill");
    }
}
