// Reading a precomputed dataset folder the way a server exposes it (neuroglancer precomputed volume.md,
// meshes.md legacy format; .gz files served as Content-Encoding: gzip), and the
// source-volume side of the comparisons. Shared by decode-check.mjs and view-check.mjs.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";

/** Files a writer leaves behind while a write is in progress (AtomicFile); never part of a dataset. */
export const TEMP_SUFFIX = ".pt-tmp";

const CHUNK_NAME = /^(-?\d+)-(-?\d+)_(-?\d+)-(-?\d+)_(-?\d+)-(-?\d+)$/;

export function readJson(file) {
  const text = fs.readFileSync(file, "utf8");
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${e.message})`);
  }
}

/** The dataset's info, checked; segmentation label types unless `image` (then any precomputed data type). */
export function loadInfo(datasetDir, { image = false } = {}) {
  const infoPath = path.join(datasetDir, "info");
  if (!fs.existsSync(infoPath)) throw new Error(`${datasetDir}: no "info" file`);
  const info = readJson(infoPath);
  if (!Array.isArray(info.scales) || info.scales.length === 0) throw new Error(`${infoPath}: "scales" is missing or empty`);
  const dataType = String(info.data_type).toLowerCase();
  const allowed = image ? ["uint8", "uint16", "uint32", "uint64", "float32"] : ["uint32", "uint64"];
  if (!allowed.includes(dataType)) throw new Error(`${infoPath}: data_type ${info.data_type} is not ${allowed.join("/")}`);
  if (info.num_channels !== 1) throw new Error(`${infoPath}: num_channels is ${info.num_channels}, expected 1`);
  for (const s of info.scales) {
    s.voxel_offset ??= [0, 0, 0];
    if (!Array.isArray(s.chunk_sizes) || s.chunk_sizes.length !== 1) throw new Error(`${infoPath}: scale ${s.key} must have exactly one chunk size`);
  }
  return { info, dataType };
}

/** The grid cells of one scale (volume.md, 'Chunked representation of volume data'), each with its clipped box and file name. */
export function* chunkGrid(scale) {
  const [cx, cy, cz] = scale.chunk_sizes[0];
  const [nx, ny, nz] = scale.size;
  const [ox, oy, oz] = scale.voxel_offset;
  for (let gz = 0; gz * cz < nz; gz++)
    for (let gy = 0; gy * cy < ny; gy++)
      for (let gx = 0; gx * cx < nx; gx++) {
        const begin = [gx * cx, gy * cy, gz * cz];
        const end = [Math.min(begin[0] + cx, nx), Math.min(begin[1] + cy, ny), Math.min(begin[2] + cz, nz)];
        const name = `${ox + begin[0]}-${ox + end[0]}_${oy + begin[1]}-${oy + end[1]}_${oz + begin[2]}-${oz + end[2]}`;
        yield { grid: [gx, gy, gz], begin, end, name };
      }
}

/**
 * Reads one chunk as the viewer would receive it after transport decoding: "<name>.gz" is gunzipped
 * (and must be a gzip stream), "<name>" is taken as is. Returns null when the chunk is absent.
 */
export function readChunkFile(scaleDir, name) {
  const plain = path.join(scaleDir, name);
  const gz = plain + ".gz";
  const hasPlain = fs.existsSync(plain);
  const hasGz = fs.existsSync(gz);
  if (hasPlain && hasGz) throw new Error(`${plain}: both "${name}" and "${name}.gz" exist; a dataset must keep exactly one`);
  if (hasGz) {
    const raw = fs.readFileSync(gz);
    if (raw.length < 2 || raw[0] !== 0x1f || raw[1] !== 0x8b) throw new Error(`${gz}: does not start with the gzip signature 1f 8b`);
    return { bytes: zlib.gunzipSync(raw), gzip: true, file: gz };
  }
  if (hasPlain) {
    const bytes = fs.readFileSync(plain);
    if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b)
      throw new Error(`${plain}: gzip bytes stored under the plain name (would need Content-Encoding: gzip)`);
    return { bytes, gzip: false, file: plain };
  }
  return null;
}

/** Names in a scale directory that are not grid cells (temp files are reported separately). */
export function strayFiles(scaleDir, expectedNames) {
  if (!fs.existsSync(scaleDir)) return { stray: [], temp: [] };
  const stray = [];
  const temp = [];
  for (const entry of fs.readdirSync(scaleDir)) {
    if (entry.endsWith(TEMP_SUFFIX)) {
      temp.push(entry);
      continue;
    }
    const base = entry.endsWith(".gz") ? entry.slice(0, -3) : entry;
    if (!expectedNames.has(base)) stray.push(entry);
  }
  return { stray, temp };
}

export function isChunkName(name) {
  return CHUNK_NAME.test(name);
}

const RAW_TYPES = {
  uint8: { bytes: 1, make: (b) => new Uint8Array(b.buffer, b.byteOffset, b.length) },
  uint16: { bytes: 2, make: (b) => new Uint16Array(b.buffer, b.byteOffset, b.length / 2) },
  uint32: { bytes: 4, make: (b) => new Uint32Array(b.buffer, b.byteOffset, b.length / 4) },
  // uint64 is kept as pairs of uint32 words (little-endian: low word first).
  uint64: { bytes: 8, make: (b) => new Uint32Array(b.buffer, b.byteOffset, b.length / 4) },
};

/**
 * A source volume in a raw little-endian file: `size` [x,y,z], element `type`, `axes` the storage order
 * from fastest to slowest (default "xyz", i.e. x fastest; "yxz" reads an uncompressed TIFF stack whose
 * columns are y and rows are x), `offset` bytes to skip. Values are exposed as (lo, hi) uint32 words.
 */
export class RawVolume {
  constructor(file, size, type = "uint64", axes = "xyz", offset = 0) {
    const t = RAW_TYPES[type];
    if (!t) throw new Error(`raw type ${type} is not one of ${Object.keys(RAW_TYPES).join(", ")}`);
    if (!/^[xyz]{3}$/.test(axes) || new Set(axes).size !== 3) throw new Error(`raw axes "${axes}" must be a permutation of xyz`);
    const count = size[0] * size[1] * size[2];
    const length = count * t.bytes;
    const stat = fs.statSync(file);
    if (stat.size < offset + length) throw new Error(`${file}: ${stat.size} bytes, but ${size.join("x")} ${type} voxels at offset ${offset} need ${offset + length}`);
    const buffer = Buffer.alloc(length);
    const fd = fs.openSync(file, "r");
    try {
      let done = 0;
      while (done < length) {
        const n = fs.readSync(fd, buffer, done, length - done, offset + done);
        if (n <= 0) throw new Error(`${file}: unexpected end of file`);
        done += n;
      }
    } finally {
      fs.closeSync(fd);
    }
    this.size = size;
    this.type = type;
    this.wide = type === "uint64";
    this.data = t.make(buffer);
    const strides = {};
    let stride = 1;
    for (const axis of axes) {
      strides[axis] = stride;
      stride *= size["xyz".indexOf(axis)];
    }
    this.strides = [strides.x, strides.y, strides.z];
  }

  index(x, y, z) {
    return x * this.strides[0] + y * this.strides[1] + z * this.strides[2];
  }

  lo(i) {
    return this.wide ? this.data[2 * i] : this.data[i];
  }

  hi(i) {
    return this.wide ? this.data[2 * i + 1] : 0;
  }
}

/** A decoded scale held in memory as (lo, hi) words, for the cross-scale checks. */
export class DecodedScale {
  constructor(size) {
    this.size = size;
    const count = size[0] * size[1] * size[2];
    this.words = new Uint32Array(count * 2);
    this.strides = [1, size[0], size[0] * size[1]];
  }

  index(x, y, z) {
    return x + y * this.strides[1] + z * this.strides[2];
  }

  lo(i) {
    return this.words[2 * i];
  }

  hi(i) {
    return this.words[2 * i + 1];
  }
}

/** Decimal string of a uint64 given as words. */
export function idString(lo, hi) {
  return hi === 0 ? String(lo) : ((BigInt(hi) << 32n) | BigInt(lo)).toString();
}

/** Legacy mesh manifests in a mesh directory: "<id>:0" or the colon-free "<id>.json" (README, 'New-SegmentMesh'). */
export function listManifests(meshDir) {
  const result = [];
  for (const entry of fs.readdirSync(meshDir)) {
    let m = /^(\d+):0$/.exec(entry);
    if (!m) m = /^(\d+)\.json$/.exec(entry);
    if (m) result.push({ id: BigInt(m[1]).toString(), file: path.join(meshDir, entry), name: entry });
  }
  result.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
  return result;
}
