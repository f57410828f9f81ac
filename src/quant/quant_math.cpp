#include "quant/quant_math.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>

#include "kernels/ref/quantize_ref.h"
#include "kernels/ref/round.h"

namespace octet::quant {
namespace {

using kernels::QuantLayout;

bool is_supported_qtype(DType t) {
  switch (t) {
    case DType::Int8: case DType::UInt8: case DType::Int16: case DType::UInt16:
    case DType::Int4: case DType::UInt4:
      return true;
    default:
      return false;
  }
}

int bits_of(DType t) {
  switch (t) {
    case DType::Int4: case DType::UInt4: return 4;
    case DType::Int8: case DType::UInt8: return 8;
    default: return 16;  // Int16, UInt16 (callers check is_supported_qtype first)
  }
}

void check_qtype(DType t, const std::string& what) {
  if (!is_supported_qtype(t))
    throw Error(str_cat(what, ": quantized type ", dtype_name(t),
                        " is not supported (INT8, UINT8, INT16, UINT16, INT4 or UINT4 expected)"));
}

void check_spec(const QuantSpec& spec, const std::string& what) {
  check_qtype(spec.qtype, what);
  if (spec.block_size < 0)
    throw Error(str_cat(what, ": block_size must be >= 0, got ", spec.block_size));
  if (spec.block_size > 0 && spec.axis < 0)
    throw Error(str_cat(what, ": blocked quantization (block_size ", spec.block_size,
                        ") needs an axis >= 0, got ", spec.axis));
}

// What params_from_range computes, without building a QuantParams (the MSE search calls it often).
struct ScaleZp {
  float scale;
  int32_t zero_point;
  bool degenerate;
};

// Expects finite lo <= hi and a checked spec.
ScaleZp scale_zp_from_range(float lo, float hi, const QuantSpec& spec) {
  const IntRange r = int_range(spec);
  const double mn = std::min(0.0, static_cast<double>(lo));
  const double mx = std::max(0.0, static_cast<double>(hi));
  ScaleZp out{1.f, 0, false};
  if (spec.symmetric) {
    const int32_t zp = symmetric_zero_point(spec);
    const double a = std::max(-mn, mx);
    out.zero_point = zp;
    if (a == 0.0) {
      out.degenerate = true;
      return out;
    }
    const int32_t steps = std::min(r.qmax - zp, zp - r.qmin);  // >= 3 for every supported spec
    out.scale = static_cast<float>(a / steps);
  } else {
    if (mx - mn == 0.0) {
      out.degenerate = true;
      return out;  // scale 1, zero point 0 (inside every range int_range gives)
    }
    out.scale = static_cast<float>((mx - mn) / (static_cast<double>(r.qmax) - r.qmin));
  }
  // Never a subnormal or zero scale: x / scale would overflow for ordinary x and lose precision.
  if (!(out.scale >= FLT_MIN)) out.scale = FLT_MIN;
  if (!spec.symmetric) {
    const double zp = kernels::round_half_even(r.qmin - mn / static_cast<double>(out.scale));
    out.zero_point = static_cast<int32_t>(std::min<double>(r.qmax, std::max<double>(r.qmin, zp)));
  }
  return out;
}

void check_range(float lo, float hi, const std::string& what) {
  if (!std::isfinite(lo) || !std::isfinite(hi))
    throw Error(str_cat(what, ": range [", lo, ", ", hi, "] is not finite (NaN or Inf in the data)"));
  if (lo > hi) throw Error(str_cat(what, ": range min ", lo, " is greater than max ", hi));
}

// --- Layout of parameters over a tensor --------------------------------------------------------

// Validates p against an input of shape x and returns its QuantLayout (see quantize_ref.h).
QuantLayout resolve_layout(const Shape& x, const QuantParams& p, const std::string& what) {
  check_qtype(p.qtype, what);
  if (p.scale.empty()) throw Error(str_cat(what, ": quantization parameters have no scale"));
  if (p.zero_point.size() != p.scale.size())
    throw Error(str_cat(what, ": ", p.zero_point.size(), " zero points for ", p.scale.size(),
                        " scales (they must match one to one)"));
  const IntRange tr = type_range(p.qtype);
  for (size_t i = 0; i < p.scale.size(); ++i) {
    if (!(p.scale[i] > 0.f) || !std::isfinite(p.scale[i]))
      throw Error(str_cat(what, ": scale[", i, "] = ", p.scale[i],
                          " is not a positive finite number"));
    if (p.zero_point[i] < tr.qmin || p.zero_point[i] > tr.qmax)
      throw Error(str_cat(what, ": zero_point[", i, "] = ", p.zero_point[i], " is outside ",
                          dtype_name(p.qtype), "'s range [", tr.qmin, ", ", tr.qmax, "]"));
  }
  if (p.block_size < 0) throw Error(str_cat(what, ": block_size must be >= 0, got ", p.block_size));
  const int64_t nparams = static_cast<int64_t>(p.scale.size());
  QuantLayout l;
  if (p.block_size == 0 && nparams == 1) {  // per tensor, whatever the axis (as ONNX)
    l.axis_len = shape_numel(x);
    return l;
  }
  const int64_t rank = static_cast<int64_t>(x.size());
  if (p.axis < 0 || p.axis >= rank)
    throw Error(str_cat(what, ": quantization axis ", p.axis, " is not an axis of a tensor of shape ",
                        shape_str(x), " (", nparams, " scales, block_size ", p.block_size, ")"));
  const size_t ax = static_cast<size_t>(p.axis);
  for (size_t i = 0; i < ax; ++i) l.outer *= x[i];
  l.axis_len = x[ax];
  for (size_t i = ax + 1; i < x.size(); ++i) l.inner *= x[i];
  if (p.block_size == 0) {
    if (nparams != l.axis_len)
      throw Error(str_cat(what, ": per-axis quantization needs ", l.axis_len, " scales (shape ",
                          shape_str(x), ", axis ", p.axis, "), got ", nparams));
    l.param_axis_stride = 1;
    return l;
  }
  const int64_t nblocks = (l.axis_len + p.block_size - 1) / p.block_size;
  if (nparams != l.outer * nblocks * l.inner) {
    Shape want = x;
    want[ax] = nblocks;
    throw Error(str_cat(what, ": blocked quantization with block_size ", p.block_size, " on axis ",
                        p.axis, " of shape ", shape_str(x), " needs ", shape_numel(want),
                        " scales (shape ", shape_str(want), "), got ", nparams));
  }
  l.block = p.block_size;
  l.param_inner_stride = 1;
  l.param_axis_stride = l.inner;
  l.param_outer_stride = nblocks * l.inner;
  return l;
}

// Calls f(element index, parameter index) for every element, in memory order.
template <class F>
void for_each_element(const QuantLayout& l, F&& f) {
  int64_t idx = 0;
  for (int64_t o = 0; o < l.outer; ++o)
    for (int64_t a = 0; a < l.axis_len; ++a) {
      const int64_t pbase = o * l.param_outer_stride + (a / l.block) * l.param_axis_stride;
      for (int64_t i = 0; i < l.inner; ++i, ++idx) f(idx, pbase + i * l.param_inner_stride);
    }
}

IntRange checked_clamp(const QuantParams& p, IntRange clamp, const std::string& what) {
  check_qtype(p.qtype, what);
  const IntRange tr = type_range(p.qtype);
  if (clamp.qmin > clamp.qmax || clamp.qmin < tr.qmin || clamp.qmax > tr.qmax)
    throw Error(str_cat(what, ": clamp range [", clamp.qmin, ", ", clamp.qmax, "] is not inside ",
                        dtype_name(p.qtype), "'s range [", tr.qmin, ", ", tr.qmax, "]"));
  return clamp;
}

void check_float(const Tensor& t, const std::string& what) {
  if (t.dtype() != DType::Float32)
    throw Error(str_cat(what, " must be FLOAT, got ", dtype_name(t.dtype())));
}

// --- Weight groups -----------------------------------------------------------------------------

// The elements of a weight tensor gathered by the group (tensor, channel or block) whose
// parameters they share; groups are in QuantParams order.
std::vector<std::vector<float>> gather_groups(const Tensor& w, const QuantSpec& spec,
                                              const std::string& name) {
  check_spec(spec, name);
  check_float(w, str_cat("weight '", name, "'"));
  if (w.numel() == 0) throw Error(str_cat("weight '", name, "' is empty: nothing to quantize"));
  const float* d = w.data<float>();
  for (int64_t i = 0; i < w.numel(); ++i) {
    if (std::isfinite(d[i])) continue;
    Shape index(w.rank());
    int64_t rest = i;
    for (size_t k = w.rank(); k-- > 0;) {
      index[k] = rest % w.dim(k);
      rest /= w.dim(k);
    }
    throw Error(str_cat("weight '", name, "' element ", i, " (index ", shape_str(index), ") is ",
                        d[i], "; weights must be finite to be quantized"));
  }
  if (spec.axis < 0) return {std::vector<float>(d, d + w.numel())};
  if (spec.axis >= static_cast<int64_t>(w.rank()))
    throw Error(str_cat("weight '", name, "': quantization axis ", spec.axis,
                        " is not an axis of shape ", shape_str(w.shape())));
  const size_t ax = static_cast<size_t>(spec.axis);
  int64_t outer = 1, inner = 1;
  for (size_t i = 0; i < ax; ++i) outer *= w.dim(i);
  for (size_t i = ax + 1; i < w.rank(); ++i) inner *= w.dim(i);
  const int64_t axis_len = w.dim(ax);
  const int64_t block = spec.block_size > 0 ? spec.block_size : 1;
  const int64_t nblocks = (axis_len + block - 1) / block;
  const int64_t ngroups = spec.block_size > 0 ? outer * nblocks * inner : axis_len;
  std::vector<std::vector<float>> groups(static_cast<size_t>(ngroups));
  int64_t idx = 0;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t a = 0; a < axis_len; ++a)
      for (int64_t i = 0; i < inner; ++i, ++idx) {
        const int64_t g = spec.block_size > 0 ? (o * nblocks + a / block) * inner + i : a;
        groups[static_cast<size_t>(g)].push_back(d[idx]);
      }
  return groups;
}

QuantParams params_shell(const QuantSpec& spec, size_t n) {
  QuantParams p;
  p.qtype = spec.qtype;
  p.axis = spec.axis < 0 ? -1 : spec.axis;
  p.block_size = spec.block_size;
  p.scale.reserve(n);
  p.zero_point.reserve(n);
  return p;
}

void min_max(const std::vector<float>& v, float* lo, float* hi) {
  *lo = v.empty() ? 0.f : v[0];
  *hi = *lo;
  for (float x : v) {
    *lo = std::min(*lo, x);
    *hi = std::max(*hi, x);
  }
}

double squared_error(const std::vector<float>& v, std::vector<float>& buf, const ScaleZp& sz,
                     IntRange r) {
  fake_quant(v.data(), buf.data(), static_cast<int64_t>(v.size()), sz.scale, sz.zero_point, r.qmin,
             r.qmax);
  double e = 0.0;
  for (size_t i = 0; i < v.size(); ++i) {
    const double d = static_cast<double>(buf[i]) - v[i];
    e += d * d;
  }
  return e;
}

}  // namespace

