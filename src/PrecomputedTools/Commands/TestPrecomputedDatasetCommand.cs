using System;
using System.Management.Automation;
using PrecomputedTools.Engine.Stages;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Storage;
using PrecomputedTools.Infrastructure;

namespace PrecomputedTools.Commands;

/// <summary>
/// <para type="synopsis">Checks a precomputed dataset: info, every chunk present, decodable and of the right shape.</para>
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "PrecomputedDataset", DefaultParameterSetName = InputSet)]
[OutputType(typeof(DatasetValidationReport), typeof(bool))]
public sealed class TestPrecomputedDatasetCommand : StoreCmdlet
{
    private const string InputSet = "InputObject";
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";

    /// <summary>The dataset to check.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = InputSet)]
    public PrecomputedDataset InputObject { get; set; } = null!;

    /// <summary>Location of the dataset (folder, s3://, gs://, or http(s):// URL), instead of -InputObject.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = PathSet)]
    [SupportsWildcards]
    public string Path { get; set; } = "";

    /// <summary>Location of the dataset, taken literally (no wildcard expansion).</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = LiteralPathSet)]
    [Alias("PSPath", "LP")]
    public string LiteralPath { get; set; } = "";

    /// <summary>Also write each problem as a warning (the report always lists them in Problems).</summary>
    [Parameter]
    public SwitchParameter Detailed { get; set; }

    /// <summary>Return only $true or $false.</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    /// <summary>Chunks checked in parallel (default: all cores).</summary>
    [Parameter]
    [ValidateRange(1, 1024)]
    public int ThrottleLimit { get; set; } = Environment.ProcessorCount;

    protected override void ProcessRecord()
    {
        if (ParameterSetName == InputSet && InputObject.IsPlanned)
        {
            WriteWarning($"'{InputObject.Path}' was only planned by a -WhatIf step; nothing was written to check.");
            return;
        }

        string path = ParameterSetName switch
        {
            PathSet => ResolveInputLocation(Path),
            LiteralPathSet => ResolveInputLocation(LiteralPath, literal: true),
            _ => InputObject.Path,
        };
        StoreOptions options = BuildStoreOptions(ParameterSetName == InputSet ? InputObject.StoreOptions : null, ThrottleLimit);
        var monitor = new OperationMonitor("Checking " + path, "chunks");
        DatasetValidation validation;
        try
        {
            validation = RunEngine((m, ct) => DatasetValidator.ValidateAsync(path, ThrottleLimit, m, ct, options), monitor);
        }
        catch (EngineException ex)
        {
            ThrowTerminatingError(ToErrorRecord(ex));
            return;
        }
        if (Detailed)
        {
            foreach (string problem in validation.Problems)
            {
                WriteWarning(problem);
            }
        }

        if (Quiet)
        {
            WriteObject(validation.IsValid);
            return;
        }

        WriteObject(new DatasetValidationReport(validation));
    }
}
