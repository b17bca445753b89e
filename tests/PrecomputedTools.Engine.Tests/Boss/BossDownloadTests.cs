using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine.Boss;
using PrecomputedTools.Engine.Volumes;
using PrecomputedTools.TestServers;
using Xunit;

namespace PrecomputedTools.Engine.Tests.Boss;

public sealed class BossDownloadTests : IDisposable
{
    private readonly BossTestServer _server = new();

    public void Dispose() => _server.Dispose();

    private BossClient Client(string? token = BossTestServer.ValidToken, int throttle = 4, OperationMonitor? monitor = null) =>
        new(new BossConnection(_server.BaseUri, token, "test"), FastOptions(throttle), monitor);

    internal static BossClientOptions FastOptions(int throttle = 4) => new()
    {
        ThrottleLimit = throttle,
        HeaderTimeout = TimeSpan.FromSeconds(15),
        StallTimeout = TimeSpan.FromSeconds(15),
        RetryBaseDelay = TimeSpan.FromMilliseconds(5),
        RetryMaxDelay = TimeSpan.FromMilliseconds(50),
    };

    private static async Task<byte[]> ReadAll(BossVolumeDescriptor d, CancellationToken ct = default)
    {
        using IVolumeReader reader = d.OpenReader();
        byte[] all = new byte[d.Size.Volume * VoxelTypes.SizeOf(d.DataType)];
        await reader.ReadAsync(Box3.FromSize(d.Size), all, ct);
        return all;
    }

    private byte[] Expected(BossVolumeDescriptor d, int t = -1) =>
        _server.Expected(d.Options.Collection, d.Options.Experiment, d.Options.Channel, d.Options.Resolution, d.Box.Begin.X, d.Box.End.X, d.Box.Begin.Y, d.Box.End.Y, d.Box.Begin.Z, d.Box.End.Z, t, d.Options.Iso);

    private static BossCutoutOptions Cut(string experiment, string channel, int level = 0) => new() { Collection = "lab", Experiment = experiment, Channel = channel, Resolution = level };

    [Fact]
    public async Task MetadataAndDownsampleComeFromTheServer()
    {
        using BossClient client = Client();
        Assert.Contains("lab", await client.ListCollectionsAsync(default));
        Assert.Contains("zbrain", await client.ListExperimentsAsync("lab", default));
        Assert.Contains("masks", await client.ListChannelsAsync("lab", "zbrain", default));
        BossChannelInfo ch = await client.GetChannelAsync("lab", "zbrain", "masks", default);
        Assert.Equal("uint64", ch.Datatype);
        Assert.Equal("annotation", ch.Type);
        BossExperimentInfo e = await client.GetExperimentAsync("lab", "zbrain", default);
        Assert.Equal("zbrain_frame", e.CoordinateFrame);
        BossCoordinateFrameInfo f = await client.GetCoordinateFrameAsync("zbrain_frame", default);
        Assert.Equal(1406, f.XStop);

        BossDownsampleInfo aniso = await client.GetDownsampleAsync("lab", "zbrain", "masks", false, default);
        BossDownsampleInfo iso = await client.GetDownsampleAsync("lab", "zbrain", "masks", true, default);
        Assert.Equal(new long[] { 176, 78, 138 }, aniso.Levels[3].Extent);
        Assert.Equal(new long[] { 176, 78, 35 }, iso.Levels[3].Extent);
        Assert.Equal(new[] { 6384.0, 6384, 8000 }, iso.Levels[3].VoxelSize);

        var d = await BossVolumeDescriptor.CreateAsync(client, new BossCutoutOptions { Collection = "lab", Experiment = "zbrain", Channel = "masks", Resolution = 3, Iso = true }, default);
        Assert.Equal(new Int3(176, 78, 35), d.Size);
        Assert.Equal(new[] { 6384.0, 6384, 8000 }, d.Resolution);
    }

