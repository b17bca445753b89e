#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# Sharded scales (neuroglancer_uint64_sharded_v1) as users make them: Copy-PrecomputedDataset
# -Sharded, then read, check, convert back. The viewer reading them is checked in tests/PrecomputedTools.Browser.Tests.

BeforeAll {
    $repo = (Resolve-Path -LiteralPath (Join-Path $PSScriptRoot '../..')).ProviderPath
    Import-Module (Join-Path $repo 'module/PrecomputedTools/PrecomputedTools.psd1') -Force
    $script:work = Join-Path ([IO.Path]::GetTempPath()) ('pt-pester-shards-' + [guid]::NewGuid().ToString('N'))
    New-Item -ItemType Directory -Path $work | Out-Null
    $script:plain = Join-Path $work 'plain'
    Import-TiffStack -Path (Join-Path $repo 'module/samples/sample-labels') -Resolution 800, 800, 2000 |
        ConvertTo-CompressedSegmentation -Path $plain -TargetChunkSize 16 |
        Invoke-MajorityDownscale | Out-Null
    $script:shardedPath = Join-Path $work 'sharded'
    $script:sharded = Copy-PrecomputedDataset -Path $plain -Destination $shardedPath -Sharded
    function script:Get-Failure([scriptblock] $Block) {
        try { & $Block | Out-Null } catch { return $_ }
        throw 'The command did not fail.'
    }
}

AfterAll {
    Remove-Module PrecomputedTools -ErrorAction SilentlyContinue
    if ($work) { Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue }
}

Describe 'Copy-PrecomputedDataset -Sharded' {
    It 'writes a few shard files per scale instead of one file per chunk' {
        $chunkFiles = @(Get-ChildItem -LiteralPath $plain -Recurse -File | Where-Object Name -ne 'info').Count
        $shardFiles = @(Get-ChildItem -LiteralPath $shardedPath -Recurse -File -Filter '*.shard')
        $shardFiles.Count | Should -BeGreaterThan 0
        $shardFiles.Count | Should -BeLessThan ($chunkFiles / 10)
        @(Get-ChildItem -LiteralPath $shardedPath -Recurse -File | Where-Object { $_.Name -ne 'info' -and $_.Extension -ne '.shard' }).Count | Should -Be 0
    }

    It 'declares neuroglancer_uint64_sharded_v1 on every scale, with whole-number parameters' {
        $info = Get-Content -LiteralPath (Join-Path $shardedPath 'info') -Raw | ConvertFrom-Json
        foreach ($scale in $info.scales) {
            $scale.sharding.'@type' | Should -Be 'neuroglancer_uint64_sharded_v1'
            $scale.sharding.hash | Should -Be 'identity'
            $scale.sharding.minishard_index_encoding | Should -Be 'gzip'
            ($scale.sharding.preshift_bits + $scale.sharding.minishard_bits + $scale.sharding.shard_bits) | Should -BeGreaterOrEqual 0
        }
    }

    It 'is valid: every chunk found in its shard and decodable' {
        $report = $sharded | Test-PrecomputedDataset
        $report.IsValid | Should -BeTrue
        $report.PresentChunks | Should -Be (Test-PrecomputedDataset -Path $plain).PresentChunks
    }

    It 'reads back the same voxels: converting the sharded scale again gives the unsharded chunks byte for byte' {
        $again = Join-Path $work 'again'
        Import-PrecomputedVolume -Path $shardedPath | ConvertTo-CompressedSegmentation -Path $again -TargetChunkSize 16 | Out-Null
        foreach ($file in Get-ChildItem -LiteralPath (Join-Path $plain '1um') -File) {
            [IO.File]::ReadAllBytes((Join-Path $again "1um/$($file.Name)")) | Should -Be ([IO.File]::ReadAllBytes($file.FullName)) -Because $file.Name
        }
    }

    It 'every lower scale reads back too' {
        foreach ($scale in '2um', '3um') {
            $a = Import-PrecomputedVolume -Path $plain -Scale $scale
            $b = Import-PrecomputedVolume -Path $shardedPath -Scale $scale
            $b.Size | Should -Be $a.Size
        }
    }

    It 'downscales into its sharded scales again, shard by shard, to the same bytes' {
        $again = Join-Path $work 'redownscaled'
        Copy-Item -LiteralPath $shardedPath -Destination $again -Recurse
        Invoke-MajorityDownscale -Path $again -Force | Out-Null
        foreach ($file in Get-ChildItem -LiteralPath $shardedPath -Recurse -File -Filter '*.shard') {
            $relative = [IO.Path]::GetRelativePath($shardedPath, $file.FullName)
            [Linq.Enumerable]::SequenceEqual([IO.File]::ReadAllBytes((Join-Path $again $relative)), [IO.File]::ReadAllBytes($file.FullName)) | Should -BeTrue -Because $relative
        }
    }

    It '-Resume keeps shards already written' {
        $target = Join-Path $work 'resumed'
        Copy-PrecomputedDataset -Path $plain -Destination $target -Sharded | Out-Null
        $first = Get-ChildItem -LiteralPath (Join-Path $target '1um') -Filter '*.shard' | Select-Object -First 1
        $stamp = $first.LastWriteTimeUtc
        Start-Sleep -Milliseconds 50
        Copy-PrecomputedDataset -Path $plain -Destination $target -Sharded -Resume | Out-Null
        (Get-Item -LiteralPath $first.FullName).LastWriteTimeUtc | Should -Be $stamp
    }
}

