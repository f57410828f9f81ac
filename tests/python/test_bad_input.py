"""Bad input must make octet fail cleanly.

For each case: a non-zero exit (not a signal, not the internal-error code 3), one line on stderr
that names the offending file, node or tensor, no traceback / abort / "internal error", and no
partial output (no .npy in run's --output-dir, no convert -o target or .data file beside it).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
import pytest
from onnx import TensorProto

from conftest import TESTDATA
from models import F, I64, init, make_model, node, vi

CRASH_MARKERS = ["Traceback", "internal error", "terminate called", "Aborted", "Assertion", "Segmentation",
                 "core dumped", "std::", "what():"]

# A real model whose bytes get truncated.
REAL_MODEL = TESTDATA / "pytorch-converted" / "test_Conv2d" / "model.onnx"


def _add_model(y_shape=(3, 4)):
    nodes = [node("Add", ["x", "y"], ["sum"], name="add_node")]
    return make_model(nodes, [vi("x", F, [3, 4]), vi("y", F, list(y_shape))], [vi("sum", F, [3, 4])])


def _relu_model():
    return make_model([node("Relu", ["x"], ["y"], name="relu_node")], [vi("x", F, [3, 4])],
                      [vi("y", F, [3, 4])])


@dataclasses.dataclass
class Setup:
    """A case: the model file, the --input files for `run`, and the names of which the error must
    mention at least one."""
    model: Path
    inputs: dict  # name -> file path, for `run`
    names: list


def _save(model: onnx.ModelProto, path: Path) -> Path:
    path.write_bytes(model.SerializeToString())
    return path


def _npy(path: Path, array) -> Path:
    np.save(path, array)
    return path


def _x34(d: Path) -> Path:
    return _npy(d / "x.npy", np.arange(12, dtype=np.float32).reshape(3, 4))


# ---------------------------------------------------------------------------------------------
# Cases that break the model file: run with a plausible input, and convert.


def truncated_model(d: Path) -> Setup:
    data = REAL_MODEL.read_bytes()
    p = d / "truncated.onnx"
    p.write_bytes(data[: len(data) // 2])
    return Setup(p, {"0": _npy(d / "in.npy", np.zeros((4, 2, 7, 6), np.float32))}, [p.name])


def random_bytes(d: Path) -> Setup:
    p = d / "random.onnx"
    p.write_bytes(np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return Setup(p, {"x": _x34(d)}, [p.name])


def text_file(d: Path) -> Setup:
    p = d / "notes.onnx"
    p.write_text("This is a text file, not an ONNX model.\nIt has two lines.\n")
    return Setup(p, {"x": _x34(d)}, [p.name])


def empty_file(d: Path) -> Setup:
    p = d / "empty.onnx"
    p.write_bytes(b"")
    return Setup(p, {"x": _x34(d)}, [p.name])


def missing_file(d: Path) -> Setup:
    return Setup(d / "does_not_exist.onnx", {"x": _x34(d)}, ["does_not_exist.onnx"])


def missing_initializer(d: Path) -> Setup:
    m = make_model([node("Mul", ["x", "ghost_weight"], ["y"], name="mul_node")], [vi("x", F, [3, 4])],
                   [vi("y", F, [3, 4])])
    return Setup(_save(m, d / "missing_init.onnx"), {"x": _x34(d)}, ["ghost_weight"])


def cycle(d: Path) -> Setup:
    nodes = [node("Add", ["x", "loop_b"], ["loop_a"], name="cycle_add"),
             node("Relu", ["loop_a"], ["loop_b"], name="cycle_relu"),
             node("Identity", ["loop_b"], ["y"], name="out_identity")]
    m = make_model(nodes, [vi("x", F, [3, 4])], [vi("y", F, [3, 4])])
    return Setup(_save(m, d / "cycle.onnx"), {"x": _x34(d)}, ["cycle_add", "cycle_relu", "loop_a", "loop_b"])


def opset_99(d: Path) -> Setup:
    m = _relu_model()
    m.opset_import[0].version = 99
    return Setup(_save(m, d / "opset99.onnx"), {"x": _x34(d)}, ["opset99.onnx", "99"])


def _external_model(d: Path) -> tuple[Path, Path]:
    """A model whose weight lives in an external file written by onnx itself."""
    w = np.arange(12, dtype=np.float32).reshape(3, 4)
    m = make_model([node("Mul", ["x", "big_weight"], ["y"], name="mul_node")], [vi("x", F, [3, 4])],
                   [vi("y", F, [3, 4])], [init("big_weight", w)])
    path = d / "ext.onnx"
    onnx.save(m, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location="ext.onnx.data",
              size_threshold=0)
    return path, d / "ext.onnx.data"


def external_data_missing(d: Path) -> Setup:
    path, data = _external_model(d)
    data.unlink()
    return Setup(path, {"x": _x34(d)}, ["ext.onnx.data", "big_weight"])


def external_data_short(d: Path) -> Setup:
    path, data = _external_model(d)
    data.write_bytes(data.read_bytes()[:20])  # 48 bytes expected
    return Setup(path, {"x": _x34(d)}, ["ext.onnx.data", "big_weight"])


def _raw_tensor(name: str, dims: list, raw: bytes) -> TensorProto:
    # Built by hand: helper.make_tensor refuses data that does not fit the dims.
    t = TensorProto(name=name, data_type=TensorProto.FLOAT, raw_data=raw)
    t.dims.extend(dims)
    return t


def initializer_short_data(d: Path) -> Setup:
    t = _raw_tensor("short_w", [3, 4], b"\0" * 8)
    m = make_model([node("Mul", ["x", "short_w"], ["y"], name="mul_node")], [vi("x", F, [3, 4])],
                   [vi("y", F, [3, 4])], [t])
    return Setup(_save(m, d / "short_init.onnx"), {"x": _x34(d)}, ["short_w"])


def initializer_huge_dims(d: Path) -> Setup:
    """dims whose product overflows 64 bits; the data is 16 bytes."""
    t = _raw_tensor("huge_w", [1 << 40, 1 << 40], b"\0" * 16)
    m = make_model([node("Mul", ["x", "huge_w"], ["y"], name="mul_node")], [vi("x", F, [3, 4])],
                   [vi("y", F, [3, 4])], [t])
    return Setup(_save(m, d / "huge_init.onnx"), {"x": _x34(d)}, ["huge_w"])


# ---------------------------------------------------------------------------------------------
# Cases whose file is valid ONNX but which octet cannot run (convert may still copy them).


def wrong_value_info(d: Path) -> Setup:
    """Add of two [3,4] tensors whose output is declared [5,7]."""
    m = _add_model()
    m.graph.output[0].CopyFrom(vi("sum", F, [5, 7]))
    return Setup(_save(m, d / "wrong_vi.onnx"), {"x": _x34(d), "y": _x34(d)}, ["sum", "add_node"])


def wrong_value_info_intermediate(d: Path) -> Setup:
    """The same with the Add output an intermediate tensor declared [5,7] in value_info."""
    nodes = [node("Add", ["x", "y"], ["mid"], name="add_node"), node("Relu", ["mid"], ["out"], name="relu_node")]
    m = make_model(nodes, [vi("x", F, [3, 4]), vi("y", F, [3, 4])], [vi("out", F, [3, 4])],
                   value_info=[vi("mid", F, [5, 7])])
    return Setup(_save(m, d / "wrong_vi_mid.onnx"), {"x": _x34(d), "y": _x34(d)}, ["mid", "add_node"])


def broadcast_mismatch(d: Path) -> Setup:
    m = _add_model(y_shape=(5,))
    return Setup(_save(m, d / "bad_broadcast.onnx"),
                 {"x": _x34(d), "y": _npy(d / "y.npy", np.ones(5, np.float32))}, ["add_node"])


def custom_domain_op(d: Path) -> Setup:
    m = make_model([node("FancyOp", ["x"], ["y"], name="fancy_node", domain="com.example")],
                   [vi("x", F, [3, 4])], [vi("y", F, [3, 4])], extra_opsets=[("com.example", 1)])
    return Setup(_save(m, d / "custom.onnx"), {"x": _x34(d)}, ["FancyOp", "fancy_node"])


def det_op(d: Path) -> Setup:
    m = make_model([node("Det", ["x"], ["y"], name="det_node")], [vi("x", F, [2, 3, 3])], [vi("y", F, [2])])
    return Setup(_save(m, d / "det.onnx"), {"x": _npy(d / "x.npy", np.ones((2, 3, 3), np.float32))},
                 ["Det", "det_node"])


# ---------------------------------------------------------------------------------------------
# Run-time cases: a valid model, bad inputs.


def _two_input_model(d: Path) -> Path:
    return _save(_add_model(), d / "add.onnx")


def missing_input(d: Path) -> Setup:
    return Setup(_two_input_model(d), {"x": _x34(d)}, ["'y'", "y "])


def extra_input(d: Path) -> Setup:
    return Setup(_two_input_model(d), {"x": _x34(d), "y": _x34(d), "no_such_input": _x34(d)}, ["no_such_input"])


def wrong_dtype(d: Path) -> Setup:
    return Setup(_two_input_model(d),
                 {"x": _x34(d), "y": _npy(d / "y_int.npy", np.ones((3, 4), np.int32))}, ["y_int.npy", "'y'"])


def wrong_shape(d: Path) -> Setup:
    return Setup(_two_input_model(d),
                 {"x": _x34(d), "y": _npy(d / "y_shape.npy", np.ones((4, 3), np.float32))}, ["y_shape.npy", "'y'"])


def corrupt_npy(d: Path) -> Setup:
    good = _npy(d / "y_ok.npy", np.ones((3, 4), np.float32)).read_bytes()
    bad = d / "y_corrupt.npy"
    bad.write_bytes(good[: len(good) - 10])  # header intact, data short by 10 bytes
    return Setup(_two_input_model(d), {"x": _x34(d), "y": bad}, ["y_corrupt.npy"])


def corrupt_npy_header(d: Path) -> Setup:
    bad = d / "y_header.npy"
    bad.write_bytes(b"\x93NUMPY\x01\x00\x30\x00{'descr': '<f4', 'fortran_order': False, 'sha")
    return Setup(_two_input_model(d), {"x": _x34(d), "y": bad}, ["y_header.npy"])


def nan_input(d: Path) -> Setup:
    y = np.ones((3, 4), np.float32)
    y[1, 2] = np.nan
    return Setup(_two_input_model(d), {"x": _x34(d), "y": _npy(d / "y_nan.npy", y)}, ["y_nan.npy", "'y'"])


def input_file_missing(d: Path) -> Setup:
    return Setup(_two_input_model(d), {"x": _x34(d), "y": d / "nowhere.npy"}, ["nowhere.npy"])


def conv_group_mismatch(d: Path) -> Setup:
    m = make_model([node("Conv", ["x", "w"], ["y"], name="conv_node", group=3)], [vi("x", F, [1, 4, 5, 5])],
                   [vi("y", F, None)], [init("w", np.ones((3, 1, 3, 3), np.float32))])
    return Setup(_save(m, d / "conv_group.onnx"), {"x": _npy(d / "x.npy", np.ones((1, 4, 5, 5), np.float32))},
                 ["conv_node"])


def reshape_mismatch(d: Path) -> Setup:
    """The target shape comes from an input, so only the run can see it does not fit."""
    m = make_model([node("Reshape", ["x", "shape"], ["y"], name="reshape_node")],
                   [vi("x", F, [3, 4]), vi("shape", I64, [2])], [vi("y", F, None)])
    return Setup(_save(m, d / "reshape.onnx"),
                 {"x": _x34(d), "shape": _npy(d / "shape.npy", np.array([5, 5], np.int64))}, ["reshape_node"])


def gather_out_of_range(d: Path) -> Setup:
    m = make_model([node("Gather", ["table", "idx"], ["rows"], name="gather_node", axis=0)],
                   [vi("idx", I64, [2])], [vi("rows", F, [2, 3])],
                   [init("table", np.arange(15, dtype=np.float32).reshape(5, 3))])
    return Setup(_save(m, d / "gather.onnx"), {"idx": _npy(d / "idx.npy", np.array([1, 7], np.int64))},
                 ["gather_node"])


# ---------------------------------------------------------------------------------------------

# Known octet problems found by these tests: case id -> reason. Each is xfail(strict=True), so the
# mark must go when octet is fixed.
KNOWN_BAD: dict[str, str] = {}

RUN_CASES: dict[str, Callable[[Path], Setup]] = {
    "truncated_model": truncated_model,
    "random_bytes": random_bytes,
    "text_file": text_file,
    "empty_file": empty_file,
    "missing_file": missing_file,
    "missing_initializer": missing_initializer,
    "cycle": cycle,
    "inconsistent_output_shape": wrong_value_info,
    "inconsistent_value_info": wrong_value_info_intermediate,
    "broadcast_mismatch": broadcast_mismatch,
    "custom_domain_op": custom_domain_op,
    "unsupported_op_det": det_op,
    "opset_99": opset_99,
    "missing_input": missing_input,
    "extra_input": extra_input,
    "wrong_dtype_npy": wrong_dtype,
    "wrong_shape_npy": wrong_shape,
    "corrupt_npy_data": corrupt_npy,
    "corrupt_npy_header": corrupt_npy_header,
    "nan_input": nan_input,
    "external_data_missing": external_data_missing,
    "external_data_short": external_data_short,
    "initializer_short_data": initializer_short_data,
    "initializer_huge_dims": initializer_huge_dims,
    "input_file_missing": input_file_missing,
    "conv_group_mismatch": conv_group_mismatch,
    "reshape_mismatch": reshape_mismatch,
    "gather_index_out_of_range": gather_out_of_range,
}

# Convert reads and writes the file format only: it must reject what cannot be read or written
# as a valid graph, but copies ops it cannot run.
CONVERT_CASES = ["truncated_model", "random_bytes", "text_file", "empty_file", "missing_file",
                 "missing_initializer", "cycle", "external_data_missing", "external_data_short",
                 "initializer_short_data", "initializer_huge_dims"]
# With --infer-shapes, convert must also reject shapes that cannot hold.
CONVERT_INFER_CASES = ["inconsistent_output_shape", "inconsistent_value_info", "broadcast_mismatch"]


def _params(ids, prefix):
    out = []
    for cid in ids:
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN_BAD[f"{prefix}:{cid}"])] \
            if f"{prefix}:{cid}" in KNOWN_BAD else []
        out.append(pytest.param(cid, id=cid, marks=marks))
    return out


def _assert_clean_failure(rc: int, err: str, names: list, what: str):
    assert rc != 0, f"{what}: octet exited 0 (stderr: {err.strip()!r})"
    assert rc > 0, f"{what}: octet died from signal {-rc} (stderr: {err.strip()!r})"
    assert rc != 3, f"{what}: octet reported an internal error: {err.strip()!r}"
    for marker in CRASH_MARKERS:
        assert marker not in err, f"{what}: stderr contains {marker!r}: {err.strip()!r}"
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"{what}: expected a one-line error, got {len(lines)} lines: {err!r}"
    assert any(n in lines[0] for n in names), f"{what}: error does not name any of {names}: {lines[0]!r}"


@pytest.mark.parametrize("case", _params(RUN_CASES, "run"))
def test_run_rejects(case, octet, tmp_path):
    setup = RUN_CASES[case](tmp_path)
    out_dir = tmp_path / "outputs"
    args = ["run", setup.model, "--output-dir", out_dir]
    for name, path in setup.inputs.items():
        args += ["--input", f"{name}={path}"]
    rc, _, err = octet(*args)
    _assert_clean_failure(rc, err, setup.names, f"run {case}")
    leftovers = sorted(p.name for p in out_dir.rglob("*")) if out_dir.exists() else []
    assert not [p for p in leftovers if p.endswith(".npy") or ".tmp" in p], f"partial output left: {leftovers}"


@pytest.mark.parametrize("case", _params(CONVERT_CASES, "convert"))
def test_convert_rejects(case, octet, tmp_path):
    setup = RUN_CASES[case](tmp_path)
    out = tmp_path / "out" / "converted.onnx"
    out.parent.mkdir()
    rc, _, err = octet("convert", setup.model, "-o", out, "--external-data", 0)
    _assert_clean_failure(rc, err, setup.names, f"convert {case}")
    assert not out.exists(), f"convert left a partial {out.name}"
    assert sorted(p.name for p in out.parent.iterdir()) == [], "convert left files beside the target"


@pytest.mark.parametrize("case", _params(CONVERT_INFER_CASES, "convert-infer"))
def test_convert_infer_shapes_rejects(case, octet, tmp_path):
    setup = RUN_CASES[case](tmp_path)
    out = tmp_path / "out" / "converted.onnx"
    out.parent.mkdir()
    rc, _, err = octet("convert", setup.model, "-o", out, "--infer-shapes")
    _assert_clean_failure(rc, err, setup.names, f"convert --infer-shapes {case}")
    assert sorted(p.name for p in out.parent.iterdir()) == [], "convert left files beside the target"


def test_run_rejects_output_dir_that_is_a_file(octet, tmp_path):
    model = _two_input_model(tmp_path)
    blocker = tmp_path / "results_here"
    blocker.write_text("a file where the output folder should go\n")
    rc, _, err = octet("run", model, "--input", f"x={_x34(tmp_path)}", "--input", f"y={_x34(tmp_path)}",
                       "--output-dir", blocker)
    _assert_clean_failure(rc, err, ["results_here"], "run with --output-dir naming a file")
    assert blocker.read_text() == "a file where the output folder should go\n"


def test_convert_rejects_missing_output_folder(octet, tmp_path):
    model = _two_input_model(tmp_path)
    out = tmp_path / "no_such_folder" / "out.onnx"
    rc, _, err = octet("convert", model, "-o", out)
    _assert_clean_failure(rc, err, ["no_such_folder"], "convert into a missing folder")
    assert not out.parent.exists()


def test_inspect_rejects_truncated_model(octet, tmp_path):
    setup = truncated_model(tmp_path)
    rc, out, err = octet("inspect", "--json", setup.model)
    _assert_clean_failure(rc, err, setup.names, "inspect truncated_model")
    assert out.strip() == "", "inspect printed output for a model it could not read"
