using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using PrecomputedTools.Engine.Storage;

namespace PrecomputedTools.Engine.Precomputed;

/// <summary>What <see cref="DatasetValidator"/> found in one scale.</summary>
public sealed class ScaleValidation
{
    public string Key { get; init; } = "";

    public long ExpectedChunks { get; init; }

    public long PresentChunks { get; set; }

    public long MissingChunks { get; set; }

    public long InvalidChunks { get; set; }
}

/// <summary>The result of validating a dataset folder.</summary>
public sealed class DatasetValidation
{
    public string Path { get; init; } = "";

    public bool InfoValid { get; set; }

    public List<ScaleValidation> Scales { get; } = new();

    /// <summary>One line per problem, e.g. "1um/0-64_0-64_0-32.gz: not a gzip stream".</summary>
    public List<string> Problems { get; } = new();

    public bool IsValid => InfoValid && Problems.Count == 0;
}

/// <summary>
/// Checks a dataset the way FORMATS.md §11.1 describes: the info, every chunk present, decodable,
/// of the right shape; .gz files really gzip; no temporary files left behind.
/// </summary>
public static class DatasetValidator
{
    public static Task<DatasetValidation> ValidateAsync(string path, int throttleLimit, OperationMonitor monitor, CancellationToken cancellationToken) => Task.Run(
        () =>
        {
            var report = new DatasetValidation { Path = System.IO.Path.GetFullPath(path) };
            var directory = new DatasetDirectory(path);
            PrecomputedInfo info;
            try
            {
                info = directory.ReadInfo();
                info.Validate(directory.InfoPath);
                report.InfoValid = true;
            }
            catch (EngineException ex)
            {
                report.Problems.Add("info: " + ex.Message);
                return report;
            }

            foreach (string temp in Directory.EnumerateFiles(directory.RootPath, "*" + AtomicFile.TempSuffix, SearchOption.AllDirectories))
            {
                report.Problems.Add($"{Relative(directory, temp)}: temporary file left by an interrupted write");
            }

            monitor.AddWork(info.Scales.Sum(s => s.ChunkCount));
            var problems = new ConcurrentQueue<string>();
            var parallel = new ParallelOptions { CancellationToken = cancellationToken, MaxDegreeOfParallelism = Math.Max(1, throttleLimit) };
            foreach (ScaleInfo scale in info.Scales)
            {
                var result = new ScaleValidation { Key = scale.Key, ExpectedChunks = scale.ChunkCount };
                report.Scales.Add(result);
                if (!ChunkEncodings.IsKnown(scale.Encoding))
                {
                    problems.Enqueue($"{scale.Key}: encoding '{scale.Encoding}' is not checked by this module");
                    continue;
                }

                long present = 0, missing = 0, invalid = 0;
                Parallel.ForEach(scale.EnumerateChunks(), parallel, box =>
                {
                    string? file = directory.FindChunkFile(scale, box);
                    if (file is null)
                    {
                        Interlocked.Increment(ref missing);
                        problems.Enqueue($"{scale.Key}/{scale.ChunkName(box)}: missing");
                    }
                    else if (CheckChunk(info, scale, box, file) is { } problem)
                    {
                        Interlocked.Increment(ref invalid);
                        problems.Enqueue($"{Relative(directory, file)}: {problem}");
                    }
                    else
                    {
                        Interlocked.Increment(ref present);
                    }

                    monitor.ReportDone();
                });
                result.PresentChunks = present;
                result.MissingChunks = missing;
                result.InvalidChunks = invalid;
            }

            report.Problems.AddRange(problems.OrderBy(p => p, StringComparer.Ordinal));
            return report;
        },
        cancellationToken);

    private static string? CheckChunk(PrecomputedInfo info, ScaleInfo scale, Box3 box, string file)
    {
        try
        {
            byte[] raw = File.ReadAllBytes(file);
            if (file.EndsWith(".gz", StringComparison.Ordinal) && (raw.Length < 2 || raw[0] != 0x1f || raw[1] != 0x8b))
            {
                return "has a .gz name but is not a gzip stream";
            }

            using PooledBytes encoded = DatasetDirectory.ReadMaybeGzipPooled(file);
            if (scale.Encoding == ChunkEncodings.CompressedSegmentation && (encoded.Length % 4 != 0 || encoded.Length < 4 || System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(encoded.Span) != 1))
            {
                return "is not a single-channel compressed_segmentation chunk (length not a multiple of 4 or first word not 1)";
            }

            ChunkCodec.Verify(info.DataType, scale, box.Size, encoded.Span, scale.ChunkName(box));
            return null;
        }
        catch (EngineException ex)
        {
            return ex.Message;
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            return ex.Message;
        }
    }

    private static string Relative(DatasetDirectory directory, string file) =>
        file.StartsWith(directory.RootPath, StringComparison.Ordinal) ? file.Substring(directory.RootPath.Length).TrimStart(System.IO.Path.DirectorySeparatorChar).Replace('\\', '/') : file;
}
