// Float 2-D convolution on the AVX2 kernels: per image and group, im2col (skipped for 1x1 stride-1
// convolutions, whose input already is the GEMM operand) and the packed SGEMM with weights packed
// once at load, bias and a fused Relu/Clip in the epilogue. Depthwise convolutions use the direct
// depthwise kernel. Work is split into (image, group, pixel chunk) tasks over the pool.
#include <algorithm>
#include <cmath>

#include "kernels/avx2/dwconv_avx2.h"
#include "kernels/avx2/sgemm_avx2.h"
#include "runtime/fast/conv2d.h"
#include "runtime/fast/fast_op.h"
#include "runtime/fast/scratch.h"

namespace octet {
namespace {

using fast::Conv2d;

class ConvF32 : public FastOp {
 public:
  ConvF32(const Conv2d& g, const Tensor& w, const Tensor* b, float lo, float hi) : g_(g), lo_(lo), hi_(hi) {
    bias_.assign(static_cast<size_t>(g.M), 0.f);
    if (b) std::copy(b->data<float>(), b->data<float>() + g.M, bias_.begin());
    const float* wp = w.data<float>();
    if (g_.depthwise() && g_.Cg() == 1) {
      dw_weights_.assign(wp, wp + w.numel());
      return;
    }
    const int64_t Mg = g.Mg(), K = g.K();
    packed_.resize(static_cast<size_t>(g.group));
    for (int64_t gi = 0; gi < g.group; ++gi) {
      packed_[gi].resize(kernels::sgemm_packed_a_floats(Mg, K));
      kernels::sgemm_pack_a_avx2(Mg, K, wp + gi * Mg * K, K, 1, packed_[gi].data());
    }
  }

  std::string kernel() const override {
    if (!dw_weights_.empty()) return "dwconv_f32_avx2";
    return g_.kh == 1 && g_.kw == 1 && g_.sh == 1 && g_.sw == 1 ? "conv_f32_1x1_sgemm_6x16_avx2"
                                                                : "conv_f32_im2col_sgemm_6x16_avx2";
  }
  std::string precision() const override { return "fp32"; }

  bool run(const std::vector<const Tensor*>& in, Tensor& out, ThreadPool& pool) override {
    const Tensor& x = *in[0];
    if (x.dtype() != DType::Float32 || x.rank() != 4 || x.dim(1) != g_.C) return false;
    Conv2d g = g_;
    if (!fast::resolve_conv2d(&g, x.dim(2), x.dim(3))) return false;
    const int64_t N = x.dim(0), P = g.P();
    Tensor y(DType::Float32, {N, g.M, g.OH, g.OW}, Tensor::Uninitialized{});
    const float* xp = x.data<float>();
    float* yp = y.data<float>();
    if (!dw_weights_.empty()) {
      run_depthwise(g, N, xp, yp, pool);
    } else {
      const fast::ConvSplit s =
          fast::plan_conv_split(P, g.Mg(), g.K(), N * g.group, pool.size(), kernels::kSgemmMR, 512);
      pool.parallel_tasks(s.tasks(N * g.group), [&](int64_t task) {
        const fast::ConvSplit::Task t = s.task(task, g.group);
        compute(g, xp + (t.n * g.C + t.gi * g.Cg()) * g.H * g.W, t.gi, yp + (t.n * g.M + t.gi * g.Mg()) * P, t.p0,
                t.p1, t.m0, t.m1);
      });
    }
    out = std::move(y);
    return true;
  }

 private:
  void compute(const Conv2d& g, const float* x, int64_t gi, float* y, int64_t p0, int64_t p1, int64_t m0,
               int64_t m1) const {
    const int64_t K = g.K(), n = p1 - p0;
    float* packed = fast::scratch_floats(0, kernels::sgemm_packed_b_floats(K, n));
    if (g.pointwise()) {
      kernels::sgemm_pack_b_avx2(K, n, x + p0, g.H * g.W, 1, 0, n, packed);
    } else {
      float* col = fast::scratch_floats(1, static_cast<size_t>(K * n));
      fast::im2col<float>(g, x, p0, p1, 0.f, col);
      kernels::sgemm_pack_b_avx2(K, n, col, n, 1, 0, n, packed);
    }
    kernels::SgemmEpilogue ep;
    ep.bias_row = bias_.data() + gi * g.Mg();
    ep.lo = lo_;
    ep.hi = hi_;
    kernels::sgemm_packed_avx2(g.Mg(), n, K, packed_[gi].data(), packed, y + p0, g.P(), 1, ep, m0, m1, 0, n);
  }

  void run_depthwise(const Conv2d& g, int64_t N, const float* x, float* y, ThreadPool& pool) const {
    const kernels::DwConvParams p = fast::dw_params(g);
    pool.parallel_for(N * g.M, 1, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        const int64_t c = t % g.M;
        kernels::dwconv_f32_avx2(p, x + t * g.H * g.W, dw_weights_.data() + c * g.kh * g.kw, bias_[c],
                                 lo_, hi_, y + t * g.P(),
                                 fast::scratch_bytes(2, kernels::dwconv_avx2_scratch_size(p)));
      }
    });
  }

  Conv2d g_;
  float lo_, hi_;
  std::vector<float> bias_;
  std::vector<std::vector<float>> packed_;  // per group: the packed [Mg, K] weights
  std::vector<float> dw_weights_;           // depthwise: [M, kh * kw] as given
};

}  // namespace

std::unique_ptr<FastOp> make_conv_f32(const FastOpContext& ctx) {
  const Node& node = ctx.node;
  if (!node.domain.empty() || node.op_type != "Conv" || node.inputs.size() < 2) return nullptr;
  const Value* w = ctx.graph.find_value(node.inputs[1]);
  if (!w || !w->initializer || w->initializer->dtype() != DType::Float32) return nullptr;
  const Tensor* b = nullptr;
  if (node.inputs.size() > 2 && !node.inputs[2].empty()) {
    const Value* bv = ctx.graph.find_value(node.inputs[2]);
    if (!bv || !bv->initializer || bv->initializer->dtype() != DType::Float32) return nullptr;
    b = &*bv->initializer;
  }
  Conv2d g;
  if (!fast::read_conv2d(node, w->initializer->shape(), &g)) return nullptr;
  if (b && b->numel() != g.M) return nullptr;
  return std::make_unique<ConvF32>(g, *w->initializer, b, ctx.act_min, ctx.act_max);
}

}  // namespace octet
