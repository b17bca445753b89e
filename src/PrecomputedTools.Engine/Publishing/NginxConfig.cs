using System;
using System.Globalization;
using System.IO;
using System.Text;

namespace PrecomputedTools.Engine.Publishing;

/// <summary>Parameters of a generated nginx server block.</summary>
public sealed class NginxConfigOptions
{
    /// <summary>Folder served at <see cref="Location"/> (a dataset's parent, or a folder of datasets).</summary>
    public string Root { get; set; } = "";

    public string ServerName { get; set; } = "localhost";

    public int Port { get; set; } = 80;

    /// <summary>Address to listen on ("127.0.0.1"); null listens on every address.</summary>
    public string? ListenAddress { get; set; }

    /// <summary>URL path prefix under which <see cref="Root"/> is served; "/" by default.</summary>
    public string Location { get; set; } = "/";
}

/// <summary>
/// The nginx server block of README, 'New-PrecomputedNginxConfig, Start-PrecomputedServer, Stop-PrecomputedServer'
/// (nginx docs: ngx_http_gzip_static_module, ngx_http_gunzip_module, add_header), with the colon-free manifest mapping:
/// gzip_static always + gunzip, CORS on every response (404 included), exposed headers, no
/// listing, no on-the-fly compression, JSON type for info files and manifests, no try_files on chunks.
/// </summary>
public static class NginxConfig
{
    public static string NormalizeLocation(string? location)
    {
        string l = (location ?? "/").Replace('\\', '/').Trim();
        if (l.Length == 0 || l == "/")
        {
            return "/";
        }

        return "/" + l.Trim('/') + "/";
    }

    public static string Generate(NginxConfigOptions options)
    {
        if (options is null)
        {
            throw new ArgumentNullException(nameof(options));
        }

        if (options.Port is < 1 or > 65535)
        {
            throw new EngineException("InvalidPort", EngineErrorKind.InvalidArgument, $"Port {options.Port} is outside 1-65535.", options.Port);
        }

        string root = Path.GetFullPath(options.Root).Replace('\\', '/').TrimEnd('/');
        string location = NormalizeLocation(options.Location);
        foreach (char c in root + options.ServerName + location)
        {
            if (c is '"' or ';' or '{' or '}' or '\n' or '\r' || c == '$')
            {
                throw new EngineException("InvalidNginxValue", EngineErrorKind.InvalidArgument, $"'{c}' cannot appear in a generated nginx path, server name or location.", root);
            }
        }

        string listen = options.ListenAddress is { Length: > 0 } address
            ? (address.IndexOf(':') >= 0 ? "[" + address + "]" : address) + ":" + options.Port.ToString(CultureInfo.InvariantCulture)
            : options.Port.ToString(CultureInfo.InvariantCulture);
        const string Preflight = @"        if ($request_method = OPTIONS) {
            # add_header inside ""if"" replaces the inherited ones, so repeat what a preflight needs.
            add_header Access-Control-Allow-Origin  ""*"";
            add_header Access-Control-Allow-Methods ""GET, HEAD, OPTIONS"";
            add_header Access-Control-Allow-Headers ""Range, If-None-Match, If-Modified-Since, Cache-Control"";
            add_header Access-Control-Max-Age       86400;
            return 204;
        }
";
        string nestedPreflight = Preflight.Replace("\n        ", "\n            ").Replace("        if (", "            if (");
        var text = new StringBuilder();
        text.Append("# PrecomputedTools: static hosting of precomputed datasets for neuroglancer (New-PrecomputedNginxConfig).\n");
        text.Append("# Datasets live under the root; chunks are stored as \"<name>.gz\" and served as \"<name>\" with Content-Encoding: gzip.\n");
        text.Append("server {\n");
        text.Append("    listen ").Append(listen).Append(";                          # public hosting: listen 443 ssl + certificates\n");
        text.Append("    server_name ").Append(options.ServerName).Append(";\n");
        if (location == "/")
        {
            text.Append("    root \"").Append(root).Append("\";\n");
        }

        text.Append(@"
    gzip_static always;                 # request ""X"" -> send ""X.gz"" with Content-Encoding: gzip
    gunzip      on;                     # inflate for the rare client that does not accept gzip
    gzip_vary   on;                     # ""Vary: Accept-Encoding"", since gunzip makes responses vary
    gzip        off;                    # never compress on the fly: no double compression, mesh fragments stay plain
    autoindex   off;                    # no directory listings

    # CORS and caching on every response; ""always"" includes 404 and other errors.
    add_header Access-Control-Allow-Origin   ""*"" always;
    add_header Access-Control-Expose-Headers ""Content-Length, Content-Range, Content-Encoding, ETag"" always;
    add_header Cache-Control                 ""public, max-age=300"" always;

");
        text.Append("    location ").Append(location == "/" ? "/" : "^~ " + location).Append(" {\n");
        if (location != "/")
        {
            text.Append("        alias \"").Append(root).Append("/\";\n");
        }

        text.Append("        # No try_files here: it would 404 every chunk that exists only as \"X.gz\".\n");
        text.Append(Preflight);
        text.Append("        limit_except GET HEAD OPTIONS { deny all; }\n\n");
        text.Append("        # Extension-less JSON: <dataset>/info, mesh/info, segment_properties/info.\n");
        text.Append("        location ~ /info$ {\n");
        text.Append("            default_type application/json;\n");
        text.Append(nestedPreflight);
        text.Append("            limit_except GET HEAD OPTIONS { deny all; }\n");
        text.Append("        }\n\n");
        text.Append("        # Legacy manifests: \"<...>/<id>:0\" is the file itself if present, else the colon-free \"<...>/<id>.json\".\n");
        text.Append("        location ~ \"^(?<manifest>.+/[0-9]+):0$\" {\n");
        text.Append("            default_type application/json;\n");
        text.Append(nestedPreflight);
        text.Append("            limit_except GET HEAD OPTIONS { deny all; }\n");
        text.Append("            try_files $uri $manifest.json =404;     # safe here: manifests are never .gz\n");
        text.Append("        }\n");
        text.Append("    }\n");
        text.Append("}\n");
        return text.ToString();
    }

    /// <summary>
    /// A complete nginx.conf for a private instance run as an ordinary user (nginx -p &lt;prefix&gt; -c ...):
    /// every path under <paramref name="prefix"/>, the server block included.
    /// </summary>
    public static string GeneratePrivateInstance(string prefix, string serverBlockPath, string mimeTypesPath = "/etc/nginx/mime.types")
    {
        string p = Path.GetFullPath(prefix).Replace('\\', '/').TrimEnd('/');
        return "worker_processes 1;\n"
            + $"pid       {p}/nginx.pid;\n"
            + $"error_log {p}/error.log warn;\n"
            + "events { worker_connections 256; }\n"
            + "http {\n"
            + (File.Exists(mimeTypesPath) ? $"    include      {mimeTypesPath};\n" : "")
            + "    default_type application/octet-stream;\n"
            + $"    access_log   {p}/access.log;\n"
            + $"    client_body_temp_path {p}/temp;\n"
            + $"    proxy_temp_path       {p}/temp;\n"
            + $"    fastcgi_temp_path     {p}/temp;\n"
            + $"    uwsgi_temp_path       {p}/temp;\n"
            + $"    scgi_temp_path        {p}/temp;\n"
            + "    sendfile on;\n"
            + $"    include {Path.GetFullPath(serverBlockPath).Replace('\\', '/')};\n"
            + "}\n";
    }
}
