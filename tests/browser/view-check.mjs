#!/usr/bin/env node
// End-to-end check in the real viewer (see README.md here): the bundled neuroglancer in Debian's
// headless Chromium loads a dataset from a server someone else started, and everything a user would
// see is asserted.
//
//   node view-check.mjs --viewer dist --url '<any viewer base>#!<state>' --dataset <local copy of the dataset>
//                       [--probe x,y,z=label ...] [--no-mesh id,...] [--name label] [--artifacts dir]
//                       [--image-dataset <local copy of the state's image layer>]
//   node view-check.mjs --viewer dist --serve-data <dir holding the dataset folder> --dataset <that folder>
//                       --segments 1,7 [--fault no-content-encoding|no-cors|...]   (reference server)
//
// The viewer is served from its own 127.0.0.1 origin (so CORS is really exercised); the state is the
// part of --url after "#". --dataset is the folder that was published: it tells which chunks exist,
// and whether as ".gz", so every response can be held to the status and Content-Encoding it must have.
//
// Asserted: every chunk/mesh request 200 (404 only for chunks never written) with the expected
// Content-Encoding and CORS header; no failed request; no page error; no console chunk error; the layer
// has no load error and shows the requested segments; at each probe the segment id under the mouse in
// the 2-D view equals the label; a screenshot of the 2-D and 3-D panels is saved, and the 3-D panel
// (meshes only) is not blank. With --image-dataset, the state's image layer is held to the same traffic
// rules (its jpeg/png/raw chunks must load, without Content-Encoding unless stored as .gz), and both
// layers must draw in the 2-D panels (each switched off in turn must change them: the image a good part
// with many grey levels, the segmentation where its selected segments are). Output: "VIEW-CHECK OK {...}" (exit 0), or one "VIEW-CHECK FAIL: <cause>"
// per problem (exit 1). Exit 2: bad arguments; exit 3: the browser or WebGL could not start.
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import { isChunkName, loadInfo } from "./lib/precomputed.mjs";
import { serveData, serveStatic } from "./lib/servers.mjs";

