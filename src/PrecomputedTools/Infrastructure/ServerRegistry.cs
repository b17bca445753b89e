using System.Collections.Generic;
using System.Linq;
using System.Threading;

namespace PrecomputedTools.Infrastructure;

/// <summary>The local servers started in this process; they keep running until stopped or the process ends.</summary>
internal static class ServerRegistry
{
    private static readonly object s_gate = new();
    private static readonly Dictionary<int, PrecomputedServer> s_servers = new();
    private static int s_nextId;

    public static int NextId() => Interlocked.Increment(ref s_nextId);

    public static void Add(PrecomputedServer server)
    {
        lock (s_gate)
        {
            s_servers[server.Id] = server;
        }
    }

    public static bool Remove(int id)
    {
        lock (s_gate)
        {
            return s_servers.Remove(id);
        }
    }

    public static PrecomputedServer[] All()
    {
        lock (s_gate)
        {
            return s_servers.Values.OrderBy(s => s.Id).ToArray();
        }
    }
}
