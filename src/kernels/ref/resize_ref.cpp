#include "kernels/ref/resize_ref.h"

#include <algorithm>
#include <cmath>

namespace octet::kernels {
namespace {

// Position of output index x in input coordinates. `out_f` is scale * in_size as a real number,
// which ONNX's reference uses where the spec text says length_resized (they differ when
// scale * in_size is not an integer). Returns false when x falls outside the crop box.
bool original_coordinate(double x, const ResizeAxis& a, ResizeCoord coord, double* x_ori) {
  const double in = static_cast<double>(a.in_size);
  const double out_f = a.scale * in;
  switch (coord) {
    case ResizeCoord::AlignCorners:
      *x_ori = out_f == 1.0 ? 0.0 : x * (in - 1) / (out_f - 1);
      return true;
    case ResizeCoord::Asymmetric:
      *x_ori = x / a.scale;
      return true;
    case ResizeCoord::TfHalfPixelForNN:
      *x_ori = (x + 0.5) / a.scale;
      return true;
    case ResizeCoord::PytorchHalfPixel:
      *x_ori = out_f == 1.0 ? -0.5 : (x + 0.5) / a.scale - 0.5;
      return true;
    case ResizeCoord::HalfPixel:
      *x_ori = (x + 0.5) / a.scale - 0.5;
      return true;
    case ResizeCoord::HalfPixelSymmetric: {
      // Centres the implicit ROI on the output; differs from half_pixel only when the output
      // length was rounded (out_size != scale * in).
      const double adjustment = static_cast<double>(a.out_size) / out_f;
      const double offset = in / 2 * (1 - adjustment);
      *x_ori = offset + (x + 0.5) / a.scale - 0.5;
      return true;
    }
    case ResizeCoord::TfCropAndResize: {
      const double span = a.roi_end - a.roi_start;
      double v = out_f == 1.0 ? span * (in - 1) / 2 : x * span * (in - 1) / (out_f - 1);
      v += a.roi_start * (in - 1);
      *x_ori = v;
      return !(v < 0 || v > in - 1);
    }
  }
  *x_ori = 0;
  return true;
}

double cubic_kernel(double x, double A) {  // Keys' cubic convolution kernel
  x = std::fabs(x);
  if (x <= 1) return ((A + 2) * x - (A + 3)) * x * x + 1;
  if (x < 2) return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  return 0.0;
}

}  // namespace

ResizeTaps resize_axis_taps(const ResizeAxis& a, const ResizeParams& p) {
  ResizeTaps t;
  const int64_t n_out = a.out_size;
  const int64_t last = a.in_size - 1;
  t.begin.reserve(static_cast<size_t>(n_out) + 1);
  t.outside.assign(static_cast<size_t>(n_out), 0);
  t.begin.push_back(0);
  std::vector<int64_t> offs;  // tap positions relative to `base`
  std::vector<double> w;
  for (int64_t x = 0; x < n_out; ++x) {
    double x_ori = 0;
    const bool inside = original_coordinate(static_cast<double>(x), a, p.coord, &x_ori);
    if (!inside || a.in_size == 0) {
      t.outside[static_cast<size_t>(x)] = 1;
      t.begin.push_back(static_cast<int64_t>(t.idx.size()));
      continue;
    }
    // base is the input index left of x_ori and ratio in (0, 1] its distance: an integral x_ori
    // gives ratio 1, so the tap at x_ori carries all the weight.
    const double fl = std::floor(x_ori);
    const bool integral = fl == x_ori;
    const int64_t base = static_cast<int64_t>(fl) - (integral ? 1 : 0);
    const double ratio = integral ? 1.0 : x_ori - fl;
    offs.clear();
    w.clear();
    if (p.mode == ResizeMode::Nearest) {
      bool up;  // take base + 1 rather than base
      if (integral) {
        up = true;
      } else {
        switch (p.nearest) {
          case ResizeNearest::RoundPreferFloor: up = ratio > 0.5; break;
          case ResizeNearest::RoundPreferCeil: up = ratio >= 0.5; break;
          case ResizeNearest::Floor: up = false; break;
          case ResizeNearest::Ceil: up = true; break;
          case ResizeNearest::Legacy: up = a.scale < 1.0; break;
          default: up = false; break;
        }
      }
      offs.push_back(up ? 1 : 0);
      w.push_back(1.0);
    } else if (!p.antialias || a.scale >= 1.0) {
      if (p.mode == ResizeMode::Linear) {
        offs = {0, 1};
        w = {1 - ratio, ratio};
      } else {
        const double A = p.cubic_a, r = ratio, q = 1 - ratio;
        offs = {-1, 0, 1, 2};
        w = {((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A,
             ((A + 2) * r - (A + 3)) * r * r + 1,
             ((A + 2) * q - (A + 3)) * q * q + 1,
             ((A * (q + 1) - 5 * A) * (q + 1) + 8 * A) * (q + 1) - 4 * A};
      }
    } else {
      // Antialiased downsampling: the filter is stretched by 1/scale and renormalised.
      const double s = a.scale;
      const double support = p.mode == ResizeMode::Linear ? 1.0 : 2.0;
      const int64_t start = static_cast<int64_t>(std::floor(-support / s)) + 1;
      const int64_t count = 2 - 2 * start;
      double sum = 0;
      for (int64_t j = start; j < start + count; ++j) {
        const double arg = s * (static_cast<double>(j) - ratio);
        const double c = p.mode == ResizeMode::Linear ? std::clamp(1 - std::fabs(arg), 0.0, 1.0)
                                                      : cubic_kernel(arg, p.cubic_a);
        offs.push_back(j);
        w.push_back(c);
        sum += c;
      }
      for (double& c : w) c /= sum;
    }
    if (p.exclude_outside && p.mode != ResizeMode::Nearest) {
      double sum = 0;
      for (size_t k = 0; k < offs.size(); ++k) {
        const int64_t i = base + offs[k];
        if (i < 0 || i > last) w[k] = 0;
        sum += w[k];
      }
      for (double& c : w) c /= sum;
    }
    for (size_t k = 0; k < offs.size(); ++k) {
      t.idx.push_back(std::clamp<int64_t>(base + offs[k], 0, last));
      t.weight.push_back(w[k]);
    }
    t.begin.push_back(static_cast<int64_t>(t.idx.size()));
  }
  return t;
}

bool resize_taps_identity(const ResizeTaps& t, int64_t in_size) {
  const int64_t n = static_cast<int64_t>(t.outside.size());
  if (n != in_size) return false;
  for (int64_t x = 0; x < n; ++x) {
    if (t.outside[static_cast<size_t>(x)]) return false;
    int hits = 0;
    for (int64_t k = t.begin[static_cast<size_t>(x)]; k < t.begin[static_cast<size_t>(x) + 1]; ++k) {
      const double wk = t.weight[static_cast<size_t>(k)];
      if (wk == 0) continue;
      if (wk != 1.0 || t.idx[static_cast<size_t>(k)] != x) return false;
      ++hits;
    }
    if (hits != 1) return false;
  }
  return true;
}

void resize_separable_ref(const double* in, const std::vector<int64_t>& in_dims,
                          const std::vector<ResizeTaps>& taps, double extrapolation, double* out) {
  const size_t r = in_dims.size();
  std::vector<int64_t> dims = in_dims;
  int64_t total = 1;
  for (int64_t d : dims) total *= d;
  std::vector<double> cur(in, in + total), next;
  for (size_t k = r; k-- > 0;) {
    const ResizeTaps& t = taps[k];
    if (resize_taps_identity(t, dims[k])) continue;
    const int64_t n_out = static_cast<int64_t>(t.outside.size());
    int64_t outer = 1, inner = 1;
    for (size_t i = 0; i < k; ++i) outer *= dims[i];
    for (size_t i = k + 1; i < r; ++i) inner *= dims[i];
    const int64_t n_in = dims[k];
    next.assign(static_cast<size_t>(outer * n_out * inner), 0.0);
    for (int64_t o = 0; o < outer; ++o) {
      const double* src = cur.data() + o * n_in * inner;
      double* dst = next.data() + o * n_out * inner;
      for (int64_t x = 0; x < n_out; ++x) {
        double* row = dst + x * inner;
        if (t.outside[static_cast<size_t>(x)]) {
          std::fill(row, row + inner, extrapolation);
          continue;
        }
        for (int64_t k2 = t.begin[static_cast<size_t>(x)]; k2 < t.begin[static_cast<size_t>(x) + 1]; ++k2) {
          const double wk = t.weight[static_cast<size_t>(k2)];
          const double* s = src + t.idx[static_cast<size_t>(k2)] * inner;
          for (int64_t i = 0; i < inner; ++i) row[i] += wk * s[i];
        }
      }
    }
    dims[k] = n_out;
    cur.swap(next);
  }
  std::copy(cur.begin(), cur.end(), out);
}

}  // namespace octet::kernels
