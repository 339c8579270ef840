#!/usr/bin/python3
"""CLIP throughput: flashembed vs ONNX Runtime vs PyTorch on the same weights,
the same preprocessed pixel tensors and the same token ids.

Builds a random model shaped like openai/clip-vit-base-patch32 (vision: hidden
768, 12 layers, 12 heads, intermediate 3072, 224 x 224 images in patches of 32,
so 50 tokens; text: hidden 512, 12 layers, 8 heads, intermediate 2048,
vocabulary 49408, 77 positions; projection 512; quick_gelu; F32; every weight
drawn from N(0, 0.02), LayerNorms at 1 / 0) in the Hugging Face CLIPModel
layout with the torch.nn reference of tools/fixtures/gen_clip_fixtures.py,
exports each tower of the same weights to ONNX (torch.onnx.export of that
reference: vision input pixel_values float32 [batch, 3, 224, 224]; text input
input_ids int64 [batch, seq], pooled at the first <|endoftext|> found in the
graph as argmax(input_ids == eos), so padding with <|endoftext|> after it is
harmless under the causal mask; output the projected vector), and runs every
engine on:

  images  --images random images (uniform pixels normalised with CLIP's mean
          and std, i.e. what the preprocessor hands over), batches of --batch;
  text    --texts token id sequences <|startoftext|> ... <|endoftext|> of
          8..77 tokens (uniform), batches of --batch. ONNX Runtime pads each
          batch to its longest sequence with <|endoftext|> (as CLIP's tokenizer
          does), once in file order and once sorted by length; PyTorch runs
          them sorted by length; flashembed in file order (it packs sequences,
          no padding).

Engines:
  flashembed  build-release/tools/bench/clip_forward_bench (ClipModel::EncodeImages
              and EncodeText alone, plus the GEMM peak of its matrix library);
  ort         onnxruntime-node (CPU, intra-op threads = --threads, inter-op 1,
              graph optimisation 'all', sequential), tools/bench/ort/clip_ort_bench.mjs;
  torch       Debian's python3-torch running the torch.nn reference
              (torch.set_num_threads(--threads)) in a child process of this
              script, so that its peak RSS is its own.
Each timed run is one warm-up pass and the best of --repeat passes (PyTorch:
one warm-up batch, then the best of --torch-repeat passes). Every engine's
vectors are checked against PyTorch's (max abs error and min cosine; below
--min-cosine is an error). Prints one JSON line on stdout; progress goes to
stderr. Takes about 5 minutes on 2 idle cores; anything else running skews
every number.

Setup, once (only Debian packages and the npm registry are needed):

    cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release
    ninja -C build-release clip_forward_bench
    (cd tools/bench/ort && ONNXRUNTIME_NODE_INSTALL=skip npm install)

Run (with Debian's python3-torch, i.e. /usr/bin/python3):

    /usr/bin/python3 tools/bench/clip_bench.py
        [--forward-bench build-release/tools/bench/clip_forward_bench]
        [--images 256] [--texts 256] [--batch 32] [--repeat 3] [--torch-repeat 2]
        [--threads 2] [--keep DIR]
"""
import argparse
import atexit
import json
import os
import resource
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
import gen_clip_fixtures as fixtures  # noqa: E402

MODEL = dict(name="vit_b32_shaped", dtype="F32", act="quick_gelu", projection=512,
             text=dict(hidden=512, layers=12, heads=8, inter=2048, vocab=49408, max_pos=77,
                       eos=49407, bos=49406),
             vision=dict(hidden=768, layers=12, heads=12, inter=3072, image=224, patch=32))
SEED = 7
INIT_STD = 0.02
# CLIPImageProcessor's normalisation.
CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


def log(msg):
    print(f"[clip_bench] {msg}", file=sys.stderr, flush=True)


def fail(msg):
    print(f"clip_bench: error: {msg}", file=sys.stderr)
    sys.exit(1)


