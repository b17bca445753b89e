# The quick start's main job on the bundled sample: convert, downscale, validate; checks the result.
param([string] $ModulePath, [string] $Work)
Import-Module $ModulePath
$samples = [IO.Path]::Combine([IO.Path]::GetDirectoryName($ModulePath), 'samples', 'sample-labels')
$out = [IO.Path]::Combine($Work, 'sample')

$volume = Import-TiffStack -Path $samples -Resolution 800, 800, 2000
if ($volume.Size -join 'x' -ne '320x192x48') { throw "sample size is $($volume.Size -join 'x')" }
if ($volume.DataType -ne 'uint16') { throw "sample type is $($volume.DataType)" }

$dataset = $volume | ConvertTo-CompressedSegmentation -Path $out | Invoke-MajorityDownscale
if ($dataset.Scales.Count -ne 3) { throw "expected 3 scales, got $($dataset.Scales.Count)" }
if ($dataset.DataType -ne 'uint64') { throw "labels should be stored as uint64, not $($dataset.DataType)" }
if (-not [IO.File]::Exists([IO.Path]::Combine($out, 'info'))) { throw 'info file missing' }

$report = Test-PrecomputedDataset -InputObject $dataset
if (-not $report.IsValid) { throw "invalid dataset: $($report.Problems -join '; ')" }
if ($report.PresentChunks -ne $report.ExpectedChunks) { throw "$($report.PresentChunks) of $($report.ExpectedChunks) chunks" }
