#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# Multi-resolution meshes (neuroglancer_multilod_draco) as users make them: New-SegmentMesh -Format
# MultiResolution, then check, replace, plan. Fragments are decoded by Google's draco_decoder in the
# engine tests; the viewer loading them is checked in tests/PrecomputedTools.Browser.Tests.

BeforeAll {
    $repo = (Resolve-Path -LiteralPath (Join-Path $PSScriptRoot '../..')).ProviderPath
    Import-Module (Join-Path $repo 'module/PrecomputedTools/PrecomputedTools.psd1') -Force
    $script:work = Join-Path ([IO.Path]::GetTempPath()) ('pt-pester-multires-' + [guid]::NewGuid().ToString('N'))
    New-Item -ItemType Directory -Path $work | Out-Null
    $script:datasetPath = Join-Path $work 'sample'
    $script:dataset = Import-TiffStack -Path (Join-Path $repo 'module/samples/sample-labels') -Resolution 800, 800, 2000 |
        ConvertTo-CompressedSegmentation -Path $datasetPath | Invoke-MajorityDownscale
    $script:meshes = @($dataset | New-SegmentMesh -Format MultiResolution -ChunkSize 32, 32, 32)
    $script:meshFolder = Join-Path $datasetPath 'mesh'
    function script:Get-Failure([scriptblock] $Block) {
        try { & $Block | Out-Null } catch { return $_ }
        throw 'The command did not fail.'
    }
}

AfterAll {
    Remove-Module PrecomputedTools -ErrorAction SilentlyContinue
    if ($work) { Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue }
}

