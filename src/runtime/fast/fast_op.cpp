#include "runtime/fast/fast_op.h"

#include <cmath>
#include <limits>

namespace octet {

bool is_permutation(const std::vector<int64_t>& perm, size_t rank) {
  if (perm.size() != rank) return false;
  std::vector<bool> seen(rank, false);
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(rank) || seen[static_cast<size_t>(p)]) return false;
    seen[static_cast<size_t>(p)] = true;
  }
  return true;
}

const Tensor* constant_input(const FastOpContext& ctx, size_t i) {
  if (i >= ctx.node.inputs.size() || ctx.node.inputs[i].empty()) return nullptr;
  const Value* v = ctx.graph.find_value(ctx.node.inputs[i]);
  return v && v->initializer ? &*v->initializer : nullptr;
}

bool const_qparams(const FastOpContext& ctx, size_t i, DType absent_type, float* scale, int32_t* zp, DType* type) {
  const Node& n = ctx.node;
  const Tensor* s = constant_input(ctx, i);
  if (!s || s->dtype() != DType::Float32 || s->numel() != 1) return false;
  *scale = s->data<float>()[0];
  if (!(*scale > 0.f) || !std::isfinite(*scale)) return false;
  const bool has_zp = n.inputs.size() > i + 1 && !n.inputs[i + 1].empty();
  const Tensor* z = constant_input(ctx, i + 1);
  if (has_zp && (!z || z->numel() != 1)) return false;
  *type = z ? z->dtype() : absent_type;
  if (*type == DType::UInt8) *zp = z ? z->data<uint8_t>()[0] : 0;
  else if (*type == DType::Int8) *zp = z ? z->data<int8_t>()[0] : 0;
  else return false;
  return true;
}

bool activation_bounds(const Graph& g, const Node& n, float* lo, float* hi) {
  if (!n.domain.empty() || n.outputs.size() != 1) return false;
  *lo = -std::numeric_limits<float>::infinity();
  *hi = std::numeric_limits<float>::infinity();
  if (n.op_type == "Relu") {
    *lo = 0.f;
    return true;
  }
  if (n.op_type != "Clip") return false;
  if (n.has_attr("min") || n.has_attr("max")) {
    *lo = n.attr_float("min", *lo);
    *hi = n.attr_float("max", *hi);
  } else {
    for (size_t i = 1; i < n.inputs.size() && i < 3; ++i) {
      if (n.inputs[i].empty()) continue;
      const Value* v = g.find_value(n.inputs[i]);
      if (!v || !v->initializer || v->initializer->dtype() != DType::Float32 || v->initializer->numel() != 1)
        return false;
      (i == 1 ? *lo : *hi) = v->initializer->data<float>()[0];
    }
  }
  return !(std::isnan(*lo) || std::isnan(*hi) || *lo > *hi);
}

}  // namespace octet