// --- Ranges --------------------------------------------------------------------------------------

IntRange type_range(DType qtype) {
  check_qtype(qtype, "type_range");
  const int b = bits_of(qtype);
  if (dtype_is_signed(qtype)) return {-(1 << (b - 1)), (1 << (b - 1)) - 1};
  return {0, (1 << b) - 1};
}

IntRange int_range(const QuantSpec& spec) {
  check_qtype(spec.qtype, "int_range");
  const int b = bits_of(spec.qtype);
  if (dtype_is_signed(spec.qtype)) {
    if (spec.reduce_range) return {-(1 << (b - 2)), 1 << (b - 2)};
    return {spec.narrow_range ? -(1 << (b - 1)) + 1 : -(1 << (b - 1)), (1 << (b - 1)) - 1};
  }
  const int32_t top = spec.reduce_range ? (1 << (b - 1)) - 1 : (1 << b) - 1;
  return {0, spec.narrow_range ? top - 1 : top};
}

int32_t symmetric_zero_point(const QuantSpec& spec) {
  check_qtype(spec.qtype, "symmetric_zero_point");
  if (dtype_is_signed(spec.qtype)) return 0;
  const IntRange r = int_range(spec);
  return (r.qmin + r.qmax + 1) / 2;
}

QuantParams params_from_range(float min, float max, const QuantSpec& spec, const std::string& what,
                              bool* degenerate) {
  check_spec(spec, what);
  check_range(min, max, what);
  const ScaleZp sz = scale_zp_from_range(min, max, spec);
  if (degenerate) *degenerate = sz.degenerate;
  QuantParams p;
  p.qtype = spec.qtype;
  p.scale = {sz.scale};
  p.zero_point = {sz.zero_point};
  return p;
}

