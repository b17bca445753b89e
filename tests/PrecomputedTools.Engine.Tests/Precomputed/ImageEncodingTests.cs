using System;
using System.Diagnostics;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine.Boss;
using PrecomputedTools.Engine.Codecs;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Stages;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Engine.Volumes;
using PrecomputedTools.Synthetic;
using PrecomputedTools.TestServers;
using Xunit;

namespace PrecomputedTools.Engine.Tests.Precomputed;

/// <summary>
/// Image layers (jpeg, png, raw) of a synthetic EM image: the chunks are checked by decoders that
/// share no code with the module's (Debian's libjpeg-turbo djpeg for JPEG, a PNG reader written
/// plainly below on System.IO.Compression), and downsampling against plain reference loops.
/// </summary>
public sealed class ImageEncodingTests
{
    private static readonly Lazy<SyntheticEmImage> s_image = new(() => new SyntheticEmImage(new SyntheticEmVolume(new Int3(150, 130, 70), cellXY: 24, cellZ: 8)));

    [Fact]
    public void SyntheticEmImageLooksLikeEmAndFillEqualsTheDefinition()
    {
        SyntheticEmImage image = s_image.Value;
        var box = new Box3(new Int3(10, 20, 5), new Int3(90, 70, 21));
        byte[] voxels = new byte[box.VoxelCount];
        image.Fill(box, voxels);
        int i = 0, membrane = 0;
        double membraneSum = 0, cellSum = 0;
        for (int z = box.Begin.Z; z < box.End.Z; z++)
        {
            for (int y = box.Begin.Y; y < box.End.Y; y++)
            {
                for (int x = box.Begin.X; x < box.End.X; x++, i++)
                {
                    Assert.Equal(image.IntensityAt(x, y, z), voxels[i]);
                    if (image.Labels.LabelAt(x, y, z) == 0)
                    {
                        membrane++;
                        membraneSum += voxels[i];
                    }
                    else
                    {
                        cellSum += voxels[i];
                    }
                }
            }
        }

        // Dark membranes between brighter, textured cells; both present.
        Assert.InRange(membrane, voxels.Length / 50, voxels.Length / 2);
        Assert.True(membraneSum / membrane < 70 && cellSum / (voxels.Length - membrane) > 140, "membranes dark, cytoplasm bright");
        Assert.True(voxels.Distinct().Count() > 100, "textured and noisy, not flat");
    }

    [Fact]
    public async Task JpegChunksDecodeWithDjpegToAtLeast40DbAtQuality95AndTheModuleDecoderAgrees()
    {
        string djpeg = FindTool("djpeg");
        SyntheticEmImage image = s_image.Value;
        (string output, PrecomputedInfo info) = await WriteScale0(image, ChunkEncodings.Jpeg, "jpeg-q95", jpegQuality: 95);
        Assert.Contains("\"jpeg_quality\": 95", File.ReadAllText(Path.Combine(output, "info")));
        double worst = AssertJpegScaleWithDjpeg(djpeg, output, info, box =>
        {
            byte[] source = new byte[box.VoxelCount];
            image.Fill(box, source);
            return source;
        });
        Assert.True(worst >= 40, $"worst chunk PSNR {worst:F2} dB at quality 95");
    }

