#!/usr/bin/env node
// Format conformance with neuroglancer's own decoders (neuroglancer precomputed volume.md and meshes.md).
//
//   node decode-check.mjs --dataset <dir> [--raw <file> --raw-type uint64 --raw-axes xyz --raw-offset 0]
//                         [--require-mesh 1,2,3]
//
// Every chunk of every scale is decoded with neuroglancer's compressed_segmentation decoder, using its
// clipped shape. Scale 0 must equal the source voxels of --raw exactly (decodeChannels does not validate,
// so voxels are always compared). Each voxel of scale s > 0 must be one of the labels in the block of
// scale s-1 it was reduced from (true of majority, mode and striding; it catches misplaced and garbled
// chunks). Every legacy mesh manifest and fragment goes through neuroglancer's manifest and fragment
// decoders, plus the invariants the viewer does not check (index bounds, finite floats, exact length,
// every fragment referenced, placement inside the segment's voxel box).
//
// Prints "DECODE-CHECK OK ..." and exits 0, or prints one "DECODE-CHECK FAIL: ..." line per problem
// (up to --max-errors) and exits 1. Exit 2 means bad arguments.
globalThis.navigator ??= { userAgent: "node", hardwareConcurrency: 4 };

import fs from "node:fs";
import zlib from "node:zlib";
import path from "node:path";
import { parseArgs } from "node:util";
import {
  chunkGrid, DecodedScale, idString, listManifests, loadInfo, RawVolume, readChunkFile, readJson, strayFiles,
} from "./lib/precomputed.mjs";

const { decodeChannels: decodeChannels64 } = await import("neuroglancer/unstable/sliceview/compressed_segmentation/decode_uint64.js");
const { decodeChannels: decodeChannels32 } = await import("neuroglancer/unstable/sliceview/compressed_segmentation/decode_uint32.js");
const { decodeFragmentChunk, decodeManifestChunk } = await import("neuroglancer/unstable/datasource/precomputed/backend.js");
// The viewer's own Draco decoder (WebAssembly); it fetches its .wasm by URL, which Node's fetch cannot do for file: URLs.
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, init) => {
  const u = new URL(String(url));
  if (u.protocol !== "file:") return realFetch(url, init);
  return new Response(fs.readFileSync(u), { headers: { "content-type": "application/wasm" } });
};
const { decodeDracoPartitioned } = await import("neuroglancer/unstable/mesh/draco/index.js");

let args;
try {
  args = parseArgs({
    options: {
      dataset: { type: "string" },
      raw: { type: "string" },
      "raw-type": { type: "string", default: "uint64" },
      "raw-axes": { type: "string", default: "xyz" },
      "raw-offset": { type: "string", default: "0" },
      "require-mesh": { type: "string", default: "" },
      "max-errors": { type: "string", default: "20" },
    },
  }).values;
  if (!args.dataset) throw new Error("--dataset is required");
} catch (e) {
  console.error(`decode-check: ${e.message}`);
  process.exit(2);
}

const maxErrors = Number(args["max-errors"]);
const errors = [];
const warnings = [];
function fail(message) {
  errors.push(message);
  if (errors.length >= maxErrors) finish();
}

function finish() {
  for (const w of warnings) console.log(`DECODE-CHECK WARNING: ${w}`);
  if (errors.length > 0) {
    for (const e of errors) console.log(`DECODE-CHECK FAIL: ${e}`);
    if (errors.length >= maxErrors) console.log(`DECODE-CHECK FAIL: stopped after ${maxErrors} problems`);
    process.exit(1);
  }
  console.log(`DECODE-CHECK OK ${JSON.stringify(stats)}`);
  process.exit(0);
}

const stats = { shards: 0, scales: 0, chunks: 0, gzipChunks: 0, missingChunks: 0, voxelsCompared: 0, manifests: 0, fragments: 0, triangles: 0, lods: 0 };
const dataset = path.resolve(args.dataset);
let info, dataType;
try {
  ({ info, dataType } = loadInfo(dataset));
} catch (e) {
  fail(e.message);
  finish();
}
const scale0 = info.scales[0];

let source = null;
if (args.raw) {
  try {
    source = new RawVolume(args.raw, scale0.size, args["raw-type"], args["raw-axes"], Number(args["raw-offset"]));
  } catch (e) {
    fail(`source volume: ${e.message}`);
    finish();
  }
}