QuantParams params_from_ranges(const std::vector<float>& mins, const std::vector<float>& maxs,
                               const QuantSpec& spec, const std::string& what,
                               std::vector<int64_t>* degenerate_channels) {
  check_spec(spec, what);
  if (mins.size() != maxs.size() || mins.empty())
    throw Error(str_cat(what, ": ", mins.size(), " minimums and ", maxs.size(),
                        " maximums (need the same number, at least one)"));
  if (mins.size() > 1 && spec.axis < 0)
    throw Error(str_cat(what, ": ", mins.size(), " ranges for a per-tensor spec (axis ", spec.axis,
                        ")"));
  if (degenerate_channels) degenerate_channels->clear();
  QuantParams p = params_shell(spec, mins.size());
  for (size_t c = 0; c < mins.size(); ++c) {
    check_range(mins[c], maxs[c], str_cat(what, " channel ", c));
    const ScaleZp sz = scale_zp_from_range(mins[c], maxs[c], spec);
    if (sz.degenerate && degenerate_channels) degenerate_channels->push_back(static_cast<int64_t>(c));
    p.scale.push_back(sz.scale);
    p.zero_point.push_back(sz.zero_point);
  }
  return p;
}

QuantParams weight_params(const Tensor& w, const QuantSpec& spec, const std::string& name,
                          std::vector<int64_t>* degenerate_groups) {
  const auto groups = gather_groups(w, spec, name);
  if (degenerate_groups) degenerate_groups->clear();
  QuantParams p = params_shell(spec, groups.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    float lo, hi;
    min_max(groups[g], &lo, &hi);
    const ScaleZp sz = scale_zp_from_range(lo, hi, spec);
    if (sz.degenerate && degenerate_groups) degenerate_groups->push_back(static_cast<int64_t>(g));
    p.scale.push_back(sz.scale);
    p.zero_point.push_back(sz.zero_point);
  }
  return p;
}

