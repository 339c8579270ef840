// ONNX Runtime (onnxruntime-node, CPU) side of tools/bench/clip_bench.py: runs
// one tower of a CLIP model exported to ONNX on the same inputs as the other
// engines and prints one JSON line.
//
//   node clip_ort_bench.mjs --model vision.onnx --pixels pixels.f32 --count N
//                           [--batch 32] [--repeat 3] [--threads N] [--out out.f32]
//   node clip_ort_bench.mjs --model text.onnx --ids ids.jsonl [--pad-id 49407]
//                           [--sort-by-length] [--batch 32] [--repeat 3] [--threads N]
//                           [--out out.f32]
//
// Vision: the model's one input is pixel_values, float32 [batch, 3, S, S];
// pixels.f32 holds N such images as raw little-endian float32 (S follows from
// the file size). Text: the one input is input_ids, int64 [batch, seq]; ids.jsonl
// holds one {"ids": [...]} per line, each with its end-of-text token; a batch is
// padded to its longest sequence with --pad-id (CLIP's tokenizer pads with
// <|endoftext|>; the model pools at the first one, and the causal mask keeps
// the padding after it out of the pooled row). Inputs go in file order, --batch
// at a time, or for texts with --sort-by-length after a stable sort by length.
// One warm-up pass over all batches, then --repeat timed passes; best_s is the
// best pass (session.run calls only: the input tensors are built beforehand),
// median_s the median pass. --out writes the model's first output as raw
// little-endian float32 rows, one per input, in file order.
//
// Install once: cd tools/bench/ort && ONNXRUNTIME_NODE_INSTALL=skip npm install
import fs from "node:fs";
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import process from "node:process";

function usage(msg) {
  process.stderr.write(`clip_ort_bench: ${msg}\n` +
    "usage: node clip_ort_bench.mjs --model M.onnx (--pixels FILE --count N | --ids FILE " +
    "[--pad-id N] [--sort-by-length]) [--batch 32] [--repeat 3] [--threads N] [--out out.f32]\n");
  process.exit(2);
}

