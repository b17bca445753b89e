using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Text;

namespace PrecomputedTools.TestServers;

/// <summary>
/// A small precomputed dataset written by hand (no encoder): an info, gzip chunk files with arbitrary
/// bytes, a plain chunk, mesh/info, manifests (colon or colon-free names), plain fragments,
/// segment_properties/info, and a temp file that publishing must ignore.
/// </summary>
public sealed class HandMadeDataset
{
    public const string ScaleKey = "8_8_8";

    private HandMadeDataset(string path) => Path = path;

    public string Path { get; }

    /// <summary>Published key (relative, no .gz) -> local file.</summary>
    public Dictionary<string, string> Files { get; } = new(StringComparer.Ordinal);

    /// <summary>Keys whose files hold gzip bytes (published with Content-Encoding: gzip).</summary>
    public HashSet<string> GzipKeys { get; } = new(StringComparer.Ordinal);

    /// <summary>Keys published as application/json.</summary>
    public HashSet<string> JsonKeys { get; } = new(StringComparer.Ordinal);

    public string FirstGzipChunk => ScaleKey + "/0-32_0-32_0-32";

    public string PlainChunk => ScaleKey + "/32-64_32-64_32-64";

    public string Fragment => "mesh/1_frag";

    /// <summary>Writes the dataset into <paramref name="parent"/>/<paramref name="name"/>.</summary>
    /// <param name="colonFree">Write manifests as "&lt;id&gt;.json" (Windows style) instead of "&lt;id&gt;:0".</param>
    public static HandMadeDataset Write(string parent, string name = "seg", bool colonFree = false, int extraChunks = 0, int seed = 1)
    {
        var ds = new HandMadeDataset(System.IO.Path.Combine(parent, name));
        Directory.CreateDirectory(System.IO.Path.Combine(ds.Path, ScaleKey));
        Directory.CreateDirectory(System.IO.Path.Combine(ds.Path, "mesh"));
        Directory.CreateDirectory(System.IO.Path.Combine(ds.Path, "segment_properties"));
        ds.WriteJson("info", "{\"@type\":\"neuroglancer_multiscale_volume\",\"type\":\"segmentation\",\"data_type\":\"uint64\",\"num_channels\":1,"
            + "\"mesh\":\"mesh\",\"segment_properties\":\"segment_properties\",\"scales\":[{\"key\":\"" + ScaleKey + "\",\"size\":[64,64,64],"
            + "\"voxel_offset\":[0,0,0],\"resolution\":[8,8,8],\"chunk_sizes\":[[32,32,32]],\"encoding\":\"compressed_segmentation\","
            + "\"compressed_segmentation_block_size\":[8,8,8]}]}");
        ds.WriteJson("mesh/info", "{\"@type\":\"neuroglancer_legacy_mesh\"}");
        ds.WriteJson("segment_properties/info", "{\"@type\":\"neuroglancer_segment_properties\",\"inline\":{\"ids\":[\"1\",\"18446744073709551615\"],\"properties\":[{\"id\":\"label\",\"type\":\"label\",\"values\":[\"one\",\"max\"]}]}}");
        var random = new Random(seed);
        string[] names = { "0-32_0-32_0-32", "32-64_0-32_0-32", "0-32_32-64_0-32", "32-64_32-64_0-32", "0-32_0-32_32-64", "32-64_0-32_32-64" };
        foreach (string chunk in names)
        {
            ds.WriteGzip(ScaleKey + "/" + chunk, RandomBytes(random, 500 + random.Next(3000)));
        }

        for (int i = 0; i < extraChunks; i++)
        {
            ds.WriteGzip($"{ScaleKey}/{64 + (32 * i)}-{96 + (32 * i)}_0-32_0-32", RandomBytes(random, 200 + random.Next(800)));
        }

        // A chunk written without gzip: published as-is, without Content-Encoding.
        ds.WritePlain(ds.PlainChunk, RandomBytes(random, 777));
        // Fragments are plain (gzip only through Content-Encoding); the first bytes are a vertex count, never gzip.
        ds.WritePlain(ds.Fragment, FragmentBytes(3, 1));
        ds.WritePlain("mesh/18446744073709551615_frag", FragmentBytes(3, 1));
        ds.WriteManifest("1", "{\"fragments\":[\"1_frag\"]}", colonFree);
        ds.WriteManifest("18446744073709551615", "{\"fragments\":[\"18446744073709551615_frag\"]}", colonFree);
        // Left behind by an interrupted atomic write: never published or served as data.
        File.WriteAllBytes(System.IO.Path.Combine(ds.Path, ScaleKey, "0-32_32-64_32-64.gz.1234.pt-tmp"), new byte[] { 1, 2, 3 });
        return ds;
    }

    /// <summary>The bytes a client that inflates gzip sees for <paramref name="key"/>.</summary>
    public byte[] DecodedBytes(string key)
    {
        byte[] raw = File.ReadAllBytes(Files[key]);
        if (!GzipKeys.Contains(key))
        {
            return raw;
        }

        using var input = new GZipStream(new MemoryStream(raw), CompressionMode.Decompress);
        using var output = new MemoryStream();
        input.CopyTo(output);
        return output.ToArray();
    }

    public byte[] StoredBytes(string key) => File.ReadAllBytes(Files[key]);

    private static byte[] FragmentBytes(int vertices, int triangles)
    {
        var bytes = new byte[4 + (12 * vertices) + (12 * triangles)];
        BitConverter.GetBytes((uint)vertices).CopyTo(bytes, 0);
        for (int v = 0; v < vertices * 3; v++)
        {
            BitConverter.GetBytes((float)(v * 8)).CopyTo(bytes, 4 + (4 * v));
        }

        for (int t = 0; t < triangles * 3; t++)
        {
            BitConverter.GetBytes((uint)(t % vertices)).CopyTo(bytes, 4 + (12 * vertices) + (4 * t));
        }

        return bytes;
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        // Keep the first bytes clearly not gzip, so plain files are unambiguous.
        bytes[0] = 0x10;
        return bytes;
    }

    private void WriteJson(string key, string json)
    {
        WritePlain(key, Encoding.UTF8.GetBytes(json));
        JsonKeys.Add(key);
    }

    private void WriteManifest(string id, string json, bool colonFree)
    {
        string key = "mesh/" + id + ":0";
        string file = System.IO.Path.Combine(Path, "mesh", colonFree ? id + ".json" : id + ":0");
        File.WriteAllText(file, json);
        Files[key] = file;
        JsonKeys.Add(key);
    }

    private void WritePlain(string key, byte[] bytes)
    {
        string file = System.IO.Path.Combine(Path, key.Replace('/', System.IO.Path.DirectorySeparatorChar));
        File.WriteAllBytes(file, bytes);
        Files[key] = file;
    }

    private void WriteGzip(string key, byte[] bytes)
    {
        string file = System.IO.Path.Combine(Path, key.Replace('/', System.IO.Path.DirectorySeparatorChar)) + ".gz";
        using (var output = File.Create(file))
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
        {
            gzip.Write(bytes, 0, bytes.Length);
        }

        Files[key] = file;
        GzipKeys.Add(key);
    }
}
