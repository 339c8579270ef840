#!/usr/bin/python3
"""Ingesting a folder of JPEGs into a CLIP collection vs the encoder alone.

Builds a random model shaped like openai/clip-vit-base-patch32 (the MODEL of
tools/bench/clip_bench.py; every weight from N(0, 0.02)) in the Hugging Face
layout, with the CLIP fixture's tokenizer and the real 224 x 224
preprocessor_config.json, writes --images JPEG photos-like files (smooth
gradients, shapes and a little noise, --width x --height, quality 90, with
Pillow), and measures, on the same machine and model:

  encoder  clip_forward_bench: ClipModel::EncodeImages alone on preprocessed
           tensors (batches of 32): the model's own images/s;
  ingest   `flashembed ingest --db TMP -c pics --model DIR FOLDER`: files read,
           decoded (libjpeg-turbo), resized and cropped (Pillow's bicubic),
           embedded and written, end to end, images/s over the whole process,
           and its peak RSS (getrusage of the child).

Prints one JSON line with both rates, their ratio (the issue's target is
>= 0.8) and the peak RSS. Needs Debian's python3-torch and python3-pil
(/usr/bin/python3) and a Release build:

    ninja -C build-release flashembed clip_forward_bench
    /usr/bin/python3 tools/bench/image_ingest_bench.py [--images 2000]
        [--width 640] [--height 480] [--flashembed build-release/tools/flashembed]
        [--forward-bench build-release/tools/bench/clip_forward_bench] [--keep DIR]
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image, ImageDraw

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "fixtures"))
sys.path.insert(0, HERE)
import gen_clip_fixtures as fixtures  # noqa: E402
from clip_bench import MODEL  # noqa: E402


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def make_model(folder):
    """The ViT-B/32-shaped folder: random weights, the fixture's tokenizer files."""
    tok = os.path.join(ROOT, "tests", "encoders", "testdata", "clip_folder")
    vocab = json.load(open(os.path.join(tok, "tokenizer.json"), encoding="utf-8"))["model"]["vocab"]
    m = json.loads(json.dumps(MODEL))
    m["text"].update(vocab=len(vocab), bos=vocab["<|startoftext|>"], eos=vocab["<|endoftext|>"])
    ref = fixtures.make_reference(m, 7, init_std=0.02)
    os.makedirs(folder, exist_ok=True)
    fixtures.write_safetensors(os.path.join(folder, "model.safetensors"),
                               fixtures.checkpoint_tensors(ref, m), "F32")
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(fixtures.config_json(m), f, indent=2)
    for name in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                 "preprocessor_config.json"]:
        shutil.copyfile(os.path.join(tok, name), os.path.join(folder, name))


def make_images(folder, count, width, height):
    rng = np.random.default_rng(11)
    os.makedirs(folder, exist_ok=True)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    total = 0
    for i in range(count):
        a, b, c = rng.uniform(-1, 1, 3)
        base = np.stack([(a * xx / width + b * yy / height + c + k / 3) % 1.0 for k in range(3)], -1)
        pixels = (base * 200 + rng.normal(0, 6, base.shape)).clip(0, 255).astype(np.uint8)
        im = Image.fromarray(pixels)
        draw = ImageDraw.Draw(im)
        for _ in range(4):
            x0, y0 = rng.integers(0, width - 40), rng.integers(0, height - 40)
            draw.ellipse([x0, y0, x0 + rng.integers(20, 200), y0 + rng.integers(20, 200)],
                         fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
        path = os.path.join(folder, f"{i:05d}.jpg")
        im.save(path, quality=90)
        total += os.path.getsize(path)
    return total


def run(cmd):
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"image_ingest_bench: {' '.join(cmd)} failed ({out.returncode}):\n{out.stderr}")
    return out.stdout, seconds


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--images", type=int, default=2000)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--flashembed", default=os.path.join(ROOT, "build-release", "tools", "flashembed"))
    p.add_argument("--forward-bench",
                   default=os.path.join(ROOT, "build-release", "tools", "bench", "clip_forward_bench"))
    p.add_argument("--encoder-images", type=int, default=256)
    p.add_argument("--keep", help="work in this folder and keep it")
    args = p.parse_args()
    for binary in (args.flashembed, args.forward_bench):
        if not os.access(binary, os.X_OK):
            sys.exit(f"image_ingest_bench: {binary} is missing; build it (see --help)")
    tmp = args.keep or tempfile.mkdtemp(prefix="image-ingest-bench-")
    model, photos, db = (os.path.join(tmp, n) for n in ("model", "photos", "db"))
    shutil.rmtree(db, ignore_errors=True)
    log("writing the model ...")
    make_model(model)
    if not os.path.isdir(photos) or len(os.listdir(photos)) != args.images:
        shutil.rmtree(photos, ignore_errors=True)
        log(f"writing {args.images} JPEGs ...")
        make_images(photos, args.images, args.width, args.height)
    photo_bytes = sum(os.path.getsize(os.path.join(photos, f)) for f in os.listdir(photos))

    # The whole ingest first, in a child whose peak RSS getrusage reports
    # (the maximum over the children waited for so far: none before it).
    out, seconds = run([args.flashembed, "ingest", "--db", db, "-c", "pics", "--model", model,
                        "--json", photos])
    rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    summary = json.loads(out.strip().splitlines()[-1])
    added = summary["images"]["added"]
    if added != args.images:
        sys.exit(f"image_ingest_bench: {added} of {args.images} images were added: {out}")
    ingest_rate = added / seconds
    log(f"ingest: {ingest_rate:.1f} images/s ({seconds:.1f} s), peak RSS {rss_kb / 1024:.0f} MB")
    # The encoder alone: preprocessed tensors (what the preprocessor hands over).
    pixels = os.path.join(tmp, "pixels.f32")
    rng = np.random.default_rng(3)
    rng.standard_normal((args.encoder_images, 3, 224, 224), dtype=np.float32).tofile(pixels)
    out, _ = run([args.forward_bench, "--model", model, "--pixels", pixels,
                  "--count", str(args.encoder_images), "--batch", "32", "--repeat", "3"])
    encoder = json.loads(out.strip().splitlines()[-1])
    encoder_rate = encoder.get("images_per_s") or encoder["images"]["images_per_s"]
    log(f"encoder alone: {encoder_rate:.1f} images/s")

    print(json.dumps({
        "bench": "image_ingest",
        "images": args.images, "width": args.width, "height": args.height,
        "jpeg_mb": round(photo_bytes / 1e6, 1),
        "encoder_images_per_s": round(encoder_rate, 2),
        "ingest_images_per_s": round(ingest_rate, 2),
        "ingest_over_encoder": round(ingest_rate / encoder_rate, 3),
        "ingest_seconds": round(seconds, 2),
        "ingest_peak_rss_mb": round(rss_kb / 1024, 1),
        "cpu": os.cpu_count(),
    }))
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
