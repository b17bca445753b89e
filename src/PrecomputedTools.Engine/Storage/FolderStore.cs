using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;

namespace PrecomputedTools.Engine.Storage;

/// <summary>
/// A dataset in a local folder. Gzip-encoded objects are "&lt;key&gt;.gz" files (what nginx's
/// gzip_static and the module's server serve with <c>Content-Encoding: gzip</c>); exactly one of
/// "&lt;key&gt;" and "&lt;key&gt;.gz" exists after a write. Every write goes to a temporary file in the
/// same directory, is flushed to the disk, and is renamed over the target, so a reader, a resumed
/// run or a power loss never sees half a file; <see cref="Flush"/> then makes the renames durable.
/// </summary>
public sealed class FolderStore : IObjectStore
{
    private readonly ConcurrentDictionary<string, byte> _renamedIn = new(StringComparer.Ordinal);

    /// <param name="root">The dataset folder (created on the first write).</param>
    /// <param name="durable">Flush file data before each rename and directories on <see cref="Flush"/> (default); false trades crash safety for speed.</param>
    public FolderStore(string root, bool durable = true)
    {
        Root = System.IO.Path.GetFullPath(root).TrimEnd(System.IO.Path.DirectorySeparatorChar, System.IO.Path.AltDirectorySeparatorChar);
        if (Root.Length == 0)
        {
            Root = System.IO.Path.DirectorySeparatorChar.ToString();
        }

        Durable = durable;
    }

    /// <summary>Full path of the folder.</summary>
    public string Root { get; }

    public bool Durable { get; }

    public string Location => Root;

    public StoreKind Kind => StoreKind.Folder;

    public bool CanWrite => true;

    public bool CanList => true;

    /// <summary>The file path of a key (without ".gz").</summary>
    public string PathOf(string key)
    {
        if (key.Length == 0)
        {
            return Root;
        }

        foreach (string part in key.Split('/'))
        {
            if (part.Length == 0 || part == "." || part == "..")
            {
                throw new EngineException("InvalidObjectKey", EngineErrorKind.InvalidArgument, $"'{key}' is not a valid object key (empty, '.' or '..' segment).", key);
            }
        }

        return System.IO.Path.Combine(Root, key.Replace('/', System.IO.Path.DirectorySeparatorChar));
    }

    public PooledBytes? Read(string key, int maxLength, CancellationToken cancellationToken = default)
    {
        string plain = PathOf(key);
        foreach (string file in new[] { plain + ".gz", plain })
        {
            FileStream stream;
            try
            {
                stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16);
            }
            catch (FileNotFoundException)
            {
                continue;
            }
            catch (DirectoryNotFoundException)
            {
                continue;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw FileErrors.MapRead(ex, file);
            }

            using (stream)
            {
                try
                {
                    bool gzip = false;
                    if (file.Length != plain.Length)
                    {
                        byte[] head = new byte[4];
                        int n = stream.Read(head, 0, 4);
                        gzip = ObjectNames.IsGzip(head.AsSpan(0, n));
                        stream.Position = 0;
                    }

                    return ObjectContent.ReadAll(stream, gzip, maxLength, stream.Length, key);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    throw FileErrors.MapRead(ex, file);
                }
            }
        }

