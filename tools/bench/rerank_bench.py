#!/usr/bin/python3
"""Cross-encoder reranking throughput: `flashembed rerank` vs PyTorch on the
same weights and the same (query, passage) pairs, in pairs per second.

Builds a random reranker shaped like cross-encoder/ms-marco-MiniLM-L-6-v2
(BertForSequenceClassification, one label: hidden 384, 6 layers, 12 heads,
intermediate 1536, gelu, max_position_embeddings 512, F32, pooler + classifier
head) in the Hugging Face folder layout flashembed loads: config.json and the
tensor names of tools/fixtures/gen_cross_encoder_fixtures.py, the real
bert-base-uncased tokenizer.json / vocab.txt the cross-encoder fixtures use,
tokenizer_config.json with model_max_length 512. Weights as
tools/bench/encoder_bench.py sets them (every matrix N(0, 0.05), the rest
torch.nn's defaults), so activations stay in a realistic range. The PyTorch
model is that fixture generator's torch.nn reference (BertCrossEncoder: the
gen_bert_fixtures encoder with nn.MultiheadAttention, pooler tanh, classifier).

Pairs: --pairs (query, passage) pairs cut from the English passages of
data/sample/corpus.jsonl: passages of 60 to 150 words, queries of 5 to 12
words (deterministic, seed 3); none reaches the 512-token limit.

  flashembed  the whole `flashembed rerank --model DIR` process on the pairs
              file (JSON Lines in, one {"score", "logit"} line out per pair;
              the CLI scores batches of 64 in file order, tokenization
              included), best of --repeat runs, minus the best of --repeat
              runs on one pair (process start + model load);
  torch       the reference in-process on the token ids and type ids
              `flashembed tokenize --model DIR` prints for {"text": q,
              "text_pair": p} lines (so tokenization is not timed), what
              sentence-transformers' CrossEncoder.predict does: pairs sorted
              by length, batches of --batch (32), each padded to its longest
              pair with an attention mask; one warm-up batch, then the best
              of --repeat passes.
Both use every core (torch.set_num_threads(os.cpu_count())). The logits
flashembed prints are checked against PyTorch's (max_abs_logit_diff; the
script fails above --max-diff, 1e-3). Prints one JSON line on stdout; progress
on stderr. About 2 minutes on 2 idle cores; anything else running skews it.

    /usr/bin/python3 tools/bench/rerank_bench.py
        [--flashembed build-release/tools/flashembed] [--pairs 512]
        [--batch 32] [--repeat 3] [--keep DIR]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "fixtures"))
import gen_bert_fixtures as bert_fixtures  # noqa: E402
import gen_cross_encoder_fixtures as fixtures  # noqa: E402

MODEL = dict(name="ms_marco_minilm_l6_shaped", arch="bert", hidden=384, layers=6, heads=12, inter=1536,
             act="gelu", max_pos=512, dtype="F32", tokenizer="tokenizer.json", model_max_length=512,
             activation_key=None, activation="torch.nn.modules.activation.Sigmoid",
             position_ids=False, transformers_version="4.51.3")


def log(msg):
    print(f"[rerank_bench] {msg}", file=sys.stderr, flush=True)


def fail(msg):
    print(f"rerank_bench: error: {msg}", file=sys.stderr)
    sys.exit(1)


def run(cmd, stdin_path, what):
    """Runs cmd with stdin from a file; returns (seconds, stdout)."""
    with open(stdin_path) as f:
        start = time.perf_counter()
        p = subprocess.run(cmd, stdin=f, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
    if p.returncode != 0:
        fail(f"{what} failed (exit {p.returncode}): {' '.join(cmd)}\n{p.stderr.strip()}")
    return elapsed, p.stdout


def write_jsonl(path, records):
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def make_pairs(count, rng):
    corpus = [json.loads(l)["text"] for l in open(os.path.join(ROOT, "data", "sample", "corpus.jsonl"))
              if '"lang": "en"' in l]
    words = " ".join(corpus).split()

    def window(lo, hi):
        n = int(rng.integers(lo, hi + 1))
        start = int(rng.integers(0, len(words) - n))
        return " ".join(words[start:start + n])

    return [(window(5, 12).rstrip(".,;:") + "?", window(60, 150)) for _ in range(count)]


def torch_scores(ref, seqs, types, batch, repeat):
    """Sorted by length, padded batches with a mask; one warm-up batch, then
    `repeat` passes. Returns (best_s, logits in input order, padded_tokens)."""
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    batches = [order[b:b + batch] for b in range(0, len(order), batch)]

    def inputs(idx):
        return fixtures.padded_batch([seqs[i] for i in idx], [types[i] for i in idx], bert_fixtures.PAD)

    logits = np.zeros(len(seqs))
    padded = sum(len(idx) * max(len(seqs[i]) for i in idx) for idx in batches)
    times = []
    with torch.no_grad():
        ref(*inputs(batches[-1]))  # warm-up (the longest batch)
        for _ in range(repeat):
            start = time.perf_counter()
            out = []
            for idx in batches:  # tensors built inside the timed loop, as predict() does
                out.append((idx, ref(*inputs(idx))))
            times.append(time.perf_counter() - start)
    for idx, lg in out:
        logits[idx] = lg.double().numpy()
    return min(times), logits, padded


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    ap.add_argument("--flashembed", default=os.path.join(ROOT, "build-release", "tools", "flashembed"))
    ap.add_argument("--pairs", type=int, default=512, help="(query, passage) pairs")
    ap.add_argument("--batch", type=int, default=32, help="PyTorch batch size (CrossEncoder.predict's default)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per engine (best is kept)")
    ap.add_argument("--max-diff", type=float, default=1e-3, help="fail if the logits differ by more")
    ap.add_argument("--keep", help="write the model folder and pair files here instead of a temp dir")
    args = ap.parse_args()
    if not os.access(args.flashembed, os.X_OK):
        fail(f"flashembed CLI not found at {args.flashembed}; build it with "
             "`ninja -C build-release flashembed` or pass --flashembed")
    if args.pairs < 1 or args.repeat < 1:
        fail("--pairs and --repeat must be at least 1")

    bench_start = time.perf_counter()
    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    torch.manual_seed(7)
    if args.keep:
        tmp = os.path.abspath(args.keep)
        os.makedirs(tmp, exist_ok=True)
    else:
        tmp = tempfile.mkdtemp(prefix="rerank_bench_")
        import atexit
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    folder = os.path.join(tmp, "model")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)

    # The model: the fixture generator's reference, head and folder writers.
    start = time.perf_counter()
    m = MODEL
    vocab = len(bert_fixtures.read_vocab(os.path.join(fixtures.BERT_TOKENIZER_DIR, "vocab.txt")))
    ref = fixtures.BertCrossEncoder(dict(m, vocab=vocab)).eval()
    with torch.no_grad():  # realistic weight scale, as encoder_bench
        for p in ref.parameters():
            if p.dim() > 1:
                p.normal_(0, 0.05)
    weights_path = os.path.join(folder, "model.safetensors")
    bert_fixtures.write_safetensors(weights_path, fixtures.checkpoint_tensors(ref, m), "F32", "")
    fixtures.write_config_json(os.path.join(folder, "config.json"), fixtures.config_json(m, vocab))
    fixtures.write_tokenizer_files(folder, m)
    max_length = fixtures.effective_max_length(m)
    log(f"model in {folder} ({time.perf_counter() - start:.1f} s, "
        f"{os.path.getsize(weights_path) / 1e6:.0f} MB), max length {max_length}")

    # Pairs, and their ids as flashembed tokenizes them.
    pairs = make_pairs(args.pairs, np.random.default_rng(3))
    pairs_path = os.path.join(tmp, "pairs.jsonl")
    one_path = os.path.join(tmp, "one_pair.jsonl")
    write_jsonl(pairs_path, [{"query": q, "passage": p} for q, p in pairs])
    write_jsonl(one_path, [{"query": pairs[0][0], "passage": pairs[0][1]}])
    tok_path = os.path.join(tmp, "pairs_tokenize.jsonl")
    write_jsonl(tok_path, [{"text": q, "text_pair": p} for q, p in pairs])
    _, out = run([args.flashembed, "tokenize", "--model", folder, "--max-tokens", str(max_length)], tok_path,
                 "flashembed tokenize")
    enc = [json.loads(l) for l in out.splitlines() if l.strip()]
    if len(enc) != len(pairs):
        fail(f"flashembed tokenize printed {len(enc)} lines for {len(pairs)} pairs")
    seqs = [e["ids"] for e in enc]
    types = [e["type_ids"] for e in enc]
    lengths = [len(s) for s in seqs]
    if max(lengths) >= max_length:
        fail(f"a pair reaches {max(lengths)} tokens (the limit is {max_length}); shorten the passages")
    log(f"{len(pairs)} pairs, {sum(lengths)} tokens ({min(lengths)}..{max(lengths)}, "
        f"mean {sum(lengths) / len(lengths):.1f})")

    # PyTorch.
    log(f"torch: batches of {args.batch} sorted by length, {threads} threads")
    torch_s, torch_logits, padded = torch_scores(ref, seqs, types, args.batch, args.repeat)
    log(f"torch best {torch_s:.3f} s")

    # flashembed: the whole rerank process, minus a one-pair run.
    cmd = [args.flashembed, "rerank", "--model", folder]
    log("flashembed rerank, one pair (start-up + load)")
    load_s = min(run(cmd, one_path, "flashembed rerank")[0] for _ in range(args.repeat))
    log(f"flashembed rerank, {len(pairs)} pairs")
    whole_s, out = 1e30, ""
    for _ in range(args.repeat):
        t, out = run(cmd, pairs_path, "flashembed rerank")
        whole_s = min(whole_s, t)
    rows = [json.loads(l) for l in out.splitlines() if l.strip()]
    if len(rows) != len(pairs):
        fail(f"flashembed rerank printed {len(rows)} lines for {len(pairs)} pairs")
    fe_logits = np.array([r["logit"] for r in rows], dtype=np.float64)
    fe_scores = np.array([r["score"] for r in rows], dtype=np.float64)
    score_s = max(whole_s - load_s, 1e-9)
    diff = float(np.abs(fe_logits - torch_logits).max())
    score_diff = float(np.abs(fe_scores - 1 / (1 + np.exp(-torch_logits))).max())
    log(f"flashembed process {whole_s:.3f} s, start-up + load {load_s:.3f} s; max |logit diff| {diff:.2e}")
    if not diff <= args.max_diff:
        fail(f"flashembed's logits differ from PyTorch's by {diff:.3e} (> {args.max_diff})")

    fe_pps = len(pairs) / score_s
    torch_pps = len(pairs) / torch_s
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    result = {
        "bench": "rerank",
        "model": "ms-marco-MiniLM-L-6-v2-shaped BertForSequenceClassification (hidden 384, 6 layers, "
                 "random weights, F32, bert-base-uncased tokenizer, max length 512)",
        "pairs": len(pairs),
        "mean_tokens_per_pair": round(sum(lengths) / len(lengths), 1),
        "min_max_tokens": [min(lengths), max(lengths)],
        "flashembed_pairs_per_s": round(fe_pps, 1),
        "torch_pairs_per_s": round(torch_pps, 1),
        "flashembed_vs_torch": round(fe_pps / torch_pps, 3),
        "max_abs_logit_diff": float(f"{diff:.3g}"),
        "max_abs_score_diff": float(f"{score_diff:.3g}"),
        "logit_range": [round(float(torch_logits.min()), 3), round(float(torch_logits.max()), 3)],
        "threads": threads,
        "torch_batch": args.batch,
        "torch_padded_tokens": padded,
        "flashembed_process_s": round(whole_s, 3),
        "flashembed_startup_load_s": round(load_s, 3),
        "torch_s": round(torch_s, 3),
        "repeat": args.repeat,
        "versions": {"flashembed_commit": commit or None, "torch": torch.__version__},
        "bench_s": round(time.perf_counter() - bench_start, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
