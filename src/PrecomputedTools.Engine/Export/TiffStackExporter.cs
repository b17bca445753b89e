using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using BitMiracle.LibTiff.Classic;
using LibTiffFile = BitMiracle.LibTiff.Classic.Tiff;
using PrecomputedTools.Engine.Boss;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Engine.Volumes;

namespace PrecomputedTools.Engine.Export;

/// <summary>
/// Writes a volume as TIFF slices with ndpull's names and compression (README, 'Export-TiffStack'), or as one
/// multi-page file. Streams slab by slab and y-band by y-band: memory holds one band of one slab.
/// Every file is written to a temporary name and renamed when complete.
/// </summary>
public static class TiffStackExporter
{
    /// <summary>ndpull's prefix: collection_experiment_channel for BOSS volumes, else the volume's name.</summary>
    /// <remarks>A precomputed volume is named "dataset/scale": separators and other characters no file name may hold become '_'.</remarks>
    public static string Prefix(VolumeDescriptor volume) => SafeFileName(
        volume is BossVolumeDescriptor boss ? boss.Options.Collection + "_" + boss.Options.Experiment + "_" + boss.Options.Channel : volume.Name);

    private static string SafeFileName(string name)
    {
        char[] invalid = Path.GetInvalidFileNameChars();
        char[] chars = name.ToCharArray();
        for (int i = 0; i < chars.Length; i++)
        {
            if (chars[i] is '/' or '\\' or ':' || Array.IndexOf(invalid, chars[i]) >= 0)
            {
                chars[i] = '_';
            }
        }

        return new string(chars);
    }

    /// <summary>The slice file names, in z order: {prefix}_x{x0}-{x1}_y{y0}-{y1}_z{z}.tif, z zero-padded to the digits of the stop.</summary>
    public static IReadOnlyList<string> SliceNames(VolumeDescriptor volume)
    {
        Int3 o = volume.VoxelOffset;
        Int3 s = volume.Size;
        int z1 = o.Z + s.Z;
        int digits = (int)Math.Floor(Math.Log10(Math.Max(1, z1))) + 1;
        string prefix = Prefix(volume);
        var names = new List<string>(s.Z);
        for (int z = o.Z; z < z1; z++)
        {
            names.Add(string.Format(
                CultureInfo.InvariantCulture,
                "{0}_x{1}-{2}_y{3}-{4}_z{5}.tif",
                prefix,
                o.X,
                o.X + s.X,
                o.Y,
                o.Y + s.Y,
                z.ToString("D" + digits, CultureInfo.InvariantCulture)));
        }

        return names;
    }

    /// <summary>
    /// Writes the slices into <paramref name="directory"/> (created if missing); with
    /// <paramref name="stackFileName"/>, merges them into one multi-page file and deletes them.
    /// Returns the files written.
    /// </summary>
    public static async Task<IReadOnlyList<string>> ExportAsync(VolumeDescriptor volume, string directory, string? stackFileName, OperationMonitor monitor, CancellationToken ct)
    {
        FileErrors.RequireFolderPath(directory);
        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw FileErrors.MapWrite(ex, directory, directory);
        }

        IReadOnlyList<string> names = SliceNames(volume);
        var paths = new List<string>(names.Count);
        foreach (string name in names)
        {
            paths.Add(Path.Combine(directory, name));
        }

        Int3 size = volume.Size;
        int eb = VoxelTypes.SizeOf(volume.DataType);
        monitor.ItemName = "slices";
        monitor.AddWork(size.Z, size.Volume * eb);
        using IVolumeReader reader = volume.OpenReader();
        Int3 g = reader.ReadGranularity;
        int slab = Math.Max(1, Math.Min(g.Z, 64));
        int band = Math.Max(1, Math.Min(g.Y, size.Y));
        // Keep a band of a slab below ~256 MiB whatever the granularity says.
        while (band > 1 && (long)size.X * band * slab * eb > 256L << 20)
        {
            band = Math.Max(1, band / 2);
        }

        byte[] buffer = new byte[(long)size.X * band * slab * eb];
        byte[] piece = new byte[(long)size.X * band * eb];
        for (int z0 = 0; z0 < size.Z; z0 += slab)
        {
            int nz = Math.Min(slab, size.Z - z0);
            var writers = new LibTiffFile[nz];
            var temps = new string[nz];
            try
            {
                for (int k = 0; k < nz; k++)
                {
                    temps[k] = AtomicFile.TempPathFor(paths[z0 + k]);
                    CreateEmpty(temps[k], directory);
                    writers[k] = OpenWriter(temps[k], names[z0 + k], size.X, size.Y, band, volume.DataType);
                }

                int strip = 0;
                for (int y0 = 0; y0 < size.Y; y0 += band, strip++)
                {
                    int ny = Math.Min(band, size.Y - y0);
                    var region = new Box3(new Int3(0, y0, z0), new Int3(size.X, y0 + ny, z0 + nz));
                    int bytes = (int)(region.VoxelCount * eb);
                    await reader.ReadAsync(region, buffer.AsMemory(0, bytes), ct).ConfigureAwait(false);
                    int slice = size.X * ny * eb;
                    for (int k = 0; k < nz; k++)
                    {
                        // LibTiff takes an array from offset 0: slice k is copied out of the slab buffer.
                        Buffer.BlockCopy(buffer, k * slice, piece, 0, slice);

                        if (writers[k].WriteEncodedStrip(strip, piece, slice) < 0)
                        {
                            throw new EngineException("TiffWriteFailed", EngineErrorKind.WriteError, $"Writing '{paths[z0 + k]}' failed.", paths[z0 + k]);
                        }
                    }
                }

                for (int k = 0; k < nz; k++)
                {
                    writers[k].Close();
                    writers[k].Dispose();
                    writers[k] = null!;
                    AtomicFile.CommitTemp(temps[k], paths[z0 + k]);
                    monitor.ReportDone(1, (long)size.X * size.Y * eb);
                }
            }
            finally
            {
                for (int k = 0; k < nz; k++)
                {
                    if (writers[k] is not null)
                    {
                        writers[k].Dispose();
                        AtomicFile.TryDelete(temps[k]);
                    }
                }
            }
        }

