using System.Linq;
using PrecomputedTools.Engine.Precomputed;
using PrecomputedTools.Engine.Stages;

namespace PrecomputedTools;

/// <summary>The result of Test-PrecomputedDataset.</summary>
public sealed class DatasetValidationReport
{
    internal DatasetValidationReport(DatasetValidation validation)
    {
        Path = validation.Path;
        InfoValid = validation.InfoValid;
        IsValid = validation.IsValid;
        ExpectedChunks = validation.Scales.Sum(s => s.ExpectedChunks);
        PresentChunks = validation.Scales.Sum(s => s.PresentChunks);
        MissingChunks = validation.Scales.Sum(s => s.MissingChunks);
        InvalidChunks = validation.Scales.Sum(s => s.InvalidChunks);
        Scales = validation.Scales.Select(s => s.Key + ": " + s.PresentChunks + "/" + s.ExpectedChunks).ToArray();
        Problems = validation.Problems.ToArray();
    }

    /// <summary>Dataset folder.</summary>
    public string Path { get; }

    /// <summary>True when the info is valid and no problem was found.</summary>
    public bool IsValid { get; }

    /// <summary>True when the info file parsed and passed its checks.</summary>
    public bool InfoValid { get; }

    /// <summary>Chunk files a complete dataset has.</summary>
    public long ExpectedChunks { get; }

    /// <summary>Chunk files present and decodable.</summary>
    public long PresentChunks { get; }

    /// <summary>Chunk files absent.</summary>
    public long MissingChunks { get; }

    /// <summary>Chunk files present but undecodable or of the wrong shape.</summary>
    public long InvalidChunks { get; }

    /// <summary>"key: present/expected" per scale.</summary>
    public string[] Scales { get; }

    /// <summary>One line per problem found.</summary>
    public string[] Problems { get; }

    public override string ToString() => $"{Path}: {(IsValid ? "valid" : "INVALID")}, {PresentChunks}/{ExpectedChunks} chunks, {Problems.Length} problem(s)";
}
