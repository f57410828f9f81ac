// The element-wise family, part 2: comparisons (Equal, Less, Greater, LessOrEqual,
// GreaterOrEqual), logical ops (Not, And, Or, Xor) and Where. Comparisons give BOOL; NaN compares
// unequal and unordered, as in IEEE and numpy. Half/BFloat16 compare as float.
#include "runtime/op_registry.h"
#include "runtime/ops/elementwise_common.h"
#include "runtime/ops/op_util.h"

namespace octet::elementwise {

namespace {

// ---- comparisons ---------------------------------------------------------------------------------

enum class Cmp { Equal, Less, Greater, LessOrEqual, GreaterOrEqual };

template <class V>
bool compare(Cmp op, const V& x, const V& y) {
  switch (op) {
    case Cmp::Equal: return x == y;
    case Cmp::Less: return x < y;
    case Cmp::Greater: return x > y;
    case Cmp::LessOrEqual: return x <= y;
    case Cmp::GreaterOrEqual: return x >= y;
  }
  return false;
}

template <class T>
void compare_loop(Cmp op, const Tensor& a, const Tensor& b, const Shape& b_view, Tensor& out) {
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  bool* po = out.data<bool>();
  for_each_broadcast2(a.shape(), b_view, out.shape(), [&](int64_t i, int64_t ia, int64_t ib) {
    if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, bool>)
      po[i] = compare(op, pa[ia], pb[ib]);
    else
      po[i] = compare(op, load(pa[ia]), load(pb[ib]));
  });
}

void run_compare(OpContext& ctx, Cmp op) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  require_same_dtype(ctx, 0, 1);
  Shape b_view;
  Tensor out(DType::Bool, binary_broadcast_shape(ctx, a.shape(), b.shape(), &b_view));
  if (a.dtype() == DType::String) {
    if (op != Cmp::Equal) ctx.fail("STRING inputs are only supported by Equal");
    compare_loop<std::string>(op, a, b, b_view, out);
  } else if (a.dtype() == DType::Bool) {
    compare_loop<bool>(op, a, b, b_view, out);
  } else {
    dispatch_numeric(ctx.node, a.dtype(), [&](auto tag) {
      compare_loop<decltype(tag)>(op, a, b, b_view, out);
    });
  }
  ctx.outputs[0] = std::move(out);
}

// ---- Not, And, Or, Xor ---------------------------------------------------------------------------

void require_bool(const OpContext& ctx, size_t i) {
  if (ctx.input(i).dtype() != DType::Bool)
    ctx.fail(str_cat("input ", i, " must be BOOL, got ", dtype_name(ctx.input(i).dtype())));
}

enum class Logic { And, Or, Xor };

void run_logic(OpContext& ctx, Logic op) {
  require_bool(ctx, 0);
  require_bool(ctx, 1);
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Shape b_view;
  Tensor out(DType::Bool, binary_broadcast_shape(ctx, a.shape(), b.shape(), &b_view));
  const bool* pa = a.data<bool>();
  const bool* pb = b.data<bool>();
  bool* po = out.data<bool>();
  for_each_broadcast2(a.shape(), b_view, out.shape(), [&](int64_t i, int64_t ia, int64_t ib) {
    const bool x = pa[ia], y = pb[ib];
    po[i] = op == Logic::And ? (x && y) : op == Logic::Or ? (x || y) : (x != y);
  });
  ctx.outputs[0] = std::move(out);
}

void run_not(OpContext& ctx) {
  require_bool(ctx, 0);
  const Tensor& x = ctx.input(0);
  Tensor out(DType::Bool, x.shape());
  const bool* px = x.data<bool>();
  bool* po = out.data<bool>();
  for (int64_t i = 0; i < x.numel(); ++i) po[i] = !px[i];
  ctx.outputs[0] = std::move(out);
}

void infer_bool_inputs(InferContext& ctx) {
  for (size_t i = 0; i < ctx.num_inputs(); ++i)
    if (ctx.has_input(i) && ctx.input(i).dtype != DType::Undefined && ctx.input(i).dtype != DType::Bool)
      ctx.fail(str_cat("input ", i, " must be BOOL, got ", dtype_name(ctx.input(i).dtype)));
}

