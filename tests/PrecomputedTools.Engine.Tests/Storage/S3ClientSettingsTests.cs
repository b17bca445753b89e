using System;
using Amazon.Runtime;
using Amazon.S3;
using PrecomputedTools.Engine.Publishing;
using PrecomputedTools.Engine.Storage;
using Xunit;

namespace PrecomputedTools.Engine.Tests.Stores;

/// <summary>The S3 client every path of the engine builds, through S3ConnectionOptions.CreateClient; no server needed.</summary>
public class S3ClientSettingsTests
{
    [Fact]
    public void Endpoint_client_uses_path_style_plain_bodies_and_no_sdk_retries()
    {
        var connection = new S3ConnectionOptions { EndpointUrl = new Uri("http://127.0.0.1:9"), AccessKey = "a", SecretKey = "b", MaxInFlight = 24 };

        using AmazonS3Client client = connection.CreateClient(out string signingRegion);
        var config = (AmazonS3Config)client.Config;

        Assert.Equal("us-east-1", signingRegion);
        Assert.True(config.ForcePathStyle);
        Assert.StartsWith("http://127.0.0.1:9", config.ServiceURL, StringComparison.Ordinal);
        Assert.Equal("us-east-1", config.AuthenticationRegion);
        Assert.Equal(0, config.MaxErrorRetry);
        Assert.Equal(RequestChecksumCalculation.WHEN_REQUIRED, config.RequestChecksumCalculation);
        Assert.Equal(ResponseChecksumValidation.WHEN_REQUIRED, config.ResponseChecksumValidation);
        Assert.Equal(TimeSpan.FromMinutes(5), config.Timeout);
        Assert.Equal(24, config.MaxConnectionsPerServer);
    }

    [Fact]
    public void Aws_client_signs_for_the_given_region()
    {
        var connection = new S3ConnectionOptions { Region = "eu-west-2", AccessKey = "a", SecretKey = "b" };

        using AmazonS3Client client = connection.CreateClient(out string signingRegion);

        Assert.Equal("eu-west-2", signingRegion);
        Assert.Equal("eu-west-2", client.Config.RegionEndpoint?.SystemName);
        Assert.Equal(0, client.Config.MaxErrorRetry);
    }

    [Fact]
    public void Publish_options_carry_every_connection_setting()
    {
        var publish = new S3PublishOptions
        {
            BucketName = "bucket",
            Region = "ca-central-1",
            EndpointUrl = new Uri("http://127.0.0.1:9"),
            ProfileName = "profile",
            AccessKey = "a",
            SecretKey = "b",
            SessionToken = "c",
            ThrottleLimit = 7,
            MaxAttempts = 3,
        };

        S3ConnectionOptions connection = publish.ToConnectionOptions();

        Assert.Equal("ca-central-1", connection.Region);
        Assert.Equal(publish.EndpointUrl, connection.EndpointUrl);
        Assert.Equal("profile", connection.ProfileName);
        Assert.Equal("a", connection.AccessKey);
        Assert.Equal("b", connection.SecretKey);
        Assert.Equal("c", connection.SessionToken);
        Assert.Equal(7, connection.MaxInFlight);
        Assert.Equal(3, connection.MaxAttempts);
    }

    [Fact]
    public void Publisher_url_uses_the_signing_region_of_the_shared_client()
    {
        using var publisher = new S3Publisher(new S3PublishOptions { BucketName = "bucket", KeyPrefix = "data/set", Region = "eu-west-2", AccessKey = "a", SecretKey = "b" });

        Assert.Equal("https://bucket.s3.eu-west-2.amazonaws.com/data/set", publisher.DatasetUrl);
    }

    [Fact]
    public void Unknown_profile_fails_the_same_way_for_store_and_publisher()
    {
        string profile = "pt-no-such-profile-" + Guid.NewGuid().ToString("N");

        EngineException fromStore = Assert.Throws<EngineException>(() => new S3Store("bucket", "", new S3ConnectionOptions { ProfileName = profile }));
        EngineException fromPublisher = Assert.Throws<EngineException>(() => new S3Publisher(new S3PublishOptions { BucketName = "bucket", ProfileName = profile }));

        Assert.Equal("S3ProfileNotFound", fromStore.ErrorId);
        Assert.Equal(fromStore.ErrorId, fromPublisher.ErrorId);
        Assert.Equal(fromStore.Message, fromPublisher.Message);
    }
}