def run_json(cmd, what, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        fail(f"{what} failed (exit {p.returncode}): {' '.join(cmd)}\n{p.stderr.strip()}")
    lines = [line for line in p.stdout.splitlines() if line.strip()]
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


def compare(a, b):
    """(max abs error, min cosine) of the rows of a against those of b."""
    if a.shape != b.shape:
        fail(f"vector shapes differ: {a.shape} vs {b.shape}")
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return float(np.abs(a - b).max()), float(cos.min())


def peak_rss_mb():
    """VmHWM of this process: unlike ru_maxrss it does not count what the
    parent held before fork and exec."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def weights_checksum(ref):
    return float(sum(p.double().sum().item() for p in ref.parameters()))


def layer_flops(t, lengths):
    """FLOPs of one tower's layers (same count as clip_forward_bench)."""
    h, inter = t["hidden"], t["inter"]
    per_token = 2.0 * (4 * h * h + 2 * h * inter)
    return sum(t["layers"] * (per_token * n + 4.0 * n * n * h) for n in lengths)


def image_flops(m, count):
    v = m["vision"]
    patches, seq = (v["image"] // v["patch"]) ** 2, (v["image"] // v["patch"]) ** 2 + 1
    per_image = 2.0 * patches * 3 * v["patch"] ** 2 * v["hidden"] + 2.0 * v["hidden"] * m["projection"]
    return count * per_image + layer_flops(v, [seq] * count)


def text_flops(m, seqs):
    return (layer_flops(m["text"], [len(s) for s in seqs])
            + 2.0 * len(seqs) * m["text"]["hidden"] * m["projection"])


def padded_ids(seqs, pad):
    longest = max(len(s) for s in seqs)
    return torch.tensor([s + [pad] * (longest - len(s)) for s in seqs], dtype=torch.long)


class VisionTower(torch.nn.Module):
    def __init__(self, ref):
        super().__init__()
        self.ref, self.act = ref, fixtures.act_fn(ref.m["act"])

    def forward(self, pixel_values):
        return self.ref.images(pixel_values, self.act)


class TextTower(torch.nn.Module):
    def __init__(self, ref):
        super().__init__()
        self.ref, self.act = ref, fixtures.act_fn(ref.m["act"])

    def forward(self, input_ids):
        return self.ref.texts(input_ids, self.act)


def export_onnx(ref, vision_path, text_path):
    # Not under torch.no_grad(): there nn.MultiheadAttention takes its fast path,
    # aten::_native_multi_head_attention, which the exporter cannot translate.
    v, t = ref.m["vision"], ref.m["text"]
    pixels = torch.randn(2, 3, v["image"], v["image"])
    ids = torch.tensor([[t["bos"], 320, 1125, 539, t["eos"]], [t["bos"], 320, t["eos"], t["eos"], t["eos"]]])
    with warnings.catch_warnings(), torch.enable_grad():
        warnings.simplefilter("ignore")  # shape-inference notes of the 1.13 exporter
        torch.onnx.export(VisionTower(ref).eval(), (pixels,), vision_path, opset_version=14,
                          input_names=["pixel_values"], output_names=["image_embeds"],
                          dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}},
                          do_constant_folding=True)
        torch.onnx.export(TextTower(ref).eval(), (ids,), text_path, opset_version=14,
                          input_names=["input_ids"], output_names=["text_embeds"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "text_embeds": {0: "batch"}},
                          do_constant_folding=True)