// ---- volume chunks -------------------------------------------------------------------------------
const decode = dataType === "uint64" ? decodeChannels64 : decodeChannels32;
let parent = source; // the volume scale s is checked against: the source for s = 0, then scale s-1
for (let s = 0; s < info.scales.length; s++) {
  const scale = info.scales[s];
  const scaleDir = path.join(dataset, scale.key);
  const blockSize = scale.compressed_segmentation_block_size;
  if (scale.encoding !== "compressed_segmentation") {
    fail(`scale ${scale.key}: encoding ${scale.encoding}, expected compressed_segmentation`);
    continue;
  }
  if (!Array.isArray(blockSize) || blockSize.length !== 3) {
    fail(`scale ${scale.key}: compressed_segmentation_block_size missing`);
    continue;
  }
  stats.scales++;
  const keep = s + 1 < info.scales.length ? new DecodedScale(scale.size) : null;
  const ratio = s === 0 ? null : scale.resolution.map((r, i) => Math.round(r / info.scales[s - 1].resolution[i]));
  const names = new Set();
  // A sharded scale: every chunk comes out of the scale's shard files by its compressed Morton id.
  let shardChunks = null;
  if (scale.sharding) {
    shardChunks = new Map();
    for (const name of fs.readdirSync(scaleDir)) {
      if (!name.endsWith(".shard")) continue;
      names.add(name);
      stats.shards++;
      try {
        for (const e of readShardEntries(path.join(scaleDir, name), scale.sharding)) shardChunks.set(e.id, { file: `${path.join(scaleDir, name)} (chunk ${e.id})`, bytes: e.value, gzip: false });
      } catch (e) {
        fail(e.message);
      }
    }
  }
  const grid = scale.size.map((n, a) => Math.ceil(n / scale.chunk_sizes[0][a]));
  for (const cell of chunkGrid(scale)) {
    names.add(cell.name);
    const shape = [cell.end[0] - cell.begin[0], cell.end[1] - cell.begin[1], cell.end[2] - cell.begin[2]];
    const count = shape[0] * shape[1] * shape[2];
    let file;
    try {
      file = shardChunks
        ? (shardChunks.get(compressedMorton(cell.grid, grid)) ?? null)
        : readChunkFile(scaleDir, cell.name);
    } catch (e) {
      fail(e.message);
      continue;
    }
    let words64 = null; // decoded voxels as (lo, hi) words
    if (file === null) {
      stats.missingChunks++;
      words64 = new Uint32Array(count * 2); // the viewer draws the fill value 0
    } else {
      stats.chunks++;
      if (file.gzip) stats.gzipChunks++;
      const bytes = file.bytes;
      if (bytes.length % 4 !== 0 || bytes.length < 8) {
        fail(`${file.file}: ${bytes.length} bytes after transport decoding, not a whole number of 32-bit words (the viewer's "byte length of Uint32Array should be a multiple of 4")`);
        continue;
      }
      const encoded = new Uint32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
      if (encoded[0] !== 1) {
        fail(`${file.file}: first word is ${encoded[0]}, expected 1 (the offset of the only channel)`);
        continue;
      }
      try {
        if (dataType === "uint64") {
          const out = new BigUint64Array(count);
          decode(out, encoded, 0, [shape[0], shape[1], shape[2], 1], blockSize);
          words64 = new Uint32Array(out.buffer);
        } else {
          const out = new Uint32Array(count);
          decode(out, encoded, 0, [shape[0], shape[1], shape[2], 1], blockSize);
          words64 = new Uint32Array(count * 2);
          for (let i = 0; i < count; i++) words64[2 * i] = out[i];
        }
      } catch (e) {
        fail(`${file.file}: neuroglancer's decoder threw: ${e.message}`);
        continue;
      }
    }
    const where = file ? file.file : `${path.join(scaleDir, cell.name)} (absent, read as 0)`;
    if (parent !== null) {
      const problem = s === 0 ? compareWithSource(words64, cell, shape, parent) : compareWithParent(words64, cell, shape, scale, info.scales[s - 1], ratio, parent);
      if (problem) fail(`${where}: ${problem}`);
    }
    if (keep) {
      for (let z = 0; z < shape[2]; z++)
        for (let y = 0; y < shape[1]; y++) {
          const src = (z * shape[1] + y) * shape[0] * 2;
          const dst = keep.index(cell.begin[0], cell.begin[1] + y, cell.begin[2] + z) * 2;
          keep.words.set(words64.subarray(src, src + shape[0] * 2), dst);
        }
    }
  }
  const { stray, temp } = strayFiles(scaleDir, names);
  for (const name of stray) fail(`${path.join(scaleDir, name)}: not a chunk of the grid of scale ${scale.key}`);
  for (const name of temp) warnings.push(`${path.join(scaleDir, name)}: leftover temporary file`);
  parent = keep;
}

