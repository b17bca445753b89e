using System;
using System.Collections.Generic;
using System.Globalization;
using System.Net.Http;
using System.Reflection;
using Amazon.Runtime;
using Amazon.S3;
using Microsoft.Extensions.DependencyInjection;
using PrecomputedTools.Engine.Storage;

namespace PrecomputedTools.Engine.Diagnostics;

/// <summary>
/// Where the engine's third-party dependencies were loaded from. Used by the isolation tests (and
/// for support): it constructs an S3 client and an HTTP client factory, so AWSSDK.Core, AWSSDK.S3
/// and Microsoft.Extensions.Http really load, then reports each assembly's identity, file and load
/// context. Nothing is sent over the network.
/// </summary>
public static class DependencyProbe
{
    /// <summary>One line per dependency: "name|version|load context|file".</summary>
    public static IReadOnlyList<string> Run()
    {
        // Built by the engine's own client factory, so the probe loads what real S3 work loads.
        var connection = new S3ConnectionOptions { EndpointUrl = new Uri("http://127.0.0.1:9"), AccessKey = "probe", SecretKey = "probe" };
        using AmazonS3Client client = connection.CreateClient(out _);
        using ServiceProvider services = new ServiceCollection().AddHttpClient().BuildServiceProvider();
        using HttpClient http = services.GetRequiredService<IHttpClientFactory>().CreateClient("probe");
        var lines = new List<string>();
        foreach (Assembly assembly in new[]
        {
            typeof(AmazonS3Client).Assembly,
            typeof(AWSCredentials).Assembly,
            typeof(Microsoft.Extensions.Http.HttpClientFactoryOptions).Assembly,
            typeof(DependencyProbe).Assembly,
        })
        {
            AssemblyName name = assembly.GetName();
            lines.Add(string.Format(CultureInfo.InvariantCulture, "{0}|{1}|{2}|{3}", name.Name, name.Version, LoadContextName(assembly), assembly.Location));
        }

        // The client must be usable, not only loadable.
        if (client.Config.RegionEndpoint is null && string.IsNullOrEmpty(client.Config.ServiceURL))
        {
            throw new InvalidOperationException("The S3 client lost its configuration.");
        }

        return lines;
    }

    private static string LoadContextName(Assembly assembly)
    {
#if NET
        return System.Runtime.Loader.AssemblyLoadContext.GetLoadContext(assembly)?.Name ?? "";
#else
        return AppDomain.CurrentDomain.FriendlyName;
#endif
    }
}