    [Fact]
    public async Task AnEmChannelFromTheBossStandInInBloscBecomesExactRawAndFaithfulJpeg()
    {
        string djpeg = FindTool("djpeg");
        SyntheticEmImage image = s_image.Value;
        var catalog = new BossTestCatalog();
        var frame = new BossTestFrame("em_frame", 0, image.Size.X, 0, image.Size.Y, 0, image.Size.Z, 4, 4, 40);
        catalog.Frames[frame.Name] = frame;
        catalog.Collections["lab"] = true;
        var experiment = new BossTestExperiment("lab", "em", frame, 1, "anisotropic");
        experiment.Channels.Add(new BossTestChannel(experiment, "em", "uint8", "image", (level, t, z, y, x) => image.IntensityAt(x, y, z)));
        catalog.Experiments.Add(experiment);
        using var server = new BossTestServer(catalog);
        using var client = new BossClient(new BossConnection(server.BaseUri, BossTestServer.ValidToken, "test"), Boss.BossDownloadTests.FastOptions());
        BossVolumeDescriptor em = await BossVolumeDescriptor.CreateAsync(client, new BossCutoutOptions { Collection = "lab", Experiment = "em", Channel = "em", Format = BossTransferFormat.Blosc }, default);
        Assert.Equal(VoxelType.UInt8, em.DataType);
        await AssertExactRawAndFaithfulJpeg(djpeg, image, em, "boss-em");
    }

    [Fact]
    public async Task AnEmTiffStackBecomesExactRawAndFaithfulJpeg()
    {
        string djpeg = FindTool("djpeg");
        SyntheticEmImage image = s_image.Value;
        string slices = TestData.NewScratch("em-tiff");
        await Export.TiffStackExporter.ExportAsync(image, slices, null, OperationMonitor.None, CancellationToken.None);
        Tiff.TiffStackDescriptor stack = Tiff.TiffStackDescriptor.Open(slices, resolution: new double[] { 4, 4, 40 });
        Assert.Equal(VoxelType.UInt8, stack.DataType);
        Assert.Equal(image.Size, stack.Size);
        await AssertExactRawAndFaithfulJpeg(djpeg, image, stack, "tiff-em");
    }

    // The source written raw reads back exactly; written as jpeg q95, every chunk decoded by djpeg is within 40 dB.
    private static async Task AssertExactRawAndFaithfulJpeg(string djpeg, SyntheticEmImage image, VolumeDescriptor source, string name)
    {
        (string raw, _) = await WriteScale0(source, ChunkEncodings.Raw, name + "-raw");
        using (PrecomputedVolumeReader reader = PrecomputedVolumeReader.Open(raw))
        {
            var all = new Box3(Int3.Zero, image.Size);
            byte[] expected = new byte[all.VoxelCount], actual = new byte[all.VoxelCount];
            image.Fill(all, expected);
            reader.Read(all, actual);
            Assert.Equal(expected, actual);
        }

        (string jpeg, PrecomputedInfo info) = await WriteScale0(source, ChunkEncodings.Jpeg, name + "-jpeg", jpegQuality: 95);
        double worst = AssertJpegScaleWithDjpeg(djpeg, jpeg, info, box =>
        {
            byte[] voxels = new byte[box.VoxelCount];
            image.Fill(box, voxels);
            return voxels;
        });
        Assert.True(worst >= 40, $"worst chunk PSNR {worst:F2} dB at quality 95");
    }

    // Every chunk of scale 0 through djpeg against the source: returns the worst chunk's PSNR.
    private static double AssertJpegScaleWithDjpeg(string djpeg, string output, PrecomputedInfo info, Func<Box3, byte[]> sourceOf)
    {
        ScaleInfo scale = info.Scales[0];
        string scratch = TestData.NewScratch("jpeg-djpeg");
        double worst = double.MaxValue;
        int chunks = 0;
        foreach (Box3 box in scale.EnumerateChunks())
        {
            string file = Path.Combine(output, scale.Key, scale.ChunkName(box));
            Assert.True(File.Exists(file), $"{file} is stored under its plain name (no .gz: JPEG is compressed already)");
            byte[] jpeg = File.ReadAllBytes(file);
            Assert.Equal(new byte[] { 0xFF, 0xD8 }, jpeg.Take(2));

            // Independent decoder: libjpeg-turbo's djpeg, PGM out.
            string copy = Path.Combine(scratch, $"c{chunks}.jpg");
            File.WriteAllBytes(copy, jpeg);
            (int width, int height, byte[] pixels) = ReadPgm(Run(djpeg, $"-grayscale -pnm \"{copy}\""));
            Assert.Equal(box.Size.X, width);
            Assert.Equal(box.Size.Y * box.Size.Z, height);

            double psnr = Psnr(sourceOf(box), pixels);
            worst = Math.Min(worst, psnr);

            // The module's own decoder reads the same pixels as djpeg (within IDCT rounding).
            byte[] ours = new byte[box.VoxelCount];
            ChunkCodec.Decode(info.DataType, scale, box.Size, jpeg, ours, scale.ChunkName(box));
            Assert.True(Psnr(pixels, ours) > 50, "the module's decoder and djpeg agree");
            chunks++;
        }

        Assert.Equal(scale.ChunkCount, chunks);
        return worst;
    }

