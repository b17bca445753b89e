using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Security;
using System.Text;

namespace PrecomputedTools.Host;

/// <summary>
/// A minimal PSHost: text, warnings, verbose and errors go to a <see cref="TextWriter"/> (the
/// console, or a buffer in tests); progress goes to a callback. No interactive prompts.
/// </summary>
public sealed class TextHost : PSHost
{
    private readonly TextHostUserInterface _ui;
    private readonly Guid _id = Guid.NewGuid();

    public TextHost(TextWriter output, TextWriter? errors = null, Action<ProgressRecord>? onProgress = null)
    {
        _ui = new TextHostUserInterface(output, errors ?? output, onProgress);
    }

    public int? ExitCode { get; private set; }

    public override CultureInfo CurrentCulture => CultureInfo.InvariantCulture;

    public override CultureInfo CurrentUICulture => CultureInfo.InvariantCulture;

    public override Guid InstanceId => _id;

    public override string Name => "PrecomputedTools.Host";

    public override PSHostUserInterface UI => _ui;

    public override Version Version => new(1, 0);

    public override void EnterNestedPrompt() => throw new NotSupportedException("Nested prompts are not supported.");

    public override void ExitNestedPrompt() => throw new NotSupportedException("Nested prompts are not supported.");

    public override void NotifyBeginApplication()
    {
    }

    public override void NotifyEndApplication()
    {
    }

    public override void SetShouldExit(int exitCode) => ExitCode = exitCode;
}

internal sealed class TextHostUserInterface : PSHostUserInterface
{
    private readonly TextWriter _output;
    private readonly TextWriter _errors;
    private readonly Action<ProgressRecord>? _onProgress;

    public TextHostUserInterface(TextWriter output, TextWriter errors, Action<ProgressRecord>? onProgress)
    {
        _output = output;
        _errors = errors;
        _onProgress = onProgress;
    }

    public override PSHostRawUserInterface RawUI { get; } = new TextRawUserInterface();

    public override Dictionary<string, PSObject> Prompt(string caption, string message, System.Collections.ObjectModel.Collection<FieldDescription> descriptions) =>
        throw new PSInvalidOperationException("This host is not interactive; pass every value as a parameter (and -Confirm:$false).");

    public override int PromptForChoice(string caption, string message, System.Collections.ObjectModel.Collection<ChoiceDescription> choices, int defaultChoice) =>
        throw new PSInvalidOperationException("This host is not interactive; use -Confirm:$false or -Force.");

    public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName) =>
        throw new PSInvalidOperationException("This host is not interactive; pass -Credential.");

    public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName, PSCredentialTypes allowedCredentialTypes, PSCredentialUIOptions options) =>
        throw new PSInvalidOperationException("This host is not interactive; pass -Credential.");

    public override string ReadLine() => throw new PSInvalidOperationException("This host is not interactive.");

    public override SecureString ReadLineAsSecureString() => throw new PSInvalidOperationException("This host is not interactive.");

    public override void Write(string value) => _output.Write(value);

    public override void Write(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value) => _output.Write(value);

    public override void WriteLine(string value) => _output.WriteLine(value);

    public override void WriteErrorLine(string value) => _errors.WriteLine(value);

    public override void WriteDebugLine(string message) => _errors.WriteLine("DEBUG: " + message);

    public override void WriteVerboseLine(string message) => _errors.WriteLine("VERBOSE: " + message);

    public override void WriteWarningLine(string message) => _errors.WriteLine("WARNING: " + message);

    public override void WriteProgress(long sourceId, ProgressRecord record) => _onProgress?.Invoke(record);
}

internal sealed class TextRawUserInterface : PSHostRawUserInterface
{
    public override ConsoleColor BackgroundColor { get; set; } = ConsoleColor.Black;

    public override Size BufferSize { get; set; } = new(160, 3000);

    public override Coordinates CursorPosition { get; set; }

    public override int CursorSize { get; set; } = 1;

    public override ConsoleColor ForegroundColor { get; set; } = ConsoleColor.Gray;

    public override bool KeyAvailable => false;

    public override Size MaxPhysicalWindowSize => new(160, 100);

    public override Size MaxWindowSize => new(160, 100);

    public override Coordinates WindowPosition { get; set; }

    public override Size WindowSize { get; set; } = new(160, 100);

    public override string WindowTitle { get; set; } = "PrecomputedTools";

    public override void FlushInputBuffer()
    {
    }

    public override BufferCell[,] GetBufferContents(Rectangle rectangle) => new BufferCell[0, 0];

    public override KeyInfo ReadKey(ReadKeyOptions options) => throw new NotSupportedException("This host is not interactive.");

    public override void ScrollBufferContents(Rectangle source, Coordinates destination, Rectangle clip, BufferCell fill)
    {
    }

    public override void SetBufferContents(Coordinates origin, BufferCell[,] contents)
    {
    }

    public override void SetBufferContents(Rectangle rectangle, BufferCell fill)
    {
    }
}
