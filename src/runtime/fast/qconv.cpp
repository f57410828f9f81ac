// octet.QLinearConv on the exact INT8 kernels: per image and group, im2col of the uint8 input
// (padding with the zero point, so padded taps contribute 0) into the packed u8 x s8 GEMM with the
// weights packed once at load, and the requantize (or dequantize) epilogue; depthwise convolutions
// use the direct depthwise kernel. int8 inputs are made uint8 by flipping the top bit (x + 128,
// zero point + 128), uint8 weights int8 the same way; both leave every (x - x_zp)(w - w_zp) term
// unchanged, so the result equals the reference op (quant_fused.cpp) bit for bit.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/avx2/dwconv_avx2.h"
#include "kernels/avx2/qgemm_avx2.h"
#include "kernels/ref/quantize_ref.h"
#include "runtime/fast/conv2d.h"
#include "runtime/fast/fast_op.h"
#include "runtime/fast/qparams.h"
#include "runtime/fast/scratch.h"

namespace octet {
namespace {

using fast::Conv2d;

class QConv : public FastOp {
 public:
  QConv(const Conv2d& g, fast::QLayer layer) : g_(g), q_(std::move(layer)) {
    const int64_t K = g.K();
    if (g.depthwise() && g.Cg() == 1) return;  // direct kernel reads q_.w as is
    packed_.resize(static_cast<size_t>(g.group));
    for (int64_t gi = 0; gi < g.group; ++gi) {
      packed_[gi].resize(kernels::qgemm_packed_a_bytes(g.Mg(), K));
      kernels::qgemm_pack_a_s8_avx2(g.Mg(), K, q_.w.data() + gi * g.Mg() * K, K, 1, q_.w_zp.data() + gi * g.Mg(),
                                    packed_[gi].data(), isa_);
      // The size bound allows a residual for every quad; keep what the weights needed.
      packed_[gi].resize(kernels::qgemm_packed_a_info(packed_[gi].data()).used_bytes);
      packed_[gi].shrink_to_fit();
    }
    q_.w = {};  // packed now; only the depthwise path reads the plain weights
  }

  std::string kernel() const override {
    if (packed_.empty()) return "dwconv_u8s8_avx2";
    return std::string(g_.kh == 1 && g_.kw == 1 && g_.sh == 1 && g_.sw == 1 ? "conv_u8s8_1x1_qgemm_"
                                                                            : "conv_u8s8_im2col_qgemm_") +
           kernels::qgemm_tile_name(isa_);
  }
  std::string precision() const override { return "int8"; }

  bool run(const std::vector<const Tensor*>& in, Tensor& out, ThreadPool& pool) override {
    const Tensor& x = *in[0];
    if (x.dtype() != q_.x_type || x.rank() != 4 || x.dim(1) != g_.C) return false;
    Conv2d g = g_;
    if (!fast::resolve_conv2d(&g, x.dim(2), x.dim(3))) return false;
    const int64_t N = x.dim(0), P = g.P();
    const uint8_t* xp = fast::as_u8(x, xbuf_);
    Tensor y(q_.out_type(), {N, g.M, g.OH, g.OW}, Tensor::Uninitialized{});
    if (packed_.empty()) {
      run_depthwise(g, N, xp, y, pool);
    } else {
      const fast::ConvSplit s = fast::plan_conv_split(P, g.Mg(), g.K(), N * g.group, pool.size(), kernels::kQgemmMR, 1024);
      pool.parallel_tasks(s.tasks(N * g.group), [&](int64_t task) {
        const fast::ConvSplit::Task t = s.task(task, g.group);
        compute(g, xp + (t.n * g.C + t.gi * g.Cg()) * g.H * g.W, t.gi, y, (t.n * g.M + t.gi * g.Mg()) * P, t.p0, t.p1,
                t.m0, t.m1);
      });
      q_.clamp_float_output(y, pool);  // the GEMM's F32 output has no clamp; the depthwise kernel's has
    }
    out = std::move(y);
    return true;
  }

 private:
  // Output pixels [p0, p1) of group gi of one image; y_off is the element offset of the group's
  // first channel plane in y.
  void compute(const Conv2d& g, const uint8_t* x, int64_t gi, Tensor& y, int64_t y_off, int64_t p0,
               int64_t p1, int64_t m0, int64_t m1) const {
    const int64_t K = g.K(), n = p1 - p0;
    void* packed = fast::scratch_bytes(0, kernels::qgemm_packed_b_bytes(K, n));
    if (g.pointwise()) {
      kernels::qgemm_pack_b_u8_avx2(K, n, x + p0, g.H * g.W, 1, q_.x_zp, 0, n, packed);
    } else {
      auto* col = static_cast<uint8_t*>(fast::scratch_bytes(1, static_cast<size_t>(K * n)));
      fast::im2col<uint8_t>(g, x, p0, p1, static_cast<uint8_t>(q_.x_zp), col);
      kernels::qgemm_pack_b_u8_avx2(K, n, col, n, 1, q_.x_zp, 0, n, packed);
    }
    kernels::QgemmOutput o = q_.gemm_output(y, y_off + p0, g.P(), 1, gi * g.Mg());
    kernels::qgemm_packed_avx2(g.Mg(), n, K, packed_[gi].data(), packed, o, m0, m1, 0, n);
  }

  void run_depthwise(const Conv2d& g, int64_t N, const uint8_t* x, Tensor& y, ThreadPool& pool) const {
    const kernels::DwConvParams p = fast::dw_params(g);
    const size_t elem = y.dtype() == DType::Float32 ? 4 : 1;
    auto* yb = static_cast<uint8_t*>(y.raw());
    pool.parallel_for(N * g.M, 1, [&](int64_t b, int64_t e) {
      void* scratch = fast::scratch_bytes(2, kernels::dwconv_avx2_scratch_size(p));
      for (int64_t t = b; t < e; ++t) {
        const int64_t c = t % g.M;
        kernels::dwconv_u8s8_avx2(p, x + t * g.H * g.W, q_.x_zp, q_.w.data() + c * g.kh * g.kw, q_.w_zp[c],
                                  q_.bias_i32.empty() ? 0 : q_.bias_i32[c], q_.dw_output(c),
                                  yb + t * g.P() * elem, scratch);
      }
    });
  }

  Conv2d g_;
  kernels::QgemmIsa isa_ = kernels::qgemm_default_isa();  // the tile loop the weights are packed for
  fast::QLayer q_;
  std::vector<std::vector<uint8_t>> packed_;
  std::vector<uint8_t> xbuf_;  // int8 input flipped to uint8
};

}  // namespace

std::unique_ptr<FastOp> make_qconv(const FastOpContext& ctx) {
  const Node& node = ctx.node;
  if (node.domain != "octet" || node.op_type != "QLinearConv" || node.inputs.size() < 6) return nullptr;
  const Value* w = ctx.graph.find_value(node.inputs[3]);
  if (!w || !w->initializer) return nullptr;
  Conv2d g;
  if (!fast::read_conv2d(node, w->initializer->shape(), &g)) return nullptr;
  fast::QLayer layer;
  if (!fast::read_qlayer(ctx, g.M, g.K(), /*weight_rows_are_channels=*/true, &layer)) return nullptr;
  return std::make_unique<QConv>(g, std::move(layer));
}

}  // namespace octet