let args;
try {
  args = parseArgs({
    options: {
      viewer: { type: "string" },
      url: { type: "string" },
      dataset: { type: "string" },
      "image-dataset": { type: "string" },
      "serve-data": { type: "string" },
      fault: { type: "string", default: "none" },
      segments: { type: "string", default: "" },
      probe: { type: "string", multiple: true, default: [] },
      "no-mesh": { type: "string", default: "" },
      name: { type: "string", default: "view-check" },
      artifacts: { type: "string" },
      chromium: { type: "string", default: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium" },
      timeout: { type: "string", default: "90" },
      "min-mesh-pixels": { type: "string", default: "200" },
    },
  }).values;
  if (!args.viewer) throw new Error("--viewer (the built viewer directory) is required");
  if (!args.dataset) throw new Error("--dataset (the local folder of the published dataset) is required");
  if (!args.url && !args["serve-data"]) throw new Error("give --url, or --serve-data to use the reference server");
  if (!fs.existsSync(path.join(args.viewer, "index.html"))) throw new Error(`${args.viewer}: no index.html; build the viewer first (npm run build)`);
} catch (e) {
  console.error(`view-check: ${e.message}`);
  process.exit(2);
}

const here = path.dirname(new URL(import.meta.url).pathname);
const artifacts = path.resolve(args.artifacts ?? path.join(here, "artifacts"));
fs.mkdirSync(artifacts, { recursive: true });
const timeoutMs = Number(args.timeout) * 1000;
const failures = [];
const notes = [];
const fail = (m) => failures.push(m);
const cleanups = [];

function parseProbe(text) {
  const m = /^\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*=\s*(\d+)\s*$/.exec(text);
  if (!m) throw new Error(`--probe "${text}": expected x,y,z=label`);
  return { voxel: [Number(m[1]), Number(m[2]), Number(m[3])], label: BigInt(m[4]).toString() };
}

async function main() {
  const { info } = loadInfo(args.dataset);
  const datasetDir = path.resolve(args.dataset);
  const probes = args.probe.map(parseProbe);
  const noMesh = new Set(args["no-mesh"].split(",").filter(Boolean).map((s) => BigInt(s).toString()));

  const viewer = await serveStatic(args.viewer);
  cleanups.push(viewer.close);
  let hash;
  if (args.url) {
    const i = args.url.indexOf("#");
    if (i < 0) throw new Usage(`--url has no "#" state: ${args.url}`);
    hash = args.url.slice(i);
  } else {
    const data = await serveData(args["serve-data"], args.fault);
    cleanups.push(data.close);
    const rel = path.relative(path.resolve(args["serve-data"]), datasetDir).split(path.sep).map(encodeURIComponent).join("/");
    const state = {
      layers: [{ type: "segmentation", name: path.basename(datasetDir), source: `precomputed://${data.origin}/${rel}`, segments: args.segments.split(",").filter(Boolean) }],
      layout: "4panel",
    };
    hash = "#!" + encodeURIComponent(JSON.stringify(state));
  }
  const state = parseState(hash);
  const layerSpec = state.layers.find((l) => l.type === "segmentation") ?? state.layers[0];
  const base = dataBase(typeof layerSpec.source === "string" ? layerSpec.source : layerSpec.source.url);
  const segments = (layerSpec.segments ?? []).map((s) => String(s)).filter((s) => !s.startsWith("!")).map((s) => BigInt(s).toString());
  const pageUrl = `${viewer.origin}/${hash}`;
  const imageSpec = args["image-dataset"] ? state.layers.find((l) => l.type === "image") : undefined;
  if (args["image-dataset"] && !imageSpec) throw new Usage("--image-dataset is given but the state has no image layer");
  const imageBase = imageSpec ? dataBase(typeof imageSpec.source === "string" ? imageSpec.source : imageSpec.source.url) : null;
  const imageInfo = imageSpec ? loadInfo(args["image-dataset"], { image: true }).info : null;

  // ---- browser ----------------------------------------------------------------------------------
  let browser;
  try {
    browser = await chromium.launch({
      executablePath: args.chromium,
      headless: true,
      args: [
        "--no-sandbox", "--disable-gpu", "--disable-gpu-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist",
        "--disable-background-networking", "--disable-component-update", "--disable-default-apps", "--disable-sync",
        "--no-first-run", "--no-default-browser-check", "--disable-dev-shm-usage", "--metrics-recording-only",
        "--disable-background-timer-throttling", "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows",
      ],
    });
  } catch (e) {
    throw new Infra(`could not start Chromium at ${args.chromium}: ${e.message.split("\n")[0]}`);
  }
  cleanups.push(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, deviceScaleFactor: 1 });
  let page = await context.newPage();

  const responses = [];
  const failed = [];
  const consoleLines = [];
  const pageErrors = [];
  const pending = new Set();
  const headerJobs = [];
  let lastDataActivity = Date.now();
  const isData = (url) => url.startsWith(base) || (imageBase !== null && url.startsWith(imageBase));
  const meshDataRequests = []; // multi-resolution fragment reads in the order the viewer issued them
  const watch = (p) => {
    p.on("request", (r) => {
      if (isData(r.url())) {
        pending.add(r);
        lastDataActivity = Date.now();
        const range = r.headers()["range"];
        if (range && info.mesh !== undefined) meshDataRequests.push({ url: r.url(), range });
      }
    });
    p.on("response", (r) => {
      if (!isData(r.url())) return;
      headerJobs.push(r.allHeaders().then((h) => responses.push({ url: r.url(), status: r.status(), method: r.request().method(), headers: h })).catch(() => {}));
    });
    p.on("requestfinished", (r) => {
      pending.delete(r);
      lastDataActivity = Date.now();
    });
    p.on("requestfailed", (r) => {
      if (isData(r.url())) {
        pending.delete(r);
        lastDataActivity = Date.now();
        failed.push({ url: r.url(), error: r.failure()?.errorText ?? "unknown" });
      }
    });
    p.on("console", (m) => {
      if (m.type() !== "debug") consoleLines.push(`${m.type()}: ${m.text()}`);
    });
    p.on("pageerror", (e) => pageErrors.push(String(e?.stack ?? e)));
  };
  watch(page);

  await page.goto(pageUrl, { waitUntil: "load", timeout: timeoutMs });
  try {
    await page.waitForFunction(() => window.viewer !== undefined && window.viewer.layerManager.managedLayers.length > 0, null, { timeout: 20000 });
  } catch {
    throw new Infra(`the viewer did not start (no window.viewer with a layer). Page errors: ${pageErrors.join(" | ") || "none"}`);
  }
  const gl = await page.evaluate(() => {
    const c = document.createElement("canvas").getContext("webgl2");
    return c ? c.getParameter(c.RENDERER) : null;
  });
  if (!gl) throw new Infra("WebGL2 is unavailable in this Chromium (SwiftShader arguments missing?)");
  notes.push(`WebGL2: ${gl}`);

  let notReady = false;
  const timings = [];
  const settle = async (what) => {
    const deadline = Date.now() + timeoutMs;
    const began = Date.now();
    await page.waitForTimeout(400);
    for (;;) {
      const ready = await page.evaluate(() => {
        const v = window.viewer;
        const err = v.layerManager.managedLayers.some((m) => m.layer?.dataSources?.[0]?.loadState?.error);
        return err ? "error" : v.isReady() ? "ready" : "busy";
      });
      if (ready === "error") return;
      const idle = pending.size === 0 ? Date.now() - lastDataActivity : 0;
      if (ready === "ready" && idle > 1000) {
        timings.push(`${what}: ${Date.now() - began} ms`);
        return;
      }
      if (idle > 5000) {
        // Nothing left in flight, yet the viewer still waits: chunks that failed to load stay "not ready".
        if (!notReady) fail(`VIEWER NOT READY: while loading ${what}, every data request had finished but the viewer still reported chunks as not loaded (failed chunks; see the causes below)`);
        notReady = true;
        return;
      }
      if (Date.now() > deadline) {
        fail(`TIMEOUT: the viewer was still loading ${what} after ${args.timeout} s (${pending.size} data requests open: ${[...pending].slice(0, 3).map((r) => r.url()).join(", ")})`);
        return;
      }
      await page.waitForTimeout(250);
    }
  };
  await settle("the initial view");

  const layerState = await page.evaluate((name) => {
    const managed = window.viewer.layerManager.managedLayers.find((m) => m.name === name) ?? window.viewer.layerManager.managedLayers[0];
    const layer = managed.layer;
    const ds = layer.dataSources?.[0];
    const err = ds?.loadState?.error;
    const visible = layer.displayState?.segmentationGroupState?.value?.visibleSegments;
    return { name: managed.name, loadError: err ? String(err.message ?? err) : null, visible: visible ? [...visible].map(String) : [] };
  }, layerSpec.name);
  if (imageSpec) {
    const imageError = await page.evaluate((name) => {
      const err = window.viewer.layerManager.managedLayers.find((m) => m.name === name)?.layer?.dataSources?.[0]?.loadState?.error;
      return err ? String(err.message ?? err) : null;
    }, imageSpec.name);
    if (imageError) fail(`LAYER LOAD ERROR: the image layer's data source reports "${imageError}"`);
  }
  if (layerState.loadError) {
    const infoFailure = failed.find((f) => f.url === base + "info");
    fail(`LAYER LOAD ERROR: the data source reports "${layerState.loadError}"` + (infoFailure ? ` (the info request failed with ${infoFailure.error}: ${describeNetError(infoFailure.error)})` : ""));
  } else {
    for (const id of segments) if (!layerState.visible.includes(id)) fail(`SEGMENTS: requested segment ${id} is not visible in the layer (visible: ${layerState.visible.join(", ") || "none"})`);
  }

  // ---- probes: the segment id under the mouse in the 2-D view -----------------------------------
  const probeResults = [];
  const initialView = await page.evaluate(() => ({ position: Array.from(window.viewer.position.value), scale: window.viewer.crossSectionScale.value }));
  if (!layerState.loadError && probes.length > 0) {
    await page.evaluate(() => {
      window.viewer.crossSectionScale.value = 0.25; // 4 pixels per voxel: scale 0 is drawn, the centre pixel is inside the voxel
    });
    for (const probe of probes) {
      const o = info.scales[0].voxel_offset;
      const target = probe.voxel.map((v, a) => o[a] + v + 0.5);
      await page.evaluate((p) => {
        window.viewer.position.value = Float32Array.from(p);
      }, target);
      await settle(`probe ${probe.voxel.join(",")}`);
      const panel = await panelRects(page).then((ps) => ps.find((p) => p.kind === "2d"));
      if (!panel) {
        fail("PROBE: no 2-D panel found in the layout");
        break;
      }
      const cx = panel.x + panel.width / 2;
      const cy = panel.y + panel.height / 2;
      // The viewer resolves the mouse position on its next frame (slow with SwiftShader): poll until the
      // hovered voxel is the probe, re-moving the mouse now and then.
      await page.mouse.move(cx - 7, cy - 5);
      await page.mouse.move(cx, cy);
      let seen = null;
      const until = Date.now() + 20000;
      for (let attempt = 0; ; attempt++) {
        await page.waitForTimeout(200);
        seen = await page.evaluate((layerName) => {
          const v = window.viewer;
          const pos = v.mouseState.active ? Array.from(v.mouseState.position) : null;
          const json = JSON.parse(JSON.stringify(v.layerSelectedValues.toJSON(), (k, x) => (typeof x === "bigint" ? x.toString() : x)));
          return { pos, value: json[layerName] ?? null };
        }, layerState.name);
        const at = seen.pos ? seen.pos.map((c, a) => Math.floor(c) - o[a]) : null;
        if (at && at.every((c, a) => c === probe.voxel[a]) && seen.value !== null) break;
        if (Date.now() > until) break;
        if (attempt % 10 === 9) {
          await page.mouse.move(cx + 1, cy);
          await page.mouse.move(cx, cy);
        }
      }
      const label = selectedId(seen.value);
      const voxel = seen.pos ? seen.pos.map((c, a) => Math.floor(c) - o[a]) : null;
      probeResults.push({ voxel: probe.voxel, expected: probe.label, seen: label, mouseVoxel: voxel });
      if (!voxel || voxel.some((c, a) => c !== probe.voxel[a])) fail(`PROBE: the mouse at the 2-D panel centre is over voxel ${voxel ? voxel.join(",") : "(none)"}, not ${probe.voxel.join(",")}${pageErrors.length ? " (the viewer threw while picking; see PAGE ERROR)" : ""}`);
      else if (label !== probe.label) fail(`PROBE: at voxel (${probe.voxel.join(", ")}) the viewer reports segment ${label ?? "(none)"}, the source volume has ${probe.label}`);
    }
  }

  // ---- screenshots ------------------------------------------------------------------------------
  await page.mouse.move(1, 1);
  await page.evaluate((s) => {
    const v = window.viewer;
    v.position.value = Float32Array.from(s.position);
    v.crossSectionScale.value = s.scale;
  }, initialView);
  await settle("the screenshot view");
  const shot = path.join(artifacts, `${args.name}.png`);
  await page.screenshot({ path: shot });
  notes.push(`screenshot: ${shot}`);
  let imagePixels = null;
  if (imageSpec && !layerState.loadError) {
    // Both layers must draw in the 2-D panels: each is switched off in turn, and the pixels that
    // change are what it drew (the grey background, axis lines and boxes cancel out). The image must
    // change a good part of the panels with many grey levels (EM texture); the segmentation must tint
    // the image where its selected segments are.
    await page.evaluate(() => {
      const v = window.viewer;
      v.showAxisLines.value = false;
      v.showScaleBar.value = false;
      v.showDefaultAnnotations.value = false;
    });
    const setVisible = (name, visible) => page.evaluate(([n, on]) => window.viewer.layerManager.managedLayers.find((m) => m.name === n).setVisible(on), [name, visible]);
    const shots = async (label) => {
      await settle(`the 2-D panels (${label})`);
      const out = [];
      for (const [i, panel] of (await panelRects(page)).filter((p) => p.kind === "2d").entries())
        out.push((await page.screenshot({ clip: { x: panel.x, y: panel.y, width: panel.width, height: panel.height }, path: path.join(artifacts, `${args.name}-2d${i}-${label}.png`) })).toString("base64"));
      return out;
    };
    const both = await shots("both");
    await setVisible(imageSpec.name, false);
    const segmentationOnly = await shots("segmentation");
    await setVisible(imageSpec.name, true);
    await setVisible(layerState.name, false);
    const imageOnly = await shots("image");
    await setVisible(layerState.name, true);
    if (both.length === 0) fail("SCREENSHOT: no 2-D panel in the layout");
    else {
      imagePixels = await page.evaluate(async ([a, b, c]) => {
        const decode = async (b64) => {
          const bmp = await createImageBitmap(await (await fetch(`data:image/png;base64,${b64}`)).blob());
          const canvas = new OffscreenCanvas(bmp.width, bmp.height);
          const g = canvas.getContext("2d");
          g.drawImage(bmp, 0, 0);
          return g.getImageData(0, 0, bmp.width, bmp.height).data;
        };
        const r = { area: 0, imageChanged: 0, imageLevels: 0, segmentationChanged: 0 };
        const levels = new Set();
        for (let p = 0; p < a.length; p++) {
          const [x, y, z] = [await decode(a[p]), await decode(b[p]), await decode(c[p])];
          r.area += x.length / 4;
          for (let i = 0; i < x.length; i += 4) {
            const d = (u, w) => Math.max(Math.abs(u[i] - w[i]), Math.abs(u[i + 1] - w[i + 1]), Math.abs(u[i + 2] - w[i + 2]));
            if (d(x, y) > 16) {
              r.imageChanged++;
              if (Math.max(z[i], z[i + 1], z[i + 2]) - Math.min(z[i], z[i + 1], z[i + 2]) <= 6) levels.add(z[i]);
            }
            if (d(x, z) > 16) r.segmentationChanged++;
          }
        }
        r.imageLevels = levels.size;
        return r;
      }, [both, segmentationOnly, imageOnly]);
      if (imagePixels.imageChanged < imagePixels.area * 0.05 || imagePixels.imageLevels < 32)
        fail(`BLANK IMAGE LAYER: switching the image layer off changes ${imagePixels.imageChanged} of ${imagePixels.area} pixels of the 2-D panels (${imagePixels.imageLevels} grey levels); the image layer did not draw`);
      if (segments.length > 0 && imagePixels.segmentationChanged < Number(args["min-mesh-pixels"]))
        fail(`SEGMENTATION NOT SHOWN: switching the segmentation layer off changes only ${imagePixels.segmentationChanged} pixels of the 2-D panels over the image (segments ${segments.join(", ")})`);
    }
  }
  let meshPixels = null;
  let lodReport = null;
  if (!layerState.loadError && info.mesh !== undefined && segments.some((s) => !noMesh.has(s))) {
    // 3-D panel with meshes only: no cross-sections, axis lines or scale bar.
    await page.evaluate(() => {
      const v = window.viewer;
      v.showPerspectiveSliceViews.value = false;
      v.showAxisLines.value = false;
      v.showScaleBar.value = false;
      v.showDefaultAnnotations.value = false; // the yellow bounding box
    });
    await settle("the meshes");
    const panel = (await panelRects(page)).find((p) => p.kind === "3d");
    if (!panel) fail("SCREENSHOT: no 3-D panel in the layout");
    else {
      const clip = { x: panel.x, y: panel.y, width: panel.width, height: panel.height };
      const png = await page.screenshot({ clip, path: path.join(artifacts, `${args.name}-3d.png`) });
      meshPixels = await countColouredPixels(page, png);
      if (meshPixels < Number(args["min-mesh-pixels"])) fail(`BLANK 3-D PANEL: only ${meshPixels} coloured pixels in the 3-D panel with meshes only (segments ${segments.join(", ")}); the meshes did not render`);
    }
    if (multiLod(datasetDir, info.mesh) && !meshSharded(datasetDir, info.mesh)) {
      // Levels of detail (neuroglancer meshes.md), on a fresh load (empty caches) of the same state in a 3-D
      // layout: far away first, then zoomed in; which lods the fragment reads hit, in request order.
      const extent = Math.max(...info.scales[0].size);
      const far = { ...state, layout: "3d", projectionScale: extent * 64 };
      let mark = meshDataRequests.length;
      await page.close();
      page = await context.newPage();
      watch(page);
      await page.goto(`${viewer.origin}/#!${encodeURIComponent(JSON.stringify(far))}`, { waitUntil: "load", timeout: timeoutMs });
      await page.waitForFunction(() => window.viewer !== undefined && window.viewer.layerManager.managedLayers.length > 0, null, { timeout: 20000 });
      await settle("the meshes seen from far away");
      const farLods = lodsRequested(datasetDir, info.mesh, base, meshDataRequests.slice(mark));
      mark = meshDataRequests.length;
      await page.evaluate((scale) => {
        window.viewer.perspectiveNavigationState.zoomFactor.value = scale;
      }, extent / 8);
      await settle("the meshes seen close up");
      const nearLods = lodsRequested(datasetDir, info.mesh, base, meshDataRequests.slice(mark));
      lodReport = { far: farLods, near: nearLods };
      const coarsest = Math.max(-1, ...Object.values(farLods).map((l) => l.coarsest));
      if (!Object.keys(farLods).length) fail("LOD: no fragment data was read for any selected segment");
      else {
        for (const [id, l] of Object.entries(farLods))
          if (l.first !== l.coarsest) fail(`LOD: the first fragment read of segment ${id} was lod ${l.first}, not its coarsest lod ${l.coarsest}`);
        // Judged on the segments that have coarser lods: a small segment with lod 0 only is read at
        // lod 0 from any distance.
        const layered = Object.keys(farLods).filter((id) => farLods[id].coarsest > 0);
        const finer = layered.some((id) => nearLods[id] && Math.min(...nearLods[id].lods) < Math.min(...farLods[id].lods));
        if (coarsest > 0 && !finer)
          fail(`LOD: zooming in requested no finer level of detail for any segment with several (far: ${JSON.stringify(farLods)}, near: ${JSON.stringify(nearLods)})`);
      }
    }
  }

  await Promise.all(headerJobs);
  const under = (b) => (r) => r.url.startsWith(b) && !(b !== imageBase && imageBase !== null && r.url.startsWith(imageBase) && imageBase.length > b.length);
  diagnose({ info, datasetDir, base, responses: responses.filter(under(base)), failed: failed.filter(under(base)), consoleLines, pageErrors, segments, noMesh, label: "counts" });
  if (imageSpec) diagnose({ info: imageInfo, datasetDir: path.resolve(args["image-dataset"]), base: imageBase, responses: responses.filter(under(imageBase)), failed: failed.filter(under(imageBase)), consoleLines: [], pageErrors: [], segments: [], noMesh: new Set(), label: "imageCounts" });
  return { pageUrl, dataBase: base, imageBase, layer: layerState, probes: probeResults, meshPixels, imagePixels, lods: lodReport, requests: responses.length, failedRequests: failed.length, notes, timings };
}