function compareWithSource(words, cell, shape, src) {
  let i = 0;
  for (let z = 0; z < shape[2]; z++)
    for (let y = 0; y < shape[1]; y++)
      for (let x = 0; x < shape[0]; x++, i++) {
        const j = src.index(cell.begin[0] + x, cell.begin[1] + y, cell.begin[2] + z);
        if (words[2 * i] !== src.lo(j) || words[2 * i + 1] !== src.hi(j)) {
          const at = [cell.begin[0] + x, cell.begin[1] + y, cell.begin[2] + z];
          return `voxel (${at.join(", ")}) decodes to ${idString(words[2 * i], words[2 * i + 1])} but the source has ${idString(src.lo(j), src.hi(j))}`;
        }
      }
  stats.voxelsCompared += i;
  return null;
}

// Voxel j of scale s covers the scale s-1 voxels [(o_s + j)·r - o_{s-1}, (o_s + j + 1)·r - o_{s-1}) (volume.md: voxel_offset and resolution per scale).
function compareWithParent(words, cell, shape, scale, prev, ratio, par) {
  const lo = [0, 0, 0];
  const hi = [0, 0, 0];
  let i = 0;
  for (let z = 0; z < shape[2]; z++)
    for (let y = 0; y < shape[1]; y++)
      for (let x = 0; x < shape[0]; x++, i++) {
        const p = [cell.begin[0] + x, cell.begin[1] + y, cell.begin[2] + z];
        for (let a = 0; a < 3; a++) {
          lo[a] = Math.max(0, (scale.voxel_offset[a] + p[a]) * ratio[a] - prev.voxel_offset[a]);
          hi[a] = Math.min(prev.size[a], (scale.voxel_offset[a] + p[a] + 1) * ratio[a] - prev.voxel_offset[a]);
        }
        const wl = words[2 * i];
        const wh = words[2 * i + 1];
        let found = false;
        for (let c = lo[2]; c < hi[2] && !found; c++)
          for (let b = lo[1]; b < hi[1] && !found; b++)
            for (let a = lo[0]; a < hi[0]; a++) {
              const j = par.index(a, b, c);
              if (par.lo(j) === wl && par.hi(j) === wh) {
                found = true;
                break;
              }
            }
        if (!found)
          return `voxel (${p.join(", ")}) of scale ${scale.key} is ${idString(wl, wh)}, a label absent from the block [${lo.join(",")}]-[${hi.join(",")}) of scale ${prev.key} it was reduced from`;
      }
  stats.voxelsCompared += i;
  return null;
}

// ---- legacy meshes --------------------------------------------------------------------------------
const required = args["require-mesh"].split(",").map((s) => s.trim()).filter((s) => s.length > 0).map((s) => BigInt(s).toString());
if (info.mesh !== undefined && isMultiLod(path.join(dataset, info.mesh))) {
  await checkMultiLodMeshes(path.join(dataset, info.mesh));
} else if (info.mesh !== undefined) {
  checkMeshes(path.join(dataset, info.mesh));
} else if (required.length > 0) {
  fail(`${path.join(dataset, "info")}: no "mesh" member, but meshes were required for ${required.join(", ")}`);
}

