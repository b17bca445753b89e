using System;
using System.IO;
using System.Reflection;
using System.Runtime.Loader;

namespace PrecomputedTools.Loader;

/// <summary>
/// The private load context that holds the engine and everything it depends on (AWSSDK,
/// Microsoft.Extensions.*, LibTiff), so another module's copies of those never meet ours.
/// </summary>
internal sealed class EngineLoadContext : AssemblyLoadContext
{
    private readonly AssemblyDependencyResolver _resolver;

    public EngineLoadContext(string engineAssemblyPath)
        : base("PrecomputedTools", isCollectible: false)
    {
        _resolver = new AssemblyDependencyResolver(engineAssemblyPath);
    }

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        string? path = _resolver.ResolveAssemblyToPath(assemblyName);
        // Null falls back to the default context: framework assemblies are shared on purpose.
        return path is null ? null : LoadFromAssemblyPath(path);
    }

    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        string? path = _resolver.ResolveUnmanagedDllToPath(unmanagedDllName);
        return path is null ? IntPtr.Zero : LoadUnmanagedDllFromPath(path);
    }
}

/// <summary>Called once per process by the cmdlet assembly's module initializer (by reflection).</summary>
public static class EngineLoader
{
    private static readonly object s_gate = new();
    private static EngineLoadContext? s_context;
    private static string? s_engineName;

    /// <summary>
    /// Makes the default context answer requests for the engine assembly (and only it) from the
    /// private context. Safe to call more than once.
    /// </summary>
    public static void Install(string engineAssemblyPath)
    {
        lock (s_gate)
        {
            if (s_context is not null)
            {
                return;
            }

            if (!File.Exists(engineAssemblyPath))
            {
                throw new FileNotFoundException("The PrecomputedTools engine assembly is missing.", engineAssemblyPath);
            }

            s_engineName = AssemblyName.GetAssemblyName(engineAssemblyPath).Name;
            s_context = new EngineLoadContext(engineAssemblyPath);
            AssemblyLoadContext.Default.Resolving += ResolveEngine;
        }
    }

    private static Assembly? ResolveEngine(AssemblyLoadContext context, AssemblyName name)
    {
        EngineLoadContext? engine = s_context;
        if (engine is null || !string.Equals(name.Name, s_engineName, StringComparison.Ordinal))
        {
            return null;
        }

        return engine.LoadFromAssemblyName(name);
    }
}