// ---- diagnosis: turn the recorded traffic into named causes (README.md here) -----------------------
function diagnose({ info, datasetDir, base, responses, failed, consoleLines, pageErrors, segments, noMesh, label }) {
  const keys = new Map(info.scales.map((s) => [s.key, s]));
  const meshDir = info.mesh;
  const multi = multiLod(datasetDir, meshDir);
  const sharded = meshSharded(datasetDir, meshDir);
  const expectation = (rel) => {
    // returns { kind, file, gzip } for a path below the dataset base, or null
    const slash = rel.lastIndexOf("/");
    const dir = rel.slice(0, slash);
    const name = rel.slice(slash + 1);
    if (rel === "info") return { kind: "info", exists: true, gzip: false };
    // Sharded scales: the viewer reads <hex>.shard files with byte ranges (neuroglancer sharded.md).
    if (keys.has(dir) && keys.get(dir).sharding && /^[0-9a-f]+\.shard$/.test(name)) {
      return { kind: "shard", exists: fs.existsSync(path.join(datasetDir, dir, name)), gzip: false };
    }
    if (keys.has(dir) && isChunkName(name)) {
      const file = path.join(datasetDir, dir, name);
      const gz = fs.existsSync(file + ".gz");
      return { kind: "chunk", exists: gz || fs.existsSync(file), gzip: gz };
    }
    if (meshDir !== undefined && dir === meshDir) {
      if (name === "info") return { kind: "mesh info", exists: fs.existsSync(path.join(datasetDir, meshDir, "info")), gzip: false };
      if (sharded && /^[0-9a-f]+\.shard$/.test(name)) return { kind: "shard", exists: fs.existsSync(path.join(datasetDir, meshDir, name)), gzip: false };
      if (multi) {
        // Multi-resolution: <id>.index manifests, <id> fragment data read by byte ranges (neuroglancer meshes.md).
        const mm = /^(\d+)(\.index)?$/.exec(name);
        if (mm) return { kind: mm[2] ? "manifest" : "mesh data", exists: fs.existsSync(path.join(datasetDir, meshDir, name)), gzip: false, id: BigInt(mm[1]).toString() };
      }
      const m = /^(\d+):0$/.exec(name);
      if (m) {
        const exists = fs.existsSync(path.join(datasetDir, meshDir, name)) || fs.existsSync(path.join(datasetDir, meshDir, `${m[1]}.json`));
        return { kind: "manifest", exists, gzip: false, id: BigInt(m[1]).toString() };
      }
    }
    if (meshDir !== undefined && rel.startsWith(meshDir + "/")) {
      const file = path.join(datasetDir, rel);
      const gz = fs.existsSync(file + ".gz");
      return { kind: "fragment", exists: gz || fs.existsSync(file), gzip: gz };
    }
    return null;
  };
  const relOf = (url) => decodeURIComponent(new URL(url).pathname).slice(decodeURIComponent(new URL(base).pathname).length);
  const counts = {};
  let corsMissing = 0;
  let wrongEncoding = 0;
  for (const r of responses) {
    if (r.method !== "GET") continue;
    const rel = relOf(r.url);
    const e = expectation(rel);
    const kind = e?.kind ?? "other";
    counts[kind] = (counts[kind] ?? 0) + 1;
    const enc = (r.headers["content-encoding"] ?? "").trim().toLowerCase();
    if (!r.headers["access-control-allow-origin"] && corsMissing++ < 5)
      fail(`CORS: ${rel} (HTTP ${r.status}) has no Access-Control-Allow-Origin header; the browser blocks it and the viewer treats the ${kind} as missing`);
    if (!e) continue;
    if (e.exists && r.status !== 200 && r.status !== 206) {
      fail(`HTTP ${r.status} for ${kind} ${rel}, which exists in the dataset` + (e.gzip ? ` as ${path.basename(rel)}.gz (the server does not map X to X.gz: nginx try_files or no gzip_static; S3 key with .gz)` : ""));
      continue;
    }
    if (!e.exists && r.status === 200) {
      fail(`HTTP 200 for ${kind} ${rel}, which the dataset does not contain (stale or foreign data at that URL)`);
      continue;
    }
    if ((kind === "shard" || kind === "mesh data") && r.status === 200)
      fail(`RANGE IGNORED: ${rel} was answered 200 with the whole file to a byte-range request; sharded reads need 206 Partial Content`);
    if (!e.exists) {
      if (kind !== "chunk" && kind !== "shard" && !(kind === "manifest" && noMesh.has(e.id)) && kind !== "mesh info") fail(`HTTP ${r.status} for ${kind} ${rel}`);
      continue;
    }
    if (e.gzip && enc !== "gzip" && wrongEncoding++ < 5)
      fail(`CONTENT-ENCODING MISSING: ${rel} was written as .gz but was served ${enc ? `with Content-Encoding "${enc}"` : "without Content-Encoding: gzip"}, so gzip bytes reach the decoder`);
    if (!e.gzip && enc !== "" && wrongEncoding++ < 5)
      fail(`CONTENT-ENCODING WRONG: ${rel} is stored uncompressed but was served with Content-Encoding "${enc}"`);
  }
  const aborted = failed.filter((f) => /ERR_ABORTED/.test(f.error)); // cancelled by the viewer itself (view changed, 404 body dropped)
  stats.abortedRequests = aborted.length;
  failed = failed.filter((f) => !/ERR_ABORTED/.test(f.error));
  for (const f of failed.slice(0, 5)) fail(`REQUEST FAILED: ${relOf(f.url)}: ${f.error} (${describeNetError(f.error)})`);
  if (failed.length > 5) fail(`REQUEST FAILED: ${failed.length - 5} more data requests failed`);
  for (const e of pageErrors) fail(`PAGE ERROR: ${e.split("\n")[0]}`);
  const chunkErrors = consoleLines.filter((l) => /Error retrieving chunk/.test(l)).filter((l) => {
    const m = /mesh\/(\d+):0 not found/.exec(l);
    return !(m && noMesh.has(BigInt(m[1]).toString()));
  });
  for (const l of chunkErrors.slice(0, 5)) fail(`CONSOLE CHUNK ERROR: ${l}${/multiple of 4/.test(l) ? " (gzip bytes reached the decoder: Content-Encoding missing, double compression, or aws-chunked framing)" : /Failed to fetch/.test(l) ? " (the request itself failed; see REQUEST FAILED)" : ""}`);
  if (chunkErrors.length > 5) fail(`CONSOLE CHUNK ERROR: ${chunkErrors.length - 5} more`);
  // What must have been requested at all.
  if (!counts.info && !failed.some((f) => relOf(f.url) === "info")) fail(`NO INFO REQUEST: the viewer never fetched ${base}info`);
  if (!counts.chunk && !counts.shard && !failures.some((f) => f.startsWith("LAYER LOAD ERROR"))) fail("NO CHUNK RESPONSES: the viewer received no volume chunk");
  if (meshDir !== undefined && !failures.some((f) => f.startsWith("LAYER LOAD ERROR")))
    for (const id of segments) {
      if (noMesh.has(id)) continue;
      if (sharded) {
        // Sharded: manifests and fragments come out of mesh/<n>.shard by byte ranges.
        if (!responses.some((r) => relOf(r.url).startsWith(`${meshDir}/`) && relOf(r.url).endsWith(".shard") && r.status === 206))
          fail(`MESH: no 206 byte-range response from any mesh shard (selected segment ${id})`);
        continue;
      }
      const manifest = multi ? `${meshDir}/${id}.index` : `${meshDir}/${id}:0`;
      const ok = responses.some((r) => relOf(r.url) === manifest && r.status === 200);
      if (!ok) fail(`MESH: no 200 response for the manifest ${manifest} of selected segment ${id}`);
      if (multi && !responses.some((r) => relOf(r.url) === `${meshDir}/${id}` && r.status === 206))
        fail(`MESH: no 206 byte-range response for the fragment data ${meshDir}/${id} of selected segment ${id}`);
    }
  stats[label] = counts;
}
const stats = {};

