// Shifted-B FP32 convolution for AVX2 + FMA; the contract is in sconv_shift_avx2.h.
//
// Design: for each 16-column tile of the output (two ymm), for each 6-row panel of the packed
// weights, a 6x16 register tile (12 accumulators) runs over all K taps: per tap it loads 2 ymm of
// the padded input at off[k] + q, broadcasts 6 weights and issues 12 FMAs, as the packed SGEMM's
// microkernel does with a packed B panel. The tile's input columns (K x 16 floats, 2-3 cache lines
// per tap) are re-read by every row panel, from L1 for the K of compact CNNs. No K blocking: the
// input slice of a tile is at most K * 3 lines and the weights panel 6 * K floats.
#include "kernels/avx2/sconv_shift_avx2.h"

#include <immintrin.h>

#include <algorithm>

#include "kernels/avx2/sgemm_avx2.h"
#include "kernels/avx2/sgemm_kloop.h"

namespace octet::kernels {
namespace {

constexpr int64_t MR = kSgemmMR, NR = kSconvShiftNR;
static_assert(MR == 6, "the k loop below is written for 6-row panels");

// The k loop of one 6x16 tile (sgemm_kloop.h) with B's row k at xq + off[k]. Out of line so that
// the 12 accumulators, 2 input vectors and the broadcast register fit the 16 ymm registers
// without spills (as the SGEMM's kloop_6x16).
__attribute__((noinline)) void kloop_shift_6x16(int64_t K, const float* a, const int32_t* off, const float* xq,
                                                float t[MR][NR]) {
  kloop_6x16_body(K, a, [xq, off](int64_t k) { return xq + off[k]; }, t);
}

}  // namespace

void sconv_shift_avx2(const SconvShiftParams& p, const float* packed_a, const float* x, float* c,
                      int64_t ldc, int64_t m0, int64_t m1) {
  const bool clamp = p.lo != -INFINITY || p.hi != INFINITY;
  const __m256 lo = _mm256_set1_ps(p.lo), hi = _mm256_set1_ps(p.hi);
  alignas(32) float t[MR][NR];
  for (int64_t q = 0; q < p.Q; q += NR) {
    for (int64_t m = m0; m < m1; m += MR) {
      const int mr = static_cast<int>(std::min<int64_t>(MR, m1 - m));
      kloop_shift_6x16(p.K, packed_a + m / MR * MR * p.K, p.off, x + q, t);
      for (int r = 0; r < mr; ++r) {
        __m256 v0 = _mm256_load_ps(t[r]), v1 = _mm256_load_ps(t[r] + 8);
        if (p.bias) {
          const __m256 b = _mm256_set1_ps(p.bias[m + r]);
          v0 = _mm256_add_ps(v0, b);
          v1 = _mm256_add_ps(v1, b);
        }
        if (clamp) {  // lo/hi first: minps/maxps return the second operand for NaN, so NaN stays
          v0 = _mm256_min_ps(hi, _mm256_max_ps(lo, v0));
          v1 = _mm256_min_ps(hi, _mm256_max_ps(lo, v1));
        }
        float* cr = c + (m - m0 + r) * ldc + q;
        _mm256_storeu_ps(cr, v0);
        _mm256_storeu_ps(cr + 8, v1);
      }
    }
  }
}

}  // namespace octet::kernels
