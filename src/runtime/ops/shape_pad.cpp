// Shape/data-movement op family, part 4: Pad.
//
// pads is [x1_begin, x2_begin, ..., x1_end, x2_end]: an attribute before opset 11, an input
// after; opset 18 adds the optional axes input that says which axes the pads are for. Negative
// pads crop. Modes: constant (value attribute before 11, constant_value input after), edge,
// reflect (mirror without repeating the border, as numpy's 'reflect'), wrap (opset 19).
// Negative and positive pads combine as "crop first, then pad the cropped tensor", so edge,
// reflect and wrap read from the cropped region.
#include <algorithm>

#include "runtime/ops/shape_internal.h"

namespace octet {
namespace {

using namespace shape_detail;

enum class PadMode { Constant, Edge, Reflect, Wrap };

PadMode pad_mode(const Node& node) {
  const std::string m = node.attr_string("mode", "constant");
  if (m == "constant") return PadMode::Constant;
  if (m == "edge") return PadMode::Edge;
  if (m == "reflect") return PadMode::Reflect;
  if (m == "wrap") return PadMode::Wrap;
  throw Error(str_cat(node.describe(), ": unknown pad mode '", m, "'"));
}

// Per-axis begin/end pads for all `rank` axes from pads (and optional axes).
void full_pads(const Node& node, int64_t rank, const std::vector<int64_t>& pads,
               const std::optional<std::vector<int64_t>>& axes, std::vector<int64_t>* begin,
               std::vector<int64_t>* end) {
  std::vector<int64_t> ax;
  if (axes) {
    for (int64_t a : *axes) {
      const int64_t n = normalize_axis(a, rank, node);
      if (std::find(ax.begin(), ax.end(), n) != ax.end())
        throw Error(str_cat(node.describe(), ": axes ", shape_str(*axes), " repeat axis ", n));
      ax.push_back(n);
    }
  } else {
    for (int64_t i = 0; i < rank; ++i) ax.push_back(i);
  }
  if (pads.size() != 2 * ax.size())
    throw Error(str_cat(node.describe(), ": pads ", shape_str(pads), " must have ", 2 * ax.size(),
                        " values (begin and end for each of ", ax.size(), " axes)"));
  begin->assign(static_cast<size_t>(rank), 0);
  end->assign(static_cast<size_t>(rank), 0);
  for (size_t i = 0; i < ax.size(); ++i) {
    (*begin)[static_cast<size_t>(ax[i])] = pads[i];
    (*end)[static_cast<size_t>(ax[i])] = pads[ax.size() + i];
  }
}

int64_t padded_dim(int64_t d, int64_t b, int64_t e, const Node& node) {
  const __int128 o = static_cast<__int128>(d) + b + e;
  if (o < 0 || o > INT64_MAX)
    throw Error(str_cat(node.describe(), ": pads ", b, " and ", e, " on an axis of size ", d,
                        " give an invalid size"));
  return static_cast<int64_t>(o);
}

// Source index along one axis for each output index, -1 where the constant value goes.
std::vector<int64_t> pad_axis_map(int64_t d, int64_t b, int64_t e, PadMode mode, const OpContext& ctx) {
  const int64_t out = padded_dim(d, b, e, ctx.node);
  const int64_t lo = std::max<int64_t>(0, -b);
  const int64_t hi = d - std::max<int64_t>(0, -e);  // region [lo, hi) that survives cropping
  const int64_t n = hi - lo;
  std::vector<int64_t> map(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    const int64_t c = o - b;  // coordinate in the uncropped input
    if (c >= lo && c < hi) {
      map[static_cast<size_t>(o)] = c;
      continue;
    }
    if (mode == PadMode::Constant) {
      map[static_cast<size_t>(o)] = -1;
      continue;
    }
    if (n <= 0)
      ctx.fail(str_cat("cannot pad an empty axis in mode '", ctx.node.attr_string("mode", ""),
                       "' (axis size ", d, ", pads ", b, ", ", e, ")"));
    int64_t rel = c - lo;
    if (mode == PadMode::Edge) {
      rel = rel < 0 ? 0 : n - 1;
    } else if (mode == PadMode::Wrap) {
      rel %= n;
      if (rel < 0) rel += n;
    } else if (n == 1) {  // reflect of a single element repeats it
      rel = 0;
    } else {
      const int64_t period = 2 * (n - 1);
      rel %= period;
      if (rel < 0) rel += period;
      if (rel >= n) rel = period - rel;
    }
    map[static_cast<size_t>(o)] = lo + rel;
  }
  return map;
}

Tensor pad_constant(const OpContext& ctx, DType dt) {
  if (input_nonempty(ctx, 2)) {
    const Tensor& v = ctx.input(2);
    if (v.dtype() != dt)
      ctx.fail(str_cat("constant_value has type ", dtype_name(v.dtype()), ", data has ", dtype_name(dt)));
    if (v.numel() != 1) ctx.fail(str_cat("constant_value must have one element, it has ", v.numel()));
    return v.reshaped({});
  }
  if (ctx.node.has_attr("value"))  // Pad-2
    return Tensor::scalar<float>(ctx.node.attr_float("value", 0.f)).cast(dt);
  return Tensor(dt, {});
}

void run_pad(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int64_t r = static_cast<int64_t>(x.rank());
  const PadMode mode = pad_mode(ctx.node);
  auto pads = ints_from_input_or_attr(ctx, 1, "pads");
  if (!pads) ctx.fail("pads are required");
  std::optional<std::vector<int64_t>> axes;
  if (ctx.has_input(3)) axes = to_int64s(ctx.input(3), ctx.node, "axes");
  std::vector<int64_t> b, e;
  full_pads(ctx.node, r, *pads, axes, &b, &e);

  std::vector<std::vector<int64_t>> maps(static_cast<size_t>(r));
  Shape out_shape(static_cast<size_t>(r));
  for (size_t i = 0; i < maps.size(); ++i) {
    maps[i] = pad_axis_map(x.dim(i), b[i], e[i], mode, ctx);
    out_shape[i] = static_cast<int64_t>(maps[i].size());
  }
  Tensor out = alloc_output(ctx, x.dtype(), out_shape);
  const int64_t n = out.numel();
  if (n == 0) {
    ctx.outputs[0] = out;
    return;
  }
  if (mode == PadMode::Constant) {
    const Tensor v = pad_constant(ctx, x.dtype());
    with_mover(v, out, [&](const auto& mv) {
      for (int64_t i = 0; i < n; ++i) mv.one(i, 0);
    });
  }
  if (r == 0) {
    ctx.outputs[0] = x.clone();
    return;
  }
  // Walk the output row by row (all dims but the last); a row whose outer coordinates hit the
  // constant region keeps the prefilled value.
  const std::vector<int64_t> xs = contiguous_strides(x.shape());
  const size_t last = static_cast<size_t>(r - 1);
  const std::vector<int64_t>& inner_map = maps[last];
  const int64_t inner = out_shape[last];
  with_mover(x, out, [&](const auto& mv) {
    std::vector<int64_t> idx(last, 0);
    for (int64_t o = 0; o < n; o += inner) {
      int64_t base = 0;
      bool valid = true;
      for (size_t d = 0; d < last && valid; ++d) {
        const int64_t s = maps[d][static_cast<size_t>(idx[d])];
        valid = s >= 0;
        base += s * xs[d];
      }
      if (valid)
        for (int64_t i = 0; i < inner; ++i)
          if (inner_map[static_cast<size_t>(i)] >= 0) mv.one(o + i, base + inner_map[static_cast<size_t>(i)]);
      for (size_t d = last; d-- > 0;) {
        if (++idx[d] < out_shape[d]) break;
        idx[d] = 0;
      }
    }
  });
  ctx.outputs[0] = out;
}

void infer_pad(InferContext& ctx) {
  ensure_outputs(ctx);
  const TensorType& x = ctx.input(0);
  pad_mode(ctx.node);
  if (!x.has_shape) {
    ctx.outputs[0] = dtype_only(x.dtype);
    return;
  }
  const int64_t r = static_cast<int64_t>(x.dims.size());
  bool kp = true;
  auto pads = infer_ints_from_input_or_attr(ctx, 1, "pads", &kp);
  std::optional<std::vector<int64_t>> axes;
  bool ka = true;
  if (ctx.has_input(3)) {
    if (const Tensor* c = ctx.constant(3)) axes = to_int64s(*c, ctx.node, "axes");
    else ka = false;
  }
  std::vector<Dim> out = x.dims;
  if (!kp || !ka || !pads) {
    if (axes) {
      for (int64_t a : *axes) out[static_cast<size_t>(normalize_axis(a, r, ctx.node))] = Dim{};
    } else {
      out.assign(out.size(), Dim{});
    }
    ctx.outputs[0] = make_type(x.dtype, std::move(out));
    return;
  }
  std::vector<int64_t> b, e;
  full_pads(ctx.node, r, *pads, axes, &b, &e);
  for (size_t i = 0; i < out.size(); ++i) {
    if (b[i] == 0 && e[i] == 0) continue;
    if (out[i].is_known()) out[i] = Dim::known(padded_dim(out[i].value, b[i], e[i], ctx.node));
    else out[i] = Dim{};
  }
  ctx.outputs[0] = make_type(x.dtype, std::move(out));
}

}  // namespace

void register_shape_pad_ops(OpRegistry& r) { r.add("Pad", {run_pad, infer_pad}); }

}  // namespace octet
