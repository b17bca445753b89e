using System;

namespace PrecomputedTools.Engine.Meshing.Draco;

/// <summary>What <see cref="DracoMeshReader.Read"/> found in a Draco buffer.</summary>
public sealed class DracoMeshContents
{
    internal DracoMeshContents(int faces, int points, int[]? positions, int[]? indices, string? notDecodedBecause)
    {
        Faces = faces;
        Points = points;
        Positions = positions;
        Indices = indices;
        NotDecodedBecause = notDecodedBecause;
    }

    public int Faces { get; }

    public int Points { get; }

    /// <summary>x, y, z per point; null when the encoding is one this reader does not decode.</summary>
    public int[]? Positions { get; }

    /// <summary>Three point indices per face; null when not decoded.</summary>
    public int[]? Indices { get; }

    /// <summary>Why only the header was checked (another encoder's method), or null when decoded.</summary>
    public string? NotDecodedBecause { get; }
}

/// <summary>
/// Reads Draco mesh buffers for checks (google/draco bitstream spec 2.2): the header of any mesh,
/// and in full the sequential forms, <see cref="DracoMeshEncoder"/>'s among them (entropy-coded or
/// plain indices; one int32 POSITION attribute, generic or integer with difference prediction).
/// Other methods (edgebreaker, other prediction schemes, more attributes) are reported as not
/// decoded rather than misread.
/// </summary>
public static class DracoMeshReader
{
    /// <summary>Reads <paramref name="data"/>; throws InvalidDracoMesh when it is not a well-formed Draco mesh of the decoded form.</summary>
    public static DracoMeshContents Read(ReadOnlySpan<byte> data)
    {
        int at = 0;
        if (data.Length < 11 || data[0] != 'D' || data[1] != 'R' || data[2] != 'A' || data[3] != 'C' || data[4] != 'O')
        {
            throw Invalid("does not start with the Draco magic \"DRACO\"");
        }

        byte major = data[5], minor = data[6], encoderType = data[7], method = data[8];
        ushort flags = (ushort)(data[9] | (data[10] << 8));
        at = 11;
        if (encoderType != 1)
        {
            throw Invalid($"is a Draco point cloud or unknown geometry (encoder type {encoderType}), not a triangular mesh");
        }

        if (major != 2 || minor != 2)
        {
            return new DracoMeshContents(-1, -1, null, null, $"bitstream version {major}.{minor} (only 2.2 is decoded here)");
        }

        if (method != 0 || (flags & 0x8000) != 0)
        {
            return new DracoMeshContents(-1, -1, null, null, method != 0 ? "edgebreaker connectivity" : "metadata");
        }

        uint faces = DracoSymbolCoding.ReadVarUInt(data, ref at);
        uint points = DracoSymbolCoding.ReadVarUInt(data, ref at);
        // Draco's own rule: at least 3 bytes per face follow the counts. A point takes at least 3 bits.
        if (faces > int.MaxValue / 3 || points > int.MaxValue / 3 || (long)faces * 3 > data.Length - at || (long)points * 3 > 8L * data.Length)
        {
            throw Invalid($"claims {faces} faces and {points} points, more than its {data.Length} bytes can hold");
        }

        byte connectivity = Byte(data, ref at);
        int[] indices = new int[faces * 3];
        if (connectivity == 0)
        {
            // Index differences, sign in bit 0, entropy coded.
            uint[] deltas = new uint[indices.Length];
            DracoSymbolCoding.Decode(data, ref at, 1, deltas);
            long last = 0;
            for (int i = 0; i < indices.Length; i++)
            {
                long delta = deltas[i] >> 1;
                last += (deltas[i] & 1) != 0 ? -delta : delta;
                if (last < 0 || last >= points)
                {
                    throw Invalid($"has face index {last} but {points} points");
                }

                indices[i] = (int)last;
            }
        }
        else if (connectivity == 1)
        {
            for (int i = 0; i < indices.Length; i++)
            {
                uint index = points < 256 ? Byte(data, ref at)
                    : points < (1 << 16) ? Fixed(data, ref at, 2)
                    : points < (1 << 21) ? DracoSymbolCoding.ReadVarUInt(data, ref at)
                    : Fixed(data, ref at, 4);
                if (index >= points)
                {
                    throw Invalid($"has face index {index} but {points} points");
                }

                indices[i] = (int)index;
            }
        }
        else
        {
            throw Invalid($"has sequential connectivity method {connectivity}");
        }

        byte decoders = Byte(data, ref at);
        uint attributes = decoders == 1 ? DracoSymbolCoding.ReadVarUInt(data, ref at) : 0;
        if (decoders != 1 || attributes != 1)
        {
            return new DracoMeshContents((int)faces, (int)points, null, indices, "attributes other than one POSITION");
        }

        byte type = Byte(data, ref at), dataType = Byte(data, ref at), components = Byte(data, ref at);
        Byte(data, ref at); // normalized
        DracoSymbolCoding.ReadVarUInt(data, ref at); // unique id
        byte sequentialDecoder = Byte(data, ref at);
        if (type != 0 || dataType != 5 || components != 3 || sequentialDecoder > 1)
        {
            return new DracoMeshContents((int)faces, (int)points, null, indices, "a POSITION attribute that is not 3 × int32 in the generic or integer encoding");
        }

        int[] positions = new int[points * 3];
        if (sequentialDecoder == 0)
        {
            for (int i = 0; i < positions.Length; i++)
            {
                positions[i] = unchecked((int)Fixed(data, ref at, 4));
            }
        }
        else if (!ReadIntegerValues(data, ref at, positions))
        {
            return new DracoMeshContents((int)faces, (int)points, null, indices, "a prediction scheme other than difference with wrap");
        }

        // Zero padding may follow (DracoMeshEncoder pads to Draco's 3 bytes per face); nothing else.
        for (int i = at; i < data.Length; i++)
        {
            if (data[i] != 0)
            {
                throw Invalid($"has {data.Length - at} bytes after its last attribute value");
            }
        }

        return new DracoMeshContents((int)faces, (int)points, positions, indices, null);
    }

