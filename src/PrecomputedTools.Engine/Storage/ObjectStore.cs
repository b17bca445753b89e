using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Text.RegularExpressions;
using System.Threading;

namespace PrecomputedTools.Engine.Storage;

/// <summary>How an object is stored: its key, stored length, and whether its bytes are gzip-encoded.</summary>
public readonly struct StoredObject
{
    public StoredObject(string key, long length, bool? gzip)
    {
        Key = key;
        Length = length;
        Gzip = gzip;
    }

    /// <summary>Key relative to the store's root, '/' separated, without any ".gz" the backend adds.</summary>
    public string Key { get; }

    /// <summary>Length of the stored bytes (compressed when <see cref="Gzip"/>).</summary>
    public long Length { get; }

    /// <summary>True when stored gzip-encoded; null when a listing does not say.</summary>
    public bool? Gzip { get; }

    public override string ToString() => Key;
}

/// <summary>
/// The objects of one dataset location: a local folder, an S3 prefix, an http(s) URL. Keys are
/// relative to the location ('/' separated, as the precomputed spec names files). The store is the
/// only code that touches files or objects of a dataset; gzip is a property of how an object is
/// stored (a ".gz" file in a folder, <c>Content-Encoding: gzip</c> on S3 and HTTP), never part of
/// its key, and reads always return the content itself.
/// </summary>
public interface IObjectStore : IDisposable
{
    /// <summary>The location as the user gives it ("/data/zbrain", "s3://bucket/zbrain", "https://host/zbrain"); never holds a secret.</summary>
    string Location { get; }

    /// <summary>What kind of backend this is.</summary>
    StoreKind Kind { get; }

    /// <summary>False for stores that can only be read (http).</summary>
    bool CanWrite { get; }

    /// <summary>False when the store cannot enumerate its keys (http).</summary>
    bool CanList { get; }

    /// <summary>The content of an object (inflated when stored gzip-encoded), or null when absent.</summary>
    /// <param name="key">The object key.</param>
    /// <param name="maxLength">Largest content length the caller accepts: inflating stops there (gzip bombs).</param>
    /// <param name="cancellationToken">Stops the read.</param>
    PooledBytes? Read(string key, int maxLength, CancellationToken cancellationToken = default);

    /// <summary>
    /// Bytes [offset, offset + length) of an object as stored (no content decoding; ranged objects
    /// such as shard files are never gzip-encoded), or null when the object is absent. Fewer bytes
    /// come back when the object ends first.
    /// </summary>
    byte[]? ReadRange(string key, long offset, int length, CancellationToken cancellationToken = default);

    /// <summary>How an object is stored, or null when absent.</summary>
    StoredObject? Stat(string key, CancellationToken cancellationToken = default);

    /// <summary>Stores an object whole (atomically: readers see the old object or the new one).</summary>
    void Write(string key, ReadOnlySpan<byte> content, bool gzip, CancellationToken cancellationToken = default);

    /// <summary>Starts a streamed write of an object; nothing is visible under the key before <see cref="IObjectWriter.Commit"/>.</summary>
    IObjectWriter OpenWrite(string key, bool gzip);

    /// <summary>Removes an object (in whichever form it is stored); false when it was absent.</summary>
    bool Delete(string key, CancellationToken cancellationToken = default);

    /// <summary>Every object whose key starts with <paramref name="prefix"/> (recursively), in no particular order.</summary>
    IEnumerable<StoredObject> List(string prefix, CancellationToken cancellationToken = default);

    /// <summary>Removes what interrupted writes left behind (temporary files); returns how many.</summary>
    int RemoveIncompleteWrites();

    /// <summary>
    /// Makes every write so far durable (for a folder: the directories holding renamed files are
    /// flushed). Writers call it before writing the object that declares the others complete (the info).
    /// </summary>
    void Flush();
}

/// <summary>A streamed write of one object; disposing without <see cref="Commit"/> discards it.</summary>
public interface IObjectWriter : IDisposable
{
    void Write(ReadOnlySpan<byte> data);

    void Commit();
}

/// <summary>The kind of a store backend.</summary>
public enum StoreKind
{
    Folder,
    S3,
    Http,
}

/// <summary>Names and metadata shared by every backend (README, 'Publish-PrecomputedS3' and 'Where datasets live').</summary>
public static class ObjectNames
{
    public const string InfoName = "info";
    public const string JsonType = "application/json";
    public const string BinaryType = "application/octet-stream";

    private static readonly Regex s_manifestName = new("^[0-9]+:0$", RegexOptions.CultureInvariant);