Describe 'ConvertTo-CompressedSegmentation -Sharded' {
    BeforeAll {
        $script:direct = Join-Path $work 'direct'
        $script:directResult = Import-TiffStack -Path (Join-Path $repo 'module/samples/sample-labels') -Resolution 800, 800, 2000 |
            ConvertTo-CompressedSegmentation -Path $direct -TargetChunkSize 16 -Sharded |
            Invoke-MajorityDownscale
    }

    It 'writes every scale as shard files only, and the dataset is valid' {
        @(Get-ChildItem -LiteralPath $direct -Recurse -File | Where-Object { $_.Name -ne 'info' -and $_.Extension -ne '.shard' }).Count | Should -Be 0
        $info = Get-Content -LiteralPath (Join-Path $direct 'info') -Raw | ConvertFrom-Json
        foreach ($scale in $info.scales) { $scale.sharding.'@type' | Should -Be 'neuroglancer_uint64_sharded_v1' }
        (Test-PrecomputedDataset -Path $direct).IsValid | Should -BeTrue
    }

    It 'gives the same shard files, byte for byte, as writing unsharded and copying with -Sharded' {
        $expected = @(Get-ChildItem -LiteralPath $shardedPath -Recurse -File -Filter '*.shard')
        $expected.Count | Should -BeGreaterThan 0
        @(Get-ChildItem -LiteralPath $direct -Recurse -File -Filter '*.shard').Count | Should -Be $expected.Count
        foreach ($file in $expected) {
            $relative = [IO.Path]::GetRelativePath($shardedPath, $file.FullName)
            [Linq.Enumerable]::SequenceEqual([IO.File]::ReadAllBytes((Join-Path $direct $relative)), [IO.File]::ReadAllBytes($file.FullName)) | Should -BeTrue -Because $relative
        }
    }

    It 'takes -Sharding overrides and refuses unknown members (InvalidShardingSpec)' {
        $murmur = Join-Path $work 'direct-murmur'
        Import-TiffStack -Path (Join-Path $repo 'module/samples/sample-labels') -Resolution 800, 800, 2000 |
            ConvertTo-CompressedSegmentation -Path $murmur -TargetChunkSize 16 -Sharding @{ hash = 'murmurhash3_x86_128'; data_encoding = 'gzip' } |
            Invoke-MajorityDownscale | Out-Null
        $info = Get-Content -LiteralPath (Join-Path $murmur 'info') -Raw | ConvertFrom-Json
        $info.scales[0].sharding.hash | Should -Be 'murmurhash3_x86_128'
        (Test-PrecomputedDataset -Path $murmur).IsValid | Should -BeTrue
        $failure = Get-Failure {
            Import-TiffStack -Path (Join-Path $repo 'module/samples/sample-labels') -Resolution 800, 800, 2000 |
                ConvertTo-CompressedSegmentation -Path (Join-Path $work 'direct-bad') -TargetChunkSize 16 -Sharding @{ nonsense = 1 }
        }
        $failure.FullyQualifiedErrorId | Should -BeLike 'InvalidShardingSpec,*'
        Test-Path -LiteralPath (Join-Path $work 'direct-bad/info') | Should -BeFalse
    }
}