    [Fact]
    public async Task RawImageChunksAreExact()
    {
        SyntheticEmImage image = s_image.Value;
        (string output, PrecomputedInfo info) = await WriteScale0(image, ChunkEncodings.Raw, "raw-image");
        using PrecomputedVolumeReader reader = PrecomputedVolumeReader.Open(output);
        var all = new Box3(Int3.Zero, image.Size);
        byte[] expected = new byte[all.VoxelCount], actual = new byte[all.VoxelCount];
        image.Fill(all, expected);
        reader.Read(all, actual);
        Assert.Equal(expected, actual);
        Assert.Equal(info.Scales[0].ChunkCount, Directory.EnumerateFiles(Path.Combine(output, info.Scales[0].Key)).Count());
    }

    [Theory]
    [InlineData(VoxelType.UInt8)]
    [InlineData(VoxelType.UInt16)]
    public async Task PngChunksAreLosslessThroughAPlainPngReader(VoxelType type)
    {
        SyntheticEmImage image = s_image.Value;
        VolumeDescriptor source = type == VoxelType.UInt8 ? image : new Widened(image);
        (string output, PrecomputedInfo info) = await WriteScale0(source, ChunkEncodings.Png, "png-" + type, pngLevel: 9);
        ScaleInfo scale = info.Scales[0];
        int element = VoxelTypes.SizeOf(type);
        using IVolumeReader sourceReader = source.OpenReader();
        foreach (Box3 box in scale.EnumerateChunks())
        {
            byte[] png = File.ReadAllBytes(Path.Combine(output, scale.Key, scale.ChunkName(box)));
            (int width, int height, int bitDepth, byte[] samples) = PlainPng.Read(png);
            Assert.Equal((box.Size.X, box.Size.Y * box.Size.Z, element * 8), (width, height, bitDepth));
            byte[] expected = new byte[box.VoxelCount * element];
            await sourceReader.ReadAsync(box, expected, CancellationToken.None);
            Assert.Equal(expected, samples);
        }
    }

    [Fact]
    public async Task AJpegPyramidDecodesEverywhereAndFollowsTheReferenceAverage()
    {
        SyntheticEmImage image = s_image.Value;
        (string output, PrecomputedInfo info) = await WriteScale0(image, ChunkEncodings.Jpeg, "jpeg-pyramid", jpegQuality: 95, chunk: 32);
        Assert.True(info.Scales.Count >= 3);
        using (var store = new DatasetStore(new FolderStore(output)))
        {
            for (int i = 1; i < info.Scales.Count; i++)
            {
                await ScaleWriter.DownscaleAsync(store, info, i, DownscaleMethod.Average, new ChunkWriteOptions(), OperationMonitor.None, CancellationToken.None);
            }
        }

        // Scale 1 against the plain average of the exact source: only JPEG loss separates them.
        var all = new Box3(Int3.Zero, image.Size);
        byte[] source = new byte[all.VoxelCount];
        image.Fill(all, source);
        ScaleInfo first = info.Scales[1];
        var factor = new Int3(
            (int)Math.Round(first.Resolution[0] / info.Scales[0].Resolution[0]),
            (int)Math.Round(first.Resolution[1] / info.Scales[0].Resolution[1]),
            (int)Math.Round(first.Resolution[2] / info.Scales[0].Resolution[2]));
        byte[] reference = Reference.Average(source, image.Size, factor);
        using PrecomputedVolumeReader reader = PrecomputedVolumeReader.Open(output, first.Key);
        byte[] written = new byte[first.Size.Volume];
        reader.Read(new Box3(Int3.Zero, first.Size), written);
        Assert.True(Psnr(reference, written) >= 38, $"scale {first.Key}: {Psnr(reference, written):F2} dB from the reference average");

        using var validated = new DatasetStore(new FolderStore(output));
        DatasetValidation report = DatasetValidator.Validate(validated, 2, OperationMonitor.None, CancellationToken.None);
        Assert.True(report.IsValid, string.Join("; ", report.Problems));
    }

