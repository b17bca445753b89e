using System;
using System.Collections.Generic;

namespace PrecomputedTools.Engine;

/// <summary>
/// The message of an exception with its causes: .NET's network errors say only "see inner
/// exception" (an SSL failure, a refused connection), and users never see inner exceptions.
/// </summary>
public static class ExceptionText
{
    private const string SeeInner = "see inner exception";

    /// <summary>"The SSL connection could not be established: Cannot determine the frame size or a corrupted frame was received."</summary>
    public static string Full(Exception exception)
    {
        var parts = new List<string>();
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            string message = Trim(e.Message);
            if (message.Length > 0 && !parts.Exists(p => p.IndexOf(message, StringComparison.Ordinal) >= 0))
            {
                parts.Add(message);
            }
        }

        return parts.Count == 0 ? exception.GetType().Name : string.Join(": ", parts);
    }

    private static string Trim(string message)
    {
        string text = message.Trim();
        int at = text.IndexOf(SeeInner, StringComparison.OrdinalIgnoreCase);
        if (at >= 0)
        {
            text = text.Substring(0, at);
        }

        return text.TrimEnd(' ', ',', ';', '.', ':', '(');
    }
}