/** The mesh folder's info, or null when there is none. */
function meshInfoOf(datasetDir, meshDir) {
  if (meshDir === undefined) return null;
  const file = path.join(datasetDir, meshDir, "info");
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : null;
}

/** True when the dataset's mesh folder is neuroglancer_multilod_draco. */
function multiLod(datasetDir, meshDir) {
  return meshInfoOf(datasetDir, meshDir)?.["@type"] === "neuroglancer_multilod_draco";
}

/** True when that multi-resolution folder keeps its segments in shard files. */
function meshSharded(datasetDir, meshDir) {
  return multiLod(datasetDir, meshDir) && meshInfoOf(datasetDir, meshDir).sharding !== undefined;
}

/** Byte range of each lod's fragments in "<id>", from the local manifest "<id>.index" (meshes.md, 'Multi-resolution mesh manifest file format'). */
function lodRanges(datasetDir, meshDir, id) {
  const b = fs.readFileSync(path.join(datasetDir, meshDir, `${id}.index`));
  let at = 24;
  const lods = b.readUInt32LE(at);
  at += 4 + 4 * lods + 12 * lods;
  const counts = [];
  for (let l = 0; l < lods; l++, at += 4) counts.push(b.readUInt32LE(at));
  const ranges = [];
  let offset = 0;
  for (let l = 0; l < lods; l++) {
    at += 12 * counts[l];
    const start = offset;
    for (let i = 0; i < counts[l]; i++, at += 4) offset += b.readUInt32LE(at);
    ranges.push([start, offset]);
  }
  return ranges;
}

