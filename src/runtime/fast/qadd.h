// The quantized residual add (octet.QLinearAdd) of one node's parameters, on the AVX2 kernels of
// kernels/avx2/eltwise_avx2.h: the node's own fast op (eltwise.cpp) and a QLinearConv that the
// engine fused the Add into (qconv.cpp) both run it, so both give the same bits, which are
// qadd_value's (the reference op's) for every input pair.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/avx2/eltwise_avx2.h"
#include "runtime/fast/fast_op.h"

namespace octet::fast {

class QAddKernel {
 public:
  // The parameters of octet.QLinearAdd node ctx.node: per-tensor constant scales and 8-bit zero
  // points (inputs 1, 2, 4, 5, 6, 7), act_min / act_max; its operand types as inferred. False when
  // they are not such (the reference op then runs the node, and reports what is wrong).
  static bool read(const FastOpContext& ctx, QAddKernel* k);

  DType a_type() const { return a_; }
  DType b_type() const { return b_; }
  DType y_type() const { return y_; }
  std::string name() const;  // e.g. "qadd_recip_u8u8_u8_avx2"

  // y[i] = qadd_value(a[i], b[i], params) for i < n, a of a_type(), b of b_type(), y of y_type();
  // y may be a or b (each step reads its inputs before it stores).
  void run(const void* a, const void* b, int64_t n, void* y) const;

 private:
  kernels::QAddParams p_;
  DType a_ = DType::Undefined, b_ = DType::Undefined, y_ = DType::Undefined;
  bool recip_ = false;  // qadd_recip_avx2 gives qadd_value's every output for p_ (checked at load)
};

}  // namespace octet::fast
