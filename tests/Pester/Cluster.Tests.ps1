#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# Saved plans and the cluster cmdlets as users drive them: -PlanPath down a pipeline, the worker
# command of each engine run here with the variables that engine sets (every index), status,
# and the errors. The real Slurm runs are in tests/PrecomputedTools.Module.Tests/ClusterTests.cs.

BeforeAll {
    $repo = (Resolve-Path -LiteralPath (Join-Path $PSScriptRoot '../..')).ProviderPath
    $script:manifest = Join-Path $repo 'module/PrecomputedTools/PrecomputedTools.psd1'
    Import-Module $manifest -Force
    $script:samples = Join-Path $repo 'module/samples/sample-labels'
    $script:work = Join-Path ([IO.Path]::GetTempPath()) ('pt-pester-cluster-' + [guid]::NewGuid().ToString('N'))
    New-Item -ItemType Directory -Path $work | Out-Null

    # The reference: the same stages run in this process.
    $script:reference = Join-Path $work 'reference'
    Import-TiffStack -Path $samples -Resolution 800, 800, 2000 |
        ConvertTo-CompressedSegmentation -Path $reference -TargetChunkSize 16 |
        Invoke-MajorityDownscale |
        New-SegmentMesh -Format MultiResolution -ChunkSize 32, 32, 16 -Confirm:$false | Out-Null

    # The same stages saved as plans, writing $name.
    function script:New-SavedGuide([string] $name) {
        $plans = Join-Path $work "$name-plans"
        Import-TiffStack -Path $samples -Resolution 800, 800, 2000 |
            ConvertTo-CompressedSegmentation -Path (Join-Path $work $name) -TargetChunkSize 16 -PlanPath (Join-Path $plans 'convert.json') |
            Invoke-MajorityDownscale -PlanPath (Join-Path $plans 'downscale.json') |
            New-SegmentMesh -Format MultiResolution -ChunkSize 32, 32, 16 -PlanPath (Join-Path $plans 'mesh.json') -Confirm:$false
    }

    # Relative path and SHA-256 of every file of a dataset: equal trees have equal lines.
    function script:Get-TreeHash([string] $path) {
        Get-ChildItem -LiteralPath $path -Recurse -File | Sort-Object FullName | ForEach-Object {
            '{0} {1}' -f $_.FullName.Substring($path.Length), (Get-FileHash -LiteralPath $_.FullName -Algorithm SHA256).Hash
        }
    }

    # Runs a worker command as the engine would, with its index variable set (or none).
    function script:Invoke-Worker([string] $script, [string] $variable, [int] $index) {
        $saved = @{}
        foreach ($name in 'SLURM_ARRAY_TASK_ID', 'SLURM_ARRAY_TASK_COUNT', 'JOB_COMPLETION_INDEX', 'AWS_BATCH_JOB_ARRAY_INDEX', 'AWS_BATCH_JOB_ARRAY_SIZE') {
            $saved[$name] = [Environment]::GetEnvironmentVariable($name)
            [Environment]::SetEnvironmentVariable($name, $null)
        }
        try {
            if ($variable) { [Environment]::SetEnvironmentVariable($variable, [string]$index) }
            & ([scriptblock]::Create($script)) | Out-Null
        } finally {
            foreach ($name in $saved.Keys) { [Environment]::SetEnvironmentVariable($name, $saved[$name]) }
        }
    }

    function script:Get-Failure([scriptblock] $Block) {
        try { & $Block | Out-Null } catch { return $_ }
        throw 'The command did not fail.'
    }
}

AfterAll {
    Remove-Module PrecomputedTools -ErrorAction SilentlyContinue
    if ($work) { Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue }
}