    [Theory]
    [InlineData(VoxelType.UInt8, DownscaleMethod.Average)]
    [InlineData(VoxelType.UInt16, DownscaleMethod.Average)]
    [InlineData(VoxelType.UInt8, DownscaleMethod.Min)]
    [InlineData(VoxelType.UInt16, DownscaleMethod.Max)]
    [InlineData(VoxelType.Float32, DownscaleMethod.Max)]
    [InlineData(VoxelType.Float32, DownscaleMethod.Min)]
    [InlineData(VoxelType.UInt8, DownscaleMethod.Stride)]
    public void DownsamplingEqualsAPlainReferenceOnOddShapes(VoxelType type, DownscaleMethod method)
    {
        var random = new Random(11 + (int)type + (10 * (int)method));
        foreach (Int3 factor in new[] { new Int3(2, 2, 2), new Int3(2, 2, 1), new Int3(3, 1, 2) })
        {
            var shape = new Int3(random.Next(1, 23), random.Next(1, 19), random.Next(1, 9));
            double[] values = Enumerable.Range(0, (int)shape.Volume).Select(_ => type == VoxelType.Float32 ? (random.NextDouble() * 1000) - 500 : random.Next(0, type == VoxelType.UInt8 ? 256 : 65536)).ToArray();
            byte[] input = Pack(values, type);
            Int3 outShape = Int3.CeilDiv(shape, factor);
            byte[] output = new byte[outShape.Volume * VoxelTypes.SizeOf(type)];
            ScaleWriter.Reduce(input, type, shape, factor, method, output);
            double[] expected = Reference.Reduce(values, shape, factor, method, type);
            Assert.Equal(Pack(expected, type), output);
        }
    }

    [Fact]
    public void TheInfoCarriesTheEncoderHintsAndRefusesImpossibleImageEncodings()
    {
        var info = new PrecomputedInfo { Type = "image", DataType = VoxelType.UInt8 };
        info.Scales.AddRange(ScalePyramid.Generate(new Int3(100, 100, 10), new double[] { 4, 4, 40 }, Int3.Zero, 64, ChunkEncodings.Jpeg, null));
        info.Scales[0].JpegQuality = 80;
        info.Validate();
        PrecomputedInfo again = PrecomputedInfo.Parse(info.ToJson());
        Assert.Equal(80, again.Scales[0].JpegQuality);
        Assert.Equal(ChunkEncodings.Jpeg, again.Scales[0].Encoding);

        info.DataType = VoxelType.UInt16;
        EngineException jpeg16 = Assert.Throws<EngineException>(() => info.Validate());
        Assert.Contains("jpeg", jpeg16.Message);
        info.DataType = VoxelType.Float32;
        foreach (ScaleInfo s in info.Scales)
        {
            s.Encoding = ChunkEncodings.Png;
        }

        Assert.Throws<EngineException>(() => info.Validate());
    }