/** Per segment: the lods that byte-range requests of its fragment data hit, the first one requested, and its coarsest lod. */
function lodsRequested(datasetDir, meshDir, base, requests) {
  const prefix = decodeURIComponent(new URL(base).pathname) + meshDir + "/";
  const out = {};
  for (const r of requests) {
    const p = decodeURIComponent(new URL(r.url).pathname);
    if (!p.startsWith(prefix)) continue;
    const id = p.slice(prefix.length);
    if (!/^\d+$/.test(id)) continue;
    const m = /bytes=(\d+)-/.exec(r.range);
    if (!m) continue;
    const ranges = lodRanges(datasetDir, meshDir, id);
    const lod = ranges.findIndex(([a, e]) => Number(m[1]) >= a && Number(m[1]) < e);
    const entry = (out[id] ??= { lods: [], first: lod, coarsest: ranges.length - 1 });
    if (!entry.lods.includes(lod)) entry.lods.push(lod);
  }
  for (const e of Object.values(out)) e.lods.sort((a, b) => a - b);
  return out;
}

function describeNetError(error) {
  if (/ERR_FAILED/.test(error)) return "blocked: the response lacks the CORS header Access-Control-Allow-Origin";
  if (/ERR_CONTENT_DECODING_FAILED/.test(error)) return "Content-Encoding: gzip on bytes that are not gzip";
  if (/ERR_CONNECTION_REFUSED/.test(error)) return "the data server is not running";
  return "network failure";
}

