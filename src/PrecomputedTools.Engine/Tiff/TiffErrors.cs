using System;
using System.Globalization;
using BitMiracle.LibTiff.Classic;

namespace PrecomputedTools.Engine.Tiff;

/// <summary>
/// LibTiff reports problems through a process-wide handler that by default prints to the console.
/// This one keeps the last error of the current thread so it can go into an EngineException.
/// </summary>
internal sealed class TiffErrors : TiffErrorHandler
{
    [ThreadStatic]
    private static string? t_lastError;

    private static readonly object s_gate = new();
    private static bool s_installed;

    public static void Install()
    {
        lock (s_gate)
        {
            if (!s_installed)
            {
                BitMiracle.LibTiff.Classic.Tiff.SetErrorHandler(new TiffErrors());
                s_installed = true;
            }
        }
    }

    /// <summary>The last LibTiff error on this thread, cleared when read.</summary>
    public static string? TakeLastError()
    {
        string? error = t_lastError;
        t_lastError = null;
        return error;
    }

    public override void ErrorHandler(BitMiracle.LibTiff.Classic.Tiff tif, string method, string format, params object[] args) =>
        t_lastError = Format(method, format, args);

    public override void ErrorHandlerExt(BitMiracle.LibTiff.Classic.Tiff tif, object clientData, string method, string format, params object[] args) =>
        t_lastError = Format(method, format, args);

    public override void WarningHandler(BitMiracle.LibTiff.Classic.Tiff tif, string method, string format, params object[] args)
    {
        // Warnings (unknown tags and the like) do not affect the pixels; ignore them.
    }

    public override void WarningHandlerExt(BitMiracle.LibTiff.Classic.Tiff tif, object clientData, string method, string format, params object[] args)
    {
    }

    private static string Format(string method, string format, object[] args)
    {
        try
        {
            return method + ": " + string.Format(CultureInfo.InvariantCulture, format, args);
        }
        catch (FormatException)
        {
            return method + ": " + format;
        }
    }
}
