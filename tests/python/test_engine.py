"""The engine through the command line: on every zoo model quantized to INT8, `octet eval` on the
engine (integer kernels after Q/DQ lowering) predicts the same classes as `octet eval --reference`
(the Q/DQ model simulated in float, as written) on the 10,000 test images, up to the few images
where the integer accumulation's exact sum and the float simulation's rounded one fall on
different sides of a decision (measured: 0, 0, 2 and 0 images); `octet bench` reports latency, a
per-layer profile with kernel names and precisions, and rejects bad arguments.

Bit-for-bit equality of the engine with the reference executor running the lowered graph is
checked in C++ (tests/runtime/engine_test.cpp).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO

ZOO = ["lenet", "resnet8", "mobilenetv2-tiny", "vit-tiny"]
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def need_data():
    if not (FASHION_MNIST / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip("Debian's dataset-fashion-mnist is not installed (scripts/setup.sh installs it)")


def quantize(octet, name: str, out: Path) -> Path:
    rc, _, err = octet("quantize", REPO / "models" / name / "model.onnx", "-o", out, "--quiet",
                       "--calib", "fashion-mnist:train", "--calib-size", "512", timeout=600)
    assert rc == 0, err
    return out


@pytest.mark.parametrize("name", ZOO)
def test_int8_engine_predicts_as_the_reference(name, octet, tmp_path):
    need_data()
    q = quantize(octet, name, tmp_path / "q.onnx")
    results = {}
    for runner, extra in (("engine", []), ("reference", ["--reference"])):
        pred = tmp_path / f"{runner}.npy"
        rc, out, err = octet("eval", q, "--dataset", "fashion-mnist:test", "--json", "--quiet",
                             "--predictions", pred, *extra, timeout=900)
        assert rc == 0, f"{runner}: {err.strip()}"
        results[runner] = (json.loads(out)["top1"], np.load(pred))
    differ = np.flatnonzero(results["engine"][1] != results["reference"][1])
    assert differ.size <= 5, f"{name}: {differ.size} predictions differ, e.g. {differ[:10].tolist()}"
    assert abs(results["engine"][0] - results["reference"][0]) <= 5e-4


def test_bench_profile_names_int8_and_fp32_kernels(octet, tmp_path):
    need_data()
    model = REPO / "models" / "resnet8" / "model.onnx"
    rc, out, err = octet("bench", model, "--batch", "2", "--iterations", "3", "--warmup", "1", "--json",
                         "--profile", "--threads", "2")
    assert rc == 0, err
    r = json.loads(out)
    assert r["runner"] == "engine" and r["batch"] == 2 and r["iterations"] == 3 and r["threads"] == 2
    lat = r["latency_ms"]
    assert 0 < lat["min"] <= lat["p50"] <= lat["p99"]
    convs = [l for l in r["layers"] if l["op"] == "Conv"]
    assert convs and all(l["precision"] == "fp32" and l["kernel"].startswith("conv_f32_") for l in convs)
    assert any(l["fused"] for l in convs), "a Relu after a Conv is fused into it"
    assert abs(sum(l["share"] for l in r["layers"]) - 1) < 1e-6

    q = quantize(octet, "resnet8", tmp_path / "q.onnx")
    rc, out, err = octet("bench", q, "--batch", "1", "--iterations", "2", "--warmup", "0", "--json", "--profile")
    assert rc == 0, err
    layers = json.loads(out)["layers"]
    qconvs = [l for l in layers if l["op"] == "octet.QLinearConv"]
    assert len(qconvs) == 9 and all(l["precision"] == "int8" and "u8s8" in l["kernel"] for l in qconvs)
    assert not any(l["op"] == "DequantizeLinear" for l in layers), "every DequantizeLinear is fused"

    rc, out, err = octet("bench", q, "--iterations", "2", "--reference")
    assert rc == 0, err
    assert "reference executor" in out


def test_bench_reports_the_runs_that_took_one_thread(octet):
    # Adaptive threads: the first probe of one thread follows 4 warm-up runs of the pool, so 10
    # runs with no warm-up include it; --fixed-threads and a profile never take one thread.
    model = REPO / "models" / "lenet" / "model.onnx"
    common = ["--batch", "1", "--warmup", "0", "--iterations", "10", "--json", "--threads", "2"]
    rc, out, err = octet("bench", model, *common)
    assert rc == 0, err
    assert json.loads(out)["one_thread_runs"] >= 1
    for extra in (["--fixed-threads"], ["--profile"]):
        rc, out, err = octet("bench", model, *common, *extra)
        assert rc == 0, err
        assert json.loads(out)["one_thread_runs"] == 0, extra


@pytest.mark.parametrize("args, message", [
    (["--batch", "0"], "--batch 0 must be in 1..65536"),
    (["--threads", "-1"], "--threads -1 must be in 0..1024"),
    (["--iterations", "-2"], "must not be negative"),
])
def test_bench_rejects_bad_arguments(octet, args, message):
    rc, out, err = octet("bench", REPO / "models" / "lenet" / "model.onnx", *args)
    assert rc == 1 and message in err and out == ""


def test_bench_missing_model(octet, tmp_path):
    rc, out, err = octet("bench", tmp_path / "nope.onnx")
    assert rc == 1 and "nope.onnx" in err


def test_fp16_weights_for_layers_left_in_float(octet, tmp_path):
    need_data()
    import onnx
    import onnxruntime as ort
    model = REPO / "models" / "resnet8" / "model.onnx"
    plain, half = tmp_path / "plain.onnx", tmp_path / "half.onnx"
    for out, extra in ((plain, []), (half, ["--fp16"])):
        rc, _, err = octet("quantize", model, "-o", out, "--calib", "fashion-mnist:train", "--calib-size", "64",
                           "--exclude", "fc,stem.conv", *extra, timeout=600)
        assert rc == 0, err
    assert "2 float weight(s) stored as FLOAT16" in err, err
    m = onnx.load(str(half))
    onnx.checker.check_model(m, full_check=True)
    halves = [i for i in m.graph.initializer if i.data_type == onnx.TensorProto.FLOAT16]
    assert len(halves) == 2
    assert half.stat().st_size < plain.stat().st_size
    sess = ort.InferenceSession(str(half), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).random((4, 1, 28, 28), dtype=np.float32)
    assert sess.run(None, {"image": x})[0].shape == (4, 10)
    acc = {}
    for name, path in (("plain", plain), ("half", half)):
        rc, out, err = octet("eval", path, "--dataset", "fashion-mnist:test", "--limit", "2000", "--json", "--quiet")
        assert rc == 0, err
        acc[name] = json.loads(out)["top1"]
    assert abs(acc["plain"] - acc["half"]) <= 2.5e-3, acc  # weights rounded to half: a few images of 2,000


def test_unfused_qdq_patterns_are_listed_and_run_in_float(octet, tmp_path):
    need_data()
    rc, _, err = octet("quantize", REPO / "models" / "vit-tiny" / "model.onnx", "-o", tmp_path / "q.onnx", "--quiet",
                       "--calib", "fashion-mnist:train", "--calib-size", "64", timeout=600)
    assert rc == 0, err
    rc, out, err = octet("bench", tmp_path / "q.onnx", "--iterations", "1", "--warmup", "0", "--json", "--profile")
    assert rc == 0, err
    # The attention MatMuls (activation x activation) are not fused: named in a warning, run in float
    # (on the float MatMul of two run-time operands: the 49-wide scores on the narrow AVX-512 tiles
    # where the CPU has them, else the 6x16 tiles).
    assert "run in float on the engine" in err
    assert "blocks.0.attn.scores" in err and "(MatMul)" in err
    layers = {l["node"]: l for l in json.loads(out)["layers"]}
    assert layers["blocks.0.attn.scores"]["kernel"] in ("matmul_f32_dyn_sgemm_6x16_avx2", "matmul_f32_dyn_narrow_avx512")
    assert layers["blocks.0.attn.scores"]["precision"] == "fp32"
    assert any(l["precision"] == "int8" for l in layers.values())
