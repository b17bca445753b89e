# Look at the bundled sample a minute after making it: convert, serve locally, build the viewer link.
param([string] $ModulePath, [string] $Work)
Import-Module $ModulePath
$samples = [IO.Path]::Combine([IO.Path]::GetDirectoryName($ModulePath), 'samples', 'sample-labels')
$dataset = Import-TiffStack -Path $samples -Resolution 800, 800, 2000 |
    ConvertTo-CompressedSegmentation -Path ([IO.Path]::Combine($Work, 'sample')) | Invoke-MajorityDownscale

# Serve the folder that holds the dataset, on any free loopback port.
$server = Start-PrecomputedServer -Path $Work -Port 0
try {
    if (-not $server.Url.StartsWith('http://127.0.0.1:')) { throw "unexpected server URL $($server.Url)" }
    $handler = [System.Net.Http.HttpClientHandler]::new()
    $handler.AutomaticDecompression = [System.Net.DecompressionMethods]::None
    $http = [System.Net.Http.HttpClient]::new($handler)

    $info = $http.GetAsync("$($server.Url)/sample/info").GetAwaiter().GetResult()
    if ([int]$info.StatusCode -ne 200) { throw "info: HTTP $([int]$info.StatusCode)" }
    if ($info.Content.Headers.ContentType.MediaType -ne 'application/json') { throw "info type $($info.Content.Headers.ContentType)" }
    if (-not $info.Headers.Contains('Access-Control-Allow-Origin')) { throw 'info has no CORS header' }

    # One chunk of scale 0, asked for by the name the viewer uses (no .gz).
    $scale = $dataset.Scales[0]
    $chunk = [IO.Directory]::GetFiles([IO.Path]::Combine($dataset.Path, $scale.Key), '*.gz')[0]
    $name = [IO.Path]::GetFileNameWithoutExtension($chunk)
    $request = [System.Net.Http.HttpRequestMessage]::new('GET', "$($server.Url)/sample/$($scale.Key)/$name")
    $request.Headers.TryAddWithoutValidation('Accept-Encoding', 'gzip') | Out-Null
    $response = $http.SendAsync($request).GetAwaiter().GetResult()
    if ([int]$response.StatusCode -ne 200) { throw "chunk: HTTP $([int]$response.StatusCode)" }
    if (($response.Content.Headers.ContentEncoding -join ',') -ne 'gzip') { throw "chunk encoding '$($response.Content.Headers.ContentEncoding -join ',')'" }
    $missing = $http.GetAsync("$($server.Url)/sample/$($scale.Key)/0-1_0-1_0-1").GetAwaiter().GetResult()
    if ([int]$missing.StatusCode -ne 404 -or -not $missing.Headers.Contains('Access-Control-Allow-Origin')) { throw 'a missing chunk must be a 404 with CORS' }

    # The link: the dataset finds the server that serves it; ids as strings; position at the centre.
    $link = New-NeuroglancerUrl -Dataset $dataset -SegmentId 1, 2
    $json = [Uri]::UnescapeDataString($link.Url.Substring($link.Url.IndexOf('#!') + 2))
    $state = [System.Text.Json.JsonDocument]::Parse($json).RootElement
    $layer = $state.GetProperty('layers')[0]
    if ($layer.GetProperty('source').GetString() -ne "precomputed://$($server.Url)/sample") { throw "source $($layer.GetProperty('source').GetString())" }
    if ($layer.GetProperty('segments')[1].GetString() -ne '2') { throw 'segments must be strings' }
    if ($state.GetProperty('position')[0].GetDouble() -ne 160.5) { throw "position x $($state.GetProperty('position')[0].GetDouble())" }
    if ($state.GetProperty('dimensions').GetProperty('z')[0].GetDouble() -ne 2e-6) { throw 'z dimension should be 2e-6 m' }
}
finally {
    $server | Stop-PrecomputedServer
}
if ($server.IsRunning) { throw 'the server is still running' }
