using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using PrecomputedTools.Engine.Tiff;
using Xunit;

namespace PrecomputedTools.Engine.Tests;

/// <summary>
/// Damaged TIFFs (a seeded, bounded corpus of mutations of the bundled sample's slices): opening and
/// reading them fails only with an EngineException, never with the TIFF library's own exceptions.
/// </summary>
public sealed class TiffCorpusTests
{
    private const int Mutants = 1500;

    [Fact]
    public async System.Threading.Tasks.Task MutatedTiffsFailOnlyWithEngineErrors()
    {
        string samples = Path.Combine(TestData.RepoRoot, "module", "samples", "sample-labels");
        byte[][] seeds = Directory.EnumerateFiles(samples, "*.tif").OrderBy(f => f, StringComparer.Ordinal).Take(3).Select(File.ReadAllBytes).ToArray();
        Assert.NotEmpty(seeds);
        string scratch = TestData.NewScratch("tiff-corpus");
        var random = new Random(2026);
        var escaped = new Dictionary<string, string>();
        int opened = 0, refused = 0;
        for (int n = 0; n < Mutants; n++)
        {
            byte[] bytes = (byte[])seeds[n % seeds.Length].Clone();
            int edits = 1 + random.Next(4);
            for (int e = 0; e < edits; e++)
            {
                // Most damage where the structure is (header, directories, strip tables); some anywhere.
                int limit = random.Next(4) == 0 ? bytes.Length : Math.Min(bytes.Length, 512);
                int at = random.Next(limit);
                switch (random.Next(5))
                {
                    case 0:
                        bytes[at] = (byte)random.Next(256);
                        break;
                    case 1:
                        bytes[at] ^= (byte)(1 << random.Next(8));
                        break;
                    case 2:
                        for (int k = 0; k < 4 && at + k < bytes.Length; k++)
                        {
                            bytes[at + k] = 0xFF; // huge counts and offsets
                        }

                        break;
                    case 3:
                        Array.Resize(ref bytes, Math.Max(8, at));
                        break;
                    default:
                        for (int k = 0; k < 4 && at + k < bytes.Length; k++)
                        {
                            bytes[at + k] = 0;
                        }

                        break;
                }
            }

            string file = Path.Combine(scratch, $"m{n:D4}.tif");
            File.WriteAllBytes(file, bytes);
            try
            {
                TiffStackDescriptor volume = TiffStackDescriptor.Open(file);
                long length = volume.Size.Volume * VoxelTypes.SizeOf(volume.DataType);
                if (length <= 64L << 20)
                {
                    using Volumes.IVolumeReader reader = volume.OpenReader();
                    await reader.ReadAsync(Box3.FromSize(volume.Size), new byte[length], CancellationToken.None);
                }

                opened++;
            }
            catch (EngineException)
            {
                refused++;
            }
            catch (AggregateException ex) when (ex.Flatten().InnerExceptions.All(i => i is EngineException))
            {
                refused++;
            }
            catch (Exception ex)
            {
                Exception inner = ex is AggregateException a ? a.Flatten().InnerExceptions.First(i => i is not EngineException) : ex;
                string signature = inner.GetType().Name + " at " + (inner.StackTrace ?? "").Split('\n').FirstOrDefault()?.Trim();
                escaped.TryAdd(signature, file);
            }
        }

        Assert.True(escaped.Count == 0, $"{escaped.Count} kinds of non-engine exception escaped:\n" + string.Join("\n", escaped.Select(kv => kv.Key + " (" + kv.Value + ")")));
        Assert.True(refused > Mutants / 10, $"only {refused} of {Mutants} mutants were refused: the corpus damages too little ({opened} opened)");
    }
}