        if (stackFileName is null)
        {
            return paths;
        }

        string stack = Path.Combine(directory, stackFileName);
        string stackTemp = AtomicFile.TempPathFor(stack);
        try
        {
            CreateEmpty(stackTemp, directory);
            MergePages(paths, stackTemp);
            AtomicFile.CommitTemp(stackTemp, stack);
        }
        finally
        {
            AtomicFile.TryDelete(stackTemp);
        }

        foreach (string path in paths)
        {
            AtomicFile.TryDelete(path);
        }

        return new[] { stack };
    }

    // LibTiff only reports that it could not open a file: the file is created here first, so a
    // folder that cannot be written fails as OutputNotWritable (or OutputDiskFull, ...) by its cause.
    private static void CreateEmpty(string path, string directory)
    {
        try
        {
            new FileStream(path, FileMode.CreateNew, FileAccess.Write).Dispose();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw FileErrors.MapWrite(ex, path, directory);
        }
    }

    private static LibTiffFile OpenWriter(string path, string documentName, int width, int height, int rowsPerStrip, VoxelType type)
    {
        LibTiffFile? tiff = LibTiffFile.Open(path, "wl");
        if (tiff is null)
        {
            throw new EngineException("TiffWriteFailed", EngineErrorKind.WriteError, $"Cannot create '{path}'.", path);
        }

        tiff.SetField(TiffTag.IMAGEWIDTH, width);
        tiff.SetField(TiffTag.IMAGELENGTH, height);
        tiff.SetField(TiffTag.BITSPERSAMPLE, VoxelTypes.SizeOf(type) * 8);
        tiff.SetField(TiffTag.SAMPLESPERPIXEL, 1);
        tiff.SetField(TiffTag.SAMPLEFORMAT, type == VoxelType.Float32 ? SampleFormat.IEEEFP : SampleFormat.UINT);
        tiff.SetField(TiffTag.PHOTOMETRIC, Photometric.MINISBLACK);
        tiff.SetField(TiffTag.PLANARCONFIG, PlanarConfig.CONTIG);
        tiff.SetField(TiffTag.ROWSPERSTRIP, rowsPerStrip);
        tiff.SetField(TiffTag.COMPRESSION, Compression.ADOBE_DEFLATE);
        tiff.SetField(TiffTag.ZIPQUALITY, 6);
        tiff.SetField(TiffTag.DOCUMENTNAME, documentName);
        tiff.SetField(TiffTag.SOFTWARE, "PrecomputedTools");
        return tiff;
    }

    /// <summary>Copies every slice's strips, still compressed, into one multi-page file in order.</summary>
    private static void MergePages(IReadOnlyList<string> slices, string target)
    {
        using LibTiffFile output = LibTiffFile.Open(target, "wl") ?? throw new EngineException("TiffWriteFailed", EngineErrorKind.WriteError, $"Cannot create '{target}'.", target);
        byte[] strip = Array.Empty<byte>();
        foreach (string slice in slices)
        {
            using LibTiffFile input = LibTiffFile.Open(slice, "r") ?? throw new EngineException("TiffWriteFailed", EngineErrorKind.ReadError, $"Cannot reopen '{slice}'.", slice);
            foreach (TiffTag tag in new[] { TiffTag.IMAGEWIDTH, TiffTag.IMAGELENGTH, TiffTag.BITSPERSAMPLE, TiffTag.SAMPLESPERPIXEL, TiffTag.SAMPLEFORMAT, TiffTag.PHOTOMETRIC, TiffTag.PLANARCONFIG, TiffTag.ROWSPERSTRIP, TiffTag.COMPRESSION, TiffTag.DOCUMENTNAME, TiffTag.SOFTWARE })
            {
                FieldValue[]? value = input.GetField(tag);
                if (value is not null)
                {
                    output.SetField(tag, value[0].Value);
                }
            }

            int count = input.NumberOfStrips();
            for (int s = 0; s < count; s++)
            {
                int size = (int)input.RawStripSize(s);
                if (strip.Length < size)
                {
                    strip = new byte[size];
                }

                int read = input.ReadRawStrip(s, strip, 0, size);
                if (read < 0 || output.WriteRawStrip(s, strip, read) < 0)
                {
                    throw new EngineException("TiffWriteFailed", EngineErrorKind.WriteError, $"Copying '{slice}' into '{target}' failed.", target);
                }
            }

            output.WriteDirectory();
        }
    }
}
