#include "runtime/fast/qparams.h"

#include <cmath>
#include <cstdlib>
#include <limits>

#include "kernels/ref/quantize_ref.h"
#include "runtime/fast/scratch.h"

namespace octet::fast {
namespace {

bool present(const FastOpContext& ctx, size_t i) {
  return i < ctx.node.inputs.size() && !ctx.node.inputs[i].empty();
}

// Scales as float; false unless float32, all positive and finite, and 1 or n values.
bool scales(const Tensor* t, int64_t n, std::vector<float>* out) {
  if (!t || t->dtype() != DType::Float32 || (t->numel() != 1 && t->numel() != n)) return false;
  out->resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const float s = t->data<float>()[t->numel() == 1 ? 0 : i];
    if (!(s > 0.f) || !std::isfinite(s)) return false;
    (*out)[i] = s;
  }
  return true;
}

int32_t zp_value(const Tensor& t, int64_t i) {
  return t.dtype() == DType::UInt8 ? t.data<uint8_t>()[i] : t.data<int8_t>()[i];
}

}  // namespace

bool read_qlayer(const FastOpContext& ctx, int64_t M, int64_t K, bool rows_are_channels, QLayer* q) {
  const Node& node = ctx.node;
  q->M = M;
  q->K = K;
  // Input type and zero point.
  const Tensor* xzp = constant_input(ctx, 2);
  if (present(ctx, 2) && (!xzp || xzp->numel() != 1)) return false;
  if (xzp) q->x_type = xzp->dtype();
  else if (const Value* xv = ctx.graph.find_value(node.inputs[0])) q->x_type = xv->type.dtype;
  if (q->x_type != DType::UInt8 && q->x_type != DType::Int8) return false;
  if (xzp && xzp->dtype() != q->x_type) return false;
  q->x_zp = (xzp ? zp_value(*xzp, 0) : 0) + (q->x_type == DType::Int8 ? 128 : 0);
  std::vector<float> xs;
  if (!scales(constant_input(ctx, 1), 1, &xs)) return false;
  // Weights [M, K] int8 with per-row zero points.
  const Tensor* w = constant_input(ctx, 3);
  if (!w || (w->dtype() != DType::UInt8 && w->dtype() != DType::Int8) || w->numel() != M * K) return false;
  const Tensor* wzp = constant_input(ctx, 5);
  if (present(ctx, 5) && (!wzp || wzp->dtype() != w->dtype() || (wzp->numel() != 1 && wzp->numel() != M)))
    return false;
  std::vector<float> ws;
  if (!scales(constant_input(ctx, 4), M, &ws)) return false;
  const bool wu = w->dtype() == DType::UInt8;
  q->w.resize(static_cast<size_t>(M * K));
  q->w_zp.resize(static_cast<size_t>(M));
  for (int64_t m = 0; m < M; ++m) {
    q->w_zp[m] = (wzp ? zp_value(*wzp, wzp->numel() == 1 ? 0 : m) : 0) - (wu ? 128 : 0);
    for (int64_t k = 0; k < K; ++k) {
      const int64_t src = rows_are_channels ? m * K + k : k * M + m;
      const int32_t v = wu ? static_cast<int32_t>(w->data<uint8_t>()[src]) - 128 : w->data<int8_t>()[src];
      q->w[m * K + k] = static_cast<int8_t>(v);
    }
  }
  // Output.
  q->act_min = node.attr_float("act_min", -std::numeric_limits<float>::infinity());
  q->act_max = node.attr_float("act_max", std::numeric_limits<float>::infinity());
  if (std::isnan(q->act_min) || std::isnan(q->act_max) || q->act_min > q->act_max) return false;
  q->quantized = present(ctx, 6);
  const Tensor* bias = constant_input(ctx, 8);
  if (present(ctx, 8) && (!bias || bias->numel() != M)) return false;
  double max_bias = 0;
  if (q->quantized) {
    std::vector<float> ys;
    if (!scales(constant_input(ctx, 6), 1, &ys)) return false;
    const Tensor* yzp = constant_input(ctx, 7);
    if (present(ctx, 7) && (!yzp || yzp->numel() != 1)) return false;
    q->y_type = yzp ? yzp->dtype() : q->x_type;
    if (q->y_type != DType::UInt8 && q->y_type != DType::Int8) return false;
    q->y_zp = yzp ? zp_value(*yzp, 0) : 0;
    const int32_t qmin = q->y_type == DType::UInt8 ? 0 : -128, qmax = q->y_type == DType::UInt8 ? 255 : 127;
    q->lo = std::isinf(q->act_min) ? qmin : kernels::quantize_value(q->act_min, ys[0], q->y_zp, qmin, qmax);
    q->hi = std::isinf(q->act_max) ? qmax : kernels::quantize_value(q->act_max, ys[0], q->y_zp, qmin, qmax);
    q->multiplier.resize(static_cast<size_t>(M));
    for (int64_t m = 0; m < M; ++m) q->multiplier[m] = (ws[m] * xs[0]) / ys[0];  // as the reference op
    if (bias) {
      if (bias->dtype() != DType::Int32) return false;
      q->bias_i32.assign(bias->data<int32_t>(), bias->data<int32_t>() + M);
      for (int32_t b : q->bias_i32) max_bias = std::max(max_bias, std::fabs(static_cast<double>(b)));
    }
  } else {
    q->scale.resize(static_cast<size_t>(M));
    for (int64_t m = 0; m < M; ++m) q->scale[m] = ws[m] * xs[0];
    if (bias) {
      if (bias->dtype() != DType::Float32) return false;
      q->fbias.assign(bias->data<float>(), bias->data<float>() + M);
    }
  }
  // The kernels accumulate in int32 with wrap-around: take only layers whose sums always fit
  // (the reference op saturates and reports the others).
  return static_cast<double>(K) * 255.0 * 255.0 + max_bias < 2147483647.0;
}