Describe 'Saving plans down a pipeline' {
    It 'passes on a planned dataset that carries every plan in run order, and writes no chunk' {
        $dataset = New-SavedGuide 'saved'
        $dataset.IsPlanned | Should -BeTrue
        $dataset.PlanPath | ForEach-Object { Split-Path -Leaf $_ } | Should -Be @('convert.json', 'downscale.json', 'mesh.json')
        "$dataset" | Should -Match 'planned: 3 saved plans'
        Test-Path -LiteralPath (Join-Path $work 'saved/info') | Should -BeFalse
        @(Get-ChildItem -LiteralPath (Join-Path $work 'saved') -Recurse -File -Filter '*.gz').Count | Should -Be 0
    }

    It 'runs whole in one process (Invoke-PrecomputedTask without an index) to the same bytes as the cmdlets' {
        $dataset = New-SavedGuide 'one-process'
        $runs = @($dataset | Invoke-PrecomputedTask)
        $runs.Count | Should -Be 3
        ($runs | Measure-Object -Property Ran -Sum).Sum | Should -BeGreaterThan 10
        Get-TreeHash (Join-Path $work 'one-process') | Should -Be (Get-TreeHash $reference)
        @($dataset | Get-PrecomputedPlanStatus | Where-Object { -not $_.IsComplete }).Count | Should -Be 0

        # Run again: everything is done, so nothing runs.
        ($dataset | Invoke-PrecomputedTask | Measure-Object -Property Ran -Sum).Sum | Should -Be 0
    }

    It 'refuses to replace a saved plan without -Force (PlanExists)' {
        $plan = Join-Path $work 'exists.json'
        Import-TiffStack -Path $samples -Resolution 800, 800, 2000 | ConvertTo-CompressedSegmentation -Path (Join-Path $work 'exists') -PlanPath $plan | Out-Null
        $e = Get-Failure { Import-TiffStack -Path $samples -Resolution 800, 800, 2000 | ConvertTo-CompressedSegmentation -Path (Join-Path $work 'exists') -PlanPath $plan -Resume }
        $e.FullyQualifiedErrorId | Should -BeLike 'PlanExists,*'
        $e.CategoryInfo.Category | Should -Be 'ResourceExists'
    }

    It 'refuses a planned dataset at a stage that would run for real (DatasetOnlyPlanned)' {
        $dataset = Import-TiffStack -Path $samples -Resolution 800, 800, 2000 | ConvertTo-CompressedSegmentation -Path (Join-Path $work 'only-planned') -PlanPath (Join-Path $work 'only-planned.json')
        $e = Get-Failure { $dataset | Invoke-MajorityDownscale }
        $e.FullyQualifiedErrorId | Should -BeLike 'DatasetOnlyPlanned,*'
        $e.Exception.Message | Should -Match 'saved plans'
    }

    It 'writes nothing under -WhatIf' {
        $plan = Join-Path $work 'whatif.json'
        Import-TiffStack -Path $samples -Resolution 800, 800, 2000 | ConvertTo-CompressedSegmentation -Path (Join-Path $work 'whatif') -PlanPath $plan -WhatIf | Out-Null
        Test-Path -LiteralPath $plan | Should -BeFalse
    }
}

Describe 'A sharded copy as a saved plan' {
    It 'runs as two workers per phase to the same shard files as the direct copy' {
        $direct = Copy-PrecomputedDataset -Path $reference -Destination (Join-Path $work 'copy-direct') -Sharded
        $planned = Copy-PrecomputedDataset -Path $reference -Destination (Join-Path $work 'copy-planned') -Sharded -PlanPath (Join-Path $work 'copy.json')
        $planned.IsPlanned | Should -BeTrue
        Test-Path -LiteralPath (Join-Path $work 'copy-planned/info') | Should -BeFalse
        $phases = @(Get-PrecomputedPlanStatus -Plan $planned.PlanPath).Count
        for ($phase = 0; $phase -lt $phases; $phase++) {
            foreach ($index in 1, 0) { Invoke-PrecomputedTask -Plan $planned.PlanPath[0] -Phase $phase -Index $index -Count 2 | Out-Null }
        }
        Get-TreeHash (Join-Path $work 'copy-planned') | Should -Be (Get-TreeHash $direct.Path)
        @(Get-ChildItem -LiteralPath (Join-Path $work 'copy-planned') -Recurse -Filter '*.shard').Count | Should -BeGreaterThan 0
    }

    It 'refuses to plan a copy of a dataset whose own plans have not run (CopySourceOnlyPlanned)' {
        $dataset = New-SavedGuide 'copy-unrun'
        $e = Get-Failure { $dataset | Copy-PrecomputedDataset -Destination (Join-Path $work 'copy-unrun-copy') -PlanPath (Join-Path $work 'copy-unrun.json') }
        $e.FullyQualifiedErrorId | Should -BeLike 'CopySourceOnlyPlanned,*'
        $e.CategoryInfo.Category | Should -Be 'InvalidOperation'
    }
}

