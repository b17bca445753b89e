using System;
using System.IO;

namespace PrecomputedTools.Engine.Meshing.Draco;

/// <summary>
/// A Draco mesh encoder (google/draco bitstream spec, version 2.2): sequential connectivity with
/// uncompressed indices and one POSITION attribute of 3 × int32 written by the generic sequential
/// attribute encoder (no prediction, no Draco quantization), as neuroglancer_multilod_draco asks
/// (neuroglancer src/datasource/precomputed/meshes.md: positions are quantized before encoding).
/// </summary>
public static class DracoMeshEncoder
{
    private const byte EncoderTypeTriangularMesh = 1;
    private const byte MethodSequential = 0;
    private const byte ConnectivityUncompressed = 1;
    private const byte AttributePosition = 0;
    private const byte DataTypeInt32 = 5;
    private const byte SequentialDecoderGeneric = 0;

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

        // Sequential connectivity: num_faces, num_points (varint since 2.2), method, indices.
        WriteVarUInt(ms, (uint)faces);
        WriteVarUInt(ms, (uint)points);
        ms.WriteByte(ConnectivityUncompressed);
        foreach (int idx in indices)
        {
            if ((uint)idx >= (uint)points)
            {
                throw new ArgumentOutOfRangeException(nameof(indices), "A triangle names a vertex that does not exist.");
            }

            if (points < 256)
            {
                ms.WriteByte((byte)idx);
            }
            else if (points < (1 << 16))
            {
                WriteLE(ms, (uint)idx, 2);
            }
            else if (points < (1 << 21))
            {
                WriteVarUInt(ms, (uint)idx);
            }
            else
            {
                WriteLE(ms, (uint)idx, 4);
            }
        }

        // Attributes: one attributes decoder holding one attribute.
        ms.WriteByte(1);
        WriteVarUInt(ms, 1);
        ms.WriteByte(AttributePosition);
        ms.WriteByte(DataTypeInt32);
        ms.WriteByte(3);
        ms.WriteByte(0); // normalized
        WriteVarUInt(ms, 0); // unique id
        ms.WriteByte(SequentialDecoderGeneric);

        // Generic values: every point's components, little-endian.
        foreach (int v in positions)
        {
            WriteLE(ms, unchecked((uint)v), 4);
        }

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
