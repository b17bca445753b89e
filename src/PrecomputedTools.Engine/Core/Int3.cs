using System;
using System.Globalization;

namespace PrecomputedTools.Engine;

/// <summary>An integer triple [x, y, z]: a size, an offset, a position or a factor.</summary>
public readonly struct Int3 : IEquatable<Int3>
{
    public Int3(int x, int y, int z)
    {
        X = x;
        Y = y;
        Z = z;
    }

    public int X { get; }

    public int Y { get; }

    public int Z { get; }

    public static Int3 Zero => new(0, 0, 0);

    public static Int3 One => new(1, 1, 1);

    /// <summary>The product x·y·z as a 64-bit count (voxels in a box of this size).</summary>
    public long Volume => (long)X * Y * Z;

    public int this[int axis] => axis switch
    {
        0 => X,
        1 => Y,
        2 => Z,
        _ => throw new ArgumentOutOfRangeException(nameof(axis)),
    };

    public static Int3 From(int[] values)
    {
        if (values is null || values.Length != 3)
        {
            throw new ArgumentException("Expected exactly three values [x, y, z].", nameof(values));
        }

        return new Int3(values[0], values[1], values[2]);
    }

    public static Int3 From(long[] values)
    {
        if (values is null || values.Length != 3)
        {
            throw new ArgumentException("Expected exactly three values [x, y, z].", nameof(values));
        }

        return new Int3(checked((int)values[0]), checked((int)values[1]), checked((int)values[2]));
    }

    public int[] ToArray() => new[] { X, Y, Z };

    public Int3 With(int axis, int value) => axis switch
    {
        0 => new Int3(value, Y, Z),
        1 => new Int3(X, value, Z),
        2 => new Int3(X, Y, value),
        _ => throw new ArgumentOutOfRangeException(nameof(axis)),
    };

    public static Int3 operator +(Int3 a, Int3 b) => new(a.X + b.X, a.Y + b.Y, a.Z + b.Z);

    public static Int3 operator -(Int3 a, Int3 b) => new(a.X - b.X, a.Y - b.Y, a.Z - b.Z);

    public static Int3 operator *(Int3 a, Int3 b) => new(a.X * b.X, a.Y * b.Y, a.Z * b.Z);

    public static Int3 Min(Int3 a, Int3 b) => new(Math.Min(a.X, b.X), Math.Min(a.Y, b.Y), Math.Min(a.Z, b.Z));

    public static Int3 Max(Int3 a, Int3 b) => new(Math.Max(a.X, b.X), Math.Max(a.Y, b.Y), Math.Max(a.Z, b.Z));

    /// <summary>Per-axis ceiling division; both operands must be positive.</summary>
    public static Int3 CeilDiv(Int3 a, Int3 b) => new(CeilDiv(a.X, b.X), CeilDiv(a.Y, b.Y), CeilDiv(a.Z, b.Z));

    public static int CeilDiv(int a, int b) => (int)(((long)a + b - 1) / b);

    /// <summary>Floor division that rounds toward negative infinity (for offsets).</summary>
    public static int FloorDiv(int a, int b) => (int)Math.Floor((double)a / b);

    public bool AllPositive => X > 0 && Y > 0 && Z > 0;

    public bool Equals(Int3 other) => X == other.X && Y == other.Y && Z == other.Z;

    public override bool Equals(object? obj) => obj is Int3 other && Equals(other);

    public override int GetHashCode() => unchecked((X * 397) ^ (Y * 7919) ^ Z);

    public static bool operator ==(Int3 a, Int3 b) => a.Equals(b);

    public static bool operator !=(Int3 a, Int3 b) => !a.Equals(b);

    /// <summary>"1406x621x138".</summary>
    public override string ToString() => string.Format(CultureInfo.InvariantCulture, "{0}x{1}x{2}", X, Y, Z);
}

/// <summary>A half-open box [Begin, End) in voxel coordinates.</summary>
public readonly struct Box3 : IEquatable<Box3>
{
    public Box3(Int3 begin, Int3 end)
    {
        Begin = begin;
        End = end;
    }

    public Int3 Begin { get; }

    public Int3 End { get; }

    public Int3 Size => End - Begin;

    public long VoxelCount => IsEmpty ? 0 : Size.Volume;

    public bool IsEmpty => End.X <= Begin.X || End.Y <= Begin.Y || End.Z <= Begin.Z;

    public static Box3 FromSize(Int3 size) => new(Int3.Zero, size);

    public Box3 Intersect(Box3 other) => new(Int3.Max(Begin, other.Begin), Int3.Min(End, other.End));

    public bool Contains(Box3 other) =>
        other.Begin.X >= Begin.X && other.Begin.Y >= Begin.Y && other.Begin.Z >= Begin.Z &&
        other.End.X <= End.X && other.End.Y <= End.Y && other.End.Z <= End.Z;

    public Box3 Translate(Int3 by) => new(Begin + by, End + by);

    public bool Equals(Box3 other) => Begin == other.Begin && End == other.End;

    public override bool Equals(object? obj) => obj is Box3 other && Equals(other);

    public override int GetHashCode() => Begin.GetHashCode() * 31 + End.GetHashCode();

    /// <summary>The precomputed chunk-name form "x0-x1_y0-y1_z0-z1".</summary>
    public override string ToString() => string.Format(
        CultureInfo.InvariantCulture,
        "{0}-{1}_{2}-{3}_{4}-{5}",
        Begin.X,
        End.X,
        Begin.Y,
        End.Y,
        Begin.Z,
        End.Z);
}
