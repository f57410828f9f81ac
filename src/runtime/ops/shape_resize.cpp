// Shape/data-movement op family, part 5: Resize (opsets 10..21) and the deprecated Upsample
// (opsets 7..9). This file parses attributes and inputs and works out the output geometry; the
// interpolation itself is kernels::resize_axis_taps / resize_separable_ref.
//
// Input forms: Resize-10 is (X, scales); Resize-11+ is (X, roi, scales, sizes) with exactly one
// of scales/sizes non-empty; Resize-18 adds the axes attribute (scales/sizes/roi then cover only
// those axes) and keep_aspect_ratio_policy. Upsample-7 takes scales as an attribute, Upsample-9
// as input 1. Resize-10 and Upsample use asymmetric coordinates and onnxruntime's legacy nearest
// rounding (see kernels::ResizeNearest::Legacy).
//
// Output size from scales is floor(in * scale) computed in float, as ONNX's shape inference and
// onnxruntime do. Nearest mode moves elements by size (every dtype); linear and cubic compute in
// double and round integers half to even with saturation, as ONNX's reference does.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/ref/resize_ref.h"
#include "kernels/ref/round.h"
#include "runtime/ops/shape_internal.h"

namespace octet {
namespace {

using namespace shape_detail;
using kernels::ResizeCoord;
using kernels::ResizeMode;
using kernels::ResizeNearest;

struct ResizeOptions {
  kernels::ResizeParams params;
  double extrapolation = 0.0;
  std::string policy = "stretch";
  bool has_axes = false;
  std::vector<int64_t> axes;  // normalized; all axes when the attribute is absent
};

ResizeMode parse_mode(const Node& node) {
  const std::string m = node.attr_string("mode", "nearest");
  if (m == "nearest") return ResizeMode::Nearest;
  if (m == "linear" || m == "bilinear" || m == "trilinear") return ResizeMode::Linear;
  if (m == "cubic" || m == "bicubic") return ResizeMode::Cubic;
  throw Error(str_cat(node.describe(), ": unknown mode '", m, "'"));
}

ResizeOptions resize_options(const Node& node, int64_t opset, int64_t rank, bool upsample) {
  ResizeOptions o;
  kernels::ResizeParams& p = o.params;
  p.mode = parse_mode(node);
  if (upsample || opset < 11) {
    p.coord = ResizeCoord::Asymmetric;
    p.nearest = ResizeNearest::Legacy;
  } else {
    const std::string c = node.attr_string("coordinate_transformation_mode", "half_pixel");
    if (c == "half_pixel") p.coord = ResizeCoord::HalfPixel;
    else if (c == "half_pixel_symmetric") p.coord = ResizeCoord::HalfPixelSymmetric;
    else if (c == "pytorch_half_pixel") p.coord = ResizeCoord::PytorchHalfPixel;
    else if (c == "align_corners") p.coord = ResizeCoord::AlignCorners;
    else if (c == "asymmetric") p.coord = ResizeCoord::Asymmetric;
    else if (c == "tf_half_pixel_for_nn") p.coord = ResizeCoord::TfHalfPixelForNN;
    else if (c == "tf_crop_and_resize") p.coord = ResizeCoord::TfCropAndResize;
    else throw Error(str_cat(node.describe(), ": unknown coordinate_transformation_mode '", c, "'"));
    const std::string n = node.attr_string("nearest_mode", "round_prefer_floor");
    if (n == "round_prefer_floor") p.nearest = ResizeNearest::RoundPreferFloor;
    else if (n == "round_prefer_ceil") p.nearest = ResizeNearest::RoundPreferCeil;
    else if (n == "floor") p.nearest = ResizeNearest::Floor;
    else if (n == "ceil") p.nearest = ResizeNearest::Ceil;
    else throw Error(str_cat(node.describe(), ": unknown nearest_mode '", n, "'"));
    p.cubic_a = node.attr_float("cubic_coeff_a", -0.75f);
    p.exclude_outside = node.attr_int("exclude_outside", 0) != 0;
    p.antialias = node.attr_int("antialias", 0) != 0;
    o.extrapolation = node.attr_float("extrapolation_value", 0.f);
    o.policy = node.attr_string("keep_aspect_ratio_policy", "stretch");
    if (o.policy != "stretch" && o.policy != "not_larger" && o.policy != "not_smaller")
      throw Error(str_cat(node.describe(), ": unknown keep_aspect_ratio_policy '", o.policy, "'"));
  }
  o.has_axes = node.has_attr("axes");
  if (o.has_axes) {
    for (int64_t a : node.attr_ints("axes")) {
      const int64_t n = normalize_axis(a, rank, node);
      if (std::find(o.axes.begin(), o.axes.end(), n) != o.axes.end())
        throw Error(str_cat(node.describe(), ": axes ", shape_str(node.attr_ints("axes")), " repeat axis ", n));
      o.axes.push_back(n);
    }
  } else {
    for (int64_t i = 0; i < rank; ++i) o.axes.push_back(i);
  }
  return o;
}

std::vector<double> doubles_of(const Tensor& t, const Node& node, const char* what) {
  if (!dtype_is_float(t.dtype()))
    throw Error(str_cat(node.describe(), ": ", what, " must be a float tensor, got ", dtype_name(t.dtype())));
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[static_cast<size_t>(i)] = t.get_as_double(i);
  return v;
}

// Output geometry. in[k] < 0 means unknown (shape inference); out[k] < 0 then means unknown.
// Exactly one of scales / sizes is given, each with one value per entry of o.axes.
struct ResizeGeometry {
  std::vector<int64_t> out;
  std::vector<double> scale;  // for the coordinate transform, 1 on axes not resized
  std::vector<double> roi_start, roi_end;
};

ResizeGeometry resize_geometry(const Node& node, const ResizeOptions& o, const std::vector<int64_t>& in,
                               const std::vector<double>* scales, const std::vector<int64_t>* sizes,
                               const std::vector<double>* roi) {
  const size_t r = in.size(), k = o.axes.size();
  ResizeGeometry g;
  g.out = in;
  g.scale.assign(r, 1.0);
  g.roi_start.assign(r, 0.0);
  g.roi_end.assign(r, 1.0);
  if ((scales != nullptr) == (sizes != nullptr))
    throw Error(str_cat(node.describe(), ": exactly one of scales and sizes must be given"));
  if (scales) {
    if (scales->size() != k)
      throw Error(str_cat(node.describe(), ": scales has ", scales->size(), " values for ", k, " axes"));
    for (size_t i = 0; i < k; ++i) {
      const double s = (*scales)[i];
      if (!(s > 0) || std::isinf(s))
        throw Error(str_cat(node.describe(), ": scale ", s, " for axis ", o.axes[i], " must be positive and finite"));
      const size_t a = static_cast<size_t>(o.axes[i]);
      g.scale[a] = s;
      if (in[a] >= 0) {
        const float prod = static_cast<float>(in[a]) * static_cast<float>(s);
        if (!(prod < 9.0e18f))
          throw Error(str_cat(node.describe(), ": scale ", s, " makes axis ", a, " too large"));
        g.out[a] = static_cast<int64_t>(std::floor(prod));
      } else if (s != 1.0) {
        g.out[a] = -1;
      }
    }
  } else {
    if (sizes->size() != k)
      throw Error(str_cat(node.describe(), ": sizes has ", sizes->size(), " values for ", k, " axes"));
    for (int64_t v : *sizes)
      if (v < 0) throw Error(str_cat(node.describe(), ": sizes ", shape_str(*sizes), " has a negative value"));
    if (o.policy == "stretch") {
      for (size_t i = 0; i < k; ++i) {
        const size_t a = static_cast<size_t>(o.axes[i]);
        g.out[a] = (*sizes)[i];
        if (in[a] > 0) g.scale[a] = static_cast<double>((*sizes)[i]) / static_cast<double>(in[a]);
      }
    } else {
      bool all_known = true;
      double s = o.policy == "not_larger" ? std::numeric_limits<double>::infinity() : 0.0;
      for (size_t i = 0; i < k; ++i) {
        const int64_t d = in[static_cast<size_t>(o.axes[i])];
        if (d <= 0) {
          all_known = false;
          continue;
        }
        const double si = static_cast<double>((*sizes)[i]) / static_cast<double>(d);
        s = o.policy == "not_larger" ? std::min(s, si) : std::max(s, si);
      }
      for (size_t i = 0; i < k; ++i) {
        const size_t a = static_cast<size_t>(o.axes[i]);
        if (!all_known) {
          g.out[a] = -1;
          continue;
        }
        g.scale[a] = s;
        g.out[a] = static_cast<int64_t>(std::floor(s * static_cast<double>(in[a]) + 0.5));
      }
    }
  }
  if (o.params.coord == ResizeCoord::TfCropAndResize) {
    if (!roi)
      throw Error(str_cat(node.describe(), ": tf_crop_and_resize needs the roi input"));
    if (roi->size() != 2 * k)
      throw Error(str_cat(node.describe(), ": roi has ", roi->size(), " values, expected ", 2 * k));
    for (size_t i = 0; i < k; ++i) {
      const size_t a = static_cast<size_t>(o.axes[i]);
      g.roi_start[a] = (*roi)[i];
      g.roi_end[a] = (*roi)[k + i];
    }
  }
  return g;
}

// Converts a double result to the element type: floats by rounding to nearest, integers by
// rounding half to even and saturating (ONNX reference's saturate_cast).
template <class T>
T from_double(double v) {
  if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
    return T(static_cast<float>(v));
  } else if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(v);
  } else {
    if (std::isnan(v)) return T(0);
    const double q = kernels::round_half_even(v);
    if (q <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
    if (q >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
    return static_cast<T>(q);
  }
}

void resize_execute(OpContext& ctx, const Tensor& x, const ResizeOptions& o, const ResizeGeometry& g) {
  const size_t r = x.rank();
  std::vector<kernels::ResizeTaps> taps(r);
  for (size_t a = 0; a < r; ++a) {
    if (x.dim(a) == 0 && g.out[a] > 0)
      ctx.fail(str_cat("cannot resize axis ", a, " of size 0 to size ", g.out[a]));
    kernels::ResizeAxis ax;
    ax.in_size = x.dim(a);
    ax.out_size = g.out[a];
    ax.scale = g.scale[a];
    ax.roi_start = g.roi_start[a];
    ax.roi_end = g.roi_end[a];
    taps[a] = kernels::resize_axis_taps(ax, o.params);
  }
  Tensor out = alloc_output(ctx, x.dtype(), g.out);
  const int64_t n = out.numel();
  if (n == 0) {
    ctx.outputs[0] = out;
    return;
  }
  if (o.params.mode == ResizeMode::Nearest) {
    // One tap per output index: an index gather, valid for every dtype.
    bool any_outside = false;
    for (const auto& t : taps)
      for (uint8_t v : t.outside) any_outside = any_outside || v;
    if (any_outside) {
      const Tensor e = Tensor::scalar<double>(o.extrapolation).cast(x.dtype());
      with_mover(e, out, [&](const auto& mv) {
        for (int64_t i = 0; i < n; ++i) mv.one(i, 0);
      });
    }
    if (r == 0) {
      ctx.outputs[0] = x.clone();
      return;
    }
    const std::vector<int64_t> xs = contiguous_strides(x.shape());
    const size_t last = r - 1;
    const int64_t inner = g.out[last];
    with_mover(x, out, [&](const auto& mv) {
      std::vector<int64_t> idx(last, 0);
      for (int64_t o0 = 0; o0 < n; o0 += inner) {
        int64_t base = 0;
        bool valid = true;
        for (size_t d = 0; d < last && valid; ++d) {
          const size_t j = static_cast<size_t>(idx[d]);
          valid = !taps[d].outside[j];
          if (valid) base += taps[d].idx[static_cast<size_t>(taps[d].begin[j])] * xs[d];
        }
        if (valid) {
          const auto& t = taps[last];
          for (int64_t i = 0; i < inner; ++i)
            if (!t.outside[static_cast<size_t>(i)])
              mv.one(o0 + i, base + t.idx[static_cast<size_t>(t.begin[static_cast<size_t>(i)])]);
        }
        for (size_t d = last; d-- > 0;) {
          if (++idx[d] < g.out[d]) break;
          idx[d] = 0;
        }
      }
    });
    ctx.outputs[0] = out;
    return;
  }
  if (!dtype_is_float(x.dtype()) && !dtype_is_integer(x.dtype()))
    ctx.fail(str_cat("linear and cubic modes do not support ", dtype_name(x.dtype())));
  std::vector<double> in_d(static_cast<size_t>(x.numel())), out_d(static_cast<size_t>(n));
  for (int64_t i = 0; i < x.numel(); ++i) in_d[static_cast<size_t>(i)] = x.get_as_double(i);
  kernels::resize_separable_ref(in_d.data(), x.shape(), taps, o.extrapolation, out_d.data());
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, bool>) {
      T* dst = out.data<T>();
      for (int64_t i = 0; i < n; ++i) dst[i] = from_double<T>(out_d[static_cast<size_t>(i)]);
    }
  });
  ctx.outputs[0] = out;
}

