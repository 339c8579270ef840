#!/usr/bin/python3
"""Encoder throughput and latency: flashembed vs ONNX Runtime vs PyTorch on the
same weights and the same token ids.

Builds a random model shaped like all-MiniLM-L6-v2 (hidden 384, 6 layers, 12
heads, intermediate 1536, the real bert-base-uncased vocabulary, mean pooling,
Normalize, F32) in the Hugging Face layout, exports the same weights to ONNX
(torch.onnx.export of the torch.nn reference of
tools/fixtures/gen_bert_fixtures.py; inputs input_ids and attention_mask,
int64 [batch, seq], dynamic batch and seq; output the pooled, normalised
sentence embedding), tokenizes texts from data/sample with `flashembed
tokenize`, and runs every engine on three token id sets:

  fixed   --fixed sequences of exactly 128 tokens (longer passages truncated
          at 128), batches of 32: the plain 32 x 128 throughput case;
  mixed   --texts passages of --words words on average (about 60 to 250
          tokens, truncated at 256), batches of 32. ONNX Runtime runs them twice:
          in file order (what a plain user does) and sorted by length (what
          sentence-transformers does); PyTorch runs them sorted by length;
          flashembed in file order (it packs sequences, no padding);
  single  one short query (at most 32 tokens), batch 1: latency, best and
          median of --single-repeat calls.

Engines:
  flashembed  build-release/tools/bench/encoder_forward_bench (BertModel::Forward
              alone on the ids, plus the GEMM peak of its matrix library);
  ort         onnxruntime-node (CPU, intra-op threads = cores, inter-op 1,
              graph optimisation 'all', sequential), tools/bench/ort/ort_bench.mjs;
  torch       Debian's python3-torch running the torch.nn reference in-process.
Each timed run is one warm-up pass and the best of --repeat passes (PyTorch:
one warm-up batch, then the best of --torch-repeat passes). Every engine's embeddings are checked against PyTorch's
(max abs error). The old whole-process `flashembed embed` measurement on the
mixed texts is kept as "end_to_end" (process time minus a one-text run).
Prints one JSON line on stdout; progress goes to stderr. Takes about 3 minutes
on 2 idle cores; anything else running (a build) skews every number.

The ONNX graph is the reference's own (nn.MultiheadAttention decomposed into
MatMul/Softmax); ONNX Runtime's 'all' level fuses LayerNormalization, BiasGelu
and FusedMatMul in it but no Attention op, as for a plain Hugging Face export
without the offline onnxruntime.transformers optimizer (a BertModel-style graph
of the same weights was measured no faster).

Setup, once (only Debian packages and the npm registry are needed; the ONNX
export needs no `onnx` Python package; ONNXRUNTIME_NODE_INSTALL=skip skips the
optional CUDA download of onnxruntime-node's install script):

    cmake --build build-release --target flashembed encoder_forward_bench
    (cd tools/bench/ort && ONNXRUNTIME_NODE_INSTALL=skip npm install)

Run (with Debian's python3-torch, i.e. /usr/bin/python3):

    /usr/bin/python3 tools/bench/encoder_bench.py
        [--flashembed build-release/tools/flashembed]
        [--forward-bench build-release/tools/bench/encoder_forward_bench]
        [--fixed 256] [--texts 128] [--words 120] [--repeat 3] [--torch-repeat 2]
        [--single-repeat 50]
        [--skip-end-to-end] [--keep DIR]

--skip-forward-bench runs ONNX Runtime and PyTorch only (the output then
says so); without it a missing forward-bench binary is an error.
"""
import argparse
import atexit
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ORT_DIR = os.path.join(HERE, "ort")
sys.path.insert(0, os.path.join(ROOT, "tools", "fixtures"))
import gen_bert_fixtures as fixtures  # noqa: E402

BATCH = 32
FIXED_LEN = 128


def log(msg):
    print(f"[encoder_bench] {msg}", file=sys.stderr, flush=True)


