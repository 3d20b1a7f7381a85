"""Memory and time of hostile `predict_image_bytes` requests: tiny PNGs of huge dimensions.

    python applications/serving_limits.py [--model seresnet18] [--work DIR] [--requests ...]

Exports MODEL (random weights, verification off) as a TF Serving SavedModel, then for each
request starts a fresh process that loads it, sends one PNG to `predict_image_bytes` and
reports the answer, the call's wall time and the process's peak resident memory during the
call (VmHWM, reset just before it through /proc/self/clear_refs; Linux) beside its resident
memory before it. Runs
against whatever keras_senet is importable, so the same command measures an older checkout.
"""

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib

# (height, width): the 91-byte 1 x 2000 PNG, its transpose, an extreme strip, a
# 20000 x 20000 square (~50 KB) and a legitimate 4000 x 3000 photo size.
REQUESTS = {"1x2000": (1, 2000), "2000x1": (2000, 1), "1x100000": (1, 100_000),
            "20000x20000": (20_000, 20_000), "3000x4000": (3000, 4000)}

_CHILD = r"""
import json, sys, time
import tensorflow as tf


def status(key):  # kB -> MB, from /proc/self/status
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024


saved, png_path, small_path = sys.argv[1:4]
serve = tf.saved_model.load(saved).signatures["predict_image_bytes"]
data = open(png_path, "rb").read()
serve(image_bytes=tf.constant([open(small_path, "rb").read()]))  # warm-up on a small image
with open("/proc/self/clear_refs", "w") as f:  # resets the peak (VmHWM) to the current RSS
    f.write("5")
before_mb = status("VmRSS")
start = time.perf_counter()
try:
    out = serve(image_bytes=tf.constant([data]))
    answer = "answered (top-1 score %.4f)" % out["top_k_scores"].numpy()[0][0]
except tf.errors.InvalidArgumentError as e:
    limits = "exceed the limits of this export" in str(e)
    answer = "refused: " + ("over the export's limits" if limits else str(e).splitlines()[0])
seconds = time.perf_counter() - start
print(json.dumps({"bytes": len(data), "seconds": round(seconds, 3),
                  "rss_before_mb": round(before_mb), "peak_rss_mb": round(status("VmHWM")),
                  "answer": answer}))
"""


def blank_png(height, width):
    """A black 1-bit greyscale PNG of any size (zlib-compressed zero rows)."""

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    row = bytes(1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))


def export_model(name, path):
    import keras_senet
    from keras_senet import export

    model = keras_senet.create_model(name, weights=None)
    export.export_saved_model(model, path, verify=False, top_k=1, log=None)


def measure(saved, png_path, small_path):
    """One request in a fresh process: {"bytes", "seconds", "rss_before_mb", "peak_rss_mb",
    "answer"}."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", _CHILD, saved, png_path, small_path],
                          capture_output=True, text=True, env=env)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"answer": f"process exit {proc.returncode}: "
                          + (proc.stderr.strip().splitlines() or [""])[-1][:160]}
    return json.loads(lines[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="seresnet18",
                        help="registry name (an ImageNet model: resized to 256 before the crop)")
    parser.add_argument("--work", default=None, help="folder for the export and the PNGs "
                        "(default: a temporary one)")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--requests", nargs="+", choices=list(REQUESTS), default=list(REQUESTS),
                        help="which requests to send (1x100000 would need about 80 GB on an "
                        "export without limits)")
    args = parser.parse_args(argv)
    work = args.work or tempfile.mkdtemp(prefix="serving_limits_")
    saved = os.path.join(work, "saved_model")
    if not os.path.isdir(saved):
        export_model(args.model, saved)
    small = os.path.join(work, "small.png")
    with open(small, "wb") as f:
        f.write(blank_png(64, 64))
    results = {}
    print("| request (H x W) | PNG bytes | answer | seconds | peak RSS MB (before) |")
    print("|---|---|---|---|---|")
    for label in args.requests:
        height, width = REQUESTS[label]
        png = os.path.join(work, f"{label}.png")
        with open(png, "wb") as f:
            f.write(blank_png(height, width))
        result = measure(saved, png, small)
        results[label] = result
        print(f"| {label} | {result.get('bytes', '-')} | {result['answer']} | "
              f"{result.get('seconds', '-')} | {result.get('peak_rss_mb', '-')} "
              f"({result.get('rss_before_mb', '-')}) |", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": args.model, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