Describe '-UnshardedScale keeps chosen scales as one file per chunk' {
    BeforeAll {
        $script:mixed = Join-Path $work 'mixed'
        $scales = (Get-Content -LiteralPath (Join-Path $plain 'info') -Raw | ConvertFrom-Json).scales
        $script:lastKey = $scales[-1].key
        Import-TiffStack -Path (Join-Path $repo 'module/samples/sample-labels') -Resolution 800, 800, 2000 |
            ConvertTo-CompressedSegmentation -Path $mixed -TargetChunkSize 16 -Sharded -UnshardedScale 1, $lastKey |
            Invoke-MajorityDownscale | Out-Null
        $script:mixedInfo = Get-Content -LiteralPath (Join-Path $mixed 'info') -Raw | ConvertFrom-Json
    }

    It 'shards the other scales and leaves the named ones (by index or key) unsharded' {
        $mixedInfo.scales.Count | Should -BeGreaterThan 2
        for ($i = 0; $i -lt $mixedInfo.scales.Count; $i++) {
            $scale = $mixedInfo.scales[$i]
            if ($i -eq 1 -or $scale.key -eq $lastKey) {
                $scale.PSObject.Properties.Name | Should -Not -Contain 'sharding' -Because $scale.key
                @(Get-ChildItem -LiteralPath (Join-Path $mixed $scale.key) -File -Filter '*.shard').Count | Should -Be 0
            }
            else {
                $scale.sharding.'@type' | Should -Be 'neuroglancer_uint64_sharded_v1' -Because $scale.key
            }
        }
        (Test-PrecomputedDataset -Path $mixed).IsValid | Should -BeTrue
    }

    It 'writes the unsharded scales byte for byte as an unsharded run, and the sharded ones as a sharded run' {
        foreach ($scale in $mixedInfo.scales) {
            $reference = if ($scale.PSObject.Properties.Name -contains 'sharding') { $shardedPath } else { $plain }
            $files = @(Get-ChildItem -LiteralPath (Join-Path $reference $scale.key) -File)
            $files.Count | Should -BeGreaterThan 0
            @(Get-ChildItem -LiteralPath (Join-Path $mixed $scale.key) -File).Count | Should -Be $files.Count -Because $scale.key
            foreach ($file in $files) {
                [Linq.Enumerable]::SequenceEqual([IO.File]::ReadAllBytes((Join-Path $mixed "$($scale.key)/$($file.Name)")), [IO.File]::ReadAllBytes($file.FullName)) | Should -BeTrue -Because "$($scale.key)/$($file.Name)"
            }
        }
    }

    It 'Copy-PrecomputedDataset takes it too' {
        $copied = Join-Path $work 'mixed-copy'
        Copy-PrecomputedDataset -Path $plain -Destination $copied -Sharded -UnshardedScale $lastKey | Out-Null
        $info = Get-Content -LiteralPath (Join-Path $copied 'info') -Raw | ConvertFrom-Json
        $info.scales[-1].PSObject.Properties.Name | Should -Not -Contain 'sharding'
        $info.scales[0].sharding.'@type' | Should -Be 'neuroglancer_uint64_sharded_v1'
        (Test-PrecomputedDataset -Path $copied).IsValid | Should -BeTrue
    }

    It 'refuses a scale the dataset does not have before writing anything (ScaleNotFound)' {
        $failure = Get-Failure {
            Import-TiffStack -Path (Join-Path $repo 'module/samples/sample-labels') -Resolution 800, 800, 2000 |
                ConvertTo-CompressedSegmentation -Path (Join-Path $work 'mixed-bad') -TargetChunkSize 16 -Sharded -UnshardedScale 'nope'
        }
        $failure.FullyQualifiedErrorId | Should -BeLike 'ScaleNotFound,*'
        $failure.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        Test-Path -LiteralPath (Join-Path $work 'mixed-bad/info') | Should -BeFalse
    }
}