Describe 'Invoke-PrecomputedTask' {
    BeforeAll {
        $script:split = New-SavedGuide 'split'
    }

    It 'needs -Phase when several workers share a plan of several phases (PhaseRequired)' {
        $e = Get-Failure { Invoke-PrecomputedTask -Plan $split.PlanPath[2] -Index 0 -Count 2 }
        $e.FullyQualifiedErrorId | Should -BeLike 'PhaseRequired,*'
        $e.CategoryInfo.Category | Should -Be 'InvalidArgument'
    }

    It 'needs -Count when only the index is known (CountRequired), as in a Kubernetes pod' {
        $env:JOB_COMPLETION_INDEX = '1'
        try {
            $e = Get-Failure { Invoke-PrecomputedTask -Plan $split.PlanPath[0] -Phase 0 }
        } finally {
            Remove-Item Env:JOB_COMPLETION_INDEX
        }
        $e.FullyQualifiedErrorId | Should -BeLike 'CountRequired,*'
    }

    It 'rejects an index outside the array (InvalidTaskIndex) and a missing plan (PlanNotFound)' {
        (Get-Failure { Invoke-PrecomputedTask -Plan $split.PlanPath[0] -Phase 0 -Index 4 -Count 4 }).FullyQualifiedErrorId | Should -BeLike 'InvalidTaskIndex,*'
        $e = Get-Failure { Invoke-PrecomputedTask -Plan (Join-Path $work 'no-such-plan.json') }
        $e.FullyQualifiedErrorId | Should -BeLike 'PlanNotFound,*'
        $e.CategoryInfo.Category | Should -Be 'ObjectNotFound'
    }

    It 'takes the index and count from Slurm''s variables, and status names the indices still missing' {
        $env:SLURM_ARRAY_TASK_ID = '2'
        $env:SLURM_ARRAY_TASK_COUNT = '3'
        try {
            $run = Invoke-PrecomputedTask -Plan $split.PlanPath[0] -Phase 0
        } finally {
            Remove-Item Env:SLURM_ARRAY_TASK_ID, Env:SLURM_ARRAY_TASK_COUNT
        }
        $run.Index | Should -Be 2
        $run.Count | Should -Be 3
        $run.Ran | Should -BeGreaterThan 0
        $status = Get-PrecomputedPlanStatus -Plan $split.PlanPath[0] -Count 3
        $status[0].MissingIndex | Should -Be @(0, 1)
        $status[0].Done | Should -Be $run.Ran
        $status[1].MissingIndex | Should -Be @(0)
    }
}

