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
            File.WriteAllBytes(drc, DracoMeshEncoder.Encode(pos, idx));
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
