using System;
using System.Net;
using System.Net.Http;
using System.Text;
using PrecomputedTools.Engine.Boss;
using Xunit;

namespace PrecomputedTools.Engine.Tests.Boss;

/// <summary>The token never reaches a message through what the server controls: reason phrase, Location, bodies, cut or whole.</summary>
public sealed class BossRedactionTests
{
    private const string Token = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432";

    private static BossClient Client() =>
        new(new BossConnection(new Uri("https://api.bossdb.example/"), Token, "test"), BossDownloadTests.FastOptions());

    private static void AssertNoTokenRun(string text)
    {
        for (int i = 0; i + 6 <= Token.Length; i++)
        {
            Assert.DoesNotContain(Token.Substring(i, 6), text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void TheReasonPhraseIsRedacted()
    {
        using var client = Client();
        using var response = new HttpResponseMessage(HttpStatusCode.Unauthorized) { ReasonPhrase = "Unauthorized (Token " + Token + ")" };
        EngineException error = client.MapError(response, "", "the collection list", "x");
        Assert.Equal("BossAuthenticationFailed", error.ErrorId);
        AssertNoTokenRun(error.Message);
        Assert.Contains("***", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ALocationHoldingTheTokenIsRedacted()
    {
        using var client = Client();
        using var response = new HttpResponseMessage(HttpStatusCode.Found);
        response.Headers.Location = new Uri("https://elsewhere.example/login?token=" + Token);
        EngineException error = client.MapError(response, "", "a cutout", "x");
        Assert.Equal("BossRedirected", error.ErrorId);
        AssertNoTokenRun(error.Message);
        Assert.Contains("elsewhere.example", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ATokenCutByTheSnippetIsStillRedacted()
    {
        using var client = Client();
        // The token straddles the 200-character cut of the quoted body.
        string body = "<html><body>" + new string('x', 180) + " Token " + Token + " was rejected</body></html>";
        using var response = new HttpResponseMessage(HttpStatusCode.Forbidden) { Content = new StringContent(body, Encoding.UTF8, "text/html") };
        EngineException error = client.MapError(response, body, "a cutout", "x");
        AssertNoTokenRun(error.Message);
    }

    [Theory]
    [InlineData("prefix only: 9f8e7d6c5b end")]
    [InlineData("middle part: 5b4a39281706 end")]
    [InlineData("suffix: 98765432")]
    public void PartsOfTheTokenOfSixOrMoreCharactersAreRedacted(string text)
    {
        string redacted = BossClient.RedactSecret(text, Token);
        AssertNoTokenRun(redacted);
        Assert.Contains("***", redacted, StringComparison.Ordinal);
    }

    [Fact]
    public void OrdinaryTextIsLeftAlone() =>
        Assert.Equal("The collection 'lab' was not found (code 4000).", BossClient.RedactSecret("The collection 'lab' was not found (code 4000).", Token));
}
