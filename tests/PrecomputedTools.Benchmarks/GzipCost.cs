using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.IO.Compression;

namespace PrecomputedTools.Benchmarks;

/// <summary>
/// What gzip costs on a set of encoded chunks, each compressed on its own as the pipeline stores
/// them: .NET's <see cref="GZipStream"/> (zlib-ng) at a <see cref="CompressionLevel"/>, and the
/// system zlib through python3's <c>zlib</c> module in a child process (the native side's gzip:
/// CloudVolume/CloudFiles compress each chunk with zlib, or libdeflate when installed).
/// </summary>
public static class GzipCost
{
    /// <summary>This thread's CPU seconds and total gzip bytes for every chunk at <paramref name="level"/>.</summary>
    public static (double Cpu, long Bytes) Managed(IReadOnlyList<byte[]> chunks, CompressionLevel level)
    {
        var output = new MemoryStream(1 << 20);
        long total = 0;
        double cpu0 = ThreadCpu.Seconds();
        foreach (byte[] chunk in chunks)
        {
            total += Compress(output, chunk, level);
        }

        return (ThreadCpu.Seconds() - cpu0, total);
    }

    /// <summary>Gzips one chunk into <paramref name="output"/> (reused) as the stores do; returns the gzip length.</summary>
    public static long Compress(MemoryStream output, ReadOnlySpan<byte> chunk, CompressionLevel level)
    {
        output.SetLength(0);
        using (var zip = new GZipStream(output, level, leaveOpen: true))
        {
            zip.Write(chunk);
        }

        return output.Length;
    }

    /// <summary>Writes chunks as (int32 little-endian length, bytes) records, the input of <see cref="Native"/>.</summary>
    public static void WriteRecords(Stream file, ReadOnlySpan<byte> chunk)
    {
        Span<byte> length = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(length, chunk.Length);
        file.Write(length);
        file.Write(chunk);
    }

    private const string Script = @"
import sys, time, zlib, struct
data = open(sys.argv[1], 'rb').read()
chunks = []
i = 0
while i < len(data):
    (n,) = struct.unpack_from('<i', data, i)
    chunks.append(data[i + 4:i + 4 + n])
    i += 4 + n
for c in chunks:
    zlib.decompress(zlib.compress(c, 6), 15)  # warm-up, untimed: allocator and page faults
for level in [int(v) for v in sys.argv[2].split(',')]:
    t0 = time.process_time()
    out = []
    for c in chunks:
        z = zlib.compressobj(level, zlib.DEFLATED, 31)
        out.append(z.compress(c) + z.flush())
    t1 = time.process_time()
    for g in out:
        zlib.decompress(g, 31)
    t2 = time.process_time()
    print(level, repr(t1 - t0), sum(len(g) for g in out), repr(t2 - t1), len(chunks), sum(len(c) for c in chunks))
print('zlib', zlib.ZLIB_RUNTIME_VERSION)
";

    /// <summary>
    /// Native zlib's CPU seconds (the child's process CPU around the compression loop only, not its
    /// start or the file read), gzip bytes, and CPU seconds to inflate them again, per level, for the
    /// chunks in <paramref name="recordFile"/>; null when python3 is missing. Keys: level;
    /// <paramref name="version"/> is the zlib it loaded.
    /// </summary>
    public static Dictionary<int, (double Cpu, long Bytes, double InflateCpu)>? Native(string recordFile, string levels, out string version)
    {
        version = string.Empty;
        var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(Script);
        start.ArgumentList.Add(recordFile);
        start.ArgumentList.Add(levels);
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("python3 did not start");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }

        using (process)
        {
            string text = process.StandardOutput.ReadToEnd();
            string error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException("python3 zlib measurement failed: " + error);
            }

            var result = new Dictionary<int, (double, long, double)>();
            foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                string[] p = line.Split(' ');
                if (p[0] == "zlib")
                {
                    version = p[1];
                    continue;
                }

                result[int.Parse(p[0], CultureInfo.InvariantCulture)] = (double.Parse(p[1], CultureInfo.InvariantCulture), long.Parse(p[2], CultureInfo.InvariantCulture), double.Parse(p[3], CultureInfo.InvariantCulture));
            }

            return result;
        }
    }
}

/// <summary>
/// The calling thread's CPU time in nanosecond resolution (clock_gettime(CLOCK_THREAD_CPUTIME_ID) on
/// Linux); elsewhere the process's, which counts in scheduler ticks and suits only long intervals.
/// </summary>
public static class ThreadCpu
{
    private const int ClockThreadCpuTimeId = 3;

    public static double Seconds()
    {
        if (OperatingSystem.IsLinux() && clock_gettime(ClockThreadCpuTimeId, out TimeSpec t) == 0)
        {
            return t.Seconds + (t.Nanoseconds * 1e-9);
        }

        return Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
    }

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int clock_gettime(int clock, out TimeSpec time);
}
