"""Shared fixtures and helpers: the octet binary, running it, running onnxruntime, comparing
outputs, and the libonnx test data.

The binary is $OCTET_BIN, else <repo>/build/octet. If it is missing every test fails with a message
that says so: nothing is skipped silently.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

REPO = Path(__file__).resolve().parents[2]
TESTDATA = Path("/usr/share/libonnx-testdata/data")
SUITES = ["pytorch-converted", "pytorch-operator", "simple", "real"]


def _load_machine_module():
    spec = importlib.util.spec_from_file_location("octet_bench_machine", REPO / "bench" / "machine.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ort_u8s8_saturates() -> bool:
    """True on an x86 CPU without VNNI (AVX2, or AVX-512 without VNNI), read by bench/machine.py.
    There onnxruntime's u8 x s8 integer kernels (QLinearConv, MatMulInteger, the fused QDQ ops) add
    each pair of products into a SATURATING int16 (vpmaddubsw), so their results differ from the
    exact arithmetic whenever 255 * (|w0| + |w1|) > 32767 for a pair of same-sign int8 weights; with
    |w| <= 64 they are exact. onnxruntime's documentation recommends reduce_range (7-bit weights) on
    such CPUs. Measured on an AMD EPYC with AVX2 only: lenet's quantized logits 6.8 (7 steps) away
    from the exact result."""
    return _load_machine_module().ort_u8s8_saturates()


# The int8 weights (lowest, highest) a test model multiplies with uint8 data in onnxruntime and
# compares exactly: all of int8 where onnxruntime's kernels are exact, [-64, 64] where they saturate.
S8_WEIGHTS = (-64, 64) if ort_u8s8_saturates() else (-128, 127)


def octet_path() -> Path:
    return Path(os.environ.get("OCTET_BIN") or REPO / "build" / "octet")


def _missing_binary_message() -> str | None:
    path = octet_path()
    if path.is_file() and os.access(path, os.X_OK):
        return None
    return (f"octet binary not found or not executable at {path}: build it (ninja -C build octet) "
            f"or point OCTET_BIN at it")


def pytest_sessionstart(session):
    # Every test needs the binary: stop at once with one clear message rather than erroring 400 times.
    message = _missing_binary_message()
    if message:
        pytest.exit(message, returncode=1)


@pytest.fixture(scope="session")
def octet_bin() -> Path:
    message = _missing_binary_message()
    if message:
        pytest.fail(message, pytrace=False)
    return octet_path()


@pytest.fixture(scope="session")
def octet(octet_bin):
    """octet(*args) runs the binary without a shell and returns (returncode, stdout, stderr)."""

    def run(*args, timeout: float = 120):
        proc = subprocess.run([str(octet_bin), *(str(a) for a in args)], capture_output=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        return (proc.returncode, proc.stdout.decode("utf-8", "replace"),
                proc.stderr.decode("utf-8", "replace"))

    return run


def safe_file_name(name: str) -> str:
    """The file name `octet run` gives a tensor's .npy (tools/octet/tensor_files.cpp)."""
    out = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    if not out or out[0] == ".":
        out = "_" + out
    return out


@pytest.fixture(scope="session")
def run_octet(octet):
    """run_octet(model_path, {name: array or .pb/.npy path}, out_dir) -> {output name: array}.

    Fails the test (with octet's stderr) when octet exits non-zero."""

    def run(model_path, feeds: dict, out_dir: Path, output_names=None) -> dict:
        out_dir = Path(out_dir)
        in_dir = out_dir / "inputs"
        in_dir.mkdir(parents=True, exist_ok=True)
        args = ["run", model_path, "--output-dir", out_dir / "outputs"]
        for i, (name, value) in enumerate(feeds.items()):
            if isinstance(value, (str, Path)):
                path = value
            else:
                path = in_dir / f"input_{i}.npy"
                np.save(path, value)
            args += ["--input", f"{name}={path}"]
        rc, out, err = octet(*args)
        assert rc == 0, f"octet run failed (exit {rc}): {err.strip()}"
        if output_names is None:
            output_names = [o.name for o in onnx.load(str(model_path), load_external_data=False).graph.output]
        results = {}
        for name in output_names:
            f = out_dir / "outputs" / (safe_file_name(name) + ".npy")
            assert f.exists(), f"octet wrote no {f.name} for output '{name}'"
            results[name] = np.load(f)
        return results

    return run