    [Theory]
    [InlineData("seg", BossTransferFormat.Blosc)]
    [InlineData("seg", BossTransferFormat.Npygz)]
    [InlineData("em", BossTransferFormat.Blosc)]
    [InlineData("img16", BossTransferFormat.Blosc)]
    [InlineData("sparse", BossTransferFormat.Npygz)]
    public async Task FullExtentEqualsServerVolume(string channel, BossTransferFormat format)
    {
        using BossClient client = Client();
        BossCutoutOptions options = Cut("small", channel, 1);
        options.Format = format;
        options.BlockShape = new Int3(512, 512, 16);
        var d = await BossVolumeDescriptor.CreateAsync(client, options, default);
        Assert.Equal(new Int3(350, 300, 40), d.Size);
        byte[] data = await ReadAll(d);
        Assert.True(Expected(d).AsSpan().SequenceEqual(data));
        Assert.Equal(3, d.Statistics.BlocksDownloaded);
        Assert.All(_server.Requests.Where(r => r.Path.Contains("/cutout/")), r =>
        {
            Assert.Contains("access-mode=no-cache", r.Query);
            Assert.Equal(format == BossTransferFormat.Blosc ? "application/blosc" : "application/npygz", r.Accept);
            Assert.Equal("valid", r.AuthorizationKind);
        });
    }

    [Fact]
    public async Task UnalignedRegionRequestsStayInsideGridCells()
    {
        using BossClient client = Client();
        BossCutoutOptions options = Cut("small", "em");
        options.XRange = new[] { 100, 650 };
        options.YRange = new[] { 500, 600 };
        options.ZRange = new[] { 5, 37 };
        options.BlockShape = new Int3(512, 512, 16);
        var d = await BossVolumeDescriptor.CreateAsync(client, options, default);
        Assert.Equal(new Int3(100, 500, 5), d.VoxelOffset);
        using IVolumeReader reader = d.OpenReader();
        // An inner region of the volume, read twice (the second read comes from the LRU).
        var region = new Box3(new Int3(300, 10, 3), new Int3(550, 90, 30));
        byte[] part = new byte[region.VoxelCount];
        await reader.ReadAsync(region, part, default);
        Assert.Equal(12, _server.CountCutouts());
        byte[] expected = _server.Expected("lab", "small", "em", 0, 400, 650, 510, 590, 8, 35);
        Assert.True(expected.AsSpan().SequenceEqual(part));

        foreach (BossRequestLog r in _server.Requests.Where(r => r.Path.Contains("/cutout/")))
        {
            string[] parts = r.Path.Trim('/').Split('/');
            int[] lo = new int[3], hi = new int[3];
            for (int axis = 0; axis < 3; axis++)
            {
                string[] range = parts[6 + axis].Split(':');
                lo[axis] = int.Parse(range[0]);
                hi[axis] = int.Parse(range[1]);
            }

            int[] cell = { 512, 512, 16 };
            for (int axis = 0; axis < 3; axis++)
            {
                Assert.Equal(lo[axis] / cell[axis], (hi[axis] - 1) / cell[axis]);
            }
        }

        Assert.Equal(12, _server.CountCutouts());

        // A small read inside one block that was just fetched comes from memory.
        var inner = new Box3(new Int3(500, 50, 28), new Int3(540, 60, 30));
        byte[] small = new byte[inner.VoxelCount];
        await reader.ReadAsync(inner, small, default);
        Assert.Equal(12, _server.CountCutouts());
        Assert.True(_server.Expected("lab", "small", "em", 0, 600, 640, 550, 560, 33, 35).AsSpan().SequenceEqual(small));
    }