def torch_worker(spec_path):
    """The PyTorch engine, in its own process: rebuilds the reference from the
    seed, checks it against the parent's checksum, times both towers, writes
    the vectors and prints one JSON line."""
    spec = json.load(open(spec_path))
    torch.set_num_threads(spec["threads"])
    m, batch, repeat = spec["model"], spec["batch"], spec["repeat"]
    ref = fixtures.make_reference(m, spec["seed"], spec["init_std"])
    if weights_checksum(ref) != spec["checksum"]:
        fail("the PyTorch worker rebuilt different weights than the model folder holds")
    act = fixtures.act_fn(m["act"])
    v = m["vision"]
    pixels = torch.from_numpy(np.fromfile(spec["pixels"], dtype="<f4").reshape(-1, 3, v["image"], v["image"]))
    seqs = [json.loads(line)["ids"] for line in open(spec["ids"]) if line.strip()]
    eos = m["text"]["eos"]
    result = {}
    with torch.no_grad():
        # Images, in file order.
        count = pixels.shape[0]
        ref.images(pixels[:batch], act)  # warm-up
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            out = [ref.images(pixels[b:b + batch], act) for b in range(0, count, batch)]
            times.append(time.perf_counter() - start)
        torch.cat(out).numpy().astype("<f4").tofile(spec["out_images"])
        result["images"] = dict(best_s=min(times), median_s=statistics.median(times))
        # Texts, sorted by length, each batch padded with <|endoftext|>.
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
        batches = [order[b:b + batch] for b in range(0, len(order), batch)]
        inputs = [padded_ids([seqs[i] for i in idx], eos) for idx in batches]
        ref.texts(inputs[0], act)  # warm-up
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            out = [ref.texts(ids, act) for ids in inputs]
            times.append(time.perf_counter() - start)
        vectors = np.zeros((len(seqs), m["projection"]), dtype="<f4")
        for idx, e in zip(batches, out):
            vectors[idx] = e.numpy()
        vectors.tofile(spec["out_text"])
        result["text"] = dict(best_s=min(times), median_s=statistics.median(times),
                              padded_tokens=sum(ids.numel() for ids in inputs))
    result["max_rss_mb"] = peak_rss_mb()
    result["threads"] = torch.get_num_threads()
    print(json.dumps(result))


