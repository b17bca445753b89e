using System;
using System.Collections.Generic;
using System.Globalization;

namespace PrecomputedTools.Engine.Precomputed;

/// <summary>
/// Builds the scale list the way neuroglancer-scripts' generate-scales-info does (README, 'New-PrecomputedInfo'),
/// except that voxel offsets are carried down correctly (offset / cumulative factor) instead of copied.
/// </summary>
public static class ScalePyramid
{
    private static readonly (string Unit, double NanometresPerUnit)[] s_units =
    {
        ("km", 1e12), ("m", 1e9), ("mm", 1e6), ("um", 1e3), ("nm", 1), ("pm", 1e-3),
    };

    /// <summary>round(log2(r[d] / min(r))), half to even: which levels leave an axis alone.</summary>
    public static Int3 Delays(double[] resolution)
    {
        double min = Math.Min(resolution[0], Math.Min(resolution[1], resolution[2]));
        int Delay(double r) => (int)Math.Round(Math.Log(r / min, 2), MidpointRounding.ToEven);
        return new Int3(Delay(resolution[0]), Delay(resolution[1]), Delay(resolution[2]));
    }

    /// <summary>Cumulative downsampling factor of level <paramref name="level"/> relative to scale 0.</summary>
    public static Int3 CumulativeFactor(Int3 delays, int level) =>
        new(1 << Math.Max(0, level - delays.X), 1 << Math.Max(0, level - delays.Y), 1 << Math.Max(0, level - delays.Z));

    /// <summary>How many levels the algorithm makes for this volume and target chunk size.</summary>
    public static int LevelCount(Int3 size, double[] resolution, int targetChunkSize, int? maxScales = null)
    {
        int log2C = Log2Exact(targetChunkSize);
        Int3 delays = Delays(resolution);
        int levels = int.MinValue;
        for (int d = 0; d < 3; d++)
        {
            levels = Math.Max(levels, SmallestExponent(targetChunkSize, size[d], log2C) - delays[d]);
        }

        if (maxScales is int max)
        {
            levels = Math.Min(levels, max);
        }

        return Math.Max(levels, 1);
    }

    /// <summary>
    /// The full list of scales for a scale-0 geometry. Scale keys use the reference naming
    /// (min resolution in one unit, e.g. "1um"), falling back to "rx_ry_rz" if two would clash.
    /// </summary>
    public static List<ScaleInfo> Generate(
        Int3 size,
        double[] resolution,
        Int3 voxelOffset,
        int targetChunkSize,
        string encoding,
        Int3? blockSize,
        int? maxScales = null)
    {
        if (!size.AllPositive)
        {
            throw new EngineException("InvalidVolumeGeometry", EngineErrorKind.InvalidArgument, $"The volume size {size} must be at least 1 on every axis.");
        }

        if (resolution.Length != 3 || !(resolution[0] > 0 && resolution[1] > 0 && resolution[2] > 0))
        {
            throw new EngineException("InvalidVolumeGeometry", EngineErrorKind.InvalidArgument, "The resolution must be three positive numbers (nm per voxel).");
        }

        int log2C = Log2Exact(targetChunkSize);
        Int3 delays = Delays(resolution);
        int levelCount = LevelCount(size, resolution, targetChunkSize, maxScales);
        int maxDelay = Math.Max(delays.X, Math.Max(delays.Y, delays.Z));
        string unit = ChooseUnit(Math.Min(resolution[0], Math.Min(resolution[1], resolution[2])), out double perUnit);

        var scales = new List<ScaleInfo>(levelCount);
        var keys = new HashSet<string>(StringComparer.Ordinal);
        for (int level = 0; level < levelCount; level++)
        {
            Int3 factor = CumulativeFactor(delays, level);
            var res = new[] { resolution[0] * factor.X, resolution[1] * factor.Y, resolution[2] * factor.Z };
            var offset = new Int3(Int3.FloorDiv(voxelOffset.X, factor.X), Int3.FloorDiv(voxelOffset.Y, factor.Y), Int3.FloorDiv(voxelOffset.Z, factor.Z));
            var scaledSize = new Int3(
                ScaledExtent(voxelOffset.X, size.X, factor.X),
                ScaledExtent(voxelOffset.Y, size.Y, factor.Y),
                ScaledExtent(voxelOffset.Z, size.Z, factor.Z));

            int[] a = new int[3];
            for (int d = 0; d < 3; d++)
            {
                a[d] = Math.Max(0, maxDelay - delays[d] - level);
            }

            int sumA = a[0] + a[1] + a[2];
            if (sumA > 3 * log2C)
            {
                int nonZero = (a[0] > 0 ? 1 : 0) + (a[1] > 0 ? 1 : 0) + (a[2] > 0 ? 1 : 0);
                int reduce = (sumA - 3 * log2C + nonZero - 1) / nonZero;
                for (int d = 0; d < 3; d++)
                {
                    if (a[d] > 0)
                    {
                        a[d] = Math.Max(0, a[d] - reduce);
                    }
                }

                sumA = a[0] + a[1] + a[2];
            }

            int baseExponent = log2C - (sumA + 1) / 3;
            var chunk = new Int3(1 << (baseExponent + a[0]), 1 << (baseExponent + a[1]), 1 << (baseExponent + a[2]));

            double minRes = Math.Min(res[0], Math.Min(res[1], res[2]));
            string key = Math.Round(minRes / perUnit, MidpointRounding.ToEven).ToString("0", CultureInfo.InvariantCulture) + unit;
            if (!keys.Add(key))
            {
                key = string.Join("_", Array.ConvertAll(res, PrecomputedInfo.FormatNumber));
                keys.Add(key);
            }

            scales.Add(new ScaleInfo
            {
                Key = key,
                Size = scaledSize,
                VoxelOffset = offset,
                Resolution = res,
                ChunkSize = chunk,
                Encoding = encoding,
                BlockSize = encoding == ChunkEncodings.CompressedSegmentation ? blockSize ?? new Int3(8, 8, 8) : null,
            });
        }

        return scales;
    }

