#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# The module as users get it, in the PowerShell that runs this file (pwsh 7 or Windows PowerShell
# 5.1): manifest, exports, help, formatting, loading. The xunit suite checks the same on the hosted
# PowerShell 7.6 engine; these are the checks Windows PowerShell 5.1 can only get here.

BeforeDiscovery {
    $manifestPath = Join-Path $PSScriptRoot '../../module/PrecomputedTools/PrecomputedTools.psd1'
    $cmdlets = @((Import-PowerShellDataFile -Path $manifestPath).CmdletsToExport | ForEach-Object { @{ Name = $_ } })
}

BeforeAll {
    $manifestPath = Join-Path $PSScriptRoot '../../module/PrecomputedTools/PrecomputedTools.psd1'
    $module = Import-Module $manifestPath -Force -PassThru
}

AfterAll {
    Remove-Module PrecomputedTools -ErrorAction SilentlyContinue
}

Describe 'PrecomputedTools manifest' {
    It 'passes Test-ModuleManifest' {
        $info = Test-ModuleManifest -Path $manifestPath -ErrorAction Stop
        $info.CompatiblePSEditions | Should -Contain 'Desktop'
        $info.CompatiblePSEditions | Should -Contain 'Core'
        $info.RequiredAssemblies | Should -BeNullOrEmpty
    }

    It 'exports exactly the cmdlets it lists' {
        $listed = (Import-PowerShellDataFile -Path $manifestPath).CmdletsToExport | Sort-Object
        $exported = (Get-Command -Module PrecomputedTools -CommandType Cmdlet).Name | Sort-Object
        $exported | Should -Be $listed
    }
}

Describe 'Help for <Name>' -ForEach $cmdlets {
    BeforeAll {
        $help = Get-Help $Name -Full
        $command = Get-Command $Name
        $common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
    }

    It 'has a synopsis and a description' {
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis | Should -Not -BeLike "$Name *"
        ($help.description | ForEach-Object Text) -join '' | Should -Not -BeNullOrEmpty
    }

    It 'has at least two examples' {
        @($help.examples.example).Count | Should -BeGreaterOrEqual 2
    }

    It 'describes every parameter' {
        foreach ($parameter in $command.Parameters.Keys | Where-Object { $_ -notin $common }) {
            $entry = $help.parameters.parameter | Where-Object name -EQ $parameter
            ($entry.description | ForEach-Object Text) -join '' | Should -Not -BeNullOrEmpty -Because "-$parameter needs a description"
        }
    }

    It 'declares its output type' {
        $command.OutputType | Should -Not -BeNullOrEmpty
    }
}

Describe 'Loading and formatting' {
    It 'loads the engine from Dependencies, out of sight of PowerShell' {
        New-PrecomputedInfo -Size 64, 64, 64 -Resolution 8, 8, 8 | Should -Not -BeNullOrEmpty
        $engine = [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq 'PrecomputedTools.Engine' }
        $engine | Should -Not -BeNullOrEmpty
        $folder = if ($PSVersionTable.PSEdition -eq 'Core') { 'net8.0' } else { 'netstandard2.0' }
        $expected = (Resolve-Path -LiteralPath (Join-Path (Join-Path $module.ModuleBase 'Dependencies') $folder)).ProviderPath
        Split-Path -Parent $engine[0].Location | Should -Be $expected
    }

    It 'prints a dataset as one table row' {
        $text = New-PrecomputedInfo -Size 1406, 621, 138 -Resolution 798, 798, 2000 -TargetChunkSize 256 | Out-String
        $lines = @($text -split "`r?`n" | Where-Object { $_.Trim() })
        $lines.Count | Should -Be 3
        $lines[2] | Should -Match '1406x621x138'
    }

    It 'completes scale keys from a dataset on disk' {
        $target = Join-Path $TestDrive 'zbrain'
        New-PrecomputedInfo -Size 1406, 621, 138 -Resolution 798, 798, 2000 -TargetChunkSize 256 -Destination $target | Out-Null
        $line = "Invoke-MajorityDownscale -Path '$target' -Scale "
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be @('1um', '2um', '3um')
    }
}

Describe 'Old parameter names' {
    It 'binds <Old> on <Name> to -<New>' -ForEach @(
        @{ Name = 'Get-BossCutout'; Old = 'Resolution'; New = 'ResolutionLevel' }
        @{ Name = 'Get-BossSegmentId'; Old = 'Resolution'; New = 'ResolutionLevel' }
        @{ Name = 'Export-TiffStack'; Old = 'OutputPath'; New = 'Destination' }
        @{ Name = 'Export-TiffStack'; Old = 'OutDir'; New = 'Destination' }
        @{ Name = 'New-PrecomputedInfo'; Old = 'OutputPath'; New = 'Destination' }
        @{ Name = 'New-SegmentMesh'; Old = 'OutputPath'; New = 'Destination' }
    ) {
        (Get-Command -Name $Name -Module PrecomputedTools).ResolveParameter($Old).Name | Should -Be $New
    }

    It 'writes an info with New-PrecomputedInfo -OutputPath' {
        $target = Join-Path $TestDrive 'old-name'
        New-PrecomputedInfo -Size 64, 64, 64 -Resolution 8, 8, 8 -OutputPath $target | Out-Null
        Join-Path $target 'info' | Should -Exist
    }
}
