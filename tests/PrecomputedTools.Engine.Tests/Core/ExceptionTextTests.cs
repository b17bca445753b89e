using System;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Tasks;
using PrecomputedTools.Engine.Boss;
using PrecomputedTools.Engine.Storage;
using Xunit;

namespace PrecomputedTools.Engine.Tests.Core;

public sealed class ExceptionTextTests
{
    [Fact]
    public void InnerCausesReplaceSeeInnerException()
    {
        var ex = new InvalidOperationException(
            "The SSL connection could not be established, see inner exception.",
            new IOException("Cannot determine the frame size or a corrupted frame was received."));
        Assert.Equal("The SSL connection could not be established: Cannot determine the frame size or a corrupted frame was received", ExceptionText.Full(ex));
    }

    [Fact]
    public void RepeatedMessagesAppearOnce()
    {
        var ex = new IOException("Connection refused (127.0.0.1:1)", new SocketException((int)SocketError.ConnectionRefused));
        string text = ExceptionText.Full(ex);
        Assert.StartsWith("Connection refused (127.0.0.1:1)", text);
        Assert.Equal(text.IndexOf("Connection refused", StringComparison.Ordinal), text.LastIndexOf("Connection refused", StringComparison.Ordinal));
    }

    // A plain-HTTP server asked for https: the TLS handshake fails, as with a wrong port or a proxy.
    private static (TcpListener Listener, Task Serving) PlainHttpServer()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        Task serving = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    using TcpClient client = await listener.AcceptTcpClientAsync();
                    using NetworkStream stream = client.GetStream();
                    byte[] answer = Encoding.ASCII.GetBytes("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    await stream.WriteAsync(answer);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
            {
                // The test is over.
            }
        });
        return (listener, serving);
    }

    [Fact]
    public async Task AnHttpsStoreSaysWhyTheTlsHandshakeFailed()
    {
        (TcpListener listener, Task serving) = PlainHttpServer();
        try
        {
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            using var store = new HttpStore(new Uri($"https://127.0.0.1:{port}/data/"), timeout: TimeSpan.FromSeconds(20));
            EngineException error = Assert.Throws<EngineException>(() => store.Read("info", 1 << 20));
            Assert.Equal("HttpUnreachable", error.ErrorId);
            Assert.DoesNotContain("inner exception", error.Message, StringComparison.OrdinalIgnoreCase);
            Assert.Matches("SSL|TLS|frame|handshake", error.Message);
        }
        finally
        {
            listener.Stop();
            await serving.WaitAsync(TimeSpan.FromSeconds(5));
        }
    }

    [Fact]
    public async Task TheBossClientSaysWhyTheTlsHandshakeFailed()
    {
        (TcpListener listener, Task serving) = PlainHttpServer();
        try
        {
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            using var client = new BossClient(new BossConnection(new Uri($"https://127.0.0.1:{port}/"), "0123456789abcdef0123456789abcdef01234567", "test"), Boss.BossDownloadTests.FastOptions());
            EngineException error = await Assert.ThrowsAsync<EngineException>(() => client.ListCollectionsAsync(default));
            Assert.Equal("BossServerUnavailable", error.ErrorId);
            Assert.DoesNotContain("inner exception", error.Message, StringComparison.OrdinalIgnoreCase);
            Assert.Matches("SSL|TLS|frame|handshake", error.Message);
        }
        finally
        {
            listener.Stop();
            await serving.WaitAsync(TimeSpan.FromSeconds(5));
        }
    }
}
