#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# The module as users drive it in real pwsh: pipelines between the cmdlets that chain (by value and
# by property name), -WhatIf on every writer and on a whole pipeline, error ids and categories,
# output through the real formatter, tab completion, strict mode, and the runbook examples.

BeforeAll {
    $repo = (Resolve-Path -LiteralPath (Join-Path $PSScriptRoot '../..')).ProviderPath
    $manifestPath = Join-Path $repo 'module/PrecomputedTools/PrecomputedTools.psd1'
    Import-Module $manifestPath -Force
    $samplePath = Join-Path $repo 'module/samples/sample-labels'

    # One small dataset, made once: scale 0 of the bundled sample, its lower scales, meshes of a few segments.
    $script:work = Join-Path ([IO.Path]::GetTempPath()) ('pt-pester-' + [guid]::NewGuid().ToString('N'))
    New-Item -ItemType Directory -Path $work | Out-Null
    $script:datasetPath = Join-Path $work 'sample'
    $script:dataset = Import-TiffStack -Path $samplePath -Resolution 800, 800, 2000 |
        ConvertTo-CompressedSegmentation -Path $datasetPath |
        Invoke-MajorityDownscale
    $script:meshes = @($dataset | New-SegmentMesh -SegmentId 1, 2, 3 -Confirm:$false)

    function script:New-Scratch([string] $name) {
        $path = Join-Path $work ($name + '-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
        New-Item -ItemType Directory -Path $path | Out-Null
        $path
    }

    # Every file under a folder with its length and time: "nothing was written" means this is unchanged.
    function script:Get-TreeState([string] $path) {
        if (-not (Test-Path -LiteralPath $path)) { return '<none>' }
        (Get-ChildItem -LiteralPath $path -Recurse -Force -File |
            Sort-Object FullName |
            ForEach-Object { '{0} {1} {2:o}' -f $_.FullName, $_.Length, $_.LastWriteTimeUtc }) -join "`n"
    }

    # What a command prints to the host (What if: lines go there, not to a stream).
    function script:Get-HostText([scriptblock] $Block) {
        $log = Join-Path ([IO.Path]::GetTempPath()) ('pt-transcript-' + [guid]::NewGuid().ToString('N') + '.txt')
        Start-Transcript -LiteralPath $log -UseMinimalHeader | Out-Null
        try { & $Block | Out-Host } finally { Stop-Transcript | Out-Null }
        Get-Content -LiteralPath $log -Raw
        Remove-Item -LiteralPath $log
    }

    function script:Get-Failure([scriptblock] $Block) {
        try {
            & $Block | Out-Null
        } catch {
            return $_
        }
        throw 'The command did not fail.'
    }
}

AfterAll {
    Stop-PrecomputedServer -ErrorAction SilentlyContinue
    Remove-Module PrecomputedTools -ErrorAction SilentlyContinue
    if ($work) { Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue }
}

Describe 'Pipelines: each cmdlet takes what the one before it emits' {
    It 'Import-TiffStack | ConvertTo-CompressedSegmentation writes scale 0' {
        $out = Import-TiffStack -Path $samplePath -Resolution 800, 800, 2000 | ConvertTo-CompressedSegmentation -Path (Join-Path (New-Scratch 'p1') 'ds')
        $out.GetType().FullName | Should -Be 'PrecomputedTools.PrecomputedDataset'
        $out.Size | Should -Be @(320, 192, 48)
        $out.Encoding | Should -Be 'compressed_segmentation'
    }

    It 'ConvertTo-CompressedSegmentation | Invoke-MajorityDownscale | Test-PrecomputedDataset is valid' {
        $report = Import-TiffStack -Path $samplePath -Resolution 800, 800, 2000 |
            ConvertTo-CompressedSegmentation -Path (Join-Path (New-Scratch 'p2') 'ds') -TargetChunkSize 32 |
            Invoke-MajorityDownscale |
            Test-PrecomputedDataset
        $report.IsValid | Should -BeTrue
        $report.PresentChunks | Should -BeGreaterThan 30
    }

    It 'the sample dataset made in BeforeAll has every scale' {
        $dataset.Scales.Count | Should -Be 3
        ($dataset | Test-PrecomputedDataset -Quiet) | Should -BeTrue
    }

    It 'New-SegmentMesh emits one record per segment, then the dataset with its mesh folder' {
        $records = @($meshes | Where-Object { $_ -is [PrecomputedTools.SegmentMesh] })
        $records.SegmentId | Sort-Object | Should -Be @(1, 2, 3)
        $records | ForEach-Object { $_.TriangleCount | Should -BeGreaterThan 0 }
        $last = $meshes[-1]
        $last | Should -BeOfType ([PrecomputedTools.PrecomputedDataset])
        $last.MeshDirectory | Should -Be 'mesh'
    }

    It 'New-SegmentMesh | New-NeuroglancerUrl takes the segments by their SegmentId' {
        $link = $meshes | Where-Object { $_ -is [PrecomputedTools.SegmentMesh] } | New-NeuroglancerUrl -Source 'https://data.example.org/sample'
        $link.SegmentCount | Should -Be 3
        $state = ($link | New-NeuroglancerUrl -Source 'https://data.example.org/sample' -AsState -ErrorAction SilentlyContinue)
        [uri]::UnescapeDataString($link.Url) | Should -Match '"segments":\["1","2","3"\]'
    }

    It 'Import-Csv rows with an Id column pipe into New-NeuroglancerUrl' {
        $csv = Join-Path (New-Scratch 'csv') 'ids.csv'
        "Id,Name`n5,five`n7,seven" | Set-Content -LiteralPath $csv
        (Import-Csv -LiteralPath $csv | New-NeuroglancerUrl -Source 'https://x.example.org/seg').SegmentCount | Should -Be 2
    }

    It 'a PrecomputedDataset | Copy-PrecomputedDataset copies it whole' {
        $copy = $dataset | Copy-PrecomputedDataset -Destination (Join-Path (New-Scratch 'copy') 'ds')
        $copy.Path | Should -Not -Be $dataset.Path
        ($copy | Test-PrecomputedDataset).IsValid | Should -BeTrue
        $copy.MeshDirectory | Should -Be 'mesh'
    }

    It 'Import-PrecomputedVolume | ConvertTo-CompressedSegmentation re-chunks a dataset' {
        $again = Import-PrecomputedVolume -Path $datasetPath | ConvertTo-CompressedSegmentation -Path (Join-Path (New-Scratch 'rechunk') 'ds') -TargetChunkSize 16
        $again.Scales[0].ChunkSize | Should -Be @(16, 16, 8)
        $again.Size | Should -Be @(320, 192, 48)
    }

    It 'a PrecomputedDataset | Import-PrecomputedVolume gives its scale 0 as a volume' {
        $volume = $dataset | Import-PrecomputedVolume
        $volume.GetType().FullName | Should -Be 'PrecomputedTools.VolumeSource'
        $volume.Size | Should -Be @(320, 192, 48)
    }

    It 'Import-PrecomputedVolume | Export-TiffStack | Import-TiffStack round-trips the volume' {
        $folder = New-Scratch 'export'
        $files = Import-PrecomputedVolume -Path $datasetPath -Scale 2um | Export-TiffStack -Destination $folder
        @($files).Count | Should -Be 48
        $files[0] | Should -BeOfType ([IO.FileInfo])
        $files[0].Name | Should -Not -Match '[/\\]'
        $back = Import-TiffStack -Path $folder
        $back.Size | Should -Be @(160, 96, 48)
    }

    It 'Export-TiffStack FileInfo objects pipe into Import-TiffStack by property name (PSPath)' {
        $folder = New-Scratch 'export2'
        $file = Import-PrecomputedVolume -Path $datasetPath -Scale 3um | Export-TiffStack -Destination $folder -StackFileName 'stack.tif'
        $volume = $file | Import-TiffStack
        $volume.Size | Should -Be @(80, 48, 24)
    }

    It 'Get-Item of a dataset folder | Test-PrecomputedDataset binds PSPath to -LiteralPath' {
        (Get-Item -LiteralPath $datasetPath | Test-PrecomputedDataset).IsValid | Should -BeTrue
    }

    It 'objects with a Path property | Test-PrecomputedDataset bind by property name' {
        ([pscustomobject]@{ Path = $datasetPath } | Test-PrecomputedDataset -Quiet) | Should -BeTrue
    }

    It 'Get-ChildItem -Directory | Test-PrecomputedDataset checks every dataset in a folder' {
        $folder = New-Scratch 'many'
        foreach ($name in 'a', 'b') {
            Import-TiffStack -Path $samplePath -Resolution 800, 800, 2000 | ConvertTo-CompressedSegmentation -Path (Join-Path $folder $name) | Invoke-MajorityDownscale | Out-Null
        }
        $reports = Get-ChildItem -LiteralPath $folder -Directory | Test-PrecomputedDataset
        @($reports).Count | Should -Be 2
        $reports.IsValid | Should -Be @($true, $true)
    }

    It 'Get-Item | Invoke-MajorityDownscale -Resume binds by PSPath and keeps what is there' {
        $out = Get-Item -LiteralPath $datasetPath | Invoke-MajorityDownscale -Resume
        $out.Path | Should -Be $datasetPath
    }

    It 'a PrecomputedDataset | New-PrecomputedNginxConfig binds its Path' {
        $site = $dataset | New-PrecomputedNginxConfig -ServerName data.example.org
        $site.Text | Should -Match 'server_name data\.example\.org'
        $site.Text | Should -Match 'gzip_static'
    }

    It 'a PrecomputedDataset | Start-PrecomputedServer serves it; | New-NeuroglancerUrl; | Stop-PrecomputedServer' {
        $server = $dataset | Start-PrecomputedServer -Port 0
        try {
            $server.IsRunning | Should -BeTrue
            $link = $server | New-NeuroglancerUrl
            $link.Sources[0] | Should -BeLike 'precomputed://http://127.0.0.1:*'
            (Invoke-WebRequest -Uri ($server.Url + '/info') -UseBasicParsing).Content | ConvertFrom-Json |
                ForEach-Object { $_.scales.Count } | Should -Be 3
        } finally {
            $stopped = $server | Stop-PrecomputedServer -PassThru
        }
        $stopped.IsRunning | Should -BeFalse
    }

    It 'a served dataset | New-NeuroglancerUrl finds the server that serves it' {
        $server = Start-PrecomputedServer -Path $work -Port 0
        try {
            ($dataset | New-NeuroglancerUrl).Sources[0] | Should -Be ("precomputed://$($server.Url)/sample")
            (New-NeuroglancerUrl -Dataset $datasetPath).Sources[0] | Should -Be ("precomputed://$($server.Url)/sample")
        } finally {
            $server | Stop-PrecomputedServer
        }
    }

    It 'New-PrecomputedInfo -Destination | ConvertTo-CompressedSegmentation fills the planned info' {
        $target = Join-Path (New-Scratch 'info') 'ds'
        $planned = New-PrecomputedInfo -Size 320, 192, 48 -Resolution 800, 800, 2000 -TargetChunkSize 32 -Destination $target
        $planned.Scales[0].ChunkSize | Should -Be @(32, 32, 16)
        $written = Import-TiffStack -Path $samplePath | ConvertTo-CompressedSegmentation -Path $target
        $written.Scales[0].ChunkSize | Should -Be @(32, 32, 16)
        $written.Resolution | Should -Be @(800, 800, 2000)
    }
}

Describe 'Image layers' {
    It 'writes the uint16 sample as a lossless png image layer with a max pyramid, and links it under the segmentation' {
        $path = Join-Path (New-Scratch 'png') 'sample-png'
        $image = Import-TiffStack -Path $samplePath -Resolution 800, 800, 2000 |
            ConvertTo-CompressedSegmentation -Path $path -Encoding png |
            Invoke-MajorityDownscale -Method Max
        $image.Type | Should -Be 'image'
        ($image | Test-PrecomputedDataset).IsValid | Should -BeTrue
        (Get-Content -LiteralPath (Join-Path $path 'info') -Raw | ConvertFrom-Json).scales.encoding | Sort-Object -Unique | Should -Be 'png'
        @(Get-ChildItem -LiteralPath $path -Recurse -Filter *.gz).Count | Should -Be 0

        $state = New-NeuroglancerUrl -Layer @{ Source = 'precomputed://https://data.example.org/seg'; SegmentId = 1 }, @{ Dataset = $image; Type = 'image' } -BaseUrl https://data.example.org/png -AsState | ConvertFrom-Json
        $state.layers.type | Should -Be @('image', 'segmentation')
        $state.layers[1].segments | Should -Be @('1')
    }
}

Describe '-WhatIf on <Name> prints what it would do and writes nothing' -ForEach @(
    @{ Name = 'ConvertTo-CompressedSegmentation'; Action = 'Write precomputed scale 0'; Script = { param($w) Import-TiffStack -Path $samplePath -Resolution 800, 800, 2000 | ConvertTo-CompressedSegmentation -Path (Join-Path $w 'ds') -WhatIf } }
    @{ Name = 'Invoke-MajorityDownscale'; Action = 'Write downscaled scales'; Script = { param($w) Invoke-MajorityDownscale -Path $datasetPath -Force -WhatIf } }
    @{ Name = 'New-SegmentMesh'; Action = 'Write segment meshes'; Script = { param($w) New-SegmentMesh -Path $datasetPath -Force -WhatIf } }
    @{ Name = 'Copy-PrecomputedDataset'; Action = 'Copy precomputed dataset'; Script = { param($w) Copy-PrecomputedDataset -Path $datasetPath -Destination (Join-Path $w 'copy') -WhatIf } }
    @{ Name = 'Export-TiffStack'; Action = 'Export TIFF stack'; Script = { param($w) Import-PrecomputedVolume -Path $datasetPath -Scale 3um | Export-TiffStack -Destination (Join-Path $w 'tiff') -WhatIf } }
    @{ Name = 'New-PrecomputedInfo'; Action = 'info'; Script = { param($w) New-PrecomputedInfo -Size 64, 64, 64 -Resolution 8, 8, 8 -Destination (Join-Path $w 'info') -WhatIf } }
    @{ Name = 'New-PrecomputedNginxConfig'; Action = ''; Script = { param($w) New-PrecomputedNginxConfig -Path $datasetPath -ServerName x.example.org -OutFile (Join-Path $w 'site.conf') -WhatIf } }
    @{ Name = 'Publish-PrecomputedS3'; Action = 'Upload precomputed dataset'; Script = { param($w) Publish-PrecomputedS3 -Path $datasetPath -BucketName 'no-such-bucket' -EndpointUrl 'http://127.0.0.1:9' -SetCors -WhatIf } }
    @{ Name = 'Publish-PrecomputedS3 from Get-Item'; Action = 'Upload precomputed dataset'; Script = { param($w) Get-Item -LiteralPath $datasetPath | Publish-PrecomputedS3 -BucketName 'no-such-bucket' -EndpointUrl 'http://127.0.0.1:9' -WhatIf } }
    @{ Name = 'Start-PrecomputedServer'; Action = 'Serve folder over HTTP'; Script = { param($w) Start-PrecomputedServer -Path $datasetPath -Port 0 -WhatIf } }
) {
    BeforeAll {
        $scratch = New-Scratch 'whatif'
        $before = (Get-TreeState $work)
        $text = Get-HostText { & $Script $scratch }
    }

    It 'prints a "What if:" line naming the operation' {
        $text | Should -Match 'What if: '
        if ($Action) { $text | Should -Match ([regex]::Escape($Action)) }
    }

    It 'leaves every file as it was' {
        Get-TreeState $work | Should -Be $before
        @(Get-ChildItem -LiteralPath $scratch -Force).Count | Should -Be 0
    }
}

Describe '-WhatIf through a whole pipeline' {
    BeforeAll {
        $scratch = New-Scratch 'chain'
        $before = Get-TreeState $work
        $script:planned = $null
        $text = Get-HostText {
            $script:planned = Import-TiffStack -Path $samplePath -Resolution 800, 800, 2000 |
                ConvertTo-CompressedSegmentation -Path (Join-Path $scratch 'ds') -WhatIf |
                Invoke-MajorityDownscale -WhatIf |
                New-SegmentMesh -WhatIf |
                Copy-PrecomputedDataset -Destination (Join-Path $scratch 'copy') -WhatIf
        }
    }

    It 'prints every stage, not only the first' {
        $text | Should -Match 'Write precomputed scale 0'
        $text | Should -Match 'Write downscaled scales'
        $text | Should -Match 'Write segment meshes'
        $text | Should -Match 'Copy precomputed dataset'
    }

    It 'passes a planned dataset along with the scales and meshes it would have' {
        $planned.IsPlanned | Should -BeTrue
        $planned.Scales.Count | Should -Be 3
        $planned.MeshDirectory | Should -Be 'mesh'
        "$planned" | Should -Match 'planned'
    }

    It 'writes nothing at all' {
        Get-TreeState $work | Should -Be $before
        @(Get-ChildItem -LiteralPath $scratch -Force).Count | Should -Be 0
    }

    It 'works with $WhatIfPreference as with -WhatIf' {
        $text2 = Get-HostText {
            $WhatIfPreference = $true
            try {
                Import-TiffStack -Path $samplePath -Resolution 800, 800, 2000 |
                    ConvertTo-CompressedSegmentation -Path (Join-Path $scratch 'ds2') |
                    Invoke-MajorityDownscale
            } finally { $WhatIfPreference = $false }
        }
        $text2 | Should -Match 'Write downscaled scales'
        Test-Path -LiteralPath (Join-Path $scratch 'ds2') | Should -BeFalse
    }

    It 'refuses a planned dataset in a step that runs for real (DatasetOnlyPlanned)' {
        $failure = Get-Failure { $planned | Invoke-MajorityDownscale }
        $failure.FullyQualifiedErrorId | Should -BeLike 'DatasetOnlyPlanned,*'
        $failure.CategoryInfo.Category | Should -Be 'InvalidOperation'
    }

    It 'Test-PrecomputedDataset warns about a planned dataset instead of checking it' {
        $warnings = $planned | Test-PrecomputedDataset 3>&1
        "$warnings" | Should -Match 'only planned'
    }
}

Describe 'Errors: <Case> gives <Id> (<Category>)' -ForEach @(
    @{ Case = 'a TIFF folder that does not exist'; Id = 'PathNotFound'; Category = 'ObjectNotFound'; Script = { Import-TiffStack -Path (Join-Path $work 'no-such-folder') } }
    @{ Case = 'converting over a dataset without -Force'; Id = 'OutputExists'; Category = 'ResourceExists'; Script = { Import-TiffStack -Path $samplePath -Resolution 800, 800, 2000 | ConvertTo-CompressedSegmentation -Path $datasetPath } }
    @{ Case = 'writing to an http location'; Id = 'StoreIsReadOnly'; Category = 'InvalidArgument'; Script = { Import-TiffStack -Path $samplePath -Resolution 800, 800, 2000 | ConvertTo-CompressedSegmentation -Path 'https://data.example.org/x' } }
    @{ Case = 'a location with an unknown scheme'; Id = 'UnknownStoreScheme'; Category = 'InvalidArgument'; Script = { Import-TiffStack -Path $samplePath -Resolution 800, 800, 2000 | ConvertTo-CompressedSegmentation -Path 'ftp://data.example.org/x' } }
    @{ Case = 'an output path that is a file'; Id = 'OutputIsAFile'; Category = 'InvalidArgument'; Script = { $f = Join-Path $work 'a-file'; Set-Content -LiteralPath $f 'x'; Import-TiffStack -Path $samplePath -Resolution 800, 800, 2000 | ConvertTo-CompressedSegmentation -Path $f } }
    @{ Case = 'a volume without a voxel size'; Id = 'ResolutionRequired'; Category = 'InvalidArgument'; Script = { Import-TiffStack -Path $samplePath | ConvertTo-CompressedSegmentation -Path (Join-Path $work 'nores') } }
    @{ Case = 'downscaling a scale that does not exist'; Id = 'ScaleNotFound'; Category = 'ObjectNotFound'; Script = { Invoke-MajorityDownscale -Path $datasetPath -Scale 9um } }
    @{ Case = 'downscaling over lower scales without -Force'; Id = 'OutputExists'; Category = 'ResourceExists'; Script = { Invoke-MajorityDownscale -Path $datasetPath } }
    @{ Case = 'meshing with -Force and -Resume'; Id = 'ForceAndResume'; Category = 'InvalidArgument'; Script = { New-SegmentMesh -Path $datasetPath -Force -Resume } }
    @{ Case = 'a URL with no dataset'; Id = 'NoSourceUrl'; Category = 'InvalidArgument'; Script = { New-NeuroglancerUrl } }
    @{ Case = 'a URL for a path that does not exist'; Id = 'PathNotFound'; Category = 'ObjectNotFound'; Script = { New-NeuroglancerUrl -Dataset (Join-Path $work 'no-such-dataset') } }
    @{ Case = 'a URL for a local dataset nobody serves'; Id = 'NoSourceUrl'; Category = 'InvalidArgument'; Script = { New-NeuroglancerUrl -Dataset $datasetPath } }
    @{ Case = 'copying a dataset onto itself'; Id = 'CopyOntoItself'; Category = 'InvalidArgument'; Script = { Copy-PrecomputedDataset -Path $datasetPath -Destination $datasetPath } }
    @{ Case = 'serving a folder that does not exist'; Id = 'PathNotFound'; Category = 'ObjectNotFound'; Script = { Start-PrecomputedServer -Path (Join-Path $work 'nothing-here') -Port 0 } }
    @{ Case = 'a profile and a credential together'; Id = 'ConflictingCredentials'; Category = 'InvalidArgument'; Script = { Publish-PrecomputedS3 -Path $datasetPath -BucketName b -ProfileName p -Credential ([pscredential]::new('a', (ConvertTo-SecureString 'b' -AsPlainText -Force))) } }
    @{ Case = 'an info of size zero'; Id = 'InvalidVolumeGeometry'; Category = 'InvalidArgument'; Script = { New-PrecomputedInfo -Size 0, 1, 1 -Resolution 1, 1, 1 } }
    @{ Case = 'an info over an existing one'; Id = 'OutputExists'; Category = 'ResourceExists'; Script = { New-PrecomputedInfo -Size 10, 10, 10 -Resolution 1, 1, 1 -Destination $datasetPath } }
    @{ Case = 'jpeg chunks of uint16 voxels'; Id = 'InvalidEncoding'; Category = 'InvalidArgument'; Script = { Import-TiffStack -Path $samplePath -Resolution 800, 800, 2000 | ConvertTo-CompressedSegmentation -Path (Join-Path $work 'jpeg16') -Encoding jpeg } }
    @{ Case = 'averaging segment labels'; Id = 'InvalidDownscaleMethod'; Category = 'InvalidArgument'; Script = { Invoke-MajorityDownscale -Path $datasetPath -Method Average -Force } }
    @{ Case = 'a layer table without a source'; Id = 'InvalidLayer'; Category = 'InvalidArgument'; Script = { New-NeuroglancerUrl -Layer @{ Type = 'image' } } }
    @{ Case = 'a BOSS server that is not there'; Id = 'BossServerUnavailable'; Category = 'ConnectionError'; Script = { Get-BossChannel -Collection a -Experiment b -Channel c -BaseUri 'http://127.0.0.1:1' -Token (ConvertTo-SecureString 't' -AsPlainText -Force) } }
) {
    It 'is a terminating error with a stable id and the right category' {
        $failure = Get-Failure $Script
        $failure.FullyQualifiedErrorId | Should -BeLike "$Id,PrecomputedTools.Commands.*"
        $failure.CategoryInfo.Category | Should -Be $Category
        $failure.Exception.Message | Should -Not -BeNullOrEmpty
    }
}

Describe 'Errors that leave the pipeline running: <Case> gives <Id> (<Category>)' -ForEach @(
    @{ Case = 'a TIFF folder with no slices'; Id = 'NoTiffSlices'; Category = 'ObjectNotFound'; Script = { $e = Join-Path $work ('empty-' + [guid]::NewGuid().ToString('N')); New-Item -ItemType Directory $e | Out-Null; Import-TiffStack -Path $e } }
    @{ Case = 'a file that is not a TIFF'; Id = 'NotATiffFile'; Category = 'InvalidData'; Script = { $f = Join-Path $work 'not-a.tif'; Set-Content -LiteralPath $f 'hello'; Import-TiffStack -Path $f } }
    @{ Case = 'a folder with no info'; Id = 'DatasetNotFound'; Category = 'ObjectNotFound'; Script = { $e = Join-Path $work ('noinfo-' + [guid]::NewGuid().ToString('N')); New-Item -ItemType Directory $e | Out-Null; Import-PrecomputedVolume -Path $e } }
    @{ Case = 'a scale that does not exist'; Id = 'ScaleNotFound'; Category = 'ObjectNotFound'; Script = { Import-PrecomputedVolume -Path $datasetPath -Scale 9um } }
    @{ Case = 'a segment id that is not a number'; Id = 'InvalidSegmentId'; Category = 'InvalidArgument'; Script = { -5 | New-NeuroglancerUrl -Source 'https://x.example.org/seg' } }
    @{ Case = 'stopping a server that is not running'; Id = 'ServerNotFound'; Category = 'ObjectNotFound'; Script = { Stop-PrecomputedServer -Id 987654 } }
) {
    It 'writes an error record with a stable id and the right category' {
        # As in an interactive session, whatever preference the runner has.
        $ErrorActionPreference = 'Continue'
        $records = @(& $Script 2>&1 | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })
        $records.Count | Should -BeGreaterThan 0
        $records[0].FullyQualifiedErrorId | Should -BeLike "$Id,PrecomputedTools.Commands.*"
        $records[0].CategoryInfo.Category | Should -Be $Category
    }
}

