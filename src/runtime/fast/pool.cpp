// The engine's GlobalAveragePool on float tensors and on 8-bit ones (octet.QLinearGlobalAveragePool,
// the Q/DQ lowering's integer pool), and its 2-D MaxPool on float, uint8 and int8
// tensors (the uint8 case is a MaxPool that the Q/DQ lowering moved below a QuantizeLinear), one
// plane per task. The geometry is resolved by the
// same functions as the reference op (runtime/ops/nn_common.h), so both read the attributes alike;
// anything else (Indices output, 1-D/3-D, other types) runs the reference op.
#include "ir/error.h"
#include "kernels/avx2/pool_avx2.h"
#include "runtime/fast/fast_op.h"
#include "runtime/ops/nn_common.h"
#include "runtime/ops/quant_util.h"

namespace octet {
namespace {

class MaxPool2d : public FastOp {
 public:
  MaxPool2d(const Node& node, nn_detail::WindowSpec win, std::string precision)
      : node_(node), win_(std::move(win)), precision_(std::move(precision)) {}
  std::string kernel() const override { return "maxpool2d_avx2"; }
  std::string precision() const override { return precision_; }

  bool run(const std::vector<const Tensor*>& in, Tensor& out, ThreadPool& pool) const override {
    const Tensor& x = *in[0];
    const DType t = x.dtype();
    if (x.rank() != 4 || (t != DType::Float32 && t != DType::UInt8 && t != DType::Int8)) return false;
    nn_detail::WindowDim d[2];
    try {
      for (size_t i = 0; i < 2; ++i) d[i] = nn_detail::resolve_window_dim(node_, win_, i, x.dim(2 + i));
    } catch (const Error&) {
      return false;  // the reference op reports it
    }
    kernels::MaxPool2dParams p;
    p.in_h = x.dim(2);
    p.in_w = x.dim(3);
    p.out_h = d[0].out;
    p.out_w = d[1].out;
    p.kernel_h = win_.kernel[0];
    p.kernel_w = win_.kernel[1];
    p.stride_h = win_.strides[0];
    p.stride_w = win_.strides[1];
    p.dilation_h = win_.dilations[0];
    p.dilation_w = win_.dilations[1];
    p.pad_top = d[0].pad_begin;
    p.pad_left = d[1].pad_begin;
    if (p.out_h < 1 || p.out_w < 1) return false;
    Tensor y(t, {x.dim(0), x.dim(1), p.out_h, p.out_w}, Tensor::Uninitialized{});
    const int64_t in_plane = p.in_h * p.in_w, out_plane = p.out_h * p.out_w;
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, out_plane * p.kernel_h * p.kernel_w));
    pool.parallel_for(x.dim(0) * x.dim(1), grain, [&](int64_t b, int64_t e) {
      for (int64_t c = b; c < e; ++c) {
        if (t == DType::Float32)
          kernels::maxpool2d_f32_avx2(p, x.data<float>() + c * in_plane, y.data<float>() + c * out_plane);
        else if (t == DType::UInt8)
          kernels::maxpool2d_u8_avx2(p, x.data<uint8_t>() + c * in_plane, y.data<uint8_t>() + c * out_plane);
        else
          kernels::maxpool2d_s8_avx2(p, x.data<int8_t>() + c * in_plane, y.data<int8_t>() + c * out_plane);
      }
    });
    out = std::move(y);
    return true;
  }

 private:
  Node node_;  // a copy: the attributes, for resolve_window_dim and its messages
  nn_detail::WindowSpec win_;
  std::string precision_;
};

// GlobalAveragePool of a float tensor [N, C, spatial...], blocks of channels per task.
class GlobalAvgPool : public FastOp {
 public:
  std::string kernel() const override { return "global_avgpool_f32_avx2"; }
  std::string precision() const override { return "fp32"; }

  bool run(const std::vector<const Tensor*>& in, Tensor& out, ThreadPool& pool) const override {
    const Tensor& x = *in[0];
    if (x.dtype() != DType::Float32 || x.rank() < 2) return false;  // the reference op reports it
    Shape shape = x.shape();
    int64_t spatial = 1;
    for (size_t i = 2; i < shape.size(); ++i) spatial *= shape[i], shape[i] = 1;
    Tensor y(DType::Float32, shape, Tensor::Uninitialized{});
    const int64_t planes = x.dim(0) * x.dim(1);
    const int64_t grain = std::max<int64_t>(8, 8192 / std::max<int64_t>(1, spatial)) / 8 * 8;
    const float* xp = x.data<float>();
    float* yp = y.data<float>();
    pool.parallel_for(planes, grain, [&](int64_t b, int64_t e) {
      kernels::global_avgpool_f32_avx2(e - b, spatial, xp + b * spatial, yp + b);
    });
    out = std::move(y);
    return true;
  }
};

