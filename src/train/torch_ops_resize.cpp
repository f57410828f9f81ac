// The libtorch bridge, Resize (opsets 10..21) and Upsample (7..9). The output geometry repeats
// src/runtime/ops/shape_resize.cpp; the per-axis interpolation taps come from the executor's own
// kernel (kernels::resize_axis_taps), so every mode, coordinate transform, nearest rounding,
// cubic coefficient, antialias and crop box is the executor's. The taps are applied axis by
// axis, innermost first as the executor: nearest as an index gather, linear and cubic as a
// product with the [out, in] weight matrix, so the gradient reaches X. Non-float X (nearest on
// integers) runs on the executor.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/ref/resize_ref.h"
#include "train/torch_ops.h"

namespace octet::train::detail {
namespace {

using kernels::ResizeCoord;
using kernels::ResizeMode;
using kernels::ResizeNearest;

struct Options {
  kernels::ResizeParams params;
  double extrapolation = 0.0;
  std::string policy = "stretch";
  std::vector<int64_t> axes;
};

Options read_options(const OpCall& c, int64_t rank, bool upsample) {
  Options o;
  kernels::ResizeParams& p = o.params;
  const std::string m = c.node.attr_string("mode", "nearest");
  if (m == "nearest")
    p.mode = ResizeMode::Nearest;
  else if (m == "linear" || m == "bilinear" || m == "trilinear")
    p.mode = ResizeMode::Linear;
  else if (m == "cubic" || m == "bicubic")
    p.mode = ResizeMode::Cubic;
  else
    c.fail(str_cat("unknown mode '", m, "'"));
  if (upsample || c.opset < 11) {
    p.coord = ResizeCoord::Asymmetric;
    p.nearest = ResizeNearest::Legacy;
  } else {
    static const std::map<std::string, ResizeCoord> coords = {
        {"half_pixel", ResizeCoord::HalfPixel},
        {"half_pixel_symmetric", ResizeCoord::HalfPixelSymmetric},
        {"pytorch_half_pixel", ResizeCoord::PytorchHalfPixel},
        {"align_corners", ResizeCoord::AlignCorners},
        {"asymmetric", ResizeCoord::Asymmetric},
        {"tf_half_pixel_for_nn", ResizeCoord::TfHalfPixelForNN},
        {"tf_crop_and_resize", ResizeCoord::TfCropAndResize}};
    static const std::map<std::string, ResizeNearest> nearests = {
        {"round_prefer_floor", ResizeNearest::RoundPreferFloor},
        {"round_prefer_ceil", ResizeNearest::RoundPreferCeil},
        {"floor", ResizeNearest::Floor},
        {"ceil", ResizeNearest::Ceil}};
    const std::string cm = c.node.attr_string("coordinate_transformation_mode", "half_pixel");
    const std::string nm = c.node.attr_string("nearest_mode", "round_prefer_floor");
    if (!coords.count(cm)) c.fail(str_cat("unknown coordinate_transformation_mode '", cm, "'"));
    if (!nearests.count(nm)) c.fail(str_cat("unknown nearest_mode '", nm, "'"));
    p.coord = coords.at(cm);
    p.nearest = nearests.at(nm);
    p.cubic_a = c.node.attr_float("cubic_coeff_a", -0.75f);
    p.exclude_outside = c.node.attr_int("exclude_outside", 0) != 0;
    p.antialias = c.node.attr_int("antialias", 0) != 0;
    o.extrapolation = c.node.attr_float("extrapolation_value", 0.f);
    o.policy = c.node.attr_string("keep_aspect_ratio_policy", "stretch");
    if (o.policy != "stretch" && o.policy != "not_larger" && o.policy != "not_smaller")
      c.fail(str_cat("unknown keep_aspect_ratio_policy '", o.policy, "'"));
  }
  if (c.node.has_attr("axes")) {
    for (int64_t a : c.node.attr_ints("axes")) {
      const int64_t n = norm_axis(c, a, rank);
      if (std::find(o.axes.begin(), o.axes.end(), n) != o.axes.end())
        c.fail(str_cat("axes ", shape_str(c.node.attr_ints("axes")), " repeat axis ", n));
      o.axes.push_back(n);
    }
  } else {
    for (int64_t i = 0; i < rank; ++i) o.axes.push_back(i);
  }
  return o;
}

std::vector<double> doubles(const OpCall& c, size_t i, const char* what) {
  if (!dtype_is_float(c.dtype(i)))
    c.fail(str_cat(what, " must be a float tensor, got ", dtype_name(c.dtype(i))));
  const at::Tensor t = c.x(i).detach().to(at::kDouble).contiguous();
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

bool nonempty(const OpCall& c, size_t i) { return c.has(i) && c.x(i).numel() > 0; }

// Per-axis sizes and the scale each axis' coordinate transform sees; as resize_geometry.
void geometry(const OpCall& c, const Options& o, const std::vector<int64_t>& in,
              const std::optional<std::vector<double>>& scales,
              const std::optional<std::vector<int64_t>>& sizes, const std::optional<std::vector<double>>& roi,
              std::vector<kernels::ResizeAxis>* axes) {
  const size_t r = in.size(), k = o.axes.size();
  axes->assign(r, kernels::ResizeAxis{});
  for (size_t a = 0; a < r; ++a) {
    (*axes)[a].in_size = in[a];
    (*axes)[a].out_size = in[a];
  }
  if (scales.has_value() == sizes.has_value()) c.fail("exactly one of scales and sizes must be given");
  if (scales) {
    if (scales->size() != k) c.fail(str_cat("scales has ", scales->size(), " values for ", k, " axes"));
    for (size_t i = 0; i < k; ++i) {
      const double s = (*scales)[i];
      if (!(s > 0) || std::isinf(s)) c.fail(str_cat("scale ", s, " must be positive and finite"));
      auto& ax = (*axes)[static_cast<size_t>(o.axes[i])];
      ax.scale = s;
      const float prod = static_cast<float>(ax.in_size) * static_cast<float>(s);
      if (!(prod < 9.0e18f)) c.fail(str_cat("scale ", s, " makes axis ", o.axes[i], " too large"));
      ax.out_size = static_cast<int64_t>(std::floor(prod));
    }
  } else {
    if (sizes->size() != k) c.fail(str_cat("sizes has ", sizes->size(), " values for ", k, " axes"));
    for (int64_t v : *sizes)
      if (v < 0) c.fail(str_cat("sizes ", shape_str(*sizes), " has a negative value"));
    if (o.policy == "stretch") {
      for (size_t i = 0; i < k; ++i) {
        auto& ax = (*axes)[static_cast<size_t>(o.axes[i])];
        ax.out_size = (*sizes)[i];
        if (ax.in_size > 0) ax.scale = static_cast<double>((*sizes)[i]) / static_cast<double>(ax.in_size);
      }
    } else {
      double s = o.policy == "not_larger" ? std::numeric_limits<double>::infinity() : 0.0;
      for (size_t i = 0; i < k; ++i) {
        const int64_t d = in[static_cast<size_t>(o.axes[i])];
        if (d <= 0) continue;
        const double si = static_cast<double>((*sizes)[i]) / static_cast<double>(d);
        s = o.policy == "not_larger" ? std::min(s, si) : std::max(s, si);
      }
      for (size_t i = 0; i < k; ++i) {
        auto& ax = (*axes)[static_cast<size_t>(o.axes[i])];
        ax.scale = s;
        ax.out_size = static_cast<int64_t>(std::floor(s * static_cast<double>(ax.in_size) + 0.5));
      }
    }
  }
  if (o.params.coord == ResizeCoord::TfCropAndResize) {
    if (!roi) c.fail("tf_crop_and_resize needs the roi input");
    if (roi->size() != 2 * k) c.fail(str_cat("roi has ", roi->size(), " values, expected ", 2 * k));
    for (size_t i = 0; i < k; ++i) {
      auto& ax = (*axes)[static_cast<size_t>(o.axes[i])];
      ax.roi_start = (*roi)[i];
      ax.roi_end = (*roi)[k + i];
    }
  }
}

void resize(OpCall& c, const Options& o, const std::vector<kernels::ResizeAxis>& axes) {
  at::Tensor y = c.x(0);
  for (size_t a = axes.size(); a-- > 0;) {
    const kernels::ResizeAxis& ax = axes[a];
    if (ax.in_size == 0 && ax.out_size > 0)
      c.fail(str_cat("cannot resize axis ", a, " of size 0 to size ", ax.out_size));
    const kernels::ResizeTaps t = kernels::resize_axis_taps(ax, o.params);
    if (kernels::resize_taps_identity(t, ax.in_size)) continue;
    const int64_t d = static_cast<int64_t>(a), n_out = ax.out_size;
    if (o.params.mode == ResizeMode::Nearest) {
      std::vector<int64_t> idx(static_cast<size_t>(n_out), 0);
      for (int64_t x = 0; x < n_out; ++x)
        if (!t.outside[static_cast<size_t>(x)])
          idx[static_cast<size_t>(x)] = t.idx[static_cast<size_t>(t.begin[static_cast<size_t>(x)])];
      y = y.index_select(d, at::tensor(idx, at::kLong));
    } else {
      at::Tensor w = at::zeros({n_out, ax.in_size}, at::kDouble);
      double* pw = w.data_ptr<double>();
      for (int64_t x = 0; x < n_out; ++x)
        for (int64_t k = t.begin[static_cast<size_t>(x)]; k < t.begin[static_cast<size_t>(x) + 1]; ++k)
          pw[x * ax.in_size + t.idx[static_cast<size_t>(k)]] += t.weight[static_cast<size_t>(k)];
      y = at::matmul(y.movedim(d, -1), w.to(y.scalar_type()).t()).movedim(-1, d);
    }
    if (std::any_of(t.outside.begin(), t.outside.end(), [](uint8_t v) { return v != 0; })) {
      std::vector<int64_t> view(static_cast<size_t>(y.dim()), 1);
      view[a] = n_out;
      std::vector<uint8_t> mask(t.outside.begin(), t.outside.end());
      const at::Tensor m = at::tensor(at::ArrayRef<uint8_t>(mask), at::kByte).to(at::kBool).reshape(view);
      y = at::where(m, at::full({}, o.extrapolation, y.options()), y);
    }
  }
  c.set(0, y.is_same(c.x(0)) ? y.clone() : y);
}

void run_resize(OpCall& c) {
  if (!at::isFloatingType(c.x(0).scalar_type())) {
    run_on_executor(c);
    return;
  }
  const std::vector<int64_t> in = c.x(0).sizes().vec();
  const Options o = read_options(c, c.x(0).dim(), false);
  std::optional<std::vector<double>> scales, roi;
  std::optional<std::vector<int64_t>> sizes;
  const size_t scales_at = c.opset < 11 ? 1 : 2;
  if (nonempty(c, scales_at)) scales = doubles(c, scales_at, "scales");
  if (c.opset >= 11) {
    if (nonempty(c, 1)) roi = doubles(c, 1, "roi");
    if (nonempty(c, 3)) sizes = c.ints(3, "sizes");
  }
  std::vector<kernels::ResizeAxis> axes;
  geometry(c, o, in, scales, sizes, roi, &axes);
  resize(c, o, axes);
}

void run_upsample(OpCall& c) {
  if (!at::isFloatingType(c.x(0).scalar_type())) {
    run_on_executor(c);
    return;
  }
  const Options o = read_options(c, c.x(0).dim(), true);
  std::vector<double> scales;
  if (c.has(1))
    scales = doubles(c, 1, "scales");
  else if (c.node.has_attr("scales"))
    for (float f : c.node.attr_floats("scales")) scales.push_back(f);
  else
    c.fail("scales are required");
  std::vector<kernels::ResizeAxis> axes;
  geometry(c, o, c.x(0).sizes().vec(), scales, std::nullopt, std::nullopt, &axes);
  resize(c, o, axes);
}

}  // namespace

void add_resize_ops(OpTable& t) {
  t["Resize"] = OpMapping{run_resize, {1, 2, 3}};
  t["Upsample"] = OpMapping{run_upsample, {1}};
}

}  // namespace octet::train::detail