    [Fact]
    public async Task TimeSampleAndOffsetFrame()
    {
        using BossClient client = Client();
        BossCutoutOptions options = Cut("small", "img16");
        options.Time = 2;
        options.XRange = new[] { 0, 64 };
        options.YRange = new[] { 0, 64 };
        options.ZRange = new[] { 0, 8 };
        var d = await BossVolumeDescriptor.CreateAsync(client, options, default);
        byte[] got = await ReadAll(d);
        Assert.True(_server.Expected("lab", "small", "img16", 0, 0, 64, 0, 64, 0, 8, t: 2).AsSpan().SequenceEqual(got));
        Assert.Contains(_server.Requests, r => r.Path.EndsWith("/2:3/", StringComparison.Ordinal));

        var off = await BossVolumeDescriptor.CreateAsync(client, Cut("offset", "seg", 1), default);
        Assert.Equal(new Int3(100, 0, 0), off.VoxelOffset);
        Assert.Equal(new Int3(306 - 100, 150, 10), off.Size);
        byte[] gotOff = await ReadAll(off);
        Assert.True(Expected(off).AsSpan().SequenceEqual(gotOff));
    }

    [Theory]
    [InlineData("lz4")]
    [InlineData("zlib")]
    [InlineData("zstd")]
    public async Task OtherBloscCodecsDecode(string codec)
    {
        Assert.True(_server.UsesNativeBlosc, "libblosc1 is required (.ci/install-boss.sh)");
        _server.BloscCodec = codec;
        using BossClient client = Client();
        var d = await BossVolumeDescriptor.CreateAsync(client, Cut("small", "img16", 2), default);
        byte[] got = await ReadAll(d);
        Assert.True(Expected(d).AsSpan().SequenceEqual(got));
    }

    [Fact]
    public async Task TypeSizeInBytesAlsoDecodes()
    {
        _server.TypeSizeInBytes = true;
        using BossClient client = Client();
        var d = await BossVolumeDescriptor.CreateAsync(client, Cut("small", "seg", 2), default);
        byte[] got = await ReadAll(d);
        Assert.True(Expected(d).AsSpan().SequenceEqual(got));
    }

    [Fact]
    public async Task ThirtyPercentFaultsOfEveryKindStillGiveTheExactVolume()
    {
        _server.SlowDelay = TimeSpan.FromSeconds(8);
        _server.AddFault(new BossFaultRule { Probability = 0.3, Seed = 11, Kinds = BossFaultRule.Transient });
        var monitor = new OperationMonitor();
        BossClientOptions options0 = FastOptions(4);
        options0.HeaderTimeout = TimeSpan.FromSeconds(4);
        options0.StallTimeout = TimeSpan.FromSeconds(4);
        using var client = new BossClient(new BossConnection(_server.BaseUri, BossTestServer.ValidToken, "test"), options0, monitor);
        BossCutoutOptions options = Cut("small", "seg");
        options.BlockShape = new Int3(512, 512, 16);
        var d = await BossVolumeDescriptor.CreateAsync(client, options, default);
        byte[] data = await ReadAll(d);
        Assert.True(Expected(d).AsSpan().SequenceEqual(data));
        Assert.Equal(12, d.Statistics.BlocksDownloaded);
        var faults = _server.Requests.Where(r => r.Fault != BossFault.None).Select(r => r.Fault).Distinct().ToList();
        Assert.True(faults.Count >= 6, "only these faults happened: " + string.Join(", ", faults));
        var texts = new List<string>();
        while (monitor.TryDequeue(out EngineMessage m))
        {
            texts.Add(m.Text);
        }

        Assert.Contains(texts, t => t.Contains("Retrying"));
        Assert.All(texts, t => Assert.DoesNotContain(BossTestServer.ValidToken, t));
    }

    [Fact]
    public async Task ThrottleLimitBoundsRequestsInFlight()
    {
        using BossClient client = Client(throttle: 2);
        BossCutoutOptions options = Cut("small", "seg");
        options.BlockShape = new Int3(512, 512, 16);
        var d = await BossVolumeDescriptor.CreateAsync(client, options, default);
        using IVolumeReader reader = d.OpenReader();
        // Four concurrent readers over the whole volume: blocks are shared, slots are bounded.
        var tasks = Enumerable.Range(0, 4).Select(_ => ReadAll(d)).ToArray();
        await Task.WhenAll(tasks);
        Assert.InRange(_server.MaxInFlight, 1, 2);
    }

