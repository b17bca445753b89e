using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Text.Json;
using PrecomputedTools.TestServers;
using Xunit;

namespace PrecomputedTools.Module.Tests;

/// <summary>
/// Image layers through the cmdlets: a BOSS image channel to jpeg and png datasets beside a
/// segmentation, downscaled per layer, validated, and one viewer link that shows both.
/// </summary>
public sealed class ImageLayerTests : IDisposable
{
    private const string Conn = "-BaseUri $boss -Token $tok";
    private readonly BossTestServer _server = new();
    private readonly ModuleSession _session = new();

    public ImageLayerTests()
    {
        _session.RunOk("$global:boss = [uri]'" + _server.BaseUri + "'; $global:tok = [System.Net.NetworkCredential]::new('', '" + BossTestServer.ValidToken + "').SecurePassword");
    }

    public void Dispose()
    {
        _session.Dispose();
        _server.Dispose();
    }

    [Fact]
    public void AnEmChannelBecomesAJpegPyramidBesideTheSegmentationAndOneLinkShowsBoth()
    {
        string work = Paths.NewScratch("image-layers");
        var vars = new Dictionary<string, object?> { ["work"] = work };
        _session.RunOk(
            "$global:img = Get-BossCutout -Collection lab -Experiment small -Channel em -ResolutionLevel 0 -X 0,200 -Y 0,160 -Z 0,24 " + Conn +
            " | ConvertTo-CompressedSegmentation -Path ([IO.Path]::Combine($work, 'em')) -Type image -Encoding jpeg -Quality 90 -TargetChunkSize 32 | Invoke-MajorityDownscale -Method Average;" +
            " $global:seg = Get-BossCutout -Collection lab -Experiment small -Channel seg -ResolutionLevel 0 -X 0,200 -Y 0,160 -Z 0,24 " + Conn +
            " | ConvertTo-CompressedSegmentation -Path ([IO.Path]::Combine($work, 'seg')) -TargetChunkSize 32 | Invoke-MajorityDownscale",
            vars);

        var checks = _session.RunOk("$img, $seg | Test-PrecomputedDataset");
        Assert.Equal(2, checks.Count);
        Assert.All(checks, c => Assert.True((bool)c.Properties["IsValid"].Value, string.Join("; ", (IEnumerable<string>)c.Properties["Problems"].Value)));

        using JsonDocument info = JsonDocument.Parse(File.ReadAllText(Path.Combine(work, "em", "info")));
        Assert.Equal("image", info.RootElement.GetProperty("type").GetString());
        Assert.Equal("uint8", info.RootElement.GetProperty("data_type").GetString());
        JsonElement[] scales = info.RootElement.GetProperty("scales").EnumerateArray().ToArray();
        Assert.True(scales.Length >= 2);
        Assert.All(scales, s => Assert.Equal("jpeg", s.GetProperty("encoding").GetString()));
        Assert.All(scales, s => Assert.Equal(90, s.GetProperty("jpeg_quality").GetInt32()));
        foreach (JsonElement scale in scales)
        {
            string[] chunks = Directory.GetFiles(Path.Combine(work, "em", scale.GetProperty("key").GetString()!));
            Assert.NotEmpty(chunks);
            Assert.All(chunks, c => Assert.False(c.EndsWith(".gz", StringComparison.Ordinal), $"{c}: JPEG chunks are not gzipped"));
            Assert.All(chunks, c => Assert.Equal(new byte[] { 0xFF, 0xD8, 0xFF }, File.ReadAllBytes(c).Take(3)));
        }

        // Sharded where asked: the jpeg chunks go into shard files as they are, and every one still decodes.
        var sharded = _session.RunOk("$img | Copy-PrecomputedDataset -Destination ([IO.Path]::Combine($work, 'em-sharded')) -Sharded | Test-PrecomputedDataset", vars);
        Assert.True((bool)Assert.Single(sharded).Properties["IsValid"].Value, string.Join("; ", (IEnumerable<string>)sharded[0].Properties["Problems"].Value));
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(work, "em-sharded"), "*.shard", SearchOption.AllDirectories));

        _session.RunOk("$global:srv = Start-PrecomputedServer -Path $work -Port 0", vars);
        try
        {
            string json = (string)Assert.Single(_session.RunOk("$seg, $img | New-NeuroglancerUrl -SegmentId 8589934700 -AsState")).BaseObject;
            using JsonDocument state = JsonDocument.Parse(json);
            JsonElement[] layers = state.RootElement.GetProperty("layers").EnumerateArray().ToArray();
            Assert.Equal(2, layers.Length);

            // The image is drawn first, the segmentation over it.
            Assert.Equal("image", layers[0].GetProperty("type").GetString());
            Assert.EndsWith("/em", layers[0].GetProperty("source").GetString());
            Assert.Equal(new[] { 0.0, 255 }, layers[0].GetProperty("shaderControls").GetProperty("normalized").GetProperty("range").EnumerateArray().Select(v => v.GetDouble()));
            Assert.Equal("segmentation", layers[1].GetProperty("type").GetString());
            Assert.EndsWith("/seg", layers[1].GetProperty("source").GetString());
            Assert.Equal(new[] { "8589934700" }, layers[1].GetProperty("segments").EnumerateArray().Select(v => v.GetString()));
            Assert.True(layers[1].GetProperty("selectedAlpha").GetDouble() < 0.5);
            Assert.Equal(layers[1].GetProperty("name").GetString(), state.RootElement.GetProperty("selectedLayer").GetProperty("layer").GetString());
            Assert.Equal(new[] { 4e-9, 4e-9, 40e-9 }, new[] { "x", "y", "z" }.Select(a => state.RootElement.GetProperty("dimensions").GetProperty(a)[0].GetDouble()));
        }
        finally
        {
            _session.RunOk("$srv | Stop-PrecomputedServer");
        }
    }

    [Fact]
    public void Uint16ImagesArePngAndLayerTablesDescribeSourcesWithoutADataset()
    {
        string work = Paths.NewScratch("image-png16");
        var vars = new Dictionary<string, object?> { ["work"] = work };
        var result = _session.RunOk(
            "Get-BossCutout -Collection lab -Experiment small -Channel img16 -ResolutionLevel 0 -X 0,100 -Y 0,90 -Z 0,12 " + Conn +
            " | ConvertTo-CompressedSegmentation -Path ([IO.Path]::Combine($work, 'img16')) -Encoding png -TargetChunkSize 32 | Invoke-MajorityDownscale -Method Max | Test-PrecomputedDataset",
            vars);
        Assert.True((bool)Assert.Single(result).Properties["IsValid"].Value);
        string info = File.ReadAllText(Path.Combine(work, "img16", "info"));
        Assert.Contains("\"encoding\": \"png\"", info);
        Assert.Contains("\"type\": \"image\"", info);

        // Read back, the png dataset is the BOSS's voxels exactly (png is lossless): both written raw, chunk for chunk.
        _session.RunOk(
            "Import-PrecomputedVolume -Path ([IO.Path]::Combine($work, 'img16')) | ConvertTo-CompressedSegmentation -Path ([IO.Path]::Combine($work, 'fromPng')) -Type image -Encoding raw -NoGzip -TargetChunkSize 32 | Out-Null;" +
            " Get-BossCutout -Collection lab -Experiment small -Channel img16 -ResolutionLevel 0 -X 0,100 -Y 0,90 -Z 0,12 " + Conn + " | ConvertTo-CompressedSegmentation -Path ([IO.Path]::Combine($work, 'fromBoss')) -Type image -Encoding raw -NoGzip -TargetChunkSize 32 | Out-Null",
            vars);
        string[] fromBoss = Directory.GetFiles(Path.Combine(work, "fromBoss"), "*-*_*-*_*-*", SearchOption.AllDirectories);
        Assert.NotEmpty(fromBoss);
        foreach (string chunk in fromBoss)
        {
            string twin = Path.Combine(work, "fromPng", Path.GetRelativePath(Path.Combine(work, "fromBoss"), chunk));
            Assert.True(File.ReadAllBytes(chunk).AsSpan().SequenceEqual(File.ReadAllBytes(twin)), $"{chunk} differs after the png round trip");
        }

        string json = (string)Assert.Single(_session.RunOk(
            "New-NeuroglancerUrl -Layer @{ Source = 'precomputed://https://example.org/seg'; SegmentId = 5, 7 }, @{ Source = 'precomputed://https://example.org/em'; Type = 'image'; Name = 'EM'; Opacity = 0.8 } -AsState")).BaseObject;
        using JsonDocument state = JsonDocument.Parse(json);
        JsonElement[] layers = state.RootElement.GetProperty("layers").EnumerateArray().ToArray();
        Assert.Equal(new[] { "EM", "seg" }, layers.Select(l => l.GetProperty("name").GetString()));
        Assert.Equal(0.8, layers[0].GetProperty("opacity").GetDouble());
        Assert.Equal(new[] { "5", "7" }, layers[1].GetProperty("segments").EnumerateArray().Select(v => v.GetString()));
    }

    [Theory]
    [InlineData("Get-BossCutout -Collection lab -Experiment small -Channel img16 -ResolutionLevel 0 -X 0,64 -Y 0,64 -Z 0,8 " + Conn + " | ConvertTo-CompressedSegmentation -Path ([IO.Path]::Combine($work, 'a')) -Encoding jpeg", "InvalidEncoding", ErrorCategory.InvalidArgument)]
    [InlineData("Get-BossCutout -Collection lab -Experiment small -Channel em -ResolutionLevel 0 -X 0,64 -Y 0,64 -Z 0,8 " + Conn + " | ConvertTo-CompressedSegmentation -Path ([IO.Path]::Combine($work, 'b')) -Encoding png -Quality 80", "InvalidParameterCombination", ErrorCategory.InvalidArgument)]
    [InlineData("Get-BossCutout -Collection lab -Experiment small -Channel em -ResolutionLevel 0 -X 0,64 -Y 0,64 -Z 0,8 " + Conn + " | ConvertTo-CompressedSegmentation -Path ([IO.Path]::Combine($work, 'c')) -Type segmentation -Encoding jpeg", "InvalidEncoding", ErrorCategory.InvalidArgument)]
    [InlineData("Get-BossCutout -Collection lab -Experiment small -Channel seg -ResolutionLevel 0 -X 0,64 -Y 0,64 -Z 0,8 " + Conn + " | ConvertTo-CompressedSegmentation -Path ([IO.Path]::Combine($work, 'd')) -TargetChunkSize 16 | Invoke-MajorityDownscale -Method Average", "InvalidDownscaleMethod", ErrorCategory.InvalidArgument)]
    [InlineData("$v = Get-BossCutout -Collection lab -Experiment small -Channel em -ResolutionLevel 0 -X 0,64 -Y 0,64 -Z 0,8 " + Conn + "; $v | ConvertTo-CompressedSegmentation -Path ([IO.Path]::Combine($work, 'e')) -Encoding jpeg -Quality 90 | Out-Null; $v | ConvertTo-CompressedSegmentation -Path ([IO.Path]::Combine($work, 'e')) -Resume -Quality 80", "SettingsConflictWithInfo", ErrorCategory.InvalidArgument)]
    [InlineData("New-NeuroglancerUrl -Layer @{ Source = 'precomputed://https://example.org/x'; Colour = 'red' }", "InvalidLayer", ErrorCategory.InvalidArgument)]
    [InlineData("New-NeuroglancerUrl -Layer @{ Type = 'image' }", "InvalidLayer", ErrorCategory.InvalidArgument)]
    public void ImpossibleImageSettingsAreClearErrors(string script, string errorId, ErrorCategory category)
    {
        string work = Paths.NewScratch("image-errors");
        RunResult result = _session.Run(script, new Dictionary<string, object?> { ["work"] = work });
        ErrorRecord? error = result.FirstError;
        Assert.NotNull(error);
        Assert.StartsWith(errorId + ",PrecomputedTools.Commands.", error!.FullyQualifiedErrorId);
        Assert.Equal(category, error.CategoryInfo.Category);
    }
}
