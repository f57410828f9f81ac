#include "kernels/ref/pool_ref.h"

#include <limits>

#include "kernels/ref/round.h"

namespace octet::kernels {
namespace {

// In-bounds tap range along one dim for output o: the k in [0, kernel) with position in [lo, hi).
// Positions increase with k, so those taps form one contiguous range [k_begin, k_end).
struct TapRange {
  int64_t start;  // position of tap 0
  int64_t k_begin, k_end;
};

TapRange taps(const PoolParams& p, int d, int64_t o, int64_t lo, int64_t hi) {
  TapRange r{o * p.stride[d] - p.pad_begin[d], 0, 0};
  r.k_begin = p.kernel[d];
  for (int64_t k = 0; k < p.kernel[d]; ++k) {
    const int64_t pos = r.start + k * p.dilation[d];
    if (pos >= lo && pos < hi) {
      if (r.k_begin == p.kernel[d]) r.k_begin = k;
      r.k_end = k + 1;
    }
  }
  if (r.k_begin == p.kernel[d]) r.k_begin = r.k_end = 0;
  return r;
}

template <class T>
void maxpool_loops(const PoolParams& p, const T* x, T* y, int64_t* indices, bool col_major) {
  const int64_t in_size = p.in[0] * p.in[1] * p.in[2];
  const int64_t out_size = p.out[0] * p.out[1] * p.out[2];
  for (int64_t c = 0; c < p.channels; ++c) {
    const T* xc = x + c * in_size;
    for (int64_t o0 = 0; o0 < p.out[0]; ++o0) {
      const TapRange r0 = taps(p, 0, o0, 0, p.in[0]);
      for (int64_t o1 = 0; o1 < p.out[1]; ++o1) {
        const TapRange r1 = taps(p, 1, o1, 0, p.in[1]);
        for (int64_t o2 = 0; o2 < p.out[2]; ++o2) {
          const TapRange r2 = taps(p, 2, o2, 0, p.in[2]);
          bool found = false;
          T best = std::numeric_limits<T>::lowest();
          int64_t i0b = -1, i1b = -1, i2b = -1;
          for (int64_t k0 = r0.k_begin; k0 < r0.k_end; ++k0) {
            const int64_t i0 = r0.start + k0 * p.dilation[0];
            for (int64_t k1 = r1.k_begin; k1 < r1.k_end; ++k1) {
              const int64_t i1 = r1.start + k1 * p.dilation[1];
              for (int64_t k2 = r2.k_begin; k2 < r2.k_end; ++k2) {
                const int64_t i2 = r2.start + k2 * p.dilation[2];
                const T v = xc[(i0 * p.in[1] + i1) * p.in[2] + i2];
                if (!found || v > best) {
                  best = v;
                  found = true;
                  i0b = i0, i1b = i1, i2b = i2;
                }
              }
            }
          }
          const int64_t oi = c * out_size + (o0 * p.out[1] + o1) * p.out[2] + o2;
          y[oi] = best;
          if (indices) {
            int64_t s = col_major ? i0b + (i1b + i2b * p.in[1]) * p.in[0]
                                  : (i0b * p.in[1] + i1b) * p.in[2] + i2b;
            indices[oi] = found ? c * in_size + s : -1;
          }
        }
      }
    }
  }
}

template <class T>
void avgpool_loops(const PoolParams& p, bool include_pad, const T* x, T* y) {
  const int64_t in_size = p.in[0] * p.in[1] * p.in[2];
  const int64_t out_size = p.out[0] * p.out[1] * p.out[2];
  for (int64_t c = 0; c < p.channels; ++c) {
    const T* xc = x + c * in_size;
    for (int64_t o0 = 0; o0 < p.out[0]; ++o0) {
      const TapRange r0 = taps(p, 0, o0, 0, p.in[0]);
      const TapRange q0 = taps(p, 0, o0, -p.pad_begin[0], p.in[0] + p.pad_end[0]);
      for (int64_t o1 = 0; o1 < p.out[1]; ++o1) {
        const TapRange r1 = taps(p, 1, o1, 0, p.in[1]);
        const TapRange q1 = taps(p, 1, o1, -p.pad_begin[1], p.in[1] + p.pad_end[1]);
        for (int64_t o2 = 0; o2 < p.out[2]; ++o2) {
          const TapRange r2 = taps(p, 2, o2, 0, p.in[2]);
          const TapRange q2 = taps(p, 2, o2, -p.pad_begin[2], p.in[2] + p.pad_end[2]);
          double sum = 0;
          for (int64_t k0 = r0.k_begin; k0 < r0.k_end; ++k0) {
            const int64_t i0 = r0.start + k0 * p.dilation[0];
            for (int64_t k1 = r1.k_begin; k1 < r1.k_end; ++k1) {
              const int64_t i1 = r1.start + k1 * p.dilation[1];
              for (int64_t k2 = r2.k_begin; k2 < r2.k_end; ++k2) {
                const int64_t i2 = r2.start + k2 * p.dilation[2];
                sum += static_cast<double>(xc[(i0 * p.in[1] + i1) * p.in[2] + i2]);
              }
            }
          }
          const TapRange& d0 = include_pad ? q0 : r0;
          const TapRange& d1 = include_pad ? q1 : r1;
          const TapRange& d2 = include_pad ? q2 : r2;
          const int64_t count =
              (d0.k_end - d0.k_begin) * (d1.k_end - d1.k_begin) * (d2.k_end - d2.k_begin);
          const double v = count > 0 ? sum / static_cast<double>(count)
                                     : std::numeric_limits<double>::quiet_NaN();
          y[c * out_size + (o0 * p.out[1] + o1) * p.out[2] + o2] = static_cast<T>(v);
        }
      }
    }
  }
}

template <class T>
void global_avg(int64_t channels, int64_t spatial, const T* x, T* y) {
  for (int64_t c = 0; c < channels; ++c) {
    double sum = 0;
    for (int64_t i = 0; i < spatial; ++i) sum += static_cast<double>(x[c * spatial + i]);
    y[c] = static_cast<T>(spatial > 0 ? sum / static_cast<double>(spatial)
                                      : std::numeric_limits<double>::quiet_NaN());
  }
}

template <class T>
void global_max(int64_t channels, int64_t spatial, const T* x, T* y) {
  for (int64_t c = 0; c < channels; ++c) {
    T best = std::numeric_limits<T>::lowest();
    for (int64_t i = 0; i < spatial; ++i) {
      const T v = x[c * spatial + i];
      if (i == 0 || v > best) best = v;
    }
    y[c] = best;
  }
}

}  // namespace

#define OCTET_MAXPOOL_REF(T)                                                                \
  void maxpool_nchw_ref(const PoolParams& p, const T* x, T* y, int64_t* indices, bool cm) { \
    maxpool_loops(p, x, y, indices, cm);                                                    \
  }
OCTET_MAXPOOL_REF(float)
OCTET_MAXPOOL_REF(double)
OCTET_MAXPOOL_REF(int8_t)
OCTET_MAXPOOL_REF(uint8_t)
#undef OCTET_MAXPOOL_REF

void avgpool_nchw_ref(const PoolParams& p, bool count_include_pad, const float* x, float* y) {
  avgpool_loops(p, count_include_pad, x, y);
}
void avgpool_nchw_ref(const PoolParams& p, bool count_include_pad, const double* x, double* y) {
  avgpool_loops(p, count_include_pad, x, y);
}
void global_avgpool_ref(int64_t channels, int64_t spatial, const float* x, float* y) {
  global_avg(channels, spatial, x, y);
}
void global_avgpool_ref(int64_t channels, int64_t spatial, const double* x, double* y) {
  global_avg(channels, spatial, x, y);
}
void global_maxpool_ref(int64_t channels, int64_t spatial, const float* x, float* y) {
  global_max(channels, spatial, x, y);
}
void global_maxpool_ref(int64_t channels, int64_t spatial, const double* x, double* y) {
  global_max(channels, spatial, x, y);
}

int32_t qglobal_avgpool_finish(double sum, int64_t spatial, const QGlobalAvgPoolParams& p) {
  const float mean = static_cast<float>(spatial > 0 ? sum / static_cast<double>(spatial)
                                                    : std::numeric_limits<double>::quiet_NaN());
  return quantize_value(mean, p.y_scale, p.y_zp, p.qmin, p.qmax);
}

template <class X, class Y>
void qglobal_avgpool_ref(int64_t channels, int64_t spatial, const X* x, const QGlobalAvgPoolParams& p, Y* y) {
  for (int64_t c = 0; c < channels; ++c) {
    double sum = 0;
    for (int64_t i = 0; i < spatial; ++i) {
      const float v = static_cast<float>(static_cast<int32_t>(x[c * spatial + i]) - p.x_zp) * p.x_scale;
      sum += static_cast<double>(v);
    }
    y[c] = static_cast<Y>(qglobal_avgpool_finish(sum, spatial, p));
  }
}

template void qglobal_avgpool_ref(int64_t, int64_t, const uint8_t*, const QGlobalAvgPoolParams&, uint8_t*);
template void qglobal_avgpool_ref(int64_t, int64_t, const uint8_t*, const QGlobalAvgPoolParams&, int8_t*);
template void qglobal_avgpool_ref(int64_t, int64_t, const int8_t*, const QGlobalAvgPoolParams&, uint8_t*);
template void qglobal_avgpool_ref(int64_t, int64_t, const int8_t*, const QGlobalAvgPoolParams&, int8_t*);

}  // namespace octet::kernels
