<#
.SYNOPSIS
    The whole guide on the bundled sample: convert, downscale, mesh, serve locally, print the URL.
.DESCRIPTION
    The runbook that replaces the guide's four tools. It writes the dataset, meshes every segment,
    serves the output folder on 127.0.0.1 with CORS and precompressed chunks, and prints the
    neuroglancer URL that shows the meshed segments. With -KeepServing it serves until Ctrl+C;
    otherwise it checks that the dataset answers over HTTP and stops the server.
    Only core cmdlets are used, so it runs in pwsh (`dotnet pwsh` from the repository), Windows PowerShell 5.1 and the ptps host.
.EXAMPLE
    ./Invoke-GuideWorkflow.ps1 -OutputPath ./out -KeepServing
.EXAMPLE
    dotnet run --project src/PrecomputedTools.Host -- -File module/examples/Invoke-GuideWorkflow.ps1 -Port 0
#>
param(
    # Folder that receives the dataset folder "sample" (and is served).
    [string] $OutputPath = ([IO.Path]::Combine($ExecutionContext.SessionState.Path.CurrentFileSystemLocation.ProviderPath, 'out')),
    # Port of the local server (0 picks a free one).
    [int] $Port = 8080,
    # How many segments to show in the viewer (the largest ids of the sample are as good as any).
    [int] $ShowSegments = 20,
    # Keep serving until Ctrl+C.
    [switch] $KeepServing
)

$ErrorActionPreference = 'Stop'
if (-not (Get-Module PrecomputedTools)) {
    foreach ($candidate in @("$PSScriptRoot/../PrecomputedTools.psd1", "$PSScriptRoot/../PrecomputedTools/PrecomputedTools.psd1")) {
        if ([IO.File]::Exists($candidate)) { Import-Module $candidate; break }
    }
}

$samples = [IO.Path]::Combine($PSScriptRoot, '..', 'samples', 'sample-labels')
$datasetPath = [IO.Path]::Combine($OutputPath, 'sample')

# 1-3: TIFF slices -> compressed_segmentation scale 0 -> every lower scale by majority.
$dataset = Import-TiffStack -Path $samples -Resolution 800, 800, 2000 |
    ConvertTo-CompressedSegmentation -Path $datasetPath -TargetChunkSize 64 -Force |
    Invoke-MajorityDownscale -Force

# 4: meshes for every segment (New-SegmentMesh emits one object per segment, then the dataset).
$segmentIds = @()
if (Get-Command New-SegmentMesh -ErrorAction SilentlyContinue) {
    $meshed = @($dataset | New-SegmentMesh -Force)
    $segmentIds = @($meshed | Where-Object { $_.PSObject.Properties['TriangleCount'] -and $_.TriangleCount -gt 0 } | ForEach-Object { $_.Id })
    "Meshed $($segmentIds.Count) segments."
}

$report = Test-PrecomputedDataset -Path $datasetPath
if (-not $report.IsValid) { throw "The dataset is not valid: $($report.Problems -join '; ')" }

# 5: serve the output folder locally (CORS, gzip chunks, manifests by their colon names).
$server = Start-PrecomputedServer -Path $OutputPath -Port $Port
try {
    # 6: the viewer URL with some segments selected.
    $shown = @($segmentIds | ForEach-Object { $_ })
    if ($shown.Count -gt $ShowSegments) { $shown = $shown[0..($ShowSegments - 1)] }
    $link = if ($shown.Count -gt 0) { New-NeuroglancerUrl -Dataset $dataset -SegmentId $shown } else { New-NeuroglancerUrl -Dataset $dataset }

    $http = [System.Net.Http.HttpClient]::new()
    $status = [int]$http.GetAsync("$($server.Url)/sample/info").GetAwaiter().GetResult().StatusCode
    if ($status -ne 200) { throw "The local server answered $status for the info file." }

    "Dataset: $($dataset.Path)"
    "Served:  $($server.Url)/sample"
    "Viewer:  $($link.Url)"
    if ($KeepServing) {
        'Serving until Ctrl+C...'
        while ($true) { [Threading.Thread]::Sleep(500) }
    }
}
finally {
    $server | Stop-PrecomputedServer
}