    [Fact]
    public async Task KilledMidwayRerunDownloadsNothingFinished()
    {
        string cache = TestData.NewScratch("boss-cache");
        BossCutoutOptions options = Cut("small", "em");
        options.BlockShape = new Int3(512, 512, 16);
        options.CacheDirectory = cache;
        using (BossClient client = Client(throttle: 2))
        {
            var d = await BossVolumeDescriptor.CreateAsync(client, options, default);
            using var cts = new CancellationTokenSource();
            _ = Task.Run(async () =>
            {
                while (d.Statistics.BlocksDownloaded < 5)
                {
                    await Task.Delay(2);
                }

                cts.Cancel();
            });
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ReadAll(d, cts.Token));
        }

        string folder = Directory.GetDirectories(cache).Single();
        var finished = Directory.GetFiles(folder, "*.raw").Concat(Directory.GetFiles(folder, "*.zero"))
            .Select(f => Path.GetFileNameWithoutExtension(f)).ToList();
        // The counter moves when a block arrives, its cache file a moment later, so a block in the
        // middle of being stored when the run is killed may be missing: at least some are finished.
        Assert.InRange(finished.Count, 1, 11);
        Assert.Empty(Directory.GetFiles(folder, "*.pt-tmp", SearchOption.AllDirectories));
        int before = _server.Requests.Count;

        using (BossClient client = Client(throttle: 2))
        {
            var d = await BossVolumeDescriptor.CreateAsync(client, options, default);
            byte[] data = await ReadAll(d);
            Assert.True(Expected(d).AsSpan().SequenceEqual(data));
            Assert.Equal(finished.Count, d.Statistics.BlocksFromCache);
            Assert.Equal(12 - finished.Count, d.Statistics.BlocksDownloaded);
        }

