// Element-wise AVX2 kernels the engine runs between its convolutions and matmuls: per-tensor
// QuantizeLinear / DequantizeLinear, and float add / clamp (Add, Relu, Clip). Reference twins:
// quantize_value / the DequantizeLinear formula of kernels/ref/quantize_ref.h, plain loops below.
//
// Exactness: the quantize kernels compute x / scale with vdivps (IEEE division, what the
// reference's float division is), round half to even with vroundps, add the zero point and
// saturate, and map NaN to 0 as round.h's contract says: equal to quantize_value bit for bit.
// Dequantize is float(x - zp) * scale, one rounding, as the reference. Add is one float addition;
// the clamp is max(lo, .) then min(hi, .) with NaN propagated (a NaN stays NaN).
// CPU: AVX2; callers check first (fast_kernels_available()).
#pragma once

#include <cstdint>

#include "kernels/ref/quantize_ref.h"
#include "kernels/ref/reduce_ref.h"

namespace octet::kernels {

// y[i] = saturate(round_half_even(x[i] / scale) + zp) in [qmin, qmax] (NaN -> 0 before clamping).
void quantize_f32_u8_avx2(const float* x, int64_t n, float scale, int32_t zp, int32_t qmin, int32_t qmax,
                          uint8_t* y);
void quantize_f32_s8_avx2(const float* x, int64_t n, float scale, int32_t zp, int32_t qmin, int32_t qmax,
                          int8_t* y);
// y[i] = float(x[i] - zp) * scale
void dequantize_u8_f32_avx2(const uint8_t* x, int64_t n, float scale, int32_t zp, float* y);
void dequantize_s8_f32_avx2(const int8_t* x, int64_t n, float scale, int32_t zp, float* y);
// y[i] = qadd_value(a[i], b[i], p) (kernels/ref/quantize_ref.h: the quantized residual add), the
// same float operations in the same order (vcvtdq2ps, vmulps, vaddps, max/min with NaN kept, then
// quantize as above), so equal bit for bit. A, B, Y are uint8_t or int8_t; p.qmin/qmax the Y range.
// y may be a or b (of the same type): each step reads its inputs before it stores (a fused
// convolution adds its residual in place, runtime/fast/qadd.h).
template <class A, class B, class Y>
void qadd_avx2(const QAddParams& p, const A* a, const B* b, int64_t n, Y* y);
// qadd_avx2 in fewer operations, exact only for the parameters qadd_recip_exact accepts: the
// quotient by y_scale taken as a product with float(1 / y_scale), no NaN rule, the zero point
// added in int32 and the saturation to [qmin, qmax] left to the packs (Y's own range). 16 outputs
// per step. Which parameters keep every output: qadd_recip_exact<A, B, Y>(p) runs this kernel on
// all 65,536 (a, b) pairs of the types and compares each with qadd_value (~0.5 ms, at load). The
// product and the quotient differ by an ulp at most and only change the result where the sum sits
// within that of a rounding boundary, so nearly all real parameter sets pass. Its rounding is
// vcvtps2dq's, MXCSR's nearest-even mode, which all of octet's floating-point results assume (as
// qgemm_avx2.h's requantization does); a host that changes the mode changes them all.
template <class A, class B, class Y>
void qadd_recip_avx2(const QAddParams& p, const A* a, const B* b, int64_t n, Y* y);
template <class A, class B, class Y>
bool qadd_recip_exact(const QAddParams& p);
// y[i] = min(hi, max(lo, a[i] + b[i])); b == nullptr: y[i] = min(hi, max(lo, a[i])). y may alias a.
void add_clamp_f32_avx2(const float* a, const float* b, int64_t n, float lo, float hi, float* y);
// A float tensor with a float scalar, one IEEE operation per element (vaddps / vsubps / vmulps /
// vdivps, what the reference's float arithmetic is), so equal to the reference bit for bit.
// y may alias a.
enum class ScalarOp : int32_t {
  Add,   // a[i] + s
  Sub,   // a[i] - s
  RSub,  // s - a[i]
  Mul,   // a[i] * s
  Div,   // a[i] / s
  RDiv,  // s / a[i]
};
void scalar_op_f32_avx2(const float* a, int64_t n, float s, ScalarOp op, float* y);
const char* scalar_op_kernel_name(ScalarOp op);  // "sub_scalar_f32_avx2", ...

}  // namespace octet::kernels

namespace octet::kernels {

// FLOAT16 -> FLOAT32 with F16C (vcvtph2ps): exact. Reference twin: octet::half_bits_to_float
// (ir/half.h; kernels do not depend on ir, so the test compares the two).
void convert_f16_f32_f16c(const uint16_t* x, int64_t n, float* y);

// minmax_finite_f32 (kernels/ref/reduce_ref.h) on 32 floats per step: the same result, bit for
// bit (min and max of finite floats do not depend on the order; zeros come out as +0).
int64_t minmax_finite_f32_avx2(const float* x, int64_t n, float* lo, float* hi);

// minmax_finite_f32 on the AVX2 kernel where the CPU has AVX2, else on the reference: the index
// of the first NaN or infinity, or -1 with *lo and *hi set. Callable on any CPU.
inline int64_t minmax_finite_f32_best(const float* x, int64_t n, float* lo, float* hi) {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  return avx2 ? minmax_finite_f32_avx2(x, n, lo, hi) : minmax_finite_f32(x, n, lo, hi);
}

}  // namespace octet::kernels
