#include "runtime/fast/qadd.h"

#include <cmath>
#include <limits>
#include <type_traits>

#include "ir/error.h"

namespace octet::fast {
namespace {

// f(A*, B*, Y*) with null pointers of the three element types (uint8_t or int8_t each).
template <class F>
bool dispatch(DType a, DType b, DType y, F f) {
  auto with_y = [&](auto* ap, auto* bp) {
    return y == DType::UInt8 ? f(ap, bp, static_cast<uint8_t*>(nullptr)) : f(ap, bp, static_cast<int8_t*>(nullptr));
  };
  auto with_b = [&](auto* ap) {
    return b == DType::UInt8 ? with_y(ap, static_cast<uint8_t*>(nullptr)) : with_y(ap, static_cast<int8_t*>(nullptr));
  };
  return a == DType::UInt8 ? with_b(static_cast<uint8_t*>(nullptr)) : with_b(static_cast<int8_t*>(nullptr));
}

}  // namespace

bool QAddKernel::read(const FastOpContext& ctx, QAddKernel* k) {
  const Node& n = ctx.node;
  if (n.domain != "octet" || n.op_type != "QLinearAdd" || n.inputs.size() < 7 || n.outputs.size() != 1) return false;
  const Value* av = ctx.graph.find_value(n.inputs[0]);
  const Value* bv = ctx.graph.find_value(n.inputs[3]);
  if (!av || !bv) return false;
  QAddKernel r;
  r.a_ = av->type.dtype;
  r.b_ = bv->type.dtype;
  auto eight_bit = [](DType t) { return t == DType::UInt8 || t == DType::Int8; };
  if (!eight_bit(r.a_) || !eight_bit(r.b_)) return false;
  DType a_zp_type = r.a_, b_zp_type = r.b_;
  if (!const_qparams(ctx, 1, r.a_, &r.p_.a_scale, &r.p_.a_zp, &a_zp_type) || a_zp_type != r.a_) return false;
  if (!const_qparams(ctx, 4, r.b_, &r.p_.b_scale, &r.p_.b_zp, &b_zp_type) || b_zp_type != r.b_) return false;
  if (!const_qparams(ctx, 6, DType::UInt8, &r.p_.y_scale, &r.p_.y_zp, &r.y_)) return false;
  r.p_.qmin = r.y_ == DType::UInt8 ? 0 : -128;
  r.p_.qmax = r.y_ == DType::UInt8 ? 255 : 127;
  r.p_.lo = n.attr_float("act_min", -std::numeric_limits<float>::infinity());
  r.p_.hi = n.attr_float("act_max", std::numeric_limits<float>::infinity());
  if (std::isnan(r.p_.lo) || std::isnan(r.p_.hi) || r.p_.lo > r.p_.hi) return false;
  r.recip_ = dispatch(r.a_, r.b_, r.y_, [&](auto* ap, auto* bp, auto* yp) {
    return kernels::qadd_recip_exact<std::remove_pointer_t<decltype(ap)>, std::remove_pointer_t<decltype(bp)>,
                                     std::remove_pointer_t<decltype(yp)>>(r.p_);
  });
  *k = r;
  return true;
}

std::string QAddKernel::name() const {
  auto t = [](DType d) { return d == DType::UInt8 ? "u8" : "s8"; };
  return str_cat(recip_ ? "qadd_recip_" : "qadd_", t(a_), t(b_), "_", t(y_), "_avx2");
}

void QAddKernel::run(const void* a, const void* b, int64_t n, void* y) const {
  dispatch(a_, b_, y_, [&](auto* ap, auto* bp, auto* yp) {
    using A = std::remove_pointer_t<decltype(ap)>;
    using B = std::remove_pointer_t<decltype(bp)>;
    using Y = std::remove_pointer_t<decltype(yp)>;
    const A* x0 = static_cast<const A*>(a);
    const B* x1 = static_cast<const B*>(b);
    Y* out = static_cast<Y*>(y);
    if (recip_) kernels::qadd_recip_avx2(p_, x0, x1, n, out);
    else kernels::qadd_avx2(p_, x0, x1, n, out);
    return true;
  });
}

}  // namespace octet::fast
