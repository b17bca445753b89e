using System;
using System.Linq;
using System.Threading.Tasks;
using PrecomputedTools.Engine.Boss;
using PrecomputedTools.Engine.Volumes;
using PrecomputedTools.TestServers;
using Xunit;

namespace PrecomputedTools.Engine.Tests.Boss;

/// <summary>
/// The adaptive sizing and circuit breaker of README, 'Get-BossCutout and the BOSS resources', against the stand-in: a 413, or two 504s in a
/// row for one block, splits the block in aligned halves down to the minimum block; ten failed
/// requests in a row stop the download with one error.
/// </summary>
public sealed class BossSplitTests : IDisposable
{
    private readonly BossTestServer _server = new();

    public void Dispose() => _server.Dispose();

    private BossClient Client(Int3 minimumBlock, int threshold = 10, int attempts = 6)
    {
        BossClientOptions options = BossDownloadTests.FastOptions(throttle: 2);
        options.MaxAttempts = attempts;
        options.MinimumSplitBlock = minimumBlock;
        options.CircuitBreakerThreshold = threshold;
        return new BossClient(new BossConnection(_server.BaseUri, BossTestServer.ValidToken, "test"), options);
    }

    private static BossCutoutOptions Cut(string channel) => new() { Collection = "lab", Experiment = "small", Channel = channel, Resolution = 0 };

    [Fact]
    public async Task BlocksOverTheServersLimitAreSplitInAlignedHalvesAndTheVolumeArrivesWhole()
    {
        // uint16 counts in full: 40,000 bytes is at most a 100 x 100 x 2 block, far under what the reader asks for.
        _server.CutoutLimitBytes = 40_000;
        using BossClient client = Client(new Int3(64, 64, 2));
        var d = await BossVolumeDescriptor.CreateAsync(client, Cut("img16"), default);
        byte[] data = new byte[d.Size.Volume * 2];
        using (IVolumeReader reader = d.OpenReader())
        {
            await reader.ReadAsync(Box3.FromSize(d.Size), data, default);
        }

        byte[] expected = _server.Expected("lab", "small", "img16", 0, 0, d.Size.X, 0, d.Size.Y, 0, d.Size.Z);
        Assert.True(expected.AsSpan().SequenceEqual(data), "the volume assembled from split blocks equals the server's");
        BossRequestLog[] cutouts = _server.Requests.Where(r => r.Path.Contains("/cutout/", StringComparison.Ordinal)).ToArray();
        Assert.Contains(cutouts, r => r.Status == 413);
        Assert.All(cutouts.Where(r => r.Status == 200), r => Assert.True(Volume(r.Path) * 2 <= 40_000, r.Path));

        // Every block that arrived is aligned to the minimum block (or ends at the volume's edge).
        foreach (BossRequestLog r in cutouts.Where(r => r.Status == 200))
        {
            int[][] ranges = Ranges(r.Path);
            Assert.True(ranges[0][0] % 64 == 0 && ranges[1][0] % 64 == 0 && ranges[2][0] % 2 == 0, r.Path);
        }
    }

    [Fact]
    public async Task ABlockNoSplitCanHelpIsATooLargeError()
    {
        _server.CutoutLimitBytes = 1_000;
        using BossClient client = Client(new Int3(64, 64, 2));
        var ex = await Assert.ThrowsAsync<EngineException>(() =>
            client.GetCutoutAsync("lab", "small", "img16", 0, new Box3(Int3.Zero, new Int3(64, 64, 2)), null, false, VoxelType.UInt16, BossTransferFormat.Blosc, new byte[64 * 64 * 2 * 2], default));
        Assert.Equal("BossRequestTooLarge", ex.ErrorId);
        Assert.Equal(EngineErrorKind.LimitsExceeded, ex.Kind);
        Assert.Equal(1, _server.CountCutouts());
    }

    [Fact]
    public async Task TwoGatewayTimeoutsInARowSplitTheBlock()
    {
        var box = new Box3(Int3.Zero, new Int3(128, 128, 16));
        _server.AddFault(new BossFaultRule { PathContains = "/0:128/0:128/0:16/", FailFirstAttempts = 2, Kinds = new[] { BossFault.Html504 } });
        using BossClient client = Client(new Int3(64, 64, 2));
        byte[] data = new byte[box.VoxelCount];
        await client.GetCutoutAsync("lab", "small", "em", 0, box, null, false, VoxelType.UInt8, BossTransferFormat.Blosc, data, default);
        Assert.True(_server.Expected("lab", "small", "em", 0, 0, 128, 0, 128, 0, 16).AsSpan().SequenceEqual(data));
        string[] paths = _server.Requests.Where(r => r.Path.Contains("/cutout/", StringComparison.Ordinal)).Select(r => $"{r.Status} {RangeText(r.Path)}").ToArray();
        Assert.Equal(new[] { "504 0:128/0:128/0:16", "504 0:128/0:128/0:16", "200 0:64/0:128/0:16", "200 64:128/0:128/0:16" }, paths);
    }

    [Fact]
    public async Task TenFailuresInARowStopTheDownloadInsteadOfHammeringADeadServer()
    {
        _server.AddFault(new BossFaultRule { FailFirstAttempts = 1_000, Kinds = new[] { BossFault.Html503 } });
        // Blocks would retry 50 times each; the breaker stops the whole download after ten.
        using BossClient client = Client(new Int3(64, 64, 2), threshold: 10, attempts: 50);
        var d = await BossVolumeDescriptor.CreateAsync(client, Cut("em"), default);
        using IVolumeReader reader = d.OpenReader();
        var ex = await Assert.ThrowsAsync<EngineException>(() => reader.ReadAsync(Box3.FromSize(d.Size), new byte[d.Size.Volume], default));
        Assert.Equal("BossCircuitOpen", ex.ErrorId);
        Assert.Equal(EngineErrorKind.ConnectionError, ex.Kind);
        Assert.InRange(_server.CountCutouts(), 10, 12);
    }

    private static int[][] Ranges(string path)
    {
        string[] parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        int at = Array.IndexOf(parts, "cutout") + 5;
        return parts.Skip(at).Take(3).Select(p => p.Split(':').Select(int.Parse).ToArray()).ToArray();
    }

    private static string RangeText(string path) => string.Join("/", Ranges(path).Select(r => $"{r[0]}:{r[1]}"));

    private static long Volume(string path) => Ranges(path).Aggregate(1L, (v, r) => v * (r[1] - r[0]));
}
