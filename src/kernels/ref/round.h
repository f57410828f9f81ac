// The one rounding and saturation contract of octet, used by every quantizing kernel, reference or
// fast: values are rounded half to even (ONNX QuantizeLinear, numpy.rint, the FPU default mode)
// and then saturated to [qmin, qmax]. NaN quantizes to the integer 0 (what numpy's and x86's
// float-to-int conversion of NaN gives ONNX's reference); callers that must not see NaN reject it
// earlier. Kernels depend on nothing, so this header uses only the standard library.
#pragma once

#include <cmath>
#include <cstdint>

namespace octet::kernels {

// Rounds half to even without depending on the current FPU rounding mode.
inline double round_half_even(double x) {
  double r = std::round(x);  // half away from zero
  if (std::fabs(x - std::trunc(x)) == 0.5) r = 2.0 * std::round(x / 2.0);
  return r;
}

inline float round_half_even(float x) {
  float r = std::round(x);
  if (std::fabs(x - std::trunc(x)) == 0.5f) r = 2.0f * std::round(x / 2.0f);
  return r;
}

// q = saturate(round_half_even(x / scale) + zero_point) in [qmin, qmax].
// The division is done in float, as ONNX's reference and onnxruntime do.
inline int32_t quantize_value(float x, float scale, int32_t zero_point, int32_t qmin, int32_t qmax) {
  float v = x / scale;
  double q = std::isnan(v) ? 0.0 : static_cast<double>(round_half_even(v)) + zero_point;
  if (q < qmin) return qmin;
  if (q > qmax) return qmax;
  return static_cast<int32_t>(q);
}

// Saturates an integer to [qmin, qmax].
inline int32_t saturate(int64_t v, int32_t qmin, int32_t qmax) {
  return v < qmin ? qmin : (v > qmax ? qmax : static_cast<int32_t>(v));
}

}  // namespace octet::kernels
