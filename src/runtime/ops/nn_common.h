// Private helpers of the nn op family (nn.cpp, nn_conv.cpp, nn_gemm.cpp, nn_pool.cpp,
// nn_norm.cpp): float compute types, and the sliding-window geometry shared by Conv,
// ConvTranspose and the pools. Not for use outside these files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/op_registry.h"

namespace octet {

// Sub-families, all registered from register_nn_ops (nn.cpp).
void register_nn_conv_ops(OpRegistry& r);  // Conv, ConvTranspose
void register_nn_gemm_ops(OpRegistry& r);  // Gemm, MatMul
void register_nn_pool_ops(OpRegistry& r);  // MaxPool, AveragePool, Global{Average,Max}Pool
void register_nn_norm_ops(OpRegistry& r);  // BatchNormalization, Instance-, LayerNormalization

namespace nn_detail {

// Throws octet::Error "node '...' (Op): msg".
[[noreturn]] void fail(const Node& node, const std::string& msg);

// f16, bf16, f32, f64.
bool is_float_type(DType t);
// Fails unless t is a float type; `what` names the tensor ("input X").
void require_float(const Node& node, DType t, const std::string& what);
// Fails unless a and b are the same dtype.
void require_same_dtype(const Node& node, DType a, const std::string& what_a, DType b,
                        const std::string& what_b);

// The type a float op computes in: f64 stays f64, everything else (f16, bf16, f32) is f32.
inline DType compute_dtype(DType t) {
  return t == DType::Float64 ? DType::Float64 : DType::Float32;
}
// `t` converted to compute_dtype(t.dtype()) (shares the buffer when already there).
Tensor to_compute(const Tensor& t);
// `t` converted to `want` (shares the buffer when already there).
Tensor to_dtype(const Tensor& t, DType want);

// Calls f(float{}) or f(double{}) for compute dtype t.
template <class F>
decltype(auto) dispatch_compute(DType t, F&& f) {
  if (t == DType::Float64) return f(double{});
  return f(float{});
}

// Upper bound on kernel sizes, strides, dilations, pads and output_padding read from a model, so
// that the window arithmetic on them cannot overflow int64.
constexpr int64_t kMaxWindowAttr = int64_t{1} << 31;

enum class AutoPad { NotSet, SameUpper, SameLower, Valid };
AutoPad read_auto_pad(const Node& node);

// Sliding-window attributes of Conv, ConvTranspose and the pools, for `spatial` dims.
struct WindowSpec {
  std::vector<int64_t> kernel;     // kernel_shape (or W's spatial dims); -1 where unknown
  std::vector<int64_t> strides;    // >= 1
  std::vector<int64_t> dilations;  // >= 1
  std::vector<int64_t> pads;       // begins then ends, >= 0 (NOTSET only)
  AutoPad auto_pad = AutoPad::NotSet;
  bool ceil_mode = false;
};

// Reads strides, dilations, pads, auto_pad and (when allow_ceil) ceil_mode, with ONNX defaults,
// and validates lengths and ranges. `kernel` is stored as given.
WindowSpec read_window(const Node& node, size_t spatial, std::vector<int64_t> kernel,
                       bool allow_ceil);

// The resolved geometry of one spatial dim.
struct WindowDim {
  int64_t out = -1;  // -1 when unknown
  int64_t pad_begin = 0, pad_end = 0;
};

// Output size and pads of dim i of a forward window op (Conv, pools) for input size `in`
// (-1: unknown, then out is -1). Fails when the dilated kernel does not fit the padded input.
WindowDim resolve_window_dim(const Node& node, const WindowSpec& w, size_t i, int64_t in);

// Static dims as int64 (-1 for unknown); empty when the rank is unknown.
std::vector<int64_t> known_dims(const TensorType& t);
// Builds an output type: dims[i] >= 0 becomes known; -1 becomes `pass[i]` when given (so a
// symbolic batch dim passes through), else unknown.
TensorType make_type(DType dtype, const std::vector<int64_t>& dims,
                     const std::vector<Dim>& pass = {});

}  // namespace nn_detail
}  // namespace octet
