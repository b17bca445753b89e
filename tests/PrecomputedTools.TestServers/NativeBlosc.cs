using System;
using System.Runtime.InteropServices;

namespace PrecomputedTools.TestServers;

/// <summary>
/// The real c-blosc (Debian's libblosc1) through P/Invoke: the encoder of the loopback BOSS server
/// and the native oracle of the benchmarks.
/// </summary>
public static unsafe class NativeBlosc
{
    private static readonly Lazy<IntPtr> s_library = new(() =>
        NativeLibrary.TryLoad("libblosc.so.1", out IntPtr handle) ? handle :
        NativeLibrary.TryLoad("libblosc.so", out handle) ? handle :
        NativeLibrary.TryLoad("blosc", out handle) ? handle : IntPtr.Zero);

    private static delegate* unmanaged<int, int, nuint, nuint, void*, void*, nuint, byte*, nuint, int, int> s_compressCtx;
    private static delegate* unmanaged<void*, void*, nuint, int, int> s_decompressCtx;

    public static bool IsAvailable => s_library.Value != IntPtr.Zero;

    private static void Bind()
    {
        if (s_compressCtx != null)
        {
            return;
        }

        if (!IsAvailable)
        {
            throw new DllNotFoundException("libblosc.so.1 is not installed (apt-get install libblosc1; see .ci/install-boss.sh).");
        }

        s_decompressCtx = (delegate* unmanaged<void*, void*, nuint, int, int>)NativeLibrary.GetExport(s_library.Value, "blosc_decompress_ctx");
        s_compressCtx = (delegate* unmanaged<int, int, nuint, nuint, void*, void*, nuint, byte*, nuint, int, int>)NativeLibrary.GetExport(s_library.Value, "blosc_compress_ctx");
    }

    /// <summary>
    /// blosc_compress_ctx(clevel, doshuffle, typesize, nbytes, src, dest, destsize, compressor, blocksize 0, 1 thread).
    /// shuffle: 0 none, 1 byte, 2 bit.
    /// </summary>
    public static byte[] Compress(ReadOnlySpan<byte> source, int typeSize, string compressor = "blosclz", int clevel = 9, int shuffle = 1, int blockSize = 0)
    {
        Bind();
        byte[] dest = new byte[source.Length + 16];
        byte[] name = System.Text.Encoding.ASCII.GetBytes(compressor + "\0");
        int written;
        fixed (byte* s = source)
        fixed (byte* d = dest)
        fixed (byte* n = name)
        {
            written = s_compressCtx(clevel, shuffle, (nuint)typeSize, (nuint)source.Length, s, d, (nuint)dest.Length, n, (nuint)blockSize, 1);
        }

        if (written <= 0)
        {
            throw new InvalidOperationException($"blosc_compress_ctx failed ({written}) for compressor {compressor}.");
        }

        Array.Resize(ref dest, written);
        return dest;
    }

    /// <summary>blosc_decompress_ctx with the given thread count; returns the bytes written.</summary>
    public static int Decompress(ReadOnlySpan<byte> frame, Span<byte> destination, int threads = 1)
    {
        Bind();
        fixed (byte* s = frame)
        fixed (byte* d = destination)
        {
            return s_decompressCtx(s, d, (nuint)destination.Length, threads);
        }
    }
}
