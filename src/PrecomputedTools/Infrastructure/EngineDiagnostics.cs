using System.Collections.Generic;
using System.Runtime.CompilerServices;
using PrecomputedTools.Engine.Diagnostics;

namespace PrecomputedTools.Infrastructure;

/// <summary>
/// Support and test hook, not a cmdlet: reports where the engine's AWSSDK and Microsoft.Extensions
/// assemblies were loaded from. From PowerShell (by reflection, it is internal):
/// <c>[PrecomputedTools.PrecomputedDataset].Assembly.GetType('PrecomputedTools.Infrastructure.EngineDiagnostics').GetMethod('DependencyReport', [Reflection.BindingFlags]'NonPublic,Static').Invoke($null, @())</c>
/// </summary>
internal static class EngineDiagnostics
{
    internal static string[] DependencyReport()
    {
        EngineBootstrap.EnsureInstalled();
        return Run();
    }

    // Engine types only behind this method, so the engine loads when it is called.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static string[] Run()
    {
        IReadOnlyList<string> lines = DependencyProbe.Run();
        var result = new string[lines.Count];
        for (int i = 0; i < lines.Count; i++)
        {
            result[i] = lines[i];
        }

        return result;
    }
}
