#!/usr/bin/python3
"""Writes a random model shaped like all-MiniLM-L6-v2 into a folder.

Hidden 384, 6 layers, 12 heads, intermediate 1536, the real bert-base-uncased
vocabulary (tests/encoders/testdata/vocab), mean pooling + Normalize, F32 safetensors, in
the Hugging Face layout flashembed loads (`--model DIR`). For benchmarks that
need a model of realistic cost (tools/bench/ingest_bench); the weights are
random, so the vectors mean nothing. Needs Debian's python3-torch:

    /usr/bin/python3 tools/bench/make_minilm_model.py OUT_DIR
"""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "fixtures"))
import gen_bert_fixtures as fixtures  # noqa: E402


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_minilm_model.py OUT_DIR")
    folder = os.path.abspath(sys.argv[1])
    torch.manual_seed(7)
    vocab = open(os.path.join(ROOT, "tests", "encoders", "testdata", "vocab",
                              "bert-base-uncased", "vocab.txt"), encoding="utf-8").read().splitlines()
    m = dict(name="minilm_shaped", hidden=384, layers=6, heads=12, inter=1536, vocab=len(vocab),
             max_pos=512, act="gelu", pooling="mean", normalize=True, dtype="F32", prefix="",
             max_seq=256)
    ref = fixtures.write_model_folder(folder, m, vocab_words=vocab)
    with torch.no_grad():  # realistic weight scale, so activations stay in range
        for p in ref.parameters():
            if p.dim() > 1:
                p.normal_(0, 0.05)
    fixtures.write_safetensors(os.path.join(folder, "model.safetensors"),
                               fixtures.checkpoint_tensors(ref, m), "F32", "")
    print(folder)


if __name__ == "__main__":
    main()