function checkMeshes(meshDir) {
  if (!fs.existsSync(meshDir)) {
    fail(`${meshDir}: mesh directory named in info does not exist`);
    return;
  }
  const meshInfoPath = path.join(meshDir, "info");
  if (!fs.existsSync(meshInfoPath)) fail(`${meshInfoPath}: missing (write {"@type":"neuroglancer_legacy_mesh"})`);
  else {
    const meshInfo = readJson(meshInfoPath);
    if (meshInfo["@type"] !== "neuroglancer_legacy_mesh") fail(`${meshInfoPath}: @type is ${JSON.stringify(meshInfo["@type"])}, expected "neuroglancer_legacy_mesh"`);
  }
  const manifests = listManifests(meshDir);
  const ids = new Set(manifests.map((m) => m.id));
  for (const id of required) if (!ids.has(id)) fail(`${meshDir}: no manifest "${id}:0" for required segment ${id}`);
  const referenced = new Set();
  const boxes = new Map(); // id -> mesh bounding box in nm
  for (const m of manifests) {
    stats.manifests++;
    let json;
    try {
      json = readJson(m.file);
    } catch (e) {
      fail(e.message);
      continue;
    }
    const chunk = {};
    try {
      decodeManifestChunk(chunk, json);
    } catch (e) {
      fail(`${m.file}: neuroglancer's manifest decoder threw: ${e.message}`);
      continue;
    }
    const box = [Infinity, Infinity, Infinity, -Infinity, -Infinity, -Infinity];
    for (const fragmentId of chunk.fragmentIds) {
      if (fragmentId.includes(":")) fail(`${m.file}: fragment name "${fragmentId}" contains ":" (not a legal file-name character on Windows)`);
      const fragmentPath = path.join(meshDir, fragmentId);
      referenced.add(path.resolve(fragmentPath));
      if (!fs.existsSync(fragmentPath)) {
        fail(`${m.file}: lists fragment "${fragmentId}", which does not exist`);
        continue;
      }
      stats.fragments++;
      checkFragment(fragmentPath, box);
    }
    boxes.set(m.id, box);
  }
  // Every file in the mesh directory is info, a manifest, or a referenced fragment.
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (full === meshInfoPath || manifests.some((m) => m.file === full)) continue;
      else if (entry.name.endsWith(".pt-tmp")) warnings.push(`${full}: leftover temporary file`);
      else if (!referenced.has(path.resolve(full))) fail(`${full}: fragment not referenced by any manifest`);
    }
  };
  walk(meshDir);
  if (source !== null && boxes.size > 0) checkPlacement(boxes);
}

// ---- multi-resolution meshes (neuroglancer meshes.md) -------------------------------------------------
function isMultiLod(meshDir) {
  const file = path.join(meshDir, "info");
  return fs.existsSync(file) && readJson(file)["@type"] === "neuroglancer_multilod_draco";
}

