using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using BitMiracle.LibTiff.Classic;
using PrecomputedTools.Engine.Volumes;
using LibTiff = BitMiracle.LibTiff.Classic.Tiff;

namespace PrecomputedTools.Engine.Tiff;

/// <summary>One z slice of a TIFF stack: a file and the offset of its directory (page).</summary>
internal readonly struct TiffPage
{
    public TiffPage(string file, long directoryOffset, int directoryIndex)
    {
        File = file;
        DirectoryOffset = directoryOffset;
        DirectoryIndex = directoryIndex;
    }

    public string File { get; }

    public long DirectoryOffset { get; }

    public int DirectoryIndex { get; }
}

/// <summary>
/// A stack of TIFF slices: a folder of single-page files (natural order: z2 before z10) or one
/// multi-page file. Opening it checks every page's header; voxels are read only on demand.
/// </summary>
public sealed class TiffStackDescriptor : VolumeDescriptor
{
    private static readonly string[] s_extensions = { ".tif", ".tiff" };
    private readonly TiffPage[] _pages;
    private readonly int _width;
    private readonly int _height;
    private readonly double[]? _resolution;

    private TiffStackDescriptor(string path, TiffPage[] pages, int width, int height, VoxelType type, bool swapXY, double[]? resolution)
    {
        Path = path;
        _pages = pages;
        _width = width;
        _height = height;
        DataType = type;
        SwapXY = swapXY;
        _resolution = resolution;
    }

    public string Path { get; }

    /// <summary>When set, x runs along TIFF rows (the page height) and y along columns.</summary>
    public bool SwapXY { get; }

    public int PageCount => _pages.Length;

    public IReadOnlyList<string> Files => _pages.Select(p => p.File).Distinct().ToList();

    public override Int3 Size => SwapXY ? new Int3(_height, _width, _pages.Length) : new Int3(_width, _height, _pages.Length);

    public override VoxelType DataType { get; }

    /// <summary>Whole slices.</summary>
    public override Int3 ReadGranularity => new(Size.X, Size.Y, 1);

    public override double[]? Resolution => _resolution is null ? null : (double[])_resolution.Clone();

    public override string SourceKind => "TiffStack";

    public override string Source => Path;

    public override string Name => System.IO.Path.GetFileNameWithoutExtension(Path.TrimEnd(System.IO.Path.DirectorySeparatorChar, System.IO.Path.AltDirectorySeparatorChar));

    public override IVolumeReader OpenReader() => new TiffStackReader(this, _pages, _width, _height);

    /// <summary>{"kind": "tiff", "path", "swapXY", "resolution"}: the stack is opened again (and checked) from the path.</summary>
    public override VolumeSourceSpec Spec
    {
        get
        {
            var settings = new System.Text.Json.Nodes.JsonObject { ["path"] = Path, ["swapXY"] = SwapXY };
            if (_resolution is not null)
            {
                settings["resolution"] = VolumeSourceSpec.Numbers(_resolution);
            }

            return new VolumeSourceSpec(VolumeSourceSpec.TiffKind, settings);
        }
    }

    /// <summary>
    /// Opens a folder of slices or a (multi-page) TIFF file and validates every page: same size,
    /// same sample type, one sample per pixel, 8/16/32/64-bit unsigned integers or 32-bit float.
    /// </summary>
    public static TiffStackDescriptor Open(string path, bool swapXY = false, double[]? resolution = null, CancellationToken cancellationToken = default)
    {
        try
        {
            return OpenStack(path, swapXY, resolution, cancellationToken);
        }
        catch (Exception ex) when (IsLibraryFailure(ex))
        {
            throw Damaged(path, ex);
        }
    }

    /// <summary>
    /// What LibTiff.NET throws on a damaged file (overflow, cast, index, null, out-of-memory on a
    /// huge tag count, ...): anything but our own errors, cancellation and plain I/O failures.
    /// </summary>
    internal static bool IsLibraryFailure(Exception ex) =>
        ex is not (EngineException or OperationCanceledException or FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or ArgumentException { ParamName: "destination" or "region" });

