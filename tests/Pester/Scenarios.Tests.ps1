#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# Runs every tests/scenarios/*.ps1 against the built module, as the xunit ScenarioTests do, for
# people with pwsh or Windows PowerShell 5.1:
#   dotnet build; Invoke-Pester ./tests/Pester
# Scenarios that need a local test server (parameters beyond -ModulePath and -Work without a
# default) are run by xunit, which starts the servers; here they are skipped.

BeforeDiscovery {
    $scenarios = Get-ChildItem -Path (Join-Path $PSScriptRoot '../scenarios') -Filter '*.ps1' | Sort-Object Name | ForEach-Object {
        $parameters = (Get-Command -Name $_.FullName).Parameters
        $mandatory = @($parameters.Values | Where-Object {
                $_.Name -notin 'ModulePath', 'Work' -and ($_.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] -and $_.Mandatory })
            })
        @{ Name = $_.BaseName; File = $_.FullName; NeedsServer = $mandatory.Count -gt 0 }
    }
}

Describe 'Scenario <Name>' -ForEach $scenarios {
    BeforeAll {
        $module = Join-Path $PSScriptRoot '../../module/PrecomputedTools/PrecomputedTools.psd1'
        if (-not (Test-Path $module)) { throw "Build first: dotnet build (missing $module)" }
    }

    It 'runs without throwing' -Skip:$NeedsServer {
        $work = Join-Path $TestDrive $Name
        New-Item -ItemType Directory -Path $work -Force | Out-Null
        { & $File -ModulePath $module -Work $work } | Should -Not -Throw
    }
}
