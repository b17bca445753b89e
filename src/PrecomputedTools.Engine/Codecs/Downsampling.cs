using System;
using System.Runtime.CompilerServices;
#if NET
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
#endif

namespace PrecomputedTools.Engine.Codecs;

/// <summary>Block reductions between scales (majority semantics: README, 'Invoke-MajorityDownscale').</summary>
/// <remarks>
/// All methods take volumes x fastest. The output shape is ceil(sourceShape / factor) per axis; an edge
/// block covers only the real voxels (it is never padded). The first Volume elements of the destination
/// are written.
/// </remarks>
public static class Downsampling
{
    /// <summary>Tests set this to run the portable paths on hardware that has the vector ones (results are identical).</summary>
    internal static bool DisableVectorPaths { get; set; }

    // Blocks of up to this many voxels are reduced in a stack buffer; larger ones use one array per call.
    private const int StackBlockLimit = 64;

    /// <summary>Output shape for <paramref name="sourceShape"/> reduced by <paramref name="factor"/>: ceil per axis.</summary>
    public static Int3 OutputShape(Int3 sourceShape, Int3 factor)
    {
        CheckFactor(factor);
        return new Int3(Int3.CeilDiv(sourceShape.X, factor.X), Int3.CeilDiv(sourceShape.Y, factor.Y), Int3.CeilDiv(sourceShape.Z, factor.Z));
    }

    /// <summary>
    /// Mode of each factor-sized block of <paramref name="source"/> (x fastest); ties go to the smallest
    /// label, 0 is an ordinary label, edge blocks use only the real voxels. Destination shape is
    /// ceil(sourceShape / factor).
    /// </summary>
    public static unsafe void Majority(ReadOnlySpan<ulong> source, Int3 sourceShape, Int3 factor, Span<ulong> destination)
    {
        Int3 outShape = CheckArguments(source.Length, sourceShape, factor, destination.Length);
        fixed (ulong* src = source)
        fixed (ulong* dst = destination)
        {
            MajorityCore<U64>(src, sourceShape, factor, dst, outShape, outShape, Int3.Zero);
        }
    }

    /// <summary>Majority of uint32 labels; see the uint64 overload.</summary>
    public static unsafe void Majority(ReadOnlySpan<uint> source, Int3 sourceShape, Int3 factor, Span<uint> destination)
    {
        Int3 outShape = CheckArguments(source.Length, sourceShape, factor, destination.Length);
        fixed (uint* src = source)
        fixed (uint* dst = destination)
        {
            MajorityCore<U32>(src, sourceShape, factor, dst, outShape, outShape, Int3.Zero);
        }
    }

    /// <summary>
    /// Majority into a region of a larger volume: the ceil(sourceShape / factor) result is written at
    /// <paramref name="destinationOffset"/> inside <paramref name="destination"/>, a volume of
    /// <paramref name="destinationShape"/> (x fastest); voxels outside that region are left alone. This lets an
    /// output chunk be assembled from several source chunks without a copy (up to
    /// 2x2x2 source chunks, as majority blocks never straddle source-chunk boundaries).
    /// </summary>
    public static unsafe void Majority(ReadOnlySpan<ulong> source, Int3 sourceShape, Int3 factor, Span<ulong> destination, Int3 destinationShape, Int3 destinationOffset)
    {
        Int3 outShape = CheckRegion(source.Length, sourceShape, factor, destination.Length, destinationShape, destinationOffset);
        fixed (ulong* src = source)
        fixed (ulong* dst = destination)
        {
            MajorityCore<U64>(src, sourceShape, factor, dst, outShape, destinationShape, destinationOffset);
        }
    }

    /// <summary>Majority of uint32 labels into a region of a larger volume; see the uint64 overload.</summary>
    public static unsafe void Majority(ReadOnlySpan<uint> source, Int3 sourceShape, Int3 factor, Span<uint> destination, Int3 destinationShape, Int3 destinationOffset)
    {
        Int3 outShape = CheckRegion(source.Length, sourceShape, factor, destination.Length, destinationShape, destinationOffset);
        fixed (uint* src = source)
        fixed (uint* dst = destination)
        {
            MajorityCore<U32>(src, sourceShape, factor, dst, outShape, destinationShape, destinationOffset);
        }
    }