QuantParams weight_params_mse(const Tensor& w, const QuantSpec& spec, const std::string& name,
                              std::vector<int64_t>* degenerate_groups) {
  const auto groups = gather_groups(w, spec, name);
  const IntRange r = int_range(spec);
  if (degenerate_groups) degenerate_groups->clear();
  QuantParams p = params_shell(spec, groups.size());
  std::vector<float> buf;
  for (size_t g = 0; g < groups.size(); ++g) {
    const std::vector<float>& v = groups[g];
    float lo, hi;
    min_max(v, &lo, &hi);
    buf.resize(v.size());
    // k = kMseSearchSteps first: exactly weight_params' range; smaller ranges must do strictly
    // better to replace it (ties keep the larger range).
    ScaleZp best = scale_zp_from_range(lo, hi, spec);
    if (!best.degenerate) {
      double best_err = squared_error(v, buf, best, r);
      const double amax = std::max(-static_cast<double>(lo), static_cast<double>(hi));
      const double centre = 0.5 * (static_cast<double>(lo) + hi);
      const double half = 0.5 * (static_cast<double>(hi) - lo);
      for (int k = kMseSearchSteps - 1; k >= 1 && best_err > 0.0; --k) {
        const double f = static_cast<double>(k) / kMseSearchSteps;
        float clo, chi;
        if (spec.symmetric) {
          chi = static_cast<float>(amax * f);
          clo = -chi;
        } else {
          clo = static_cast<float>(centre - f * half);
          chi = static_cast<float>(centre + f * half);
        }
        const ScaleZp cand = scale_zp_from_range(clo, chi, spec);
        const double err = squared_error(v, buf, cand, r);
        if (err < best_err) {
          best_err = err;
          best = cand;
        }
      }
    } else if (degenerate_groups) {
      degenerate_groups->push_back(static_cast<int64_t>(g));
    }
    p.scale.push_back(best.scale);
    p.zero_point.push_back(best.zero_point);
  }
  return p;
}