Describe 'Test-PrecomputedDataset checks shard files' {
    BeforeEach {
        $script:copy = Join-Path $work ('check-' + [guid]::NewGuid().ToString('N').Substring(0, 6))
        Copy-Item -LiteralPath $shardedPath -Destination $copy -Recurse
        $script:shard = Get-ChildItem -LiteralPath (Join-Path $copy '1um') -Filter '*.shard' | Select-Object -First 1
    }

    It 'finds a shard cut short' {
        $bytes = [IO.File]::ReadAllBytes($shard.FullName)
        [IO.File]::WriteAllBytes($shard.FullName, $bytes[0..($bytes.Length / 2)])
        $report = Test-PrecomputedDataset -Path $copy
        $report.IsValid | Should -BeFalse
        ($report.Problems -join "`n") | Should -Match ([regex]::Escape($shard.Name))
    }

    It 'finds a shard index that points outside the file' {
        $bytes = [IO.File]::ReadAllBytes($shard.FullName)
        [BitConverter]::GetBytes([uint64]::MaxValue - 5).CopyTo($bytes, 8)
        [IO.File]::WriteAllBytes($shard.FullName, $bytes)
        (Test-PrecomputedDataset -Path $copy).IsValid | Should -BeFalse
    }

    It 'finds a file with a name no shard of the scale has' {
        Copy-Item -LiteralPath $shard.FullName -Destination (Join-Path $copy '1um/zz.shard')
        $report = Test-PrecomputedDataset -Path $copy
        $report.IsValid | Should -BeFalse
        ($report.Problems -join "`n") | Should -Match 'zz\.shard'
    }

    It 'finds a missing shard as missing chunks' {
        Remove-Item -LiteralPath $shard.FullName
        $report = Test-PrecomputedDataset -Path $copy
        $report.IsValid | Should -BeFalse
        $report.MissingChunks | Should -BeGreaterThan 0
    }
}

Describe 'Copy-PrecomputedDataset -Sharding overrides the chosen parameters' {
    It 'murmurhash3 with gzip chunk data is valid and reads back the same chunks' {
        $target = Join-Path $work 'murmur'
        $copy = Copy-PrecomputedDataset -Path $plain -Destination $target -Sharding @{ hash = 'murmurhash3_x86_128'; minishard_bits = 2; data_encoding = 'gzip' }
        $info = Get-Content -LiteralPath (Join-Path $target 'info') -Raw | ConvertFrom-Json
        $info.scales[0].sharding.hash | Should -Be 'murmurhash3_x86_128'
        $info.scales[0].sharding.data_encoding | Should -Be 'gzip'
        ($copy | Test-PrecomputedDataset).IsValid | Should -BeTrue
        $again = Join-Path $work 'murmur-again'
        Import-PrecomputedVolume -Path $target | ConvertTo-CompressedSegmentation -Path $again -TargetChunkSize 16 | Out-Null
        $name = (Get-ChildItem -LiteralPath (Join-Path $plain '1um') -File | Select-Object -First 1).Name
        [IO.File]::ReadAllBytes((Join-Path $again "1um/$name")) | Should -Be ([IO.File]::ReadAllBytes((Join-Path $plain "1um/$name")))
    }

    It 'refuses an unknown member or value before writing anything (InvalidShardingSpec)' {
        foreach ($bad in @{ shards = 3 }, @{ hash = 'md5' }, @{ minishard_bits = 40 }) {
            $target = Join-Path $work ('bad-' + [guid]::NewGuid().ToString('N').Substring(0, 6))
            $failure = Get-Failure { Copy-PrecomputedDataset -Path $plain -Destination $target -Sharding $bad }
            $failure.FullyQualifiedErrorId | Should -BeLike 'InvalidShardingSpec,*'
            Test-Path -LiteralPath $target | Should -BeFalse
        }
    }
}