def fail(msg):
    print(f"encoder_bench: error: {msg}", file=sys.stderr)
    sys.exit(1)


def run(cmd, stdin_path=None, what=None):
    """Runs cmd; returns (seconds, stdout). Fails with the command's stderr."""
    f = open(stdin_path) if stdin_path else subprocess.DEVNULL
    try:
        start = time.perf_counter()
        p = subprocess.run(cmd, stdin=f, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
    finally:
        if stdin_path:
            f.close()
    if p.returncode != 0:
        fail(f"{what or cmd[0]} failed (exit {p.returncode}): {' '.join(cmd)}\n{p.stderr.strip()}")
    return elapsed, p.stdout


def run_json(cmd, what):
    _, out = run(cmd, what=what)
    lines = [l for l in out.splitlines() if l.strip()]
    if not lines:
        fail(f"{what} printed nothing: {' '.join(cmd)}")
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError:
        fail(f"{what} did not print a JSON line: {lines[-1][:200]}")


def read_f32(path, rows, what):
    data = np.fromfile(path, dtype="<f4")
    if rows == 0 or data.size % rows:
        fail(f"{what}: {path} holds {data.size} floats, not a multiple of {rows} rows")
    return data.reshape(rows, -1).astype(np.float64)


def write_ids(path, seqs):
    with open(path, "w") as f:
        for s in seqs:
            f.write(json.dumps({"ids": s}) + "\n")


def tokenize(flashembed, folder, texts, max_tokens, tmp, name):
    path = os.path.join(tmp, f"{name}_texts.jsonl")
    with open(path, "w") as f:
        for t in texts:
            f.write(json.dumps({"text": t}) + "\n")
    _, out = run([flashembed, "tokenize", "--model", folder, "--max-tokens", str(max_tokens)], path,
                 what="flashembed tokenize")
    return [json.loads(l)["ids"] for l in out.splitlines() if l.strip()], path


def model_flops(m, seqs):
    """FLOPs of one forward pass on the real tokens (same count as encoder_forward_bench)."""
    h, inter = m["hidden"], m["inter"]
    per_token = 2.0 * (4 * h * h + 2 * h * inter)
    return sum(m["layers"] * (per_token * len(s) + 4.0 * len(s) ** 2 * h) for s in seqs)


class OnnxWrapper(torch.nn.Module):
    """The reference forward with the int64 attention_mask of HF-style ONNX models."""

    def __init__(self, ref):
        super().__init__()
        self.ref = ref

    def forward(self, input_ids, attention_mask):
        return self.ref(input_ids, attention_mask != 0)


def export_onnx(ref, path):
    ids = torch.tensor([[2, 1000, 2000, 3000, 3], [2, 1500, 3, 0, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
            "sentence_embedding": {0: "batch"}}
    # Not under torch.no_grad(): there nn.MultiheadAttention takes its fast path,
    # aten::_native_multi_head_attention, which the exporter cannot translate.
    with warnings.catch_warnings(), torch.enable_grad():
        warnings.simplefilter("ignore")  # shape-inference notes of the 1.13 exporter
        torch.onnx.export(OnnxWrapper(ref).eval(), (ids, mask), path, opset_version=14,
                          input_names=["input_ids", "attention_mask"],
                          output_names=["sentence_embedding"], dynamic_axes=axes,
                          do_constant_folding=True)


def torch_embed(ref, seqs, sort, repeat):
    """Batches of BATCH (sorted by length if sort), padding mask. One warm-up
    batch, then `repeat` passes; returns (best_s, median_s, embeddings, padded_tokens)."""
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i])) if sort else list(range(len(seqs)))
    out = None
    padded = 0

    def batch_inputs(idx):
        return fixtures.padded_batch([seqs[i] for i in idx])

    with torch.no_grad():
        ref(*batch_inputs(order[:BATCH]))  # warm-up
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            res, padded = [], 0
            for b in range(0, len(order), BATCH):
                idx = order[b:b + BATCH]
                ids, mask = batch_inputs(idx)
                padded += ids.numel()
                res.append((idx, ref(ids, mask)))
            times.append(time.perf_counter() - start)
    out = np.zeros((len(seqs), ref.m["hidden"]))
    for idx, e in res:
        out[idx] = e.double().numpy()
    return min(times), statistics.median(times), out, padded


