#include "kernels/ref/norm_ref.h"

#include <cmath>

namespace octet::kernels {
namespace {

// Mean and population variance of n values at x[0], x[stride], ...; two passes for accuracy.
template <class T>
void moments(const T* x, int64_t n, double* mean, double* var) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]);
  const double m = n > 0 ? sum / static_cast<double>(n) : 0.0;
  double sq = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - m;
    sq += d * d;
  }
  *mean = m;
  *var = n > 0 ? sq / static_cast<double>(n) : 0.0;
}

template <class T>
void batchnorm_loops(int64_t N, int64_t C, int64_t S, const T* x, const T* scale, const T* bias,
                     const T* mean, const T* var, double eps, T* y) {
  for (int64_t c = 0; c < C; ++c) {
    const double inv = 1.0 / std::sqrt(static_cast<double>(var[c]) + eps);
    const double a = static_cast<double>(scale[c]) * inv;
    const double m = static_cast<double>(mean[c]), b = static_cast<double>(bias[c]);
    for (int64_t n = 0; n < N; ++n) {
      const int64_t off = (n * C + c) * S;
      for (int64_t s = 0; s < S; ++s)
        y[off + s] = static_cast<T>((static_cast<double>(x[off + s]) - m) * a + b);
    }
  }
}

template <class T>
void channel_moments_loops(int64_t N, int64_t C, int64_t S, const T* x, T* mean, T* var) {
  const double count = static_cast<double>(N * S);
  for (int64_t c = 0; c < C; ++c) {
    double sum = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) sum += static_cast<double>(x[(n * C + c) * S + s]);
    const double m = count > 0 ? sum / count : 0.0;
    double sq = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        const double d = static_cast<double>(x[(n * C + c) * S + s]) - m;
        sq += d * d;
      }
    mean[c] = static_cast<T>(m);
    var[c] = static_cast<T>(count > 0 ? sq / count : 0.0);
  }
}

template <class T>
void instancenorm_loops(int64_t N, int64_t C, int64_t S, const T* x, const T* scale, const T* bias,
                        double eps, T* y) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const int64_t off = (n * C + c) * S;
      double m, v;
      moments(x + off, S, &m, &v);
      const double a = static_cast<double>(scale[c]) / std::sqrt(v + eps);
      const double b = static_cast<double>(bias[c]);
      for (int64_t s = 0; s < S; ++s)
        y[off + s] = static_cast<T>((static_cast<double>(x[off + s]) - m) * a + b);
    }
}

// The sum of f(x[j]) over j < n in layer normalisation's order, in T: element j goes to partial
// sum j % kLayerNormLanes, and the 16 partial sums are then added pairwise (p[i] += p[i + 8],
// then + 4, + 2, + 1). The vectorised kernels keep the partial sums in the lanes of their
// vectors, so this order is what lets them vectorise a row and still give these bits.
template <class T, class F>
T striped_sum(const T* x, int64_t n, F f) {
  T p[kLayerNormLanes] = {};
  for (int64_t j = 0; j < n; ++j) p[j % kLayerNormLanes] += f(x[j]);
  for (int w = kLayerNormLanes / 2; w >= 1; w /= 2)
    for (int i = 0; i < w; ++i) p[i] += p[i + w];
  return p[0];
}

// Statistics and arithmetic in T (float rows in float: ONNX's default stash_type; double rows in
// double), every operation rounded as written (the kernels library builds with
// -ffp-contract=off, so no multiply-add is fused).
template <class T>
void layernorm_loops(int64_t rows, int64_t cols, const T* x, const T* scale, const T* bias,
                     double eps, T* y, T* mean_out, T* inv_std_out) {
  const T n = static_cast<T>(cols), e = static_cast<T>(eps);
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    const T m = cols > 0 ? striped_sum(xr, cols, [](T v) { return v; }) / n : T(0);
    const T v = cols > 0 ? striped_sum(xr, cols, [m](T v) {
      const T d = v - m;
      return d * d;
    }) / n : T(0);
    const T inv = T(1) / std::sqrt(v + e);
    for (int64_t j = 0; j < cols; ++j) {
      T o = (xr[j] - m) * inv;
      o = o * scale[j];
      if (bias) o = o + bias[j];
      y[r * cols + j] = o;
    }
    if (mean_out) mean_out[r] = m;
    if (inv_std_out) inv_std_out[r] = inv;
  }
}

}  // namespace

void batchnorm_nchw_ref(int64_t N, int64_t C, int64_t S, const float* x, const float* scale,
                        const float* bias, const float* mean, const float* var, double epsilon,
                        float* y) {
  batchnorm_loops(N, C, S, x, scale, bias, mean, var, epsilon, y);
}
void batchnorm_nchw_ref(int64_t N, int64_t C, int64_t S, const double* x, const double* scale,
                        const double* bias, const double* mean, const double* var, double epsilon,
                        double* y) {
  batchnorm_loops(N, C, S, x, scale, bias, mean, var, epsilon, y);
}
void channel_moments_nchw_ref(int64_t N, int64_t C, int64_t S, const float* x, float* mean,
                              float* var) {
  channel_moments_loops(N, C, S, x, mean, var);
}
void channel_moments_nchw_ref(int64_t N, int64_t C, int64_t S, const double* x, double* mean,
                              double* var) {
  channel_moments_loops(N, C, S, x, mean, var);
}
void instancenorm_nchw_ref(int64_t N, int64_t C, int64_t S, const float* x, const float* scale,
                           const float* bias, double epsilon, float* y) {
  instancenorm_loops(N, C, S, x, scale, bias, epsilon, y);
}
void instancenorm_nchw_ref(int64_t N, int64_t C, int64_t S, const double* x, const double* scale,
                           const double* bias, double epsilon, double* y) {
  instancenorm_loops(N, C, S, x, scale, bias, epsilon, y);
}
void layernorm_ref(int64_t rows, int64_t cols, const float* x, const float* scale,
                   const float* bias, double epsilon, float* y, float* mean_out,
                   float* inv_std_out) {
  layernorm_loops(rows, cols, x, scale, bias, epsilon, y, mean_out, inv_std_out);
}
void layernorm_ref(int64_t rows, int64_t cols, const double* x, const double* scale,
                   const double* bias, double epsilon, double* y, double* mean_out,
                   double* inv_std_out) {
  layernorm_loops(rows, cols, x, scale, bias, epsilon, y, mean_out, inv_std_out);
}

}  // namespace octet::kernels