// Every segment: the manifest parsed exactly as the viewer does (length must match), the fragment
// sizes covering the data, every fragment through the viewer's Draco decoder with its partition for
// lod > 0 (each of the eight sub-chunks may only hold triangles inside that octant), coordinates
// within vertex_quantization_bits, and the lod-0 vertices, placed by the manifest and the transform,
// inside the segment's voxel box of the source volume.
async function checkMultiLodMeshes(meshDir) {
  const meshInfo = readJson(path.join(meshDir, "info"));
  const bits = meshInfo.vertex_quantization_bits;
  if (bits !== 10 && bits !== 16) fail(`${meshDir}/info: vertex_quantization_bits ${bits} is not 10 or 16`);
  const t = meshInfo.transform;
  if (!Array.isArray(t) || t.length !== 12) fail(`${meshDir}/info: transform must be 12 numbers`);
  const segments = []; // { id, manifest (Buffer), data (Buffer), where }
  const accounted = new Set([path.join(meshDir, "info")]);
  if (meshInfo.sharding) {
    for (const name of fs.readdirSync(meshDir).filter((n) => n.endsWith(".shard"))) {
      const file = path.join(meshDir, name);
      accounted.add(file);
      for (const s of readShard(file, meshInfo.sharding)) segments.push(s);
    }
  } else {
    for (const name of fs.readdirSync(meshDir).filter((n) => /^\d+\.index$/.test(n))) {
      const id = name.slice(0, -6);
      const dataFile = path.join(meshDir, id);
      accounted.add(path.join(meshDir, name));
      accounted.add(dataFile);
      if (!fs.existsSync(dataFile)) {
        fail(`${dataFile}: the fragment data of manifest ${name} is missing`);
        continue;
      }
      segments.push({ id: BigInt(id).toString(), manifest: fs.readFileSync(path.join(meshDir, name)), data: fs.readFileSync(dataFile), where: `${meshDir}/${name}` });
    }
  }
  for (const name of fs.readdirSync(meshDir)) if (!accounted.has(path.join(meshDir, name))) fail(`${meshDir}/${name}: not part of the multi-resolution mesh folder`);
  const ids = new Set(segments.map((s) => s.id));
  for (const id of required) if (!ids.has(id)) fail(`${meshDir}: no multi-resolution mesh for required segment ${id}`);
  const max = 2 ** bits - 1;
  const split = 2 ** (bits - 1);
  const boxes = new Map();
  let step = [0, 0, 0]; // one lod-0 quantization step in nm, the most a quantized vertex may lie outside
  for (const seg of segments) {
    stats.manifests++;
    const m = parseMultiLodManifest(seg.manifest, seg.where);
    if (!m) continue;
    const total = m.sizes.flat().reduce((a, b) => a + b, 0);
    if (total !== seg.data.length) {
      fail(`${seg.where}: the fragment sizes add up to ${total} bytes, the data holds ${seg.data.length}`);
      continue;
    }
    stats.lods += m.lods;
    step = step.map((v, a) => Math.max(v, Math.abs(t[5 * a]) * m.shape[a] / max));
    const box = [Infinity, Infinity, Infinity, -Infinity, -Infinity, -Infinity];
    let offset = 0;
    for (let lod = 0; lod < m.lods; lod++) {
      for (let i = 0; i < m.positions[lod].length; i++) {
        const size = m.sizes[lod][i];
        const bytes = seg.data.subarray(offset, offset + size);
        offset += size;
        if (size === 0) continue;
        stats.fragments++;
        let mesh;
        try {
          mesh = await decodeDracoPartitioned(new Uint8Array(bytes), bits, lod > 0);
        } catch (e) {
          fail(`${seg.where}: lod ${lod} fragment ${i}: the viewer's Draco decoder failed: ${e.message}`);
          continue;
        }
        const q = mesh.vertexPositions;
        for (let k = 0; k < q.length; k++)
          if (q[k] > max) {
            fail(`${seg.where}: lod ${lod} fragment ${i}: coordinate ${q[k]} above 2^${bits} - 1`);
            break;
          }
        const idx = mesh.indices;
        stats.triangles += idx.length / 3;
        if (lod > 0) {
          const off = mesh.subChunkOffsets;
          for (let sub = 0; sub < 8; sub++)
            for (let j = off[sub]; j < off[sub + 1]; j++)
              for (let a = 0; a < 3; a++) {
                const c = q[3 * idx[j] + a];
                const upper = (sub >> a) & 1;
                if (upper ? c < split : c > split) {
                  fail(`${seg.where}: lod ${lod} fragment ${i}: the viewer put a triangle in sub-chunk ${sub}, but a vertex lies outside that octant (axis ${a}, ${c}); it crosses the 2x2x2 split`);
                  sub = 8;
                  j = Infinity;
                  break;
                }
              }
        } else {
          const [px, py, pz] = m.positions[lod][i];
          for (let v = 0; v < q.length; v += 3) {
            const model = [0, 1, 2].map((a) => m.origin[a] + m.offsets[3 * lod + a] + m.shape[a] * ([px, py, pz][a] + q[v + a] / max));
            for (let a = 0; a < 3; a++) {
              const nm = t[4 * a] * model[0] + t[4 * a + 1] * model[1] + t[4 * a + 2] * model[2] + t[4 * a + 3];
              if (nm < box[a]) box[a] = nm;
              if (nm > box[a + 3]) box[a + 3] = nm;
            }
          }
        }
      }
    }
    boxes.set(seg.id, box);
  }
  if (source !== null && boxes.size > 0) checkPlacement(boxes, step);
}

