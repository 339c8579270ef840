#!/usr/bin/python3
"""Encoder throughput and latency: flashembed vs ONNX Runtime vs PyTorch on the
same weights and the same token ids.

Builds a random model in the Hugging Face layout, exports the same weights to
ONNX (torch.onnx.export of a torch.nn reference; inputs input_ids and
attention_mask, int64 [batch, seq], dynamic batch and seq; output the pooled,
normalised sentence embedding), tokenizes texts from data/sample with
`flashembed tokenize`, and runs every engine on three token id sets. The model
(--arch):

  bert    (default) shaped like all-MiniLM-L6-v2: hidden 384, 6 layers, 12
          heads, intermediate 1536, the real bert-base-uncased vocabulary,
          mean pooling, Normalize, F32; the reference of
          tools/fixtures/gen_bert_fixtures.py;
  xlmr    shaped like intfloat/multilingual-e5-small: XLM-RoBERTa, hidden 384,
          12 layers, 12 heads, intermediate 1536, gelu, vocab_size 250002 (the
          full 250k-row embedding table, ~384 MB of F32),
          max_position_embeddings 514, LayerNorm eps 1e-5, mean pooling,
          Normalize, F32, max_seq_length 512; the reference, folder writer and
          the 5,002-piece SentencePiece Unigram tokenizer files of
          tools/fixtures/gen_xlmr_fixtures.py (its ids are all < 250002).
          Position ids are computed inside the model, in the PyTorch run and
          in the ONNX graph, as transformers' create_position_ids_from_input_ids
          does: m = (input_ids != pad_token_id) & attention_mask,
          positions = cumsum(m) * m + padding_idx (1); so padded ONNX Runtime
          batches are right whatever id pads them. The script checks these
          positions against the fixture's spelled-out xlmr_positions and fails
          if ONNX Runtime's embeddings differ from PyTorch's by more than 1e-3.

  fixed   --fixed sequences of exactly 128 tokens (longer passages truncated
          at 128), batches of 32: the plain 32 x 128 throughput case;
  mixed   --texts passages of --words words on average (about 60 to 250
          tokens with the BERT vocabulary, more with the small Unigram one;
          truncated at 256), batches of 32. ONNX Runtime runs them twice:
          in file order (what a plain user does) and sorted by length (what
          sentence-transformers does); PyTorch runs them sorted by length;
          flashembed in file order (it packs sequences, no padding);
  single  one short query (at most 32 tokens), batch 1: latency, best and
          median of --single-repeat calls.

Engines:
  flashembed  build-release/tools/bench/encoder_forward_bench (BertModel::Forward,
              which also runs XLM-R, alone on the ids, plus the GEMM peak of
              its matrix library);
  ort         onnxruntime-node (CPU, intra-op threads = cores, inter-op 1,
              graph optimisation 'all', sequential), tools/bench/ort/ort_bench.mjs;
  torch       Debian's python3-torch running the torch.nn reference in-process.
Each timed run is one warm-up pass and the best of --repeat passes (PyTorch:
one warm-up batch, then the best of --torch-repeat passes). Every engine's embeddings are checked against PyTorch's
(max abs error). The old whole-process `flashembed embed` measurement on the
mixed texts is kept as "end_to_end" (process time minus a one-text run).
Prints one JSON line on stdout ("arch" says which model); progress goes to
stderr. Takes about 3 minutes on 2 idle cores with --arch bert (xlmr: twice the
layers and a 470 MB checkpoint, longer); anything else running (a build) skews
every number.

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

    /usr/bin/python3 tools/bench/encoder_bench.py [--arch bert|xlmr]
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
import gen_xlmr_fixtures as xlmr_fixtures  # noqa: E402

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


def xlmr_position_ids(ids, mask):
    """XLM-R position ids from tensors, as transformers'
    create_position_ids_from_input_ids computes them (and so as an exported
    graph must): the k-th real token is at padding_idx + k, a <pad> token (or a
    masked one, whatever id pads the batch) at padding_idx."""
    keep = ((ids != xlmr_fixtures.PAD) & mask).long()
    return torch.cumsum(keep, dim=1) * keep + xlmr_fixtures.PADDING_IDX


class XlmrForward(torch.nn.Module):
    """gen_xlmr_fixtures.Reference with its position ids computed in the graph
    (Reference.embed spells them out in a Python loop, which neither exports
    nor belongs in a timed run)."""

    def __init__(self, ref):
        super().__init__()
        self.ref = ref
        self.m = ref.m

    def forward(self, ids, mask):
        return self.ref(ids, mask, positions=xlmr_position_ids(ids, mask))


def export_onnx(ref, path, example_ids, pad):
    ids = torch.tensor(example_ids, dtype=torch.long)
    mask = (ids != pad).long()
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


def torch_embed(ref, seqs, sort, repeat, padded_batch):
    """Batches of BATCH (sorted by length if sort), padding mask. One warm-up
    batch, then `repeat` passes; returns (best_s, median_s, embeddings, padded_tokens)."""
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i])) if sort else list(range(len(seqs)))
    out = None
    padded = 0

    def batch_inputs(idx):
        return padded_batch([seqs[i] for i in idx])

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
    ap.add_argument("--arch", choices=["bert", "xlmr"], default="bert",
                    help="bert: all-MiniLM-L6-v2-shaped; xlmr: multilingual-e5-small-shaped XLM-RoBERTa")
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

    if args.arch == "bert":
        vocab = open(os.path.join(ROOT, "tests", "encoders", "testdata", "vocab",
                                  "bert-base-uncased", "vocab.txt"), encoding="utf-8").read().splitlines()
        m = dict(name="minilm_shaped", hidden=384, layers=6, heads=12, inter=1536, vocab=len(vocab),
                 max_pos=512, act="gelu", pooling="mean", normalize=True, dtype="F32", prefix="",
                 max_seq=256)
    else:
        # intfloat/multilingual-e5-small's shape: an XLMRobertaModel checkpoint
        # (pooler present, unused) with the XLM-R vocabulary size.
        m = dict(name="e5_small_shaped", hidden=384, layers=12, heads=12, inter=1536, vocab=250002,
                 max_pos=514, act="gelu", max_seq=512, dtype="F32", prefix="", arch="XLMRobertaModel",
                 pooler=True, lm_head=False, position_ids=False, pooling="mean", pooling_config="v1",
                 dense=None, normalize=True)
    max_tokens = 256  # the mixed passages' truncation (below both models' max_seq_length)
    if args.keep:
        tmp = os.path.abspath(args.keep)
        os.makedirs(tmp, exist_ok=True)
    else:
        tmp = tempfile.mkdtemp(prefix="flashembed-encoder-bench-")
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)  # also on failure
    folder = os.path.join(tmp, "model")
    start = time.perf_counter()
    if args.arch == "bert":
        ref = fixtures.write_model_folder(folder, m, vocab_words=vocab)
    else:
        # The fixture writer's folder (config.json model_type "xlm-roberta",
        # pad_token_id 1, layer_norm_eps 1e-5, the Unigram tokenizer files) and
        # reference; it returns float64, the timed PyTorch run is float32.
        ref = xlmr_fixtures.write_model_folder(folder, m, m["vocab"]).float()
    with torch.no_grad():  # realistic weight scale, so activations stay in range
        for p in ref.parameters():
            if p.dim() > 1:
                p.normal_(0, 0.05)
    weights_path = os.path.join(folder, "model.safetensors")
    if args.arch == "bert":
        fixtures.write_safetensors(weights_path, fixtures.checkpoint_tensors(ref, m), "F32", "")
        fwd, padded_batch = ref, fixtures.padded_batch
        example_ids, pad = [[2, 1000, 2000, 3000, 3], [2, 1500, 3, 0, 0]], fixtures.PAD
    else:
        xlmr_fixtures.write_safetensors(weights_path, xlmr_fixtures.checkpoint_tensors(ref, m), "F32")
        fwd, padded_batch = XlmrForward(ref).eval(), xlmr_fixtures.padded_batch
        example_ids, pad = [[0, 1000, 2000, 3000, 2], [0, 1500, 2, 1, 1]], xlmr_fixtures.PAD
    model_s = time.perf_counter() - start
    onnx_path = os.path.join(tmp, "model.onnx")
    start = time.perf_counter()
    export_onnx(fwd, onnx_path, example_ids, pad)
    export_s = time.perf_counter() - start
    log(f"model in {folder} ({model_s:.1f} s, {os.path.getsize(weights_path) / 1e6:.0f} MB), "
        f"ONNX export {export_s:.1f} s ({os.path.getsize(onnx_path) / 1e6:.0f} MB)")

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

    mixed, mixed_texts_path = tokenize(args.flashembed, folder, mixed_texts, max_tokens, tmp, "mixed")
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

    if args.arch == "xlmr":
        # The in-graph positions equal the fixture's spelled-out ones on a
        # padded batch (<pad>-padded as PyTorch runs it, and 0-padded with the
        # attention mask as ort_bench.mjs feeds the ONNX graph).
        ids, mask = padded_batch(mixed[:BATCH])
        want = torch.tensor([xlmr_fixtures.xlmr_positions(row) for row in ids.tolist()])
        ids0 = ids.masked_fill(~mask, 0)
        for got in [xlmr_position_ids(ids, mask), xlmr_position_ids(ids0, mask)]:
            if not torch.equal(got, want):
                fail("in-graph XLM-R position ids differ from gen_xlmr_fixtures.xlmr_positions")
        if max(lengths) + 2 > m["max_pos"]:
            fail(f"a sequence of {max(lengths)} tokens does not fit max_position_embeddings {m['max_pos']}")

    # PyTorch, the reference for every accuracy check.
    torch_res = {}
    for name, sort in [("fixed", False), ("mixed", True)]:
        log(f"torch {name}")
        best, median, emb, padded = torch_embed(fwd, sets[name], sort, args.torch_repeat, padded_batch)
        torch_res[name] = dict(best_s=best, median_s=median, emb=emb, padded_tokens=padded)
    log("torch single")
    times = []
    with torch.no_grad():
        ids = torch.tensor(single)
        mask = torch.ones_like(ids, dtype=torch.bool)
        fwd(ids, mask)
        for _ in range(args.single_repeat):
            start = time.perf_counter()
            e = fwd(ids, mask)
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
        if args.arch == "xlmr" and r["max_abs_err_vs_torch"] > 1e-3:
            fail(f"ONNX Runtime's {tag} embeddings differ from PyTorch's by {r['max_abs_err_vs_torch']:.2e}: "
                 "the exported graph's position ids are wrong")
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
        e2e_folder = folder
        if m["max_seq"] != max_tokens:
            # `flashembed embed` truncates at the folder's max_seq_length (512
            # for xlmr); the mixed ids are cut at max_tokens. Embed through a
            # view of the folder (symlinks) whose sentence_bert_config.json says
            # max_tokens, so the process embeds exactly the ids the engines ran.
            e2e_folder = os.path.join(tmp, f"model_max{max_tokens}")
            shutil.rmtree(e2e_folder, ignore_errors=True)
            os.makedirs(e2e_folder)
            for entry in os.listdir(folder):
                if entry != "sentence_bert_config.json":
                    os.symlink(os.path.join(folder, entry), os.path.join(e2e_folder, entry))
            with open(os.path.join(folder, "sentence_bert_config.json")) as f:
                sbert = json.load(f)
            sbert["max_seq_length"] = max_tokens
            with open(os.path.join(e2e_folder, "sentence_bert_config.json"), "w") as f:
                json.dump(sbert, f)
        load_s = min(run([args.flashembed, "embed", "--model", e2e_folder], one_text_path,
                         what="flashembed embed")[0] for _ in range(2))
        whole_s, out = 1e30, ""
        for _ in range(2):
            t, out = run([args.flashembed, "embed", "--model", e2e_folder], mixed_texts_path,
                         what="flashembed embed")
            whole_s = min(whole_s, t)
        cli = np.array([json.loads(l)["vector"] for l in out.splitlines() if l.strip()])
        encode_s = max(whole_s - load_s, 1e-9)
        end_to_end = {
            "what": "whole `flashembed embed` process on the mixed texts minus a one-text run "
                    "(start-up + model load), best of 2; includes tokenization and JSON output"
                    + ("" if e2e_folder == folder else
                       f"; max_seq_length {max_tokens} (the mixed ids' truncation) in a symlinked view of the folder"),
            "tokens_per_s": round(sum(lengths) / encode_s, 1), "process_s": round(whole_s, 3),
            "load_s": round(load_s, 3), "max_abs_err_vs_torch": max_err(cli, torch_res["mixed"]["emb"]),
        }

    # Report.
    def tps(tokens, s):
        return round(tokens / s, 1)

    def gflops(flops, s):
        return round(flops / s / 1e9, 2)

    model_name = {"bert": "MiniLM-L6-shaped (random weights, F32)",
                  "xlmr": "multilingual-e5-small-shaped XLM-R (12 layers, hidden 384, vocab 250002, "
                          "random weights, F32; 5,002-piece Unigram tokenizer)"}[args.arch]
    result = {"bench": "encoder", "arch": args.arch, "model": model_name,
              "model_files": {"safetensors_mb": round(os.path.getsize(weights_path) / 1e6, 1),
                              "onnx_mb": round(os.path.getsize(onnx_path) / 1e6, 1),
                              "onnx_export_s": round(export_s, 1)},
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
