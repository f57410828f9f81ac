"""ONNX models that the Python tests build with onnx.helper.

Each builder returns an onnx.ModelProto with random weights drawn from a fixed numpy seed, so a
failure reproduces. `CASES` lists them with how to make their inputs and which batch sizes to run
(models whose first input dim is the symbolic "N" run with batch 1 and 3).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from conftest import S8_WEIGHTS

F = TensorProto.FLOAT
I8 = TensorProto.INT8
U8 = TensorProto.UINT8
I32 = TensorProto.INT32
I64 = TensorProto.INT64
BOOL = TensorProto.BOOL


# ---------------------------------------------------------------------------------------------
# Small builders


def init(name: str, value, dtype=None) -> TensorProto:
    arr = np.asarray(value, dtype=dtype)
    return numpy_helper.from_array(arr, name)


def vi(name: str, elem_type: int, shape) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem_type, shape)


def node(op: str, inputs, outputs, name: str | None = None, domain: str = "", **attrs) -> onnx.NodeProto:
    return helper.make_node(op, list(inputs), list(outputs), name=name or f"{op}_{outputs[0]}",
                            domain=domain, **attrs)


def make_model(nodes, inputs, outputs, initializers=(), opset: int = 17, name: str = "model",
               value_info=(), extra_opsets=()) -> onnx.ModelProto:
    graph = helper.make_graph(list(nodes), name, list(inputs), list(outputs),
                              initializer=list(initializers), value_info=list(value_info))
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in extra_opsets]
    # The lowest IR version that allows the opset, so onnxruntime 1.23 loads every model.
    ir_version = helper.find_min_ir_version_for([helper.make_opsetid("", opset)])
    model = helper.make_model(graph, opset_imports=opsets, ir_version=max(ir_version, 7),
                              producer_name="octet-python-tests")
    # Outputs declared without a shape take the one ONNX infers, so the models pass
    # onnx.checker.check_model(full_check=True).
    if any(not o.type.tensor_type.HasField("shape") for o in model.graph.output):
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
        types = {v.name: v.type for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
        for o in model.graph.output:
            if not o.type.tensor_type.HasField("shape") and o.name in types:
                o.type.CopyFrom(types[o.name])
    return model


def _weights(seed: int):
    rng = np.random.default_rng(seed)

    def w(*shape, scale=0.3):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    return rng, w


# ---------------------------------------------------------------------------------------------
# Inputs


def random_feeds(model: onnx.ModelProto, batch: int, seed: int, float_scale: float = 1.0) -> dict:
    """Random values for every graph input; a symbolic dim becomes `batch`."""
    rng = np.random.default_rng(seed)
    inits = {i.name for i in model.graph.initializer}
    feeds = {}
    for inp in model.graph.input:
        if inp.name in inits:
            continue
        tt = inp.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else batch for d in tt.shape.dim]
        dtype = helper.tensor_dtype_to_np_dtype(tt.elem_type)
        if np.issubdtype(dtype, np.floating):
            feeds[inp.name] = (rng.standard_normal(shape) * float_scale).astype(dtype)
        elif dtype == np.bool_:
            feeds[inp.name] = rng.integers(0, 2, shape).astype(np.bool_)
        else:
            info = np.iinfo(dtype)
            lo, hi = max(info.min, -1000), min(info.max, 1000)
            if dtype in (np.int8, np.uint8):
                lo, hi = info.min, info.max
            feeds[inp.name] = rng.integers(lo, hi, shape, endpoint=True).astype(dtype)
    return feeds


@dataclasses.dataclass(frozen=True)
class ModelCase:
    name: str
    build: Callable[[], onnx.ModelProto]
    batches: tuple = (1,)
    # (model, batch, seed) -> {input name: array}; random_feeds when None.
    make_feeds: Callable | None = None

    def feeds(self, model: onnx.ModelProto, batch: int, seed: int = 1234) -> dict:
        if self.make_feeds is not None:
            return self.make_feeds(model, batch, seed)
        return random_feeds(model, batch, seed)


# ---------------------------------------------------------------------------------------------
# Float models


def conv_net() -> onnx.ModelProto:
    """Conv (plain, depthwise, grouped, dilated), BatchNormalization, Relu, pools, Gemm, Softmax."""
    rng, w = _weights(101)
    inits = [
        init("w1", w(8, 4, 3, 3)), init("b1", w(8)),
        init("bn_scale", rng.uniform(0.5, 1.5, 8).astype(np.float32)), init("bn_bias", w(8)),
        init("bn_mean", w(8)), init("bn_var", rng.uniform(0.5, 2.0, 8).astype(np.float32)),
        init("w_dw", w(8, 1, 3, 3)), init("b_dw", w(8)),
        init("w_g", w(8, 4, 1, 1)),
        init("w_dil", w(8, 8, 3, 3, scale=0.1)), init("b_dil", w(8)),
        init("w_fc", w(10, 8)), init("b_fc", w(10)),
    ]
    nodes = [
        node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        node("BatchNormalization", ["c1", "bn_scale", "bn_bias", "bn_mean", "bn_var"], ["bn"], epsilon=1e-3),
        node("Relu", ["bn"], ["r1"]),
        node("Conv", ["r1", "w_dw", "b_dw"], ["c2"], group=8, strides=[2, 2], pads=[1, 1, 1, 1]),
        node("Relu", ["c2"], ["r2"]),
        node("Conv", ["r2", "w_g"], ["c3"], group=2),
        node("Conv", ["c3", "w_dil", "b_dil"], ["c4"], dilations=[2, 2], pads=[2, 2, 2, 2]),
        node("MaxPool", ["c4"], ["p1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        node("AveragePool", ["p1"], ["p2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=0),
        node("AveragePool", ["p2"], ["features"], kernel_shape=[2, 2], pads=[0, 0, 1, 1], count_include_pad=1),
        node("GlobalAveragePool", ["features"], ["gap"]),
        node("Flatten", ["gap"], ["flat"]),
        node("Gemm", ["flat", "w_fc", "b_fc"], ["logits"], transB=1),
        node("Softmax", ["logits"], ["probs"], axis=1),
    ]
    return make_model(nodes, [vi("x", F, ["N", 4, 16, 16])],
                      [vi("probs", F, ["N", 10]), vi("features", F, ["N", 8, 4, 4])], inits, opset=13,
                      name="conv_net")


def transformer_block() -> onnx.ModelProto:
    """LayerNorm, attention with batched MatMul, RMS-style norm, Gelu (both forms) and an Erf Gelu."""
    rng, w = _weights(202)
    d, heads, hd, s = 16, 2, 8, 5
    inits = [
        init("ln_g", rng.uniform(0.5, 1.5, d).astype(np.float32)), init("ln_b", w(d)),
        init("w_qkv", w(d, 3 * d)), init("b_qkv", w(3 * d)),
        init("split_sizes", [d, d, d], np.int64),
        init("heads_shape", [0, 0, heads, hd], np.int64),
        init("merge_shape", [0, 0, d], np.int64),
        init("sqrt_hd", math.sqrt(hd), np.float32),
        init("w_o", w(d, d)),
        init("two", 2.0, np.float32), init("eps", 1e-5, np.float32),
        init("mean_axes", [-1], np.int64),
        init("w1", w(d, 32)), init("sqrt2", math.sqrt(2.0), np.float32),
        init("one", 1.0, np.float32), init("half", 0.5, np.float32),
        init("w2", w(96, d, scale=0.2)),
    ]
    nodes = [
        node("LayerNormalization", ["x", "ln_g", "ln_b"], ["ln"], axis=-1, epsilon=1e-5),
        node("MatMul", ["ln", "w_qkv"], ["qkv0"]),
        node("Add", ["qkv0", "b_qkv"], ["qkv"]),
        node("Split", ["qkv", "split_sizes"], ["q", "k", "v"], axis=2),
        node("Reshape", ["q", "heads_shape"], ["q4"]),
        node("Transpose", ["q4"], ["qh"], perm=[0, 2, 1, 3]),
        node("Reshape", ["k", "heads_shape"], ["k4"]),
        node("Transpose", ["k4"], ["kt"], perm=[0, 2, 3, 1]),
        node("Reshape", ["v", "heads_shape"], ["v4"]),
        node("Transpose", ["v4"], ["vh"], perm=[0, 2, 1, 3]),
        node("MatMul", ["qh", "kt"], ["scores"]),
        node("Div", ["scores", "sqrt_hd"], ["scaled"]),
        node("Softmax", ["scaled"], ["attn"], axis=-1),
        node("MatMul", ["attn", "vh"], ["ctx"]),
        node("Transpose", ["ctx"], ["ctx_t"], perm=[0, 2, 1, 3]),
        node("Reshape", ["ctx_t", "merge_shape"], ["ctx_m"]),
        node("MatMul", ["ctx_m", "w_o"], ["o"]),
        node("Add", ["o", "x"], ["h1"]),
        node("Pow", ["h1", "two"], ["sq"]),
        node("ReduceMean", ["sq", "mean_axes"], ["ms"], keepdims=1),
        node("Add", ["ms", "eps"], ["ms_eps"]),
        node("Sqrt", ["ms_eps"], ["rms"]),
        node("Div", ["h1", "rms"], ["hn"]),
        node("MatMul", ["hn", "w1"], ["u"]),
        node("Gelu", ["u"], ["g_exact"]),
        node("Gelu", ["u"], ["g_tanh"], approximate="tanh"),
        node("Div", ["u", "sqrt2"], ["u_s"]),
        node("Erf", ["u_s"], ["erf"]),
        node("Add", ["erf", "one"], ["erf1"]),
        node("Mul", ["u", "erf1"], ["u_erf"]),
        node("Mul", ["u_erf", "half"], ["g_erf"]),
        node("Concat", ["g_exact", "g_tanh", "g_erf"], ["g_all"], axis=-1),
        node("MatMul", ["g_all", "w2"], ["m"]),
        node("Add", ["m", "h1"], ["y"]),
    ]
    return make_model(nodes, [vi("x", F, ["N", s, d])],
                      [vi("y", F, ["N", s, d]), vi("attn", F, ["N", heads, s, s])], inits, opset=20,
                      name="transformer_block")


def shape_chain() -> onnx.ModelProto:
    """Shape -> Gather -> Unsqueeze -> Concat -> Reshape, Slice (positive/negative steps), Expand, Squeeze."""
    inits = [
        init("idx0", 0, np.int64), init("axes0", [0], np.int64), init("twelve", [12], np.int64),
        init("s_starts", [1], np.int64), init("s_ends", [11], np.int64), init("s_axes", [1], np.int64),
        init("s_steps", [3], np.int64),
        init("r_starts", [10], np.int64), init("r_ends", [0], np.int64), init("r_steps", [-2], np.int64),
        init("big_starts", [-4], np.int64), init("big_ends", [np.iinfo(np.int64).max], np.int64),
        init("axes1", [1], np.int64), init("two", [2], np.int64), init("four", [4], np.int64),
        init("scale", [0.5, -1.0, 2.0, 3.0], np.float32),
    ]
    nodes = [
        node("Shape", ["x"], ["shp"]),
        node("Gather", ["shp", "idx0"], ["n"], axis=0),
        node("Unsqueeze", ["n", "axes0"], ["n1"]),
        node("Concat", ["n1", "twelve"], ["flat_shape"], axis=0),
        node("Reshape", ["x", "flat_shape"], ["flat"]),
        node("Slice", ["flat", "s_starts", "s_ends", "s_axes", "s_steps"], ["sl"]),
        node("Slice", ["flat", "r_starts", "r_ends", "s_axes", "r_steps"], ["sl_rev"]),
        node("Slice", ["flat", "big_starts", "big_ends", "s_axes"], ["sl_tail"]),
        node("Unsqueeze", ["sl", "axes1"], ["u"]),
        node("Concat", ["n1", "two", "four"], ["e_shape"], axis=0),
        node("Expand", ["u", "e_shape"], ["e"]),
        node("Unsqueeze", ["e", "axes0"], ["e5"]),
        node("Squeeze", ["e5", "axes0"], ["sq"]),
        node("Mul", ["sq", "scale"], ["y"]),
        node("Shape", ["y"], ["y_shape"]),
        node("Add", ["sl_tail", "sl"], ["tail_sum"]),
    ]
    return make_model(nodes, [vi("x", F, ["N", 3, 4])],
                      [vi("y", F, ["N", 2, 4]), vi("sl_rev", F, ["N", 5]), vi("y_shape", I64, [3]),
                       vi("tail_sum", F, ["N", 4])], inits, opset=13, name="shape_chain")


def resize_model() -> onnx.ModelProto:
    inits = [
        init("up2", [1, 1, 2, 2], np.float32),
        init("odd", [1, 1, 1.5, 0.6], np.float32),
        init("lin", [1, 1, 2, 1.5], np.float32),
        init("sizes_ac", [1, 2, 7, 3], np.int64),
        init("sizes_down", [1, 2, 3, 2], np.int64),
    ]
    nodes = [
        node("Resize", ["x", "", "up2"], ["nearest_default"], mode="nearest"),
        node("Resize", ["x", "", "odd"], ["nearest_floor"], mode="nearest",
             coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
        node("Resize", ["x", "", "up2"], ["nearest_ceil"], mode="nearest",
             coordinate_transformation_mode="align_corners", nearest_mode="ceil"),
        node("Resize", ["x", "", "lin"], ["linear_half_pixel"], mode="linear"),
        node("Resize", ["x", "", "", "sizes_ac"], ["linear_align"], mode="linear",
             coordinate_transformation_mode="align_corners"),
        node("Resize", ["x", "", "", "sizes_down"], ["linear_down"], mode="linear",
             coordinate_transformation_mode="pytorch_half_pixel"),
        node("Resize", ["x", "", "up2"], ["cubic"], mode="cubic"),
    ]
    outs = [vi(n.output[0], F, None) for n in nodes]
    return make_model(nodes, [vi("x", F, [1, 2, 4, 5])], outs, inits, opset=18, name="resize")


def pad_model() -> onnx.ModelProto:
    inits = [
        init("p_const", [0, 0, 1, 2, 0, 0, 2, 1], np.int64), init("cval", 1.5, np.float32),
        init("p_reflect", [0, 0, 2, 2, 0, 0, 1, 3], np.int64),
        init("p_edge", [0, 1, 0, 3, 0, 0, 2, 0], np.int64),
        init("p_axes", [1, 1, 2, 2], np.int64), init("axes23", [2, 3], np.int64),
        init("p_crop", [0, 0, -1, 1, 0, 0, 0, -2], np.int64),
        init("p_int", [1, 0, 0, 2], np.int64), init("ival", 7, np.int32),
    ]
    nodes = [
        node("Pad", ["x", "p_const", "cval"], ["constant"], mode="constant"),
        node("Pad", ["x", "p_reflect"], ["reflect"], mode="reflect"),
        node("Pad", ["x", "p_edge"], ["edge"], mode="edge"),
        node("Pad", ["x", "p_reflect"], ["wrap"], mode="wrap"),
        node("Pad", ["x", "p_axes", "", "axes23"], ["with_axes"]),
        node("Pad", ["x", "p_crop"], ["crop"]),
        node("Pad", ["xi", "p_int", "ival"], ["int_const"]),
    ]
    outs = [vi(n.output[0], F, None) for n in nodes[:-1]] + [vi("int_const", I32, None)]
    return make_model(nodes, [vi("x", F, [1, 3, 4, 5]), vi("xi", I32, [3, 4])], outs, inits, opset=19,
                      name="pad")


def conv_transpose_model() -> onnx.ModelProto:
    rng, w = _weights(303)
    inits = [init("w1", w(4, 3, 3, 3)), init("b1", w(3)), init("w2", w(4, 2, 3, 3)), init("w3", w(4, 5, 2, 2))]
    nodes = [
        node("ConvTranspose", ["x", "w1", "b1"], ["strided"], strides=[2, 2], pads=[1, 1, 1, 1],
             output_padding=[1, 1]),
        node("ConvTranspose", ["x", "w2"], ["grouped"], group=2, dilations=[2, 2], strides=[1, 2]),
        node("ConvTranspose", ["x", "w3"], ["k2s2"], strides=[2, 2]),
        node("ConvTranspose", ["x", "w1"], ["same_upper"], strides=[2, 2], auto_pad="SAME_UPPER"),
    ]
    outs = [vi(n.output[0], F, None) for n in nodes]
    return make_model(nodes, [vi("x", F, ["N", 4, 5, 5])], outs, inits, opset=14, name="conv_transpose")


def activations_model() -> onnx.ModelProto:
    inits = [
        init("lo", -1.0, np.float32), init("hi", 2.5, np.float32),
        init("slope", [[[0.1]], [[-0.2]], [[0.3]]], np.float32),
        init("ilo", -3, np.int32), init("ihi", 4, np.int32),
    ]
    nodes = [
        node("Clip", ["x", "lo", "hi"], ["clip"]),
        node("Clip", ["x", "", "hi"], ["clip_max_only"]),
        node("HardSwish", ["x"], ["hardswish"]),
        node("HardSigmoid", ["x"], ["hardsigmoid"], alpha=0.3, beta=0.4),
        node("LeakyRelu", ["x"], ["leakyrelu"], alpha=0.1),
        node("PRelu", ["x", "slope"], ["prelu"]),
        node("Sigmoid", ["x"], ["sigmoid"]),
        node("Tanh", ["x"], ["tanh"]),
        node("Clip", ["xi", "ilo", "ihi"], ["clip_int"]),
    ]
    outs = [vi(n.output[0], F, None) for n in nodes[:-1]] + [vi("clip_int", I32, None)]
    return make_model(nodes, [vi("x", F, [2, 3, 4, 5]), vi("xi", I32, [4, 5])], outs, inits, opset=14,
                      name="activations")


def _activation_feeds(model, batch, seed):
    rng = np.random.default_rng(seed)
    return {"x": rng.uniform(-5, 5, (2, 3, 4, 5)).astype(np.float32),
            "xi": rng.integers(-10, 10, (4, 5)).astype(np.int32)}


def logic_model() -> onnx.ModelProto:
    nodes = [
        node("Equal", ["a", "b"], ["eq"]),
        node("Less", ["a", "b"], ["lt"]),
        node("Greater", ["a", "b"], ["gt"]),
        node("Where", ["lt", "a", "b"], ["where"]),
        node("Where", ["c", "a", "b"], ["where_bcast"]),
        node("Cast", ["a"], ["a_int"], to=I32),
        node("Cast", ["eq"], ["eq_float"], to=F),
        node("Cast", ["a_int"], ["a_i64"], to=I64),
        node("Cast", ["a"], ["a_bool"], to=BOOL),
        node("Cast", ["b"], ["b_int"], to=I32),
        node("Equal", ["a_int", "b_int"], ["eq_int"]),
        node("Cast", ["a"], ["a_double"], to=TensorProto.DOUBLE),
        node("Cast", ["a_double"], ["a_half"], to=TensorProto.FLOAT16),
        node("Cast", ["a_half"], ["a_round_trip"], to=F),
    ]
    outs = [vi("eq", BOOL, [3, 4]), vi("lt", BOOL, [3, 4]), vi("gt", BOOL, [3, 4]), vi("where", F, [3, 4]),
            vi("where_bcast", F, [3, 4]), vi("a_int", I32, [3, 4]), vi("eq_float", F, [3, 4]),
            vi("a_i64", I64, [3, 4]), vi("a_bool", BOOL, [3, 4]), vi("eq_int", BOOL, [3, 4]),
            vi("a_round_trip", F, [3, 4])]
    return make_model(nodes, [vi("a", F, [3, 4]), vi("b", F, [4]), vi("c", BOOL, [3, 1])], outs, opset=16,
                      name="logic")


def _logic_feeds(model, batch, seed):
    rng = np.random.default_rng(seed)
    # Half-integers so that Equal hits, and Cast to int truncates -1.5 and 2.5 toward zero.
    return {"a": (rng.integers(-6, 6, (3, 4)) / 2).astype(np.float32),
            "b": (rng.integers(-6, 6, (4,)) / 2).astype(np.float32),
            "c": np.array([[True], [False], [True]])}


def reduce_model(opset: int) -> onnx.ModelProto:
    """ReduceSum/Max/Min on float and int32; axes as an input (opset 18) or ReduceMax/Min attributes (13)."""
    inits = [init("ax1", [1], np.int64), init("ax02", [0, 2], np.int64), init("ax_last", [-1], np.int64),
             init("ax01", [0, 1], np.int64), init("ax2", [2], np.int64)]

    def red(op, x, axes_init, axes, out, **kw):
        if op == "ReduceSum" or opset >= 18:
            ins = [x] + ([axes_init] if axes_init else [])
            return node(op, ins, [out], **kw)
        return node(op, [x], [out], **({"axes": axes} if axes else {}), **kw)

    nodes = [
        red("ReduceSum", "x", "ax1", [1], "sum_keep", keepdims=1),
        red("ReduceSum", "x", "ax02", [0, 2], "sum_drop", keepdims=0),
        red("ReduceSum", "x", None, None, "sum_all", keepdims=0),
        red("ReduceMax", "x", "ax_last", [-1], "max_last", keepdims=0),
        red("ReduceMin", "x", "ax01", [0, 1], "min_01", keepdims=1),
        red("ReduceSum", "xi", "ax2", [2], "isum", keepdims=1),
        red("ReduceMax", "xi", None, None, "imax_all", keepdims=1),
        red("ReduceMin", "xi", "ax1", [1], "imin", keepdims=0),
    ]
    # (noop_with_empty_axes is left out: onnxruntime 1.23 rejects it when axes are absent.)
    used = {i for n in nodes for i in n.input}
    inits = [t for t in inits if t.name in used]
    outs = [vi(n.output[0], I32 if n.input[0] == "xi" else F, None) for n in nodes]
    return make_model(nodes, [vi("x", F, [2, 3, 4]), vi("xi", I32, [2, 3, 4])], outs, inits, opset=opset,
                      name=f"reduce{opset}")


def instance_norm_model() -> onnx.ModelProto:
    rng, w = _weights(404)
    inits = [init("scale", rng.uniform(0.5, 1.5, 3).astype(np.float32)), init("bias", w(3))]
    nodes = [node("InstanceNormalization", ["x", "scale", "bias"], ["y"], epsilon=1e-4)]
    return make_model(nodes, [vi("x", F, ["N", 3, 5, 6])], [vi("y", F, ["N", 3, 5, 6])], inits, opset=15,
                      name="instance_norm")


# ---------------------------------------------------------------------------------------------
# Quantized models


def qdq_per_tensor() -> onnx.ModelProto:
    inits = [
        init("s8", 0.05, np.float32), init("zp8", 3, np.int8),
        init("su8", 0.03, np.float32), init("zpu8", 128, np.uint8),
        init("s_tie", 0.5, np.float32), init("zp_tie", 0, np.int8),
    ]
    nodes = [
        node("QuantizeLinear", ["x", "s8", "zp8"], ["q_i8"]),
        node("DequantizeLinear", ["q_i8", "s8", "zp8"], ["dq_i8"]),
        node("QuantizeLinear", ["x", "su8", "zpu8"], ["q_u8"]),
        node("DequantizeLinear", ["q_u8", "su8", "zpu8"], ["dq_u8"]),
        node("QuantizeLinear", ["x", "su8"], ["q_default_u8"]),
        node("QuantizeLinear", ["ties", "s_tie", "zp_tie"], ["q_ties"]),
    ]
    outs = [vi("q_i8", I8, None), vi("dq_i8", F, None), vi("q_u8", U8, None), vi("dq_u8", F, None),
            vi("q_default_u8", U8, None), vi("q_ties", I8, None)]
    return make_model(nodes, [vi("x", F, ["N", 3, 4, 4]), vi("ties", F, [10])], outs, inits, opset=13,
                      name="qdq_per_tensor")


def _qdq_feeds(model, batch, seed):
    rng = np.random.default_rng(seed)
    return {"x": (rng.standard_normal((batch, 3, 4, 4)) * 4).astype(np.float32),
            # Exact halves: round half to even gives 0, 2, -0, -2, 2, 4, -4, 127 (saturated), -128, 1.
            "ties": np.array([0.25, 0.75, -0.25, -0.75, 1.25, 1.75, -1.75, 100.0, -100.0, 0.3], np.float32)}


def qdq_per_axis() -> onnx.ModelProto:
    rng, w = _weights(505)
    cin, cout = 4, 6
    wq = rng.integers(-127, 128, (cout, cin, 3, 3)).astype(np.int8)
    inits = [
        init("xs", rng.uniform(0.02, 0.08, cin).astype(np.float32)),
        init("xzp", rng.integers(-10, 10, cin).astype(np.int8)),
        init("xs_u", rng.uniform(0.02, 0.08, 3).astype(np.float32)),
        init("xzp_u", rng.integers(100, 150, 3).astype(np.uint8)),
        init("wq", wq), init("ws", rng.uniform(0.001, 0.01, cout).astype(np.float32)),
        init("wzp", np.zeros(cout, np.int8)), init("bias", w(cout)),
    ]
    nodes = [
        node("QuantizeLinear", ["x", "xs", "xzp"], ["q_axis1"], axis=1),
        node("DequantizeLinear", ["q_axis1", "xs", "xzp"], ["dq_axis1"], axis=1),
        node("QuantizeLinear", ["x", "xs_u", "xzp_u"], ["q_axis_last"], axis=-1),
        node("DequantizeLinear", ["q_axis_last", "xs_u", "xzp_u"], ["dq_axis_last"], axis=-1),
        node("DequantizeLinear", ["wq", "ws", "wzp"], ["w_f"], axis=0),
        node("Conv", ["dq_axis1", "w_f", "bias"], ["conv"], pads=[1, 1, 1, 1]),
    ]
    outs = [vi("q_axis1", I8, None), vi("dq_axis1", F, None), vi("q_axis_last", U8, None),
            vi("dq_axis_last", F, None), vi("conv", F, None)]
    return make_model(nodes, [vi("x", F, ["N", cin, 3, 3])], outs, inits, opset=13, name="qdq_per_axis")


def _scaled_feeds(scale):
    def make(model, batch, seed):
        return random_feeds(model, batch, seed, float_scale=scale)
    return make


def qdq_blocked() -> onnx.ModelProto:
    """Opset 21 blocked quantization: block_size 2 along axis 1, int8 and uint8."""
    rng, _ = _weights(606)
    inits = [
        init("bs", rng.uniform(0.01, 0.05, (3, 4)).astype(np.float32)),
        init("bzp", rng.integers(-5, 5, (3, 4)).astype(np.int8)),
        init("bzp_u", rng.integers(120, 136, (3, 4)).astype(np.uint8)),
    ]
    nodes = [
        node("QuantizeLinear", ["x", "bs", "bzp"], ["q_block"], axis=1, block_size=2),
        node("DequantizeLinear", ["q_block", "bs", "bzp"], ["dq_block"], axis=1, block_size=2),
        node("QuantizeLinear", ["x", "bs", "bzp_u"], ["q_block_u8"], axis=1, block_size=2),
        node("DequantizeLinear", ["q_block_u8", "bs", "bzp_u"], ["dq_block_u8"], axis=1, block_size=2),
    ]
    outs = [vi("q_block", I8, None), vi("dq_block", F, None), vi("q_block_u8", U8, None),
            vi("dq_block_u8", F, None)]
    return make_model(nodes, [vi("x", F, [3, 8])], outs, inits, opset=21, name="qdq_blocked")


def qdq_int4() -> onnx.ModelProto:
    """Opset 21 int4/uint4: activations quantized per tensor, an int4 weight per axis feeding MatMul."""
    rng, _ = _weights(707)
    w4 = rng.integers(-8, 8, (8, 5)).astype(np.int8)
    # 4-bit tensors are made with make_tensor (numpy has no 4-bit dtype).
    inits = [
        init("s", 0.25, np.float32),
        helper.make_tensor("zp4", TensorProto.INT4, [], [-2]),
        helper.make_tensor("zpu4", TensorProto.UINT4, [], [7]),
        helper.make_tensor("w4", TensorProto.INT4, [8, 5], w4.flatten().tolist()),
        init("ws", rng.uniform(0.01, 0.1, 5).astype(np.float32)),
        init("bs", rng.uniform(0.01, 0.1, (4, 5)).astype(np.float32)),
    ]
    nodes = [
        node("QuantizeLinear", ["x", "s", "zp4"], ["q4"]),
        node("DequantizeLinear", ["q4", "s", "zp4"], ["dq_int4"]),
        node("QuantizeLinear", ["x", "s", "zpu4"], ["qu4"]),
        node("DequantizeLinear", ["qu4", "s", "zpu4"], ["dq_uint4"]),
        node("DequantizeLinear", ["w4", "ws"], ["w_f"], axis=1),
        node("MatMul", ["dq_int4", "w_f"], ["mm"]),
        node("DequantizeLinear", ["w4", "bs"], ["w_block"], axis=0, block_size=2),
    ]
    outs = [vi("dq_int4", F, None), vi("dq_uint4", F, None), vi("mm", F, None), vi("w_block", F, None)]
    return make_model(nodes, [vi("x", F, [3, 8])], outs, inits, opset=21, name="qdq_int4")


def qlinear_conv() -> onnx.ModelProto:
    rng, _ = _weights(808)
    inits = [
        init("xs", 0.02, np.float32), init("xzp", 120, np.uint8),
        # u8 x s8: within S8_WEIGHTS (conftest.ort_u8s8_saturates), and never -128.
        init("w", rng.integers(max(S8_WEIGHTS[0], -127), S8_WEIGHTS[1] + 1, (4, 3, 3, 3)).astype(np.int8)),
        init("ws", rng.uniform(0.002, 0.01, 4).astype(np.float32)), init("wzp", np.zeros(4, np.int8)),
        init("ys", 0.05, np.float32), init("yzp", 100, np.uint8),
        init("bias", rng.integers(-2000, 2000, 4).astype(np.int32)),
        # Signed activations, uint8 per-tensor weights with a zero point, grouped, strided.
        init("xs8", 0.03, np.float32), init("xzp8", -5, np.int8),
        init("w8", rng.integers(-100, 100, (4, 1, 3, 3)).astype(np.int8)),
        init("ws8", 0.004, np.float32), init("wzp8", 0, np.int8),
        init("ys8", 0.04, np.float32), init("yzp8", 3, np.int8),
    ]
    nodes = [
        node("QLinearConv", ["x", "xs", "xzp", "w", "ws", "wzp", "ys", "yzp", "bias"], ["y_u8"],
             pads=[1, 1, 1, 1]),
        node("QLinearConv", ["x8", "xs8", "xzp8", "w8", "ws8", "wzp8", "ys8", "yzp8"], ["y_i8"],
             group=4, strides=[2, 2], pads=[0, 0, 1, 1]),
    ]
    return make_model(nodes, [vi("x", U8, ["N", 3, 6, 6]), vi("x8", I8, [1, 4, 6, 6])],
                      [vi("y_u8", U8, None), vi("y_i8", I8, None)], inits, opset=13, name="qlinear_conv")


def qlinear_matmul() -> onnx.ModelProto:
    rng, _ = _weights(909)
    inits = [
        init("as", 0.02, np.float32), init("azp", 130, np.uint8),
        init("b", rng.integers(0, 256, (8, 5)).astype(np.uint8)),
        init("bs", 0.01, np.float32), init("bzp", 125, np.uint8),
        init("ys", 0.3, np.float32), init("yzp", 120, np.uint8),
        init("as8", 0.02, np.float32), init("azp8", 4, np.int8),
        init("b8", rng.integers(-128, 128, (8, 5)).astype(np.int8)),
        init("bs8", 0.01, np.float32), init("bzp8", -3, np.int8),
        init("ys8", 0.3, np.float32), init("yzp8", -2, np.int8),
    ]
    nodes = [
        node("QLinearMatMul", ["a", "as", "azp", "b", "bs", "bzp", "ys", "yzp"], ["y_u8"]),
        node("QLinearMatMul", ["a8", "as8", "azp8", "b8", "bs8", "bzp8", "ys8", "yzp8"], ["y_i8"]),
    ]
    return make_model(nodes, [vi("a", U8, ["N", 3, 8]), vi("a8", I8, [2, 8])],
                      [vi("y_u8", U8, None), vi("y_i8", I8, None)], inits, opset=13, name="qlinear_matmul")


def integer_ops() -> onnx.ModelProto:
    """ConvInteger and MatMulInteger (int32 outputs, compared exactly)."""
    rng, _ = _weights(1010)
    inits = [
        init("w", rng.integers(0, 256, (3, 2, 3, 3)).astype(np.uint8)),
        init("xzp", 128, np.uint8), init("wzp", 120, np.uint8),
        # u8 x s8: within S8_WEIGHTS (conftest.ort_u8s8_saturates).
        init("b", rng.integers(S8_WEIGHTS[0], S8_WEIGHTS[1] + 1, (6, 3)).astype(np.int8)),
        init("azp", 12, np.uint8), init("bzp", np.array([1, -2, 3], np.int8)),
        init("b_u", rng.integers(0, 256, (6, 3)).astype(np.uint8)),
    ]
    nodes = [
        node("ConvInteger", ["x", "w", "xzp", "wzp"], ["conv"], pads=[1, 1, 1, 1]),
        node("ConvInteger", ["x", "w"], ["conv_nozp"], strides=[2, 2]),
        node("MatMulInteger", ["a", "b", "azp", "bzp"], ["mm"]),
        node("MatMulInteger", ["a", "b_u"], ["mm_u8"]),
    ]
    return make_model(nodes, [vi("x", U8, [1, 2, 5, 5]), vi("a", U8, ["N", 4, 6])],
                      [vi("conv", I32, None), vi("conv_nozp", I32, None), vi("mm", I32, None),
                       vi("mm_u8", I32, None)], inits, opset=13, name="integer_ops")


def dynamic_quantize() -> onnx.ModelProto:
    nodes = [
        node("DynamicQuantizeLinear", ["x"], ["y", "y_scale", "y_zp"]),
        node("DynamicQuantizeLinear", ["pos"], ["y_pos", "s_pos", "zp_pos"]),
    ]
    return make_model(nodes, [vi("x", F, ["N", 10]), vi("pos", F, [6])],
                      [vi("y", U8, None), vi("y_scale", F, None), vi("y_zp", U8, None),
                       vi("y_pos", U8, None), vi("s_pos", F, None), vi("zp_pos", U8, None)],
                      opset=13, name="dynamic_quantize")


def _dynq_feeds(model, batch, seed):
    rng = np.random.default_rng(seed)
    return {"x": (rng.standard_normal((batch, 10)) * 3).astype(np.float32),
            # All positive: the range is widened to include 0, so the zero point is 0.
            "pos": rng.uniform(0.5, 4.0, 6).astype(np.float32)}


# ---------------------------------------------------------------------------------------------
# Models for the round-trip test only


def int4_initializer_model() -> tuple[onnx.ModelProto, np.ndarray]:
    """A model whose weight is an int4 initializer with an odd element count (packing edge)."""
    values = np.array([[-8, -7, -1, 0, 1], [2, 3, 5, 6, 7], [-3, -4, -5, -6, 4]], np.int8)
    w4 = helper.make_tensor("w4", TensorProto.INT4, list(values.shape), values.flatten().tolist())
    u4 = helper.make_tensor("u4", TensorProto.UINT4, [7], [0, 1, 2, 7, 8, 14, 15])
    inits = [w4, u4, init("ws", 0.5, np.float32)]
    nodes = [node("DequantizeLinear", ["w4", "ws"], ["w_f"]),
             node("MatMul", ["x", "w_f"], ["y"]),
             node("DequantizeLinear", ["u4", "ws"], ["u_f"])]
    model = make_model(nodes, [vi("x", F, [2, 3])], [vi("y", F, [2, 5]), vi("u_f", F, [7])], inits,
                       opset=21, name="int4_initializer")
    return model, values


CASES = [
    ModelCase("conv_net", conv_net, batches=(1, 3)),
    ModelCase("transformer_block", transformer_block, batches=(1, 3)),
    ModelCase("shape_chain", shape_chain, batches=(1, 3)),
    ModelCase("resize", resize_model),
    ModelCase("pad", pad_model),
    ModelCase("conv_transpose", conv_transpose_model, batches=(1, 3)),
    ModelCase("activations", activations_model, make_feeds=_activation_feeds),
    ModelCase("logic", logic_model, make_feeds=_logic_feeds),
    ModelCase("reduce_opset13", lambda: reduce_model(13)),
    ModelCase("reduce_opset18", lambda: reduce_model(18)),
    ModelCase("instance_norm", instance_norm_model, batches=(1, 3)),
    ModelCase("qdq_per_tensor", qdq_per_tensor, batches=(1, 3), make_feeds=_qdq_feeds),
    ModelCase("qdq_per_axis", qdq_per_axis, batches=(1, 3), make_feeds=_scaled_feeds(3.0)),
    ModelCase("qdq_blocked", qdq_blocked, make_feeds=_scaled_feeds(2.0)),
    ModelCase("qdq_int4", qdq_int4, make_feeds=_scaled_feeds(1.5)),
    ModelCase("qlinear_conv", qlinear_conv, batches=(1, 3)),
    ModelCase("qlinear_matmul", qlinear_matmul, batches=(1, 3)),
    ModelCase("integer_ops", integer_ops, batches=(1, 3)),
    ModelCase("dynamic_quantize", dynamic_quantize, batches=(1, 3), make_feeds=_dynq_feeds),
]

CASES_BY_NAME = {c.name: c for c in CASES}