function parseMultiLodManifest(b, where) {
  if (b.length < 28 || b.length % 4 !== 0) {
    fail(`${where}: manifest of ${b.length} bytes`);
    return null;
  }
  const f = (o) => b.readFloatLE(o);
  const u = (o) => b.readUInt32LE(o);
  const lods = u(24);
  let at = 28;
  if (lods === 0 || b.length < at + 20 * lods) {
    fail(`${where}: ${lods} lods do not fit in ${b.length} bytes`);
    return null;
  }
  const scales = [];
  for (let l = 0; l < lods; l++, at += 4) scales.push(f(at));
  const offsets = [];
  for (let l = 0; l < 3 * lods; l++, at += 4) offsets.push(f(at));
  const counts = [];
  for (let l = 0; l < lods; l++, at += 4) counts.push(u(at));
  const need = at + 16 * counts.reduce((a, c) => a + c, 0);
  if (need !== b.length) {
    fail(`${where}: ${b.length} bytes, the viewer requires exactly ${need} for ${lods} lods and their fragments`);
    return null;
  }
  const positions = [];
  const sizes = [];
  for (let l = 0; l < lods; l++) {
    const n = counts[l];
    const p = [];
    for (let i = 0; i < n; i++) p.push([u(at + 4 * i), u(at + 4 * (n + i)), u(at + 4 * (2 * n + i))]);
    at += 12 * n;
    const s = [];
    for (let i = 0; i < n; i++, at += 4) s.push(u(at));
    positions.push(p);
    sizes.push(s);
  }
  return { shape: [f(0), f(4), f(8)], origin: [f(12), f(16), f(20)], lods, scales, offsets, positions, sizes };
}

// Every key of a neuroglancer_uint64_sharded_v1 shard file (written here from sharded.md, not the
// module's code): minishard indices (gzip or raw) with delta-coded ids, starts and sizes; each value
// with data_encoding undone, and where it starts.
function readShardEntries(file, sharding) {
  const bytes = fs.readFileSync(file);
  const minishards = 2 ** sharding.minishard_bits;
  const headerLength = 16 * minishards;
  const out = [];
  for (let ms = 0; ms < minishards; ms++) {
    const start = Number(bytes.readBigUInt64LE(16 * ms));
    const end = Number(bytes.readBigUInt64LE(16 * ms + 8));
    if (end === start) continue;
    if (end < start || headerLength + end > bytes.length) throw new Error(`${file}: minishard ${ms} index [${start}, ${end}) lies outside the file`);
    let index = bytes.subarray(headerLength + start, headerLength + end);
    if (sharding.minishard_index_encoding === "gzip") index = zlib.gunzipSync(index);
    const n = index.length / 24;
    let id = 0n;
    let position = 0;
    for (let i = 0; i < n; i++) {
      const delta = index.readBigUInt64LE(8 * i);
      if (i > 0 && delta === 0n) throw new Error(`${file}: minishard ${ms} lists id ${id} twice`);
      id += delta;
      const valueStart = position + Number(index.readBigUInt64LE(8 * (n + i)));
      const size = Number(index.readBigUInt64LE(8 * (2 * n + i)));
      position = valueStart + size;
      if (headerLength + position > bytes.length) throw new Error(`${file}: id ${id} lies beyond the end of the shard`);
      let value = bytes.subarray(headerLength + valueStart, headerLength + valueStart + size);
      if (sharding.data_encoding === "gzip") value = zlib.gunzipSync(value);
      out.push({ id, valueStart: headerLength + valueStart, value, bytes, minishard: ms });
    }
  }
  return out;
}

// Multi-resolution meshes in shards: the value is the manifest, the fragments sit just before it.
function readShard(file, sharding) {
  const out = [];
  for (const e of readShardEntries(file, sharding)) {
    const where = `${file} (segment ${e.id})`;
    const m = parseMultiLodManifest(e.value, where);
    if (!m) continue;
    const dataLength = m.sizes.flat().reduce((a, b) => a + b, 0);
    out.push({ id: e.id.toString(), manifest: e.value, data: e.bytes.subarray(e.valueStart - dataLength, e.valueStart), where });
  }
  return out;
}

// The compressed Morton code of a chunk grid position (sharded.md / volume.md): bits of x, y, z
// interleaved, each axis only while it has bits left for its grid size.
function compressedMorton(position, grid) {
  const bits = grid.map((g) => Math.ceil(Math.log2(Math.max(1, g))));
  let id = 0n;
  let out = 0n;
  for (let b = 0; b < Math.max(...bits); b++)
    for (let a = 0; a < 3; a++)
      if (b < bits[a]) {
        id |= BigInt((position[a] >> b) & 1) << out;
        out++;
      }
  return id;
}