def ratio(a, b):
    return round(a / b, 3) if a and b else None


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--torch-worker":
        torch_worker(sys.argv[2])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    ap.add_argument("--forward-bench",
                    default=os.path.join(ROOT, "build-release", "tools", "bench", "clip_forward_bench"))
    ap.add_argument("--node", default="node")
    ap.add_argument("--images", type=int, default=256, help="random images")
    ap.add_argument("--texts", type=int, default=256, help="token id sequences of 8..77 tokens")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3, help="timed passes per run (best is kept)")
    ap.add_argument("--torch-repeat", type=int, default=2,
                    help="timed PyTorch passes (it is the slowest engine by far)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--min-cosine", type=float, default=0.99999,
                    help="fail when an engine's vector is further from PyTorch's")
    ap.add_argument("--keep", help="write the model, ONNX files and inputs here instead of a temp dir")
    args = ap.parse_args()

    if not os.access(args.forward_bench, os.X_OK):
        fail(f"clip_forward_bench not found at {args.forward_bench}; build it with "
             "`ninja -C build-release clip_forward_bench` or pass --forward-bench PATH")
    if shutil.which(args.node) is None:
        fail(f"node not found ({args.node}); ONNX Runtime runs under Node.js")
    if not os.path.isdir(os.path.join(ORT_DIR, "node_modules", "onnxruntime-node")):
        fail(f"onnxruntime-node is not installed; run `cd {os.path.relpath(ORT_DIR)} && "
             "ONNXRUNTIME_NODE_INSTALL=skip npm install` first")

    bench_start = time.perf_counter()
    m = MODEL
    if args.keep:
        tmp = os.path.abspath(args.keep)
        os.makedirs(tmp, exist_ok=True)
    else:
        tmp = tempfile.mkdtemp(prefix="flashembed-clip-bench-")
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)  # also on failure
    folder = os.path.join(tmp, "model")
    ref = fixtures.write_model(folder, m, seed=SEED, init_std=INIT_STD)
    vision_onnx, text_onnx = os.path.join(tmp, "vision.onnx"), os.path.join(tmp, "text.onnx")
    start = time.perf_counter()
    export_onnx(ref, vision_onnx, text_onnx)
    log(f"model in {folder}, ONNX export {time.perf_counter() - start:.1f} s "
        f"(vision {os.path.getsize(vision_onnx) / 1e6:.0f} MB, text {os.path.getsize(text_onnx) / 1e6:.0f} MB)")

    # Inputs.
    rng = np.random.default_rng(3)
    v, t = m["vision"], m["text"]
    raw = rng.random((args.images, 3, v["image"], v["image"]), dtype=np.float32)
    pixels = (raw - CLIP_MEAN[:, None, None]) / CLIP_STD[:, None, None]
    pixels_path = os.path.join(tmp, "pixels.f32")
    pixels.astype("<f4").tofile(pixels_path)
    seqs = []
    for _ in range(args.texts):
        n = int(rng.integers(8, t["max_pos"] + 1))
        body = rng.integers(0, t["bos"], size=n - 2).tolist()  # ordinary BPE ids
        seqs.append([t["bos"]] + body + [t["eos"]])
    ids_path = os.path.join(tmp, "ids.jsonl")
    with open(ids_path, "w") as f:
        for s in seqs:
            f.write(json.dumps({"ids": s}) + "\n")
    lengths = [len(s) for s in seqs]
    tokens = sum(lengths)
    log(f"{args.images} images; {len(seqs)} texts, {tokens} tokens ({min(lengths)}..{max(lengths)})")

    # PyTorch, the reference for every accuracy check (in a child process).
    log("torch")
    spec_path = os.path.join(tmp, "torch_spec.json")
    spec = dict(model=m, seed=SEED, init_std=INIT_STD, checksum=weights_checksum(ref), threads=args.threads,
                batch=args.batch, repeat=args.torch_repeat, pixels=pixels_path, ids=ids_path,
                out_images=os.path.join(tmp, "torch_images.f32"), out_text=os.path.join(tmp, "torch_text.f32"))
    json.dump(spec, open(spec_path, "w"))
    del ref
    th = run_json([sys.executable, os.path.abspath(__file__), "--torch-worker", spec_path], "PyTorch worker")
    torch_images = read_f32(spec["out_images"], args.images, "PyTorch worker")
    torch_text = read_f32(spec["out_text"], len(seqs), "PyTorch worker")

    # ONNX Runtime.
    ort_script = os.path.join(ORT_DIR, "clip_ort_bench.mjs")
    common = ["--batch", str(args.batch), "--repeat", str(args.repeat), "--threads", str(args.threads)]
    ort = {}
    for name, cmd, rows, ref_vectors in [
            ("images", ["--model", vision_onnx, "--pixels", pixels_path, "--count", str(args.images)],
             args.images, torch_images),
            ("text", ["--model", text_onnx, "--ids", ids_path, "--pad-id", str(t["eos"])], len(seqs), torch_text),
            ("text_sorted", ["--model", text_onnx, "--ids", ids_path, "--pad-id", str(t["eos"]),
                             "--sort-by-length"], len(seqs), torch_text)]:
        log(f"ort {name}")
        out = os.path.join(tmp, f"ort_{name}.f32")
        r = run_json([args.node, ort_script] + cmd + common + ["--out", out], "clip_ort_bench.mjs")
        r["max_abs_err"], r["min_cosine"] = compare(read_f32(out, rows, "clip_ort_bench"), ref_vectors)
        ort[name] = r

    # flashembed: ClipModel's two towers alone, one process.
    log("flashembed")
    out = os.path.join(tmp, "flashembed.f32")
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    fe = run_json([args.forward_bench, "--model", folder, "--pixels", pixels_path, "--count", str(args.images),
                   "--ids", ids_path, "--out", out, "--gemm-peak"] + common[:4], "clip_forward_bench", env)
    vectors = read_f32(out, args.images + len(seqs), "clip_forward_bench")
    fe["images"]["max_abs_err"], fe["images"]["min_cosine"] = compare(vectors[:args.images], torch_images)
    fe["text"]["max_abs_err"], fe["text"]["min_cosine"] = compare(vectors[args.images:], torch_text)

    # Report.
    img_gflop, txt_gflop = image_flops(m, args.images), text_flops(m, seqs)
    ips = {"flashembed": fe["images"]["images_per_s"], "ort": ort["images"]["images_per_s"],
           "torch": args.images / th["images"]["best_s"]}
    tps = {"flashembed": fe["text"]["tokens_per_s"], "ort": ort["text"]["tokens_per_s"],
           "ort_sorted": ort["text_sorted"]["tokens_per_s"], "torch_sorted": tokens / th["text"]["best_s"]}
    images = {
        "count": args.images, "gflop_per_image": round(img_gflop / args.images / 1e9, 3),
        "images_per_s": {k: round(x, 2) for k, x in ips.items()},
        "flashembed_vs_ort": ratio(ips["flashembed"], ips["ort"]),
        "flashembed_vs_torch": ratio(ips["flashembed"], ips["torch"]),
        "gflops": {k: round(x * img_gflop / args.images / 1e9, 1) for k, x in ips.items()},
        "median_s": {"flashembed": round(fe["images"]["median_s"], 3), "ort": round(ort["images"]["median_s"], 3),
                     "torch": round(th["images"]["median_s"], 3)},
        "max_abs_err_vs_torch": {"flashembed": fe["images"]["max_abs_err"], "ort": ort["images"]["max_abs_err"]},
        "min_cosine_vs_torch": {"flashembed": fe["images"]["min_cosine"], "ort": ort["images"]["min_cosine"]},
    }
    text = {
        "sequences": len(seqs), "tokens": tokens, "lengths": [min(lengths), max(lengths)],
        "tokens_per_s": {k: round(x, 1) for k, x in tps.items()},
        "flashembed_vs_ort": ratio(tps["flashembed"], tps["ort"]),
        "flashembed_vs_ort_sorted": ratio(tps["flashembed"], tps["ort_sorted"]),
        "flashembed_vs_torch": ratio(tps["flashembed"], tps["torch_sorted"]),
        "gflops": {k: round(x * txt_gflop / tokens / 1e9, 1) for k, x in tps.items()},
        "padded_tokens": {"ort": ort["text"]["padded_tokens"], "ort_sorted": ort["text_sorted"]["padded_tokens"],
                          "torch_sorted": th["text"]["padded_tokens"]},
        "max_abs_err_vs_torch": {"flashembed": fe["text"]["max_abs_err"], "ort": ort["text"]["max_abs_err"],
                                 "ort_sorted": ort["text_sorted"]["max_abs_err"]},
        "min_cosine_vs_torch": {"flashembed": fe["text"]["min_cosine"], "ort": ort["text"]["min_cosine"],
                                "ort_sorted": ort["text_sorted"]["min_cosine"]},
    }
    result = {"bench": "clip", "model": f"ViT-B/32-shaped (random weights N(0, {INIT_STD}), F32)",
              "threads": args.threads, "batch": args.batch, "repeat": args.repeat,
              "torch_repeat": args.torch_repeat, "images": images, "text": text,
              "max_rss_mb": {"flashembed": round(fe["max_rss_mb"], 1),
                             "ort_images": round(ort["images"]["max_rss_mb"], 1),
                             "ort_text": round(ort["text"]["max_rss_mb"], 1),
                             "torch": round(th["max_rss_mb"], 1)},
              "flashembed_load_s": round(fe["load_s"], 3),
              "gemm_library": fe.get("gemm_library"),
              "gemm_peak_gflops": round(fe.get("gemm_peak_gflops", 0), 1)}
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    result["versions"] = {"flashembed_commit": commit or None, "build_type": fe.get("build_type"),
                          "torch": torch.__version__, "onnxruntime_node": ort["images"].get("ort_version"),
                          "node": ort["images"].get("node_version"), "onnx_opset": 14}
    result["cpu"] = fe.get("cpu")
    result["env"] = {k: os.environ.get(k) for k in ["OPENBLAS_CORETYPE", "OMP_NUM_THREADS",
                                                     "OPENBLAS_NUM_THREADS"] if os.environ.get(k)}
    result["bench_s"] = round(time.perf_counter() - bench_start, 1)
    print(json.dumps(result))
    worst = min(images["min_cosine_vs_torch"].values()), min(text["min_cosine_vs_torch"].values())
    if min(worst) < args.min_cosine:
        fail(f"an engine's vectors differ from PyTorch's: min cosine {min(worst)} < {args.min_cosine}")


if __name__ == "__main__":
    main()
