// The libtorch bridge, reductions: Reduce{Sum,Mean,Max,Min,Prod,L1,L2,LogSum,LogSumExp,
// SumSquare}, Softmax, LogSoftmax, CumSum, TopK (values gathered from the executor's indices, so
// ties break as the executor's do and the gradient reaches the input); ArgMax, ArgMin and Hardmax
// run on the executor. Axes: attribute or input form, as src/runtime/ops/reduce.cpp.
#include <algorithm>

#include "train/torch_ops.h"

namespace octet::train::detail {
namespace {

enum class Reduce { Sum, Mean, Max, Min, Prod, L1, L2, LogSum, LogSumExp, SumSquare };

void run_reduce(OpCall& c, Reduce op) {
  const at::Tensor& x = c.x(0);
  if (!at::isFloatingType(x.scalar_type())) {
    run_on_executor(c);
    return;
  }
  const bool keepdims = c.node.attr_int("keepdims", 1) != 0;
  const bool noop = c.node.attr_int("noop_with_empty_axes", 0) != 0;
  std::vector<int64_t> axes;
  if (c.has(1)) {
    if (c.node.has_attr("axes")) c.fail("axes are given both as an attribute and as an input");
    if (c.x(1).dim() > 1) c.fail("axes input must be a 1-D tensor");
    axes = c.ints(1, "axes input");
  } else {
    axes = c.node.attr_ints("axes", {});
  }
  const int64_t r = x.dim();
  std::vector<int64_t> dims;
  for (int64_t a : axes) {
    if (a < -r || a >= r) c.fail(str_cat("axis ", a, " is out of range for an input of rank ", r));
    const int64_t d = a < 0 ? a + r : a;
    if (std::find(dims.begin(), dims.end(), d) != dims.end())
      c.fail(str_cat("axes ", shape_str(axes), " name dimension ", d, " twice"));
    dims.push_back(d);
  }
  if (axes.empty() && !noop)
    for (int64_t d = 0; d < r; ++d) dims.push_back(d);
  std::sort(dims.begin(), dims.end());
  // The element-wise part applies even when nothing is reduced (noop with empty axes).
  auto sum = [&](const at::Tensor& v) { return dims.empty() ? v.clone() : at::sum(v, dims, keepdims); };
  at::Tensor y;
  switch (op) {
    case Reduce::Sum:
      y = sum(x);
      break;
    case Reduce::Mean:
      y = dims.empty() ? x.clone() : at::mean(x, dims, keepdims);
      break;
    case Reduce::Max:
      y = dims.empty() ? x.clone() : at::amax(x, dims, keepdims);
      break;
    case Reduce::Min:
      y = dims.empty() ? x.clone() : at::amin(x, dims, keepdims);
      break;
    case Reduce::Prod: {
      y = x;
      for (size_t i = dims.size(); i-- > 0;) y = at::prod(y, dims[i], keepdims);
      if (dims.empty()) y = x.clone();
      break;
    }
    case Reduce::L1:
      y = sum(at::abs(x));
      break;
    case Reduce::L2:
      y = at::sqrt(sum(x * x));
      break;
    case Reduce::LogSum:
      y = at::log(sum(x));
      break;
    case Reduce::LogSumExp:
      y = dims.empty() ? x.clone() : at::logsumexp(x, dims, keepdims);
      break;
    case Reduce::SumSquare:
      y = sum(x * x);
      break;
  }
  c.set(0, y);
}

// Opset >= 13 along `axis` (default -1); before, over all dims from `axis` (default 1).
void run_softmax(OpCall& c, bool log) {
  c.require_float(0, "input");
  const at::Tensor& x = c.x(0);
  const int64_t r = x.dim();
  const bool coerce = c.opset < 13;
  const int64_t axis_attr = c.node.attr_int("axis", coerce ? 1 : -1);
  if (coerce && r > 0 && axis_attr == r) {  // one element per row
    c.set(0, log ? x - x : at::ones_like(x));
    return;
  }
  if (axis_attr < -r || axis_attr >= r)
    c.fail(str_cat("axis ", axis_attr, " is out of range for an input of rank ", r));
  const int64_t axis = axis_attr < 0 ? axis_attr + r : axis_attr;
  if (!coerce) {
    c.set(0, log ? at::log_softmax(x, axis) : at::softmax(x, axis));
    return;
  }
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < r; ++d) (d < axis ? outer : inner) *= x.size(d);
  const at::Tensor flat = x.reshape({outer, inner});
  c.set(0, (log ? at::log_softmax(flat, 1) : at::softmax(flat, 1)).reshape(x.sizes()));
}

// Exclusive and reverse as the executor: reverse sums from the end; exclusive shifts by one.
void run_cumsum(OpCall& c) {
  const at::Tensor& x = c.x(0);
  if (!at::isFloatingType(x.scalar_type())) {
    run_on_executor(c);
    return;
  }
  if (x.dim() == 0) c.fail("input must have rank >= 1");
  const std::vector<int64_t> a = c.ints(1, "axis");
  if (a.size() != 1) c.fail("axis must hold exactly one value");
  const int64_t axis = norm_axis(c, a[0], x.dim());
  const bool exclusive = c.node.attr_int("exclusive", 0) != 0;
  const bool reverse = c.node.attr_int("reverse", 0) != 0;
  at::Tensor v = reverse ? x.flip({axis}) : x;
  at::Tensor s = at::cumsum(v, axis);
  if (exclusive) {
    const int64_t n = v.size(axis);
    s = n == 0 ? s : at::cat({at::zeros_like(v.narrow(axis, 0, 1)), s.narrow(axis, 0, n - 1)}, axis);
  }
  c.set(0, reverse ? s.flip({axis}) : s);
}

void run_topk(OpCall& c) {
  run_on_executor(c);  // values and indices, ties broken as the executor's
  const at::Tensor& x = c.x(0);
  if (!at::isFloatingType(x.scalar_type()) || !x.requires_grad()) return;
  const int64_t axis = norm_axis(c, c.node.attr_int("axis", -1), x.dim());
  const TValue indices = c.out[1];
  c.set(0, at::gather(x, axis, indices.t.to(at::kLong)), c.dtype(0));
}

}  // namespace

void add_reduce_ops(OpTable& t) {
  const std::pair<const char*, Reduce> reduces[] = {
      {"ReduceSum", Reduce::Sum},
      {"ReduceMean", Reduce::Mean},
      {"ReduceMax", Reduce::Max},
      {"ReduceMin", Reduce::Min},
      {"ReduceProd", Reduce::Prod},
      {"ReduceL1", Reduce::L1},
      {"ReduceL2", Reduce::L2},
      {"ReduceLogSum", Reduce::LogSum},
      {"ReduceLogSumExp", Reduce::LogSumExp},
      {"ReduceSumSquare", Reduce::SumSquare},
  };
  for (const auto& [name, op] : reduces) {
    const Reduce o = op;
    t[name] = OpMapping{[o](OpCall& c) { run_reduce(c, o); }, {1}};
  }
  t["Softmax"] = OpMapping{[](OpCall& c) { run_softmax(c, false); }, {}};
  t["LogSoftmax"] = OpMapping{[](OpCall& c) { run_softmax(c, true); }, {}};
  t["CumSum"] = OpMapping{run_cumsum, {1}};
  t["TopK"] = OpMapping{run_topk, {1}};
  for (const char* name : {"ArgMax", "ArgMin", "Hardmax"}) t[name] = executor_mapping();
}

}  // namespace octet::train::detail
