<#
.SYNOPSIS
    Issue 13's benchmark: the synthetic EM-like segmentation (2048 x 2048 x Depth, uint64, tens of
    thousands of cells) through the whole pipeline (scale 0, every lower scale, multi-resolution
    meshes) as saved plans: one process, then 2, 4 and 8 Slurm array elements per phase on a
    one-node Slurm started here. Prints wall time, CPU time, per-element overhead, peak memory per
    element and the fixed cost of one worker (module import, plan read, status check).
.EXAMPLE
    dotnet pwsh tests/PrecomputedTools.Benchmarks/ClusterBench.ps1                # 1 Gvoxel
    dotnet pwsh tests/PrecomputedTools.Benchmarks/ClusterBench.ps1 -Depth 32 -Count 1, 2
#>
[CmdletBinding()]
param(
    [int] $Depth = 256,
    [int[]] $Count = @(1, 2, 4, 8),
    [string] $Work = (Join-Path ([IO.Path]::GetTempPath()) 'pt-bench/cluster'),

    # CPU seconds of an earlier one-process run, for the ratios when -Count leaves 1 out.
    [double] $OneProcessCpuSeconds = 0
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$repo = (Resolve-Path -LiteralPath (Join-Path $PSScriptRoot '../..')).ProviderPath
Import-Module (Join-Path $repo 'module/PrecomputedTools/PrecomputedTools.psd1') -Force
New-Item -ItemType Directory -Path $Work -Force | Out-Null
$cores = [Environment]::ProcessorCount

# The source: TIFF slices every worker reads (written once, reused).
$tiff = Join-Path $Work "em-$Depth"
if (-not (Test-Path -LiteralPath (Join-Path $tiff '.complete'))) {
    Remove-Item -LiteralPath $tiff -Recurse -Force -ErrorAction SilentlyContinue
    $clock = [Diagnostics.Stopwatch]::StartNew()
    & dotnet run -c Release --project (Join-Path $repo 'tests/PrecomputedTools.Benchmarks') -- --write-em-tiff $tiff $Depth
    if ($LASTEXITCODE -ne 0) { throw 'writing the TIFF slices failed' }
    New-Item -ItemType File -Path (Join-Path $tiff '.complete') | Out-Null
    Write-Host ('source: {0} TIFF slices in {1:F0} s' -f $Depth, $clock.Elapsed.TotalSeconds)
}

# pwsh as workers start it: this dotnet tool's pwsh.dll, with /usr/bin/time around each element.
$pwshDll = [System.Reflection.Assembly]::GetEntryAssembly().Location
$dotnet = (Get-Process -Id $PID).Path
function Get-TimeFiles([string] $folder) {
    Get-ChildItem -LiteralPath $folder -Filter '*.time' | ForEach-Object {
        $p = (Get-Content -LiteralPath $_.FullName | Select-Object -Last 1).Split(' ')
        [pscustomobject]@{ Wall = [double]$p[0]; Cpu = [double]$p[1] + [double]$p[2]; PeakMB = [double]$p[3] / 1024 }
    }
}

function Save-Plans([string] $name) {
    $plans = Join-Path $Work "$name-plans"
    Remove-Item -LiteralPath (Join-Path $Work $name), $plans -Recurse -Force -ErrorAction SilentlyContinue
    Import-TiffStack -Path $tiff -Resolution 8, 8, 24 |
        ConvertTo-CompressedSegmentation -Path (Join-Path $Work $name) -PlanPath (Join-Path $plans 'convert.json') |
        Invoke-MajorityDownscale -PlanPath (Join-Path $plans 'downscale.json') |
        New-SegmentMesh -Format MultiResolution -PlanPath (Join-Path $plans 'mesh.json') -Confirm:$false
}

$slurmDir = Join-Path $Work 'slurm'
Remove-Item -LiteralPath $slurmDir -Recurse -Force -ErrorAction SilentlyContinue
$ports = 1..2 | ForEach-Object { $l = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0); $l.Start(); $l.LocalEndpoint.Port; $l.Stop() }
& bash (Join-Path $repo 'tests/tools/slurm/start-slurm.sh') $slurmDir $ports[0] $ports[1]
if ($LASTEXITCODE -ne 0) { throw 'Slurm did not start' }
$env:SLURM_CONF = Join-Path $slurmDir 'slurm.conf'
$results = @()
try {
    foreach ($n in $Count) {
        $dataset = Save-Plans "ds-$n"
        $times = Join-Path $Work "time-$n"
        Remove-Item -LiteralPath $times -Recurse -Force -ErrorAction SilentlyContinue
        New-Item -ItemType Directory -Path $times | Out-Null
        $clock = [Diagnostics.Stopwatch]::StartNew()
        if ($n -eq 1) {
            # One process, every phase of every plan in order, all cores.
            $plans = ($dataset.PlanPath | ForEach-Object { "'$_'" }) -join ','
            & /usr/bin/time -f '%e %U %S %M' -o (Join-Path $times 'single.time') $dotnet $pwshDll -NoProfile -NonInteractive -Command "Import-Module '$repo/module/PrecomputedTools/PrecomputedTools.psd1'; Invoke-PrecomputedTask -Plan $plans -ThrottleLimit $cores -Confirm:`$false | Out-Null"
            if ($LASTEXITCODE -ne 0) { throw 'the single-process run failed' }
            $jobs = 1
        } else {
            $command = "/usr/bin/time -f '%e %U %S %M' -o '$times/'`"`${SLURM_JOB_ID}_`${SLURM_ARRAY_TASK_ID}`".time '$dotnet' '$pwshDll'"
            $jobs = @($dataset | Submit-PrecomputedSlurmJob -Count $n -ThrottleLimit 1 -PwshCommand $command -OutputDirectory (Join-Path $Work "logs-$n") -Wait).Count
        }
        $wall = $clock.Elapsed.TotalSeconds
        $status = @($dataset | Get-PrecomputedPlanStatus | Where-Object { -not $_.IsComplete })
        if ($status.Count -gt 0) { throw "run $n left tasks undone: $($status -join '; ')" }
        $elements = @(Get-TimeFiles $times)
        $results += [pscustomobject]@{
            Workers       = $n
            Jobs          = $jobs
            Elements      = $elements.Count
            WallSeconds   = [Math]::Round($wall, 1)
            CpuSeconds    = [Math]::Round(($elements | Measure-Object Cpu -Sum).Sum, 1)
            PeakMBPerTask = [Math]::Round(($elements | Measure-Object PeakMB -Maximum).Maximum, 0)
            Files         = @(Get-ChildItem -LiteralPath (Join-Path $Work "ds-$n") -Recurse -File).Count
        }
        Write-Host ($results[-1] | Format-List | Out-String)
    }

    # The fixed cost of one element: start pwsh, import, read the plan, find its tasks done.
    # The last run's plans are done, so the element only finds its tasks done.
    $plan = Join-Path $Work "ds-$($Count[-1])-plans/mesh.json"
    $fixed = 1..3 | ForEach-Object {
        $file = Join-Path $Work "fixed-$_.time"
        & /usr/bin/time -f '%e %U %S %M' -o $file $dotnet $pwshDll -NoProfile -NonInteractive -Command "Import-Module '$repo/module/PrecomputedTools/PrecomputedTools.psd1'; Invoke-PrecomputedTask -Plan '$plan' -Phase 0 -Index 0 -Count 8 -Confirm:`$false | Out-Null"
        $p = (Get-Content -LiteralPath $file | Select-Object -Last 1).Split(' ')
        [pscustomobject]@{ Wall = [double]$p[0]; Cpu = [double]$p[1] + [double]$p[2] }
    }
} finally {
    & bash (Join-Path $repo 'tests/tools/slurm/stop-slurm.sh') $slurmDir
}

# Ratios against the one-process run: of this run, or of an earlier one (-OneProcessCpuSeconds).
$one = $results | Where-Object Workers -eq 1 | Select-Object -First 1
if (-not $one -and $OneProcessCpuSeconds -gt 0) { $one = [pscustomobject]@{ CpuSeconds = $OneProcessCpuSeconds } }
if ($one) { $results | ForEach-Object {
    $_ | Add-Member -NotePropertyName CpuVsOne -NotePropertyValue ([Math]::Round($_.CpuSeconds / $one.CpuSeconds, 2))
    $_ | Add-Member -NotePropertyName OverheadCpuPerElement -NotePropertyValue ([Math]::Round(($_.CpuSeconds - $one.CpuSeconds) / [Math]::Max(1, $_.Elements), 2))
} }
$results | Format-Table -AutoSize | Out-String | Write-Host
Write-Host ('fixed cost of one element (pwsh start, module import, plan read): wall {0:F2} s, CPU {1:F2} s (median of 3)' -f ($fixed.Wall | Sort-Object)[1], ($fixed.Cpu | Sort-Object)[1])
