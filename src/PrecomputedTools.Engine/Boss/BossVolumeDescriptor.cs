using System;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine.Volumes;

namespace PrecomputedTools.Engine.Boss;

/// <summary>What to cut out of a BOSS channel.</summary>
public sealed class BossCutoutOptions
{
    public string Collection { get; set; } = "";

    public string Experiment { get; set; } = "";

    public string Channel { get; set; } = "";

    /// <summary>Level (resolution) r.</summary>
    public int Resolution { get; set; }

    /// <summary>Half-open ranges in the level's voxels; null: the full extent of that axis.</summary>
    public int[]? XRange { get; set; }

    public int[]? YRange { get; set; }

    public int[]? ZRange { get; set; }

    /// <summary>The time sample; null: the channel's default (no time segment in the URL).</summary>
    public int? Time { get; set; }

    /// <summary>Read the isotropic pyramid (?iso=true) for the extents and cutouts.</summary>
    public bool Iso { get; set; }

    public BossTransferFormat Format { get; set; } = BossTransferFormat.Blosc;

    /// <summary>Download block shape [x, y, z] (multiples of 512×512×16); null: 64 MiB by type (<see cref="BossVolumeDescriptor.DefaultBlockShape"/>).</summary>
    public Int3? BlockShape { get; set; }

    /// <summary>Keep downloaded blocks here, so a rerun downloads nothing finished.</summary>
    public string? CacheDirectory { get; set; }

    /// <summary>Allow levels above the base when the channel is not DOWNSAMPLED.</summary>
    public bool Force { get; set; }
}

/// <summary>
/// A box of a BOSS channel at one level, as a volume: geometry from the server's metadata and
/// /v1/downsample/, voxels fetched on demand in grid-aligned blocks by <see cref="OpenReader"/>.
/// </summary>
public sealed class BossVolumeDescriptor : VolumeDescriptor
{
    /// <summary>The BOSS cuboid (512×512×16): every block shape is a multiple of it.</summary>
    public static readonly Int3 Cuboid = new(512, 512, 16);

    private BossVolumeDescriptor(BossClient client, BossCutoutOptions options, BossChannelInfo channel, BossExperimentInfo experiment, BossCoordinateFrameInfo frame, BossLevelInfo level, Box3 box, VoxelType type, Int3 blockShape, double[] resolution)
    {
        Client = client;
        Options = options;
        ChannelInfo = channel;
        ExperimentInfo = experiment;
        Frame = frame;
        Level = level;
        Box = box;
        DataTypeValue = type;
        BlockShape = blockShape;
        ResolutionValue = resolution;
        Statistics = new BossDownloadStatistics();
    }

    public BossClient Client { get; }

    public BossCutoutOptions Options { get; }

    public BossChannelInfo ChannelInfo { get; }

    public BossExperimentInfo ExperimentInfo { get; }

    public BossCoordinateFrameInfo Frame { get; }

    public BossLevelInfo Level { get; }

    /// <summary>The cut-out box in the level's voxel coordinates.</summary>
    public Box3 Box { get; }

    public Int3 BlockShape { get; }

    public BossDownloadStatistics Statistics { get; }

    /// <summary>Where readers report blocks and bytes (optional).</summary>
    public OperationMonitor? Monitor { get; set; }

    private VoxelType DataTypeValue { get; }

    private double[] ResolutionValue { get; }

    public override Int3 Size => Box.Size;

    public override VoxelType DataType => DataTypeValue;

    public override double[]? Resolution => (double[])ResolutionValue.Clone();

    public override Int3 VoxelOffset => Box.Begin;

    /// <summary>Download blocks.</summary>
    public override Int3 ReadGranularity => BlockShape;

    public override string SourceKind => "Boss";

    public override string Source => string.Format(
        CultureInfo.InvariantCulture,
        "{0}/v1/cutout/{1}/{2}/{3}/{4}/{5}:{6}/{7}:{8}/{9}:{10}/",
        Client.Connection.BaseUri.ToString().TrimEnd('/'),
        Options.Collection,
        Options.Experiment,
        Options.Channel,
        Options.Resolution,
        Box.Begin.X,
        Box.End.X,
        Box.Begin.Y,
        Box.End.Y,
        Box.Begin.Z,
        Box.End.Z);

