using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Net;
using System.Net.Http;
using System.Security;
using System.Text.Json;
using PrecomputedTools.TestServers;
using Xunit;

namespace PrecomputedTools.Module.Tests;

public sealed class ModuleS3rverFixture : IDisposable
{
    public ModuleS3rverFixture() => Server = S3rverInstance.Start();

    public S3rverInstance Server { get; }

    public void Dispose() => Server.Dispose();
}

/// <summary>The publishing cmdlets through the hosted PowerShell engine, against real local servers.</summary>
public class PublishCommandsTests : IClassFixture<ModuleS3rverFixture>
{
    private readonly S3rverInstance _s3;

    public PublishCommandsTests(ModuleS3rverFixture fixture) => _s3 = fixture.Server;

    private static PSCredential S3rverCredential()
    {
        var secret = new SecureString();
        foreach (char c in S3rverInstance.SecretKey)
        {
            secret.AppendChar(c);
        }

        return new PSCredential(S3rverInstance.AccessKey, secret);
    }

    private static string NewBucket() => "pt-module-" + Guid.NewGuid().ToString("N").Substring(0, 10);

    private static byte[] Bytes(HttpResponseMessage response)
    {
        using var buffer = new MemoryStream();
        response.Content.ReadAsStream().CopyTo(buffer);
        return buffer.ToArray();
    }

    private static HttpClient NewClient() => new(new HttpClientHandler { AutomaticDecompression = DecompressionMethods.None });

    [Fact]
    public void PublishUploadsEveryObjectSetsCorsAndARerunUploadsNothing()
    {
        string scratch = Paths.NewScratch("publish-s3");
        HandMadeDataset ds = HandMadeDataset.Write(scratch, "seg", colonFree: true);
        string bucket = NewBucket();
        using var session = new ModuleSession();
        var vars = new Dictionary<string, object?> { ["ds"] = ds.Path, ["endpoint"] = _s3.Url, ["bucket"] = bucket, ["cred"] = S3rverCredential() };
        var output = session.RunOk("$global:pub = Publish-PrecomputedS3 -Path $ds -Bucket $bucket -Prefix 'v1/seg' -EndpointUrl $endpoint -Credential $cred -SetCors -Confirm:$false -ThrottleLimit 4; $global:pub", vars);
        PSObject published = Assert.Single(output);
        Assert.Equal("PrecomputedTools.PublishedDataset", published.BaseObject.GetType().FullName);
        Assert.Equal(ds.Files.Count, (int)published.Properties["UploadedCount"].Value);
        string url = (string)published.Properties["Url"].Value;
        Assert.Equal($"{_s3.Url}/{bucket}/v1/seg", url);
        Assert.Equal("precomputed://" + url, published.Properties["Source"].Value);

        using HttpClient http = NewClient();
        foreach (string key in ds.Files.Keys)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url + "/" + key);
            request.Headers.TryAddWithoutValidation("Origin", "http://viewer.example");
            using HttpResponseMessage response = http.Send(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(ds.StoredBytes(key), Bytes(response));
            Assert.Equal(ds.GzipKeys.Contains(key) ? new[] { "gzip" } : Array.Empty<string>(), response.Content.Headers.ContentEncoding.ToArray());
            Assert.True(response.Headers.Contains("Access-Control-Allow-Origin"), key + " has no CORS header");
        }

        // The dataset object from the pipeline, a second time: nothing to upload.
        var again = session.RunOk("$global:pub.Dataset | Publish-PrecomputedS3 -Bucket $bucket -Prefix 'v1/seg' -EndpointUrl $endpoint -Credential $cred", vars);
        Assert.Equal(0, (int)Assert.Single(again).Properties["UploadedCount"].Value);
        Assert.Equal(ds.Files.Count, (int)again[0].Properties["SkippedCount"].Value);