Describe 'Output through the real formatter' {
    It 'a dataset is one table row with its size, type and scales' {
        $lines = @(($dataset | Out-String) -split "`r?`n" | Where-Object { $_.Trim() })
        $lines.Count | Should -Be 3
        $lines[2] | Should -Match '320x192x48'
    }

    It 'a dataset''s scales are a table of keys, sizes and chunk counts' {
        $lines = @(($dataset.Scales | Format-Table | Out-String) -split "`r?`n" | Where-Object { $_.Trim() })
        $lines.Count | Should -Be 5
        $lines[0] | Should -Match 'Key'
        $lines[2] | Should -Match '1um'
    }

    It 'Format-List shows a dataset''s location in full' {
        ($dataset | Format-List | Out-String) | Should -Match ([regex]::Escape($datasetPath))
    }

    It 'a validation report says valid and counts the chunks' {
        ($dataset | Test-PrecomputedDataset | Out-String) | Should -Match 'True|valid'
    }

    It 'a Neuroglancer link shows the whole URL by default, never cut with an ellipsis' {
        $link = New-NeuroglancerUrl -Source 'https://data.example.org/a/very/long/path/to/the/segmentation/dataset' -SegmentId (1..40)
        $text = $link | Out-String -Width 120
        $text | Should -Not -Match '…'
        ($text -replace "`r?`n", '') | Should -Match ([regex]::Escape($link.Url))
    }

    It 'Format-Table still gives a link one row' {
        $link = New-NeuroglancerUrl -Source 'https://data.example.org/seg' -SegmentId 1
        @(($link | Format-Table | Out-String) -split "`r?`n" | Where-Object { $_.Trim() }).Count | Should -Be 3
    }

    It 'segment meshes print as a table with ids and triangle counts' {
        $text = $meshes | Where-Object { $_ -is [PrecomputedTools.SegmentMesh] } | Out-String
        $text | Should -Match 'SegmentId'
        $text | Should -Match 'Triangles'
    }

    It 'a volume prints its geometry on one row, never its voxels' {
        $lines = @((Import-TiffStack -Path $samplePath -Resolution 800, 800, 2000 | Out-String) -split "`r?`n" | Where-Object { $_.Trim() })
        $lines.Count | Should -Be 3
        $lines[2] | Should -Match '320x192x48'
    }

    It 'ConvertTo-Json of a dataset is small and names the location' {
        $json = $dataset | Select-Object Path, Size, DataType, Encoding | ConvertTo-Json -Compress
        $json | Should -Match '"DataType":"uint64"'
        $json.Length | Should -BeLessThan 1000
    }
}

