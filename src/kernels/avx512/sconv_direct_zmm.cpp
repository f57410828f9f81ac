// AVX-512 k loop of the FP32 direct convolution; see sconv_direct_zmm.h.
#include "kernels/avx512/sconv_direct_zmm.h"

#include <immintrin.h>

#include <array>
#include <utility>

namespace octet::kernels {
namespace {

// The accumulators are named by the fold expressions' constant indices, so that GCC keeps them
// in registers (an array indexed in a loop was stored to the stack every tap).
template <bool kIndexed, int NB, int S, size_t... R>
void run_w(int64_t K, const float* w, int64_t block, const int32_t* w_off, const int32_t* off, const float* x,
           float* const out[2], std::index_sequence<R...>) {
  __m512 a0[sizeof...(R)], a1[sizeof...(R)];
  ((a0[R] = _mm512_setzero_ps()), ...);
  if constexpr (NB == 2) ((a1[R] = _mm512_setzero_ps()), ...);
  for (int64_t k = 0; k < K; ++k) {
    const float* wk = kIndexed ? w + w_off[k] : w + 16 * k;
    const float* xk = x + off[k];
    const __m512 b0 = _mm512_loadu_ps(wk);
    if constexpr (NB == 1) {
      ((a0[R] = _mm512_fmadd_ps(_mm512_set1_ps(xk[S * R]), b0, a0[R])), ...);
    } else {
      const __m512 b1 = _mm512_loadu_ps(wk + block);
      auto pixel = [&](__m512 v, __m512& c0, __m512& c1) {
        c0 = _mm512_fmadd_ps(v, b0, c0);
        c1 = _mm512_fmadd_ps(v, b1, c1);
      };
      (pixel(_mm512_set1_ps(xk[S * R]), a0[R], a1[R]), ...);
    }
  }
  ((_mm512_storeu_ps(out[0] + 16 * R, a0[R])), ...);
  if constexpr (NB == 2) ((_mm512_storeu_ps(out[1] + 16 * R, a1[R])), ...);
}

using RunFn = void (*)(int64_t, const float*, int64_t, const int32_t*, const int32_t*, const float*, float* const[2]);

template <bool kIndexed, int NB, int S, int W>
__attribute__((noinline)) void run_fixed(int64_t K, const float* w, int64_t block, const int32_t* w_off,
                                         const int32_t* off, const float* x, float* const out[2]) {
  run_w<kIndexed, NB, S>(K, w, block, w_off, off, x, out, std::make_index_sequence<W>());
}

// The loops for W = 1 .. n pixels (entry W - 1); those under kSconvZmmMinRun are never called.
template <bool kIndexed, int NB, int S, size_t... W>
constexpr std::array<RunFn, sizeof...(W)> table(std::index_sequence<W...>) {
  return {run_fixed<kIndexed, NB, S, static_cast<int>(W) + 1>...};
}
template <int S>
struct Tables {
  static constexpr auto one = table<false, 1, S>(std::make_index_sequence<kSconvZmmMaxRun1>());
  static constexpr auto one_indexed = table<true, 1, S>(std::make_index_sequence<kSconvZmmMaxRun1>());
  static constexpr auto two = table<false, 2, S>(std::make_index_sequence<kSconvZmmMaxRun2>());
  static constexpr auto two_indexed = table<true, 2, S>(std::make_index_sequence<kSconvZmmMaxRun2>());
  static void run(int64_t W, int64_t blocks, int64_t K, const float* w, int64_t block, const int32_t* w_off,
                  const int32_t* off, const float* x, float* const out[2]) {
    if (blocks == 2) {
      (w_off ? two_indexed : two)[W - 1](K, w, block, w_off, off, x, out);
    } else {
      (w_off ? one_indexed : one)[W - 1](K, w, block, w_off, off, x, out);
    }
  }
};

}  // namespace

void sconv_direct_run_zmm(int64_t W, int64_t step, int64_t blocks, int64_t K, const float* w, int64_t block,
                          const int32_t* w_off, const int32_t* off, const float* x, float* const out[2]) {
  if (step == 2) {
    Tables<2>::run(W, blocks, K, w, block, w_off, off, x, out);
  } else {
    Tables<1>::run(W, blocks, K, w, block, w_off, off, x, out);
  }
}

}  // namespace octet::kernels