    [Fact]
    public void BrokenImageChunksAreClearErrors()
    {
        var shape = new Int3(16, 8, 4);
        byte[] voxels = Enumerable.Range(0, (int)shape.Volume).Select(i => (byte)(i * 7)).ToArray();
        var jpegScale = new ScaleInfo { Key = "s", Encoding = ChunkEncodings.Jpeg, ChunkSize = shape, Size = shape };
        byte[] jpeg = ChunkCodec.Encode(VoxelType.UInt8, jpegScale, shape, voxels);
        byte[] decoded = new byte[voxels.Length];

        EngineException truncated = Assert.Throws<EngineException>(() => ChunkCodec.Decode(VoxelType.UInt8, jpegScale, shape, jpeg.AsSpan(0, jpeg.Length / 2), decoded, "c"));
        Assert.Equal("JpegChunkCorrupt", truncated.ErrorId);
        EngineException wrongShape = Assert.Throws<EngineException>(() => ChunkCodec.Decode(VoxelType.UInt8, jpegScale, new Int3(8, 16, 4), jpeg, decoded, "c"));
        Assert.Equal("JpegChunkCorrupt", wrongShape.ErrorId);
        Assert.Equal(EngineErrorKind.InvalidData, wrongShape.Kind);

        var pngScale = new ScaleInfo { Key = "s", Encoding = ChunkEncodings.Png, ChunkSize = shape, Size = shape };
        byte[] png = ChunkCodec.Encode(VoxelType.UInt8, pngScale, shape, voxels);
        Assert.Equal("PngChunkCorrupt", Assert.Throws<EngineException>(() => ChunkCodec.Decode(VoxelType.UInt16, pngScale, shape, png, new byte[voxels.Length * 2], "c")).ErrorId);
        Assert.Equal("PngChunkCorrupt", Assert.Throws<EngineException>(() => ChunkCodec.Decode(VoxelType.UInt8, pngScale, shape, png.AsSpan(0, 40), decoded, "c")).ErrorId);
        Assert.Equal("PngChunkCorrupt", Assert.Throws<EngineException>(() => ChunkCodec.Decode(VoxelType.UInt8, pngScale, shape, jpeg, decoded, "c")).ErrorId);
    }

    private static async Task<(string Output, PrecomputedInfo Info)> WriteScale0(VolumeDescriptor source, string encoding, string name, int? jpegQuality = null, int? pngLevel = null, int chunk = 64)
    {
        string output = TestData.NewScratch(name);
        var info = new PrecomputedInfo { Type = "image", DataType = source.DataType };
        info.Scales.AddRange(ScalePyramid.Generate(source.Size, source.Resolution!, Int3.Zero, chunk, encoding, null));
        foreach (ScaleInfo scale in info.Scales)
        {
            scale.JpegQuality = jpegQuality;
            scale.PngLevel = pngLevel;
        }

        info.Validate();
        using var store = new DatasetStore(new FolderStore(output));
        store.WriteInfo(info);
        using IVolumeReader reader = source.OpenReader();
        await ScaleWriter.WriteFromVolumeAsync(reader, store, info, new ChunkWriteOptions(), OperationMonitor.None, CancellationToken.None);
        return (output, info);
    }