Describe 'Tab completion through TabExpansion2' {
    It 'completes <Parameter> of <Command>' -ForEach @(
        @{ Command = 'ConvertTo-CompressedSegmentation'; Parameter = 'Layout'; Prefix = ''; Expected = @('Flat', 'Nested') }
        @{ Command = 'ConvertTo-CompressedSegmentation'; Parameter = 'Encoding'; Prefix = ''; Expected = @('compressed_segmentation', 'jpeg', 'png', 'raw') }
        @{ Command = 'Invoke-MajorityDownscale'; Parameter = 'Method'; Prefix = ''; Expected = @('Average', 'Majority', 'Max', 'Min', 'Stride') }
        @{ Command = 'New-NeuroglancerUrl'; Parameter = 'Layout'; Prefix = 'xy'; Expected = @('xy', 'xy-3d') }
    ) {
        $line = "$Command -$Parameter $Prefix"
        $matches = (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText
        foreach ($value in $Expected) { $matches | Should -Contain $value }
    }

    It 'completes the scale keys of <Command>' -ForEach @(
        @{ Command = 'Invoke-MajorityDownscale'; Expected = @('2um', '3um') }
        @{ Command = 'Import-PrecomputedVolume'; Expected = @('1um', '2um', '3um') }
        @{ Command = 'New-SegmentMesh'; Expected = @('1um', '2um', '3um') }
    ) {
        $line = "$Command -Path '$datasetPath' -Scale "
        $found = (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText
        foreach ($value in $Expected) { $found | Should -Contain $value }
    }

    It 'completes parameter names' {
        $line = 'ConvertTo-CompressedSegmentation -TargetCh'
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Contain '-TargetChunkSize'
    }
}

Describe 'Set-StrictMode -Version Latest' {
    It 'the main job runs clean under strict mode' {
        Set-StrictMode -Version Latest
        try {
            $out = Import-TiffStack -Path $samplePath -Resolution 800, 800, 2000 |
                ConvertTo-CompressedSegmentation -Path (Join-Path (New-Scratch 'strict') 'ds') |
                Invoke-MajorityDownscale |
                Test-PrecomputedDataset
            $out.IsValid | Should -BeTrue
            $out.PresentChunks | Should -BeGreaterThan 0
        } finally {
            Set-StrictMode -Off
        }
    }

    It 'every output property users read exists (no strict-mode PropertyNotFound)' {
        Set-StrictMode -Version Latest
        try {
            foreach ($name in 'Path', 'Name', 'Size', 'Resolution', 'Encoding', 'DataType', 'Scales', 'ChunkLayout', 'Gzip', 'IsPlanned', 'MeshDirectory', 'InfoPath') {
                { $null = $dataset.$name } | Should -Not -Throw
            }
            foreach ($name in 'Key', 'Size', 'Resolution', 'ChunkSize', 'Encoding') {
                { $null = $dataset.Scales[0].$name } | Should -Not -Throw
            }
        } finally {
            Set-StrictMode -Off
        }
    }
}

Describe 'Runbook examples in a fresh pwsh' {
    BeforeAll {
        # The same pwsh as this one; under `dotnet pwsh` the process is dotnet running pwsh.dll.
        $script:pwsh = [Environment]::ProcessPath
        [string[]] $script:pwshArgs = @()
        if ([IO.Path]::GetFileNameWithoutExtension($pwsh) -eq 'dotnet') { $script:pwshArgs = @(Join-Path $PSHOME 'pwsh.dll') }
    }

    It 'Convert-Sample.ps1 prints the dataset, its scales, a valid check and the source URL, and exits 0' {
        $out = Join-Path (New-Scratch 'runbook') 'out'
        $text = & $pwsh @pwshArgs -NoProfile -NonInteractive -File (Join-Path $repo 'module/examples/Convert-Sample.ps1') -OutputPath $out 2>&1 | Out-String
        $LASTEXITCODE | Should -Be 0 -Because $text
        $text | Should -Match 'Chunks:\s+38 of 38 present and valid'
        $text | Should -Match 'Source:\s+precomputed://http://127\.0\.0\.1:8080/sample'
        Test-Path -LiteralPath (Join-Path $out 'sample/info') | Should -BeTrue
    }

    It 'a script that fails exits non-zero with the error id on stderr' {
        $script = Join-Path (New-Scratch 'fails') 'fail.ps1'
        "`$ErrorActionPreference = 'Stop'; Import-Module '$manifestPath'; Import-TiffStack -Path '$(Join-Path $work 'missing')'" | Set-Content -LiteralPath $script
        $text = & $pwsh @pwshArgs -NoProfile -NonInteractive -File $script 2>&1 | Out-String
        $LASTEXITCODE | Should -Not -Be 0
        $text | Should -Match 'Cannot find path'
    }
}
