# The guide's hand-written base info: accepted, top-level encoding applied to every scale with a warning.
param([string] $ModulePath, [string] $Work)
Import-Module $ModulePath
$infoFile = [IO.Path]::Combine($Work, 'base-info.json')
[IO.File]::WriteAllText($infoFile, @'
{
    "encoding": "compressed_segmentation",
    "scales": [ { "voxel_offset": [0,0,0], "resolution": [798,798,2000], "size": [1406,621,138] } ],
    "compressed_segmentation_block_size": [8,8,8],
    "data_type": "uint64",
    "mesh": "mesh",
    "type": "segmentation",
    "num_channels": 1
}
'@)
$out = [IO.Path]::Combine($Work, 'output')
$dataset = New-PrecomputedInfo -Path $infoFile -Destination $out -TargetChunkSize 256 -WarningVariable warnings -WarningAction SilentlyContinue
if (-not ($warnings | Where-Object { "$_" -like '*top level*' })) { throw 'no warning about the top-level encoding' }
$keys = ($dataset.Scales | ForEach-Object { $_.Key }) -join ','
if ($keys -ne '1um,2um,3um') { throw "keys are $keys" }
$chunks = ($dataset.Scales | ForEach-Object { $_.ChunkSize -join 'x' }) -join ','
if ($chunks -ne '256x256x128,256x256x256,256x256x256') { throw "chunk sizes are $chunks" }
$encodings = @($dataset.Scales | Where-Object { $_.Encoding -ne 'compressed_segmentation' })
if ($encodings.Count -ne 0) { throw 'every scale must be compressed_segmentation' }
$json = [IO.File]::ReadAllText([IO.Path]::Combine($out, 'info'))
# Every one of the three scales, however the writer lays the arrays out (core cmdlets only here: no ConvertFrom-Json).
if ([regex]::Matches($json, '"compressed_segmentation_block_size":\s*\[\s*8,\s*8,\s*8\s*\]').Count -ne 3) { throw "block size missing from the written info: $json" }