    internal static string FindTool(string name)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Append("/usr/bin"))
        {
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException($"{name} is not installed: .ci/install-image.sh installs libjpeg-turbo-progs.");
    }

    private static byte[] Run(string tool, string arguments)
    {
        var start = new ProcessStartInfo(tool, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using Process process = Process.Start(start)!;
        using var output = new MemoryStream();
        Task copy = process.StandardOutput.BaseStream.CopyToAsync(output);
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        copy.Wait();
        Assert.True(process.ExitCode == 0, $"{tool} {arguments}: exit {process.ExitCode}: {error}");
        return output.ToArray();
    }

    // Binary PGM (P5): "P5 w h max" then the bytes.
    private static (int Width, int Height, byte[] Pixels) ReadPgm(byte[] pgm)
    {
        int position = 0;
        string Token()
        {
            while (char.IsWhiteSpace((char)pgm[position]))
            {
                position++;
            }

            int start = position;
            while (!char.IsWhiteSpace((char)pgm[position]))
            {
                position++;
            }

            return System.Text.Encoding.ASCII.GetString(pgm, start, position - start);
        }

        Assert.Equal("P5", Token());
        int width = int.Parse(Token()), height = int.Parse(Token());
        Assert.Equal("255", Token());
        position++;
        return (width, height, pgm.AsSpan(position, width * height).ToArray());
    }

    internal static double Psnr(byte[] expected, byte[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        double sum = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = expected[i] - actual[i];
            sum += d * d;
        }

        double mse = sum / expected.Length;
        return mse == 0 ? double.PositiveInfinity : 10 * Math.Log10(255.0 * 255.0 / mse);
    }

    private static byte[] Pack(double[] values, VoxelType type)
    {
        int size = VoxelTypes.SizeOf(type);
        byte[] bytes = new byte[values.Length * size];
        for (int i = 0; i < values.Length; i++)
        {
            switch (type)
            {
                case VoxelType.UInt8:
                    bytes[i] = (byte)values[i];
                    break;
                case VoxelType.UInt16:
                    BitConverter.GetBytes((ushort)values[i]).CopyTo(bytes, i * 2);
                    break;
                default:
                    BitConverter.GetBytes((float)values[i]).CopyTo(bytes, i * 4);
                    break;
            }
        }

        return bytes;
    }

    /// <summary>The downsampling rules written as plainly as possible.</summary>
    private static class Reference
    {
        public static byte[] Average(byte[] source, Int3 shape, Int3 factor) =>
            Reduce(source.Select(b => (double)b).ToArray(), shape, factor, DownscaleMethod.Average, VoxelType.UInt8).Select(v => (byte)v).ToArray();

        public static double[] Reduce(double[] source, Int3 shape, Int3 factor, DownscaleMethod method, VoxelType type)
        {
            Int3 o = Int3.CeilDiv(shape, factor);
            double[] result = new double[o.Volume];
            for (int oz = 0; oz < o.Z; oz++)
            {
                for (int oy = 0; oy < o.Y; oy++)
                {
                    for (int ox = 0; ox < o.X; ox++)
                    {
                        var block = new System.Collections.Generic.List<double>();
                        for (int z = oz * factor.Z; z < Math.Min(shape.Z, (oz + 1) * factor.Z); z++)
                        {
                            for (int y = oy * factor.Y; y < Math.Min(shape.Y, (oy + 1) * factor.Y); y++)
                            {
                                for (int x = ox * factor.X; x < Math.Min(shape.X, (ox + 1) * factor.X); x++)
                                {
                                    block.Add(source[x + (shape.X * (y + (shape.Y * z)))]);
                                }
                            }
                        }

                        // Integers: the mean rounded to nearest, halves up (sum + n/2) / n in integers.
                        double value = method switch
                        {
                            DownscaleMethod.Average when type == VoxelType.Float32 => (float)(block.Select(v => (double)(float)v).Sum() / block.Count),
                            DownscaleMethod.Average => Math.Floor((block.Sum() + (block.Count / 2.0)) / block.Count),
                            DownscaleMethod.Min => block.Min(),
                            DownscaleMethod.Max => block.Max(),
                            _ => block[0],
                        };
                        result[ox + (o.X * (oy + (o.Y * oz)))] = value;
                    }
                }
            }

            return result;
        }
    }

    /// <summary>A uint16 image: the uint8 EM image times 255 plus a positional ramp, so both bytes vary.</summary>
    private sealed class Widened : VolumeDescriptor
    {
        private readonly SyntheticEmImage _image;

        public Widened(SyntheticEmImage image) => _image = image;

        public override Int3 Size => _image.Size;

        public override VoxelType DataType => VoxelType.UInt16;

        public override double[]? Resolution => _image.Resolution;

        public override string SourceKind => "Synthetic";

        public override string Source => "widened";

        public override IVolumeReader OpenReader() => new Reader(_image);

        private sealed class Reader : IVolumeReader
        {
            private readonly SyntheticEmImage _image;

            public Reader(SyntheticEmImage image) => _image = image;

            public Int3 Size => _image.Size;

            public VoxelType DataType => VoxelType.UInt16;

            public Int3 ReadGranularity => _image.Size;

            public Task ReadAsync(Box3 region, Memory<byte> destination, CancellationToken cancellationToken)
            {
                byte[] bytes = new byte[region.VoxelCount];
                _image.Fill(region, bytes);
                Span<ushort> wide = MemoryMarshal.Cast<byte, ushort>(destination.Span);
                int i = 0;
                for (int z = region.Begin.Z; z < region.End.Z; z++)
                {
                    for (int y = region.Begin.Y; y < region.End.Y; y++)
                    {
                        for (int x = region.Begin.X; x < region.End.X; x++, i++)
                        {
                            wide[i] = (ushort)((bytes[i] * 255) + ((x + (3 * y) + (7 * z)) % 251));
                        }
                    }
                }

                return Task.CompletedTask;
            }

            public void Dispose()
            {
            }
        }
    }

    /// <summary>
    /// A PNG reader written from the PNG specification for the tests (greyscale, 8 or 16 bits, no
    /// interlace): chunks, zlib through System.IO.Compression, the five row filters. Samples come back
    /// little-endian like the module's voxels.
    /// </summary>
    private static class PlainPng
    {
        public static (int Width, int Height, int BitDepth, byte[] Samples) Read(byte[] png)
        {
            Assert.Equal(new byte[] { 137, 80, 78, 71, 13, 10, 26, 10 }, png.Take(8));
            int position = 8, width = 0, height = 0, bitDepth = 0;
            using var idat = new MemoryStream();
            while (position < png.Length)
            {
                int length = (png[position] << 24) | (png[position + 1] << 16) | (png[position + 2] << 8) | png[position + 3];
                string type = System.Text.Encoding.ASCII.GetString(png, position + 4, 4);
                if (type == "IHDR")
                {
                    width = ReadInt(png, position + 8);
                    height = ReadInt(png, position + 12);
                    bitDepth = png[position + 16];
                    Assert.Equal(0, png[position + 17]);
                    Assert.Equal(0, png[position + 20]);
                }
                else if (type == "IDAT")
                {
                    idat.Write(png, position + 8, length);
                }

                position += 12 + length;
            }

            int bpp = bitDepth / 8, stride = width * bpp;
            idat.Position = 0;
            using var inflate = new ZLibStream(idat, CompressionMode.Decompress);
            using var raw = new MemoryStream();
            inflate.CopyTo(raw);
            byte[] data = raw.ToArray();
            Assert.Equal(height * (stride + 1), data.Length);
            byte[] image = new byte[height * stride];
            for (int y = 0; y < height; y++)
            {
                int filter = data[y * (stride + 1)];
                for (int x = 0; x < stride; x++)
                {
                    int value = data[(y * (stride + 1)) + 1 + x];
                    int a = x >= bpp ? image[(y * stride) + x - bpp] : 0;
                    int b = y > 0 ? image[((y - 1) * stride) + x] : 0;
                    int c = x >= bpp && y > 0 ? image[((y - 1) * stride) + x - bpp] : 0;
                    int predictor = filter switch
                    {
                        0 => 0,
                        1 => a,
                        2 => b,
                        3 => (a + b) / 2,
                        4 => Paeth(a, b, c),
                        _ => throw new InvalidDataException($"PNG filter {filter}"),
                    };
                    image[(y * stride) + x] = (byte)(value + predictor);
                }
            }

            if (bpp == 2)
            {
                for (int i = 0; i < image.Length; i += 2)
                {
                    (image[i], image[i + 1]) = (image[i + 1], image[i]);
                }
            }

            return (width, height, bitDepth, image);
        }

        private static int ReadInt(byte[] b, int at) => (b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3];

        private static int Paeth(int a, int b, int c)
        {
            int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
            return pa <= pb && pa <= pc ? a : (pb <= pc ? b : c);
        }
    }
}