        var second = _server.Requests.Skip(before).Where(r => r.Path.Contains("/cutout/")).ToList();
        foreach (string box in finished)
        {
            // "x0-x1_y0-y1_z0-z1" -> "x0:x1/y0:y1/z0:z1"
            string ranges = string.Join("/", box.Split('_').Select(p => p.Replace('-', ':')));
            Assert.DoesNotContain(second, r => r.Path.Contains("/" + ranges + "/", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task NotFoundQuotesTheServer()
    {
        using BossClient client = Client();
        var ex = await Assert.ThrowsAsync<EngineException>(() => BossVolumeDescriptor.CreateAsync(client, Cut("small", "nope"), default));
        Assert.Equal("BossResourceNotFound", ex.ErrorId);
        Assert.Equal(EngineErrorKind.ObjectNotFound, ex.Kind);
        Assert.Contains("Channel nope not found", ex.Message);
        Assert.Equal("lab/small/nope", ex.Target);
    }

    [Fact]
    public async Task InvalidTokenIsAnAuthenticationFailureWithoutTheToken()
    {
        const string bad = "ffffffffffffffffffffffffffffffffffffffff";
        using BossClient client = Client(token: bad);
        var ex = await Assert.ThrowsAsync<EngineException>(() => BossVolumeDescriptor.CreateAsync(client, Cut("small", "seg"), default));
        Assert.Equal("BossAuthenticationFailed", ex.ErrorId);
        Assert.Equal(EngineErrorKind.AuthenticationError, ex.Kind);
        Assert.Contains("Invalid token.", ex.Message);
        Assert.DoesNotContain(bad, ex.ToString());
        Assert.Single(_server.Requests);
    }

    [Fact]
    public async Task PrivateChannelNeedsAToken()
    {
        using BossClient client = Client(token: "public");
        var ex = await Assert.ThrowsAsync<EngineException>(() => BossVolumeDescriptor.CreateAsync(client, Cut("small", "hidden"), default));
        Assert.Equal("BossPermissionDenied", ex.ErrorId);
        using BossClient good = Client();
        var d = await BossVolumeDescriptor.CreateAsync(good, Cut("small", "hidden", 2), default);
        Assert.Equal(new Int3(175, 150, 40), d.Size);
    }

    [Fact]
    public async Task TooLargeStopsWithoutRetry()
    {
        _server.CutoutLimitBytes = 1 << 20;
        using BossClient client = Client();
        BossCutoutOptions options = Cut("small", "em");
        options.BlockShape = new Int3(512, 512, 16);
        var d = await BossVolumeDescriptor.CreateAsync(client, options, default);
        var ex = await Assert.ThrowsAsync<EngineException>(() => ReadAll(d));
        Assert.Equal("BossRequestTooLarge", ex.ErrorId);
        Assert.Equal(EngineErrorKind.LimitsExceeded, ex.Kind);
        Assert.Contains("over 500MB", ex.Message);
        Assert.Equal(0, _server.CountCutouts() - _server.Requests.Where(r => r.Path.Contains("/cutout/")).Select(r => r.Path).Distinct().Count());
    }

    [Fact]
    public async Task ThrottledForTheDayStopsAtOnce()
    {
        _server.AddFault(new BossFaultRule { FailFirstAttempts = 100, Kinds = new[] { BossFault.ThrottledForGood429 } });
        using BossClient client = Client(throttle: 1);
        var d = await BossVolumeDescriptor.CreateAsync(client, Cut("small", "seg", 2), default);
        var ex = await Assert.ThrowsAsync<EngineException>(() => ReadAll(d));
        Assert.Equal("BossThrottled", ex.ErrorId);
        Assert.Equal(EngineErrorKind.QuotaExceeded, ex.Kind);
        Assert.Equal(1, _server.CountCutouts());
    }

    [Fact]
    public async Task CorruptPayloadIsRetriedThenReported()
    {
        _server.AddFault(new BossFaultRule { FailFirstAttempts = 100, Kinds = new[] { BossFault.WrongNbytes } });
        using BossClient client = Client(throttle: 1);
        var d = await BossVolumeDescriptor.CreateAsync(client, Cut("small", "seg", 2), default);
        var ex = await Assert.ThrowsAsync<EngineException>(() => ReadAll(d));
        Assert.Equal("BossPayloadCorrupt", ex.ErrorId);
        Assert.Equal(EngineErrorKind.InvalidData, ex.Kind);
        Assert.Contains("block x 0:175", ex.Message);
        Assert.Equal(3, _server.CountCutouts());
    }

    [Theory]
    [InlineData(BossFault.JsonBody200)]
    [InlineData(BossFault.ExtraBytes)]
    [InlineData(BossFault.FlipBytes)]
    public async Task PayloadFaultsOnceAreRecovered(BossFault fault)
    {
        _server.AddFault(new BossFaultRule { FailFirstAttempts = 1, Kinds = new[] { fault } });
        using BossClient client = Client(throttle: 1);
        var d = await BossVolumeDescriptor.CreateAsync(client, Cut("small", "seg", 2), default);
        byte[] data = await ReadAll(d);
        if (fault != BossFault.FlipBytes)
        {
            Assert.True(Expected(d).AsSpan().SequenceEqual(data));
        }
        else
        {
            // blosc has no checksum: a flip is caught only when it breaks the stream structure.
            Assert.True(_server.CountCutouts() >= 1);
        }
    }

    [Fact]
    public async Task UnsupportedCodecNamesItAndIsNotRetried()
    {
        Assert.True(_server.UsesNativeBlosc, "libblosc1 is required (.ci/install-boss.sh)");
        _server.BloscCodec = "snappy";
        using BossClient client = Client(throttle: 1);
        var d = await BossVolumeDescriptor.CreateAsync(client, Cut("small", "seg", 2), default);
        var ex = await Assert.ThrowsAsync<EngineException>(() => ReadAll(d));
        Assert.Equal("BossPayloadUnsupported", ex.ErrorId);
        Assert.Contains("snappy", ex.Message);
        Assert.Equal(1, _server.CountCutouts());
    }

    [Fact]
    public async Task ValidationBeforeDownloading()
    {
        using BossClient client = Client();
        var u32 = await Assert.ThrowsAsync<EngineException>(() => BossVolumeDescriptor.CreateAsync(client, Cut("small", "u32"), default));
        Assert.Equal("BossUnsupportedDataType", u32.ErrorId);
        var notDs = await Assert.ThrowsAsync<EngineException>(() => BossVolumeDescriptor.CreateAsync(client, Cut("small", "raw_only", 1), default));
        Assert.Equal("BossNotDownsampled", notDs.ErrorId);
        var level = await Assert.ThrowsAsync<EngineException>(() => BossVolumeDescriptor.CreateAsync(client, Cut("small", "baseres", 0), default));
        Assert.Equal("BossResolutionOutOfRange", level.ErrorId);
        var name = await Assert.ThrowsAsync<EngineException>(() => BossVolumeDescriptor.CreateAsync(client, Cut("small", "em/../x"), default));
        Assert.Equal("BossInvalidName", name.ErrorId);
        BossCutoutOptions outside = Cut("small", "em");
        outside.XRange = new[] { 800, 900 };
        var o = await Assert.ThrowsAsync<EngineException>(() => BossVolumeDescriptor.CreateAsync(client, outside, default));
        Assert.Equal("BossRegionOutsideExtent", o.ErrorId);
        Assert.Equal(0, _server.CountCutouts());
    }

    [Fact]
    public async Task IdsOfAnAnnotationBox()
    {
        using BossClient client = Client();
        ulong[] ids = await client.GetIdsAsync("lab", "small", "seg", 0, new Box3(new Int3(0, 0, 0), new Int3(64, 64, 8)), null, default);
        var expected = new SortedSet<ulong>();
        byte[] raw = _server.Expected("lab", "small", "seg", 0, 0, 64, 0, 64, 0, 8);
        for (int k = 0; k < raw.Length; k += 8)
        {
            ulong v = BitConverter.ToUInt64(raw, k);
            if (v != 0)
            {
                expected.Add(v);
            }
        }

        Assert.Equal(expected.ToArray(), ids);
        Assert.All(ids, id => Assert.True(id > uint.MaxValue));

        using BossClient anonymous = Client(token: null);
        var ex = await Assert.ThrowsAsync<EngineException>(() => anonymous.GetIdsAsync("lab", "small", "seg", 0, new Box3(Int3.Zero, new Int3(8, 8, 8)), null, default));
        Assert.Equal("BossPermissionDenied", ex.ErrorId);
    }

    [Fact]
    public async Task CancellationStopsPromptly()
    {
        _server.SlowDelay = TimeSpan.FromSeconds(30);
        _server.AddFault(new BossFaultRule { FailFirstAttempts = 100, Kinds = new[] { BossFault.SlowHeaders } });
        var options = FastOptions(2);
        options.HeaderTimeout = TimeSpan.FromSeconds(60);
        using var client = new BossClient(new BossConnection(_server.BaseUri, null, "test"), options);
        var d = await BossVolumeDescriptor.CreateAsync(client, Cut("small", "em", 1), default);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ReadAll(d, cts.Token));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), "stopping took " + clock.Elapsed);
    }

    [Fact]
    public async Task NoTokenEverInUrlsOrMessages()
    {
        _server.AddFault(new BossFaultRule { Probability = 0.3, Seed = 3, Kinds = new[] { BossFault.Html504, BossFault.Error500Text, BossFault.Throttled429 } });
        var monitor = new OperationMonitor();
        using BossClient client = Client(monitor: monitor);
        var d = await BossVolumeDescriptor.CreateAsync(client, Cut("small", "seg", 1), default);
        Assert.DoesNotContain(BossTestServer.ValidToken, d.Source + d.ToString());
        await ReadAll(d);
        Assert.All(_server.Requests, r => Assert.False(r.TokenInUrl));
        Assert.All(_server.Requests, r => Assert.Equal("127.0.0.1:" + _server.BaseUri.Port, r.Host));
        while (monitor.TryDequeue(out EngineMessage m))
        {
            Assert.DoesNotContain(BossTestServer.ValidToken, m.Text);
        }
    }
}
