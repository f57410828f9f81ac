// The constant parameters of a fused integer layer (octet.QLinearConv / octet.QLinearMatMul),
// read once at load and put in the form the INT8 kernels take: weights as int8 rows per output
// channel with per-row zero points, uint8-domain input zero point, per-row requantize multipliers
// formed exactly as the reference op forms them, and the output clamp.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/avx2/dwconv_avx2.h"
#include "kernels/avx2/qgemm_avx2.h"
#include "runtime/fast/fast_op.h"

namespace octet::fast {

struct QLayer {
  DType x_type = DType::UInt8;  // the input's type (int8 inputs are flipped to uint8 at run time)
  int32_t x_zp = 0;             // in the uint8 domain
  int64_t M = 0, K = 0;
  std::vector<int8_t> w;        // [M, K], int8 (uint8 weights flipped)
  std::vector<int32_t> w_zp;    // per row, in the int8 domain
  bool quantized = false;       // quantized output, else float
  DType y_type = DType::Float32;
  std::vector<float> multiplier;  // quantized: per row (w_scale[m] * x_scale) / y_scale
  int32_t y_zp = 0, lo = 0, hi = 0;
  std::vector<int32_t> bias_i32;  // quantized: per row, may be empty
  std::vector<float> scale;       // float: per row w_scale[m] * x_scale
  std::vector<float> fbias;       // float: per row, may be empty
  float act_min = 0, act_max = 0; // float output clamp (+-inf when none)

  DType out_type() const { return quantized ? y_type : DType::Float32; }
  // The kernel output description for rows [row0, ...) written at element offset `off` of y.
  kernels::QgemmOutput gemm_output(Tensor& y, int64_t off, int64_t c_rs, int64_t c_cs, int64_t row0) const;
  // The same for a buffer c of out_type() elements (a task's scratch).
  kernels::QgemmOutput gemm_output(void* c, int64_t c_rs, int64_t c_cs, int64_t row0) const;
  kernels::DwQOutput dw_output(int64_t channel) const;
  // Float output with a fused activation: the kernels do not clamp F32, so clamp here.
  void clamp_float_output(Tensor& y, ThreadPool& pool) const;
};

// Reads node inputs 1..8 and act_min/act_max. The weight (input 3) is [M, K...] when
// `weight_rows_are_channels` (Conv), else [K, M] (MatMul, channels are columns). False when a
// parameter is not a constant or the kernels cannot take it (the reference op then runs).
bool read_qlayer(const FastOpContext& ctx, int64_t M, int64_t K, bool weight_rows_are_channels, QLayer* q);

// x's bytes as uint8: x itself when UINT8, else flipped into the calling thread's scratch slot
// kInputSlot (scratch.h), valid until that thread converts another input.
const uint8_t* as_u8(const Tensor& x);

}  // namespace octet::fast