    public override string Name => Options.Channel;

    /// <summary>Blocks the whole box needs.</summary>
    public long BlockCount
    {
        get
        {
            Int3 first = new(Box.Begin.X / BlockShape.X, Box.Begin.Y / BlockShape.Y, Box.Begin.Z / BlockShape.Z);
            Int3 last = new((Box.End.X - 1) / BlockShape.X, (Box.End.Y - 1) / BlockShape.Y, (Box.End.Z - 1) / BlockShape.Z);
            return (long)(last.X - first.X + 1) * (last.Y - first.Y + 1) * (last.Z - first.Z + 1);
        }
    }

    public override IVolumeReader OpenReader() => new BossVolumeReader(this);

    /// <summary>
    /// {"kind": "boss", "baseUri", "collection", "experiment", "channel", "resolutionLevel", "x", "y", "z",
    /// "time", "iso", "format", "blockShape", "cacheDirectory", "force"}: the channel and the (clipped)
    /// region. No token: the process that opens it resolves one for the same host (README, 'Plan files').
    /// </summary>
    public override VolumeSourceSpec Spec
    {
        get
        {
            var settings = new System.Text.Json.Nodes.JsonObject
            {
                ["baseUri"] = Client.Connection.BaseUri.ToString(),
                ["collection"] = Options.Collection,
                ["experiment"] = Options.Experiment,
                ["channel"] = Options.Channel,
                ["resolutionLevel"] = Options.Resolution,
                ["x"] = VolumeSourceSpec.Ints(new[] { Box.Begin.X, Box.End.X }),
                ["y"] = VolumeSourceSpec.Ints(new[] { Box.Begin.Y, Box.End.Y }),
                ["z"] = VolumeSourceSpec.Ints(new[] { Box.Begin.Z, Box.End.Z }),
                ["iso"] = Options.Iso,
                ["format"] = Options.Format.ToString().ToLowerInvariant(),
                ["blockShape"] = VolumeSourceSpec.Ints(new[] { BlockShape.X, BlockShape.Y, BlockShape.Z }),
                ["throttleLimit"] = Client.Options.ThrottleLimit,
                ["force"] = Options.Force,
            };
            if (Options.Time is int time)
            {
                settings["time"] = time;
            }

            if (Options.CacheDirectory is { Length: > 0 } cache)
            {
                settings["cacheDirectory"] = cache;
            }

            return new VolumeSourceSpec(VolumeSourceSpec.BossKind, settings);
        }
    }

    /// <summary>The cutout options a <see cref="VolumeSourceSpec"/> of kind "boss" describes.</summary>
    public static BossCutoutOptions OptionsFromSpec(VolumeSourceSpec spec)
    {
        int[] Range(string axis) => spec.GetInts(axis) is { Length: 2 } r ? r : throw new FormatException($"a BOSS source needs \"{axis}\": [begin, end]");
        var options = new BossCutoutOptions
        {
            Collection = spec.GetString("collection") ?? throw new FormatException("a BOSS source needs \"collection\""),
            Experiment = spec.GetString("experiment") ?? throw new FormatException("a BOSS source needs \"experiment\""),
            Channel = spec.GetString("channel") ?? throw new FormatException("a BOSS source needs \"channel\""),
            Resolution = spec.GetInt("resolutionLevel") ?? 0,
            XRange = Range("x"),
            YRange = Range("y"),
            ZRange = Range("z"),
            Time = spec.GetInt("time"),
            Iso = spec.GetBool("iso"),
            Format = (BossTransferFormat)Enum.Parse(typeof(BossTransferFormat), spec.GetString("format") ?? nameof(BossTransferFormat.Blosc), ignoreCase: true),
            BlockShape = spec.GetInts("blockShape") is { Length: 3 } b ? new Int3(b[0], b[1], b[2]) : null,
            CacheDirectory = spec.GetString("cacheDirectory"),
            Force = spec.GetBool("force"),
        };
        return options;
    }

    /// <summary>The default block shape for a type: 64 MiB of voxels, a multiple of the 512x512x16 cuboid.</summary>
    public static Int3 DefaultBlockShape(VoxelType type) => type switch
    {
        VoxelType.UInt8 => new Int3(1024, 1024, 64),
        VoxelType.UInt16 => new Int3(1024, 1024, 32),
        _ => new Int3(512, 512, 32),
    };