        // Its output feeds New-NeuroglancerUrl.
        var link = session.RunOk("Publish-PrecomputedS3 -Path $ds -Bucket $bucket -Prefix 'v1/seg' -EndpointUrl $endpoint -Credential $cred | New-NeuroglancerUrl -SegmentId 1 -AsState", vars);
        using JsonDocument state = JsonDocument.Parse((string)Assert.Single(link).BaseObject);
        Assert.Equal("precomputed://" + url, state.RootElement.GetProperty("layers")[0].GetProperty("source").GetString());
        Assert.Equal(8e-9, state.RootElement.GetProperty("dimensions").GetProperty("x")[0].GetDouble());
        Assert.Equal(new[] { 32.5, 32.5, 32.5 }, state.RootElement.GetProperty("position").EnumerateArray().Select(e => e.GetDouble()));
    }

    [Fact]
    public void WhatIfUploadsNothingAndSaysWhatItWouldDo()
    {
        string scratch = Paths.NewScratch("publish-whatif");
        HandMadeDataset ds = HandMadeDataset.Write(scratch, "seg");
        string bucket = NewBucket();
        using var session = new ModuleSession();
        var vars = new Dictionary<string, object?> { ["ds"] = ds.Path, ["endpoint"] = _s3.Url, ["bucket"] = bucket, ["cred"] = S3rverCredential() };
        var output = session.RunOk("Publish-PrecomputedS3 -Path $ds -Bucket $bucket -EndpointUrl $endpoint -Credential $cred -SetCors -SetPublicReadPolicy -WhatIf", vars);
        Assert.Empty(output);
        string text = session.TakeHostText();
        Assert.Contains("What if:", text);
        Assert.Contains("Upload precomputed dataset", text);
        Assert.Contains($"s3://{bucket}/seg/ ({ds.Files.Count} objects", text);
        Assert.Contains("CORS", text);
        Assert.Contains("publicly readable", text);
        // Not even the bucket exists.
        using HttpClient http = NewClient();
        Assert.Equal(HttpStatusCode.NotFound, http.Send(new HttpRequestMessage(HttpMethod.Get, $"{_s3.Url}/{bucket}")).StatusCode);

        // -WhatIf needs no credentials at all (nothing is contacted).
        Assert.Empty(session.RunOk("Publish-PrecomputedS3 -Path $ds -Bucket $bucket -Region us-west-2 -WhatIf", vars));
        Assert.Contains("s3://" + bucket + "/seg/", session.TakeHostText());

        // A folder named with wildcard characters: -LiteralPath takes it as it is, and so does a
        // folder piped by its PSPath (as Get-Item writes it); -Path would read '[1]' as a pattern.
        string bracketed = System.IO.Path.Combine(scratch, "seg[1]");
        Directory.Move(ds.Path, bracketed);
        vars["ds"] = bracketed;
        Assert.Empty(session.RunOk("Publish-PrecomputedS3 -LiteralPath $ds -Bucket $bucket -Region us-west-2 -WhatIf", vars));
        Assert.Contains("s3://" + bucket + "/seg[1]/", session.TakeHostText());
        Assert.Empty(session.RunOk("[pscustomobject]@{ PSPath = $ds } | Publish-PrecomputedS3 -Bucket $bucket -Region us-west-2 -WhatIf", vars));
        Assert.Contains("s3://" + bucket + "/seg[1]/", session.TakeHostText());
        Assert.NotNull(session.Run("Publish-PrecomputedS3 -Path $ds -Bucket $bucket -Region us-west-2 -WhatIf", vars).FirstError);
        Directory.Move(bracketed, ds.Path);
        vars["ds"] = ds.Path;

        // -SetCors is high impact: without -Confirm:$false or -Force it asks, and a host that cannot
        // ask stops the command before anything is uploaded.
        RunResult asked = session.Run("Publish-PrecomputedS3 -Path $ds -Bucket $bucket -EndpointUrl $endpoint -Credential $cred -SetCors", vars);
        Assert.NotNull(asked.FirstError);
        Assert.Empty(asked.Output);
        Assert.Equal(HttpStatusCode.NotFound, http.Send(new HttpRequestMessage(HttpMethod.Get, $"{_s3.Url}/{bucket}")).StatusCode);
    }

    [Fact]
    public void FailedUploadsAreAWriteErrorWithAStableId()
    {
        string scratch = Paths.NewScratch("publish-fail");
        HandMadeDataset ds = HandMadeDataset.Write(scratch, "seg");
        string badKey = "seg/" + ds.PlainChunk;
        using var fake = new FakeS3((key, attempt) => key == badKey ? 400 : 200);
        using var session = new ModuleSession();
        var vars = new Dictionary<string, object?> { ["ds"] = ds.Path, ["endpoint"] = fake.Url, ["cred"] = S3rverCredential() };
        RunResult result = session.Run("Publish-PrecomputedS3 -Path $ds -Bucket bucket -EndpointUrl $endpoint -Credential $cred", vars);
        Assert.Empty(result.Output);
        ErrorRecord error = Assert.IsType<ErrorRecord>(result.FirstError);
        Assert.Equal("S3UploadFailed,PrecomputedTools.Commands.PublishPrecomputedS3Command", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.WriteError, error.CategoryInfo.Category);
        Assert.Equal("s3://bucket/" + badKey, error.TargetObject);

        RunResult unreachable = session.Run("Publish-PrecomputedS3 -Path $ds -Bucket bucket -EndpointUrl ('http://127.0.0.1:' + $port) -Credential $cred", new Dictionary<string, object?> { ["port"] = Ports.GetFree() });
        Assert.Equal("S3EndpointUnreachable,PrecomputedTools.Commands.PublishPrecomputedS3Command", unreachable.FirstError!.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.ConnectionError, unreachable.FirstError.CategoryInfo.Category);

        RunResult both = session.Run("Publish-PrecomputedS3 -Path $ds -Bucket bucket -ProfileName p -Credential $cred");
        Assert.Equal("ConflictingCredentials,PrecomputedTools.Commands.PublishPrecomputedS3Command", both.FirstError!.FullyQualifiedErrorId);
    }

    [Fact]
    public void LocalServerServesTheDatasetUntilStopped()
    {
        string scratch = Paths.NewScratch("serve");
        HandMadeDataset ds = HandMadeDataset.Write(scratch, "seg", colonFree: true);
        using var session = new ModuleSession();
        var vars = new Dictionary<string, object?> { ["ds"] = ds.Path };
        PSObject server = Assert.Single(session.RunOk("$global:srv = Start-PrecomputedServer -Path $ds -Port 0; $global:srv", vars));
        Assert.Equal("PrecomputedTools.PrecomputedServer", server.BaseObject.GetType().FullName);
        string url = (string)server.Properties["Url"].Value;
        Assert.StartsWith("http://127.0.0.1:", url);
        using HttpClient http = NewClient();
        using (var request = new HttpRequestMessage(HttpMethod.Get, url + "/" + ds.FirstGzipChunk))
        {
            request.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip");
            using HttpResponseMessage chunk = http.Send(request);
            Assert.Equal(HttpStatusCode.OK, chunk.StatusCode);
            Assert.Equal(new[] { "gzip" }, chunk.Content.Headers.ContentEncoding.ToArray());
            Assert.Equal("*", chunk.Headers.GetValues("Access-Control-Allow-Origin").Single());
        }

        using (HttpResponseMessage manifest = http.Send(new HttpRequestMessage(HttpMethod.Get, url + "/mesh/1:0")))
        {
            Assert.Equal(HttpStatusCode.OK, manifest.StatusCode);
            Assert.Equal("application/json", manifest.Content.Headers.ContentType!.MediaType);
        }

        Assert.Equal(403, RawHttp.Send(new Uri(url).Port, "GET", "/../../etc/passwd").Status);

        // The viewer link for the served dataset, with ids from pipeline objects (New-SegmentMesh emits objects with Id).
        var link = session.RunOk("[pscustomobject]@{ Id = [ulong]::MaxValue }, [pscustomobject]@{ SegmentId = 7 }, 9223372036854775809 | New-NeuroglancerUrl -Dataset $global:srv");
        PSObject linkObject = Assert.Single(link);
        Assert.Equal("PrecomputedTools.NeuroglancerLink", linkObject.BaseObject.GetType().FullName);
        string ngUrl = (string)linkObject.Properties["Url"].Value;
        Assert.StartsWith("https://neuroglancer-demo.appspot.com/#!", ngUrl);
        using JsonDocument state = JsonDocument.Parse(Uri.UnescapeDataString(ngUrl.Substring(ngUrl.IndexOf("#!", StringComparison.Ordinal) + 2)));
        JsonElement layer = state.RootElement.GetProperty("layers")[0];
        Assert.Equal("precomputed://" + url, layer.GetProperty("source").GetString());
        Assert.Equal(new[] { "18446744073709551615", "7", "9223372036854775809" }, layer.GetProperty("segments").EnumerateArray().Select(e => e.GetString()));

        // A PrecomputedDataset that is being served finds its server.
        var fromDataset = session.RunOk("New-NeuroglancerUrl -Dataset $global:srv.Dataset -SegmentId 1 -AsState");
        Assert.Contains("\"precomputed://" + url + "\"", (string)Assert.Single(fromDataset).BaseObject);

        session.RunOk("$global:srv | Stop-PrecomputedServer");
        Assert.ThrowsAny<HttpRequestException>(() => http.Send(new HttpRequestMessage(HttpMethod.Get, url + "/info")));
        Assert.False((bool)session.RunOk("$global:srv.IsRunning")[0].BaseObject);

        RunResult unknown = session.Run("Stop-PrecomputedServer -Id 987654");
        Assert.Equal("ServerNotFound,PrecomputedTools.Commands.StopPrecomputedServerCommand", unknown.FirstError!.FullyQualifiedErrorId);

        // Without arguments every server of the session stops.
        var two = session.RunOk("Start-PrecomputedServer -Path $ds -Port 0; Start-PrecomputedServer -Path $ds -Port 0", vars);
        Assert.Equal(2, two.Count);
        var stopped = session.RunOk("Stop-PrecomputedServer -PassThru");
        Assert.True(stopped.Count >= 2);
        Assert.All(two, s => Assert.False((bool)s.Properties["IsRunning"].Value));
    }

    [Fact]
    public void NeuroglancerUrlWarnsForMixedContentAndRejectsBadIds()
    {
        using var session = new ModuleSession();
        RunResult mixed = session.Run("New-NeuroglancerUrl -Source http://data.example.org/seg -SegmentId 1");
        Assert.Single(mixed.Output);
        Assert.Contains(mixed.PowerShell.Streams.Warning, w => w.Message.Contains("mixed content", StringComparison.Ordinal));
        RunResult local = session.Run("New-NeuroglancerUrl -Source http://127.0.0.1:9000/seg -SegmentId 1");
        Assert.Empty(local.PowerShell.Streams.Warning);
        RunResult bad = session.Run("-5 | New-NeuroglancerUrl -Source https://h/seg");
        Assert.Equal("InvalidSegmentId,PrecomputedTools.Commands.NewNeuroglancerUrlCommand", bad.FirstError!.FullyQualifiedErrorId);
        RunResult none = session.Run("New-NeuroglancerUrl -SegmentId 1");
        Assert.Equal("NoSourceUrl,PrecomputedTools.Commands.NewNeuroglancerUrlCommand", none.FirstError!.FullyQualifiedErrorId);
    }

    [Fact]
    public void NginxConfigIsWrittenOnlyWhenAskedAndNeverOverwrittenWithoutForce()
    {
        string scratch = Paths.NewScratch("nginx-cmdlet");
        HandMadeDataset ds = HandMadeDataset.Write(scratch, "seg");
        string outFile = Path.Combine(scratch, "site.conf");
        using var session = new ModuleSession();
        var vars = new Dictionary<string, object?> { ["ds"] = ds.Path, ["out"] = outFile };
        Assert.Empty(session.RunOk("New-PrecomputedNginxConfig -Path $ds -OutFile $out -WhatIf", vars));
        Assert.False(File.Exists(outFile));
        PSObject config = Assert.Single(session.RunOk("New-PrecomputedNginxConfig -Path $ds -ServerName data.example.org -Port 8080 -Location /precomputed/seg -OutFile $out", vars));
        Assert.Equal("http://data.example.org:8080/precomputed/seg", config.Properties["Url"].Value);
        string text = File.ReadAllText(outFile);
        Assert.Contains("gzip_static always;", text);
        Assert.Contains("alias \"" + ds.Path + "/\";", text);
        RunResult again = session.Run("New-PrecomputedNginxConfig -Path $ds -OutFile $out", vars);
        Assert.Equal("OutputExists,PrecomputedTools.Commands.NewPrecomputedNginxConfigCommand", again.FirstError!.FullyQualifiedErrorId);
        Assert.Single(session.RunOk("New-PrecomputedNginxConfig -Path $ds -OutFile $out -Force", vars));
    }

    [Fact]
    public void PublishingCmdletsExposeNoThirdPartyTypes()
    {
        using var session = new ModuleSession();
        foreach (string name in new[] { "Publish-PrecomputedS3", "New-PrecomputedNginxConfig", "Start-PrecomputedServer", "Stop-PrecomputedServer", "New-NeuroglancerUrl" })
        {
            var command = (CommandInfo)Assert.Single(session.RunOk($"Get-Command {name}")).BaseObject;
            Assert.NotEmpty(command.OutputType);
            foreach (var parameter in command.Parameters.Values)
            {
                Assert.DoesNotContain("AWSSDK", parameter.ParameterType.Assembly.FullName ?? "", StringComparison.Ordinal);
                Assert.DoesNotContain("PrecomputedTools.Engine", parameter.ParameterType.Assembly.FullName ?? "", StringComparison.Ordinal);
            }

            foreach (PSTypeName type in command.OutputType)
            {
                Assert.True(type.Type is null || type.Type.Assembly.GetName().Name is "PrecomputedTools" or "System.Private.CoreLib", name + " outputs " + type.Name);
            }
        }

        var publish = (CmdletInfo)session.RunOk("Get-Command Publish-PrecomputedS3")[0].BaseObject;
        Assert.Contains("Bucket", publish.Parameters["BucketName"].Aliases);
        Assert.Contains("Prefix", publish.Parameters["KeyPrefix"].Aliases);
    }
}
