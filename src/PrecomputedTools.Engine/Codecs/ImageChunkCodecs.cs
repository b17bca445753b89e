using System;
using System.IO;
using System.Runtime.InteropServices;
using BitMiracle.LibJpeg.Classic;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace PrecomputedTools.Engine.Codecs;

/// <summary>
/// The jpeg and png chunk encodings of neuroglancer's precomputed volume.md: a chunk of shape
/// (x, y, z) is one 2-D image x wide and y·z high, rows in the chunk's own order (y fastest, then z),
/// so its pixels are exactly the chunk's voxels, x fastest. One channel: grey JPEG for uint8, grey PNG
/// of 8 or 16 bits for uint8 or uint16 (PNG stores 16-bit samples big-endian; the codecs convert).
/// </summary>
public static class ImageChunkCodecs
{
    /// <summary>Quality used when the info gives none (libjpeg's scale, 1..100).</summary>
    public const int DefaultJpegQuality = 95;

    /// <summary>zlib level used when the info gives none (0..9).</summary>
    public const int DefaultPngLevel = 6;

    // Baseline JPEG stores each dimension in 16 bits.
    private const int MaxJpegSide = 65535;

    /// <summary>Encodes a one-channel uint8 chunk as a baseline greyscale JPEG (width x, height y·z).</summary>
    public static byte[] EncodeJpeg(ReadOnlySpan<byte> voxels, Int3 shape, int quality)
    {
        (int width, int height) = ImageSize(shape, "jpeg");
        if (width > MaxJpegSide || height > MaxJpegSide)
        {
            throw new EngineException(
                "JpegChunkTooLarge",
                EngineErrorKind.InvalidArgument,
                $"A {shape} chunk is a {width}x{height} image, larger than JPEG's {MaxJpegSide} pixels a side; use a smaller chunk size (y·z at most {MaxJpegSide}).");
        }

        if (quality is < 1 or > 100)
        {
            throw new ArgumentOutOfRangeException(nameof(quality), quality, "JPEG quality is 1..100.");
        }

        // ImageSharp writes baseline greyscale JPEG with the standard (IJG) tables scaled by quality,
        // the same bytes per voxel and PSNR as libjpeg at 2.5 times LibJpeg.NET's speed (the image
        // benchmark); reading stays with LibJpeg.NET, which reports damaged data (below).
        using Image<L8> image = Image.LoadPixelData(MemoryMarshal.Cast<byte, L8>(voxels), width, height);
        using var output = new MemoryStream((voxels.Length / 4) + 1024);
        image.Save(output, new JpegEncoder { Quality = quality, ColorType = JpegColorType.Luminance });
        return output.ToArray();
    }

    /// <summary>Decodes a JPEG chunk into one-channel uint8 voxels of <paramref name="shape"/>.</summary>
    public static void DecodeJpeg(ReadOnlySpan<byte> encoded, Int3 shape, Span<byte> destination, string? chunkName = null)
    {
        (int width, int height) = ImageSize(shape, "jpeg");
        var decompressor = new jpeg_decompress_struct(new SilentErrors());
        try
        {
            using var input = new MemoryStream(encoded.ToArray(), writable: false);
            decompressor.jpeg_stdio_src(input);
            decompressor.jpeg_read_header(true);
            if (decompressor.Image_width != width || decompressor.Image_height != height || decompressor.Num_components != 1)
            {
                throw Corrupt("JpegChunkCorrupt", chunkName, $"it is a {decompressor.Image_width}x{decompressor.Image_height} image of {decompressor.Num_components} component(s); a {shape} chunk of one channel is a {width}x{height} greyscale image");
            }

            decompressor.Out_color_space = J_COLOR_SPACE.JCS_GRAYSCALE;
            decompressor.jpeg_start_decompress();
            byte[] row = new byte[width];
            byte[][] rows = { row };
            for (int y = 0; y < height; y++)
            {
                if (decompressor.jpeg_read_scanlines(rows, 1) != 1)
                {
                    throw Corrupt("JpegChunkCorrupt", chunkName, $"it ends after {y} of {height} rows");
                }

                row.AsSpan().CopyTo(destination.Slice(y * width, width));
            }

            decompressor.jpeg_finish_decompress();
        }
        catch (Exception ex) when (ex is not EngineException)
        {
            throw Corrupt("JpegChunkCorrupt", chunkName, ex.Message);
        }
        finally
        {
            decompressor.jpeg_destroy();
        }
    }

