using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using PrecomputedTools.Engine.Meshing.Draco;
using Xunit;

namespace PrecomputedTools.Engine.Tests;

/// <summary>Our Draco encoder against Debian's draco_decoder: positions and faces come back exactly.</summary>
public class DracoEncoderTests
{
    /// <summary>
    /// A coherent surface (a height field of 100 x 100 quads, 16-bit coordinates), as meshes are:
    /// the indices are entropy coded (connectivity method 0), positions predicted and coded, and
    /// Google's decoder and ours give back exactly what was encoded, in well under the 12 bytes per
    /// point and 6 per triangle of plain storage.
    /// </summary>
    [Fact]
    public void ACoherentSurfaceIsEntropyCodedAndDecodedExactly()
    {
        const int n = 101;
        var pos = new int[n * n * 3];
        for (int y = 0; y < n; y++)
        {
            for (int x = 0; x < n; x++)
            {
                int v = (y * n) + x;
                pos[3 * v] = x * 600;
                pos[(3 * v) + 1] = y * 600;
                pos[(3 * v) + 2] = 30000 + (int)(8000 * Math.Sin(x / 9.0) * Math.Cos(y / 13.0));
            }
        }

        var idx = new List<int>();
        for (int y = 0; y < n - 1; y++)
        {
            for (int x = 0; x < n - 1; x++)
            {
                int a = (y * n) + x;
                idx.AddRange(new[] { a, a + 1, a + n, a + 1, a + n + 1, a + n });
            }
        }

        byte[] encoded = DracoMeshEncoder.Encode(pos, idx.ToArray());
        int at = 11;
        while ((encoded[at++] & 0x80) != 0)
        {
        }

        while ((encoded[at++] & 0x80) != 0)
        {
        }

        Assert.Equal(0, encoded[at]); // compressed sequential indices
        int triangles = idx.Count / 3;
        Assert.True(encoded.Length < 3.2 * triangles, $"{encoded.Length} bytes for {triangles} triangles and {n * n} points");
        DracoMeshContents ours = DracoMeshReader.Read(encoded);
        Assert.Equal(pos, ours.Positions);
        Assert.Equal(idx, ours.Indices);
        (int[] positions, int[] faces) = DracoDecoder.Decode(encoded);
        for (int f = 0; f < faces.Length; f++)
        {
            for (int c = 0; c < 3; c++)
            {
                Assert.Equal(pos[(idx[f] * 3) + c], positions[(faces[f] * 3) + c]);
            }
        }
    }

    /// <summary>The validator reads fragments it did not write: damaged bytes give InvalidDracoMesh, never another exception.</summary>
    [Fact]
    public void DamagedFragmentsAreInvalidDracoMeshesAndNothingElse()
    {
        var rng = new Random(5);
        var pos = new int[600 * 3];
        for (int i = 0; i < pos.Length; i++)
        {
            pos[i] = 20000 + ((i / 3) * 37 % 3000) + rng.Next(0, 50);
        }

        var idx = new int[1000 * 3];
        for (int f = 0; f < 1000; f++)
        {
            idx[3 * f] = f % 600;
            idx[(3 * f) + 1] = (f + 1) % 600;
            idx[(3 * f) + 2] = (f * 7 + 3) % 600;
        }

        byte[] good = DracoMeshEncoder.Encode(pos, idx);
        Assert.Equal(pos, DracoMeshReader.Read(good).Positions);
        int rejected = 0;
        for (int trial = 0; trial < 3000; trial++)
        {
            byte[] bad = (byte[])good.Clone();
            int changes = 1 + rng.Next(4);
            for (int c = 0; c < changes; c++)
            {
                bad[11 + rng.Next(bad.Length - 11)] = (byte)rng.Next(256);
            }

            if (trial % 10 == 0)
            {
                Array.Resize(ref bad, rng.Next(11, bad.Length));
            }

            try
            {
                DracoMeshReader.Read(bad);
            }
            catch (EngineException ex)
            {
                Assert.Equal("InvalidDracoMesh", ex.ErrorId);
                rejected++;
            }
        }

        Assert.True(rejected > 100, $"only {rejected} of 3000 damaged fragments were rejected");
    }

    [Theory]
    [InlineData(4, 1)]
    [InlineData(300, 2)]
    [InlineData(70000, 3)]
    public void DracoDecoderReadsOurMeshExactly(int points, int seed)
    {
        var rng = new Random(seed);
        var pos = new int[points * 3];
        for (int i = 0; i < pos.Length; i++)
        {
            pos[i] = rng.Next(0, 1024);
        }

        int faces = points;
        var idx = new int[faces * 3];
        for (int f = 0; f < faces; f++)
        {
            idx[f * 3] = f;
            idx[f * 3 + 1] = (f + 1) % points;
            idx[f * 3 + 2] = (f + 2) % points;
        }

        string dir = Path.Combine(Path.GetTempPath(), "draco-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string drc = Path.Combine(dir, "m.drc");
            string obj = Path.Combine(dir, "m.obj");
            byte[] encoded = DracoMeshEncoder.Encode(pos, idx);
            File.WriteAllBytes(drc, encoded);
            DracoMeshContents ours = DracoMeshReader.Read(encoded);
            Assert.Equal(pos, ours.Positions);
            Assert.Equal(idx, ours.Indices);
            var psi = new ProcessStartInfo("/usr/bin/draco_decoder", $"-i {drc} -o {obj}") { RedirectStandardOutput = true, RedirectStandardError = true };
            using (var p = Process.Start(psi)!)
            {
                string err = p.StandardError.ReadToEnd() + p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                Assert.True(p.ExitCode == 0, err);
            }

            var v = new List<int>();
            var fs = new List<int>();
            foreach (string line in File.ReadLines(obj))
            {
                string[] t = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (t.Length == 4 && t[0] == "v")
                {
                    for (int k = 1; k < 4; k++)
                    {
                        v.Add((int)double.Parse(t[k], CultureInfo.InvariantCulture));
                    }
                }
                else if (t.Length == 4 && t[0] == "f")
                {
                    for (int k = 1; k < 4; k++)
                    {
                        fs.Add(int.Parse(t[k].Split('/')[0], CultureInfo.InvariantCulture) - 1);
                    }
                }
            }

            Assert.Equal(faces * 3, fs.Count);
            Assert.Equal(points * 3, v.Count);
            for (int f = 0; f < faces * 3; f++)
            {
                for (int c = 0; c < 3; c++)
                {
                    Assert.Equal(pos[idx[f] * 3 + c], v[fs[f] * 3 + c]);
                }
            }
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