// The scales, sizes and roi a Resize node supplies (each absent when missing or empty).
struct ResizeInputs {
  std::optional<std::vector<double>> scales, roi;
  std::optional<std::vector<int64_t>> sizes;
};

void run_resize(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const ResizeOptions o = resize_options(ctx.node, ctx.opset, static_cast<int64_t>(x.rank()), false);
  ResizeInputs in;
  const size_t scales_at = ctx.opset < 11 ? 1 : 2;
  if (input_nonempty(ctx, scales_at)) in.scales = doubles_of(ctx.input(scales_at), ctx.node, "scales");
  if (ctx.opset >= 11) {
    if (input_nonempty(ctx, 1)) in.roi = doubles_of(ctx.input(1), ctx.node, "roi");
    if (input_nonempty(ctx, 3)) in.sizes = to_int64s(ctx.input(3), ctx.node, "sizes");
  }
  const ResizeGeometry g = resize_geometry(ctx.node, o, x.shape(), in.scales ? &*in.scales : nullptr,
                                           in.sizes ? &*in.sizes : nullptr, in.roi ? &*in.roi : nullptr);
  resize_execute(ctx, x, o, g);
}

// Output dims from the geometry: known sizes, pass-through of symbolic dims that keep their size.
std::vector<Dim> geometry_dims(const TensorType& x, const std::vector<int64_t>& in, const ResizeGeometry& g,
                               const std::vector<bool>& resized) {
  std::vector<Dim> out(x.dims.size());
  for (size_t a = 0; a < out.size(); ++a) {
    if (g.out[a] >= 0) out[a] = Dim::known(g.out[a]);
    else if (in[a] < 0 && (!resized[a] || g.scale[a] == 1.0)) out[a] = x.dims[a];
  }
  return out;
}