def max_err(a, b):
    if a.shape != b.shape:
        fail(f"embedding shapes differ: {a.shape} vs {b.shape}")
    return float(np.abs(a - b).max())


def rounded(x, digits):
    return round(x, digits) if isinstance(x, (int, float)) else x


def ratio(a, b):
    return round(a / b, 3) if a and b else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    ap.add_argument("--flashembed", default=os.path.join(ROOT, "build-release", "tools", "flashembed"))
    ap.add_argument("--forward-bench",
                    default=os.path.join(ROOT, "build-release", "tools", "bench", "encoder_forward_bench"))
    ap.add_argument("--skip-forward-bench", action="store_true",
                    help="run ONNX Runtime and PyTorch only (for testing this script)")
    ap.add_argument("--skip-end-to-end", action="store_true",
                    help="skip the whole-process `flashembed embed` measurement")
    ap.add_argument("--node", default="node")
    ap.add_argument("--fixed", type=int, default=256, help="sequences of exactly 128 tokens")
    ap.add_argument("--texts", type=int, default=128, help="mixed-length passages")
    ap.add_argument("--words", type=int, default=120, help="mean words per passage (about 1.3 tokens each)")
    ap.add_argument("--repeat", type=int, default=3, help="timed passes per run (best is kept)")
    ap.add_argument("--torch-repeat", type=int, default=2,
                    help="timed PyTorch passes (it is the slowest engine by far)")
    ap.add_argument("--single-repeat", type=int, default=50, help="timed calls for the single query")
    ap.add_argument("--keep", help="write the model, ONNX file and id sets here instead of a temp dir")
    args = ap.parse_args()
    if args.fixed % BATCH:
        fail(f"--fixed must be a multiple of {BATCH}")

    # Every engine must be there: nothing is skipped unless asked.
    if not os.access(args.flashembed, os.X_OK):
        fail(f"flashembed CLI not found at {args.flashembed} (needed to tokenize); build it with "
             "`cmake --build build-release --target flashembed` or pass --flashembed")
    if not args.skip_forward_bench and not os.access(args.forward_bench, os.X_OK):
        fail(f"encoder_forward_bench not found at {args.forward_bench}; build it with "
             "`cmake --build build-release --target encoder_forward_bench`, pass --forward-bench PATH, "
             "or pass --skip-forward-bench to measure ONNX Runtime and PyTorch only")
    if shutil.which(args.node) is None:
        fail(f"node not found ({args.node}); ONNX Runtime runs under Node.js")
    if not os.path.isdir(os.path.join(ORT_DIR, "node_modules", "onnxruntime-node")):
        fail(f"onnxruntime-node is not installed; run `cd {os.path.relpath(ORT_DIR)} && "
             "ONNXRUNTIME_NODE_INSTALL=skip npm install` first")

    bench_start = time.perf_counter()
    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    torch.manual_seed(7)

    vocab = open(os.path.join(ROOT, "tests", "encoders", "testdata", "vocab",
                              "bert-base-uncased", "vocab.txt"), encoding="utf-8").read().splitlines()
    m = dict(name="minilm_shaped", hidden=384, layers=6, heads=12, inter=1536, vocab=len(vocab),
             max_pos=512, act="gelu", pooling="mean", normalize=True, dtype="F32", prefix="",
             max_seq=256)
    if args.keep:
        tmp = os.path.abspath(args.keep)
        os.makedirs(tmp, exist_ok=True)
    else:
        tmp = tempfile.mkdtemp(prefix="flashembed-encoder-bench-")
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)  # also on failure
    folder = os.path.join(tmp, "model")
    ref = fixtures.write_model_folder(folder, m, vocab_words=vocab)
    with torch.no_grad():  # realistic weight scale, so activations stay in range
        for p in ref.parameters():
            if p.dim() > 1:
                p.normal_(0, 0.05)
    fixtures.write_safetensors(os.path.join(folder, "model.safetensors"),
                               fixtures.checkpoint_tensors(ref, m), "F32", "")
    onnx_path = os.path.join(tmp, "model.onnx")
    start = time.perf_counter()
    export_onnx(ref, onnx_path)
    log(f"model in {folder}, ONNX export {time.perf_counter() - start:.1f} s "
        f"({os.path.getsize(onnx_path) / 1e6:.0f} MB)")

    # Texts: passages of the English sample corpus, and one query of queries.jsonl.
    corpus = [json.loads(l)["text"] for l in open(os.path.join(ROOT, "data", "sample", "corpus.jsonl"))
              if '"lang": "en"' in l]
    words = " ".join(corpus).split()
    rng = np.random.default_rng(3)

    def passages(count, lo, hi):
        out = []
        for _ in range(count):
            n = int(rng.integers(lo, hi))
            start = int(rng.integers(0, len(words) - n))
            out.append(" ".join(words[start:start + n]))
        return out

    mixed_texts = passages(args.texts, args.words // 2, args.words * 3 // 2)
    fixed_texts = passages(args.fixed + args.fixed // 4 + 8, 130, 200)
    query = json.loads(open(os.path.join(ROOT, "data", "sample", "queries.jsonl")).readline())["text"]

    mixed, mixed_texts_path = tokenize(args.flashembed, folder, mixed_texts, m["max_seq"], tmp, "mixed")
    fixed_all, _ = tokenize(args.flashembed, folder, fixed_texts, FIXED_LEN, tmp, "fixed")
    fixed = [s for s in fixed_all if len(s) == FIXED_LEN][:args.fixed]
    if len(fixed) < args.fixed:
        fail(f"only {len(fixed)} of {len(fixed_all)} passages reach {FIXED_LEN} tokens")
    single, one_text_path = tokenize(args.flashembed, folder, [query], 32, tmp, "single")
    sets = {"fixed": fixed, "mixed": mixed, "single": single}
    ids_path = {}
    for name, seqs in sets.items():
        ids_path[name] = os.path.join(tmp, f"{name}_ids.jsonl")
        write_ids(ids_path[name], seqs)
    lengths = [len(s) for s in mixed]
    log(f"fixed {len(fixed)} x {FIXED_LEN}; mixed {len(mixed)} passages, {sum(lengths)} tokens "
        f"({min(lengths)}..{max(lengths)}); single query {len(single[0])} tokens")

    # PyTorch, the reference for every accuracy check.
    torch_res = {}
    for name, sort in [("fixed", False), ("mixed", True)]:
        log(f"torch {name}")
        best, median, emb, padded = torch_embed(ref, sets[name], sort, args.torch_repeat)
        torch_res[name] = dict(best_s=best, median_s=median, emb=emb, padded_tokens=padded)
    log("torch single")
    times = []
    with torch.no_grad():
        ids = torch.tensor(single)
        mask = torch.ones_like(ids, dtype=torch.bool)
        ref(ids, mask)
        for _ in range(args.single_repeat):
            start = time.perf_counter()
            e = ref(ids, mask)
            times.append(time.perf_counter() - start)
    torch_res["single"] = dict(best_s=min(times), median_s=statistics.median(times),
                               emb=e.double().numpy())

    # ONNX Runtime.
    ort_script = os.path.join(ORT_DIR, "ort_bench.mjs")

    def ort_run(name, sort, batch, repeat):
        tag = name + ("_sorted" if sort else "")
        log(f"ort {tag}")
        out = os.path.join(tmp, f"ort_{tag}.f32")
        cmd = [args.node, ort_script, "--model", onnx_path, "--ids", ids_path[name], "--batch", str(batch),
               "--repeat", str(repeat), "--threads", str(threads), "--out", out]
        if sort:
            cmd.append("--sort-by-length")
        r = run_json(cmd, "ort_bench.mjs")
        r["max_abs_err_vs_torch"] = max_err(read_f32(out, len(sets[name]), "ort_bench"),
                                            torch_res[name]["emb"])
        return r

    ort = {"fixed": ort_run("fixed", False, BATCH, args.repeat),
           "mixed": ort_run("mixed", False, BATCH, args.repeat),
           "mixed_sorted": ort_run("mixed", True, BATCH, args.repeat),
           "single": ort_run("single", False, 1, args.single_repeat)}

    # flashembed: BertModel::Forward alone on the same ids.
    fe = {}
    if not args.skip_forward_bench:
        def fe_run(name, batch, repeat, peak=False):
            log(f"flashembed {name}")
            out = os.path.join(tmp, f"flashembed_{name}.f32")
            cmd = [args.forward_bench, "--model", folder, "--ids", ids_path[name], "--batch", str(batch),
                   "--repeat", str(repeat), "--out", out] + (["--gemm-peak"] if peak else [])
            r = run_json(cmd, "encoder_forward_bench")
            r["max_abs_err_vs_torch"] = max_err(read_f32(out, len(sets[name]), "encoder_forward_bench"),
                                                torch_res[name]["emb"])
            return r

        fe = {"fixed": fe_run("fixed", BATCH, args.repeat, peak=True),
              "mixed": fe_run("mixed", BATCH, args.repeat),
              "single": fe_run("single", 1, args.single_repeat)}

    # End to end: the whole `flashembed embed` process on the mixed texts, minus a one-text run.
    end_to_end = None
    if not args.skip_end_to_end:
        log("flashembed embed (end to end)")
        load_s = min(run([args.flashembed, "embed", "--model", folder], one_text_path,
                         what="flashembed embed")[0] for _ in range(2))
        whole_s, out = 1e30, ""
        for _ in range(2):
            t, out = run([args.flashembed, "embed", "--model", folder], mixed_texts_path,
                         what="flashembed embed")
            whole_s = min(whole_s, t)
        cli = np.array([json.loads(l)["vector"] for l in out.splitlines() if l.strip()])
        encode_s = max(whole_s - load_s, 1e-9)
        end_to_end = {
            "what": "whole `flashembed embed` process on the mixed texts minus a one-text run "
                    "(start-up + model load), best of 2; includes tokenization and JSON output",
            "tokens_per_s": round(sum(lengths) / encode_s, 1), "process_s": round(whole_s, 3),
            "load_s": round(load_s, 3), "max_abs_err_vs_torch": max_err(cli, torch_res["mixed"]["emb"]),
        }

    # Report.
    def tps(tokens, s):
        return round(tokens / s, 1)

    def gflops(flops, s):
        return round(flops / s / 1e9, 2)

    result = {"bench": "encoder", "model": "MiniLM-L6-shaped (random weights, F32)",
              "threads": threads, "batch": BATCH, "repeat": args.repeat,
              "torch_repeat": args.torch_repeat}
    for name in ["fixed", "mixed"]:
        seqs = sets[name]
        tokens = sum(len(s) for s in seqs)
        flops = model_flops(m, seqs)
        t = torch_res[name]
        o = ort[name]
        r = {"sequences": len(seqs), "tokens": tokens, "model_gflop": round(flops / 1e9, 2),
             "torch_tokens_per_s": tps(tokens, t["best_s"]), "ort_tokens_per_s": round(o["tokens_per_s"], 1)}
        if name == "mixed":
            r["ort_sorted_tokens_per_s"] = round(ort["mixed_sorted"]["tokens_per_s"], 1)
        if fe:
            r["flashembed_tokens_per_s"] = round(fe[name]["tokens_per_s"], 1)
            r["flashembed_vs_ort"] = ratio(fe[name]["tokens_per_s"], o["tokens_per_s"])
            if name == "mixed":
                r["flashembed_vs_ort_sorted"] = ratio(fe[name]["tokens_per_s"],
                                                      ort["mixed_sorted"]["tokens_per_s"])
            r["flashembed_vs_torch"] = ratio(fe[name]["tokens_per_s"], tokens / t["best_s"])
            r["flashembed_gflops"] = rounded(fe[name].get("gflops"), 2)
            if "fraction_of_gemm_peak" in fe[name]:
                r["gemm_peak_gflops"] = rounded(fe[name].get("gemm_peak_gflops"), 1)
                r["flashembed_fraction_of_gemm_peak"] = rounded(fe[name].get("fraction_of_gemm_peak"), 3)
        r["ort_gflops"] = gflops(flops, o["best_s"])
        if name == "mixed":
            r["ort_sorted_gflops"] = gflops(flops, ort["mixed_sorted"]["best_s"])
        r["torch_gflops"] = gflops(flops, t["best_s"])
        r["padded_tokens"] = {"ort": o["padded_tokens"], "torch": t["padded_tokens"]}
        if name == "mixed":
            r["padded_tokens"]["ort_sorted"] = ort["mixed_sorted"]["padded_tokens"]
        r["max_abs_err_vs_torch"] = {"ort": o["max_abs_err_vs_torch"]}
        if name == "mixed":
            r["max_abs_err_vs_torch"]["ort_sorted"] = ort["mixed_sorted"]["max_abs_err_vs_torch"]
        if fe:
            r["max_abs_err_vs_torch"]["flashembed"] = fe[name]["max_abs_err_vs_torch"]
        result[name] = r

    ms = lambda s: round(s * 1e3, 3) if s is not None else None  # noqa: E731
    single_r = {"tokens": len(single[0]),
                "torch_ms_best": ms(torch_res["single"]["best_s"]),
                "torch_ms_median": ms(torch_res["single"]["median_s"]),
                "ort_ms_best": ms(ort["single"]["best_s"]), "ort_ms_median": ms(ort["single"]["median_s"])}
    if fe:
        single_r["flashembed_ms_best"] = ms(fe["single"]["best_s"])
        single_r["flashembed_ms_median"] = ms(fe["single"].get("median_s"))
        single_r["ort_vs_flashembed_latency"] = ratio(ort["single"]["best_s"], fe["single"]["best_s"])
    single_r["max_abs_err_vs_torch"] = {"ort": ort["single"]["max_abs_err_vs_torch"]}
    if fe:
        single_r["max_abs_err_vs_torch"]["flashembed"] = fe["single"]["max_abs_err_vs_torch"]
    result["single"] = single_r
    if fe:
        result["gemm_library"] = fe["fixed"].get("gemm_library")
    result["end_to_end"] = end_to_end
    skipped = [n for n, s in [("flashembed forward (--skip-forward-bench)", args.skip_forward_bench),
                              ("end_to_end (--skip-end-to-end)", args.skip_end_to_end)] if s]
    if skipped:
        result["skipped"] = skipped
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    result["versions"] = {"flashembed_commit": commit or None, "torch": torch.__version__,
                          "onnxruntime_node": ort["fixed"].get("ort_version"),
                          "node": ort["fixed"].get("node_version"), "onnx_opset": 14}
    result["env"] = {k: os.environ.get(k) for k in ["OPENBLAS_CORETYPE", "OMP_NUM_THREADS",
                                                     "OPENBLAS_NUM_THREADS"] if os.environ.get(k)}
    result["bench_s"] = round(time.perf_counter() - bench_start, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
