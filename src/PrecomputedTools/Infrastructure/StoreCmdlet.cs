using System;
using System.Management.Automation;
using System.Net;
using PrecomputedTools.Engine.Stages;
using PrecomputedTools.Engine.Storage;

namespace PrecomputedTools.Infrastructure;

/// <summary>
/// Base of the cmdlets that read or write datasets: a location is a file-system path (resolved by
/// PowerShell), a file:// URL, s3://bucket/prefix, gs://bucket/prefix, or http(s)://… (read-only,
/// also with the viewer's precomputed:// in front). S3 settings are taken as Publish-PrecomputedS3 takes them.
/// </summary>
public abstract class StoreCmdlet : PrecomputedCmdlet
{
    /// <summary>For s3:// and gs:// locations: the AWS region of the bucket, or the signing region of another endpoint (default us-east-1).</summary>
    [Parameter]
    public string? Region { get; set; }

    /// <summary>For s3:// locations: the URL of an S3-compatible endpoint (MinIO, Ceph, s3rver, moto, ...); requests use path style. gs:// uses https://storage.googleapis.com unless this is given.</summary>
    [Parameter]
    public Uri? EndpointUrl { get; set; }

    /// <summary>For s3:// locations: a profile from the shared AWS credentials or config file.</summary>
    [Parameter]
    public string? ProfileName { get; set; }

    /// <summary>For s3:// and gs:// locations: access key id as the user name and secret as the password (for gs://, an HMAC key of Cloud Storage's interoperability settings).</summary>
    [Parameter]
    [Credential]
    public PSCredential? Credential { get; set; }

    protected override void BeginProcessing()
    {
        base.BeginProcessing();
        if (ProfileName is { Length: > 0 } && Credential is not null)
        {
            ThrowTerminatingError(NewError("ConflictingCredentials", ErrorCategory.InvalidArgument, "Give either -ProfileName or -Credential, not both.", null));
        }
    }

    /// <summary>The store settings given on the command line (credentials, endpoint, region); <paramref name="inherited"/> fills what was not given.</summary>
    internal StoreOptions BuildStoreOptions(StoreOptions? inherited = null, int? maxInFlight = null)
    {
        StoreOptions options = inherited?.Clone() ?? new StoreOptions();
        S3ConnectionOptions s3 = options.S3;
        if (Region is { Length: > 0 })
        {
            s3.Region = Region;
        }

        if (EndpointUrl is not null)
        {
            s3.EndpointUrl = EndpointUrl;
        }

        if (ProfileName is { Length: > 0 })
        {
            s3.ProfileName = ProfileName;
            s3.AccessKey = s3.SecretKey = s3.SessionToken = null;
        }

        if (Credential is not null)
        {
            NetworkCredential plain = Credential.GetNetworkCredential();
            s3.AccessKey = plain.UserName;
            s3.SecretKey = plain.Password;
            s3.ProfileName = null;
        }

        if (maxInFlight is { } n)
        {
            options.MaxInFlight = Math.Max(options.MaxInFlight, n);
        }

        return options;
    }

    /// <summary>
    /// Saves a stage's plan instead of running it (-PlanPath): to a file or an s3:// object every
    /// worker reads; returns the location saved. An existing plan is replaced only with -Force.
    /// </summary>
    internal string SavePlan(Engine.Stages.StagePlan plan, string planPath, StoreOptions options, bool force)
    {
        string location = ResolvePlanLocation(planPath);
        using Engine.Stages.PlanLocation saved = Engine.Stages.PlanLocation.Open(location, options);
        saved.Save(plan, force);
        WriteVerbose($"Saved the {plan.Stage} plan ({plan.Tasks.Count} tasks in {plan.PhaseCount} phase(s)) to '{location}'.");
        return location;
    }

    /// <summary>Opens a saved plan's location (a missing plan is PlanNotFound when read).</summary>
    internal Engine.Stages.PlanLocation OpenPlan(string planPath, StoreOptions options) =>
        Engine.Stages.PlanLocation.Open(ResolvePlanLocation(planPath), options);

    /// <summary>A plan location: URLs pass through, paths become full file-system paths.</summary>
    internal string ResolvePlanLocation(string planPath) => StoreLocation.IsUri(planPath) ? planPath : ResolveOutputPath(planPath);

    /// <summary>A location to read: URLs pass through; paths must exist (wildcards expanded unless literal).</summary>
    internal string ResolveInputLocation(string location, bool literal = false) =>
        StoreLocation.IsUri(location) ? location : ResolveExistingPath(location, literal);

    /// <summary>A location to write: URLs pass through (http(s) is refused: read-only); paths may not exist yet.</summary>
    internal string ResolveOutputLocation(string location)
    {
        if (!StoreLocation.IsUri(location))
        {
            return ResolveOutputPath(location);
        }

        string stripped = StoreLocation.StripViewerPrefix(location);
        if (stripped.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || stripped.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            throw new Engine.EngineException(
                "StoreIsReadOnly",
                Engine.EngineErrorKind.InvalidArgument,
                $"{location} is an http(s) location, which is read-only; write to a folder or an s3:// location instead.",
                location);
        }

        return location;
    }
}
