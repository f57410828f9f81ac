"""`octet convert IN -o OUT` must write a valid ONNX model that computes what IN computes.

For the tiny-cnn zoo model, the models of models.py and the libonnx models octet supports:
OUT passes onnx.checker.check_model(full_check=True), keeps every initializer bit for bit, and gives
the same outputs as IN in onnxruntime (bitwise, or within 1e-6). Also with --external-data (the
tensors at or above the threshold move to a .data file next to OUT) and --infer-shapes (the
value_info octet records must agree with ONNX's own shape inference). A model with int4/uint4
initializers round-trips its values exactly.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, numpy_helper

import models
from conftest import classify_libonnx_case, libonnx_case_dirs, libonnx_feeds, load_pb, ort_run

LIBONNX = libonnx_case_dirs()
FOUR_BIT = (TensorProto.INT4, TensorProto.UINT4)


def _source_ids():
    return (["zoo/tiny-cnn"] + [f"written/{c.name}" for c in models.CASES]
            + [f"{p.parent.name}/{p.name}" for p in LIBONNX])


def _materialize(source: str, tmp_path: Path, octet):
    """(model path, {input name: array}, whether onnxruntime can run it) for a source id."""
    kind, name = source.split("/", 1)
    src = tmp_path / "src"
    src.mkdir()
    if kind == "zoo":
        rc, _, err = octet("zoo", name, "--out-dir", src)
        assert rc == 0, f"octet zoo {name} failed: {err.strip()}"
        model = onnx.load(str(src / "model.onnx"))
        return src / "model.onnx", {model.graph.input[0].name: np.load(src / "input.npy")}, True
    if kind == "written":
        case = models.CASES_BY_NAME[name]
        model = case.build()
        onnx.save(model, str(src / "model.onnx"))
        return src / "model.onnx", case.feeds(model, case.batches[-1]), True
    case = next(p for p in LIBONNX if p.parent.name == kind and p.name == name)
    octet_ok, ort_ok, reason = classify_libonnx_case(case, octet)
    if not octet_ok:
        pytest.skip(reason)
    feeds = {n: load_pb(pb) for n, pb in libonnx_feeds(case).items()}
    return case / "model.onnx", feeds, ort_ok


def _convert(octet, src: Path, out: Path, *extra):
    rc, stdout, err = octet("convert", src, "-o", out, *extra)
    assert rc == 0, f"octet convert {src.name} {' '.join(map(str, extra))} failed (exit {rc}): {err.strip()}"
    assert out.is_file(), f"octet convert reported success but wrote no {out}"


def _stored_bytes(t: TensorProto) -> int:
    n = int(np.prod(t.dims)) if t.dims else 1
    if t.data_type in FOUR_BIT:
        return (n + 1) // 2
    return n * np.dtype(onnx.helper.tensor_dtype_to_np_dtype(t.data_type)).itemsize


def _assert_same_initializers(a: onnx.ModelProto, b: onnx.ModelProto):
    """Same names, element types, shapes and bits (after loading external data)."""
    ta = {t.name: t for t in a.graph.initializer}
    tb = {t.name: t for t in b.graph.initializer}
    assert set(ta) == set(tb), f"initializers differ: only in IN {set(ta) - set(tb)}, only in OUT {set(tb) - set(ta)}"
    for name, t in ta.items():
        u = tb[name]
        assert u.data_type == t.data_type, f"initializer '{name}': type {u.data_type}, expected {t.data_type}"
        assert list(u.dims) == list(t.dims), f"initializer '{name}': dims {list(u.dims)}, expected {list(t.dims)}"
        x, y = numpy_helper.to_array(t), numpy_helper.to_array(u)
        assert x.dtype == y.dtype and x.shape == y.shape, f"initializer '{name}'"
        if x.dtype == object:  # strings
            assert x.tolist() == y.tolist(), f"initializer '{name}' values differ"
        else:
            assert x.tobytes() == y.tobytes(), f"initializer '{name}' values differ"


def _assert_same_outputs(got: dict, want: dict, what: str):
    assert set(got) == set(want), f"{what}: outputs {sorted(got)} != {sorted(want)}"
    for name, w in want.items():
        g = got[name]
        assert g.dtype == w.dtype and g.shape == w.shape, f"{what} output '{name}': {g.dtype}{g.shape} != {w.dtype}{w.shape}"
        if g.tobytes() == w.tobytes():
            continue
        if np.issubdtype(w.dtype, np.floating):
            np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6, err_msg=f"{what} output '{name}'")
        else:
            np.testing.assert_array_equal(g, w, err_msg=f"{what} output '{name}'")


def _assert_same_behaviour(src: Path, out: Path, feeds: dict, ort_ok: bool, run_octet, tmp_path: Path):
    if ort_ok:
        _assert_same_outputs(ort_run(out, feeds), ort_run(src, feeds), "onnxruntime on OUT vs IN")
    else:  # onnxruntime 1.23 lacks the model's old-opset kernels: compare octet's own runs instead
        got = run_octet(out, feeds, tmp_path / "run_out")
        want = run_octet(src, feeds, tmp_path / "run_in")
        _assert_same_outputs(got, want, "octet run on OUT vs IN")


def _passes_full_check(path: Path) -> bool:
    try:
        onnx.checker.check_model(str(path), full_check=True)
        return True
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError):
        return False


@pytest.mark.parametrize("source", _source_ids())
def test_convert_round_trip(source, octet, run_octet, tmp_path, request):
    src, feeds, ort_ok = _materialize(source, tmp_path, octet)
    original = onnx.load(str(src))
    out = tmp_path / "out.onnx"
    _convert(octet, src, out)
    _assert_same_initializers(original, onnx.load(str(out)))
    _assert_same_behaviour(src, out, feeds, ort_ok, run_octet, tmp_path)
    if _passes_full_check(src):
        onnx.checker.check_model(str(out), full_check=True)
    else:
        # A few opset-6 test models fail ONNX's strict inference themselves (a Constant of int64,
        # which opset 6 did not allow); OUT must still be as valid as the structural check asks.
        onnx.checker.check_model(str(out))


# Threshold 1024 only with models that hold a tensor that large (conv2.weight 4608 bytes, w_dil 2304,
# w_qkv 3072); threshold 0 moves every initializer, shape constants and 4-bit tensors included.
_EXTERNAL_CASES = ([(s, t) for s in ["zoo/tiny-cnn", "written/conv_net", "written/transformer_block"] for t in (0, 1024)]
                   + [(s, 0) for s in ["written/qdq_per_axis", "written/qdq_int4", "written/qlinear_conv",
                                       "written/integer_ops"]])


@pytest.mark.parametrize("source,threshold", _EXTERNAL_CASES)
def test_convert_external_data(source, threshold, octet, run_octet, tmp_path, request):
    src, feeds, ort_ok = _materialize(source, tmp_path, octet)
    out = tmp_path / "out" / "model.onnx"
    out.parent.mkdir()
    _convert(octet, src, out, "--external-data", threshold)

    # Exactly the tensors of at least `threshold` bytes are external, in files beside OUT, except
    # small INT64/INT32 tensors (shapes, axes: runtimes read them while loading), which stay inline.
    shallow = onnx.load(str(out), load_external_data=False)
    original = onnx.load(str(src))
    sizes = {t.name: _stored_bytes(t) for t in original.graph.initializer}
    locations = set()
    for t in shallow.graph.initializer:
        external = t.data_location == TensorProto.EXTERNAL
        shape_like = t.data_type in (TensorProto.INT64, TensorProto.INT32) and sizes[t.name] <= 4096
        assert external == (sizes[t.name] >= threshold and not shape_like), (
            f"initializer '{t.name}' ({sizes[t.name]} bytes) is {'external' if external else 'inline'} "
            f"with --external-data {threshold}")
        if external:
            info = {e.key: e.value for e in t.external_data}
            assert not Path(info["location"]).is_absolute(), f"absolute location {info['location']}"
            locations.add(info["location"])
    assert locations, "no initializer went to external data"
    for loc in locations:
        assert (out.parent / loc).is_file(), f"external data file {loc} missing beside {out}"
    assert any(loc.endswith(".data") for loc in locations), f"no .data file among {locations}"

    onnx.checker.check_model(str(out))  # on the path: checks the external files and ranges too
    loaded = onnx.load(str(out))
    # The full check (strict shape inference) runs on the loaded proto: on a path, ONNX's shape
    # inference cannot read shape constants (Split sizes, Reshape shapes) stored externally.
    onnx.checker.check_model(loaded, full_check=True)
    _assert_same_initializers(original, loaded)
    _assert_same_behaviour(src, out, feeds, ort_ok, run_octet, tmp_path)

    # The locations are relative: the pair still loads after moving both files elsewhere.
    moved = tmp_path / "moved"
    moved.mkdir()
    for f in [out.name, *locations]:
        shutil.copy(out.parent / f, moved / f)
    shutil.rmtree(out.parent)
    _assert_same_initializers(original, onnx.load(str(moved / out.name)))


_INFER_SOURCES = ["zoo/tiny-cnn"] + [f"written/{c.name}" for c in models.CASES]


def _dims(t: onnx.TypeProto):
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in t.tensor_type.shape.dim]


@pytest.mark.parametrize("source", _INFER_SOURCES)
def test_convert_infer_shapes(source, octet, run_octet, tmp_path):
    """octet's inferred value_info is valid ONNX and agrees with onnx.shape_inference."""
    src, feeds, ort_ok = _materialize(source, tmp_path, octet)
    out = tmp_path / "out.onnx"
    _convert(octet, src, out, "--infer-shapes")
    onnx.checker.check_model(str(out), full_check=True)
    converted = onnx.load(str(out))
    original = onnx.load(str(src))
    outputs = {o.name for o in original.graph.output}
    intermediates = {t for n in original.graph.node for t in n.output if t and t not in outputs}
    if intermediates:
        recorded = {v.name for v in converted.graph.value_info}
        assert recorded & intermediates, "--infer-shapes recorded no value_info for intermediate tensors"
    reference = onnx.shape_inference.infer_shapes(original, strict_mode=True)
    expected = {v.name: v.type for v in list(reference.graph.value_info) + list(reference.graph.output)}
    for v in list(converted.graph.value_info) + list(converted.graph.output):
        if v.name not in expected:
            continue
        want, got = expected[v.name], v.type
        assert got.tensor_type.elem_type == want.tensor_type.elem_type, f"value_info '{v.name}': element type"
        if not (got.tensor_type.HasField("shape") and want.tensor_type.HasField("shape")):
            continue
        gd, wd = _dims(got), _dims(want)
        assert len(gd) == len(wd), f"value_info '{v.name}': rank {len(gd)}, ONNX infers {wd}"
        for g, w in zip(gd, wd):
            if isinstance(g, int) and isinstance(w, int):
                assert g == w, f"value_info '{v.name}': shape {gd}, ONNX infers {wd}"
    _assert_same_behaviour(src, out, feeds, ort_ok, run_octet, tmp_path)


@pytest.mark.parametrize("threshold", [None, 0])
def test_int4_initializer_round_trip(threshold, octet, tmp_path):
    model, values = models.int4_initializer_model()
    src = tmp_path / "int4.onnx"
    onnx.save(model, str(src))
    out = tmp_path / "int4_out.onnx"
    _convert(octet, src, out, *([] if threshold is None else ["--external-data", threshold]))
    onnx.checker.check_model(str(out), full_check=True)
    got = {t.name: t for t in onnx.load(str(out)).graph.initializer}
    assert got["w4"].data_type == TensorProto.INT4 and got["u4"].data_type == TensorProto.UINT4
    np.testing.assert_array_equal(numpy_helper.to_array(got["w4"]).astype(np.int8), values)
    np.testing.assert_array_equal(numpy_helper.to_array(got["u4"]).astype(np.uint8),
                                  np.array([0, 1, 2, 7, 8, 14, 15], np.uint8))
    feeds = {"x": np.random.default_rng(5).standard_normal((2, 3)).astype(np.float32)}
    _assert_same_outputs(ort_run(out, feeds), ort_run(src, feeds), "onnxruntime on OUT vs IN")
