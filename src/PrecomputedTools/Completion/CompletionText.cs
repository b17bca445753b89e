using System;
using System.Collections.ObjectModel;
using System.Management.Automation;

namespace PrecomputedTools.Completion;

/// <summary>Quoting shared by the module's argument completers.</summary>
internal static class CompletionText
{
    /// <summary>The word being completed without the quote the user may have typed.</summary>
    public static string Unquote(string word)
    {
        string text = word ?? "";
        if (text.Length > 0 && (text[0] == '\'' || text[0] == '"'))
        {
            text = text.Substring(1);
        }

        if (text.Length > 0 && (text[text.Length - 1] == '\'' || text[text.Length - 1] == '"'))
        {
            text = text.Substring(0, text.Length - 1);
        }

        return text;
    }

    /// <summary>Single-quotes a value that PowerShell would not read as one bare word.</summary>
    public static string Quote(string value)
    {
        foreach (char c in value)
        {
            if (char.IsWhiteSpace(c) || "'\"`$&|;,(){}[]@#<>".IndexOf(c) >= 0)
            {
                return "'" + value.Replace("'", "''") + "'";
            }
        }

        return value;
    }
}

/// <summary>Path resolution for completers, which run outside any cmdlet.</summary>
internal static class CompletionPaths
{
    /// <summary>
    /// Resolves a path typed on the command line the way the cmdlets do, through the current
    /// runspace (current location, ~, PSDrives); null when it does not name one file-system item.
    /// </summary>
    public static string? ResolveFileSystemPath(string path, bool literal)
    {
        using PowerShell shell = PowerShell.Create(RunspaceMode.CurrentRunspace);
        shell.AddScript(
            literal
                ? "param($p) $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($p)"
                : "param($p) $ExecutionContext.SessionState.Path.GetResolvedProviderPathFromPSPath($p, [ref]$null)")
            .AddArgument(path);
        Collection<PSObject> results;
        try
        {
            results = shell.Invoke();
        }
        catch (RuntimeException)
        {
            // No such path (or not a file-system one): nothing to complete from.
            return null;
        }

        return results.Count == 1 && results[0]?.BaseObject is string resolved && !shell.HadErrors ? resolved : null;
    }
}
