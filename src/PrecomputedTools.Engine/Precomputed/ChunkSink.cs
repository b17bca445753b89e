using System;
using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using PrecomputedTools.Engine.Codecs;
using PrecomputedTools.Engine.Storage;

namespace PrecomputedTools.Engine.Precomputed;

/// <summary>
/// One chunk being produced z plane group by z plane group: compressed_segmentation through a
/// streaming encoder, raw straight into its (temporary) file. Neither needs the whole chunk in
/// memory. Nothing is visible under the chunk's name until <see cref="Complete"/>.
/// </summary>
internal sealed class ChunkSink : IDisposable
{
    private static readonly ConcurrentBag<CompressedSegmentationEncoder> s_encoders = new();
    private readonly DatasetStore _directory;
    private readonly PrecomputedInfo _info;
    private readonly ScaleInfo _scale;
    private readonly CompressedSegmentationEncoder? _encoder;
    private IObjectWriter? _raw;
    private byte[]? _image;
    private int _imageBytes;
    private int _imageFilled;
    private int _planesWritten;

    public ChunkSink(DatasetStore directory, PrecomputedInfo info, ScaleInfo scale, Box3 box)
    {
        _directory = directory;
        _info = info;
        _scale = scale;
        Box = box;
        if (scale.Encoding == ChunkEncodings.CompressedSegmentation)
        {
            if (!VoxelTypes.IsLabelType(info.DataType))
            {
                throw new EngineException("UnsupportedEncoding", EngineErrorKind.NotSupported, $"compressed_segmentation needs uint32 or uint64 labels, not {VoxelTypes.ToInfoName(info.DataType)}.", scale.Key);
            }

            _encoder = s_encoders.TryTake(out CompressedSegmentationEncoder? pooled) ? pooled : new CompressedSegmentationEncoder();
            _encoder.BeginStream(box.Size, scale.BlockSize ?? new Int3(8, 8, 8));
        }
        else if (ChunkEncodings.IsImageCodec(scale.Encoding))
        {
            // An image is encoded whole: the chunk's voxels are gathered, then encoded once.
            _imageBytes = checked((int)(box.VoxelCount * VoxelTypes.SizeOf(info.DataType)));
            _image = EngineBuffers.Bytes.Rent(Math.Max(1, _imageBytes));
        }
        else if (scale.Encoding != ChunkEncodings.Raw)
        {
            throw new EngineException("UnsupportedEncoding", EngineErrorKind.NotSupported, $"Scale {scale.Key}: writing encoding '{scale.Encoding}' is not supported.", scale.Key);
        }
    }

    public Box3 Box { get; }

    /// <summary>Planes per <see cref="Append"/> call: whole block layers for compressed_segmentation.</summary>
    public static int PlaneStep(ScaleInfo scale) =>
        scale.Encoding == ChunkEncodings.CompressedSegmentation ? (scale.BlockSize ?? new Int3(8, 8, 8)).Z : 8;

    /// <summary>Appends the next <paramref name="planes"/> z planes (native type, x fastest, the chunk's x/y size).</summary>
    public void Append(ReadOnlySpan<byte> voxels, int planes)
    {
        if (_encoder is not null)
        {
            int step = PlaneStep(_scale);
            int layers = Int3.CeilDiv(planes, step);
            if (_info.DataType == VoxelType.UInt64)
            {
                _encoder.AppendLayers(MemoryMarshal.Cast<byte, ulong>(voxels), layers);
            }
            else
            {
                _encoder.AppendLayers(MemoryMarshal.Cast<byte, uint>(voxels), layers);
            }
        }
        else if (_image is not null)
        {
            voxels.CopyTo(_image.AsSpan(_imageFilled));
            _imageFilled += voxels.Length;
        }
        else
        {
            _raw ??= _directory.CreateChunk(_scale, Box);
            _raw.Write(voxels);
        }

        _planesWritten += planes;
    }