    /// <summary>Mean of each block (rounded to nearest, halves up, for integer types), for image data.</summary>
    public static unsafe void Average(ReadOnlySpan<byte> source, VoxelType type, Int3 sourceShape, Int3 factor, Span<byte> destination)
    {
        int size = VoxelTypes.SizeOf(type);
        Int3 outShape = CheckArguments(source.Length / size, sourceShape, factor, destination.Length / size);
        fixed (byte* src = source)
        fixed (byte* dst = destination)
        {
            switch (type)
            {
                case VoxelType.UInt8:
                    AverageInteger<E8>(src, sourceShape, factor, dst, outShape);
                    break;
                case VoxelType.UInt16:
                    AverageInteger<E16>(src, sourceShape, factor, dst, outShape);
                    break;
                case VoxelType.UInt32:
                    AverageInteger<E32>(src, sourceShape, factor, dst, outShape);
                    break;
                case VoxelType.UInt64:
                    AverageInteger<E64>(src, sourceShape, factor, dst, outShape);
                    break;
                case VoxelType.Float32:
                    AverageFloat((float*)src, sourceShape, factor, (float*)dst, outShape);
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(type));
            }
        }
    }

    /// <summary>
    /// Smallest (<paramref name="maximum"/> false) or largest value of each block, for image data
    /// (for example a max-projection of sparse bright signal). Edge blocks use the voxels present;
    /// float NaNs never win over numbers.
    /// </summary>
    public static unsafe void Extreme(ReadOnlySpan<byte> source, VoxelType type, Int3 sourceShape, Int3 factor, bool maximum, Span<byte> destination)
    {
        int size = VoxelTypes.SizeOf(type);
        Int3 outShape = CheckArguments(source.Length / size, sourceShape, factor, destination.Length / size);
        fixed (byte* src = source)
        fixed (byte* dst = destination)
        {
            switch (type)
            {
                case VoxelType.UInt8:
                    ExtremeInteger<E8>(src, sourceShape, factor, dst, outShape, maximum);
                    break;
                case VoxelType.UInt16:
                    ExtremeInteger<E16>(src, sourceShape, factor, dst, outShape, maximum);
                    break;
                case VoxelType.UInt32:
                    ExtremeInteger<E32>(src, sourceShape, factor, dst, outShape, maximum);
                    break;
                case VoxelType.UInt64:
                    ExtremeInteger<E64>(src, sourceShape, factor, dst, outShape, maximum);
                    break;
                case VoxelType.Float32:
                    ExtremeFloat((float*)src, sourceShape, factor, (float*)dst, outShape, maximum);
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(type));
            }
        }
    }

    /// <summary>The first voxel of each block, for image data.</summary>
    public static unsafe void Stride(ReadOnlySpan<byte> source, VoxelType type, Int3 sourceShape, Int3 factor, Span<byte> destination)
    {
        int size = VoxelTypes.SizeOf(type);
        Int3 outShape = CheckArguments(source.Length / size, sourceShape, factor, destination.Length / size);
        fixed (byte* src = source)
        fixed (byte* dst = destination)
        {
            for (int oz = 0; oz < outShape.Z; oz++)
            {
                for (int oy = 0; oy < outShape.Y; oy++)
                {
                    long srcRow = (long)sourceShape.X * ((long)oy * factor.Y + ((long)sourceShape.Y * oz * factor.Z));
                    long dstRow = (long)outShape.X * (oy + ((long)outShape.Y * oz));
                    for (int ox = 0; ox < outShape.X; ox++)
                    {
                        Buffer.MemoryCopy(src + ((srcRow + ((long)ox * factor.X)) * size), dst + ((dstRow + ox) * size), size, size);
                    }
                }
            }
        }
    }

    private static void CheckFactor(Int3 factor)
    {
        if (!factor.AllPositive)
        {
            throw new ArgumentOutOfRangeException(nameof(factor), factor, "Downsampling factors must be at least 1 on every axis.");
        }
    }

    private static Int3 CheckArguments(int sourceLength, Int3 sourceShape, Int3 factor, int destinationLength)
    {
        CheckFactor(factor);
        if (sourceShape.X < 0 || sourceShape.Y < 0 || sourceShape.Z < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(sourceShape), sourceShape, "Source shape must not be negative.");
        }

        if (sourceShape.Volume > sourceLength)
        {
            throw new ArgumentException($"The source holds {sourceLength} voxels but shape {sourceShape} needs {sourceShape.Volume}.", "source");
        }

        Int3 outShape = OutputShape(sourceShape, factor);
        if (outShape.Volume > destinationLength)
        {
            throw new ArgumentException($"The destination holds {destinationLength} voxels but the output shape {outShape} needs {outShape.Volume}.", "destination");
        }

        return outShape;
    }

    private static Int3 CheckRegion(int sourceLength, Int3 sourceShape, Int3 factor, int destinationLength, Int3 destinationShape, Int3 destinationOffset)
    {
        Int3 outShape = CheckArguments(sourceLength, sourceShape, factor, int.MaxValue);
        if (destinationShape.X < 0 || destinationShape.Y < 0 || destinationShape.Z < 0 || destinationShape.Volume > destinationLength)
        {
            throw new ArgumentException($"The destination holds {destinationLength} voxels but its shape {destinationShape} needs {destinationShape.Volume}.", "destination");
        }

        Int3 end = destinationOffset + outShape;
        if (destinationOffset.X < 0 || destinationOffset.Y < 0 || destinationOffset.Z < 0 || end.X > destinationShape.X || end.Y > destinationShape.Y || end.Z > destinationShape.Z)
        {
            throw new ArgumentOutOfRangeException(nameof(destinationOffset), destinationOffset, $"The {outShape} result at {destinationOffset} does not fit in the {destinationShape} destination.");
        }

        return outShape;
    }

    private static unsafe void MajorityCore<T>(void* src, Int3 s, Int3 f, void* dst, Int3 o, Int3 dstShape, Int3 dstOffset)
        where T : struct, IValueTraits
    {
        int sx = s.X, sy = s.Y, fx = f.X, fy = f.Y, fz = f.Z;
        int maxRows = fy * fz;
        long* rows = stackalloc long[Math.Min(maxRows, 64)];
        long[]? heapRows = maxRows > 64 ? new long[maxRows] : null;
        int blockMax = (int)Math.Min(f.Volume, s.Volume);
        ulong[]? heapBlock = blockMax > StackBlockLimit ? new ulong[blockMax] : null;
        ulong* stackBlock = stackalloc ulong[StackBlockLimit];

        for (int oz = 0; oz < o.Z; oz++)
        {
            int z0 = oz * fz, nz = Math.Min(fz, s.Z - z0);
            for (int oy = 0; oy < o.Y; oy++)
            {
                int y0 = oy * fy, ny = Math.Min(fy, sy - y0);
                long dstRow = dstOffset.X + ((long)dstShape.X * (dstOffset.Y + oy + ((long)dstShape.Y * (dstOffset.Z + oz))));
                int nrows = ny * nz;
                int r = 0;
                for (int z = 0; z < nz; z++)
                {
                    for (int y = 0; y < ny; y++, r++)
                    {
                        long start = (long)sx * (y0 + y + ((long)sy * (z0 + z)));
                        if (heapRows is null)
                        {
                            rows[r] = start;
                        }
                        else
                        {
                            heapRows[r] = start;
                        }
                    }
                }

                int ox = 0;
                if (fx == 2 && heapRows is null)
                {
                    int fullX = sx / 2;
                    if (nrows == 4)
                    {
#if NET
                        if (typeof(T) == typeof(U64) && Avx2.IsSupported && !DisableVectorPaths)
                        {
                            ox = Majority2x4Avx2((ulong*)src, rows[0], rows[1], rows[2], rows[3], (ulong*)dst + dstRow, fullX);
                        }
#endif
                        ox = Majority2x4<T>(src, rows[0], rows[1], rows[2], rows[3], dst, dstRow, ox, fullX);
                    }
                    else if (nrows == 2)
                    {
#if NET
                        if (typeof(T) == typeof(U64) && Avx2.IsSupported && !DisableVectorPaths)
                        {
                            ox = Majority2x2Avx2((ulong*)src, rows[0], rows[1], (ulong*)dst + dstRow, fullX);
                        }
#endif
                        ox = Majority2x2<T>(src, rows[0], rows[1], dst, dstRow, ox, fullX);
                    }
                    else if (nrows == 1)
                    {
                        PairwiseMin<T>(src, rows[0], dst, dstRow, 0, fullX);
                        ox = fullX;
                    }
                }

                // Everything else (other factors, the x edge): gather the block and take its mode.
                for (; ox < o.X; ox++)
                {
                    int x0 = ox * fx, nx = Math.Min(fx, sx - x0);
                    int count = 0;
                    if (heapBlock is null)
                    {
                        for (int i = 0; i < nrows; i++)
                        {
                            long start = rows[i] + x0;
                            for (int x = 0; x < nx; x++)
                            {
                                stackBlock[count++] = default(T).Load(src, start + x);
                            }
                        }

                        default(T).Store(dst, dstRow + ox, Mode(stackBlock, count));
                    }
                    else
                    {
                        fixed (ulong* block = heapBlock)
                        {
                            for (int i = 0; i < nrows; i++)
                            {
                                long start = (heapRows is null ? rows[i] : heapRows[i]) + x0;
                                for (int x = 0; x < nx; x++)
                                {
                                    block[count++] = default(T).Load(src, start + x);
                                }
                            }
                        }

                        default(T).Store(dst, dstRow + ox, count <= 32 ? ModeFixed(heapBlock, count) : ModeSorted(heapBlock, count));
                    }
                }
            }
        }
    }

    // Outputs per segment in the row-equality fast path (2·Segment source voxels per row).
    private const int Segment = 16;

    /// <summary>
    /// 2x2x2 blocks (four source rows, pairs along x) for output x in [0, count). Label volumes are mostly
    /// smooth, so first compare whole row segments: when the four rows are equal over a segment, each block
    /// holds a pair (a, b) four times and its mode is min(a, b).
    /// </summary>
    private static unsafe int Majority2x4<T>(void* src, long r0, long r1, long r2, long r3, void* dst, long dstRow, int ox, int count)
        where T : struct, IValueTraits
    {
        int size = default(T).Size;
        byte* p0 = (byte*)src + (r0 * size), p1 = (byte*)src + (r1 * size), p2 = (byte*)src + (r2 * size), p3 = (byte*)src + (r3 * size);
        ulong* buf = stackalloc ulong[8];
        while (ox < count)
        {
            int end = Math.Min(count, ox + Segment);
            int bytes = 2 * (end - ox) * size;
            long offset = 2L * ox * size;
            var s0 = new ReadOnlySpan<byte>(p0 + offset, bytes);
            if (s0.SequenceEqual(new ReadOnlySpan<byte>(p1 + offset, bytes)) &&
                s0.SequenceEqual(new ReadOnlySpan<byte>(p2 + offset, bytes)) &&
                s0.SequenceEqual(new ReadOnlySpan<byte>(p3 + offset, bytes)))
            {
                PairwiseMin<T>(src, r0, dst, dstRow, ox, end);
                ox = end;
                continue;
            }

            for (; ox < end; ox++)
            {
                long x = 2 * ox;
                ulong a0 = default(T).Load(src, r0 + x), a1 = default(T).Load(src, r0 + x + 1);
                ulong b0 = default(T).Load(src, r1 + x), b1 = default(T).Load(src, r1 + x + 1);
                ulong c0 = default(T).Load(src, r2 + x), c1 = default(T).Load(src, r2 + x + 1);
                ulong d0 = default(T).Load(src, r3 + x), d1 = default(T).Load(src, r3 + x + 1);
                if (((a0 ^ a1) | (a0 ^ b0) | (a0 ^ b1) | (a0 ^ c0) | (a0 ^ c1) | (a0 ^ d0) | (a0 ^ d1)) == 0)
                {
                    default(T).Store(dst, dstRow + ox, a0);
                    continue;
                }

                buf[0] = a0;
                buf[1] = a1;
                buf[2] = b0;
                buf[3] = b1;
                buf[4] = c0;
                buf[5] = c1;
                buf[6] = d0;
                buf[7] = d1;
                default(T).Store(dst, dstRow + ox, Mode8(buf));
            }
        }

        return count;
    }

    /// <summary>2x2x1 blocks (two source rows, pairs along x) for output x in [0, count); same row-segment fast path.</summary>
    private static unsafe int Majority2x2<T>(void* src, long r0, long r1, void* dst, long dstRow, int ox, int count)
        where T : struct, IValueTraits
    {
        int size = default(T).Size;
        byte* p0 = (byte*)src + (r0 * size), p1 = (byte*)src + (r1 * size);
        while (ox < count)
        {
            int end = Math.Min(count, ox + Segment);
            int bytes = 2 * (end - ox) * size;
            long offset = 2L * ox * size;
            if (new ReadOnlySpan<byte>(p0 + offset, bytes).SequenceEqual(new ReadOnlySpan<byte>(p1 + offset, bytes)))
            {
                PairwiseMin<T>(src, r0, dst, dstRow, ox, end);
                ox = end;
                continue;
            }

            for (; ox < end; ox++)
            {
                long x = 2 * ox;
                ulong a0 = default(T).Load(src, r0 + x), a1 = default(T).Load(src, r0 + x + 1);
                ulong b0 = default(T).Load(src, r1 + x), b1 = default(T).Load(src, r1 + x + 1);
                if (((a0 ^ a1) | (a0 ^ b0) | (a0 ^ b1)) == 0)
                {
                    default(T).Store(dst, dstRow + ox, a0);
                    continue;
                }

                default(T).Store(dst, dstRow + ox, Mode4(a0, a1, b0, b1));
            }
        }

        return count;
    }

