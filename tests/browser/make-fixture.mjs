#!/usr/bin/env node
// Writes a small precomputed segmentation dataset with neuroglancer's own compressed_segmentation
// encoder, independent of the module: it proves the viewer build, the driver and the negative cases
// on data whose correctness does not depend on the code under test.
//
//   node make-fixture.mjs --out <dataset dir> [--raw <file>]
//
// 70×50×36 uint64 voxels at 8×8×40 nm, chunks 32×32×16 (clipped edge chunks), 8³ blocks, chunks
// stored as "<name>.gz", all-zero chunks skipped (z 32-36 is empty), a 2×2×1 stride-downsampled
// second scale, and a box-shaped legacy mesh per segment. Segments: 1 (a box), 7 (a ball) and
// 1152921504606846979 (2^60 + 3, beyond JS number precision). --raw writes the scale-0 voxels as
// uint64 little-endian, x fastest. Prints a JSON description (segments and probe positions).
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { parseArgs } from "node:util";

globalThis.navigator ??= { userAgent: "node", hardwareConcurrency: 4 };
const { encodeChannels } = await import("neuroglancer/unstable/sliceview/compressed_segmentation/encode_uint64.js");
const { TypedArrayBuilder } = await import("neuroglancer/unstable/util/array.js");

const { values: args } = parseArgs({ options: { out: { type: "string" }, raw: { type: "string" } } });
if (!args.out) {
  console.error("make-fixture: --out is required");
  process.exit(2);
}

const size = [70, 50, 36];
const resolution = [8, 8, 40];
const BIG = (1n << 60n) + 3n;
const labelAt = (x, y, z) => {
  if (x >= 4 && x < 30 && y >= 6 && y < 40 && z >= 2 && z < 14) return 1n;
  const dx = x - 48, dy = y - 25, dz = (z - 15) * 5;
  if (dx * dx + dy * dy + dz * dz <= 15 * 15) return 7n;
  if (x >= 10 && x < 66 && y >= 42 && y < 48 && z >= 18 && z < 30) return BIG;
  return 0n;
};

const voxels = new BigUint64Array(size[0] * size[1] * size[2]);
for (let z = 0, i = 0; z < size[2]; z++) for (let y = 0; y < size[1]; y++) for (let x = 0; x < size[0]; x++, i++) voxels[i] = labelAt(x, y, z);

const out = path.resolve(args.out);
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });

const scales = [
  { key: "8_8_40", size, resolution, factor: [1, 1, 1] },
  { key: "16_16_40", size: [35, 25, 36], resolution: [16, 16, 40], factor: [2, 2, 1] },
];
const chunk = [32, 32, 16];
const block = [8, 8, 8];
let chunksWritten = 0;
let chunksSkipped = 0;
for (const s of scales) {
  const dir = path.join(out, s.key);
  fs.mkdirSync(dir);
  for (let z0 = 0; z0 < s.size[2]; z0 += chunk[2])
    for (let y0 = 0; y0 < s.size[1]; y0 += chunk[1])
      for (let x0 = 0; x0 < s.size[0]; x0 += chunk[0]) {
        const end = [Math.min(x0 + chunk[0], s.size[0]), Math.min(y0 + chunk[1], s.size[1]), Math.min(z0 + chunk[2], s.size[2])];
        const shape = [end[0] - x0, end[1] - y0, end[2] - z0];
        const data = new BigUint64Array(shape[0] * shape[1] * shape[2]);
        let any = false;
        for (let z = 0, i = 0; z < shape[2]; z++)
          for (let y = 0; y < shape[1]; y++)
            for (let x = 0; x < shape[0]; x++, i++) {
              const sx = (x0 + x) * s.factor[0], sy = (y0 + y) * s.factor[1], sz = (z0 + z) * s.factor[2];
              const v = voxels[sx + size[0] * (sy + size[1] * sz)];
              data[i] = v;
              if (v !== 0n) any = true;
            }
        if (!any) {
          chunksSkipped++;
          continue;
        }
        const builder = new TypedArrayBuilder(Uint32Array, 0);
        encodeChannels(builder, block, data, [shape[0], shape[1], shape[2], 1]);
        const bytes = new Uint8Array(builder.view.buffer, builder.view.byteOffset, builder.view.byteLength);
        const name = `${x0}-${end[0]}_${y0}-${end[1]}_${z0}-${end[2]}`;
        fs.writeFileSync(path.join(dir, name + ".gz"), zlib.gzipSync(bytes));
        chunksWritten++;
      }
}

const info = {
  "@type": "neuroglancer_multiscale_volume",
  type: "segmentation",
  data_type: "uint64",
  num_channels: 1,
  mesh: "mesh",
  scales: scales.map((s) => ({
    key: s.key, size: s.size, voxel_offset: [0, 0, 0], resolution: s.resolution, chunk_sizes: [chunk],
    encoding: "compressed_segmentation", compressed_segmentation_block_size: block,
  })),
};
fs.writeFileSync(path.join(out, "info"), JSON.stringify(info));

// One closed box per segment around its voxel bounding box (aligned mode, outward winding).
const meshDir = path.join(out, "mesh");
fs.mkdirSync(meshDir);
fs.writeFileSync(path.join(meshDir, "info"), JSON.stringify({ "@type": "neuroglancer_legacy_mesh" }));
const segments = [1n, 7n, BIG];
for (const id of segments) {
  const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
  for (let z = 0, i = 0; z < size[2]; z++)
    for (let y = 0; y < size[1]; y++)
      for (let x = 0; x < size[0]; x++, i++)
        if (voxels[i] === id) {
          const p = [x, y, z];
          for (let a = 0; a < 3; a++) {
            lo[a] = Math.min(lo[a], p[a]);
            hi[a] = Math.max(hi[a], p[a] + 1);
          }
        }
  const c = [lo, hi];
  const vertices = [];
  for (let k = 0; k < 8; k++) vertices.push([c[k & 1][0] * resolution[0], c[(k >> 1) & 1][1] * resolution[1], c[(k >> 2) & 1][2] * resolution[2]]);
  // vertex k has bits (x, y, z); faces counter-clockwise seen from outside
  const quads = [[0, 2, 3, 1], [4, 5, 7, 6], [0, 1, 5, 4], [2, 6, 7, 3], [0, 4, 6, 2], [1, 3, 7, 5]];
  const triangles = quads.flatMap(([a, b, cc, d]) => [[a, b, cc], [a, cc, d]]);
  const buf = Buffer.alloc(4 + 12 * vertices.length + 12 * triangles.length);
  buf.writeUInt32LE(vertices.length, 0);
  vertices.flat().forEach((v, i) => buf.writeFloatLE(v, 4 + 4 * i));
  triangles.flat().forEach((v, i) => buf.writeUInt32LE(v, 4 + 12 * vertices.length + 4 * i));
  const fragment = `${id}.frag`;
  fs.writeFileSync(path.join(meshDir, fragment), buf);
  fs.writeFileSync(path.join(meshDir, `${id}:0`), JSON.stringify({ fragments: [fragment] }));
}

if (args.raw) fs.writeFileSync(args.raw, new Uint8Array(voxels.buffer));

// Probe positions (scale-0 voxel coordinates) with the label the viewer must report there.
const probes = [[10, 20, 8], [48, 25, 15], [40, 45, 24], [2, 2, 2], [60, 10, 33]].map((p) => ({ voxel: p, label: labelAt(...p).toString() }));
console.log(JSON.stringify({ dataset: out, segments: segments.map(String), probes, chunksWritten, chunksSkipped }));