    internal static EngineException Damaged(string file, Exception ex) => new(
        "CorruptTiffFile",
        EngineErrorKind.InvalidData,
        $"'{file}' is a damaged TIFF file: the TIFF library failed with {ex.GetType().Name} ({ExceptionText.Full(ex)}).",
        file,
        ex);

    private static TiffStackDescriptor OpenStack(string path, bool swapXY, double[]? resolution, CancellationToken cancellationToken)
    {
        TiffErrors.Install();
        List<string> files;
        if (Directory.Exists(path))
        {
            files = Directory.EnumerateFiles(path)
                .Where(f => s_extensions.Contains(System.IO.Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
                .Where(f => !System.IO.Path.GetFileName(f).StartsWith(".", StringComparison.Ordinal))
                .OrderBy(f => System.IO.Path.GetFileName(f), NaturalStringComparer.Instance)
                .ToList();
            if (files.Count == 0)
            {
                throw new EngineException("NoTiffSlices", EngineErrorKind.ObjectNotFound, $"The folder '{path}' holds no .tif or .tiff files.", path);
            }
        }
        else if (File.Exists(path))
        {
            files = new List<string> { path };
        }
        else
        {
            throw new EngineException("PathNotFound", EngineErrorKind.ObjectNotFound, $"'{path}' does not exist.", path);
        }

        var pages = new List<TiffPage>();
        PageFormat? first = null;
        string? firstFile = null;
        foreach (string file in files)
        {
            cancellationToken.ThrowIfCancellationRequested();
            TiffStructure.Check(file);
            using LibTiff tif = OpenTiff(file);
            int index = 0;
            do
            {
                PageFormat format = PageFormat.Read(tif, file, index);
                if (first is null)
                {
                    first = format;
                    firstFile = file;
                }
                else if (!format.SameShapeAndType(first.Value))
                {
                    throw new EngineException(
                        "TiffSliceMismatch",
                        EngineErrorKind.InvalidData,
                        $"Slice {pages.Count} ('{System.IO.Path.GetFileName(file)}', page {index}) is {format}; the first slice ('{System.IO.Path.GetFileName(firstFile)}') is {first.Value}. Every slice must have the same size and sample type.",
                        file);
                }

                pages.Add(new TiffPage(file, tif.CurrentDirOffset(), index));
                index++;
            }
            while (tif.ReadDirectory());
        }

        PageFormat f = first!.Value;
        return new TiffStackDescriptor(System.IO.Path.GetFullPath(path), pages.ToArray(), f.Width, f.Height, f.Type, swapXY, resolution);
    }

    internal static LibTiff OpenTiff(string file)
    {
        TiffErrors.TakeLastError();
        LibTiff? tif;
        try
        {
            tif = LibTiff.Open(file, "r");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new EngineException("TiffReadFailed", EngineErrorKind.ReadError, $"Cannot read '{file}': {ex.Message}", file, ex);
        }

        if (tif is null)
        {
            string? why = TiffErrors.TakeLastError();
            throw new EngineException("NotATiffFile", EngineErrorKind.InvalidData, $"'{file}' is not a readable TIFF file{(why is null ? "" : ": " + why)}.", file);
        }

        return tif;
    }
}

/// <summary>The header facts of one TIFF page that decide how its pixels are read.</summary>
internal readonly struct PageFormat
{
    public int Width { get; init; }

    public int Height { get; init; }

    public VoxelType Type { get; init; }

    public bool Tiled { get; init; }

    public static PageFormat Read(LibTiff tif, string file, int page)
    {
        int width = GetInt(tif, TiffTag.IMAGEWIDTH, 0);
        int height = GetInt(tif, TiffTag.IMAGELENGTH, 0);
        int bits = GetInt(tif, TiffTag.BITSPERSAMPLE, 1);
        int samples = GetInt(tif, TiffTag.SAMPLESPERPIXEL, 1);
        var sampleFormat = (SampleFormat)GetInt(tif, TiffTag.SAMPLEFORMAT, (int)SampleFormat.UINT);
        string where = $"'{System.IO.Path.GetFileName(file)}' page {page}";
        if (width <= 0 || height <= 0)
        {
            throw new EngineException("NotATiffFile", EngineErrorKind.InvalidData, $"{where} has no image size.", file);
        }

        if (samples != 1)
        {
            throw new EngineException("UnsupportedTiffFormat", EngineErrorKind.InvalidData, $"{where} has {samples} samples per pixel; only single-channel (grey/label) images are supported.", file);
        }

        VoxelType? type = (sampleFormat, bits) switch
        {
            (SampleFormat.UINT, 8) => VoxelType.UInt8,
            (SampleFormat.UINT, 16) => VoxelType.UInt16,
            (SampleFormat.UINT, 32) => VoxelType.UInt32,
            (SampleFormat.UINT, 64) => VoxelType.UInt64,
            (SampleFormat.IEEEFP, 32) => VoxelType.Float32,
            _ => null,
        };
        if (type is null)
        {
            throw new EngineException(
                "UnsupportedTiffFormat",
                EngineErrorKind.InvalidData,
                $"{where} holds {bits}-bit {sampleFormat} samples; supported are 8, 16, 32 and 64-bit unsigned integers and 32-bit float.",
                file);
        }

        return new PageFormat { Width = width, Height = height, Type = type.Value, Tiled = tif.IsTiled() };
    }

    public bool SameShapeAndType(PageFormat other) => Width == other.Width && Height == other.Height && Type == other.Type;

    public override string ToString() => $"{Width}x{Height} {VoxelTypes.ToInfoName(Type)}";

    private static int GetInt(LibTiff tif, TiffTag tag, int fallback)
    {
        FieldValue[]? value = tif.GetField(tag);
        return value is { Length: > 0 } ? value[0].ToInt() : fallback;
    }
}

/// <summary>Reads regions of a TIFF stack page by page, strip or tile at a time, pages in parallel.</summary>
internal sealed class TiffStackReader : IVolumeReader
{
    private readonly TiffStackDescriptor _descriptor;
    private readonly TiffPage[] _pages;
    private readonly int _width;
    private readonly int _height;
    private readonly int _elementSize;
    private readonly ConcurrentDictionary<string, ConcurrentBag<LibTiff>> _handles = new(StringComparer.Ordinal);
    private int _disposed;

    public TiffStackReader(TiffStackDescriptor descriptor, TiffPage[] pages, int width, int height)
    {
        _descriptor = descriptor;
        _pages = pages;
        _width = width;
        _height = height;
        _elementSize = VoxelTypes.SizeOf(descriptor.DataType);
    }

    public Int3 Size => _descriptor.Size;

    public VoxelType DataType => _descriptor.DataType;

    public Int3 ReadGranularity => new(Size.X, Size.Y, 1);

    public Task ReadAsync(Box3 region, Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (!Box3.FromSize(Size).Contains(region) || region.IsEmpty)
        {
            throw new ArgumentOutOfRangeException(nameof(region), $"Region {region} is not inside the stack's {Size} voxels.");
        }

        long sliceBytes = (long)region.Size.X * region.Size.Y * _elementSize;
        if (destination.Length != sliceBytes * region.Size.Z)
        {
            throw new ArgumentException($"The destination has {destination.Length} bytes; region {region} needs {sliceBytes * region.Size.Z}.", nameof(destination));
        }

        var options = new ParallelOptions { CancellationToken = cancellationToken, MaxDegreeOfParallelism = Environment.ProcessorCount };
        Parallel.For(region.Begin.Z, region.End.Z, options, z =>
        {
            Memory<byte> slice = destination.Slice((int)((z - region.Begin.Z) * sliceBytes), (int)sliceBytes);
            try
            {
                ReadSlice(_pages[z], region, slice.Span);
            }
            catch (Exception ex) when (TiffStackDescriptor.IsLibraryFailure(ex))
            {
                throw TiffStackDescriptor.Damaged(_pages[z].File, ex);
            }
        });
        return Task.CompletedTask;
    }

    private void ReadSlice(TiffPage page, Box3 region, Span<byte> destination)
    {
        // Page rows/columns covered by the region: without SwapXY rows are y and columns x.
        bool swap = _descriptor.SwapXY;
        int rowBegin = swap ? region.Begin.X : region.Begin.Y;
        int rowEnd = swap ? region.End.X : region.End.Y;
        int colBegin = swap ? region.Begin.Y : region.Begin.X;
        int colEnd = swap ? region.End.Y : region.End.X;
        int cols = colEnd - colBegin;
        int rows = rowEnd - rowBegin;

        LibTiff tif = Rent(page.File);
        try
        {
            if (!tif.SetSubDirectory(page.DirectoryOffset))
            {
                throw ReadFailed(page, "cannot seek to the page");
            }

            if (!swap)
            {
                ReadRect(tif, page, rowBegin, rowEnd, colBegin, colEnd, destination);
                return;
            }

            byte[] buffer = EngineBuffers.Bytes.Rent(rows * cols * _elementSize);
            try
            {
                Span<byte> rect = buffer.AsSpan(0, rows * cols * _elementSize);
                ReadRect(tif, page, rowBegin, rowEnd, colBegin, colEnd, rect);
                Transpose(rect, rows, cols, destination);
            }
            finally
            {
                EngineBuffers.Bytes.Return(buffer);
            }
        }
        finally
        {
            Return(page.File, tif);
        }
    }

    // Copies page pixels [rowBegin,rowEnd) x [colBegin,colEnd) into destination, row-major.
    private void ReadRect(LibTiff tif, TiffPage page, int rowBegin, int rowEnd, int colBegin, int colEnd, Span<byte> destination)
    {
        int cols = colEnd - colBegin;
        int rowBytes = cols * _elementSize;
        if (tif.IsTiled())
        {
            int tileWidth = tif.GetField(TiffTag.TILEWIDTH)[0].ToInt();
            int tileHeight = tif.GetField(TiffTag.TILELENGTH)[0].ToInt();
            int tileBytes = tif.TileSize();
            byte[] tile = EngineBuffers.Bytes.Rent(tileBytes);
            try
            {
                for (int ty = rowBegin / tileHeight * tileHeight; ty < rowEnd; ty += tileHeight)
                {
                    for (int tx = colBegin / tileWidth * tileWidth; tx < colEnd; tx += tileWidth)
                    {
                        int number = tif.ComputeTile(tx, ty, 0, 0);
                        if (tif.ReadEncodedTile(number, tile, 0, tileBytes) < 0)
                        {
                            throw ReadFailed(page, $"tile {number} is unreadable");
                        }

                        int r0 = Math.Max(ty, rowBegin), r1 = Math.Min(ty + tileHeight, rowEnd);
                        int c0 = Math.Max(tx, colBegin), c1 = Math.Min(tx + tileWidth, colEnd);
                        for (int r = r0; r < r1; r++)
                        {
                            tile.AsSpan(((r - ty) * tileWidth + (c0 - tx)) * _elementSize, (c1 - c0) * _elementSize)
                                .CopyTo(destination.Slice((r - rowBegin) * rowBytes + (c0 - colBegin) * _elementSize));
                        }
                    }
                }
            }
            finally
            {
                EngineBuffers.Bytes.Return(tile);
            }

            return;
        }

        FieldValue[]? rpsField = tif.GetField(TiffTag.ROWSPERSTRIP);
        int rowsPerStrip = rpsField is { Length: > 0 } ? Math.Min(rpsField[0].ToInt(), _height) : _height;
        if (rowsPerStrip <= 0)
        {
            rowsPerStrip = _height;
        }

        int pageRowBytes = _width * _elementSize;
        int stripBytes = rowsPerStrip * pageRowBytes;
        byte[] strip = EngineBuffers.Bytes.Rent(stripBytes);
        try
        {
            for (int stripRow = rowBegin / rowsPerStrip * rowsPerStrip; stripRow < rowEnd; stripRow += rowsPerStrip)
            {
                int number = tif.ComputeStrip(stripRow, 0);
                int rowsInStrip = Math.Min(rowsPerStrip, _height - stripRow);
                int got = tif.ReadEncodedStrip(number, strip, 0, rowsInStrip * pageRowBytes);
                if (got < rowsInStrip * pageRowBytes)
                {
                    throw ReadFailed(page, $"strip {number} is unreadable or short ({got} of {rowsInStrip * pageRowBytes} bytes)");
                }

                int r0 = Math.Max(stripRow, rowBegin), r1 = Math.Min(stripRow + rowsInStrip, rowEnd);
                for (int r = r0; r < r1; r++)
                {
                    strip.AsSpan((r - stripRow) * pageRowBytes + colBegin * _elementSize, rowBytes)
                        .CopyTo(destination.Slice((r - rowBegin) * rowBytes));
                }
            }
        }
        finally
        {
            EngineBuffers.Bytes.Return(strip);
        }
    }

    // rect is rows x cols (row-major, rows = x, cols = y); destination is y-major with x fastest.
    private void Transpose(ReadOnlySpan<byte> rect, int rows, int cols, Span<byte> destination)
    {
        int e = _elementSize;
        if (e == 1)
        {
            for (int y = 0; y < cols; y++)
            {
                Span<byte> line = destination.Slice(y * rows, rows);
                for (int x = 0; x < rows; x++)
                {
                    line[x] = rect[x * cols + y];
                }
            }

            return;
        }

        for (int y = 0; y < cols; y++)
        {
            for (int x = 0; x < rows; x++)
            {
                rect.Slice((x * cols + y) * e, e).CopyTo(destination.Slice((y * rows + x) * e, e));
            }
        }
    }

    private EngineException ReadFailed(TiffPage page, string what)
    {
        string? why = TiffErrors.TakeLastError();
        return new EngineException(
            "TiffReadFailed",
            EngineErrorKind.ReadError,
            $"Cannot read '{page.File}' page {page.DirectoryIndex}: {what}{(why is null ? "" : " (" + why + ")")}.",
            page.File);
    }

    private LibTiff Rent(string file)
    {
        if (_handles.TryGetValue(file, out ConcurrentBag<LibTiff>? bag) && bag.TryTake(out LibTiff? tif))
        {
            return tif;
        }

        return TiffStackDescriptor.OpenTiff(file);
    }

    private void Return(string file, LibTiff tif)
    {
        // Keep a few handles of the multi-page file; single-slice files are closed right away.
        if (Volatile.Read(ref _disposed) == 0 && _pages.Length > 1 && _pages[0].File == _pages[_pages.Length - 1].File)
        {
            _handles.GetOrAdd(file, _ => new ConcurrentBag<LibTiff>()).Add(tif);
            return;
        }

        tif.Dispose();
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            foreach (ConcurrentBag<LibTiff> bag in _handles.Values)
            {
                while (bag.TryTake(out LibTiff? tif))
                {
                    tif.Dispose();
                }
            }
        }
    }
}

/// <summary>Orders "z2" before "z10": runs of digits compare as numbers.</summary>
public sealed class NaturalStringComparer : IComparer<string>
{
    public static readonly NaturalStringComparer Instance = new();
    private static readonly Regex s_chunks = new(@"\d+|\D+", RegexOptions.Compiled | RegexOptions.CultureInvariant);

    public int Compare(string? x, string? y)
    {
        if (ReferenceEquals(x, y))
        {
            return 0;
        }

        if (x is null || y is null)
        {
            return x is null ? -1 : 1;
        }

        MatchCollection a = s_chunks.Matches(x);
        MatchCollection b = s_chunks.Matches(y);
        for (int i = 0; i < Math.Min(a.Count, b.Count); i++)
        {
            string p = a[i].Value, q = b[i].Value;
            int result;
            if (char.IsDigit(p[0]) && char.IsDigit(q[0]))
            {
                string pt = p.TrimStart('0'), qt = q.TrimStart('0');
                result = pt.Length != qt.Length ? pt.Length.CompareTo(qt.Length) : string.CompareOrdinal(pt, qt);
                if (result == 0)
                {
                    result = p.Length.CompareTo(q.Length);
                }
            }
            else
            {
                result = string.Compare(p, q, StringComparison.OrdinalIgnoreCase);
                if (result == 0)
                {
                    result = string.CompareOrdinal(p, q);
                }
            }

            if (result != 0)
            {
                return result;
            }
        }

        return a.Count.CompareTo(b.Count);
    }
}