    /// <summary>Encodes a one-channel uint8 or uint16 chunk as a greyscale PNG (width x, height y·z).</summary>
    public static byte[] EncodePng(ReadOnlySpan<byte> voxels, int bytesPerSample, Int3 shape, int level)
    {
        (int width, int height) = ImageSize(shape, "png");
        var encoder = new PngEncoder
        {
            ColorType = PngColorType.Grayscale,
            BitDepth = bytesPerSample == 2 ? PngBitDepth.Bit16 : PngBitDepth.Bit8,
            CompressionLevel = (PngCompressionLevel)Math.Max(0, Math.Min(9, level)),
            FilterMethod = PngFilterMethod.Adaptive,
        };
        using var output = new MemoryStream((voxels.Length / 2) + 1024);
        if (bytesPerSample == 2)
        {
            using Image<L16> image = Image.LoadPixelData(MemoryMarshal.Cast<byte, L16>(voxels), width, height);
            image.Save(output, encoder);
        }
        else if (bytesPerSample == 1)
        {
            using Image<L8> image = Image.LoadPixelData(MemoryMarshal.Cast<byte, L8>(voxels), width, height);
            image.Save(output, encoder);
        }
        else
        {
            throw new ArgumentOutOfRangeException(nameof(bytesPerSample), bytesPerSample, "PNG chunks hold uint8 or uint16 voxels.");
        }

        return output.ToArray();
    }

    /// <summary>Decodes a PNG chunk into one-channel uint8 or uint16 voxels of <paramref name="shape"/>.</summary>
    public static void DecodePng(ReadOnlySpan<byte> encoded, int bytesPerSample, Int3 shape, Span<byte> destination, string? chunkName = null)
    {
        (int width, int height) = ImageSize(shape, "png");
        byte[] bytes = encoded.ToArray();
        try
        {
            // The viewer refuses a PNG whose channels or sample width differ from the info's; so do we,
            // rather than letting the library convert colour to grey.
            IImageInfo? identified = Image.Identify(bytes);
            if (identified is null)
            {
                throw Corrupt("PngChunkCorrupt", chunkName, "it is not a PNG image");
            }

            PngMetadata png = identified.Metadata.GetPngMetadata();
            int bits = bytesPerSample * 8;
            if (identified.Width != width || identified.Height != height || png.ColorType != PngColorType.Grayscale || (int)(png.BitDepth ?? 0) != bits)
            {
                throw Corrupt("PngChunkCorrupt", chunkName, $"it is a {identified.Width}x{identified.Height} {png.ColorType} image of {(int)(png.BitDepth ?? 0)} bits; a {shape} chunk is a {width}x{height} greyscale image of {bits} bits");
            }

            if (bytesPerSample == 2)
            {
                using Image<L16> image = Image.Load<L16>(bytes);
                image.CopyPixelDataTo(MemoryMarshal.Cast<byte, L16>(destination));
            }
            else
            {
                using Image<L8> image = Image.Load<L8>(bytes);
                image.CopyPixelDataTo(MemoryMarshal.Cast<byte, L8>(destination));
            }
        }
        catch (Exception ex) when (ex is not EngineException)
        {
            throw Corrupt("PngChunkCorrupt", chunkName, ex.Message);
        }
    }

    private static (int Width, int Height) ImageSize(Int3 shape, string encoding)
    {
        long height = (long)shape.Y * shape.Z;
        if (shape.X < 1 || height < 1 || height > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(shape), shape, $"A {encoding} chunk needs a positive shape.");
        }

        return (shape.X, (int)height);
    }

    private static EngineException Corrupt(string errorId, string? chunkName, string why) => new(
        errorId,
        EngineErrorKind.InvalidData,
        $"Chunk {chunkName ?? "(unnamed)"} does not decode: {why}.",
        chunkName);

    // libjpeg's default manager prints warnings (corrupt data it can skip) to the console; a chunk
    // with corrupt data is an error here, and nothing is printed.
    private sealed class SilentErrors : jpeg_error_mgr
    {
        public override void emit_message(int msg_level)
        {
            if (msg_level < 0)
            {
                throw new InvalidDataException(format_message());
            }
        }

        public override void output_message()
        {
        }
    }
}
