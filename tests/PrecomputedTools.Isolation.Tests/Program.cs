using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Net.Http;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using Amazon.Runtime;
using Microsoft.Extensions.DependencyInjection;

namespace PrecomputedTools.Isolation.Tests;

/// <summary>
/// One isolation scenario per process (the default load context cannot be reset):
///   dotnet PrecomputedTools.Isolation.Tests.dll before|after &lt;PrecomputedTools.psd1&gt; &lt;S3 endpoint&gt; &lt;access key&gt; &lt;secret key&gt; &lt;dataset folder&gt; &lt;object count&gt;
/// "before": this process's AWSSDK.Core 3.7 and Microsoft.Extensions.Http 6 are loaded and used
/// before the module is imported; "after": the module is imported and used first. Prints one
/// PASS/FAIL line per check; the exit code is 0 only when every check passed. The module publishes
/// the dataset to the S3 endpoint (s3rver) with Publish-PrecomputedS3, and the other module's
/// Microsoft.Extensions.Http client reads it back.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length != 7 || (args[0] != "before" && args[0] != "after"))
        {
            Console.Error.WriteLine("usage: PrecomputedTools.Isolation.Tests before|after <PrecomputedTools.psd1> <S3 endpoint> <access key> <secret key> <dataset folder> <object count>");
            return 2;
        }

        var s3 = new S3Target(new Uri(args[2]), args[3], args[4], Path.GetFullPath(args[5]), int.Parse(args[6], System.Globalization.CultureInfo.InvariantCulture));

        var checks = new Checks();
        try
        {
            string manifest = Path.GetFullPath(args[1]);
            if (args[0] == "before")
            {
                OldCopies.Use(checks, "before import");
                using Runspace runspace = Open(manifest);
                UseModule(runspace, manifest, s3, checks, "after old copies");
                OldCopies.Use(checks, "after import");
            }
            else
            {
                using Runspace runspace = Open(manifest);
                UseModule(runspace, manifest, s3, checks, "first");
                OldCopies.Use(checks, "after import");
                UseModule(runspace, manifest, s3, checks, "again after old copies");
            }

            var cores = AppDomain.CurrentDomain.GetAssemblies().Where(a => a.GetName().Name == "AWSSDK.Core").ToList();
            checks.That(
                "two AWSSDK.Core side by side",
                cores.Count == 2 && cores.Select(a => AssemblyLoadContext.GetLoadContext(a)?.Name).OrderBy(n => n).SequenceEqual(new[] { "Default", "PrecomputedTools" }),
                string.Join("; ", cores.Select(a => $"{a.GetName().Version} in {AssemblyLoadContext.GetLoadContext(a)?.Name}")));
        }
        catch (Exception ex) when (ex is RuntimeException or InvalidOperationException or IOException or TargetInvocationException or HttpRequestException)
        {
            checks.That("scenario ran to the end", false, ex.ToString());
        }

        return checks.Failures == 0 ? 0 : 1;
    }

    private static Runspace Open(string manifest)
    {
        InitialSessionState state = InitialSessionState.CreateDefault2();
        state.ImportPSModule(new[] { manifest });
        state.ThrowOnRunspaceOpenError = true;
        Runspace runspace = RunspaceFactory.CreateRunspace(state);
        runspace.Open();
        return runspace;
    }

    private static List<PSObject> Run(Runspace runspace, string script, IDictionary<string, object>? parameters = null)
    {
        using PowerShell ps = PowerShell.Create();
        ps.Runspace = runspace;
        ps.AddScript(script);
        if (parameters is not null)
        {
            ps.AddParameters((System.Collections.IDictionary)parameters);
        }

        var output = ps.Invoke().ToList();
        if (ps.Streams.Error.Count > 0)
        {
            throw new InvalidOperationException("The script wrote errors: " + string.Join("; ", ps.Streams.Error));
        }

        return output;
    }

    private static void UseModule(Runspace runspace, string manifest, S3Target s3, Checks checks, string when)
    {
        // The S3 code path for real: upload the dataset to s3rver through the engine's AWSSDK 4.
        string bucket = "isolation-" + Guid.NewGuid().ToString("N").Substring(0, 12);
        var published = Run(
            runspace,
            """
            param($Dataset, $Endpoint, $Bucket, $AccessKey, $SecretKey)
            $secret = [System.Net.NetworkCredential]::new('', $SecretKey).SecurePassword
            $credential = [System.Management.Automation.PSCredential]::new($AccessKey, $secret)
            Publish-PrecomputedS3 -Path $Dataset -BucketName $Bucket -KeyPrefix 'iso/seg' -EndpointUrl $Endpoint -Credential $credential -Confirm:$false
            """,
            new Dictionary<string, object>
            {
                ["Dataset"] = s3.Dataset,
                ["Endpoint"] = s3.Endpoint,
                ["Bucket"] = bucket,
                ["AccessKey"] = s3.AccessKey,
                ["SecretKey"] = s3.SecretKey,
            });
        int expected = s3.ObjectCount;
        checks.That(
            $"Publish-PrecomputedS3 uploads every file to the local S3 server ({when})",
            published.Count == 1 && published[0].Properties["UploadedCount"].Value is int uploaded && uploaded == expected,
            published.Count == 1 ? $"{published[0].Properties["UploadedCount"].Value} of {expected} uploaded" : $"{published.Count} objects returned");
        OldCopies.ReadBack(checks, new Uri(s3.Endpoint, $"{bucket}/iso/seg/info"), File.ReadAllBytes(Path.Combine(s3.Dataset, "info")), when);

        var dataset = Run(runspace, "New-PrecomputedInfo -Size 1406,621,138 -Resolution 798,798,2000 -TargetChunkSize 256");
        checks.That(
            $"New-PrecomputedInfo works ({when})",
            dataset.Count == 1 && dataset[0].Properties["Scales"].Value is object[] { Length: 3 },
            string.Join(", ", dataset));

        // Builds an S3 client and an HTTP client factory inside the engine and reports where each
        // dependency came from (PrecomputedTools.Infrastructure.EngineDiagnostics).
        var report = Run(
                runspace,
                "[PrecomputedTools.PrecomputedDataset].Assembly.GetType('PrecomputedTools.Infrastructure.EngineDiagnostics', $true)." +
                "GetMethod('DependencyReport', [Reflection.BindingFlags]'NonPublic,Static').Invoke($null, @())")
            .Select(o => o.ToString().Split('|'))
            .ToDictionary(f => f[0], f => (Version: new Version(f[1]), Context: f[2], File: f[3]));
        string dependencies = Path.Combine(Path.GetDirectoryName(manifest)!, "Dependencies", "net8.0");
        foreach ((string name, int major) in new[] { ("AWSSDK.Core", 4), ("AWSSDK.S3", 4), ("Microsoft.Extensions.Http", 8), ("PrecomputedTools.Engine", 0) })
        {
            bool found = report.TryGetValue(name, out var entry);
            checks.That(
                $"engine's {name} is {(major > 0 ? "v" + major + " " : "")}from the PrecomputedTools context under Dependencies ({when})",
                found && entry.Context == "PrecomputedTools" && (major == 0 || entry.Version.Major == major) &&
                    string.Equals(Path.GetDirectoryName(entry.File), dependencies, StringComparison.Ordinal),
                found ? $"{entry.Version} in '{entry.Context}' from {entry.File}" : "not reported");
        }

        // PowerShell resolves types from the default context only: ours stay invisible, the
        // user's stay visible.
        var s3Type = Run(runspace, "'Amazon.S3.AmazonS3Client' -as [type]");
        checks.That($"[Amazon.S3.AmazonS3Client] does not resolve in PowerShell ({when})", s3Type.Count == 0 || s3Type[0] is null, string.Join(", ", s3Type));
    }

    /// <summary>The other module's copies, loaded into the default context when first used.</summary>
    private static class OldCopies
    {
        /// <summary>Reads what the module uploaded with the other module's Microsoft.Extensions.Http client.</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        public static void ReadBack(Checks checks, Uri url, byte[] expected, string when)
        {
            var services = new ServiceCollection();
            services.AddHttpClient();
            using ServiceProvider provider = services.BuildServiceProvider();
            using HttpClient client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("read-back");
            using HttpResponseMessage response = client.GetAsync(url).GetAwaiter().GetResult();
            byte[] body = response.Content.ReadAsByteArrayAsync().GetAwaiter().GetResult();
            checks.That(
                $"the uploaded info reads back through the other module's HTTP stack ({when})",
                response.IsSuccessStatusCode && body.AsSpan().SequenceEqual(expected),
                $"{(int)response.StatusCode}, {body.Length} bytes");
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        public static void Use(Checks checks, string when)
        {
            var credentials = new BasicAWSCredentials("AKIDOTHERMODULE", "other-secret");
            checks.That($"old AWSSDK.Core works ({when})", credentials.GetCredentials().AccessKey == "AKIDOTHERMODULE", "");
            Assembly core = typeof(AWSCredentials).Assembly;
            checks.That(
                $"old AWSSDK.Core is v3 in the default context ({when})",
                core.GetName().Version!.Major == 3 && AssemblyLoadContext.GetLoadContext(core) == AssemblyLoadContext.Default,
                $"{core.GetName().Version} in {AssemblyLoadContext.GetLoadContext(core)?.Name}");

            var services = new ServiceCollection();
            services.AddHttpClient();
            using ServiceProvider provider = services.BuildServiceProvider();
            using HttpClient client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("other-module");
            Assembly http = typeof(Microsoft.Extensions.Http.HttpClientFactoryOptions).Assembly;
            checks.That(
                $"old Microsoft.Extensions.Http is v6 in the default context and works ({when})",
                http.GetName().Version!.Major == 6 && AssemblyLoadContext.GetLoadContext(http) == AssemblyLoadContext.Default && client.Timeout > TimeSpan.Zero,
                $"{http.GetName().Version} in {AssemblyLoadContext.GetLoadContext(http)?.Name}");
        }
    }

    private sealed record S3Target(Uri Endpoint, string AccessKey, string SecretKey, string Dataset, int ObjectCount);

    private sealed class Checks
    {
        public int Failures { get; private set; }

        public void That(string name, bool passed, string detail)
        {
            if (!passed)
            {
                Failures++;
            }

            Console.WriteLine((passed ? "PASS " : "FAIL ") + name + (detail.Length > 0 ? " :: " + detail : ""));
        }
    }
}
