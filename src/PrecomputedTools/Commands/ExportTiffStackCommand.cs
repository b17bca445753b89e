using System.Collections.Generic;
using System.IO;
using System.Management.Automation;
using PrecomputedTools.Engine;
using PrecomputedTools.Engine.Export;
using PrecomputedTools.Infrastructure;

namespace PrecomputedTools.Commands;

/// <summary>
/// <para type="synopsis">Writes a volume as TIFF slices named like ndpull's, or as one multi-page TIFF.</para>
/// <para type="description">Reads any volume (Get-BossCutout, Import-TiffStack, a precomputed scale) slab by slab and writes one deflate-compressed TIFF per z slice named {collection}_{experiment}_{channel}_x{x0}-{x1}_y{y0}-{y1}_z{z}.tif, so scripts written for ndpull keep working. With -StackFileName the slices are merged into one multi-page file. Files appear only when complete.</para>
/// </summary>
[Cmdlet(VerbsData.Export, "TiffStack", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(FileInfo))]
public sealed class ExportTiffStackCommand : PrecomputedCmdlet
{
    /// <summary>The volume to write (from Get-BossCutout, Import-TiffStack, ...).</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    public VolumeSource InputObject { get; set; } = null!;

    /// <summary>Output folder (created if missing); ndpull's --outdir.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [Alias("OutputPath", "OutDir")]
    public string Destination { get; set; } = "";

    /// <summary>Merge the slices into one multi-page TIFF of this name in the output folder (ndpull's --stack_filename).</summary>
    [Parameter]
    public string? StackFileName { get; set; }

    /// <summary>Overwrite existing files.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        string directory = ResolveOutputPath(Destination);
        VolumeSource volume = InputObject;
        IReadOnlyList<string> names = TiffStackExporter.SliceNames(volume.Descriptor);
        var existing = new List<string>();
        if (StackFileName is not null)
        {
            if (StackFileName.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0)
            {
                ThrowTerminatingError(NewError("InvalidFileName", ErrorCategory.InvalidArgument, $"'{StackFileName}' is not a file name.", StackFileName));
            }

            string stack = Path.Combine(directory, StackFileName);
            if (File.Exists(stack))
            {
                existing.Add(stack);
            }
        }
        else
        {
            foreach (string name in names)
            {
                string path = Path.Combine(directory, name);
                if (File.Exists(path))
                {
                    existing.Add(path);
                }
            }
        }

        if (existing.Count > 0 && !Force)
        {
            ThrowTerminatingError(OutputExistsError(existing[0]));
        }

        string target = StackFileName is not null
            ? Path.Combine(directory, StackFileName) + $" ({names.Count} pages)"
            : directory + $" ({names.Count} TIFF files)";
        if (!ShouldProcess(target, "Export TIFF stack of " + volume.Name))
        {
            return;
        }

        foreach (string path in existing)
        {
            WriteWarning($"Overwriting '{path}' (-Force).");
        }

        var monitor = new OperationMonitor("Export-TiffStack " + volume.Name, "slices");
        IReadOnlyList<string> written = RunEngine((m, ct) => TiffStackExporter.ExportAsync(volume.Descriptor, directory, StackFileName, m, ct), monitor);
        foreach (string path in written)
        {
            WriteObject(new FileInfo(path));
        }
    }
}
