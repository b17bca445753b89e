# Bad input gives errors with stable ids and writes nothing.
param([string] $ModulePath, [string] $Work)
Import-Module $ModulePath

function Assert-ErrorId([scriptblock] $Action, [string] $Id) {
    try { & $Action; throw "expected error $Id, got none" }
    catch {
        if ($_.FullyQualifiedErrorId -notlike "$Id,*") { throw "expected error $Id, got $($_.FullyQualifiedErrorId): $_" }
    }
}

$empty = [IO.Path]::Combine($Work, 'empty')
[void][IO.Directory]::CreateDirectory($empty)
Assert-ErrorId { Import-TiffStack -Path $empty -ErrorAction Stop } 'NoTiffSlices'

$fake = [IO.Path]::Combine($Work, 'fake')
[void][IO.Directory]::CreateDirectory($fake)
[IO.File]::WriteAllText([IO.Path]::Combine($fake, 'a.tif'), 'not a tiff')
Assert-ErrorId { Import-TiffStack -Path $fake -ErrorAction Stop } 'NotATiffFile'

$out = [IO.Path]::Combine($Work, 'zero')
Assert-ErrorId { New-PrecomputedInfo -Size 0, 5, 5 -Resolution 1, 1, 1 -Destination $out } 'InvalidVolumeGeometry'
if ([IO.Directory]::Exists($out)) { throw 'an invalid info must not create the output folder' }

Assert-ErrorId { Import-TiffStack -Path ([IO.Path]::Combine($Work, 'does-not-exist')) -ErrorAction Stop } 'PathNotFound'
