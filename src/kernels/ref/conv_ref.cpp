#include "kernels/ref/conv_ref.h"

#include <algorithm>

namespace octet::kernels {
namespace {

// The outputs o in [lo, hi) whose tap lands inside the input: 0 <= o*stride + offset < in,
// where offset = k*dilation - pad_begin for kernel tap k.
struct TapOutputs {
  int64_t lo, hi;
};
TapOutputs tap_outputs(int64_t in, int64_t out, int64_t stride, int64_t offset) {
  const int64_t first = -offset;         // o*stride >= first
  const int64_t last = in - 1 - offset;  // o*stride <= last
  TapOutputs r;
  r.lo = first <= 0 ? 0 : (first + stride - 1) / stride;
  r.hi = last < 0 ? 0 : std::min(out, last / stride + 1);
  if (r.hi < r.lo) r.hi = r.lo;
  return r;
}

// Each output plane starts at the bias; then for each (c, k0, k1, k2), in that order, the tap's
// product is added to every output it reaches. Every output element therefore sums the same
// products in the same order as a per-output loop over (c, k0, k1, k2), while the innermost loop
// runs along a contiguous output row.
template <class T>
void conv_direct(const ConvParams& p, const T* x, const T* w, const T* bias, T* y) {
  const int64_t cg = p.in_channels / p.group;   // input channels per group
  const int64_t mg = p.out_channels / p.group;  // output channels per group
  const int64_t in_size = p.in[0] * p.in[1] * p.in[2];
  const int64_t out_size = p.out[0] * p.out[1] * p.out[2];
  const int64_t k_size = p.kernel[0] * p.kernel[1] * p.kernel[2];
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t m = 0; m < p.out_channels; ++m) {
      const int64_t g = m / mg;
      const T* xg = x + (n * p.in_channels + g * cg) * in_size;
      const T* wm = w + m * cg * k_size;
      T* ym = y + (n * p.out_channels + m) * out_size;
      const T b = bias ? bias[m] : T(0);
      for (int64_t i = 0; i < out_size; ++i) ym[i] = b;
      for (int64_t c = 0; c < cg; ++c) {
        const T* xc = xg + c * in_size;
        for (int64_t k0 = 0; k0 < p.kernel[0]; ++k0) {
          const int64_t off0 = k0 * p.dilation[0] - p.pad_begin[0];
          const TapOutputs r0 = tap_outputs(p.in[0], p.out[0], p.stride[0], off0);
          for (int64_t k1 = 0; k1 < p.kernel[1]; ++k1) {
            const int64_t off1 = k1 * p.dilation[1] - p.pad_begin[1];
            const TapOutputs r1 = tap_outputs(p.in[1], p.out[1], p.stride[1], off1);
            for (int64_t k2 = 0; k2 < p.kernel[2]; ++k2) {
              const int64_t off2 = k2 * p.dilation[2] - p.pad_begin[2];
              const TapOutputs r2 = tap_outputs(p.in[2], p.out[2], p.stride[2], off2);
              if (r2.hi == r2.lo) continue;
              const T wv = wm[((c * p.kernel[0] + k0) * p.kernel[1] + k1) * p.kernel[2] + k2];
              for (int64_t o0 = r0.lo; o0 < r0.hi; ++o0) {
                const int64_t i0 = o0 * p.stride[0] + off0;
                for (int64_t o1 = r1.lo; o1 < r1.hi; ++o1) {
                  const int64_t i1 = o1 * p.stride[1] + off1;
                  // Input position of output r2.lo, then every stride[2] along the row.
                  const T* xs = xc + (i0 * p.in[1] + i1) * p.in[2] + r2.lo * p.stride[2] + off2;
                  T* ys = ym + (o0 * p.out[1] + o1) * p.out[2] + r2.lo;
                  const int64_t len = r2.hi - r2.lo, st = p.stride[2];
                  if (st == 1) {
                    for (int64_t j = 0; j < len; ++j) ys[j] += wv * xs[j];
                  } else {
                    for (int64_t j = 0; j < len; ++j) ys[j] += wv * xs[j * st];
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}

template <class T>
void conv_transpose_scatter(const ConvParams& p, const T* x, const T* w, const T* bias, T* y) {
  const int64_t cg = p.in_channels / p.group;
  const int64_t mg = p.out_channels / p.group;
  const int64_t in_size = p.in[0] * p.in[1] * p.in[2];
  const int64_t out_size = p.out[0] * p.out[1] * p.out[2];
  const int64_t k_size = p.kernel[0] * p.kernel[1] * p.kernel[2];
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t m = 0; m < p.out_channels; ++m) {
      T* ym = y + (n * p.out_channels + m) * out_size;
      const T b = bias ? bias[m] : T(0);
      for (int64_t i = 0; i < out_size; ++i) ym[i] = b;
    }
    for (int64_t c = 0; c < p.in_channels; ++c) {
      const int64_t g = c / cg;
      const T* xc = x + (n * p.in_channels + c) * in_size;
      for (int64_t mi = 0; mi < mg; ++mi) {
        const int64_t m = g * mg + mi;
        const T* wcm = w + (c * mg + mi) * k_size;
        T* ym = y + (n * p.out_channels + m) * out_size;
        for (int64_t i0 = 0; i0 < p.in[0]; ++i0)
          for (int64_t i1 = 0; i1 < p.in[1]; ++i1)
            for (int64_t i2 = 0; i2 < p.in[2]; ++i2) {
              const T xv = xc[(i0 * p.in[1] + i1) * p.in[2] + i2];
              for (int64_t k0 = 0; k0 < p.kernel[0]; ++k0) {
                const int64_t o0 = i0 * p.stride[0] - p.pad_begin[0] + k0 * p.dilation[0];
                if (o0 < 0 || o0 >= p.out[0]) continue;
                for (int64_t k1 = 0; k1 < p.kernel[1]; ++k1) {
                  const int64_t o1 = i1 * p.stride[1] - p.pad_begin[1] + k1 * p.dilation[1];
                  if (o1 < 0 || o1 >= p.out[1]) continue;
                  T* yrow = ym + (o0 * p.out[1] + o1) * p.out[2];
                  const T* wrow = wcm + (k0 * p.kernel[1] + k1) * p.kernel[2];
                  for (int64_t k2 = 0; k2 < p.kernel[2]; ++k2) {
                    const int64_t o2 = i2 * p.stride[2] - p.pad_begin[2] + k2 * p.dilation[2];
                    if (o2 < 0 || o2 >= p.out[2]) continue;
                    yrow[o2] += xv * wrow[k2];
                  }
                }
              }
            }
      }
    }
  }
}

}  // namespace

void conv_nchw_ref(const ConvParams& p, const float* x, const float* w, const float* bias,
                   float* y) {
  conv_direct(p, x, w, bias, y);
}
void conv_nchw_ref(const ConvParams& p, const double* x, const double* w, const double* bias,
                   double* y) {
  conv_direct(p, x, w, bias, y);
}
void conv_transpose_nchw_ref(const ConvParams& p, const float* x, const float* w, const float* bias,
                             float* y) {
  conv_transpose_scatter(p, x, w, bias, y);
}
void conv_transpose_nchw_ref(const ConvParams& p, const double* x, const double* w,
                             const double* bias, double* y) {
  conv_transpose_scatter(p, x, w, bias, y);
}

}  // namespace octet::kernels
