@{
    RootModule             = 'PrecomputedTools.dll'
    ModuleVersion          = '0.1.0'
    GUID                   = '88efe023-d6f2-48a3-9964-7df757a14178'
    Author                 = 'PrecomputedTools contributors'
    CompanyName            = 'PrecomputedTools'
    Copyright              = '(c) 2026 PrecomputedTools contributors. MIT License.'
    Description            = 'Turn BOSS cutouts and TIFF stacks into neuroglancer precomputed datasets: compressed_segmentation chunks, majority-downsampled scales, meshes, publishing to S3/nginx and viewer URLs.'
    CompatiblePSEditions   = @('Desktop', 'Core')
    PowerShellVersion      = '5.1'
    DotNetFrameworkVersion = '4.7.2'
    FormatsToProcess       = @('PrecomputedTools.Format.ps1xml')
    CmdletsToExport        = @(
        'New-PrecomputedInfo',
        'Import-TiffStack',
        'ConvertTo-CompressedSegmentation',
        'Invoke-MajorityDownscale',
        'Test-PrecomputedDataset',
        'Get-BossCutout',
        'Get-BossCollection',
        'Get-BossExperiment',
        'Get-BossChannel',
        'Get-BossCoordinateFrame',
        'Get-BossResolutionLevel',
        'Get-BossSegmentId',
        'Export-TiffStack',
        'Publish-PrecomputedS3',
        'New-PrecomputedNginxConfig',
        'Start-PrecomputedServer',
        'Stop-PrecomputedServer',
        'New-NeuroglancerUrl',
        'New-SegmentMesh',
        'Import-PrecomputedVolume',
        'Copy-PrecomputedDataset',
        'Invoke-PrecomputedTask',
        'Get-PrecomputedPlanStatus',
        'Submit-PrecomputedSlurmJob',
        'New-PrecomputedKubernetesJob',
        'New-PrecomputedBatchJob'
    )
    FunctionsToExport      = @()
    AliasesToExport        = @()
    VariablesToExport      = @()
    PrivateData            = @{
        PSData = @{
            Tags         = @('neuroglancer', 'precomputed', 'bossdb', 'connectomics', 'segmentation', 'compressed_segmentation',
                             'PSEdition_Desktop', 'PSEdition_Core', 'Windows', 'Linux', 'MacOS')
            LicenseUri   = 'https://github.com/precomputedtools/PrecomputedTools/blob/main/LICENSE'
            ProjectUri   = 'https://github.com/precomputedtools/PrecomputedTools'
            ReleaseNotes = 'First release: TIFF and BOSS input, compressed_segmentation output, majority downscaling, meshes, S3/nginx/local publishing, neuroglancer URLs.'
        }
    }
}