    /// <summary>Step factor between consecutive scales (per axis 1 or 2), from their resolutions.</summary>
    public static Int3 StepFactor(ScaleInfo finer, ScaleInfo coarser)
    {
        int Step(int d)
        {
            double ratio = coarser.Resolution[d] / finer.Resolution[d];
            int rounded = (int)Math.Round(ratio);
            if (rounded < 1 || Math.Abs(ratio - rounded) > 1e-6)
            {
                throw new EngineException(
                    "UnsupportedScaleFactor",
                    EngineErrorKind.NotSupported,
                    $"Scale {coarser.Key} is not an integer multiple of scale {finer.Key} on axis {"xyz"[d]} (ratio {ratio.ToString(CultureInfo.InvariantCulture)}).");
            }

            return rounded;
        }

        return new Int3(Step(0), Step(1), Step(2));
    }

    private static int ScaledExtent(int offset, int size, int factor) =>
        Int3.CeilDiv(offset + size - Int3.FloorDiv(offset, factor) * factor, factor);

    private static string ChooseUnit(double minNanometres, out double perUnit)
    {
        foreach ((string unit, double nm) in s_units)
        {
            double once = Math.Round(minNanometres / nm, MidpointRounding.ToEven);
            double twice = Math.Round(2 * minNanometres / nm, MidpointRounding.ToEven);
            if (once != 0 && once != twice)
            {
                perUnit = nm;
                return unit;
            }
        }

        perUnit = 1;
        return "nm";
    }

    // Smallest k (possibly negative) with C·2^k ≥ n, in integer arithmetic.
    private static int SmallestExponent(int targetChunk, int extent, int log2C)
    {
        int k = 0;
        long c = targetChunk;
        while (c < extent)
        {
            c <<= 1;
            k++;
        }

        // Only when n ≤ C can k be negative: go down while C·2^(k-1) ≥ n, i.e. C ≥ n·2^(1-k).
        while (k <= 0 && k > -log2C && ((long)extent << (1 - k)) <= targetChunk)
        {
            k--;
        }

        return k;
    }

    private static int Log2Exact(int value)
    {
        if (value < 1 || (value & (value - 1)) != 0 || value > (1 << 20))
        {
            throw new EngineException("InvalidTargetChunkSize", EngineErrorKind.InvalidArgument, $"The target chunk size must be a power of two between 1 and 2^20, not {value}.");
        }

        int log = 0;
        while ((1 << log) < value)
        {
            log++;
        }

        return log;
    }
}
