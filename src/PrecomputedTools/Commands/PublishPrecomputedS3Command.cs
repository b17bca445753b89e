using System;
using System.Globalization;
using System.Management.Automation;
using System.Threading.Tasks;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Publishing;
using PrecomputedTools.Infrastructure;

namespace PrecomputedTools.Commands;

/// <summary>
/// <para type="synopsis">Uploads a precomputed dataset to S3 or an S3-compatible store so neuroglancer can load it.</para>
/// </summary>
[Cmdlet(VerbsData.Publish, "PrecomputedS3", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = DefaultSet)]
[OutputType(typeof(PublishedDataset))]
public sealed class PublishPrecomputedS3Command : PrecomputedCmdlet
{
    private const string DefaultSet = "Dataset";
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";

    /// <summary>The dataset to publish (from New-PrecomputedInfo, ConvertTo-CompressedSegmentation, ...).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = DefaultSet)]
    public PrecomputedDataset InputObject { get; set; } = null!;

    /// <summary>The dataset folder (the folder holding "info"), instead of a dataset object; wildcards must match one folder.</summary>
    [Parameter(Mandatory = true, ParameterSetName = PathSet)]
    [SupportsWildcards]
    public string Path { get; set; } = "";

    /// <summary>The dataset folder, taken literally (no wildcard expansion).</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = LiteralPathSet)]
    [Alias("PSPath", "LP")]
    public string LiteralPath { get; set; } = "";

    /// <summary>The bucket. It is created when it does not exist.</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [Alias("Bucket")]
    [ValidateNotNullOrEmpty]
    public string BucketName { get; set; } = "";

    /// <summary>Key prefix under which the dataset's files go (default: the dataset's folder name). Use "/" for the bucket root.</summary>
    [Parameter(Position = 2)]
    [Alias("Prefix")]
    public string? KeyPrefix { get; set; }

    /// <summary>AWS region of the bucket (for example us-west-2); for other endpoints, the signing region (default us-east-1).</summary>
    [Parameter]
    public string? Region { get; set; }

    /// <summary>URL of an S3-compatible endpoint (MinIO, Ceph, s3rver, ...). Path-style requests are used.</summary>
    [Parameter]
    public Uri? EndpointUrl { get; set; }

    /// <summary>A profile from the shared AWS credentials or config file.</summary>
    [Parameter]
    public string? ProfileName { get; set; }

    /// <summary>Access key id as the user name and secret access key as the password.</summary>
    [Parameter]
    [Credential]
    public PSCredential? Credential { get; set; }

    /// <summary>Also write the bucket CORS rule neuroglancer needs (GET/HEAD from any origin, exposed Content-Encoding/Range/Length/ETag). Replaces the bucket's CORS configuration; asks for confirmation.</summary>
    [Parameter]
    public SwitchParameter SetCors { get; set; }

    /// <summary>Also make the objects under the prefix publicly readable with a bucket policy (read only, scoped to the prefix). Replaces the bucket policy; asks for confirmation.</summary>
    [Parameter]
    public SwitchParameter SetPublicReadPolicy { get; set; }

    /// <summary>Uploads in flight at once (default 16).</summary>
    [Parameter]
    [ValidateRange(1, 1024)]
    public int ThrottleLimit { get; set; } = 16;

    /// <summary>Upload every object even when an identical one (same size and MD5) is already there, and do not ask before changing CORS or the policy.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void BeginProcessing()
    {
        base.BeginProcessing();
        if (ProfileName is { Length: > 0 } && Credential is not null)
        {
            ThrowTerminatingError(NewError("ConflictingCredentials", ErrorCategory.InvalidArgument, "Give either -ProfileName or -Credential, not both.", null));
        }
    }

