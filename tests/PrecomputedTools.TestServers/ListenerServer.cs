using System;
using System.Net;
using System.Threading.Tasks;

namespace PrecomputedTools.TestServers;

/// <summary>
/// An HttpListener on a free port of 127.0.0.1 that hands every request to <see cref="Handle"/> on
/// its own task: the accept loop the scripted servers share.
/// </summary>
public abstract class ListenerServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private Task? _loop;

    protected ListenerServer()
    {
        Url = "http://127.0.0.1:" + Ports.GetFree();
        _listener.Prefixes.Add(Url + "/");
    }

    public string Url { get; }

    /// <summary>Starts accepting; called by the derived constructor once its own state is ready.</summary>
    protected void Start()
    {
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    protected abstract void Handle(HttpListenerContext context);

    private async Task LoopAsync()
    {
        while (true)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = Task.Run(() => Handle(context));
        }
    }

    public void Dispose()
    {
        _listener.Close();
        _loop?.Wait(2000);
        GC.SuppressFinalize(this);
    }
}

/// <summary>Answers every request with the status and body a script gives for its path.</summary>
public sealed class ScriptedHttpServer : ListenerServer
{
    private readonly Func<string, (int Status, string Body)> _answer;

    public ScriptedHttpServer(Func<string, (int Status, string Body)> answer)
    {
        _answer = answer;
        Start();
    }

    protected override void Handle(HttpListenerContext context)
    {
        (int status, string body) = _answer(context.Request.Url!.AbsolutePath);
        byte[] bytes = System.Text.Encoding.ASCII.GetBytes(body);
        context.Response.StatusCode = status;
        context.Response.ContentLength64 = bytes.Length;
        context.Response.OutputStream.Write(bytes);
        context.Response.Close();
    }
}