    /// <summary>True for the names the viewer parses as JSON: "info", legacy manifests "&lt;id&gt;:0", "*.json".</summary>
    public static bool IsJsonKey(string key)
    {
        string name = key.Substring(key.LastIndexOf('/') + 1);
        return name == InfoName || s_manifestName.IsMatch(name) || name.EndsWith(".json", StringComparison.Ordinal);
    }

    public static string ContentType(string key) => IsJsonKey(key) ? JsonType : BinaryType;

    /// <summary>Short-lived caching for JSON (it may be rewritten), longer for data objects.</summary>
    public static string CacheControl(string key) => IsJsonKey(key) ? "public, max-age=300" : "public, max-age=3600";

    /// <summary>True when the bytes start a gzip member (RFC 1952: 1f 8b, deflate, reserved flag bits clear).</summary>
    public static bool IsGzip(ReadOnlySpan<byte> head) =>
        head.Length >= 4 && head[0] == 0x1f && head[1] == 0x8b && head[2] == 8 && (head[3] & 0xE0) == 0;

    /// <summary>Joins a prefix and a key with one '/'.</summary>
    public static string Join(string prefix, string key) =>
        prefix.Length == 0 ? key : key.Length == 0 ? prefix : prefix.TrimEnd('/') + "/" + key.TrimStart('/');
}

/// <summary>Reads whole objects into pooled buffers, inflating gzip with a hard bound.</summary>
public static class ObjectContent
{
    /// <summary>
    /// Reads <paramref name="source"/> to its end into a pooled buffer, through gzip when
    /// <paramref name="gzip"/>. More than <paramref name="maxLength"/> bytes of content is a
    /// gzip bomb or a damaged object: the read stops there with <c>ObjectTooLarge</c>.
    /// </summary>
    public static PooledBytes ReadAll(Stream source, bool gzip, int maxLength, long lengthHint, string key)
    {
        using Stream content = gzip ? new GZipStream(source, CompressionMode.Decompress, leaveOpen: true) : source;
        long hint = lengthHint > 0 ? lengthHint * (gzip ? 4 : 1) : 1 << 16;
        int initial = (int)Math.Max(1 << 12, Math.Min(Math.Min(hint, maxLength + 1L), 1 << 26));
        byte[] buffer = EngineBuffers.Bytes.Rent(initial);
        int length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length > maxLength)
                    {
                        throw TooLarge(key, maxLength);
                    }

                    byte[] larger = EngineBuffers.Bytes.Rent((int)Math.Min(Math.Max(buffer.Length * 2L, 1 << 12), maxLength + 1L));
                    Buffer.BlockCopy(buffer, 0, larger, 0, length);
                    EngineBuffers.Bytes.Return(buffer);
                    buffer = larger;
                }

                int read = content.Read(buffer, length, buffer.Length - length);
                if (read == 0)
                {
                    break;
                }

                length += read;
                if (length > maxLength)
                {
                    throw TooLarge(key, maxLength);
                }
            }

            return new PooledBytes(buffer, length);
        }
        catch (Exception ex) when (IsCorruptCompressedData(ex))
        {
            EngineBuffers.Bytes.Return(buffer);
            throw new EngineException("InvalidGzipObject", EngineErrorKind.InvalidData, $"'{key}' is stored gzip-encoded but is not a valid gzip stream: {ex.Message}", key, ex);
        }
        catch
        {
            EngineBuffers.Bytes.Return(buffer);
            throw;
        }
    }

    /// <summary>
    /// Whether an exception from an inflating stream means its bytes are corrupt: InvalidDataException,
    /// or the runtime's internal ZLibException (an IOException of System.IO.Compression) for damage the
    /// native zlib reports itself, such as a bad window size in the header.
    /// </summary>
    public static bool IsCorruptCompressedData(Exception ex) =>
        ex is InvalidDataException || (ex is IOException && ex.GetType().Namespace == "System.IO.Compression");

    private static EngineException TooLarge(string key, int maxLength) => new(
        "ObjectTooLarge",
        EngineErrorKind.InvalidData,
        $"'{key}' holds more than {maxLength:N0} bytes of content, more than it can legally have; it is damaged or a gzip bomb, and was not read further.",
        key);
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

    public byte[] ToArray() => Span.ToArray();

    public void Dispose()
    {
        byte[]? array = Interlocked.Exchange(ref _array, null);
        if (array is not null)
        {
            EngineBuffers.Bytes.Return(array);
        }
    }
}