Describe 'Kubernetes and AWS Batch: the files, and their worker commands run for every index' {
    It 'writes one Indexed Job per phase whose command, run with JOB_COMPLETION_INDEX, gives the reference dataset' {
        $dataset = New-SavedGuide 'k8s'
        $folder = Join-Path $work 'k8s-manifests'
        $jobs = @($dataset | New-PrecomputedKubernetesJob -Image 'registry.example.org/pt:1' -Count 3 -MaxRunning 2 -Memory 2Gi -ModulePath $manifest -OutputDirectory $folder -Environment @{ AWS_REGION = 'eu-west-1' })
        $jobs.Count | Should -BeGreaterThan 5
        foreach ($job in $jobs) {
            $m = Get-Content -LiteralPath $job.File -Raw | ConvertFrom-Json
            $m.apiVersion | Should -Be 'batch/v1'
            $m.kind | Should -Be 'Job'
            $m.metadata.name | Should -Be $job.Name
            $m.metadata.name | Should -Match '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'
            $m.spec.completionMode | Should -Be 'Indexed'
            $m.spec.completions | Should -Be $job.ArraySize
            $m.spec.parallelism | Should -Be ([Math]::Min(2, $job.ArraySize))
            $m.spec.backoffLimitPerIndex | Should -Be 3
            $m.spec.template.spec.restartPolicy | Should -Be 'Never'
            $c = $m.spec.template.spec.containers[0]
            $c.image | Should -Be 'registry.example.org/pt:1'
            $c.command[0..3] | Should -Be @('pwsh', '-NoProfile', '-NonInteractive', '-Command')
            $c.command[4] | Should -Match "Invoke-PrecomputedTask -Plan '.+' -Phase $($job.Phase) -Count $($job.ArraySize)"
            $c.env[0].name | Should -Be 'AWS_REGION'
            $c.resources.limits.memory | Should -Be '2Gi'
            for ($i = 0; $i -lt $m.spec.completions; $i++) { Invoke-Worker $c.command[4] 'JOB_COMPLETION_INDEX' $i }
        }
        ($jobs | Where-Object Stage -eq 'convert' | Select-Object -First 1).ArraySize | Should -Be 3
        Get-TreeHash (Join-Path $work 'k8s') | Should -Be (Get-TreeHash $reference)
    }

    It 'writes a job definition and array submit requests whose command, run with AWS_BATCH_JOB_ARRAY_INDEX, gives the reference dataset' {
        $dataset = New-SavedGuide 'batch'
        $folder = Join-Path $work 'batch-requests'
        $jobs = @($dataset | New-PrecomputedBatchJob -Image 'acct.dkr.ecr/pt:1' -JobQueue 'neuro' -Count 3 -ThrottleLimit 2 -MemoryMiB 2048 -JobRoleArn 'arn:aws:iam::1:role/pt' -ModulePath $manifest -OutputDirectory $folder)
        $definition = Get-Content -LiteralPath (Join-Path $folder 'pt-worker.jobdefinition.json') -Raw | ConvertFrom-Json
        $definition.type | Should -Be 'container'
        $definition.containerProperties.image | Should -Be 'acct.dkr.ecr/pt:1'
        ($definition.containerProperties.resourceRequirements | Where-Object type -eq 'VCPU').value | Should -Be '2'
        ($definition.containerProperties.resourceRequirements | Where-Object type -eq 'MEMORY').value | Should -Be '2048'
        $definition.containerProperties.jobRoleArn | Should -Be 'arn:aws:iam::1:role/pt'
        $definition.retryStrategy.attempts | Should -Be 3
        foreach ($job in $jobs) {
            $r = Get-Content -LiteralPath $job.File -Raw | ConvertFrom-Json
            $r.jobName | Should -Be $job.Name
            $r.jobQueue | Should -Be 'neuro'
            $r.jobDefinition | Should -Be 'pt-worker'
            $command = $r.containerOverrides.command
            $command[4] | Should -Match "-Phase $($job.Phase) -Count $($job.ArraySize) -ThrottleLimit 2"
            if ($job.ArraySize -gt 1) {
                $r.arrayProperties.size | Should -Be $job.ArraySize
                for ($i = 0; $i -lt $job.ArraySize; $i++) { Invoke-Worker $command[4] 'AWS_BATCH_JOB_ARRAY_INDEX' $i }
            } else {
                $r.PSObject.Properties.Name | Should -Not -Contain 'arrayProperties'
                Invoke-Worker $command[4] $null 0
            }
        }
        Get-TreeHash (Join-Path $work 'batch') | Should -Be (Get-TreeHash $reference)

        # Files are not replaced without -Force.
        (Get-Failure { $dataset | New-PrecomputedBatchJob -Image x -JobQueue q -OutputDirectory $folder }).FullyQualifiedErrorId | Should -BeLike 'OutputExists,*'
    }

    It 'Submit-PrecomputedSlurmJob -WhatIf chains the phases and submits nothing' {
        $dataset = New-SavedGuide 'slurm-whatif'
        $jobs = @($dataset | Submit-PrecomputedSlurmJob -Count 3 -WhatIf)
        $jobs.Count | Should -BeGreaterThan 5
        $jobs[0].DependsOn | Should -BeNullOrEmpty
        for ($i = 1; $i -lt $jobs.Count; $i++) { $jobs[$i].DependsOn | Should -Be "<$($jobs[$i - 1].Name)>" }
        $jobs | ForEach-Object { $_.JobId | Should -BeNullOrEmpty }
    }
}
