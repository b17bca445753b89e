using System;
using System.IO;
using System.IO.Compression;
using PrecomputedTools.Engine.Precomputed;

namespace PrecomputedTools.Engine.Storage;

/// <summary>How chunk files are arranged inside a scale directory (FORMATS.md §4.1).</summary>
public enum ChunkLayout
{
    /// <summary>&lt;key&gt;/x0-x1_y0-y1_z0-z1: what the viewer requests.</summary>
    Flat,

    /// <summary>&lt;key&gt;/x0-x1/y0-y1/z0-z1: needs a server rewrite.</summary>
    Nested,
}

/// <summary>
/// A precomputed dataset folder on the local file system: where each file lives, reading chunks
/// in either layout with or without .gz, and atomic writes.
/// </summary>
public sealed class DatasetDirectory
{
    public const string InfoFileName = "info";

    public DatasetDirectory(string path, ChunkLayout layout = ChunkLayout.Flat, bool gzip = true)
    {
        RootPath = Path.GetFullPath(path);
        Layout = layout;
        Gzip = gzip;
    }

    public string RootPath { get; }

    /// <summary>Layout used for writing; reading accepts both.</summary>
    public ChunkLayout Layout { get; }

    /// <summary>Whether chunks are written as "&lt;name&gt;.gz" gzip files.</summary>
    public bool Gzip { get; }

    public string InfoPath => Path.Combine(RootPath, InfoFileName);

    public bool HasInfo => File.Exists(InfoPath);

    public PrecomputedInfo ReadInfo()
    {
        if (!File.Exists(InfoPath))
        {
            throw new EngineException("DatasetNotFound", EngineErrorKind.ObjectNotFound, $"No precomputed info file at '{InfoPath}'.", InfoPath);
        }

        return PrecomputedInfo.Parse(File.ReadAllText(InfoPath), null, allowIncompleteScales: false, source: InfoPath);
    }

    public void WriteInfo(PrecomputedInfo info)
    {
        Directory.CreateDirectory(RootPath);
        AtomicFile.WriteText(InfoPath, info.ToJson());
    }

    public string ScalePath(ScaleInfo scale) => Path.Combine(RootPath, scale.Key.Replace('/', Path.DirectorySeparatorChar));

    /// <summary>The path this dataset writes a chunk to (layout and .gz applied).</summary>
    public string ChunkWritePath(ScaleInfo scale, Box3 localBox) =>
        ChunkPath(scale, localBox, Layout) + (Gzip ? ".gz" : "");

    public static string ChunkRelativeName(ScaleInfo scale, Box3 localBox, ChunkLayout layout)
    {
        Box3 g = localBox.Translate(scale.VoxelOffset);
        return layout == ChunkLayout.Flat
            ? g.ToString()
            : $"{g.Begin.X}-{g.End.X}/{g.Begin.Y}-{g.End.Y}/{g.Begin.Z}-{g.End.Z}";
    }

    public string ChunkPath(ScaleInfo scale, Box3 localBox, ChunkLayout layout) =>
        Path.Combine(ScalePath(scale), ChunkRelativeName(scale, localBox, layout).Replace('/', Path.DirectorySeparatorChar));

    /// <summary>Finds the stored file of a chunk in any layout, .gz or plain; null when absent.</summary>
    public string? FindChunkFile(ScaleInfo scale, Box3 localBox)
    {
        foreach (ChunkLayout layout in new[] { Layout, Layout == ChunkLayout.Flat ? ChunkLayout.Nested : ChunkLayout.Flat })
        {
            string plain = ChunkPath(scale, localBox, layout);
            if (File.Exists(plain + ".gz"))
            {
                return plain + ".gz";
            }

            if (File.Exists(plain))
            {
                return plain;
            }
        }

        return null;
    }

    /// <summary>Reads a chunk's encoded bytes (inflating .gz); null when the chunk is absent.</summary>
    public byte[]? ReadChunk(ScaleInfo scale, Box3 localBox)
    {
        string? file = FindChunkFile(scale, localBox);
        return file is null ? null : ReadMaybeGzip(file);
    }