#if NET
    /// <summary>
    /// uint64 2x2x2 with AVX2: four output voxels per step. Two 256-bit loads per source row hold the four
    /// blocks; a block is uniform when its lanes in every row equal the first row's and the first row's
    /// pair is equal. Four uniform blocks are packed and stored at once; mixed blocks take the scalar
    /// mode. Returns the next output x to process.
    /// </summary>
    private static unsafe int Majority2x4Avx2(ulong* src, long r0, long r1, long r2, long r3, ulong* dst, int count)
    {
        ulong* p0 = src + r0, p1 = src + r1, p2 = src + r2, p3 = src + r3;
        Vector256<long>* v = stackalloc Vector256<long>[8];
        int ox = 0;
        for (; ox + 4 <= count; ox += 4)
        {
            int x = 2 * ox;
            Vector256<ulong> a = Avx.LoadVector256(p0 + x);
            Vector256<ulong> a2 = Avx.LoadVector256(p0 + x + 4);
            Vector256<ulong> same = Avx2.CompareEqual(a, Avx.LoadVector256(p1 + x))
                & Avx2.CompareEqual(a, Avx.LoadVector256(p2 + x))
                & Avx2.CompareEqual(a, Avx.LoadVector256(p3 + x))
                & Avx2.CompareEqual(a, Avx2.Permute4x64(a, 0xB1));
            Vector256<ulong> same2 = Avx2.CompareEqual(a2, Avx.LoadVector256(p1 + x + 4))
                & Avx2.CompareEqual(a2, Avx.LoadVector256(p2 + x + 4))
                & Avx2.CompareEqual(a2, Avx.LoadVector256(p3 + x + 4))
                & Avx2.CompareEqual(a2, Avx2.Permute4x64(a2, 0xB1));
            uint mask = (uint)Avx.MoveMask(same.AsDouble()) | ((uint)Avx.MoveMask(same2.AsDouble()) << 4);
            if (mask == 0xFF)
            {
                // Lanes 0 and 2 of each vector are the four block values: [a0, a2, a'0, a'2].
                Avx.Store(dst + ox, Avx2.Permute4x64(Avx2.UnpackLow(a, a2), 0xD8));
                continue;
            }

            // Some block is mixed: the modes of all four at once, branch-free.
            long* q0 = (long*)p0 + x, q1 = (long*)p1 + x, q2 = (long*)p2 + x, q3 = (long*)p3 + x;
            Deinterleave(q0, out v[0], out v[1]);
            Deinterleave(q1, out v[2], out v[3]);
            Deinterleave(q2, out v[4], out v[5]);
            Deinterleave(q3, out v[6], out v[7]);
            Avx.Store((long*)dst + ox, Avx2.Permute4x64(Mode8Lanes(v), 0xD8));
        }

        return ox;
    }

    /// <summary>Even and odd columns of 8 consecutive values: lanes in block order 0, 2, 1, 3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Deinterleave(long* row, out Vector256<long> even, out Vector256<long> odd)
    {
        Vector256<long> u0 = Avx.LoadVector256(row), u1 = Avx.LoadVector256(row + 4);
        even = Avx2.UnpackLow(u0, u1);
        odd = Avx2.UnpackHigh(u0, u1);
    }

    /// <summary>
    /// Per lane, the mode of the eight values v[0..7] with ties to the smallest (unsigned): each value's
    /// count from the 28 equality masks, then a tournament on (count, value); see <see cref="Better"/>.
    /// </summary>
    private static unsafe Vector256<long> Mode8Lanes(Vector256<long>* v)
    {
        Vector256<long>* n = stackalloc Vector256<long>[8];
        for (int i = 0; i < 8; i++)
        {
            n[i] = Vector256<long>.Zero;
        }

        for (int i = 0; i < 8; i++)
        {
            for (int j = i + 1; j < 8; j++)
            {
                Vector256<long> e = Avx2.CompareEqual(v[i], v[j]);
                n[i] = Avx2.Add(n[i], e);
                n[j] = Avx2.Add(n[j], e);
            }
        }

        Vector256<long> signBit = Vector256.Create(long.MinValue);
        (Vector256<long> a, Vector256<long> na) = Better(v[0], n[0], v[1], n[1], signBit);
        (Vector256<long> b, Vector256<long> nb) = Better(v[2], n[2], v[3], n[3], signBit);
        (Vector256<long> c, Vector256<long> nc) = Better(v[4], n[4], v[5], n[5], signBit);
        (Vector256<long> d, Vector256<long> nd) = Better(v[6], n[6], v[7], n[7], signBit);
        (a, na) = Better(a, na, b, nb, signBit);
        (c, nc) = Better(c, nc, d, nd, signBit);
        return Better(a, na, c, nc, signBit).Value;
    }

    /// <summary>
    /// uint64 2x2x1 with AVX2, branch-free: four output voxels per step. The even and odd columns of both
    /// rows are separated (a, b from the first row, c, d from the second), each value's count among its
    /// block's four is summed from the six equality masks, and a three-round tournament keeps the larger
    /// count, then the smaller value (unsigned, by flipping the sign bit): exactly <see cref="Mode4"/>'s
    /// rule, at the same speed for uniform and mixed blocks.
    /// </summary>
    private static unsafe int Majority2x2Avx2(ulong* src, long r0, long r1, ulong* dst, int count)
    {
        ulong* p0 = src + r0, p1 = src + r1;
        Vector256<long> signBit = Vector256.Create(long.MinValue);
        int ox = 0;
        for (; ox + 4 <= count; ox += 4)
        {
            int x = 2 * ox;
            Vector256<long> u0 = Avx.LoadVector256((long*)p0 + x), u1 = Avx.LoadVector256((long*)p0 + x + 4);
            Vector256<long> v0 = Avx.LoadVector256((long*)p1 + x), v1 = Avx.LoadVector256((long*)p1 + x + 4);

            // Lanes in block order 0, 2, 1, 3 (undone at the store).
            Vector256<long> a = Avx2.UnpackLow(u0, u1), b = Avx2.UnpackHigh(u0, u1);
            Vector256<long> c = Avx2.UnpackLow(v0, v1), d = Avx2.UnpackHigh(v0, v1);

            Vector256<long> ab = Avx2.CompareEqual(a, b), ac = Avx2.CompareEqual(a, c), ad = Avx2.CompareEqual(a, d);
            if (Avx.MoveMask((ab & ac & ad).AsDouble()) == 0xF)
            {
                // Four uniform blocks (most of a label volume): the mode is the value.
                Avx.Store((long*)dst + ox, Avx2.Permute4x64(a, 0xD8));
                continue;
            }

            Vector256<long> bc = Avx2.CompareEqual(b, c), bd = Avx2.CompareEqual(b, d), cd = Avx2.CompareEqual(c, d);

            // Minus the number of other values equal to each (masks are -1).
            Vector256<long> na = Avx2.Add(Avx2.Add(ab, ac), ad);
            Vector256<long> nb = Avx2.Add(Avx2.Add(ab, bc), bd);
            Vector256<long> nc = Avx2.Add(Avx2.Add(ac, bc), cd);
            Vector256<long> nd = Avx2.Add(Avx2.Add(ad, bd), cd);

            (Vector256<long> m1, Vector256<long> n1) = Better(a, na, b, nb, signBit);
            (Vector256<long> m2, Vector256<long> n2) = Better(c, nc, d, nd, signBit);
            (Vector256<long> mode, _) = Better(m1, n1, m2, n2, signBit);
            Avx.Store((long*)dst + ox, Avx2.Permute4x64(mode, 0xD8));
        }

        return ox;
    }

    /// <summary>Per lane, the (value, minus count) pair that wins: more occurrences, then the smaller unsigned value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<long> Value, Vector256<long> NegCount) Better(Vector256<long> x, Vector256<long> nx, Vector256<long> y, Vector256<long> ny, Vector256<long> signBit)
    {
        // y wins when it is seen more often (ny < nx), or as often and smaller.
        Vector256<long> yMore = Avx2.CompareGreaterThan(nx, ny);
        Vector256<long> same = Avx2.CompareEqual(nx, ny);
        Vector256<long> ySmaller = Avx2.CompareGreaterThan(Avx2.Xor(x, signBit), Avx2.Xor(y, signBit));
        Vector256<long> takeY = Avx2.Or(yMore, Avx2.And(same, ySmaller));
        return (Avx2.BlendVariable(x.AsByte(), y.AsByte(), takeY.AsByte()).AsInt64(), Avx2.BlendVariable(nx.AsByte(), ny.AsByte(), takeY.AsByte()).AsInt64());
    }