// octet.QLinearGlobalAveragePool of an 8-bit tensor [N, C, spatial...], blocks of planes per task;
// the parameters are read at load.
class QGlobalAvgPool : public FastOp {
 public:
  QGlobalAvgPool(const kernels::QGlobalAvgPoolParams& p, DType x, DType y) : p_(p), x_(x), y_(y) {}
  std::string kernel() const override {
    return str_cat("qglobal_avgpool_", x_ == DType::UInt8 ? "u8" : "s8", "_", y_ == DType::UInt8 ? "u8" : "s8", "_avx2");
  }
  std::string precision() const override { return "int8"; }

  bool run(const std::vector<const Tensor*>& in, Tensor& out, ThreadPool& pool) const override {
    const Tensor& x = *in[0];
    if (x.dtype() != x_ || x.rank() < 3) return false;  // the reference op reports it
    Shape shape = x.shape();
    int64_t spatial = 1;
    for (size_t i = 2; i < shape.size(); ++i) spatial *= shape[i], shape[i] = 1;
    Tensor y(y_, shape, Tensor::Uninitialized{});
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, spatial));
    quant_detail::with_8bit_types(x_, y_, [&](auto tx, auto ty) {
      using TX = decltype(tx);
      using TY = decltype(ty);
      const TX* xp = x.data<TX>();
      TY* yp = y.data<TY>();
      pool.parallel_for(x.dim(0) * x.dim(1), grain, [&](int64_t b, int64_t e) {
        kernels::qglobal_avgpool_avx2(e - b, spatial, xp + b * spatial, p_, yp + b);
      });
    });
    out = std::move(y);
    return true;
  }

 private:
  kernels::QGlobalAvgPoolParams p_;
  DType x_, y_;
};

}  // namespace

std::unique_ptr<FastOp> make_qglobal_avgpool(const FastOpContext& ctx) {
  const Node& n = ctx.node;
  if (n.domain != "octet" || n.op_type != "QLinearGlobalAveragePool" || n.inputs.size() < 4 || n.outputs.size() != 1)
    return nullptr;
  const Value* xv = ctx.graph.find_value(n.inputs[0]);
  if (!xv || xv->initializer) return nullptr;
  kernels::QGlobalAvgPoolParams p;
  const DType x = xv->type.dtype;
  DType x_zp_type = x, y = DType::Undefined;
  if (!const_qparams(ctx, 1, x, &p.x_scale, &p.x_zp, &x_zp_type) || x_zp_type != x) return nullptr;
  if (!const_qparams(ctx, 3, DType::UInt8, &p.y_scale, &p.y_zp, &y)) return nullptr;
  p.qmin = y == DType::UInt8 ? 0 : -128;
  p.qmax = y == DType::UInt8 ? 255 : 127;
  return std::make_unique<QGlobalAvgPool>(p, x, y);
}

std::unique_ptr<FastOp> make_global_avgpool(const FastOpContext& ctx) {
  const Node& n = ctx.node;
  if (!n.domain.empty() || n.op_type != "GlobalAveragePool" || n.inputs.size() != 1) return nullptr;
  return std::make_unique<GlobalAvgPool>();
}

std::unique_ptr<FastOp> make_maxpool(const FastOpContext& ctx) {
  const Node& n = ctx.node;
  if (!n.domain.empty() || n.op_type != "MaxPool" || n.inputs.size() != 1) return nullptr;
  if (n.outputs.size() > 1 && !n.outputs[1].empty()) return nullptr;  // Indices: the reference op
  if (!n.has_attr("kernel_shape") || n.attr_ints("kernel_shape").size() != 2) return nullptr;
  if (n.attr_int("storage_order", 0) != 0 && n.attr_int("storage_order", 0) != 1) return nullptr;  // reference reports it
  // The profile's precision column is read at load: 8-bit when the input is (a MaxPool the Q/DQ
  // lowering moved below a QuantizeLinear).
  const Value* x = ctx.graph.find_value(n.inputs[0]);
  const DType xt = x ? x->type.dtype : DType::Undefined;
  const std::string precision = xt == DType::UInt8 || xt == DType::Int8 ? "int8" : "fp32";
  try {
    nn_detail::WindowSpec win = nn_detail::read_window(n, 2, n.attr_ints("kernel_shape"), true);
    for (size_t i = 0; i < 2; ++i)
      if (win.kernel[i] < 1) return nullptr;
    return std::make_unique<MaxPool2d>(n, std::move(win), precision);
  } catch (const Error&) {
    return nullptr;  // malformed attributes: the reference op reports them when it runs
  }
}

}  // namespace octet