void infer_resize_like(InferContext& ctx, bool upsample) {
  ensure_outputs(ctx);
  const TensorType& x = ctx.input(0);
  if (!x.has_shape) {
    ctx.outputs[0] = dtype_only(x.dtype);
    return;
  }
  const int64_t r = static_cast<int64_t>(x.dims.size());
  const ResizeOptions o = resize_options(ctx.node, ctx.opset, r, upsample);
  std::vector<int64_t> in;
  for (const Dim& d : x.dims) in.push_back(d.is_known() ? d.value : -1);
  std::vector<bool> resized(x.dims.size(), false);
  for (int64_t a : o.axes) resized[static_cast<size_t>(a)] = true;
  ResizeInputs ri;
  bool known = true;
  auto constant_or_unknown = [&](size_t i) -> const Tensor* {
    if (!ctx.has_input(i)) return nullptr;
    const Tensor* c = ctx.constant(i);
    if (!c) known = false;
    return c && c->numel() > 0 ? c : nullptr;
  };
  if (upsample) {
    if (!ctx.has_input(1) && ctx.node.has_attr("scales")) {
      ri.scales = std::vector<double>();
      for (float f : ctx.node.attr_floats("scales")) ri.scales->push_back(f);
    } else if (const Tensor* c = constant_or_unknown(1)) {
      ri.scales = doubles_of(*c, ctx.node, "scales");
    }
  } else {
    const size_t scales_at = ctx.opset < 11 ? 1 : 2;
    if (const Tensor* c = constant_or_unknown(scales_at)) ri.scales = doubles_of(*c, ctx.node, "scales");
    if (ctx.opset >= 11) {
      if (const Tensor* c = constant_or_unknown(3)) ri.sizes = to_int64s(*c, ctx.node, "sizes");
      if (const Tensor* c = ctx.has_input(1) ? ctx.constant(1) : nullptr; c && c->numel() > 0)
        ri.roi = doubles_of(*c, ctx.node, "roi");
    }
  }
  if (!known || (!ri.scales && !ri.sizes)) {
    std::vector<Dim> out(x.dims.size());
    for (size_t a = 0; a < out.size(); ++a)
      if (!resized[a]) out[a] = x.dims[a];
    ctx.outputs[0] = make_type(x.dtype, std::move(out));
    return;
  }
  ResizeOptions oi = o;
  // roi only matters for the data, not the shape; do not require it here.
  if (oi.params.coord == ResizeCoord::TfCropAndResize && !ri.roi) oi.params.coord = ResizeCoord::HalfPixel;
  const ResizeGeometry g = resize_geometry(ctx.node, oi, in, ri.scales ? &*ri.scales : nullptr,
                                           ri.sizes ? &*ri.sizes : nullptr, ri.roi ? &*ri.roi : nullptr);
  ctx.outputs[0] = make_type(x.dtype, geometry_dims(x, in, g, resized));
}

void infer_resize(InferContext& ctx) { infer_resize_like(ctx, false); }

// Upsample-7 (scales attribute) and Upsample-9 (scales input): floor(in * scale) per axis.
void run_upsample(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const ResizeOptions o = resize_options(ctx.node, ctx.opset, static_cast<int64_t>(x.rank()), true);
  std::vector<double> scales;
  if (ctx.has_input(1)) {
    scales = doubles_of(ctx.input(1), ctx.node, "scales");
  } else if (ctx.node.has_attr("scales")) {
    for (float f : ctx.node.attr_floats("scales")) scales.push_back(f);
  } else {
    ctx.fail("scales are required");
  }
  const ResizeGeometry g = resize_geometry(ctx.node, o, x.shape(), &scales, nullptr, nullptr);
  resize_execute(ctx, x, o, g);
}

void infer_upsample(InferContext& ctx) { infer_resize_like(ctx, true); }

}  // namespace

void register_shape_resize_ops(OpRegistry& r) {
  r.add("Resize", {run_resize, infer_resize});
  r.add("Upsample", {run_upsample, infer_upsample});
}

}  // namespace octet