def ort_session(model, optimize: bool = False) -> ort.InferenceSession:
    """An onnxruntime CPU session; graph optimisations off by default, so kernels run as written."""
    so = ort.SessionOptions()
    so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_BASIC if optimize
                                   else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    if isinstance(model, onnx.ModelProto):
        model = model.SerializeToString()
    elif isinstance(model, Path):
        model = str(model)
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def ort_run(model, feeds: dict) -> dict:
    sess = ort_session(model)
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds)))


def assert_outputs_match(got: dict, want: dict, rtol: float = 1e-4, atol: float = 1e-5, label: str = ""):
    """Same names, dtypes and shapes; floats within rtol/atol, everything else exactly."""
    assert set(got) == set(want), f"{label}: outputs {sorted(got)} != {sorted(want)}"
    for name in want:
        g, w = np.asarray(got[name]), np.asarray(want[name])
        where = f"{label} output '{name}'"
        assert g.dtype == w.dtype, f"{where}: dtype {g.dtype}, expected {w.dtype}"
        assert g.shape == w.shape, f"{where}: shape {g.shape}, expected {w.shape}"
        if np.issubdtype(w.dtype, np.floating):
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=where)
        else:
            np.testing.assert_array_equal(g, w, err_msg=where)


# ---------------------------------------------------------------------------------------------
# libonnx test data


def libonnx_case_dirs(suites=SUITES) -> list[Path]:
    dirs = []
    for suite in suites:
        root = TESTDATA / suite
        if root.is_dir():
            dirs += sorted(p for p in root.iterdir() if p.is_dir())
    return dirs


_classified: dict = {}


def classify_libonnx_case(case: Path, octet) -> tuple[bool, bool, str]:
    """(octet runs it, onnxruntime loads it, why not) for a libonnx case folder; cached."""
    if case in _classified:
        return _classified[case]
    model = case / "model.onnx"
    if not model.is_file():
        result = (False, False, f"no model.onnx in {case.name} (only {sorted(p.name for p in case.iterdir())})")
    else:
        rc, out, err = octet("inspect", "--json", model)
        assert rc == 0, f"octet inspect failed on {model} (exit {rc}): {err.strip()}"
        unsupported = json.loads(out)["unsupported_ops"]
        octet_ok = not unsupported
        reason = "" if octet_ok else f"octet does not support op(s) {', '.join(unsupported)}"
        try:
            ort_session(model)
            ort_ok = True
        except Exception as e:  # onnxruntime's errors share no base class
            ort_ok = False
            reason = reason or f"onnxruntime cannot load the model: {str(e).splitlines()[0][:300]}"
        result = (octet_ok, ort_ok, reason)
    _classified[case] = result
    return result


def libonnx_feeds(case: Path) -> dict:
    """Graph input name -> test_data_set_0/input_N.pb, in graph input order."""
    m = onnx.load(str(case / "model.onnx"), load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    names = [i.name for i in m.graph.input if i.name not in inits]
    feeds = {}
    for i, name in enumerate(names):
        pb = case / "test_data_set_0" / f"input_{i}.pb"
        if not pb.exists():
            break  # trailing optional inputs may be left out
        feeds[name] = pb
    return feeds


def load_pb(path: Path) -> np.ndarray:
    t = onnx.TensorProto()
    t.ParseFromString(Path(path).read_bytes())
    return numpy_helper.to_array(t)
