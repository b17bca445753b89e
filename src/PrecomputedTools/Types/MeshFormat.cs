namespace PrecomputedTools;

/// <summary>
/// The mesh folder formats New-SegmentMesh writes (neuroglancer meshes.md: legacy single-resolution and
/// multi-resolution). Declared here, not taken from
/// the engine: PowerShell reads parameter types while it imports the module, before the engine's
/// private load context is installed.
/// </summary>
public enum MeshFormat
{
    /// <summary>neuroglancer_legacy_mesh: a manifest and one fragment file per segment and chunk; the viewer loads every triangle at once.</summary>
    Legacy,

    /// <summary>neuroglancer_multilod_draco: per segment a Draco fragment file and a binary manifest; the viewer streams levels of detail by octree node.</summary>
    MultiResolution,
}
