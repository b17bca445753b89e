#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# Messages a user can act on, and -Force that replaces instead of mixing: each case here was seen
# failing (or silently doing the wrong thing) by a user of an earlier build.

BeforeAll {
    $repo = (Resolve-Path -LiteralPath (Join-Path $PSScriptRoot '../..')).ProviderPath
    Import-Module (Join-Path $repo 'module/PrecomputedTools/PrecomputedTools.psd1') -Force
    $samplePath = Join-Path $repo 'module/samples/sample-labels'
    $script:work = Join-Path ([IO.Path]::GetTempPath()) ('pt-pester-errors-' + [guid]::NewGuid().ToString('N'))
    New-Item -ItemType Directory -Path $work | Out-Null

    function script:New-Scratch([string] $name) {
        $path = Join-Path $work ($name + '-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
        New-Item -ItemType Directory -Path $path | Out-Null
        $path
    }

    function script:Get-Failure([scriptblock] $Block) {
        try { & $Block | Out-Null } catch { return $_ }
        throw 'The command did not fail.'
    }

    function script:New-SampleDataset([string] $path, [int] $chunk = 64) {
        Import-TiffStack -Path $samplePath -Resolution 800, 800, 2000 |
            ConvertTo-CompressedSegmentation -Path $path -TargetChunkSize $chunk |
            Invoke-MajorityDownscale
    }
}

AfterAll {
    Remove-Module PrecomputedTools -ErrorAction SilentlyContinue
    if ($work) { Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue }
}

Describe 'A partial info (the guide''s base info) says how to complete it' {
    BeforeAll {
        $folder = New-Scratch 'partial'
        '{"type":"segmentation","data_type":"uint64","num_channels":1,"scales":[{"key":"1um","size":[320,192,48],"resolution":[800,800,2000],"voxel_offset":[0,0,0],"encoding":"compressed_segmentation"}]}' |
            Set-Content -LiteralPath (Join-Path $folder 'info')
    }

    It 'ConvertTo-CompressedSegmentation names New-PrecomputedInfo -Path in the error' {
        $failure = Get-Failure { Import-TiffStack -Path $samplePath | ConvertTo-CompressedSegmentation -Path $folder }
        $failure.FullyQualifiedErrorId | Should -BeLike 'InvalidPrecomputedInfo,*'
        $failure.CategoryInfo.Category | Should -Be 'InvalidData'
        "$failure" | Should -Match 'no chunk_sizes'
        "$failure" | Should -Match ([regex]::Escape("New-PrecomputedInfo -Path '$folder'"))
        $failure.ErrorDetails.RecommendedAction | Should -Match 'New-PrecomputedInfo'
    }

    It 'the command the message gives completes the info, and the conversion then works' {
        New-PrecomputedInfo -Path $folder -Destination $folder -Force | Out-Null
        $dataset = Import-TiffStack -Path $samplePath | ConvertTo-CompressedSegmentation -Path $folder | Invoke-MajorityDownscale
        ($dataset | Test-PrecomputedDataset).IsValid | Should -BeTrue
        $dataset.Resolution | Should -Be @(800, 800, 2000)
    }
}

Describe 'A volume whose x and y are swapped against the info' {
    It 'mentions -SwapXY' {
        $folder = New-Scratch 'swapped'
        New-PrecomputedInfo -Size 192, 320, 48 -Resolution 800, 800, 2000 -Destination $folder | Out-Null
        $failure = Get-Failure { Import-TiffStack -Path $samplePath | ConvertTo-CompressedSegmentation -Path $folder }
        $failure.FullyQualifiedErrorId | Should -BeLike 'InvalidVolumeGeometry,*'
        "$failure" | Should -Match '-SwapXY'
    }

    It 'does not mention -SwapXY when the sizes differ otherwise' {
        $folder = New-Scratch 'other'
        New-PrecomputedInfo -Size 100, 320, 48 -Resolution 800, 800, 2000 -Destination $folder | Out-Null
        "$(Get-Failure { Import-TiffStack -Path $samplePath | ConvertTo-CompressedSegmentation -Path $folder })" | Should -Not -Match 'SwapXY'
    }

    It 'Import-TiffStack -SwapXY then fits the info' {
        $folder = New-Scratch 'fits'
        New-PrecomputedInfo -Size 192, 320, 48 -Resolution 800, 800, 2000 -Destination $folder | Out-Null
        (Import-TiffStack -Path $samplePath -SwapXY | ConvertTo-CompressedSegmentation -Path $folder).Size | Should -Be @(192, 320, 48)
    }
}

Describe 'Settings that an existing info overrides are refused, not dropped' {
    BeforeAll {
        $folder = Join-Path (New-Scratch 'resume') 'ds'
        New-SampleDataset $folder 32 | Out-Null
    }

    It '-Resume with another -TargetChunkSize is refused (SettingsConflictWithInfo)' {
        $failure = Get-Failure { Import-TiffStack -Path $samplePath -Resolution 800, 800, 2000 | ConvertTo-CompressedSegmentation -Path $folder -Resume -TargetChunkSize 64 }
        $failure.FullyQualifiedErrorId | Should -BeLike 'SettingsConflictWithInfo,*'
        $failure.CategoryInfo.Category | Should -Be 'InvalidArgument'
        "$failure" | Should -Match 'TargetChunkSize 64'
    }

    It '-Resume with another -Resolution is refused' {
        "$(Get-Failure { Import-TiffStack -Path $samplePath | ConvertTo-CompressedSegmentation -Path $folder -Resume -Resolution 1, 1, 1 })" | Should -Match 'Resolution 1,1,1'
    }

    It '-Resume with the info''s own settings goes on' {
        $again = Import-TiffStack -Path $samplePath | ConvertTo-CompressedSegmentation -Path $folder -Resume -TargetChunkSize 32 -Resolution 800, 800, 2000
        $again.Scales[0].ChunkSize | Should -Be @(32, 32, 16)
    }

    It 'an info from New-PrecomputedInfo is not silently re-chunked either' {
        $planned = New-Scratch 'planned'
        New-PrecomputedInfo -Size 320, 192, 48 -Resolution 800, 800, 2000 -TargetChunkSize 32 -Destination $planned | Out-Null
        (Get-Failure { Import-TiffStack -Path $samplePath | ConvertTo-CompressedSegmentation -Path $planned -TargetChunkSize 128 }).FullyQualifiedErrorId |
            Should -BeLike 'SettingsConflictWithInfo,*'
    }
}

Describe '-Force replaces a dataset, it does not mix old and new' {
    BeforeAll {
        $folder = Join-Path (New-Scratch 'force') 'ds'
        New-SampleDataset $folder 64 | New-SegmentMesh -SegmentId 1, 2 -SegmentName @{ 1 = 'one'; 2 = 'two' } -Confirm:$false | Out-Null
        $replaced = Import-TiffStack -Path $samplePath -Resolution 800, 800, 2000 | ConvertTo-CompressedSegmentation -Path $folder -TargetChunkSize 32 -Force -WarningAction SilentlyContinue
        $files = @(Get-ChildItem -LiteralPath $folder -Recurse -File | ForEach-Object { $_.FullName.Substring($folder.Length + 1).Replace('\', '/') })
    }

    It 'leaves no chunk of the old chunk size in scale 0' {
        $files | Where-Object { $_ -like '1um/*' } | ForEach-Object { $_ | Should -Match '^1um/\d+-\d+_\d+-\d+_\d+-\d+(\.gz)?$' }
        @($files | Where-Object { $_ -like '1um/*' }).Count | Should -Be 180
        $files | Should -Not -Contain '1um/0-64_0-64_0-32.gz'
    }

    It 'leaves no old lower scale, mesh or segment properties' {
        @($files | Where-Object { $_ -like '2um/*' -or $_ -like '3um/*' -or $_ -like 'mesh/*' -or $_ -like 'segment_properties/*' }).Count | Should -Be 0
        Test-Path -LiteralPath (Join-Path $folder 'mesh') | Should -BeFalse
        Test-Path -LiteralPath (Join-Path $folder 'segment_properties') | Should -BeFalse
    }

    It 'the replaced dataset is valid once its lower scales are written' {
        ($replaced | Invoke-MajorityDownscale | Test-PrecomputedDataset).IsValid | Should -BeTrue
    }

    It 'Test-PrecomputedDataset reports a file the info does not account for' {
        $stray = Join-Path $folder '1um/9000-9032_0-32_0-16.gz'
        [IO.File]::WriteAllBytes($stray, [byte[]](1, 2, 3))
        try {
            $report = Test-PrecomputedDataset -Path $folder
            $report.IsValid | Should -BeFalse
            ($report.Problems -join "`n") | Should -Match '9000-9032_0-32_0-16'
        } finally {
            Remove-Item -LiteralPath $stray
        }
    }
}

Describe 'README examples and help say what is true' {
    It 'the README''s nginx example runs as written (a folder on the nginx machine)' {
        $readme = Get-Content -LiteralPath (Join-Path $repo 'README.md') -Raw
        $line = ([regex]::Match($readme, '(?m)^New-PrecomputedNginxConfig .*$')).Value
        $line | Should -Not -BeNullOrEmpty
        Push-Location (New-Scratch 'readme')
        try {
            $site = Invoke-Expression $line
            $site.Text | Should -Match 'root\s+"?/srv/precomputed"?;'
            Test-Path -LiteralPath ./precomputed.conf | Should -BeTrue
        } finally {
            Pop-Location
        }
    }

    It '-Remote needs an absolute path' {
        $records = @(New-PrecomputedNginxConfig -Path 'relative/folder' -Remote 2>&1 | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })
        $records[0].FullyQualifiedErrorId | Should -BeLike 'RemotePathNotAbsolute,*'
    }

    It 'about_PrecomputedTools gives the Z-Brain atlas''s real label range' {
        $counts = Join-Path $repo '../shared/data/zbrain/label_voxel_counts.csv'
        $maxId = if (Test-Path -LiteralPath $counts) { (Import-Csv -LiteralPath $counts | ForEach-Object { [int]$_.id } | Measure-Object -Maximum).Maximum } else { 119 }
        $text = (Get-Help about_PrecomputedTools | Out-String)
        $text | Should -Match "1\.\.$maxId"
        $text | Should -Not -Match '0\.\.294'
    }
}

Describe '-SegmentName takes a CSV file or Import-Csv rows, and keeps every column' {
    BeforeAll {
        $folder = Join-Path (New-Scratch 'names') 'ds'
        New-SampleDataset $folder 64 | Out-Null
        $csv = Join-Path $work 'regions.csv'
        @'
id,name,path,voxels,tags,description
1,"Caudal, Hypothalamus",Forebrain / Diencephalon,1200,"forebrain core",first region
2,Habenula,Forebrain / Habenula,34.5,#forebrain,second region
3,Raphe,Hindbrain,7,,third
'@ | Set-Content -LiteralPath $csv
        function script:Read-Properties { (Get-Content -LiteralPath (Join-Path $folder 'segment_properties/info') -Raw | ConvertFrom-Json).inline }
    }

    It 'Import-Csv rows give labels, string, number, tags and description properties' {
        $records = @(New-SegmentMesh -Path $folder -SegmentId 1, 2, 3 -SegmentName (Import-Csv -LiteralPath $csv) -Force | Where-Object { $_ -is [PrecomputedTools.SegmentMesh] })
        ($records | Sort-Object SegmentId).Name | Should -Be @('Caudal, Hypothalamus', 'Habenula', 'Raphe')
        $inline = Read-Properties
        $inline.ids | Should -Be @('1', '2', '3')
        $byId = @{}; $inline.properties | ForEach-Object { $byId[$_.id] = $_ }
        $byId['label'].values | Should -Be @('Caudal, Hypothalamus', 'Habenula', 'Raphe')
        $byId['path'].type | Should -Be 'string'
        $byId['path'].values[1] | Should -Be 'Forebrain / Habenula'
        $byId['voxels'].type | Should -Be 'number'
        $byId['voxels'].data_type | Should -Be 'float32'
        $byId['voxels'].values | Should -Be @(1200, 34.5, 7)
        $byId['description'].type | Should -Be 'description'
        $byId['tags'].tags | Should -Be @('core', 'forebrain')
        $byId['tags'].values[0] | Should -Be @(0, 1)
        @($byId['tags'].values[2]).Count | Should -Be 0
    }

    It 'the path of the CSV file gives the same properties' {
        New-SegmentMesh -Path $folder -SegmentId 1, 2, 3 -SegmentName $csv -Force | Out-Null
        @((Read-Properties).properties.id) | Should -Be @('label', 'path', 'voxels', 'tags', 'description')
    }

    It 'a CSV without a header row is read as id,name' {
        $plain = Join-Path $work 'plain.csv'
        "1,one`n2,two" | Set-Content -LiteralPath $plain
        (New-SegmentMesh -Path $folder -SegmentId 1, 2 -SegmentName $plain -Force | Where-Object { $_ -is [PrecomputedTools.SegmentMesh] }).Name | Should -Be @('one', 'two')
    }

    It 'rows without an id column are refused with the column names' {
        $failure = Get-Failure { New-SegmentMesh -Path $folder -SegmentId 1 -SegmentName ([pscustomobject]@{ region = 1; name = 'x' }) -Force }
        $failure.FullyQualifiedErrorId | Should -BeLike 'InvalidSegmentName,*'
        "$failure" | Should -Match 'region'
    }
}