function checkFragment(file, box) {
  const bytes = fs.readFileSync(file);
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    fail(`${file}: gzip bytes; legacy fragments are plain (a .gz fragment needs Content-Encoding on every host)`);
    return;
  }
  if (bytes.length < 4) {
    fail(`${file}: ${bytes.length} bytes, shorter than the vertex count`);
    return;
  }
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
  const nv = new DataView(buffer).getUint32(0, true);
  const rest = bytes.length - 4 - 12 * nv;
  if (rest < 0 || rest % 12 !== 0) {
    fail(`${file}: length ${bytes.length} is not 4 + 12·${nv} + 12·triangles`);
    return;
  }
  const chunk = {};
  try {
    decodeFragmentChunk(chunk, buffer);
  } catch (e) {
    fail(`${file}: neuroglancer's fragment decoder threw: ${e.message}`);
    return;
  }
  const positions = chunk.meshData?.vertexPositions;
  if (!positions || positions.length !== nv * 3) {
    fail(`${file}: neuroglancer decoded ${positions?.length ?? 0} coordinates, expected ${nv * 3}`);
    return;
  }
  for (let i = 0; i < positions.length; i++) {
    const v = positions[i];
    if (!Number.isFinite(v)) {
      fail(`${file}: vertex ${Math.floor(i / 3)} has a non-finite coordinate`);
      return;
    }
    const a = i % 3;
    if (v < box[a]) box[a] = v;
    if (v > box[a + 3]) box[a + 3] = v;
  }
  const indices = new Uint32Array(buffer, 4 + 12 * nv);
  for (let i = 0; i < indices.length; i++)
    if (indices[i] >= nv) {
      fail(`${file}: triangle index ${indices[i]} at position ${i} is not below the vertex count ${nv}`);
      return;
    }
  stats.triangles += indices.length / 3;
}

// A mesh must lie inside its segment's voxel box: [(o + min)·r, (o + max + 1)·r] when aligned, shifted
// by -r/2 in the no-shift mode (README, 'New-SegmentMesh': aligned by default), so [(o + min - 0.5)·r, (o + max + 1)·r] admits both.
function checkPlacement(boxes, slack = [0, 0, 0]) {
  const want = new Map();
  for (const id of boxes.keys()) want.set(id, [Infinity, Infinity, Infinity, -Infinity, -Infinity, -Infinity]);
  const [nx, ny, nz] = scale0.size;
  const small = !source.wide && source.type !== "uint32";
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++) {
        const j = source.index(x, y, z);
        const lo = source.lo(j);
        const hi = source.hi(j);
        if (lo === 0 && hi === 0) continue;
        const b = want.get(small ? String(lo) : idString(lo, hi));
        if (b === undefined) continue;
        if (x < b[0]) b[0] = x;
        if (y < b[1]) b[1] = y;
        if (z < b[2]) b[2] = z;
        if (x > b[3]) b[3] = x;
        if (y > b[4]) b[4] = y;
        if (z > b[5]) b[5] = z;
      }
  const r = scale0.resolution;
  const o = scale0.voxel_offset;
  for (const [id, mesh] of boxes) {
    const vox = want.get(id);
    if (vox[0] === Infinity) {
      fail(`mesh ${id}: segment ${id} has no voxel in the source volume`);
      continue;
    }
    if (mesh[0] === Infinity) continue; // empty mesh: allowed by the format
    for (let a = 0; a < 3; a++) {
      const lowest = (o[a] + vox[a] - 0.5) * r[a];
      const highest = (o[a] + vox[a + 3] + 1) * r[a];
      const tol = 1e-3 * r[a] + slack[a]; // slack: a quantization step of multi-resolution meshes
      if (mesh[a] < lowest - tol || mesh[a + 3] > highest + tol) {
        const axis = "xyz"[a];
        fail(`mesh ${id}: ${axis} extent [${mesh[a]}, ${mesh[a + 3]}] nm lies outside the segment's voxel box [${lowest}, ${highest}] nm (voxels ${vox[a]}..${vox[a + 3]}, resolution ${r[a]})`);
      }
    }
  }
}

finish();
