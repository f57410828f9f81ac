#!/usr/bin/env python3
"""octet's engine against onnxruntime, FP32 and INT8, side by side in one run.

For each model: the FP32 model, and its INT8 Q/DQ version written by `octet quantize` (static,
minmax, per-channel, onnxruntime preset; calibrated on 512 Fashion-MNIST training images for the
28x28 zoo models, on 16 random images for resnet18, whose weights are random anyway). Both are run
  - by `octet bench` (the engine; the Q/DQ model is lowered to INT8 kernels), and
  - by onnxruntime (CPUExecutionProvider, all graph optimisations, so Q/DQ runs as its integer
    kernels), intra-op threads = --threads, one inter-op thread,
on the same random input at each batch size, timed the same way (warm-up, then runs until
--min-seconds have passed and at least 10 runs), and the median latency of each is printed with the
INT8/FP32 speedups and the octet/onnxruntime ratios.

This machine's speed drifts by up to 2x over minutes (other tenants), so one run per configuration
compares moments, not runtimes. Each batch size is therefore measured in --rounds rounds; a round
runs the four configurations once each, in an order rotated from round to round. The table gives,
per configuration, the median over the rounds of each run's median latency, and each ratio (INT8
speedup, octet / onnxruntime) as the median over the rounds of that round's ratio, so that the two
runs compared were taken minutes apart at most. The spread column is the largest over the four
configurations of (slowest round / fastest round), the noise the ratios are to be read against
("-" with one round).

    .venv/bin/python bench/engine_vs_onnxruntime.py [--models resnet8,mobilenetv2-tiny,resnet18]
        [--batches 1,32] [--threads 2] [--min-seconds 2] [--rounds 3] [--fixed-threads] [--json out.json]

octet runs with its default adaptive threads (a run of the whole batch may take one thread where
the engine measured that to be faster; onnxruntime has no such choice): the last line says how
many of octet's timed runs did, per model file and batch. --fixed-threads holds octet to --threads.

The numbers are measurements of this machine at the time of the run; nothing is cached.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import machine  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
OCTET = Path(os.environ.get("OCTET_BIN", REPO / "build" / "octet"))


def run(cmd: list) -> str:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed: {proc.stderr.strip()[-2000:]}")
    return proc.stdout


# octet bench runs with adaptive threads unless --fixed-threads is given: a run of the whole batch
# may take one thread where the engine measured that to be faster. ONE_THREAD counts, per model
# file and batch, the timed runs that did and all timed runs, for the report.
FIXED_THREADS = False
ONE_THREAD: dict = {}


def octet_ms(model: Path, batch: int, threads: int, min_seconds: float) -> float:
    out = run([OCTET, "bench", model, "--batch", batch, "--threads", threads, "--min-seconds", min_seconds,
               "--json", *(["--fixed-threads"] if FIXED_THREADS else [])])
    r = json.loads(out)
    label = f"{model.parent.name} fp32" if model.name == "model.onnx" else model.stem  # resnet8.int8
    ones, total = ONE_THREAD.get((label, batch), (0, 0))
    ONE_THREAD[(label, batch)] = (ones + r["one_thread_runs"], total + r["iterations"])
    return r["latency_ms"]["p50"]


def ort_ms(model: Path, batch: int, threads: int, min_seconds: float) -> float:
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    shape = [batch] + [int(d) for d in inp.shape[1:]]
    x = np.random.default_rng(1).random(shape, dtype=np.float32)
    feed = {inp.name: x}
    for _ in range(5):
        sess.run(None, feed)
    times = []
    start = time.perf_counter()
    while len(times) < 10 or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        sess.run(None, feed)
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times))


def prepare(name: str, tmp: Path) -> tuple[Path, Path]:
    """The FP32 model and its INT8 Q/DQ version."""
    if name == "resnet18":
        d = tmp / "resnet18"
        d.mkdir(exist_ok=True)
        run([OCTET, "zoo", "resnet18", "--out-dir", d])
        fp32 = d / "model.onnx"
        np.savez(tmp / "r18_calib.npz", inputs=np.random.default_rng(2).random((16, 3, 224, 224), dtype=np.float32))
        calib = [tmp / "r18_calib.npz", "--calib-size", "16", "--calib-batch", "4"]
    else:
        fp32 = REPO / "models" / name / "model.onnx"
        calib = ["fashion-mnist:train", "--calib-size", "512"]
    int8 = tmp / f"{name}.int8.onnx"
    run([OCTET, "quantize", fp32, "-o", int8, "--quiet", "--calib", *calib])
    return fp32, int8


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="resnet8,mobilenetv2-tiny,resnet18")
    ap.add_argument("--batches", default="1,32")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--min-seconds", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=3, help="alternated rounds per batch size (median taken)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--fixed-threads", action="store_true",
                    help="octet bench --fixed-threads: every octet run on all --threads (default: adaptive)")
    args = ap.parse_args()
    global FIXED_THREADS
    FIXED_THREADS = args.fixed_threads
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    if not OCTET.exists():
        print(f"{OCTET} is not built (scripts/setup.sh)", file=sys.stderr)
        return 2
    rows = []
    info = machine.describe()
    print(machine.banner(info))
    print(f"threads {args.threads}; median latency in ms per run of the whole batch (the median, not the mean:"
          " this machine is shared, and other tenants' bursts would otherwise decide the ratios)")
    print(f"{'model':<18} {'batch':>5} {'octet fp32':>11} {'octet int8':>11} {'int8 x':>7} "
          f"{'ort fp32':>9} {'ort int8':>9} {'fp32 o/ort':>10} {'int8 o/ort':>10} {'spread':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name in args.models.split(","):
            fp32, int8 = prepare(name, tmp)
            for batch in map(int, args.batches.split(",")):
                runs = {"octet_fp32": lambda: octet_ms(fp32, batch, args.threads, args.min_seconds),
                        "octet_int8": lambda: octet_ms(int8, batch, args.threads, args.min_seconds),
                        "ort_fp32": lambda: ort_ms(fp32, batch, args.threads, args.min_seconds),
                        "ort_int8": lambda: ort_ms(int8, batch, args.threads, args.min_seconds)}
                keys = list(runs)
                rounds = {k: [] for k in keys}
                for i in range(args.rounds):
                    for k in keys[i % len(keys):] + keys[:i % len(keys)]:
                        rounds[k].append(runs[k]())

                def ratio(a: str, b: str) -> float:  # the median of the rounds' ratios
                    return float(np.median([x / y for x, y in zip(rounds[a], rounds[b])]))

                r = dict(model=name, batch=batch, threads=args.threads,
                         **{k: float(np.median(v)) for k, v in rounds.items()},
                         int8_speedup=ratio("octet_fp32", "octet_int8"), fp32_vs_ort=ratio("octet_fp32", "ort_fp32"),
                         int8_vs_ort=ratio("octet_int8", "ort_int8"), rounds_ms=rounds,
                         spread=max(max(v) / min(v) for v in rounds.values()) if args.rounds > 1 else None)
                rows.append(r)
                spread = f"{r['spread']:>6.2f}x" if r["spread"] is not None else f"{'-':>7}"
                print(f"{name:<18} {batch:>5} {r['octet_fp32']:>11.3f} {r['octet_int8']:>11.3f} "
                      f"{r['int8_speedup']:>6.2f}x {r['ort_fp32']:>9.3f} {r['ort_int8']:>9.3f} "
                      f"{r['fp32_vs_ort']:>10.2f} {r['int8_vs_ort']:>10.2f} {spread}", flush=True)
    took = [f"{m} batch {b} {100 * o / t:.0f}%" for (m, b), (o, t) in ONE_THREAD.items() if o]
    print("octet runs that took one thread (adaptive threads): " + (", ".join(took) if took else "none"))
    if args.json:
        args.json.write_text(json.dumps(dict(machine=info, rows=rows, one_thread_runs=[
            dict(model=m, batch=b, one_thread=o, runs=t) for (m, b), (o, t) in ONE_THREAD.items()]), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