function parseArgs(argv) {
  const a = { model: null, pixels: null, count: 0, ids: null, padId: 49407, sort: false,
              batch: 32, repeat: 3, threads: 0, out: null };
  for (let i = 0; i < argv.length; ++i) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${flag} needs a value`);
      return argv[++i];
    };
    const int = (min) => {
      const s = value();
      const v = Number(s);
      if (!Number.isInteger(v) || v < min) usage(`${flag} must be an integer >= ${min}, got ${s}`);
      return v;
    };
    switch (flag) {
      case "--model": a.model = value(); break;
      case "--pixels": a.pixels = value(); break;
      case "--count": a.count = int(1); break;
      case "--ids": a.ids = value(); break;
      case "--pad-id": a.padId = int(0); break;
      case "--sort-by-length": a.sort = true; break;
      case "--batch": a.batch = int(1); break;
      case "--repeat": a.repeat = int(1); break;
      case "--threads": a.threads = int(0); break;
      case "--out": a.out = value(); break;
      case "-h": case "--help": usage("help"); break;
      default: usage(`unknown argument ${flag}`);
    }
  }
  if (!a.model) usage("--model is required");
  if (!a.pixels === !a.ids) usage("exactly one of --pixels and --ids is required");
  if (a.pixels && !a.count) usage("--pixels needs --count");
  return a;
}

// Batches of pixel_values tensors over the images of `path`.
function pixelBatches(ort, path, count, batch) {
  const raw = fs.readFileSync(path);
  const perImage = raw.length / 4 / count;
  const side = Math.round(Math.sqrt(perImage / 3));
  if (!Number.isInteger(perImage) || 3 * side * side !== perImage) {
    throw new Error(`${path}: ${raw.length} bytes are not ${count} images of 3 x S x S float32`);
  }
  const batches = [];
  for (let b = 0; b < count; b += batch) {
    const n = Math.min(batch, count - b);
    const data = new Float32Array(n * perImage);
    raw.copy(new Uint8Array(data.buffer), 0, b * perImage * 4, (b + n) * perImage * 4);
    const idx = Array.from({ length: n }, (_, r) => b + r);
    batches.push({ idx, feeds: { pixel_values: new ort.Tensor("float32", data, [n, 3, side, side]) } });
  }
  return { batches, inputs: count, padded: count, tokens: 0 };
}

// Batches of input_ids tensors over the sequences of `path`.
function idBatches(ort, path, batch, padId, sort) {
  const seqs = [];
  fs.readFileSync(path, "utf8").split("\n").forEach((line, n) => {
    if (!line.trim()) return;
    const ids = JSON.parse(line).ids;
    if (!Array.isArray(ids) || ids.length === 0) {
      throw new Error(`${path}:${n + 1}: "ids" must be a non-empty array`);
    }
    seqs.push(ids);
  });
  if (seqs.length === 0) throw new Error(`${path}: no sequences`);
  const order = seqs.map((_, i) => i);
  if (sort) order.sort((x, y) => seqs[x].length - seqs[y].length || x - y);
  const batches = [];
  let tokens = 0, padded = 0;
  for (let b = 0; b < order.length; b += batch) {
    const idx = order.slice(b, b + batch);
    const longest = Math.max(...idx.map((i) => seqs[i].length));
    const ids = new BigInt64Array(idx.length * longest).fill(BigInt(padId));
    idx.forEach((i, r) => {
      seqs[i].forEach((t, c) => { ids[r * longest + c] = BigInt(t); });
      tokens += seqs[i].length;
    });
    padded += idx.length * longest;
    batches.push({ idx, feeds: { input_ids: new ort.Tensor("int64", ids, [idx.length, longest]) } });
  }
  return { batches, inputs: seqs.length, padded, tokens };
}

// VmHWM of this process, in MiB: unlike getrusage's maxRSS it does not count
// what the parent (the Python driver) held before fork and exec.
function peakRssMb() {
  try {
    const m = /VmHWM:\s*(\d+) kB/.exec(fs.readFileSync("/proc/self/status", "utf8"));
    if (m) return Number(m[1]) / 1024;
  } catch (e) {
    // no /proc: fall through
  }
  return process.resourceUsage().maxRSS / 1024;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  let ort;
  try {
    ort = await import("onnxruntime-node");
  } catch (e) {
    process.stderr.write("clip_ort_bench: cannot load onnxruntime-node (" + e.message + "); run " +
      "`ONNXRUNTIME_NODE_INSTALL=skip npm install` in tools/bench/ort first\n");
    process.exit(1);
  }
  const require = createRequire(import.meta.url);
  const ortVersion = require("onnxruntime-node/package.json").version;

  const set = args.pixels ? pixelBatches(ort, args.pixels, args.count, args.batch)
    : idBatches(ort, args.ids, args.batch, args.padId, args.sort);

  const options = {
    executionProviders: ["cpu"],
    graphOptimizationLevel: "all",
    executionMode: "sequential",
    interOpNumThreads: 1,
  };
  if (args.threads > 0) options.intraOpNumThreads = args.threads;
  const session = await ort.InferenceSession.create(args.model, options);
  const outputName = session.outputNames[0];

  let rows = null, dim = 0;
  const pass = async (keep) => {
    const start = performance.now();
    for (const batch of set.batches) {
      const result = await session.run(batch.feeds);
      if (keep) {
        const out = result[outputName];
        dim = out.dims[out.dims.length - 1];
        if (!rows) rows = new Float32Array(set.inputs * dim);
        batch.idx.forEach((i, r) => rows.set(out.data.subarray(r * dim, (r + 1) * dim), i * dim));
      }
    }
    return (performance.now() - start) / 1e3;
  };

  await pass(true);  // warm-up; also collects the vectors for --out
  const passes = [];
  for (let r = 0; r < args.repeat; ++r) passes.push(await pass(false));
  const times = [...passes].sort((x, y) => x - y);
  const best = times[0];
  const median = times.length % 2 ? times[(times.length - 1) / 2]
    : (times[times.length / 2 - 1] + times[times.length / 2]) / 2;

  if (args.out) fs.writeFileSync(args.out, Buffer.from(rows.buffer, rows.byteOffset, rows.byteLength));
  await session.release();

  const report = {
    tower: args.pixels ? "vision" : "text", inputs: set.inputs, batch: args.batch,
    threads: args.threads, dim, best_s: best, median_s: median,
    passes_s: passes.length <= 10 ? passes : undefined,
  };
  if (args.pixels) {
    report.images_per_s = set.inputs / best;
  } else {
    Object.assign(report, { tokens: set.tokens, padded_tokens: set.padded, sort_by_length: args.sort,
                            tokens_per_s: set.tokens / best });
  }
  report.max_rss_mb = peakRssMb();
  report.ort_version = ortVersion;
  report.node_version = process.versions.node;
  process.stdout.write(JSON.stringify(report) + "\n");
}

main().catch((e) => {
  process.stderr.write(`clip_ort_bench: ${e.stack || e}\n`);
  process.exit(1);
});