    /// <summary>Reads the metadata, validates the request and builds the descriptor (nothing is downloaded yet).</summary>
    public static async Task<BossVolumeDescriptor> CreateAsync(BossClient client, BossCutoutOptions options, CancellationToken ct)
    {
        OperationMonitor monitor = client.Monitor;
        BossClient.ValidateName("collection", options.Collection);
        BossClient.ValidateName("experiment", options.Experiment);
        BossClient.ValidateName("channel", options.Channel);
        string target = options.Collection + "/" + options.Experiment + "/" + options.Channel;

        // JSON metadata requests first: an authentication failure comes back readable there, while on a
        // binary cutout it may come back as an unreadable 500.
        BossExperimentInfo experiment = await client.GetExperimentAsync(options.Collection, options.Experiment, ct).ConfigureAwait(false);
        BossChannelInfo channel = await client.GetChannelAsync(options.Collection, options.Experiment, options.Channel, ct).ConfigureAwait(false);
        if (!VoxelTypes.TryParse(channel.Datatype, out VoxelType type) || type is not (VoxelType.UInt8 or VoxelType.UInt16 or VoxelType.UInt64))
        {
            throw new EngineException("BossUnsupportedDataType", EngineErrorKind.NotSupported, $"Channel {target} holds {channel.Datatype} voxels; the BOSS cutout service serves only uint8, uint16 and uint64.", target);
        }

        if (channel.StorageType == "cloudvol")
        {
            monitor.Warning($"Channel {target} is stored as a neuroglancer precomputed volume at s3://{channel.Bucket}/{channel.CloudVolumePath.TrimStart('/')}; reading it directly is faster than cutting it out.");
        }

        int levels = Math.Max(1, experiment.HierarchyLevels);
        if (options.Resolution < channel.BaseResolution || options.Resolution >= channel.BaseResolution + levels)
        {
            throw new EngineException("BossResolutionOutOfRange", EngineErrorKind.InvalidArgument, $"Channel {target} has levels {channel.BaseResolution} to {channel.BaseResolution + levels - 1}; level {options.Resolution} does not exist.", target);
        }

        if (options.Resolution > channel.BaseResolution && channel.DownsampleStatus != "DOWNSAMPLED" && !options.Force)
        {
            throw new EngineException("BossNotDownsampled", EngineErrorKind.InvalidOperation, $"Channel {target} is {channel.DownsampleStatus}, so level {options.Resolution} may hold no data. Use level {channel.BaseResolution}, or -IgnoreDownsampleStatus to read it anyway.", target);
        }

        if (options.Time is int t && (t < 0 || t >= experiment.TimeSamples))
        {
            throw new EngineException("BossTimeOutOfRange", EngineErrorKind.InvalidArgument, $"Experiment {options.Collection}/{options.Experiment} has {experiment.TimeSamples} time sample(s); {t} does not exist.", target);
        }

        BossCoordinateFrameInfo frame = await client.GetCoordinateFrameAsync(experiment.CoordinateFrame, ct).ConfigureAwait(false);
        BossDownsampleInfo downsample = await client.GetDownsampleAsync(options.Collection, options.Experiment, options.Channel, options.Iso, ct).ConfigureAwait(false);
        int index = options.Resolution - channel.BaseResolution;
        BossLevelInfo? level = null;
        foreach (BossLevelInfo candidate in downsample.Levels)
        {
            if (candidate.Level == index || candidate.Level == options.Resolution && level is null)
            {
                level = candidate;
            }
        }

        if (level is null || level.Extent.Length != 3)
        {
            throw new EngineException("BossPayloadCorrupt", EngineErrorKind.InvalidData, $"The downsample answer for {target} has no extent for level {options.Resolution}.", target);
        }

        Box3 levelBox = LevelBox(frame, level);
        var box = new Box3(
            new Int3(Lower(options.XRange, levelBox.Begin.X), Lower(options.YRange, levelBox.Begin.Y), Lower(options.ZRange, levelBox.Begin.Z)),
            new Int3(Upper(options.XRange, levelBox.End.X), Upper(options.YRange, levelBox.End.Y), Upper(options.ZRange, levelBox.End.Z)));
        if (box.IsEmpty)
        {
            throw new EngineException("BossEmptyRegion", EngineErrorKind.InvalidArgument, $"The requested region {BossClient.Describe(box)} is empty; every range needs start < stop.", target);
        }

        Box3 clipped = box.Intersect(levelBox);
        if (clipped.IsEmpty)
        {
            throw new EngineException("BossRegionOutsideExtent", EngineErrorKind.InvalidArgument, $"The requested region {BossClient.Describe(box)} lies outside level {options.Resolution} of {target} ({BossClient.Describe(levelBox)}).", target);
        }

        if (!clipped.Equals(box))
        {
            monitor.Warning($"The requested region {BossClient.Describe(box)} reaches past level {options.Resolution} of {target}; it was clipped to {BossClient.Describe(clipped)}.");
        }

        Int3 blockShape = options.BlockShape ?? DefaultBlockShape(type);
        if (blockShape.X <= 0 || blockShape.Y <= 0 || blockShape.Z <= 0 || blockShape.X % Cuboid.X != 0 || blockShape.Y % Cuboid.Y != 0 || blockShape.Z % Cuboid.Z != 0)
        {
            throw new EngineException("BossInvalidBlockShape", EngineErrorKind.InvalidArgument, $"The block shape {blockShape} must be a multiple of the BOSS cuboid 512x512x16.", blockShape.ToString());
        }

        // The server's rule divides uint64 by 4; we count it in full, so a block never reaches the limit.
        long blockBytes = blockShape.Volume * VoxelTypes.SizeOf(type);
        if (blockBytes > 512L * 1024 * 1024)
        {
            throw new EngineException("BossInvalidBlockShape", EngineErrorKind.InvalidArgument, $"A block of {blockShape} {VoxelTypes.ToInfoName(type)} voxels is {blockBytes / 1048576} MiB; the limit is 512 MiB per request.", blockShape.ToString());
        }

        double unit = frame.UnitToNanometres;
        double[] resolution = level.VoxelSize.Length == 3
            ? new[] { level.VoxelSize[0] * unit, level.VoxelSize[1] * unit, level.VoxelSize[2] * unit }
            : new[] { frame.XVoxelSize * unit, frame.YVoxelSize * unit, frame.ZVoxelSize * unit };
        monitor.Verbose($"BOSS {target} level {options.Resolution}{(options.Iso ? " (iso)" : "")}: {VoxelTypes.ToInfoName(type)}, level box {BossClient.Describe(levelBox)}, cutting {BossClient.Describe(clipped)} in blocks of {blockShape}.");
        return new BossVolumeDescriptor(client, options, channel, experiment, frame, level, clipped, type, blockShape, resolution);
    }

