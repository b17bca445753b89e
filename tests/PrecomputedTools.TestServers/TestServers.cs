using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;

namespace PrecomputedTools.TestServers;

/// <summary>Repository paths for the test servers.</summary>
public static class RepoPaths
{
    private static readonly Lazy<string> s_root = new(() =>
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PrecomputedTools.psd1")) && Directory.Exists(Path.Combine(dir.FullName, "src")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Cannot find the repository root above " + AppContext.BaseDirectory);
    });

    public static string RepoRoot => s_root.Value;

    /// <summary>tests/tools: the npm packages .ci/install-publish.sh installs (s3rver).</summary>
    public static string ToolsDirectory => Path.Combine(RepoRoot, "tests", "tools");

    public static string NewScratch(string name)
    {
        string path = Path.Combine(Path.GetTempPath(), "pt-publish-tests", name + "-" + Guid.NewGuid().ToString("N").Substring(0, 8));
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>The full path of an executable on PATH (or in the usual sbin folders), or null.</summary>
    public static string? FindExecutable(string name)
    {
        var folders = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Concat(new[] { "/usr/sbin", "/usr/local/sbin", "/sbin" });
        foreach (string folder in folders.Where(f => f.Length > 0))
        {
            string candidate = Path.Combine(folder, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}

/// <summary>Free TCP ports and "is it listening yet" checks on 127.0.0.1.</summary>
public static class Ports
{
    public static int GetFree()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    public static bool WaitListening(int port, TimeSpan timeout, Process? process = null)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (process is { HasExited: true })
            {
                return false;
            }

            try
            {
                using var client = new TcpClient();
                client.Connect(IPAddress.Loopback, port);
                return true;
            }
            catch (SocketException)
            {
                Thread.Sleep(50);
            }
        }

        return false;
    }
}

/// <summary>A child process started by a test, killed (with its children) on dispose.</summary>
public abstract class ServerProcess : IDisposable
{
    private readonly StringBuilder _output = new();

    protected ServerProcess(int port) => Port = port;

    public int Port { get; }

    public string Url => "http://127.0.0.1:" + Port;

    protected Process? Process { get; private set; }

    /// <summary>What the process printed (for failure messages).</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    protected void StartProcess(ProcessStartInfo start, Func<string, bool>? readyLine, TimeSpan timeout)
    {
        start.UseShellExecute = false;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.RedirectStandardInput = true;
        var ready = new ManualResetEventSlim(readyLine is null);
        Process = new Process { StartInfo = start };
        Process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (_output)
            {
                _output.AppendLine(e.Data);
            }

            if (readyLine?.Invoke(e.Data) == true)
            {
                ready.Set();
            }
        };
        Process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (_output)
                {
                    _output.AppendLine(e.Data);
                }
            }
        };
        Process.Start();
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
        bool ok = readyLine is null ? Ports.WaitListening(Port, timeout, Process) : ready.Wait(timeout) && Ports.WaitListening(Port, timeout, Process);
        if (!ok)
        {
            Dispose();
            throw new InvalidOperationException($"{start.FileName} did not start listening on port {Port}: {Output}");
        }
    }

    public virtual void Dispose()
    {
        if (Process is null)
        {
            return;
        }

        try
        {
            if (!Process.HasExited)
            {
                Process.StandardInput.Close();
                if (!Process.WaitForExit(3000))
                {
                    Process.Kill(entireProcessTree: true);
                    Process.WaitForExit(5000);
                }
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        Process.Dispose();
        Process = null;
        GC.SuppressFinalize(this);
    }
}

/// <summary>s3rver (npm) on 127.0.0.1: anonymous reads, stored CORS enforced, any credentials accepted.</summary>
public sealed class S3rverInstance : ServerProcess
{
    public const string AccessKey = "S3RVER";
    public const string SecretKey = "S3RVER";

    private S3rverInstance(int port, string directory)
        : base(port) => Directory = directory;

    public string Directory { get; }

    public static string HostScript => Path.Combine(RepoPaths.ToolsDirectory, "s3rver-host.js");

    public static bool IsInstalled => File.Exists(Path.Combine(RepoPaths.ToolsDirectory, "node_modules", "s3rver", "package.json"));

    public static S3rverInstance Start()
    {
        if (!IsInstalled)
        {
            throw new InvalidOperationException("s3rver is not installed in tests/tools; run .ci/install-publish.sh.");
        }

        string directory = RepoPaths.NewScratch("s3rver");
        var instance = new S3rverInstance(Ports.GetFree(), directory);
        var start = new ProcessStartInfo("node") { WorkingDirectory = RepoPaths.ToolsDirectory };
        // s3rver 3.7.1 encrypts list continuation tokens with a cipher OpenSSL 3 disables: without this,
        // listing more than 1,000 keys fails with ERR_OSSL_EVP_UNSUPPORTED (HTTP 500).
        start.ArgumentList.Add("--openssl-legacy-provider");
        start.ArgumentList.Add(HostScript);
        start.ArgumentList.Add(instance.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        start.ArgumentList.Add(directory);
        instance.StartProcess(start, line => line.StartsWith("ready", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        return instance;
    }

    public override void Dispose()
    {
        base.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // s3rver may still hold a file for a moment; the scratch folder is under /tmp anyway.
        }
    }
}

/// <summary>moto's server where it is installed (it is not on npm or in Debian).</summary>
public sealed class MotoInstance : ServerProcess
{
    private MotoInstance(int port)
        : base(port)
    {
    }

    public static string? Executable => RepoPaths.FindExecutable("moto_server");

    public static MotoInstance Start()
    {
        string exe = Executable ?? throw new InvalidOperationException("moto_server is not installed.");
        var instance = new MotoInstance(Ports.GetFree());
        var start = new ProcessStartInfo(exe);
        start.ArgumentList.Add("-H");
        start.ArgumentList.Add("127.0.0.1");
        start.ArgumentList.Add("-p");
        start.ArgumentList.Add(instance.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        instance.StartProcess(start, null, TimeSpan.FromSeconds(60));
        return instance;
    }
}

/// <summary>A private nginx (run as an ordinary user under a prefix directory) running one generated server block in the foreground.</summary>
public sealed class NginxInstance : ServerProcess
{
    private NginxInstance(int port, string prefix)
        : base(port) => Prefix = prefix;

    public string Prefix { get; }

    public static string? Executable => RepoPaths.FindExecutable("nginx");

    public string AccessLog => File.Exists(Path.Combine(Prefix, "access.log")) ? File.ReadAllText(Path.Combine(Prefix, "access.log")) : "";

    /// <summary>Starts nginx with <paramref name="serverBlock"/> (which must listen on <paramref name="port"/>).</summary>
    public static NginxInstance Start(string serverBlock, int port)
    {
        string exe = Executable ?? throw new InvalidOperationException("nginx is not installed; run .ci/install-publish.sh.");
        string prefix = RepoPaths.NewScratch("nginx");
        System.IO.Directory.CreateDirectory(Path.Combine(prefix, "temp"));
        File.WriteAllText(Path.Combine(prefix, "site.conf"), serverBlock);
        string mime = File.Exists("/etc/nginx/mime.types") ? "    include      /etc/nginx/mime.types;\n" : "";
        File.WriteAllText(Path.Combine(prefix, "nginx.conf"),
            "worker_processes 1;\n"
            + $"pid       {prefix}/nginx.pid;\n"
            + $"error_log {prefix}/error.log warn;\n"
            + "events { worker_connections 256; }\n"
            + "http {\n" + mime
            + "    default_type application/octet-stream;\n"
            + $"    access_log   {prefix}/access.log;\n"
            + $"    client_body_temp_path {prefix}/temp;\n    proxy_temp_path {prefix}/temp;\n    fastcgi_temp_path {prefix}/temp;\n"
            + $"    uwsgi_temp_path {prefix}/temp;\n    scgi_temp_path {prefix}/temp;\n"
            + "    sendfile on;\n"
            + $"    include {prefix}/site.conf;\n"
            + "}\n");
        var check = new ProcessStartInfo(exe) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string a in new[] { "-t", "-p", prefix, "-e", prefix + "/error.log", "-c", prefix + "/nginx.conf" })
        {
            check.ArgumentList.Add(a);
        }

        using (Process test = System.Diagnostics.Process.Start(check)!)
        {
            string err = test.StandardError.ReadToEnd();
            test.WaitForExit();
            if (test.ExitCode != 0)
            {
                throw new InvalidOperationException("nginx -t rejected the configuration: " + err + "\n" + serverBlock);
            }
        }

        var instance = new NginxInstance(port, prefix);
        var start = new ProcessStartInfo(exe);
        foreach (string a in new[] { "-p", prefix, "-e", prefix + "/error.log", "-c", prefix + "/nginx.conf", "-g", "daemon off;" })
        {
            start.ArgumentList.Add(a);
        }

        instance.StartProcess(start, null, TimeSpan.FromSeconds(20));
        return instance;
    }

    public override void Dispose()
    {
        if (Process is { HasExited: false } p)
        {
            // A fast shutdown of the master (and its worker) by the pid we started.
            p.Kill(entireProcessTree: true);
            p.WaitForExit(5000);
        }

        base.Dispose();
    }
}

/// <summary>Raw HTTP/1.1 requests, for targets HttpClient would normalise ("/../", "%2e%2e").</summary>
public static class RawHttp
{
    /// <summary>Sends "METHOD target HTTP/1.1" and returns the status code and the header block.</summary>
    public static (int Status, string Headers) Send(int port, string method, string target, string? extraHeaders = null)
    {
        using var client = new TcpClient();
        client.Connect(IPAddress.Loopback, port);
        using NetworkStream stream = client.GetStream();
        stream.ReadTimeout = 10000;
        string request = $"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{extraHeaders}\r\n";
        byte[] bytes = Encoding.ASCII.GetBytes(request);
        stream.Write(bytes, 0, bytes.Length);
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int n;
        while ((n = stream.Read(chunk, 0, chunk.Length)) > 0)
        {
            buffer.Write(chunk, 0, n);
            string sofar = Encoding.ASCII.GetString(buffer.ToArray());
            if (sofar.Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                break;
            }
        }

        string text = Encoding.ASCII.GetString(buffer.ToArray());
        int end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        string head = end >= 0 ? text.Substring(0, end) : text;
        string[] statusLine = head.Split("\r\n")[0].Split(' ');
        return (statusLine.Length > 1 && int.TryParse(statusLine[1], out int status) ? status : 0, head);
    }
}

/// <summary>
/// A one-node Slurm (slurmctld + slurmd on free ports, state in a scratch folder; munged started
/// when none runs), as tests/tools/slurm/start-slurm.sh sets it up. Commands need <see cref="ConfigFile"/>
/// as SLURM_CONF; <see cref="Environment"/> sets it for this process and the ones it starts.
/// </summary>
public sealed class SlurmInstance : IDisposable
{
    private SlurmInstance(string folder)
    {
        Folder = folder;
    }

    public string Folder { get; }

    public string ConfigFile => Path.Combine(Folder, "slurm.conf");

    public static bool IsInstalled => RepoPaths.FindExecutable("sbatch") is not null && RepoPaths.FindExecutable("slurmctld") is not null;

    public static SlurmInstance Start()
    {
        string folder = RepoPaths.NewScratch("slurm");
        string script = Path.Combine(RepoPaths.ToolsDirectory, "slurm", "start-slurm.sh");
        (int exit, string output) = Run("bash", $"\"{script}\" \"{folder}\" {Ports.GetFree()} {Ports.GetFree()}", null, TimeSpan.FromMinutes(1));
        if (exit != 0)
        {
            throw new InvalidOperationException("Slurm did not start: " + output);
        }

        System.Environment.SetEnvironmentVariable("SLURM_CONF", Path.Combine(folder, "slurm.conf"));
        return new SlurmInstance(folder);
    }

    /// <summary>Runs a Slurm client command (squeue, scancel, ...) against this instance.</summary>
    public (int Exit, string Output) Command(string program, string arguments) => Run(program, arguments, ConfigFile, TimeSpan.FromMinutes(1));

    /// <summary>Waits until none of <paramref name="jobs"/> is queued or running.</summary>
    public void WaitForJobs(IEnumerable<string> jobs, TimeSpan timeout)
    {
        string list = string.Join(",", jobs);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            (int exit, string output) = Command("squeue", "--noheader --format=%i --jobs=" + list);
            if (exit == 0 && output.Trim().Length == 0)
            {
                return;
            }

            Thread.Sleep(500);
        }

        throw new TimeoutException($"Slurm jobs {list} still queued after {timeout}: {Command("squeue", "--jobs=" + list).Output}");
    }

    private static (int Exit, string Output) Run(string program, string arguments, string? config, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(program, arguments) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        if (config is not null)
        {
            start.Environment["SLURM_CONF"] = config;
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException(program + " did not start");
        System.Threading.Tasks.Task<string> error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit((int)timeout.TotalMilliseconds))
        {
            process.Kill(entireProcessTree: true);
        }

        return (process.ExitCode, output + error.Result);
    }

    public void Dispose()
    {
        Run("bash", $"\"{Path.Combine(RepoPaths.ToolsDirectory, "slurm", "stop-slurm.sh")}\" \"{Folder}\"", null, TimeSpan.FromSeconds(30));
    }
}