Describe 'New-SegmentMesh -Format MultiResolution' {
    It 'emits one SegmentMesh per segment with its levels of detail, then the dataset' {
        $segments = @($meshes | Where-Object { $_ -is [PrecomputedTools.SegmentMesh] })
        $segments.Count | Should -BeGreaterThan 100
        $meshes[-1] | Should -BeOfType ([PrecomputedTools.PrecomputedDataset])
        ($segments | Measure-Object LodCount -Maximum).Maximum | Should -BeGreaterThan 1
        foreach ($segment in $segments) {
            $segment.ManifestPath | Should -Be (Join-Path $meshFolder "$($segment.SegmentId).index")
            $segment.Fragments | Should -Be @($segment.SegmentId)
            $segment.TriangleCount | Should -BeGreaterThan 0
        }
    }

    It 'writes neuroglancer_multilod_draco: mesh/info, <id> and <id>.index per segment, nothing else' {
        $info = Get-Content -LiteralPath (Join-Path $meshFolder 'info') -Raw | ConvertFrom-Json
        $info.'@type' | Should -Be 'neuroglancer_multilod_draco'
        $info.vertex_quantization_bits | Should -Be 16
        @($info.transform).Count | Should -Be 12
        $names = @(Get-ChildItem -LiteralPath $meshFolder -File | ForEach-Object Name)
        $segments = @($meshes | Where-Object { $_ -is [PrecomputedTools.SegmentMesh] })
        $names.Count | Should -Be (2 * $segments.Count + 1)
        @($names | Where-Object { $_ -notmatch '^\d+(\.index)?$' -and $_ -ne 'info' }).Count | Should -Be 0
        Test-Path -LiteralPath (Join-Path $datasetPath '.pt-mesh-journal') | Should -BeFalse
        (Get-Content -LiteralPath (Join-Path $datasetPath 'info') -Raw | ConvertFrom-Json).mesh | Should -Be 'mesh'
    }

    It 'passes Test-PrecomputedDataset, which decodes every fragment' {
        $report = Test-PrecomputedDataset -Path $datasetPath
        $report.IsValid | Should -BeTrue -Because ($report.Problems -join '; ')
    }

    It 'Test-PrecomputedDataset reports a damaged fragment file' {
        $copy = Join-Path $work 'damaged'
        Copy-Item -LiteralPath $datasetPath -Destination $copy -Recurse
        $victim = Get-ChildItem -LiteralPath (Join-Path $copy 'mesh') -File | Where-Object Name -match '^\d+$' | Select-Object -First 1
        $bytes = [IO.File]::ReadAllBytes($victim.FullName)
        [IO.File]::WriteAllBytes($victim.FullName, $bytes[0..($bytes.Length - 2)])
        $report = Test-PrecomputedDataset -Path $copy
        $report.IsValid | Should -BeFalse
        ($report.Problems -join "`n") | Should -BeLike "*mesh/$($victim.Name).index*"
    }

    It 'refuses to write over existing meshes without -Force, and -Force replaces legacy meshes completely' {
        $failure = Get-Failure { New-SegmentMesh -Path $datasetPath -Format MultiResolution -ChunkSize 32, 32, 32 }
        $failure.FullyQualifiedErrorId | Should -BeLike 'OutputExists,*'
        $failure.CategoryInfo.Category | Should -Be 'ResourceExists'

        $other = Join-Path $work 'switch'
        Copy-Item -LiteralPath $datasetPath -Destination $other -Recurse
        New-SegmentMesh -Path $other -Force | Out-Null
        (Get-Content -LiteralPath (Join-Path $other 'mesh/info') -Raw | ConvertFrom-Json).'@type' | Should -Be 'neuroglancer_legacy_mesh'
        New-SegmentMesh -Path $other -Format MultiResolution -VertexQuantizationBits 10 -Force | Out-Null
        $info = Get-Content -LiteralPath (Join-Path $other 'mesh/info') -Raw | ConvertFrom-Json
        $info.'@type' | Should -Be 'neuroglancer_multilod_draco'
        $info.vertex_quantization_bits | Should -Be 10
        @(Get-ChildItem -LiteralPath (Join-Path $other 'mesh') -File | Where-Object { $_.Name -match ':0$|\.json$|\.frag$' }).Count | Should -Be 0
        (Test-PrecomputedDataset -Path $other).IsValid | Should -BeTrue
    }

    It '-WhatIf writes nothing' {
        $planned = Join-Path $work 'whatif'
        Copy-Item -LiteralPath $datasetPath -Destination $planned -Recurse
        Remove-Item -LiteralPath (Join-Path $planned 'mesh') -Recurse
        New-SegmentMesh -Path $planned -Format MultiResolution -WhatIf | Out-Null
        Test-Path -LiteralPath (Join-Path $planned 'mesh') | Should -BeFalse
    }

    It 'accepts only 10 or 16 quantization bits, and tab-completes the formats' {
        $failure = Get-Failure { New-SegmentMesh -Path $datasetPath -Format MultiResolution -VertexQuantizationBits 12 -Force }
        $failure.FullyQualifiedErrorId | Should -BeLike 'ParameterArgumentValidationError,*'
        $completions = (TabExpansion2 -inputScript 'New-SegmentMesh -Format ' -cursorColumn 'New-SegmentMesh -Format '.Length).CompletionMatches.CompletionText
        $completions | Should -Contain 'MultiResolution'
        $completions | Should -Contain 'Legacy'
    }

    Context 'sharded' {
        BeforeAll {
            $script:shardedPath = Join-Path $work 'sharded'
            Copy-Item -LiteralPath $datasetPath -Destination $shardedPath -Recurse
            $script:shardedMeshes = @(New-SegmentMesh -Path $shardedPath -Format MultiResolution -ChunkSize 32, 32, 32 -Sharding @{ shard_bits = 2; minishard_bits = 2 } -Force)
        }

        It 'writes every segment into shard files named in mesh/info' {
            $info = Get-Content -LiteralPath (Join-Path $shardedPath 'mesh/info') -Raw | ConvertFrom-Json
            $info.sharding.'@type' | Should -Be 'neuroglancer_uint64_sharded_v1'
            $info.sharding.shard_bits | Should -Be 2
            $info.sharding.hash | Should -Be 'murmurhash3_x86_128'
            $names = @(Get-ChildItem -LiteralPath (Join-Path $shardedPath 'mesh') -File | ForEach-Object Name | Sort-Object)
            $names | Should -Be @('0.shard', '1.shard', '2.shard', '3.shard', 'info')
            $segments = @($shardedMeshes | Where-Object { $_ -is [PrecomputedTools.SegmentMesh] })
            $segments.Count | Should -Be @($meshes | Where-Object { $_ -is [PrecomputedTools.SegmentMesh] }).Count
            $segments[0].ManifestPath | Should -BeLike '*.shard'
        }

        It 'passes Test-PrecomputedDataset, which reads every segment back out of its shard' {
            $report = Test-PrecomputedDataset -Path $shardedPath
            $report.IsValid | Should -BeTrue -Because ($report.Problems -join '; ')
        }

        It 'refuses -Sharded without -Format MultiResolution, and with -SegmentId' {
            $failure = Get-Failure { New-SegmentMesh -Path $shardedPath -Sharded -Force }
            $failure.FullyQualifiedErrorId | Should -BeLike 'ShardedMeshNeedsMultiResolution,*'
            $failure.CategoryInfo.Category | Should -Be 'InvalidArgument'
            $failure = Get-Failure { New-SegmentMesh -Path $shardedPath -Format MultiResolution -Sharded -SegmentId 7 -Force }
            $failure.FullyQualifiedErrorId | Should -BeLike 'ShardedMeshNeedsEverySegment,*'
            $failure = Get-Failure { New-SegmentMesh -Path $shardedPath -Format MultiResolution -Sharding @{ shard_bitz = 1 } -Force }
            $failure.FullyQualifiedErrorId | Should -BeLike 'InvalidShardingSpec,*'
            @(Get-ChildItem -LiteralPath (Join-Path $shardedPath 'mesh') -File).Count | Should -Be 5
        }
    }
}
