#!/usr/bin/python3
"""Encoder throughput: `flashembed embed` vs PyTorch on the same weights.

Builds a random model shaped like all-MiniLM-L6-v2 (hidden 384, 6 layers, 12
heads, intermediate 1536, the real bert-base-uncased vocabulary, mean pooling,
Normalize) in the Hugging Face layout, tokenizes a set of passages with
`flashembed tokenize`, embeds them with PyTorch (the torch.nn reference of
tools/fixtures/gen_bert_fixtures.py, batches of 32 sorted by length, padding
mask) and with `flashembed embed`, checks the two agree, and prints one JSON
line. Both sides use every core. Needs Debian's python3-torch (run with
/usr/bin/python3) and a built flashembed:

    /usr/bin/python3 tools/bench/encoder_bench.py [--flashembed build-release/tools/flashembed]
        [--texts 256] [--words 120]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "fixtures"))
import gen_bert_fixtures as fixtures  # noqa: E402


def run(cmd, stdin_path):
    with open(stdin_path) as f:
        start = time.perf_counter()
        out = subprocess.run(cmd, stdin=f, capture_output=True, text=True, check=True).stdout
        return time.perf_counter() - start, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flashembed", default=os.path.join(ROOT, "build-release", "tools", "flashembed"))
    ap.add_argument("--texts", type=int, default=256)
    ap.add_argument("--words", type=int, default=120, help="words per passage (about 1.3 tokens each)")
    args = ap.parse_args()
    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    torch.manual_seed(7)

    vocab = open(os.path.join(ROOT, "..", "shared", "testdata", "vocab", "bert-base-uncased",
                              "vocab.txt"), encoding="utf-8").read().splitlines()
    m = dict(name="minilm_shaped", hidden=384, layers=6, heads=12, inter=1536, vocab=len(vocab),
             max_pos=512, act="gelu", pooling="mean", normalize=True, dtype="F32", prefix="",
             max_seq=256)
    tmp = tempfile.mkdtemp(prefix="flashembed-encoder-bench-")
    folder = os.path.join(tmp, "model")
    ref = fixtures.write_model_folder(folder, m, vocab_words=vocab)
    with torch.no_grad():  # realistic weight scale, so activations stay in range
        for p in ref.parameters():
            if p.dim() > 1:
                p.normal_(0, 0.05)
    fixtures.write_safetensors(os.path.join(folder, "model.safetensors"),
                               fixtures.checkpoint_tensors(ref, m), "F32", "")

    corpus = [json.loads(l)["text"] for l in open(os.path.join(ROOT, "data", "sample", "corpus.jsonl"))
              if '"lang": "en"' in l]
    words = " ".join(corpus).split()
    rng = np.random.default_rng(3)
    texts = []
    for _ in range(args.texts):
        n = int(rng.integers(args.words // 2, args.words * 3 // 2))
        start = int(rng.integers(0, len(words) - n))
        texts.append(" ".join(words[start:start + n]))
    texts_path = os.path.join(tmp, "texts.jsonl")
    with open(texts_path, "w") as f:
        for t in texts:
            f.write(json.dumps({"text": t}) + "\n")
    one_path = os.path.join(tmp, "one.jsonl")
    with open(one_path, "w") as f:
        f.write(json.dumps({"text": texts[0]}) + "\n")

    _, tok = run([args.flashembed, "tokenize", "--model", folder, "--max-tokens", str(m["max_seq"])],
                 texts_path)
    ids = [json.loads(l)["ids"] for l in tok.splitlines()]
    tokens = sum(len(s) for s in ids)

    # PyTorch: batches of 32 sorted by length (little padding), best of 2.
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    torch_out = np.zeros((len(ids), m["hidden"]))
    torch_s = 1e30
    for _ in range(2):
        start = time.perf_counter()
        with torch.no_grad():
            for b in range(0, len(order), 32):
                idx = order[b:b + 32]
                longest = max(len(ids[i]) for i in idx)
                batch = torch.zeros((len(idx), longest), dtype=torch.long)
                mask = torch.zeros((len(idx), longest), dtype=torch.bool)
                for r, i in enumerate(idx):
                    batch[r, :len(ids[i])] = torch.tensor(ids[i])
                    mask[r, :len(ids[i])] = True
                torch_out[idx] = ref(batch, mask).double().numpy()
        torch_s = min(torch_s, time.perf_counter() - start)

    # flashembed: whole process minus a one-text run (process start + model load), best of 2.
    load_s = min(run([args.flashembed, "embed", "--model", folder], one_path)[0] for _ in range(2))
    ours_s, out = 1e30, ""
    for _ in range(2):
        t, out = run([args.flashembed, "embed", "--model", folder], texts_path)
        ours_s = min(ours_s, t)
    ours = np.array([json.loads(l)["vector"] for l in out.splitlines()])
    max_abs_err = float(np.abs(ours - torch_out).max())
    encode_s = max(ours_s - load_s, 1e-9)

    print(json.dumps({
        "bench": "encoder", "model": "MiniLM-L6-shaped (random weights, F32)", "texts": len(ids),
        "tokens": tokens, "threads": threads,
        "torch_tokens_per_s": round(tokens / torch_s, 1),
        "flashembed_tokens_per_s": round(tokens / encode_s, 1),
        "ratio": round(torch_s / encode_s, 3),
        "flashembed_load_s": round(load_s, 3), "max_abs_err_vs_torch": max_abs_err,
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