#endif

    /// <summary>out[ox] = min(row[2·ox], row[2·ox + 1]) for ox in [from, to): the mode of a block made of one repeated pair.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void PairwiseMin<T>(void* src, long row, void* dst, long dstRow, int from, int to)
        where T : struct, IValueTraits
    {
        for (int ox = from; ox < to; ox++)
        {
            ulong a = default(T).Load(src, row + (2 * ox)), b = default(T).Load(src, row + (2 * ox) + 1);
            default(T).Store(dst, dstRow + ox, a < b ? a : b);
        }
    }

    /// <summary>
    /// Mode of the eight values of a 2x2x2 block, ties to the smallest. Mixed blocks of label data mostly
    /// hold two labels, which counting settles without sorting.
    /// </summary>
    private static unsafe ulong Mode8(ulong* b)
    {
        ulong v0 = b[0];
        int c0 = 0;
        for (int i = 0; i < 8; i++)
        {
            c0 += b[i] == v0 ? 1 : 0;
        }

        if (c0 > 4)
        {
            return v0;
        }

        int k = 1;
        while (b[k] == v0)
        {
            k++;
        }

        ulong v1 = b[k];
        int c1 = 0;
        for (int i = k; i < 8; i++)
        {
            c1 += b[i] == v1 ? 1 : 0;
        }

        if (c0 + c1 == 8)
        {
            return c0 > c1 ? v0 : c1 > c0 ? v1 : (v0 < v1 ? v0 : v1);
        }

        // Three or more labels: a label seen four times beats the at most three others.
        if (c0 == 4)
        {
            return v0;
        }

        if (c1 >= 4)
        {
            return v1;
        }

        return Mode(b, 8);
    }

    /// <summary>Mode of four values, ties to the smallest.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mode4(ulong a, ulong b, ulong c, ulong d)
    {
        // Sort with a 5-comparator network, then the longest run wins (the first, i.e. smallest, on ties).
        Sort2(ref a, ref b);
        Sort2(ref c, ref d);
        Sort2(ref a, ref c);
        Sort2(ref b, ref d);
        Sort2(ref b, ref c);
        // Now a <= b <= c <= d. If b == c, b occurs at least twice and no other value can occur more often.
        if (b == c)
        {
            return b;
        }

        // Two a's can at best tie with two c's (c == d), and a is the smaller.
        if (a == b)
        {
            return a;
        }

        if (c == d)
        {
            return c;
        }

        // All four differ: a four-way tie.
        return a;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Sort2(ref ulong a, ref ulong b)
    {
        if (a > b)
        {
            (a, b) = (b, a);
        }
    }

    /// <summary>Mode of <paramref name="count"/> values in <paramref name="values"/> (reordered), ties to the smallest.</summary>
    private static unsafe ulong Mode(ulong* values, int count)
    {
        // Insertion sort (small blocks), then the longest run; the first longest run is the smallest value.
        for (int i = 1; i < count; i++)
        {
            ulong v = values[i];
            int j = i - 1;
            while (j >= 0 && values[j] > v)
            {
                values[j + 1] = values[j];
                j--;
            }

            values[j + 1] = v;
        }

        ulong best = values[0];
        int bestCount = 0;
        int i0 = 0;
        while (i0 < count)
        {
            int i1 = i0 + 1;
            while (i1 < count && values[i1] == values[i0])
            {
                i1++;
            }

            if (i1 - i0 > bestCount)
            {
                bestCount = i1 - i0;
                best = values[i0];
            }

            i0 = i1;
        }

        return best;
    }

    private static unsafe ulong ModeFixed(ulong[] values, int count)
    {
        fixed (ulong* p = values)
        {
            return Mode(p, count);
        }
    }

    private static ulong ModeSorted(ulong[] values, int count)
    {
        Array.Sort(values, 0, count);
        ulong best = values[0];
        int bestCount = 0;
        int i0 = 0;
        while (i0 < count)
        {
            int i1 = i0 + 1;
            while (i1 < count && values[i1] == values[i0])
            {
                i1++;
            }

            if (i1 - i0 > bestCount)
            {
                bestCount = i1 - i0;
                best = values[i0];
            }

            i0 = i1;
        }

        return best;
    }

    // Average, Min and Max of images share one walk over the output's blocks (edge blocks clipped to
    // the voxels present); the reducer is a struct, so the JIT specializes the loop for each one.
    private static void ReduceBlocks<TReducer>(Int3 s, Int3 f, Int3 o, TReducer reducer)
        where TReducer : struct, IBlockReducer
    {
        for (int oz = 0; oz < o.Z; oz++)
        {
            int z0 = oz * f.Z, nz = Math.Min(f.Z, s.Z - z0);
            for (int oy = 0; oy < o.Y; oy++)
            {
                int y0 = oy * f.Y, ny = Math.Min(f.Y, s.Y - y0);
                long dstRow = (long)o.X * (oy + ((long)o.Y * oz));
                for (int ox = 0; ox < o.X; ox++)
                {
                    int x0 = ox * f.X, nx = Math.Min(f.X, s.X - x0);
                    reducer.Begin();
                    for (int z = 0; z < nz; z++)
                    {
                        for (int y = 0; y < ny; y++)
                        {
                            long row = x0 + ((long)s.X * (y0 + y + ((long)s.Y * (z0 + z))));
                            for (int x = 0; x < nx; x++)
                            {
                                reducer.Add(row + x);
                            }
                        }
                    }

                    reducer.End(dstRow + ox, (ulong)nx * (ulong)ny * (ulong)nz);
                }
            }
        }
    }

    private static unsafe void AverageInteger<T>(byte* src, Int3 s, Int3 f, byte* dst, Int3 o)
        where T : struct, IElement => ReduceBlocks(s, f, o, new IntegerMean<T>(src, dst));

    private static unsafe void ExtremeInteger<T>(byte* src, Int3 s, Int3 f, byte* dst, Int3 o, bool maximum)
        where T : struct, IElement => ReduceBlocks(s, f, o, new IntegerExtreme<T>(src, dst, maximum));

    private static unsafe void ExtremeFloat(float* src, Int3 s, Int3 f, float* dst, Int3 o, bool maximum) =>
        ReduceBlocks(s, f, o, new FloatExtreme(src, dst, maximum));

    private static unsafe void AverageFloat(float* src, Int3 s, Int3 f, float* dst, Int3 o) =>
        ReduceBlocks(s, f, o, new FloatMean(src, dst));

    private unsafe struct IntegerMean<T> : IBlockReducer
        where T : struct, IElement
    {
        private readonly byte* _src;
        private readonly byte* _dst;
        private ulong _lo;
        private ulong _hi;

        public IntegerMean(byte* src, byte* dst)
        {
            _src = src;
            _dst = dst;
            _lo = _hi = 0;
        }

        public void Begin() => _lo = _hi = 0;

        public void Add(long i)
        {
            ulong v = default(T).Load(_src, i);
            _lo += v;
            if (_lo < v)
            {
                _hi++;
            }
        }

        public void End(long j, ulong count) => default(T).Store(_dst, j, RoundedMean(_lo, _hi, count));
    }

    private unsafe struct IntegerExtreme<T> : IBlockReducer
        where T : struct, IElement
    {
        private readonly byte* _src;
        private readonly byte* _dst;
        private readonly bool _maximum;
        private ulong _best;

        public IntegerExtreme(byte* src, byte* dst, bool maximum)
        {
            _src = src;
            _dst = dst;
            _maximum = maximum;
            _best = 0;
        }

        public void Begin() => _best = _maximum ? ulong.MinValue : ulong.MaxValue;

        public void Add(long i)
        {
            ulong v = default(T).Load(_src, i);
            _best = _maximum ? Math.Max(_best, v) : Math.Min(_best, v);
        }

        public void End(long j, ulong count) => default(T).Store(_dst, j, _best);
    }

    private unsafe struct FloatMean : IBlockReducer
    {
        private readonly float* _src;
        private readonly float* _dst;
        private double _sum;

        public FloatMean(float* src, float* dst)
        {
            _src = src;
            _dst = dst;
            _sum = 0;
        }

        public void Begin() => _sum = 0;

        public void Add(long i) => _sum += _src[i];

        public void End(long j, ulong count) => _dst[j] = (float)(_sum / count);
    }

    private unsafe struct FloatExtreme : IBlockReducer
    {
        private readonly float* _src;
        private readonly float* _dst;
        private readonly bool _maximum;
        private float _best;

        public FloatExtreme(float* src, float* dst, bool maximum)
        {
            _src = src;
            _dst = dst;
            _maximum = maximum;
            _best = float.NaN;
        }

        public void Begin() => _best = float.NaN;

        public void Add(long i)
        {
            float v = _src[i];
            if (float.IsNaN(_best) || (_maximum ? v > _best : v < _best))
            {
                _best = v;
            }
        }

        public void End(long j, ulong count) => _dst[j] = _best;
    }

    /// <summary>(hi:lo + n/2) / n for a 128-bit sum, rounding halves up.</summary>
    private static ulong RoundedMean(ulong lo, ulong hi, ulong n)
    {
        if (hi == 0)
        {
            ulong q = lo / n, rem = lo % n;
            return rem >= n - rem ? q + 1 : q;
        }

        // Only uint64 data with huge sums gets here: long division of the 128-bit sum by n.
        decimal sum = ((decimal)hi * 18446744073709551616m) + lo;
        decimal mean = decimal.Floor(sum / n);
        decimal remainder = sum - (mean * n);
        if (remainder * 2 >= n)
        {
            mean += 1;
        }

        return (ulong)mean;
    }
}