    /// <summary>
    /// True when <see cref="AppendStrided"/> can take planes straight from a larger buffer of the
    /// info's data type (compressed_segmentation encodes from there without a chunk-shaped copy).
    /// </summary>
    public bool CanAppendStrided => _encoder is not null;

    /// <summary>
    /// Appends the next <paramref name="planes"/> z planes from a larger buffer of the info's data
    /// type: the chunk's voxel (x, y, z) is element <c>offset + x + y·strideY + z·strideZ</c> of
    /// <paramref name="voxels"/>. Same output as copying them out and calling <see cref="Append"/>.
    /// </summary>
    public void AppendStrided(ReadOnlySpan<byte> voxels, long offset, long strideY, long strideZ, int planes)
    {
        if (_encoder is null)
        {
            throw new InvalidOperationException("Only compressed_segmentation chunks take strided planes.");
        }

        int layers = Int3.CeilDiv(planes, PlaneStep(_scale));
        if (_encoder.PlanesFor(layers) != planes)
        {
            throw new ArgumentException($"{planes} planes are not whole block layers of chunk {Box}.", nameof(planes));
        }

        if (_info.DataType == VoxelType.UInt64)
        {
            _encoder.AppendLayers(MemoryMarshal.Cast<byte, ulong>(voxels), offset, strideY, strideZ, layers);
        }
        else
        {
            _encoder.AppendLayers(MemoryMarshal.Cast<byte, uint>(voxels), offset, strideY, strideZ, layers);
        }

        _planesWritten += planes;
    }

    /// <summary>Writes the finished chunk under its real name.</summary>
    public void Complete()
    {
        if (_planesWritten != Box.Size.Z)
        {
            throw new InvalidOperationException($"Chunk {Box} received {_planesWritten} of {Box.Size.Z} planes.");
        }

        if (_encoder is not null)
        {
            _directory.WriteChunk(_scale, Box, _encoder.FinishStream());
        }
        else if (_image is not null)
        {
            _directory.WriteChunk(_scale, Box, ChunkCodec.Encode(_info.DataType, _scale, Box.Size, _image.AsSpan(0, _imageBytes)));
        }
        else
        {
            _raw ??= _directory.CreateChunk(_scale, Box);
            _raw.Commit();
        }
    }

    public void Dispose()
    {
        _raw?.Dispose();
        if (_image is not null)
        {
            EngineBuffers.Bytes.Return(_image);
            _image = null;
        }

        if (_encoder is not null)
        {
            _encoder.TrimIfLarge();
            s_encoders.Add(_encoder);
        }
    }
}

/// <summary>
/// The encoded chunks of a source scale that cover one region, read once; any run of z planes
/// of the region can then be decoded without decoding whole chunks.
/// </summary>
internal sealed class SourcePlanes : IDisposable
{
    private readonly PrecomputedInfo _info;
    private readonly ScaleInfo _scale;
    private readonly Box3 _region;
    private readonly (Box3 Box, PooledBytes? Encoded)[] _chunks;
    private readonly int _element;
    private bool[]? _decodedImages;

    public SourcePlanes(DatasetStore directory, PrecomputedInfo info, ScaleInfo scale, Box3 region)
    {
        _info = info;
        _scale = scale;
        _region = region;
        _element = VoxelTypes.SizeOf(info.DataType);
        Int3 chunk = scale.ChunkSize;
        var chunks = new System.Collections.Generic.List<(Box3, PooledBytes?)>();
        for (int cz = region.Begin.Z / chunk.Z; cz * chunk.Z < region.End.Z; cz++)
        {
            for (int cy = region.Begin.Y / chunk.Y; cy * chunk.Y < region.End.Y; cy++)
            {
                for (int cx = region.Begin.X / chunk.X; cx * chunk.X < region.End.X; cx++)
                {
                    Box3 box = scale.ChunkBox(new Int3(cx, cy, cz));
                    PooledBytes? encoded = directory.ReadChunkPooled(info, scale, box);
                    if (encoded is null)
                    {
                        MissingChunks++;
                    }

                    chunks.Add((box, encoded));
                }
            }
        }

        _chunks = chunks.ToArray();
    }

