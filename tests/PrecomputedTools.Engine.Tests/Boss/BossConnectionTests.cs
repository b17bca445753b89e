using System;
using System.Collections.Generic;
using System.IO;
using PrecomputedTools.Engine.Boss;
using Xunit;

namespace PrecomputedTools.Engine.Tests.Boss;

public class BossConnectionTests
{
    private const string FileToken = "1111111111111111111111111111111111111111";
    private const string InternToken = "2222222222222222222222222222222222222222";
    private const string EnvToken = "3333333333333333333333333333333333333333";
    private const string BossToken = "4444444444444444444444444444444444444444";

    private static Func<string, string?> Env(Dictionary<string, string> values) => k => values.TryGetValue(k, out string? v) ? v : null;

    private static (string Home, string ConfigFile) Files(bool intern)
    {
        string home = TestData.NewScratch("boss-home");
        if (intern)
        {
            Directory.CreateDirectory(Path.Combine(home, ".intern"));
            File.WriteAllText(Path.Combine(home, ".intern", "intern.cfg"), "[Default]\nprotocol = https\nhost = api.theboss.io\ntoken = " + InternToken + "\n");
        }

        string cfg = Path.Combine(home, "neurodata.cfg");
        File.WriteAllText(cfg, "# ndpull config\n[Default]\nprotocol = https\nhost = api.boss.neurodata.io\ntoken: " + FileToken + "\n");
        return (home, cfg);
    }

    private static Dictionary<string, string> AllEnv() => new()
    {
        ["INTERN_PROTOCOL"] = "https",
        ["INTERN_HOST"] = "env.example.org",
        ["INTERN_TOKEN"] = EnvToken,
        ["BOSS_TOKEN"] = BossToken,
    };

    [Fact]
    public void ParametersWinOverEverything()
    {
        var (home, cfg) = Files(intern: true);
        var c = BossConnection.Resolve(new BossConnectionRequest { BaseUri = new Uri("http://127.0.0.1:9/"), Token = "abc", ConfigFile = cfg }, Env(AllEnv()), home);
        Assert.Equal("http://127.0.0.1:9/", c.BaseUri.ToString());
        Assert.Equal("abc", c.Token);
        Assert.Equal("parameters", c.SettingsSource);
    }

    [Fact]
    public void ConfigFileBeatsInternFileAndEnvironment()
    {
        var (home, cfg) = Files(intern: true);
        var c = BossConnection.Resolve(new BossConnectionRequest { ConfigFile = cfg }, Env(AllEnv()), home);
        Assert.Equal("api.boss.neurodata.io", c.BaseUri.Host);
        Assert.Equal(FileToken, c.Token);
        Assert.Contains("neurodata.cfg", c.SettingsSource);
    }

    [Fact]
    public void InternFileBeatsEnvironment()
    {
        var (home, _) = Files(intern: true);
        var c = BossConnection.Resolve(new BossConnectionRequest(), Env(AllEnv()), home);
        Assert.Equal("api.theboss.io", c.BaseUri.Host);
        Assert.Equal(InternToken, c.Token);
    }

    [Fact]
    public void VolumeServiceSectionReplacesDefaultWhole()
    {
        string home = TestData.NewScratch("boss-home");
        Directory.CreateDirectory(Path.Combine(home, ".intern"));
        File.WriteAllText(Path.Combine(home, ".intern", "intern.cfg"), "[Default]\nprotocol = https\nhost = a.example\ntoken = x\n\n[Volume Service]\nPROTOCOL = http\nhost = localhost:8080\ntoken = y\n");
        var c = BossConnection.Resolve(new BossConnectionRequest(), Env(new()), home);
        Assert.Equal("http://localhost:8080/", c.BaseUri.ToString());
        Assert.Equal("y", c.Token);
    }

    [Fact]
    public void IncompleteSectionIsAnError()
    {
        string home = TestData.NewScratch("boss-home");
        string cfg = Path.Combine(home, "bad.cfg");
        File.WriteAllText(cfg, "[Default]\nprotocol = https\nhost = a.example\n");
        var ex = Assert.Throws<EngineException>(() => BossConnection.Resolve(new BossConnectionRequest { ConfigFile = cfg }, Env(new()), home));
        Assert.Equal("BossConfigInvalid", ex.ErrorId);
    }

    [Fact]
    public void InternEnvironmentNeedsAllThree()
    {
        string home = TestData.NewScratch("boss-home");
        var env = AllEnv();
        var c = BossConnection.Resolve(new BossConnectionRequest(), Env(env), home);
        Assert.Equal("env.example.org", c.BaseUri.Host);
        Assert.Equal(EnvToken, c.Token);

        env.Remove("INTERN_HOST");
        c = BossConnection.Resolve(new BossConnectionRequest(), Env(env), home);
        Assert.Equal(BossConnection.NeurodataHost, c.BaseUri.Host);
        Assert.Equal(BossToken, c.Token);
    }

    [Fact]
    public void NothingGivesThePublicDefault()
    {
        string home = TestData.NewScratch("boss-home");
        var c = BossConnection.Resolve(new BossConnectionRequest(), Env(new()), home);
        Assert.Equal("https://api.bossdb.io/", c.BaseUri.ToString());
        Assert.Equal("public", c.Token);
        Assert.Equal("the public default", c.SettingsSource);
    }

    [Fact]
    public void FileTokenNeverGoesToAnotherHost()
    {
        var (home, cfg) = Files(intern: true);
        var c = BossConnection.Resolve(new BossConnectionRequest { BaseUri = new Uri("http://127.0.0.1:5000"), ConfigFile = cfg }, Env(new()), home);
        Assert.Null(c.Token);

        c = BossConnection.Resolve(new BossConnectionRequest { BaseUri = new Uri("https://api.theboss.io") }, Env(new()), home);
        Assert.Equal(InternToken, c.Token);
    }

    [Fact]
    public void PublicTokenOnlyForBossDb()
    {
        string home = TestData.NewScratch("boss-home");
        Assert.Equal("public", BossConnection.Resolve(new BossConnectionRequest { BaseUri = new Uri("https://api.bossdb.io") }, Env(new()), home).Token);
        Assert.Null(BossConnection.Resolve(new BossConnectionRequest { BaseUri = new Uri("https://other.example") }, Env(new()), home).Token);
    }

    [Fact]
    public void TokenNeverInTextAndHttpWarns()
    {
        var monitor = new OperationMonitor();
        var c = BossConnection.Resolve(new BossConnectionRequest { BaseUri = new Uri("http://boss.example.org"), Token = FileToken }, Env(new()), null, monitor);
        Assert.DoesNotContain(FileToken, c.ToString());
        var texts = new List<string>();
        while (monitor.TryDequeue(out EngineMessage m))
        {
            texts.Add(m.Level + ": " + m.Text);
        }

        Assert.Contains(texts, t => t.StartsWith("Warning", StringComparison.Ordinal) && t.Contains("plain http"));
        Assert.All(texts, t => Assert.DoesNotContain(FileToken, t));
    }
}