// --- Quantize / dequantize / fake quant ----------------------------------------------------------

Shape scale_shape(const Shape& x_shape, const QuantParams& p) {
  const QuantLayout l = resolve_layout(x_shape, p, "scale_shape");
  if (p.block_size == 0 && p.scale.size() == 1) return {};
  if (p.block_size == 0) return {l.axis_len};
  Shape s = x_shape;
  s[static_cast<size_t>(p.axis)] = (l.axis_len + p.block_size - 1) / p.block_size;
  return s;
}

Tensor quantize(const Tensor& x, const QuantParams& p) {
  check_qtype(p.qtype, "quantize");
  return quantize(x, p, type_range(p.qtype));
}

Tensor quantize(const Tensor& x, const QuantParams& p, IntRange clamp) {
  check_float(x, "quantize: x");
  const QuantLayout l = resolve_layout(x.shape(), p, "quantize");
  clamp = checked_clamp(p, clamp, "quantize");
  Tensor y(p.qtype, x.shape());
  const float* xs = x.data<float>();
  switch (p.qtype) {
    case DType::Int8: case DType::Int4:
      kernels::quantize_linear_ref(xs, p.scale.data(), p.zero_point.data(), l, clamp.qmin,
                                   clamp.qmax, y.data<int8_t>());
      break;
    case DType::UInt8: case DType::UInt4:
      kernels::quantize_linear_ref(xs, p.scale.data(), p.zero_point.data(), l, clamp.qmin,
                                   clamp.qmax, y.data<uint8_t>());
      break;
    case DType::Int16:
      kernels::quantize_linear_ref(xs, p.scale.data(), p.zero_point.data(), l, clamp.qmin,
                                   clamp.qmax, y.data<int16_t>());
      break;
    case DType::UInt16:
      kernels::quantize_linear_ref(xs, p.scale.data(), p.zero_point.data(), l, clamp.qmin,
                                   clamp.qmax, y.data<uint16_t>());
      break;
    default:
      OCTET_CHECK(false, "unreachable: qtype checked above");
  }
  return y;
}

Tensor dequantize(const Tensor& q, const QuantParams& p) {
  const QuantLayout l = resolve_layout(q.shape(), p, "dequantize");
  if (q.dtype() != p.qtype)
    throw Error(str_cat("dequantize: tensor of type ", dtype_name(q.dtype()),
                        " with parameters for ", dtype_name(p.qtype)));
  Tensor y(DType::Float32, q.shape());
  float* ys = y.data<float>();
  switch (p.qtype) {
    case DType::Int8: case DType::Int4:
      kernels::dequantize_linear_ref(q.data<int8_t>(), p.scale.data(), p.zero_point.data(), l, ys);
      break;
    case DType::UInt8: case DType::UInt4:
      kernels::dequantize_linear_ref(q.data<uint8_t>(), p.scale.data(), p.zero_point.data(), l, ys);
      break;
    case DType::Int16:
      kernels::dequantize_linear_ref(q.data<int16_t>(), p.scale.data(), p.zero_point.data(), l, ys);
      break;
    case DType::UInt16:
      kernels::dequantize_linear_ref(q.data<uint16_t>(), p.scale.data(), p.zero_point.data(), l, ys);
      break;
    default:
      OCTET_CHECK(false, "unreachable: qtype checked above");
  }
  return y;
}

Tensor fake_quant(const Tensor& x, const QuantParams& p) {
  check_qtype(p.qtype, "fake_quant");
  return fake_quant(x, p, type_range(p.qtype));
}

