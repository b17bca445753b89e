using System;
using System.Collections.Generic;
using System.IO;

namespace PrecomputedTools.Engine.Meshing.Draco;

/// <summary>
/// A Draco mesh encoder (google/draco bitstream spec, version 2.2): sequential connectivity with
/// entropy-coded index differences and one POSITION attribute of 3 × int32 written by the integer
/// sequential attribute encoder (difference prediction, wrap transform, entropy coding; no Draco
/// quantization), as neuroglancer_multilod_draco asks (neuroglancer
/// src/datasource/precomputed/meshes.md: positions are quantized before encoding).
/// </summary>
public static class DracoMeshEncoder
{
    private const byte EncoderTypeTriangularMesh = 1;
    private const byte MethodSequential = 0;
    private const byte ConnectivityCompressed = 0;
    private const byte AttributePosition = 0;
    private const byte DataTypeInt32 = 5;
    private const byte SequentialDecoderInteger = 1;
    private const byte PredictionDifference = 0;
    private const byte TransformWrap = 1;

    /// <summary>Encodes <paramref name="positions"/> (x, y, z per vertex) and <paramref name="indices"/> (three per triangle).</summary>
    public static byte[] Encode(ReadOnlySpan<int> positions, ReadOnlySpan<int> indices)
    {
        if (positions.Length % 3 != 0 || indices.Length % 3 != 0)
        {
            throw new ArgumentException("positions and indices must hold whole vertices and triangles.");
        }

        int points = positions.Length / 3;
        int faces = indices.Length / 3;
        using var ms = new MemoryStream(16 + positions.Length * 4 + indices.Length * 4);

        // Header: "DRACO", major, minor, encoder type, encoder method, flags (uint16).
        foreach (char ch in "DRACO")
        {
            ms.WriteByte((byte)ch);
        }

        ms.WriteByte(2);
        ms.WriteByte(2);
        ms.WriteByte(EncoderTypeTriangularMesh);
        ms.WriteByte(MethodSequential);
        ms.WriteByte(0);
        ms.WriteByte(0);

        // Sequential connectivity: num_faces, num_points (varint since 2.2), then method 0: each
        // index as the difference from the one before (sign in bit 0), entropy coded.
        WriteVarUInt(ms, (uint)faces);
        WriteVarUInt(ms, (uint)points);
        uint[] deltas = new uint[indices.Length];
        int previous = 0;
        for (int i = 0; i < indices.Length; i++)
        {
            int idx = indices[i];
            if ((uint)idx >= (uint)points)
            {
                throw new ArgumentOutOfRangeException(nameof(indices), "A triangle names a vertex that does not exist.");
            }

            int delta = idx - previous;
            deltas[i] = delta < 0 ? ((uint)(-delta) << 1) | 1 : (uint)delta << 1;
            previous = idx;
        }

        var coded = new List<byte>();
        DracoSymbolCoding.Encode(deltas, 1, coded);

        // Attributes: one attributes decoder holding one attribute.
        coded.Add(1);
        DracoSymbolCoding.WriteVarUInt(coded, 1);
        coded.Add(AttributePosition);
        coded.Add(DataTypeInt32);
        coded.Add(3);
        coded.Add(0); // normalized
        DracoSymbolCoding.WriteVarUInt(coded, 0); // unique id
        coded.Add(SequentialDecoderInteger);

        // Integer values: each coordinate predicted by the same coordinate of the point before
        // (difference), corrections wrapped into [min, max] (wrap transform), sign-folded and
        // entropy coded; the transform's min and max follow the values.
        int min = 0, max = 0;
        if (positions.Length > 0)
        {
            min = int.MaxValue;
            max = int.MinValue;
            foreach (int v in positions)
            {
                min = Math.Min(min, v);
                max = Math.Max(max, v);
            }
        }

        int range = max - min + 1;
        int maxCorrection = range / 2;
        int minCorrection = -maxCorrection;
        if ((range & 1) == 0)
        {
            maxCorrection--;
        }

        coded.Add(PredictionDifference);
        coded.Add(TransformWrap);
        coded.Add(1); // compressed
        uint[] corrections = new uint[positions.Length];
        for (int i = 0; i < positions.Length; i++)
        {
            int predicted = i < 3 ? Math.Max(min, Math.Min(max, 0)) : positions[i - 3];
            int correction = positions[i] - predicted;
            if (correction > maxCorrection)
            {
                correction -= range;
            }
            else if (correction < minCorrection)
            {
                correction += range;
            }

            corrections[i] = correction < 0 ? ((uint)(-(correction + 1)) << 1) | 1 : (uint)correction << 1;
        }

        DracoSymbolCoding.Encode(corrections, 3, coded);
        foreach (int bound in new[] { min, max })
        {
            coded.Add((byte)bound);
            coded.Add((byte)(bound >> 8));
            coded.Add((byte)(bound >> 16));
            coded.Add((byte)(bound >> 24));
        }

        // Draco's sequential decoder refuses a mesh with fewer than 3 bytes per face after the
        // counts (a size sanity check made for plain indices); a mesh that codes smaller than
        // that is padded with zero bytes, which no decoder reads.
        while (1 + coded.Count < 3L * faces)
        {
            coded.Add(0);
        }

        ms.WriteByte(ConnectivityCompressed);
        ms.Write(coded.ToArray(), 0, coded.Count);
        return ms.ToArray();
    }

    private static void WriteLE(Stream s, uint v, int bytes)
    {
        for (int i = 0; i < bytes; i++)
        {
            s.WriteByte((byte)(v >> (8 * i)));
        }
    }

    private static void WriteVarUInt(Stream s, uint v)
    {
        while (v >= 0x80)
        {
            s.WriteByte((byte)(v | 0x80));
            v >>= 7;
        }

        s.WriteByte((byte)v);
    }
}