// ---- Where ---------------------------------------------------------------------------------------

template <class T>
void where_loop(const Tensor& c, const Tensor& x, const Tensor& y, Tensor& out) {
  const Shape& os = out.shape();
  const int64_t n = out.numel();
  if (n == 0) return;
  const bool* pc = c.data<bool>();
  const T* px = x.data<T>();
  const T* py = y.data<T>();
  T* po = out.data<T>();
  const std::vector<int64_t> sc = broadcast_strides(c.shape(), os);
  const std::vector<int64_t> sx = broadcast_strides(x.shape(), os);
  const std::vector<int64_t> sy = broadcast_strides(y.shape(), os);
  std::vector<int64_t> idx(os.size(), 0);
  int64_t oc = 0, ox = 0, oy = 0;
  for (int64_t i = 0; i < n; ++i) {
    po[i] = pc[oc] ? px[ox] : py[oy];
    for (size_t d = os.size(); d-- > 0;) {  // odometer increment
      ++idx[d];
      oc += sc[d];
      ox += sx[d];
      oy += sy[d];
      if (idx[d] < os[d]) break;
      oc -= sc[d] * os[d];
      ox -= sx[d] * os[d];
      oy -= sy[d] * os[d];
      idx[d] = 0;
    }
  }
}

void run_where(OpContext& ctx) {
  const Tensor& c = ctx.input(0);
  const Tensor& x = ctx.input(1);
  const Tensor& y = ctx.input(2);
  if (c.dtype() != DType::Bool) ctx.fail(str_cat("condition must be BOOL, got ", dtype_name(c.dtype())));
  require_same_dtype(ctx, 1, 2);
  Shape os = broadcast_shapes(broadcast_shapes(c.shape(), x.shape(), ctx.node), y.shape(), ctx.node);
  Tensor out(x.dtype(), os);
  if (x.dtype() == DType::String) {
    where_loop<std::string>(c, x, y, out);
  } else {
    dispatch_dtype(x.dtype(), [&](auto tag) { where_loop<decltype(tag)>(c, x, y, out); });
  }
  ctx.outputs[0] = std::move(out);
}

void infer_where(InferContext& ctx) {
  if (ctx.outputs.empty()) return;
  const TensorType& c = ctx.input(0);
  const TensorType& x = ctx.input(1);
  const TensorType& y = ctx.input(2);
  if (c.dtype != DType::Undefined && c.dtype != DType::Bool)
    ctx.fail(str_cat("condition must be BOOL, got ", dtype_name(c.dtype)));
  if (x.dtype != DType::Undefined && y.dtype != DType::Undefined && x.dtype != y.dtype)
    ctx.fail(str_cat("X and Y must have the same element type, got ", dtype_name(x.dtype), " and ",
                     dtype_name(y.dtype)));
  TensorType out = broadcast_types(broadcast_types(c, x, ctx.node), y, ctx.node);
  out.dtype = x.dtype != DType::Undefined ? x.dtype : y.dtype;
  ctx.outputs[0] = out;
}

}  // namespace

void register_logic_ops(OpRegistry& r) {
  auto cmp = [&r](const char* name, Cmp op) {
    r.add(name, {[op](OpContext& c) { run_compare(c, op); },
                 [](InferContext& ctx) { infer_binary(ctx, DType::Bool, true); }});
  };
  cmp("Equal", Cmp::Equal);
  cmp("Less", Cmp::Less);
  cmp("Greater", Cmp::Greater);
  cmp("LessOrEqual", Cmp::LessOrEqual);
  cmp("GreaterOrEqual", Cmp::GreaterOrEqual);

  auto logic = [&r](const char* name, Logic op) {
    r.add(name, {[op](OpContext& c) { run_logic(c, op); }, [](InferContext& ctx) {
                   infer_bool_inputs(ctx);
                   infer_binary(ctx, DType::Bool, true);
                 }});
  };
  logic("And", Logic::And);
  logic("Or", Logic::Or);
  logic("Xor", Logic::Xor);
  r.add("Not", {run_not, [](InferContext& ctx) {
                  infer_bool_inputs(ctx);
                  infer_same_as_input(ctx);
                }});
  r.add("Where", {run_where, infer_where});
}

}  // namespace octet::elementwise