    // The integer attribute decoder: prediction method (none, or difference with the wrap
    // transform), values entropy coded or raw, sign-folded, then the transform's min and max.
    private static bool ReadIntegerValues(ReadOnlySpan<byte> data, ref int at, int[] values)
    {
        sbyte method = unchecked((sbyte)Byte(data, ref at));
        if (method != -2 && method != 0)
        {
            return false;
        }

        if (method == 0 && Byte(data, ref at) != 1)
        {
            return false;
        }

        uint[] symbols = new uint[values.Length];
        if (Byte(data, ref at) > 0)
        {
            DracoSymbolCoding.Decode(data, ref at, 3, symbols);
        }
        else
        {
            int bytes = Byte(data, ref at);
            if (bytes < 1 || bytes > 4)
            {
                throw Invalid($"stores its values in {bytes} bytes each");
            }

            for (int i = 0; i < symbols.Length; i++)
            {
                symbols[i] = Fixed(data, ref at, bytes);
            }
        }

        for (int i = 0; i < values.Length; i++)
        {
            uint s = symbols[i];
            values[i] = (s & 1) == 0 ? (int)(s >> 1) : -(int)(s >> 1) - 1;
        }

        if (method == -2)
        {
            return true;
        }

        int min = unchecked((int)Fixed(data, ref at, 4)), max = unchecked((int)Fixed(data, ref at, 4));
        if (min > max)
        {
            throw Invalid("has a wrap transform with min above max");
        }

        long range = (long)max - min + 1;
        for (int i = 0; i < values.Length; i++)
        {
            long predicted = i < 3 ? Math.Max(min, Math.Min(max, 0)) : values[i - 3];
            long original = predicted + values[i];
            if (original > max)
            {
                original -= range;
            }
            else if (original < min)
            {
                original += range;
            }

            values[i] = (int)original;
        }

        return true;
    }

    private static byte Byte(ReadOnlySpan<byte> data, ref int at)
    {
        if (at >= data.Length)
        {
            throw Invalid("ends early");
        }

        return data[at++];
    }

    private static uint Fixed(ReadOnlySpan<byte> data, ref int at, int bytes)
    {
        uint v = 0;
        for (int i = 0; i < bytes; i++)
        {
            v |= (uint)Byte(data, ref at) << (8 * i);
        }

        return v;
    }

    private static EngineException Invalid(string what) => DracoSymbolCoding.Invalid(what);
}
