using System;
using System.IO;
using System.Management.Automation;
using System.Reflection;
using System.Runtime.InteropServices;

namespace PrecomputedTools.Infrastructure;

/// <summary>
/// Runs on every Import-Module. Makes the engine (and through it AWSSDK, Microsoft.Extensions.*,
/// LibTiff) load from Dependencies/: into a private load context on PowerShell 7, through an
/// AssemblyResolve handler on Windows PowerShell 5.1. Nothing here may touch an engine type.
/// </summary>
public sealed class ModuleInitializer : IModuleAssemblyInitializer
{
    public void OnImport() => EngineBootstrap.EnsureInstalled();
}

internal static class EngineBootstrap
{
    private const string EngineAssemblyName = "PrecomputedTools.Engine";
    private static readonly object s_gate = new();
    private static bool s_installed;
    private static string? s_desktopDirectory;

    public static void EnsureInstalled()
    {
        lock (s_gate)
        {
            if (s_installed)
            {
                return;
            }

            string moduleDirectory = Path.GetDirectoryName(typeof(EngineBootstrap).Assembly.Location) ?? ".";
            if (RuntimeInformation.FrameworkDescription.StartsWith(".NET Framework", StringComparison.Ordinal))
            {
                s_desktopDirectory = Path.Combine(moduleDirectory, "Dependencies", "netstandard2.0");
                AppDomain.CurrentDomain.AssemblyResolve += ResolveDesktop;
            }
            else
            {
                if (Environment.Version.Major < 8)
                {
                    throw new PlatformNotSupportedException(
                        $"PrecomputedTools needs PowerShell 7.4 or later (.NET 8+) or Windows PowerShell 5.1; this is .NET {Environment.Version}.");
                }

                string engine = Path.Combine(moduleDirectory, "Dependencies", "net8.0", EngineAssemblyName + ".dll");
                Assembly loader = Assembly.LoadFrom(Path.Combine(moduleDirectory, "PrecomputedTools.Loader.dll"));
                Type entry = loader.GetType("PrecomputedTools.Loader.EngineLoader", throwOnError: true)!;
                entry.GetMethod("Install", BindingFlags.Public | BindingFlags.Static)!.Invoke(null, new object[] { engine });
            }

            s_installed = true;
        }
    }

    // Windows PowerShell has no load contexts: answer for any simple name shipped in
    // Dependencies/netstandard2.0, whatever version is asked for (it doubles as binding redirects).
    private static Assembly? ResolveDesktop(object? sender, ResolveEventArgs args)
    {
        string? directory = s_desktopDirectory;
        if (directory is null)
        {
            return null;
        }

        string name = new AssemblyName(args.Name).Name ?? "";
        string candidate = Path.Combine(directory, name + ".dll");
        return File.Exists(candidate) ? Assembly.LoadFrom(candidate) : null;
    }
}
