#!/usr/bin/python3
"""Static (model2vec) encoder vs a MiniLM-shaped transformer: texts per second
through `flashembed embed`, same texts, same machine, same script.

Builds two random models in the layouts flashembed loads:
  static   potion-base-8M-shaped model2vec folder: the real bert-base-uncased
           WordPiece tokenizer.json (tests/encoders/testdata/model2vec/wordpiece_norm),
           a [30522, 256] F32 embedding table, normalize true;
  minilm   all-MiniLM-L6-v2-shaped BERT (tools/bench/make_minilm_model.py).
and embeds passages of the English sample corpus (--words words on average)
with each: `flashembed embed --model DIR` over a JSON Lines file, timed as
the best of --repeat runs, less the best run on one text (process start and
model load). The static model embeds --static-texts texts, the transformer
--texts (it is a hundred times slower; the same passages, cycled). Both
times include what the CLI does around the encoder (reading the JSON Lines,
printing every vector as JSON), which is most of the static model's time.
Prints one JSON line on stdout; progress on stderr. The issue's expectation
is a ratio of at least 100.

    /usr/bin/python3 tools/bench/static_encoder_bench.py
        [--flashembed build-release/tools/flashembed] [--texts 200]
        [--static-texts 20000] [--words 60] [--repeat 3]
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TOKENIZER = os.path.join(ROOT, "tests", "encoders", "testdata", "model2vec", "wordpiece_norm",
                         "tokenizer.json")


def log(msg):
    print(f"[static_encoder_bench] {msg}", file=sys.stderr, flush=True)


def fail(msg):
    print(f"static_encoder_bench: error: {msg}", file=sys.stderr)
    sys.exit(1)


def write_static_folder(folder, rows, dim, rng):
    os.makedirs(folder, exist_ok=True)
    shutil.copyfile(TOKENIZER, os.path.join(folder, "tokenizer.json"))
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"model_type": "model2vec", "architectures": ["StaticModel"],
                   "hidden_dim": dim, "seq_length": 1000000, "normalize": True}, f)
    table = rng.standard_normal((rows, dim)).astype("<f4")
    header = json.dumps({"embeddings": {"dtype": "F32", "shape": [rows, dim],
                                        "data_offsets": [0, table.nbytes]}}).encode()
    header += b" " * (-len(header) % 8)
    with open(os.path.join(folder, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(header)))
        f.write(header)
        f.write(table.tobytes())


def embed_seconds(flashembed, folder, path, repeat):
    best = None
    for _ in range(repeat):
        with open(path) as stdin:
            start = time.perf_counter()
            p = subprocess.run([flashembed, "embed", "--model", folder], stdin=stdin,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            elapsed = time.perf_counter() - start
        if p.returncode != 0:
            fail(f"flashembed embed --model {folder} failed: {p.stderr.strip()}")
        best = elapsed if best is None else min(best, elapsed)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flashembed", default=os.path.join(ROOT, "build-release", "tools", "flashembed"))
    ap.add_argument("--texts", type=int, default=200, help="texts for the transformer")
    ap.add_argument("--static-texts", type=int, default=20000, help="texts for the static model")
    ap.add_argument("--words", type=int, default=60, help="mean words per text")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if not os.access(args.flashembed, os.X_OK):
        fail(f"flashembed not found at {args.flashembed}; build it with "
             "`cmake --build build-release --target flashembed` or pass --flashembed")

    tmp = tempfile.mkdtemp(prefix="flashembed-static-bench-")
    try:
        rng = np.random.default_rng(5)
        static_dir = os.path.join(tmp, "static")
        write_static_folder(static_dir, 30522, 256, rng)
        minilm_dir = os.path.join(tmp, "minilm")
        subprocess.run(["/usr/bin/python3", os.path.join(HERE, "make_minilm_model.py"), minilm_dir],
                       check=True, stdout=subprocess.DEVNULL)

        corpus = [json.loads(l)["text"] for l in open(os.path.join(ROOT, "data", "sample", "corpus.jsonl"))
                  if '"lang": "en"' in l]
        words = " ".join(corpus).split()
        passages = []
        for _ in range(1000):
            n = int(rng.integers(args.words // 2, args.words * 3 // 2))
            start = int(rng.integers(0, len(words) - n))
            passages.append(" ".join(words[start:start + n]))

        def write(name, count):
            path = os.path.join(tmp, name)
            with open(path, "w") as f:
                for i in range(count):
                    f.write(json.dumps({"text": passages[i % len(passages)]}) + "\n")
            return path

        one = write("one.jsonl", 1)
        res = {}
        for name, folder, count in [("static", static_dir, args.static_texts),
                                    ("minilm", minilm_dir, args.texts)]:
            texts = write(f"{name}.jsonl", count)
            log(f"{name}: {count} texts")
            base = embed_seconds(args.flashembed, folder, one, args.repeat)
            total = embed_seconds(args.flashembed, folder, texts, args.repeat)
            work = max(total - base, 1e-6)
            res[name] = dict(texts=count, seconds=round(work, 4), startup_s=round(base, 4),
                             texts_per_s=round(count / work, 1))
        ratio = res["static"]["texts_per_s"] / res["minilm"]["texts_per_s"]
        print(json.dumps({"bench": "static_encoder", "words_per_text": args.words,
                          "threads": os.cpu_count(), "static": res["static"],
                          "minilm": res["minilm"], "static_vs_minilm": round(ratio, 1)}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