/// <summary>Folds the voxels of one block into one output voxel (see ReduceBlocks).</summary>
internal interface IBlockReducer
{
    void Begin();

    void Add(long sourceIndex);

    void End(long destinationIndex, ulong count);
}

/// <summary>Unsigned integer element access for image reductions.</summary>
internal interface IElement
{
    unsafe ulong Load(byte* p, long i);

    unsafe void Store(byte* p, long i, ulong value);
}

internal readonly struct E8 : IElement
{
    public unsafe ulong Load(byte* p, long i) => p[i];

    public unsafe void Store(byte* p, long i, ulong value) => p[i] = (byte)value;
}

internal readonly struct E16 : IElement
{
    public unsafe ulong Load(byte* p, long i) => ((ushort*)p)[i];

    public unsafe void Store(byte* p, long i, ulong value) => ((ushort*)p)[i] = (ushort)value;
}

internal readonly struct E32 : IElement
{
    public unsafe ulong Load(byte* p, long i) => ((uint*)p)[i];

    public unsafe void Store(byte* p, long i, ulong value) => ((uint*)p)[i] = (uint)value;
}

internal readonly struct E64 : IElement
{
    public unsafe ulong Load(byte* p, long i) => ((ulong*)p)[i];

    public unsafe void Store(byte* p, long i, ulong value) => ((ulong*)p)[i] = value;
}
