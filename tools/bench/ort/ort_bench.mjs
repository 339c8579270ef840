// ONNX Runtime (onnxruntime-node, CPU) side of tools/bench/encoder_bench.py:
// runs a sentence-embedding ONNX model (inputs input_ids and attention_mask,
// int64 [batch, seq]; output [batch, hidden]) on token ids from a file and
// prints one JSON line.
//
//   node ort_bench.mjs --model model.onnx --ids ids.jsonl [--batch 32] [--repeat 3]
//                      [--threads N] [--sort-by-length] [--out out.f32]
//
// ids.jsonl holds one {"ids": [...]} per line. Sequences are batched --batch at
// a time in file order, or, with --sort-by-length, after a stable sort by
// length (as sentence-transformers does); each batch is padded with 0 to its
// longest sequence, with attention_mask 1 on real tokens and 0 on padding.
// One warm-up pass over all batches, then --repeat timed passes; best_s is the
// best pass (session.run calls only: the input tensors are built beforehand),
// median_s the median pass. --out writes the embeddings as raw little-endian
// float32 rows, one per sequence, in file order.
//
// Install once: cd tools/bench/ort && ONNXRUNTIME_NODE_INSTALL=skip npm install
import fs from "node:fs";
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import process from "node:process";

function usage(msg) {
  process.stderr.write(`ort_bench: ${msg}\n` +
    "usage: node ort_bench.mjs --model model.onnx --ids ids.jsonl [--batch 32] [--repeat 3] " +
    "[--threads N] [--sort-by-length] [--out out.f32]\n");
  process.exit(2);
}

function parseArgs(argv) {
  const a = { model: null, ids: null, batch: 32, repeat: 3, threads: 0, sort: false, out: null };
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
      case "--ids": a.ids = value(); break;
      case "--batch": a.batch = int(1); break;
      case "--repeat": a.repeat = int(1); break;
      case "--threads": a.threads = int(0); break;
      case "--sort-by-length": a.sort = true; break;
      case "--out": a.out = value(); break;
      case "-h": case "--help": usage("help"); break;
      default: usage(`unknown argument ${flag}`);
    }
  }
  if (!a.model) usage("--model is required");
  if (!a.ids) usage("--ids is required");
  return a;
}

function readIds(path) {
  const seqs = [];
  const lines = fs.readFileSync(path, "utf8").split("\n");
  lines.forEach((line, n) => {
    if (!line.trim()) return;
    const ids = JSON.parse(line).ids;
    if (!Array.isArray(ids) || ids.length === 0) {
      throw new Error(`${path}:${n + 1}: "ids" must be a non-empty array`);
    }
    seqs.push(ids);
  });
  if (seqs.length === 0) throw new Error(`${path}: no sequences`);
  return seqs;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  let ort;
  try {
    ort = await import("onnxruntime-node");
  } catch (e) {
    process.stderr.write("ort_bench: cannot load onnxruntime-node (" + e.message + "); run " +
      "`ONNXRUNTIME_NODE_INSTALL=skip npm install` in tools/bench/ort first\n");
    process.exit(1);
  }
  const require = createRequire(import.meta.url);
  const ortVersion = require("onnxruntime-node/package.json").version;

  const seqs = readIds(args.ids);
  const order = seqs.map((_, i) => i);
  if (args.sort) order.sort((x, y) => seqs[x].length - seqs[y].length || x - y);

  // Input tensors for every batch, built once, outside the timed passes.
  const batches = [];
  let tokens = 0, padded = 0;
  for (let b = 0; b < order.length; b += args.batch) {
    const idx = order.slice(b, b + args.batch);
    const longest = Math.max(...idx.map((i) => seqs[i].length));
    const ids = new BigInt64Array(idx.length * longest);
    const mask = new BigInt64Array(idx.length * longest);
    idx.forEach((i, r) => {
      seqs[i].forEach((t, c) => {
        ids[r * longest + c] = BigInt(t);
        mask[r * longest + c] = 1n;
      });
      tokens += seqs[i].length;
    });
    padded += idx.length * longest;
    const dims = [idx.length, longest];
    batches.push({ idx, feeds: {
      input_ids: new ort.Tensor("int64", ids, dims),
      attention_mask: new ort.Tensor("int64", mask, dims),
    } });
  }

  const options = {
    executionProviders: ["cpu"],
    graphOptimizationLevel: "all",
    executionMode: "sequential",
    interOpNumThreads: 1,
  };
  if (args.threads > 0) options.intraOpNumThreads = args.threads;
  const session = await ort.InferenceSession.create(args.model, options);
  const outputName = session.outputNames[0];

  let rows = null, hidden = 0;
  const pass = async (keep) => {
    const start = performance.now();
    for (const batch of batches) {
      const result = await session.run(batch.feeds);
      if (keep) {
        const out = result[outputName];
        hidden = out.dims[out.dims.length - 1];
        if (!rows) rows = new Float32Array(seqs.length * hidden);
        batch.idx.forEach((i, r) => rows.set(out.data.subarray(r * hidden, (r + 1) * hidden), i * hidden));
      }
    }
    return (performance.now() - start) / 1e3;
  };

  await pass(true);  // warm-up; also collects the embeddings for --out
  const passes = [];
  for (let r = 0; r < args.repeat; ++r) passes.push(await pass(false));
  const times = [...passes].sort((x, y) => x - y);
  const best = times[0];
  const median = times.length % 2 ? times[(times.length - 1) / 2]
    : (times[times.length / 2 - 1] + times[times.length / 2]) / 2;

  if (args.out) fs.writeFileSync(args.out, Buffer.from(rows.buffer, rows.byteOffset, rows.byteLength));
  await session.release();

  process.stdout.write(JSON.stringify({
    sequences: seqs.length, tokens, padded_tokens: padded, batch: args.batch,
    sort_by_length: args.sort, threads: args.threads, hidden,
    best_s: best, median_s: median, tokens_per_s: tokens / best,
    passes_s: passes.length <= 10 ? passes : undefined,
    ort_version: ortVersion, node_version: process.versions.node,
  }) + "\n");
}

main().catch((e) => {
  process.stderr.write(`ort_bench: ${e.stack || e}\n`);
  process.exit(1);
});
