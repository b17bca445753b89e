using System.IO;
using System.Threading.Tasks;
using PrecomputedTools.Engine.Publishing;
using PrecomputedTools.TestServers;
using Xunit;

namespace PrecomputedTools.Engine.Tests.Publishing;

/// <summary>Debian's nginx running the generated server block over a hand-made dataset.</summary>
public class NginxHostingTests
{
    [Theory]
    [InlineData("/", false)]
    [InlineData("/", true)]
    [InlineData("/data/precomputed/", true)]
    public async Task GeneratedConfigServesTheDatasetAsTheViewerNeeds(string location, bool colonFree)
    {
        string root = RepoPaths.NewScratch("nginx-root");
        HandMadeDataset ds = HandMadeDataset.Write(root, "seg", colonFree);
        int port = Ports.GetFree();
        string block = NginxConfig.Generate(new NginxConfigOptions { Root = root, Port = port, ListenAddress = "127.0.0.1", ServerName = "localhost", Location = location });
        Assert.DoesNotContain("try_files $uri $uri/", block);
        Assert.Contains("gzip_static always;", block);
        Assert.Contains("gzip        off;", block);
        using NginxInstance nginx = NginxInstance.Start(block, port);
        await HostingChecks.AssertServesDatasetAsync(nginx.Url + NginxConfig.NormalizeLocation(location) + "seg", ds);
        Assert.Contains("GET /", nginx.AccessLog);
        Directory.Delete(root, recursive: true);
    }

    [Fact]
    public void GeneratedBlockRejectsValuesThatWouldInjectDirectives()
    {
        var ex = Assert.Throws<EngineException>(() => NginxConfig.Generate(new NginxConfigOptions { Root = "/srv/data", ServerName = "x; include /etc/passwd", Port = 80 }));
        Assert.Equal("InvalidNginxValue", ex.ErrorId);
        Assert.Equal("InvalidPort", Assert.Throws<EngineException>(() => NginxConfig.Generate(new NginxConfigOptions { Root = "/srv/data", Port = 0 })).ErrorId);
    }
}