    protected override void ProcessRecord()
    {
        PrecomputedDataset dataset;
        if (ParameterSetName is PathSet or LiteralPathSet)
        {
            string folder = ParameterSetName == PathSet ? ResolveExistingPath(Path, literal: false) : ResolveExistingPath(LiteralPath, literal: true);
            try
            {
                dataset = PrecomputedDataset.Load(folder);
            }
            catch (EngineException ex)
            {
                WriteError(ToErrorRecord(ex));
                return;
            }
        }
        else
        {
            dataset = InputObject;
        }

        string prefix = KeyPrefix ?? dataset.Name;
        if (dataset.IsPlanned)
        {
            DescribePlanned(dataset, prefix);
            return;
        }

        PublishPlan plan;
        try
        {
            plan = PublishPlan.Create(dataset.Path, dataset.MeshDirectory);
        }
        catch (EngineException ex)
        {
            WriteError(ToErrorRecord(ex));
            return;
        }

        S3PublishOptions options = BuildOptions(prefix);
        string s3Uri = S3Publisher.FormatS3Uri(BucketName, prefix);
        string target = string.Format(CultureInfo.InvariantCulture, "{0}/ ({1:N0} objects, {2:N1} MB)", s3Uri, plan.Items.Count, plan.TotalBytes / 1e6);
        if (!ShouldProcess(target, "Upload precomputed dataset"))
        {
            // -WhatIf (or a "no"): also report what -SetCors/-SetPublicReadPolicy would have done.
            if (SetCors)
            {
                ShouldProcess("s3://" + BucketName, "Replace the bucket CORS configuration with the neuroglancer rule");
            }

            if (SetPublicReadPolicy)
            {
                ShouldProcess(s3Uri + "/*", "Make objects publicly readable (bucket policy)");
            }

            return;
        }

        using S3Publisher publisher = NewPublisher(options);

        bool cors = SetCors && ShouldProcessHighImpact("s3://" + BucketName, "Replace the bucket CORS configuration with the neuroglancer rule");
        bool policy = SetPublicReadPolicy && ShouldProcessHighImpact(s3Uri + "/*", "Make objects publicly readable (bucket policy)");
        var monitor = new OperationMonitor("Publish-PrecomputedS3 " + dataset.Name, "objects");
        Outcome outcome = RunEngine(
            async (m, ct) =>
            {
                try
                {
                    S3PublishResult result = await publisher.PublishAsync(plan, m, ct).ConfigureAwait(false);
                    if (cors)
                    {
                        m.Phase = "CORS";
                        await publisher.SetCorsAsync(ct).ConfigureAwait(false);
                        m.Verbose($"Set the neuroglancer CORS rule on bucket '{options.BucketName}'.");
                    }

                    if (policy)
                    {
                        m.Phase = "Bucket policy";
                        await publisher.SetPublicReadPolicyAsync(m, ct).ConfigureAwait(false);
                        m.Verbose($"Set a public-read policy on {publisher.S3Uri}/*.");
                    }

                    return new Outcome(result, null);
                }
                catch (EngineException ex)
                {
                    return new Outcome(null, ex);
                }
            },
            monitor);
        if (outcome.Error is not null)
        {
            WriteError(ToErrorRecord(outcome.Error));
            return;
        }

        if (!cors && EndpointUrl is null)
        {
            WriteVerbose("The bucket's CORS configuration was not changed; neuroglancer needs the rule -SetCors writes.");
        }

        WriteObject(new PublishedDataset(dataset, outcome.Result!));
    }

    // A dataset an earlier -WhatIf step only planned: say what would be uploaded; nothing to count yet.
    private void DescribePlanned(PrecomputedDataset dataset, string prefix)
    {
        RequireWhatIfFor(dataset);

        string s3Uri = S3Publisher.FormatS3Uri(BucketName, prefix);
        ShouldProcess($"{s3Uri}/ (the planned dataset {dataset.Path}, {dataset.Scales.Length} scales{(dataset.MeshDirectory is null ? "" : " and meshes")})", "Upload precomputed dataset");
        if (SetCors)
        {
            ShouldProcess("s3://" + BucketName, "Replace the bucket CORS configuration with the neuroglancer rule");
        }

        if (SetPublicReadPolicy)
        {
            ShouldProcess(s3Uri + "/*", "Make objects publicly readable (bucket policy)");
        }
    }

    /// <summary>ShouldProcess with the semantics of ConfirmImpact High for one action of a Medium-impact command.</summary>
    private bool ShouldProcessHighImpact(string target, string action)
    {
        if (!ShouldProcess(target, action))
        {
            return false;
        }

        if (Force || MyInvocation.BoundParameters.ContainsKey("Confirm"))
        {
            // -Confirm already prompted inside ShouldProcess; -Confirm:$false asks not to.
            return true;
        }

        object? preference = SessionState.PSVariable.GetValue("ConfirmPreference");
        ConfirmImpact level = preference is ConfirmImpact c ? c : LanguagePrimitives.ConvertTo<ConfirmImpact>(preference ?? ConfirmImpact.High);
        if (level == ConfirmImpact.None || ConfirmImpact.High < level)
        {
            return true;
        }

        return ShouldContinue($"{action} on '{target}'?", "Confirm");
    }

    private S3PublishOptions BuildOptions(string prefix)
    {
        var options = new S3PublishOptions
        {
            BucketName = BucketName,
            KeyPrefix = prefix,
            Region = Region,
            EndpointUrl = EndpointUrl,
            ThrottleLimit = ThrottleLimit,
            Force = Force,
        };
        if (ProfileName is { Length: > 0 })
        {
            options.ProfileName = ProfileName;
        }
        else if (Credential is not null)
        {
            options.AccessKey = Credential.UserName;
            options.SecretKey = Credential.GetNetworkCredential().Password;
        }

        return options;
    }

    private S3Publisher NewPublisher(S3PublishOptions options)
    {
        try
        {
            return new S3Publisher(options);
        }
        catch (EngineException ex)
        {
            ThrowTerminatingError(ToErrorRecord(ex));
            throw;
        }
        catch (ArgumentException ex)
        {
            ThrowTerminatingError(NewError("InvalidS3Settings", ErrorCategory.InvalidArgument, ex.Message, BucketName, inner: ex));
            throw;
        }
    }

    private sealed class Outcome
    {
        public Outcome(S3PublishResult? result, EngineException? error)
        {
            Result = result;
            Error = error;
        }

        public S3PublishResult? Result { get; }

        public EngineException? Error { get; }
    }
}