function parseState(hash) {
  let text = hash.replace(/^#!?/, "");
  try {
    text = decodeURIComponent(text);
  } catch {
    throw new Usage("the state in --url is not percent-encoded JSON");
  }
  let state;
  try {
    state = JSON.parse(text);
  } catch (e) {
    throw new Usage(`the state in --url is not modern JSON (${e.message}): ${text.slice(0, 120)}`);
  }
  if (!Array.isArray(state.layers) || state.layers.length === 0) throw new Usage("the state has no layers list");
  return state;
}

/** The http(s) URL prefix the viewer fetches for a layer source (an http(s) or s3+http(s) URL, with or without precomputed://), ending in "/". */
function dataBase(source) {
  let url = source.replace(/^precomputed:\/\//, "").replace(/\|.*$/, "").replace(/#.*$/, "");
  url = url.replace(/^s3\+(https?):\/\//, "$1://");
  if (!/^https?:\/\//.test(url)) throw new Usage(`layer source ${source}: only http(s) and s3+http(s) sources can be checked`);
  return url.endsWith("/") ? url : url + "/";
}

async function panelRects(page) {
  return page.evaluate(() => {
    const out = [];
    for (const p of window.viewer.display.panels) {
      if (!p.visible) continue;
      const r = p.element.getBoundingClientRect();
      if (r.width < 10 || r.height < 10) continue;
      out.push({ kind: "sliceView" in p ? "2d" : "sliceViews" in p ? "3d" : "other", x: r.x, y: r.y, width: r.width, height: r.height });
    }
    out.sort((a, b) => a.y - b.y || a.x - b.x);
    return out;
  });
}

/** Pixels that are neither near-black background nor grey, decoded in the page from the PNG. */
async function countColouredPixels(page, png) {
  return page.evaluate(async (b64) => {
    const blob = await (await fetch(`data:image/png;base64,${b64}`)).blob();
    const bmp = await createImageBitmap(blob);
    const c = new OffscreenCanvas(bmp.width, bmp.height);
    const g = c.getContext("2d");
    g.drawImage(bmp, 0, 0);
    const d = g.getImageData(0, 0, bmp.width, bmp.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
      const mx = Math.max(d[i], d[i + 1], d[i + 2]);
      const mn = Math.min(d[i], d[i + 1], d[i + 2]);
      if (mx > 40 && mx - mn > 20) n++;
    }
    return n;
  }, png.toString("base64"));
}

/** The segment id in the layer's selected-value JSON (a string, or an object with a "value"/"key"). */
function selectedId(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === "string" || typeof v === "number") return BigInt(v).toString();
  if (typeof v === "object") {
    for (const k of ["value", "key", "id"]) if (k in v) return selectedId(v[k]);
  }
  return JSON.stringify(v);
}

class Usage extends Error {}
class Infra extends Error {}

let code = 0;
try {
  const result = await main();
  if (failures.length > 0) {
    for (const f of failures) console.log(`VIEW-CHECK FAIL: ${f}`);
    console.log(`VIEW-CHECK DETAILS ${JSON.stringify({ ...result, stats })}`);
    code = 1;
  } else {
    console.log(`VIEW-CHECK OK ${JSON.stringify({ ...result, stats })}`);
  }
} catch (e) {
  if (e instanceof Usage) {
    console.error(`view-check: ${e.message}`);
    code = 2;
  } else if (e instanceof Infra) {
    console.log(`VIEW-CHECK INFRASTRUCTURE: ${e.message}`);
    code = 3;
  } else {
    console.log(`VIEW-CHECK FAIL: driver error: ${e.stack ?? e}`);
    code = 1;
  }
} finally {
  for (const c of cleanups.reverse()) await c().catch(() => {});
}
process.exit(code);