kernels::QgemmOutput QLayer::gemm_output(Tensor& y, int64_t off, int64_t c_rs, int64_t c_cs, int64_t row0) const {
  return gemm_output(static_cast<uint8_t*>(y.raw()) + off * (quantized ? 1 : 4), c_rs, c_cs, row0);
}

kernels::QgemmOutput QLayer::gemm_output(void* c, int64_t c_rs, int64_t c_cs, int64_t row0) const {
  kernels::QgemmOutput o;
  o.c = c;
  o.c_rs = c_rs;
  o.c_cs = c_cs;
  if (quantized) {
    o.kind = y_type == DType::UInt8 ? kernels::QgemmOutput::Kind::U8 : kernels::QgemmOutput::Kind::S8;
    o.bias = bias_i32.empty() ? nullptr : bias_i32.data() + row0;
    o.multiplier = multiplier.data() + row0;
    o.zero_point = y_zp;
    o.lo = lo;
    o.hi = hi;
  } else {
    o.kind = kernels::QgemmOutput::Kind::F32;
    o.scale = scale.data() + row0;
    o.fbias = fbias.empty() ? nullptr : fbias.data() + row0;
  }
  return o;
}

kernels::DwQOutput QLayer::dw_output(int64_t c) const {
  kernels::DwQOutput o;
  if (quantized) {
    o.kind = y_type == DType::UInt8 ? kernels::DwQOutKind::U8 : kernels::DwQOutKind::S8;
    o.multiplier = multiplier[c];
    o.zero_point = y_zp;
    o.qmin = y_type == DType::UInt8 ? 0 : -128;
    o.qmax = y_type == DType::UInt8 ? 255 : 127;
    o.lo = lo;
    o.hi = hi;
  } else {
    o.kind = kernels::DwQOutKind::F32;
    o.scale = scale[c];
    o.fbias = fbias.empty() ? 0.f : fbias[c];
    o.f_lo = act_min;
    o.f_hi = act_max;
  }
  return o;
}

void QLayer::clamp_float_output(Tensor& y, ThreadPool& pool) const {
  if (quantized || (std::isinf(act_min) && std::isinf(act_max))) return;
  float* p = y.data<float>();
  const float lo = act_min, hi = act_max;
  pool.parallel_for(y.numel(), 4096, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) p[i] = std::min(std::max(p[i], lo), hi);
  });
}

const uint8_t* as_u8(const Tensor& x) {
  if (x.dtype() == DType::UInt8) return x.data<uint8_t>();
  const auto* s = reinterpret_cast<const uint8_t*>(x.data<int8_t>());
  auto* buf = static_cast<uint8_t*>(scratch_bytes(kInputSlot, static_cast<size_t>(x.numel())));
  for (int64_t i = 0; i < x.numel(); ++i) buf[i] = static_cast<uint8_t>(s[i] ^ 0x80u);
  return buf;
}

}  // namespace octet::fast