        return null;
    }

    public byte[]? ReadRange(string key, long offset, int length, CancellationToken cancellationToken = default)
    {
        string file = PathOf(key);
        if (!File.Exists(file))
        {
            return null;
        }

        try
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 12);
            if (offset >= stream.Length)
            {
                return Array.Empty<byte>();
            }

            stream.Position = offset;
            byte[] buffer = new byte[(int)Math.Min(length, stream.Length - offset)];
            int read = 0;
            while (read < buffer.Length)
            {
                int n = stream.Read(buffer, read, buffer.Length - read);
                if (n == 0)
                {
                    Array.Resize(ref buffer, read);
                    break;
                }

                read += n;
            }

            return buffer;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw FileErrors.MapRead(ex, file);
        }
    }

    public StoredObject? Stat(string key, CancellationToken cancellationToken = default)
    {
        string plain = PathOf(key);
        var gz = new FileInfo(plain + ".gz");
        if (gz.Exists)
        {
            return new StoredObject(key, gz.Length, true);
        }

        var file = new FileInfo(plain);
        return file.Exists ? new StoredObject(key, file.Length, false) : null;
    }

    public void Write(string key, ReadOnlySpan<byte> content, bool gzip, CancellationToken cancellationToken = default)
    {
        string plain = PathOf(key);
        string target = gzip ? plain + ".gz" : plain;
        try
        {
            EnsureDirectoryFor(target);
            AtomicFile.Write(target, content, gzip, Durable);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw FileErrors.MapWrite(ex, target, Root);
        }

        Committed(plain, gzip);
    }

    public IObjectWriter OpenWrite(string key, bool gzip)
    {
        string plain = PathOf(key);
        string target = gzip ? plain + ".gz" : plain;
        try
        {
            EnsureDirectoryFor(target);
            return new FolderWriter(this, plain, gzip, AtomicFile.Create(target, gzip, Durable));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw FileErrors.MapWrite(ex, target, Root);
        }
    }

    public bool Delete(string key, CancellationToken cancellationToken = default)
    {
        string plain = PathOf(key);
        bool removed = false;
        foreach (string file in new[] { plain, plain + ".gz" })
        {
            if (File.Exists(file))
            {
                try
                {
                    File.Delete(file);
                    removed = true;
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    throw FileErrors.MapWrite(ex, file, Root);
                }
            }
        }

        if (removed)
        {
            PruneEmptyFolders(Path.GetDirectoryName(plain));
        }

        return removed;
    }

    // Object stores have no folders: one emptied by deletes goes too (up to the root), so a replaced
    // dataset leaves no empty mesh/ or old scale folder that looks like part of it.
    private void PruneEmptyFolders(string? folder)
    {
        string root = Path.GetFullPath(Root).TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
        while (folder is not null && folder.Length > root.Length && folder.StartsWith(root, StringComparison.Ordinal))
        {
            try
            {
                if (Directory.EnumerateFileSystemEntries(folder).Any())
                {
                    return;
                }

                Directory.Delete(folder);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return; // a writer got there first, or it is not ours to remove
            }

            folder = Path.GetDirectoryName(folder);
        }
    }

    public IEnumerable<StoredObject> List(string prefix, CancellationToken cancellationToken = default)
    {
        int slash = prefix.LastIndexOf('/');
        string folder = slash < 0 ? Root : PathOf(prefix.Substring(0, slash));
        if (!Directory.Exists(folder))
        {
            yield break;
        }

        foreach (string file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (AtomicFile.IsTempFile(file))
            {
                continue;
            }

            string key = file.Substring(Root.Length).TrimStart(System.IO.Path.DirectorySeparatorChar).Replace(System.IO.Path.DirectorySeparatorChar, '/');
            bool gzip = key.EndsWith(".gz", StringComparison.Ordinal);
            if (gzip)
            {
                key = key.Substring(0, key.Length - 3);
            }

            if (key.StartsWith(prefix, StringComparison.Ordinal))
            {
                long length;
                try
                {
                    length = new FileInfo(file).Length;
                }
                catch (IOException)
                {
                    continue; // removed while listing
                }

                yield return new StoredObject(key, length, gzip);
            }
        }
    }

    public int RemoveIncompleteWrites() => AtomicFile.CleanTemporaryFiles(Root);

    public void Flush()
    {
        if (!Durable)
        {
            _renamedIn.Clear();
            return;
        }

        foreach (string directory in _renamedIn.Keys)
        {
            _renamedIn.TryRemove(directory, out _);
            DirectorySync.Flush(directory);
        }
    }

    public void Dispose()
    {
    }

    public override string ToString() => Root;

    private void EnsureDirectoryFor(string file)
    {
        string? directory = System.IO.Path.GetDirectoryName(file);
        if (directory is not null && !Directory.Exists(directory))
        {
            Directory.CreateDirectory(directory);

            // A new directory is itself an entry of its parent: flush that too.
            string? parent = System.IO.Path.GetDirectoryName(directory);
            if (parent is not null)
            {
                _renamedIn.TryAdd(parent, 0);
            }
        }
    }

    // Keep exactly one of <name> and <name>.gz (the publishers would otherwise see both).
    private void Committed(string plain, bool gzip)
    {
        string other = gzip ? plain : plain + ".gz";
        if (File.Exists(other))
        {
            AtomicFile.TryDelete(other);
        }

        string? directory = System.IO.Path.GetDirectoryName(plain);
        if (directory is not null)
        {
            _renamedIn.TryAdd(directory, 0);
        }
    }

    private sealed class FolderWriter : IObjectWriter
    {
        private readonly FolderStore _store;
        private readonly string _plain;
        private readonly bool _gzip;
        private readonly AtomicWriter _writer;

        public FolderWriter(FolderStore store, string plain, bool gzip, AtomicWriter writer)
        {
            _store = store;
            _plain = plain;
            _gzip = gzip;
            _writer = writer;
        }

        public void Write(ReadOnlySpan<byte> data)
        {
            try
            {
                _writer.Write(data);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw FileErrors.MapWrite(ex, _plain, _store.Root);
            }
        }

        public void Commit()
        {
            try
            {
                _writer.Commit();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw FileErrors.MapWrite(ex, _plain, _store.Root);
            }

            _store.Committed(_plain, _gzip);
        }

        public void Dispose() => _writer.Dispose();
    }
}