    /// <summary>Source chunks that were absent (read as 0).</summary>
    public int MissingChunks { get; }

    /// <summary>Decodes region planes [zBegin, zEnd) (scale coordinates) into <paramref name="destination"/>, x fastest.</summary>
    public void Read(int zBegin, int zEnd, Span<byte> destination)
    {
        Int3 size = _region.Size;
        var wanted = new Box3(new Int3(_region.Begin.X, _region.Begin.Y, zBegin), new Int3(_region.End.X, _region.End.Y, zEnd));
        for (int index = 0; index < _chunks.Length; index++)
        {
            (Box3 box, PooledBytes? encoded) = _chunks[index];
            Box3 overlap = box.Intersect(wanted);
            if (overlap.IsEmpty)
            {
                continue;
            }

            // Decode whole block layers of the chunk covering the overlap's planes.
            int step = _scale.Encoding == ChunkEncodings.CompressedSegmentation ? (_scale.BlockSize ?? new Int3(8, 8, 8)).Z : 1;
            int localBegin = (overlap.Begin.Z - box.Begin.Z) / step * step;
            int localEnd = Math.Min(box.Size.Z, Int3.CeilDiv(overlap.End.Z - box.Begin.Z, step) * step);
            if (encoded is not null && _scale.Encoding == ChunkEncodings.CompressedSegmentation
                && overlap.Begin.X == box.Begin.X && overlap.End.X == box.End.X && overlap.Begin.Y == box.Begin.Y && overlap.End.Y == box.End.Y
                && overlap.Begin.Z - box.Begin.Z == localBegin && overlap.End.Z - box.Begin.Z == localEnd)
            {
                // The planes decoded are exactly the overlap, in whole chunk rows: decode them in place.
                long to = ((((long)(overlap.Begin.Z - zBegin) * size.Y) + (box.Begin.Y - _region.Begin.Y)) * size.X) + (box.Begin.X - _region.Begin.X);
                DecodePlanesInto(encoded, box, localBegin, localEnd, destination, to, size.X, (long)size.X * size.Y);
                continue;
            }

            int planeBytes = box.Size.X * box.Size.Y * _element;
            int decodedBytes = checked(planeBytes * (localEnd - localBegin));
            byte[] buffer = EngineBuffers.Bytes.Rent(decodedBytes);
            try
            {
                Span<byte> decoded = buffer.AsSpan(0, decodedBytes);
                if (ChunkEncodings.IsImageCodec(_scale.Encoding) && encoded is not null)
                {
                    // An image decodes whole: decode it once and keep the voxels in its place.
                    encoded = DecodeImageOnce(index);
                    encoded.Span.Slice(localBegin * planeBytes, decoded.Length).CopyTo(decoded);
                }
                else
                {
                    DecodePlanes(encoded, box, localBegin, localEnd, decoded);
                }

                int rowBytes = overlap.Size.X * _element;
                for (int z = overlap.Begin.Z; z < overlap.End.Z; z++)
                {
                    for (int y = overlap.Begin.Y; y < overlap.End.Y; y++)
                    {
                        long from = ((long)(z - box.Begin.Z - localBegin) * box.Size.Y + (y - box.Begin.Y)) * box.Size.X + (overlap.Begin.X - box.Begin.X);
                        long to = ((long)(z - zBegin) * size.Y + (y - _region.Begin.Y)) * size.X + (overlap.Begin.X - _region.Begin.X);
                        decoded.Slice((int)(from * _element), rowBytes).CopyTo(destination.Slice((int)(to * _element), rowBytes));
                    }
                }
            }
            finally
            {
                EngineBuffers.Bytes.Return(buffer);
            }
        }
    }

