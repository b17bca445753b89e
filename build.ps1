<#
.SYNOPSIS
    Builds, tests or packages PrecomputedTools. A thin wrapper over dotnet: everything it does,
    `dotnet build` / `dotnet test` do on their own (CI and people without pwsh use those).
.EXAMPLE
    ./build.ps1                              # dotnet build: lays out module/PrecomputedTools
.EXAMPLE
    ./build.ps1 -Task Test -Configuration Release
.EXAMPLE
    ./build.ps1 -Task Package -Configuration Release -Clean   # artifacts/PrecomputedTools-<version>.zip
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Package')]
    [string] $Task = 'Build',

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Debug',

    # Delete module/PrecomputedTools and the build outputs first.
    [switch] $Clean
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = $PSScriptRoot
$solution = Join-Path $root 'PrecomputedTools.sln'

function Invoke-DotNet {
    & dotnet @args
    if ($LASTEXITCODE -ne 0) { throw "dotnet $($args -join ' ') failed with exit code $LASTEXITCODE" }
}

if ($Clean) {
    Invoke-DotNet clean $solution -c $Configuration --nologo -v quiet
}

switch ($Task) {
    'Build' {
        Invoke-DotNet build $solution -c $Configuration --nologo
    }
    'Test' {
        Invoke-DotNet build $solution -c $Configuration --nologo
        Invoke-DotNet test $solution -c $Configuration --nologo --no-build
    }
    'Package' {
        # HelpStrict: a cmdlet without complete help fails the package build.
        Invoke-DotNet build (Join-Path $root 'src/PrecomputedTools/PrecomputedTools.csproj') -c $Configuration --nologo -p:HelpStrict=true
        $moduleDir = Join-Path $root 'module/PrecomputedTools'
        $version = (Import-PowerShellDataFile -Path (Join-Path $moduleDir 'PrecomputedTools.psd1')).ModuleVersion
        $artifacts = Join-Path $root 'artifacts'
        $staging = Join-Path $artifacts "PrecomputedTools/$version"
        if (Test-Path $staging) { Remove-Item -Recurse -Force $staging }
        New-Item -ItemType Directory -Path $staging -Force | Out-Null
        # The installable layout: PrecomputedTools/<version>/..., as Install-Module lays it out.
        Copy-Item -Path (Join-Path $moduleDir '*') -Destination $staging -Recurse
        $zip = Join-Path $artifacts "PrecomputedTools-$version.zip"
        if (Test-Path $zip) { Remove-Item -Force $zip }
        Compress-Archive -Path (Join-Path $artifacts 'PrecomputedTools') -DestinationPath $zip
        Write-Host "Packaged $zip"
    }
}
