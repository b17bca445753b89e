<#
.SYNOPSIS
    The guide, end to end, on the sample bundled with PrecomputedTools.
.DESCRIPTION
    Reads the bundled TIFF label stack, writes scale 0 as compressed_segmentation, adds the lower
    scales by majority downsampling, meshes every segment when New-SegmentMesh is available,
    checks the result, and prints where the dataset is and the neuroglancer source URL it has
    once served (Start-PrecomputedServer serves it on that URL).
    Uses only core cmdlets, so it runs in pwsh (`dotnet pwsh` from the repository), Windows PowerShell 5.1 and the ptps host.
.EXAMPLE
    ./Convert-Sample.ps1 -OutputPath ./out
#>
param(
    # Folder that receives the dataset folder "sample".
    [string] $OutputPath = ([IO.Path]::Combine($ExecutionContext.SessionState.Path.CurrentFileSystemLocation.ProviderPath, 'out')),
    # Port the source URL points at (the default of Start-PrecomputedServer).
    [int] $Port = 8080
)

$ErrorActionPreference = 'Stop'
if (-not (Get-Module PrecomputedTools)) {
    foreach ($candidate in @("$PSScriptRoot/../PrecomputedTools.psd1", "$PSScriptRoot/../PrecomputedTools/PrecomputedTools.psd1")) {
        if ([IO.File]::Exists($candidate)) { Import-Module $candidate; break }
    }
}

$samples = [IO.Path]::Combine($PSScriptRoot, '..', 'samples', 'sample-labels')
$dataset = [IO.Path]::Combine($OutputPath, 'sample')

$result = Import-TiffStack -Path $samples -Resolution 800, 800, 2000 |
    ConvertTo-CompressedSegmentation -Path $dataset -TargetChunkSize 64 -Force |
    Invoke-MajorityDownscale -Force

if (Get-Command New-SegmentMesh -ErrorAction SilentlyContinue) {
    $meshes = @($result | New-SegmentMesh -Force | Where-Object { $_ -isnot [PrecomputedTools.PrecomputedDataset] })
    "Meshed $($meshes.Count) segments."
}

$report = Test-PrecomputedDataset -Path $dataset
if (-not $report.IsValid) { throw "The dataset is not valid: $($report.Problems -join '; ')" }

"Dataset: $($result.Path)"
"Scales:  $(($result.Scales | ForEach-Object { $_.Key + ' ' + ($_.Size -join 'x') }) -join ', ')"
"Chunks:  $($report.PresentChunks) of $($report.ExpectedChunks) present and valid"
"Source:  precomputed://http://127.0.0.1:$Port/sample   (after: Start-PrecomputedServer -Path '$OutputPath' -Port $Port)"
