using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using PrecomputedTools.Engine;

namespace PrecomputedTools.Completion;

/// <summary>
/// Completes scale keys ("1um", "2um", ...) from the info of the dataset already named on the
/// command line: -InputObject (a PrecomputedDataset, for example in a variable), or -Path /
/// -LiteralPath (a dataset folder or its info file, resolved like the cmdlets resolve it:
/// relative to the current location, ~, PSDrives).
/// </summary>
public sealed class ScaleKeyCompleter : IArgumentCompleter
{
    /// <inheritdoc />
    public IEnumerable<CompletionResult> CompleteArgument(
        string commandName,
        string parameterName,
        string wordToComplete,
        CommandAst commandAst,
        IDictionary fakeBoundParameters)
    {
        PrecomputedDataset? dataset = FindDataset(fakeBoundParameters);
        if (dataset is null)
        {
            return Array.Empty<CompletionResult>();
        }

        string prefix = CompletionText.Unquote(wordToComplete);
        return dataset.Scales
            .Where(s => s.Key.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            .Select(s => new CompletionResult(
                CompletionText.Quote(s.Key),
                s.Key,
                CompletionResultType.ParameterValue,
                string.Format(CultureInfo.InvariantCulture, "{0}: {1} voxels at {2} nm, {3} chunks", s.Key, string.Join("x", s.Size), string.Join("x", s.Resolution.Select(r => r.ToString(CultureInfo.InvariantCulture))), s.ChunkCount)))
            .ToList();
    }

    private static PrecomputedDataset? FindDataset(IDictionary bound)
    {
        if (bound["InputObject"] is { } input)
        {
            object value = input is PSObject wrapped ? wrapped.BaseObject : input;
            if (value is PrecomputedDataset dataset)
            {
                return dataset;
            }

            if (value is PrecomputedScale scale && scale.DatasetPath.Length > 0)
            {
                return Load(scale.DatasetPath, literal: true);
            }
        }

        if (First(bound["LiteralPath"]) is { Length: > 0 } literalPath)
        {
            return Load(literalPath, literal: true);
        }

        return First(bound["Path"]) is { Length: > 0 } path ? Load(path, literal: false) : null;
    }

    private static string? First(object? value) => value switch
    {
        PSObject wrapped => First(wrapped.BaseObject),
        string text => text,
        object[] array when array.Length > 0 => First(array[0]),
        _ => null,
    };

    private static PrecomputedDataset? Load(string path, bool literal)
    {
        string? folder = CompletionPaths.ResolveFileSystemPath(path, literal);
        if (folder is null)
        {
            return null;
        }

        if (File.Exists(folder) && string.Equals(Path.GetFileName(folder), "info", StringComparison.Ordinal))
        {
            folder = Path.GetDirectoryName(folder)!;
        }

        return File.Exists(Path.Combine(folder, "info")) ? LoadEngine(folder) : null;
    }

    // Engine code behind its own method: the JIT resolves the engine only when a dataset is found.
    private static PrecomputedDataset? LoadEngine(string folder)
    {
        try
        {
            return PrecomputedDataset.Load(folder);
        }
        catch (EngineException)
        {
            // An unreadable info offers no keys; the cmdlet itself will report the problem.
            return null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
