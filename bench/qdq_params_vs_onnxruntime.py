"""Where octet's and onnxruntime's static quantizers differ on one zoo model: placement or numbers.

Quantizes models/<name>/model.onnx with `octet quantize --method minmax` and with
onnxruntime.quantization.quantize_static (MinMax, QDQ, per-channel, uint8 activations, int8
weights: the settings of bench/ptq_vs_onnxruntime.py), on the same seeded subset of Fashion-MNIST
training images, then prints
  - each model's op counts;
  - every quantized activation (a QuantizeLinear's input) with its scale / zero point in each model,
    "-" where that model leaves the tensor in float;
  - for each constant DequantizeLinear (weights, biases) of octet's model, the largest difference
    from the same dequantized tensor of onnxruntime's model (matched by shape and value).

    .venv/bin/python bench/qdq_params_vs_onnxruntime.py lenet [--images 512] [--seed 1]
"""
import argparse
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

HERE = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("ptq_bench", HERE / "ptq_vs_onnxruntime.py")
ptq = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ptq)


def activations(m: onnx.ModelProto) -> dict:
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    out = {}
    for n in m.graph.node:
        if n.op_type == "QuantizeLinear" and n.input[0] not in inits:
            zp = int(inits[n.input[2]]) if len(n.input) > 2 and n.input[2] else 0
            out[n.input[0]] = (float(inits[n.input[1]]), zp)
    return out


def dequantized_constants(m: onnx.ModelProto) -> dict:
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    out = {}
    for n in m.graph.node:
        if n.op_type != "DequantizeLinear" or n.input[0] not in inits:
            continue
        x = inits[n.input[0]].astype(np.float64)
        s = inits[n.input[1]].astype(np.float64)
        z = inits[n.input[2]].astype(np.float64) if len(n.input) > 2 and n.input[2] else np.zeros_like(s)
        axis = next((a.i for a in n.attribute if a.name == "axis"), 1)
        if s.ndim == 1 and s.size > 1:
            shape = [1] * x.ndim
            shape[axis] = -1
            s, z = s.reshape(shape), z.reshape(shape)
        out[n.output[0]] = (x - z) * s
    return out


def op_counts(m: onnx.ModelProto) -> dict:
    c = {}
    for n in m.graph.node:
        c[n.op_type] = c.get(n.op_type, 0) + 1
    return dict(sorted(c.items()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    model = ptq.REPO / "models" / args.model / "model.onnx"
    train = ptq.idx_images("train-images-idx3-ubyte.gz")
    idx = np.sort(np.random.default_rng(args.seed).choice(len(train), args.images, replace=False))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        np.savez(tmp / "calib.npz", inputs=train[idx])
        np.save(tmp / "calib.npy", train[idx])
        subprocess.run([str(ptq.OCTET), "quantize", str(model), "-o", str(tmp / "octet.onnx"), "--quiet", "--calib",
                        str(tmp / "calib.npz"), "--calib-size", str(args.images), "--method", "minmax"], check=True)
        subprocess.run([sys.executable, "-c", ptq.ORT_CHILD, str(model), str(tmp / "ort.onnx"),
                        str(tmp / "calib.npy"), "MinMax"], check=True, capture_output=True)
        mo, mr = onnx.load(tmp / "octet.onnx"), onnx.load(tmp / "ort.onnx")
    print("octet ops:", op_counts(mo))
    print("ORT ops:  ", op_counts(mr))
    ao, ar = activations(mo), activations(mr)
    print(f"\n{'activation':<48} {'octet scale/zp':>20} {'ORT scale/zp':>20}")
    for t in sorted(set(ao) | set(ar)):
        cell = lambda p: f"{p[0]:.6g}/{p[1]}" if p else "-"
        print(f"{t:<48} {cell(ao.get(t)):>20} {cell(ar.get(t)):>20}")
    wo, wr = dequantized_constants(mo), dequantized_constants(mr)
    print(f"\n{'octet constant':<56} {'max |octet - ORT|':>18}")
    for name, v in wo.items():
        diffs = [np.max(np.abs(v - r)) for r in wr.values() if r.shape == v.shape]
        print(f"{name:<56} {min(diffs) if diffs else float('nan'):>18.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