    /// <summary>Writes a chunk atomically, replacing any copy in the other form (.gz vs plain).</summary>
    public void WriteChunk(ScaleInfo scale, Box3 localBox, ReadOnlySpan<byte> encoded)
    {
        string plain = ChunkPath(scale, localBox, Layout);
        string target = Gzip ? plain + ".gz" : plain;
        string? directory = Path.GetDirectoryName(target);
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        AtomicFile.Write(target, encoded, Gzip);

        // Keep exactly one of <name> and <name>.gz (FORMATS.md §4.2).
        string other = Gzip ? plain : plain + ".gz";
        if (File.Exists(other))
        {
            AtomicFile.TryDelete(other);
        }
    }

    /// <summary>Opens a streamed, atomic write of a chunk (for chunks produced layer by layer).</summary>
    public AtomicWriter CreateChunk(ScaleInfo scale, Box3 localBox)
    {
        string plain = ChunkPath(scale, localBox, Layout);
        string target = Gzip ? plain + ".gz" : plain;
        string? directory = Path.GetDirectoryName(target);
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        return AtomicFile.Create(target, Gzip);
    }

    /// <summary>Removes the other form (.gz vs plain) of a chunk just written, keeping exactly one.</summary>
    public void RemoveOtherForm(ScaleInfo scale, Box3 localBox)
    {
        string plain = ChunkPath(scale, localBox, Layout);
        string other = Gzip ? plain : plain + ".gz";
        if (File.Exists(other))
        {
            AtomicFile.TryDelete(other);
        }
    }

    /// <summary>
    /// Like <see cref="ReadChunk"/>, into a buffer rented from the engine's pool (return it with
    /// <see cref="PooledBytes.Dispose"/>), so streaming many chunks leaves no large garbage behind.
    /// </summary>
    public PooledBytes? ReadChunkPooled(ScaleInfo scale, Box3 localBox)
    {
        string? file = FindChunkFile(scale, localBox);
        return file is null ? null : ReadMaybeGzipPooled(file);
    }

    public static PooledBytes ReadMaybeGzipPooled(string file)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        int first = stream.ReadByte(), second = stream.ReadByte();
        stream.Position = 0;
        bool gzip = file.EndsWith(".gz", StringComparison.Ordinal) && first == 0x1f && second == 0x8b;
        using Stream source = gzip ? new GZipStream(stream, CompressionMode.Decompress) : stream;
        byte[] buffer = EngineBuffers.Bytes.Rent((int)Math.Max(1 << 16, Math.Min(stream.Length * (gzip ? 8 : 1), 1 << 28)));
        int length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    byte[] larger = EngineBuffers.Bytes.Rent(buffer.Length * 2);
                    Buffer.BlockCopy(buffer, 0, larger, 0, length);
                    EngineBuffers.Bytes.Return(buffer);
                    buffer = larger;
                }

                int read = source.Read(buffer, length, buffer.Length - length);
                if (read == 0)
                {
                    break;
                }

                length += read;
            }

            return new PooledBytes(buffer, length);
        }
        catch
        {
            EngineBuffers.Bytes.Return(buffer);
            throw;
        }
    }

    /// <summary>The bytes of a chunk file, inflated when it is a ".gz" gzip file.</summary>
    public static byte[] ReadMaybeGzip(string file)
    {
        using PooledBytes bytes = ReadMaybeGzipPooled(file);
        return bytes.Span.ToArray();
    }
}

/// <summary>A buffer from the engine's pool and the length of its content.</summary>
public sealed class PooledBytes : IDisposable
{
    private byte[]? _array;

    internal PooledBytes(byte[] array, int length)
    {
        _array = array;
        Length = length;
    }

    public int Length { get; }

    public ReadOnlySpan<byte> Span => _array is null ? throw new ObjectDisposedException(nameof(PooledBytes)) : _array.AsSpan(0, Length);

    public void Dispose()
    {
        byte[]? array = System.Threading.Interlocked.Exchange(ref _array, null);
        if (array is not null)
        {
            EngineBuffers.Bytes.Return(array);
        }
    }
}
