#!/usr/bin/env python3
"""How often real INT8 weights break the bounds of two exact vpmaddubsw schemes (AVX2 without VNNI).

vpmaddubsw adds a pair of u8 x s8 products into a saturating int16. For any u8 input b in [0, 255],
a sum of weighted inputs sum_i b_i * a_i stays within int16 iff both the sum of the positive a_i
and the sum of the |negative| a_i are at most 128 (255 * 128 = 32640 <= 32767).

  - today's exact kernel (src/kernels/avx2/qgemm_avx2.h) needs that for each PAIR of a k-quad;
    each (row, quad) with an unsafe pair gets a residual entry (extra work);
  - the "pair-sum" candidate (bench/gemm_bench.cpp, BM_PeakInt8PairSum) adds the vpmaddubsw
    results of two quads in int16 before one vpmaddwd, so it needs the bound on the 4 weights an
    int16 lane sums (pair i of quad q and pair i of quad q + 1); each (row, quad pair) breaking it
    would need a residual entry.

For every int8 weight initializer of rank >= 2 in the given Q/DQ ONNX models, laid out as the
engine packs it (a 4-D convolution weight as [m][kh][kw][channels rounded up to 4], the shifted
path's order; a 2-D MatMul weight [K, N] as its N columns, the rows of the engine's transposed
A), prints both fractions per model.

    .venv/bin/python bench/int8_weight_groups.py MODEL.onnx [MODEL.onnx ...]
"""

from __future__ import annotations

import sys

import numpy as np
import onnx
from onnx import numpy_helper


def rows_of(a: np.ndarray) -> np.ndarray:
    """The weight as rows of k in the engine's packed order, zero-padded to a multiple of 8."""
    if a.ndim == 4:
        m, c, kh, kw = a.shape
        w = np.zeros((m, kh, kw, (c + 3) // 4 * 4), np.int32)
        w[..., :c] = a.transpose(0, 2, 3, 1)
        w = w.reshape(m, -1)
    elif a.ndim == 2:
        w = a.T.astype(np.int32)
    else:
        w = a.reshape(a.shape[0], -1).astype(np.int32)
    k8 = (w.shape[1] + 7) // 8 * 8
    out = np.zeros((w.shape[0], k8), np.int32)
    out[:, :w.shape[1]] = w
    return out


def breaks(group: np.ndarray) -> np.ndarray:
    """Whether the weights along the last axis can overflow int16 for some u8 input."""
    pos = np.where(group > 0, group, 0).sum(-1)
    neg = np.where(group < 0, -group, 0).sum(-1)
    return (pos > 128) | (neg > 128)


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    print(f"{'model':<40} {'weights':>8} {'quads with an unsafe pair':>26} {'quad pairs over the bound':>26}")
    for path in sys.argv[1:]:
        model = onnx.load(path)
        quads = quads_bad = pairs = pairs_bad = 0
        tensors = 0
        for init in model.graph.initializer:
            a = numpy_helper.to_array(init)
            if a.dtype != np.int8 or a.ndim < 2:
                continue
            tensors += 1
            w = rows_of(a)
            m = w.shape[0]
            q = w.reshape(m, -1, 4)  # [row][quad][4]
            unsafe_quad = breaks(q[..., 0:2]) | breaks(q[..., 2:4])
            quads += unsafe_quad.size
            quads_bad += int(unsafe_quad.sum())
            qp = w.reshape(m, -1, 2, 4)  # [row][quad pair][quad][4]
            lane0 = qp[..., 0:2].reshape(m, -1, 4)  # pair 0 of both quads
            lane1 = qp[..., 2:4].reshape(m, -1, 4)  # pair 1 of both quads
            over = breaks(lane0) | breaks(lane1)
            pairs += over.size
            pairs_bad += int(over.sum())
        if tensors == 0:
            print(f"{path:<40} no int8 weights of rank >= 2")
            continue
        print(f"{path:<40} {tensors:>8} {100 * quads_bad / quads:>25.1f}% {100 * pairs_bad / pairs:>25.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