Tensor fake_quant(const Tensor& x, const QuantParams& p, IntRange clamp) {
  check_float(x, "fake_quant: x");
  const QuantLayout l = resolve_layout(x.shape(), p, "fake_quant");
  clamp = checked_clamp(p, clamp, "fake_quant");
  Tensor y(DType::Float32, x.shape());
  const float* xs = x.data<float>();
  float* ys = y.data<float>();
  if (p.block_size == 0 && p.scale.size() == 1) {
    fake_quant(xs, ys, x.numel(), p.scale[0], p.zero_point[0], clamp.qmin, clamp.qmax);
    return y;
  }
  const float* s = p.scale.data();
  const int32_t* z = p.zero_point.data();
  for_each_element(l, [&](int64_t i, int64_t k) {
    const int32_t q = kernels::quantize_value(xs[i], s[k], z[k], clamp.qmin, clamp.qmax);
    // The same expression as dequantize_linear_ref, so the result is bit-identical.
    ys[i] = static_cast<float>(static_cast<int64_t>(q) - static_cast<int64_t>(z[k])) * s[k];
  });
  return y;
}

void fake_quant(const float* x, float* y, int64_t n, float scale, int32_t zero_point, int32_t qmin,
                int32_t qmax) {
  if (!(scale > 0.f) || !std::isfinite(scale))
    throw Error(str_cat("fake_quant: scale ", scale, " is not a positive finite number"));
  if (qmin > qmax) throw Error(str_cat("fake_quant: qmin ", qmin, " > qmax ", qmax));
  const int64_t zp = zero_point;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t q = kernels::quantize_value(x[i], scale, zero_point, qmin, qmax);
    y[i] = static_cast<float>(static_cast<int64_t>(q) - zp) * scale;
  }
}

// --- Error measures ------------------------------------------------------------------------------

double sqnr_db(const Tensor& reference, const Tensor& test) {
  if (reference.shape() != test.shape())
    throw Error(str_cat("sqnr_db: reference shape ", shape_str(reference.shape()),
                        " differs from test shape ", shape_str(test.shape())));
  for (const Tensor* t : {&reference, &test})
    if (t->dtype() == DType::String || !dtype_is_computable(t->dtype()))
      throw Error(str_cat("sqnr_db: element type ", dtype_name(t->dtype()), " is not numeric"));
  double signal = 0.0, noise = 0.0;
  const bool f32 = reference.dtype() == DType::Float32 && test.dtype() == DType::Float32;
  const float* rf = f32 ? reference.data<float>() : nullptr;
  const float* tf = f32 ? test.data<float>() : nullptr;
  for (int64_t i = 0; i < reference.numel(); ++i) {
    const double r = f32 ? rf[i] : reference.get_as_double(i);
    const double t = f32 ? tf[i] : test.get_as_double(i);
    signal += r * r;
    noise += (r - t) * (r - t);
  }
  if (std::isnan(signal) || std::isnan(noise)) return std::numeric_limits<double>::quiet_NaN();
  if (noise == 0.0) return std::numeric_limits<double>::infinity();
  if (signal == 0.0) return -std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(signal / noise);
}

double max_abs_error_in_steps(const Tensor& ref_dequantized, const Tensor& test,
                              const QuantParams& p) {
  check_float(ref_dequantized, "max_abs_error_in_steps: reference");
  check_float(test, "max_abs_error_in_steps: test");
  if (ref_dequantized.shape() != test.shape())
    throw Error(str_cat("max_abs_error_in_steps: reference shape ",
                        shape_str(ref_dequantized.shape()), " differs from test shape ",
                        shape_str(test.shape())));
  const QuantLayout l = resolve_layout(test.shape(), p, "max_abs_error_in_steps");
  const float* r = ref_dequantized.data<float>();
  const float* t = test.data<float>();
  double worst = 0.0;
  for_each_element(l, [&](int64_t i, int64_t k) {
    const double e = std::fabs(static_cast<double>(r[i]) - t[i]) / p.scale[static_cast<size_t>(k)];
    if (std::isnan(e) || e > worst) worst = e;  // a NaN, once seen, stays
  });
  return worst;
}

}  // namespace octet::quant