/// <summary>Flushes a directory's entries (new names from renames) to the disk where the platform needs it.</summary>
internal static class DirectorySync
{
    private const int OpenReadOnly = 0;

    public static void Flush(string directory)
    {
        // NTFS journals metadata and .NET cannot open a directory handle portably there; POSIX
        // systems need an fsync of the directory for a rename to survive a power loss.
        if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
        {
            return;
        }

        int fd = open(directory, OpenReadOnly);
        if (fd < 0)
        {
            return; // the directory went away (removed by -Force); nothing left to make durable
        }

        try
        {
            fsync(fd);
        }
        finally
        {
            close(fd);
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int open([MarshalAs(UnmanagedType.LPStr)] string path, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int fsync(int fd);

    [DllImport("libc", SetLastError = true)]
    private static extern int close(int fd);
}

/// <summary>File-system failures as errors with stable ids and the right kind.</summary>
public static class FileErrors
{
    // errno values (Linux and macOS agree on these) and Windows HRESULTs .NET reports them with.
    private const int ENOTDIR = 20, ENOSPC = 28, EROFS = 30, EACCES = 13, EPERM = 1, EDQUOT = 122, EDQUOT_MAC = 69;
    private const int WinDiskFull = unchecked((int)0x80070070), WinHandleDiskFull = unchecked((int)0x80070027), WinWriteProtect = unchecked((int)0x80070013);

    /// <summary>Maps a failed write under <paramref name="root"/> (the output location) to an EngineException.</summary>
    public static EngineException MapWrite(Exception ex, string path, string root)
    {
        if (ex is EngineException engine)
        {
            return engine;
        }

        if (FindFileAncestor(path) is { } file)
        {
            return new EngineException(
                "OutputIsAFile",
                EngineErrorKind.InvalidArgument,
                $"Cannot write '{path}': '{file}' is a file, not a folder.",
                root,
                ex,
                "Give a folder path for the output, or remove the file.");
        }

        int code = ex.HResult;
        if (ex is UnauthorizedAccessException || code is EACCES or EPERM or EROFS || code == WinWriteProtect)
        {
            string why = code == EROFS || code == WinWriteProtect ? "the file system is read-only" : "permission denied";
            return new EngineException("OutputNotWritable", EngineErrorKind.PermissionDenied, $"Cannot write '{path}': {why}.", root, ex, "Choose an output folder you can write to.");
        }

        // The folders above were created first: a name still not found is one the file system does
        // not take (mkdir under /proc answers ENOENT), not a missing parent.
        if (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return new EngineException("OutputNotWritable", EngineErrorKind.PermissionDenied, $"Cannot write '{path}': the file system does not take new files there ({ex.Message}).", root, ex, "Choose an output folder you can write to.");
        }

        if (code is ENOSPC or EDQUOT or EDQUOT_MAC || code == WinDiskFull || code == WinHandleDiskFull)
        {
            return new EngineException("OutputDiskFull", EngineErrorKind.WriteError, $"Cannot write '{path}': no space left on the device (or the quota is used up). Nothing incomplete was left under the file's name; free space and rerun with -Resume.", root, ex);
        }

        return new EngineException("OutputWriteFailed", EngineErrorKind.WriteError, $"Cannot write '{path}': {ex.Message}", root, ex);
    }

    /// <summary>Maps a failed read of an existing file.</summary>
    public static EngineException MapRead(Exception ex, string path)
    {
        if (ex is EngineException engine)
        {
            return engine;
        }

        if (ex is UnauthorizedAccessException || ex.HResult is EACCES or EPERM)
        {
            return new EngineException("InputNotReadable", EngineErrorKind.PermissionDenied, $"Cannot read '{path}': permission denied.", path, ex);
        }

        return new EngineException("InputReadFailed", EngineErrorKind.ReadError, $"Cannot read '{path}': {ex.Message}", path, ex);
    }

    /// <summary>Checks that <paramref name="root"/> can be a folder: an existing file there or above is OutputIsAFile.</summary>
    public static void RequireFolderPath(string root)
    {
        if (File.Exists(root) || FindFileAncestor(root) is not null)
        {
            string file = File.Exists(root) ? root : FindFileAncestor(root)!;
            throw new EngineException("OutputIsAFile", EngineErrorKind.InvalidArgument, $"The output '{root}' cannot be a dataset folder: '{file}' is a file.", root, null, "Give a folder path for the output, or remove the file.");
        }
    }

    private static string? FindFileAncestor(string path)
    {
        for (string? p = System.IO.Path.GetDirectoryName(path); !string.IsNullOrEmpty(p); p = System.IO.Path.GetDirectoryName(p))
        {
            if (File.Exists(p))
            {
                return p;
            }

            if (Directory.Exists(p))
            {
                return null;
            }
        }

        return null;
    }
}
