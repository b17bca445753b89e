<#
.SYNOPSIS
    Runs the Pester suite in this folder and writes a JSON summary. Used by the xunit project
    tests/PrecomputedTools.Pester.Tests; people run it straight from pwsh too:
        dotnet tool restore; dotnet pwsh -File tests/Pester/Invoke-PesterSuite.ps1
.PARAMETER PesterPath
    Pester.psd1 to import (the NuGet package's tools/Pester.psd1). Default: Pester as installed.
.PARAMETER SummaryPath
    Where to write the JSON summary (counts, failures with their messages, versions).
#>
[CmdletBinding()]
param(
    [string] $PesterPath,
    [string] $SummaryPath,
    [string[]] $Path = @($PSScriptRoot)
)

# The tests run with the default preferences a user has; only loading Pester must stop on failure.
if ($PesterPath) {
    Import-Module $PesterPath -Force -ErrorAction Stop
} else {
    Import-Module Pester -MinimumVersion 5.0.0 -ErrorAction Stop
}

$configuration = New-PesterConfiguration
$configuration.Run.Path = $Path
$configuration.Run.PassThru = $true
$configuration.Output.Verbosity = 'Normal'
$result = Invoke-Pester -Configuration $configuration

$failures = @($result.Failed | ForEach-Object {
    [ordered]@{ Name = $_.ExpandedPath; Message = ($_.ErrorRecord | ForEach-Object { $_.ToString() }) -join "`n" }
})
$failures += @($result.FailedBlocks | ForEach-Object {
    [ordered]@{ Name = "block: $($_.ExpandedPath)"; Message = ($_.ErrorRecord | ForEach-Object { $_.ToString() }) -join "`n" }
})
$failures += @($result.FailedContainers | ForEach-Object {
    [ordered]@{ Name = "container: $($_.Item)"; Message = ($_.ErrorRecord | ForEach-Object { $_.ToString() }) -join "`n" }
})
$summary = [ordered]@{
    PowerShell = $PSVersionTable.PSVersion.ToString()
    Pester     = (Get-Module Pester).Version.ToString()
    Passed     = $result.PassedCount
    Failed     = $result.FailedCount
    Skipped    = $result.SkippedCount
    NotRun     = $result.NotRunCount
    FailedBlocks     = $result.FailedBlocksCount
    FailedContainers = $result.FailedContainersCount
    Failures   = $failures
}
if ($SummaryPath) {
    $summary | ConvertTo-Json -Depth 5 | Set-Content -LiteralPath $SummaryPath -Encoding utf8
}
if ($result.Result -ne 'Passed') { exit 1 }