    private PooledBytes DecodeImageOnce(int index)
    {
        (Box3 box, PooledBytes? encoded) = _chunks[index];
        _decodedImages ??= new bool[_chunks.Length];
        if (_decodedImages[index])
        {
            return encoded!;
        }

        int bytes = checked((int)(box.VoxelCount * _element));
        byte[] array = EngineBuffers.Bytes.Rent(Math.Max(1, bytes));
        try
        {
            ChunkCodec.Decode(_info.DataType, _scale, box.Size, encoded!.Span, array.AsSpan(0, bytes), _scale.ChunkName(box));
        }
        catch
        {
            EngineBuffers.Bytes.Return(array);
            throw;
        }

        var voxels = new PooledBytes(array, bytes);
        encoded.Dispose();
        _chunks[index] = (box, voxels);
        _decodedImages[index] = true;
        return voxels;
    }

    private void DecodePlanes(PooledBytes? pooled, Box3 box, int planeBegin, int planeEnd, Span<byte> destination)
    {
        if (pooled is null)
        {
            destination.Clear();
            return;
        }

        ReadOnlySpan<byte> encoded = pooled.Span;
        string name = _scale.ChunkName(box);
        int planeBytes = box.Size.X * box.Size.Y * _element;
        if (_scale.Encoding == ChunkEncodings.Raw)
        {
            if (encoded.Length != box.VoxelCount * _element)
            {
                throw new EngineException("ChunkSizeMismatch", EngineErrorKind.InvalidData, $"Raw chunk {name} of scale {_scale.Key} has {encoded.Length} bytes; its shape {box.Size} needs {box.VoxelCount * _element}.", name);
            }

            encoded.Slice(planeBegin * planeBytes, (planeEnd - planeBegin) * planeBytes).CopyTo(destination);
            return;
        }

        Int3 block = _scale.BlockSize ?? new Int3(8, 8, 8);
        if (_info.DataType == VoxelType.UInt64)
        {
            CompressedSegmentation.DecodePlanes(encoded, box.Size, block, planeBegin, planeEnd, MemoryMarshal.Cast<byte, ulong>(destination));
        }
        else if (_info.DataType == VoxelType.UInt32)
        {
            CompressedSegmentation.DecodePlanes(encoded, box.Size, block, planeBegin, planeEnd, MemoryMarshal.Cast<byte, uint>(destination));
        }
        else
        {
            throw new EngineException("UnsupportedEncoding", EngineErrorKind.NotSupported, $"compressed_segmentation with {VoxelTypes.ToInfoName(_info.DataType)} is not supported.", name);
        }
    }

    private void DecodePlanesInto(PooledBytes pooled, Box3 box, int planeBegin, int planeEnd, Span<byte> destination, long offset, long strideY, long strideZ)
    {
        Int3 block = _scale.BlockSize ?? new Int3(8, 8, 8);
        if (_info.DataType == VoxelType.UInt64)
        {
            CompressedSegmentation.DecodePlanes(pooled.Span, box.Size, block, planeBegin, planeEnd, MemoryMarshal.Cast<byte, ulong>(destination), offset, strideY, strideZ);
        }
        else if (_info.DataType == VoxelType.UInt32)
        {
            CompressedSegmentation.DecodePlanes(pooled.Span, box.Size, block, planeBegin, planeEnd, MemoryMarshal.Cast<byte, uint>(destination), offset, strideY, strideZ);
        }
        else
        {
            throw new EngineException("UnsupportedEncoding", EngineErrorKind.NotSupported, $"compressed_segmentation with {VoxelTypes.ToInfoName(_info.DataType)} is not supported.", _scale.ChunkName(box));
        }
    }

    public void Dispose()
    {
        foreach ((Box3 _, PooledBytes? encoded) in _chunks)
        {
            encoded?.Dispose();
        }
    }
}
