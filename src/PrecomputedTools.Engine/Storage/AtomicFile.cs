using System;
using System.IO;
using System.IO.Compression;
using System.Threading;

namespace PrecomputedTools.Engine.Storage;

/// <summary>
/// Writes files so that a reader (or a resumed run) never sees half of one: the bytes go to a
/// temporary file in the same directory, flushed to the disk (so a power loss cannot leave an
/// empty or short file under the final name), and then renamed over the target.
/// </summary>
public static class AtomicFile
{
    /// <summary>Suffix of in-flight temporary files; readers, validators and publishers skip them.</summary>
    public const string TempSuffix = ".pt-tmp";

    private static long s_counter;

    private static readonly string s_processToken = System.Diagnostics.Process.GetCurrentProcess().Id.ToString(System.Globalization.CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N").Substring(0, 8);

    public static bool IsTempFile(string path) => path.EndsWith(TempSuffix, StringComparison.Ordinal);

    public static void Write(string path, ReadOnlySpan<byte> data, bool gzip = false, bool durable = true)
    {
        string temp = TempPathFor(path);
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                if (gzip)
                {
                    using var zip = new GZipStream(stream, CompressionLevel.Optimal, leaveOpen: true);
                    WriteSpan(zip, data);
                }
                else
                {
                    WriteSpan(stream, data);
                }

                if (durable)
                {
                    stream.Flush(flushToDisk: true);
                }
            }

            Replace(temp, path);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>
    /// Opens a temporary file for a streamed write; <see cref="AtomicWriter.Commit"/> renames it over
    /// <paramref name="path"/>, disposing without committing deletes it.
    /// </summary>
    public static AtomicWriter Create(string path, bool gzip = false, bool durable = true) => new(path, TempPathFor(path), gzip, durable);

    internal static void CommitTemp(string temp, string path) => Replace(temp, path);

    public static void WriteText(string path, string text) => Write(path, System.Text.Encoding.UTF8.GetBytes(text));

    /// <summary>Deletes temporary files left by an interrupted run under <paramref name="directory"/>.</summary>
    public static int CleanTemporaryFiles(string directory)
    {
        if (!Directory.Exists(directory))
        {
            return 0;
        }

        int removed = 0;
        foreach (string file in Directory.EnumerateFiles(directory, "*" + TempSuffix, SearchOption.AllDirectories))
        {
            if (TryDelete(file))
            {
                removed++;
            }
        }

        return removed;
    }

    /// <summary>A unique temporary name beside <paramref name="path"/> (for writers that need a path, such as LibTiff).</summary>
    internal static string TempPathFor(string path)
    {
        string directory = Path.GetDirectoryName(path) ?? ".";
        long n = Interlocked.Increment(ref s_counter);

        // Unique across processes too: cluster workers write the same shared folder (several may
        // write the same small object, such as the mesh journal's parameters, at once).
        return Path.Combine(directory, "." + Path.GetFileName(path) + "." + s_processToken + "-" + Environment.CurrentManagedThreadId + "-" + n + TempSuffix);
    }

    private static void Replace(string temp, string path)
    {
#if NET
        File.Move(temp, path, overwrite: true);
#else
        if (File.Exists(path))
        {
            File.Delete(path);
        }

        File.Move(temp, path);
#endif
    }

    private static void WriteSpan(Stream stream, ReadOnlySpan<byte> data)
    {
#if NET
        stream.Write(data);
#else
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Min(data.Length, 1 << 20));
        try
        {
            for (int offset = 0; offset < data.Length; offset += buffer.Length)
            {
                int count = Math.Min(buffer.Length, data.Length - offset);
                data.Slice(offset, count).CopyTo(buffer);
                stream.Write(buffer, 0, count);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
#endif
    }

    internal static void WriteTo(Stream stream, ReadOnlySpan<byte> data) => WriteSpan(stream, data);

    internal static bool TryDelete(string path)
    {
        try
        {
            File.Delete(path);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}

/// <summary>A file being written under a temporary name; see <see cref="AtomicFile.Create"/>.</summary>
public sealed class AtomicWriter : IDisposable
{
    private readonly string _path;
    private readonly string _temp;
    private readonly FileStream _file;
    private readonly Stream _stream;
    private readonly bool _durable;
    private bool _committed;

    internal AtomicWriter(string path, string temp, bool gzip, bool durable)
    {
        _path = path;
        _temp = temp;
        _durable = durable;
        _file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
        _stream = gzip ? new GZipStream(_file, CompressionLevel.Optimal, leaveOpen: true) : _file;
    }

    public void Write(ReadOnlySpan<byte> data) => AtomicFile.WriteTo(_stream, data);

    /// <summary>Closes the file and renames it over the target.</summary>
    public void Commit()
    {
        if (!ReferenceEquals(_stream, _file))
        {
            _stream.Dispose();
        }

        if (_durable)
        {
            _file.Flush(flushToDisk: true);
        }

        _file.Dispose();
        AtomicFile.CommitTemp(_temp, _path);
        _committed = true;
    }

    public void Dispose()
    {
        if (!_committed)
        {
            _stream.Dispose();
            _file.Dispose();
            AtomicFile.TryDelete(_temp);
        }
    }
}
