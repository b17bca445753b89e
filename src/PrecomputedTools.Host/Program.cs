using System;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Text;

namespace PrecomputedTools.Host;

/// <summary>
/// ptps: runs a PowerShell script or command with the PrecomputedTools module imported, on a
/// machine that has the .NET SDK but no pwsh. Usage:
///   ptps -File script.ps1 [-Name value ...]
///   ptps -Command "Get-Command -Module PrecomputedTools"
///   ptps -Module path/to/PrecomputedTools.psd1 -File ...
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        string? file = null;
        string? command = null;
        string? modulePath = Environment.GetEnvironmentVariable("PRECOMPUTEDTOOLS_MODULE");
        int i = 0;
        for (; i < args.Length; i++)
        {
            string arg = args[i];
            if (Is(arg, "-File") && i + 1 < args.Length)
            {
                file = args[++i];
                i++;
                break;
            }

            if (Is(arg, "-Command") && i + 1 < args.Length)
            {
                command = string.Join(" ", args.Skip(i + 1));
                i = args.Length;
                break;
            }

            if (Is(arg, "-Module") && i + 1 < args.Length)
            {
                modulePath = args[++i];
                continue;
            }

            if (Is(arg, "-Help") || arg is "-?" or "/?")
            {
                Console.WriteLine("ptps -File <script.ps1> [args] | -Command <text>  [-Module <PrecomputedTools.psd1>]");
                return 0;
            }

            Console.Error.WriteLine($"Unknown argument '{arg}'. Use -File or -Command.");
            return 2;
        }

        if (file is null && command is null)
        {
            Console.Error.WriteLine("Give -File <script.ps1> or -Command <text>.");
            return 2;
        }

        modulePath ??= FindModule();
        if (modulePath is null || !File.Exists(modulePath))
        {
            Console.Error.WriteLine("Cannot find module/PrecomputedTools/PrecomputedTools.psd1; run 'dotnet build' first or pass -Module.");
            return 2;
        }

        string script = file is not null
            ? "& " + Quote(Path.GetFullPath(file)) + " " + string.Join(" ", args.Skip(i).Select(QuoteArgument))
            : command!;

        var host = new TextHost(Console.Out, Console.Error);
        InitialSessionState state = InitialSessionState.CreateDefault2();
        state.ImportPSModule(new[] { Path.GetFullPath(modulePath) });
        state.ThrowOnRunspaceOpenError = true;
        using Runspace runspace = RunspaceFactory.CreateRunspace(host, state);
        runspace.Open();
        if (Console.IsOutputRedirected)
        {
            // Logs and pipes get plain text, not ANSI colour codes.
            using PowerShell setup = PowerShell.Create();
            setup.Runspace = runspace;
            setup.AddScript("$PSStyle.OutputRendering = 'PlainText'").Invoke();
        }

        using PowerShell ps = PowerShell.Create();
        ps.Runspace = runspace;
        ps.AddScript(script);
        ps.Commands.Commands[0].MergeMyResults(PipelineResultTypes.Error, PipelineResultTypes.Output);
        ps.AddCommand("Out-Default");
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            ps.BeginStop(null, null);
        };

        try
        {
            ps.Invoke();
        }
        catch (RuntimeException ex)
        {
            Console.Error.WriteLine(ex.ErrorRecord?.ToString() ?? ex.Message);
            return 1;
        }

        return host.ExitCode ?? (ps.HadErrors ? 1 : 0);
    }

    private static bool Is(string arg, string name) => string.Equals(arg, name, StringComparison.OrdinalIgnoreCase);

    private static string Quote(string text) => "'" + text.Replace("'", "''") + "'";

    // Parameter names pass through as they are; everything else is a single-quoted literal.
    private static string QuoteArgument(string arg) =>
        arg.Length > 1 && arg[0] == '-' && char.IsLetter(arg[1]) && !arg.Contains(' ') ? arg : Quote(arg);

    private static string? FindModule()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "module", "PrecomputedTools", "PrecomputedTools.psd1");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