    /// <summary>
    /// The level's box: upper bounds from the server's extents. The lower bound is the frame's
    /// start: the server checks every level's ranges against the base-resolution frame (a quirk of its cutout service), so
    /// voxels below the start cannot be requested at any level.
    /// </summary>
    private static Box3 LevelBox(BossCoordinateFrameInfo frame, BossLevelInfo level)
    {
        var begin = new Int3(frame.XStart, frame.YStart, frame.ZStart);
        var end = new Int3(checked((int)level.Extent[0]), checked((int)level.Extent[1]), checked((int)level.Extent[2]));
        return new Box3(begin, end);
    }

    private static int Lower(int[]? range, int fallback) => range is { Length: 2 } ? range[0] : fallback;

    private static int Upper(int[]? range, int fallback) => range is { Length: 2 } ? range[1] : fallback;
}

/// <summary>Thread-safe download counters of one descriptor (for progress and tests).</summary>
public sealed class BossDownloadStatistics
{
    private long _downloaded;
    private long _fromCache;
    private long _bytes;

    public long BlocksDownloaded => Interlocked.Read(ref _downloaded);

    public long BlocksFromCache => Interlocked.Read(ref _fromCache);

    public long BytesDownloaded => Interlocked.Read(ref _bytes);

    internal void Downloaded(long bytes)
    {
        Interlocked.Increment(ref _downloaded);
        Interlocked.Add(ref _bytes, bytes);
    }

    internal void FromCache() => Interlocked.Increment(ref _fromCache);
}
