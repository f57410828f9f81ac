#include "kernels/ref/quantize_ref.h"

#include <cmath>

namespace octet::kernels {

template <class Q>
void quantize_linear_ref(const float* x, const float* scale, const int32_t* zero_point,
                         const QuantLayout& l, int32_t qmin, int32_t qmax, Q* y) {
  int64_t idx = 0;
  for (int64_t o = 0; o < l.outer; ++o) {
    for (int64_t a = 0; a < l.axis_len; ++a) {
      const int64_t pbase = o * l.param_outer_stride + (a / l.block) * l.param_axis_stride;
      for (int64_t i = 0; i < l.inner; ++i, ++idx) {
        const int64_t p = pbase + i * l.param_inner_stride;
        const int32_t zp = zero_point ? zero_point[p] : 0;
        y[idx] = static_cast<Q>(quantize_value(x[idx], scale[p], zp, qmin, qmax));
      }
    }
  }
}

template <class Q>
void dequantize_linear_ref(const Q* x, const float* scale, const int32_t* zero_point,
                           const QuantLayout& l, float* y) {
  int64_t idx = 0;
  for (int64_t o = 0; o < l.outer; ++o) {
    for (int64_t a = 0; a < l.axis_len; ++a) {
      const int64_t pbase = o * l.param_outer_stride + (a / l.block) * l.param_axis_stride;
      for (int64_t i = 0; i < l.inner; ++i, ++idx) {
        const int64_t p = pbase + i * l.param_inner_stride;
        const int64_t zp = zero_point ? zero_point[p] : 0;
        y[idx] = static_cast<float>(static_cast<int64_t>(x[idx]) - zp) * scale[p];
      }
    }
  }
}

void dynamic_quantize_params_u8_ref(const float* x, int64_t n, float* scale, uint8_t* zero_point) {
  float lo = 0.f, hi = 0.f;  // the range always includes 0
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(x[i])) continue;
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
  }
  const float qmin = 0.f, qmax = 255.f;
  const float s = (hi == lo ? 1.f : hi - lo) / (qmax - qmin);
  // hi - lo may overflow to +inf for extreme inputs; then lo / s is -0 and the zero point is 0.
  float initial = qmin - lo / s;
  if (std::isnan(initial)) initial = 0.f;
  const float clipped = initial < qmin ? qmin : (initial > qmax ? qmax : initial);
  *scale = s;
  *zero_point = static_cast<uint8_t>(round_half_even(clipped));
}

template <class Q>
void requantize_s32_ref(const int32_t* acc, const RequantParams& p, Q* y) {
  for (int64_t r = 0; r < p.rows; ++r) {
    const float rs = p.row_scale[r * p.row_scale_stride];
    for (int64_t c = 0; c < p.cols; ++c) {
      const float multiplier = (rs * p.col_scale[c * p.col_scale_stride]) / p.out_scale;
      const int64_t i = r * p.cols + c;
      y[i] = static_cast<Q>(requantize_value(acc[i], multiplier, p.zero_point, p.qmin, p.qmax));
    }
  }
}

#define OCTET_QUANTIZE_REF_INSTANTIATE(Q)                                          \
  template void quantize_linear_ref<Q>(const float*, const float*, const int32_t*, \
                                       const QuantLayout&, int32_t, int32_t, Q*);
OCTET_QUANTIZE_REF_INSTANTIATE(uint8_t)
OCTET_QUANTIZE_REF_INSTANTIATE(int8_t)
OCTET_QUANTIZE_REF_INSTANTIATE(uint16_t)
OCTET_QUANTIZE_REF_INSTANTIATE(int16_t)
#undef OCTET_QUANTIZE_REF_INSTANTIATE

#define OCTET_DEQUANTIZE_REF_INSTANTIATE(Q)                                      \
  template void dequantize_linear_ref<Q>(const Q*, const float*, const int32_t*, \
                                         const QuantLayout&, float*);
OCTET_DEQUANTIZE_REF_INSTANTIATE(uint8_t)
OCTET_DEQUANTIZE_REF_INSTANTIATE(int8_t)
OCTET_DEQUANTIZE_REF_INSTANTIATE(uint16_t)
OCTET_DEQUANTIZE_REF_INSTANTIATE(int16_t)
OCTET_DEQUANTIZE_REF_INSTANTIATE(int32_t)
#undef OCTET_DEQUANTIZE_REF_INSTANTIATE

template void requantize_s32_ref<uint8_t>(const int32_t*, const RequantParams&, uint8_t*);
template void requantize_s32_ref<int8_t>(const int32_t*, const RequantParams&, int8_t*);

}  // namespace octet::kernels
