// Direct FP32 convolution, channels in the lanes, for AVX2 + FMA; the contract is in
// sconv_direct_avx2.h.
//
// Design: for each 16-channel weight block, for each tile of 6 output pixels, a 6x16 register
// tile (12 accumulators) runs over all K taps: per tap one offset is read, 6 input floats are
// broadcast (one per pixel, each from its own row base) and 2 ymm of packed weights are loaded for
// 12 FMAs. The block's weights (K x 64 bytes) are re-read by every pixel tile, from L1 or L2; the
// planes of one task stay in L2. The epilogue adds the bias and clamps with channels in the lanes,
// then transposes each 6-pixel x 8-channel half in registers and stores 6 floats per channel row.
#include "kernels/avx2/sconv_direct_avx2.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/avx2/sgemm_kloop.h"
#include "kernels/avx2/transpose_avx2.h"

namespace octet::kernels {
namespace {

constexpr int64_t MR = kSconvDirectMR, PR = kSconvDirectPR;
static_assert(MR == 16 && PR == 6, "the k loop below is written for 6 x 16 tiles");

// t[p][l] = sum_k w[k * 16 + l] * xp[p][off[k]], in k order, one FMA per product (the shared 6x16
// k loop, sgemm_kloop.h, with the pixels as its broadcast rows). Out of line so that the 12
// accumulators, 2 weight vectors and the broadcast register fit the 16 ymm registers.
__attribute__((noinline)) void kloop_direct_6x16(int64_t K, const float* w, const int32_t* off,
                                                 const float* const xp[PR], float t[PR][MR]) {
  const float* const x[PR] = {xp[0], xp[1], xp[2], xp[3], xp[4], xp[5]};
  kloop_6x16_rows(K, [&x, off](int64_t k, int r) { return x[r] + off[k]; },
                  [w](int64_t k) { return w + k * MR; }, t);
}

// kloop_direct_6x16 for a last tile of R < 6 pixels (a 7x7 plane's 49 = 8 x 6 + 1): only R
// pixels' products, each element's FMAs in the same k order as the 6-pixel loop (so the same
// bits); rows R.. of t are zeroed, not computed. A 1-pixel tile costs about a quarter of a full
// one (three loads per two FMAs) instead of a whole one.
template <int R>
__attribute__((noinline)) void kloop_direct_tail(int64_t K, const float* w, const int32_t* off,
                                                 const float* const xp[PR], float t[PR][MR]) {
  static_assert(R >= 1 && R < PR, "a partial tile");
  // Named accumulators (an array of them made GCC keep them on the stack inside the loop).
  const __m256 z = _mm256_setzero_ps();
  __m256 c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z, c41 = z;
  const float *x0 = xp[0], *x1 = xp[R > 1 ? 1 : 0], *x2 = xp[R > 2 ? 2 : 0], *x3 = xp[R > 3 ? 3 : 0],
              *x4 = xp[R > 4 ? 4 : 0];
  for (int64_t k = 0; k < K; ++k) {
    const __m256 b0 = _mm256_loadu_ps(w + k * MR), b1 = _mm256_loadu_ps(w + k * MR + 8);
    const int32_t o = off[k];
    auto pixel = [&](const float* x, __m256& lo, __m256& hi) {  // one pixel's 16 channels
      const __m256 a = _mm256_broadcast_ss(x + o);
      lo = _mm256_fmadd_ps(a, b0, lo);
      hi = _mm256_fmadd_ps(a, b1, hi);
    };
    pixel(x0, c00, c01);
    if constexpr (R > 1) pixel(x1, c10, c11);
    if constexpr (R > 2) pixel(x2, c20, c21);
    if constexpr (R > 3) pixel(x3, c30, c31);
    if constexpr (R > 4) pixel(x4, c40, c41);
  }
  const __m256 acc[PR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {z, z}};
  for (int r = 0; r < PR; ++r) {  // rows past R are zeros
    _mm256_store_ps(t[r], acc[r][0]);
    _mm256_store_ps(t[r] + 8, acc[r][1]);
  }
}

// Bias (when `bias`), clamp and the store of one tile: channels [0, mr) of the block (bias16 holds
// their 16 biases, zeros past mr), pixels [0, n), channel l's row at c + l * ldc. `room` is how
// many floats of each row from c on the caller's range holds: with at least 8, whole vectors are
// stored, lanes 6 and 7 landing where the next tile's pixels 0 and 1 are stored after.
void store_tile(const float t[PR][MR], const float* bias16, bool bias, bool clamp, __m256 lo, __m256 hi,
                int64_t mr, int64_t n, int64_t room, float* c, int64_t ldc) {
  for (int64_t h = 0; h < 2 && 8 * h < mr; ++h) {
    __m256 r[8];
    const __m256 b = _mm256_loadu_ps(bias16 + 8 * h);
    for (int p = 0; p < PR; ++p) {
      __m256 v = _mm256_load_ps(t[p] + 8 * h);
      if (bias) v = _mm256_add_ps(v, b);
      if (clamp) v = _mm256_min_ps(hi, _mm256_max_ps(lo, v));  // lo/hi first: NaN stays NaN
      r[p] = v;
    }
    r[6] = r[7] = _mm256_setzero_ps();
    avx2::transpose8x8_ps(r);  // r[l]: channel 8h + l, pixels in lanes 0..5
    const int64_t ls = std::min<int64_t>(8, mr - 8 * h);
    float* row = c + 8 * h * ldc;
    if (n == PR && room >= 8) {
      for (int64_t l = 0; l < ls; ++l, row += ldc) _mm256_storeu_ps(row, r[l]);
    } else if (n == PR) {
      for (int64_t l = 0; l < ls; ++l, row += ldc) {
        _mm_storeu_ps(row, _mm256_castps256_ps128(r[l]));
        _mm_storel_pi(reinterpret_cast<__m64*>(row + 4), _mm256_extractf128_ps(r[l], 1));
      }
    } else {
      alignas(32) float tmp[8];
      for (int64_t l = 0; l < ls; ++l, row += ldc) {
        _mm256_store_ps(tmp, r[l]);
        std::memcpy(row, tmp, static_cast<size_t>(n) * sizeof(float));
      }
    }
  }
}

}  // namespace

void sconv_direct_pack_avx2(int64_t M, int64_t K, const float* w, int64_t ldw, float* packed) {
  for (int64_t m0 = 0; m0 < M; m0 += MR)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t l = 0; l < MR; ++l) *packed++ = m0 + l < M ? w[(m0 + l) * ldw + k] : 0.f;
}

void sconv_direct_avx2(const SconvDirectParams& p, const float* packed_w, const float* x, float* c, int64_t ldc,
                       int64_t m0, int64_t m1) {
  const bool clamp = p.lo != -INFINITY || p.hi != INFINITY;
  const __m256 lo = _mm256_set1_ps(p.lo), hi = _mm256_set1_ps(p.hi);
  alignas(32) float t[PR][MR];
  alignas(32) float bias16[MR];
  for (int64_t m = m0; m < m1; m += MR) {
    const int64_t mr = std::min(MR, m1 - m);
    for (int64_t l = 0; l < MR; ++l) bias16[l] = p.bias && l < mr ? p.bias[m + l] : 0.f;
    const float* w = packed_w + m / MR * MR * p.K;
    float* cm = c + (m - m0) * ldc;
    // Pixel q's input base, carried as (row base, column).
    int64_t r_base = 0, ow = 0;
    for (int64_t q = 0; q < p.Q; q += PR) {
      const int64_t n = std::min(PR, p.Q - q);
      const float* xp[PR];
      for (int64_t i = 0; i < PR; ++i) {
        if (i < n) {
          xp[i] = x + r_base + ow * p.col_step;
          if (++ow == p.OW) {
            ow = 0;
            r_base += p.row_step;
          }
        } else {
          xp[i] = xp[n - 1];  // past the last pixel (the tail loops read only n)
        }
      }
      switch (n) {
        case 1: kloop_direct_tail<1>(p.K, w, p.off, xp, t); break;
        case 2: kloop_direct_tail<2>(p.K, w, p.off, xp, t); break;
        case 3: kloop_direct_tail<3>(p.K, w, p.off, xp, t); break;
        case 4: kloop_direct_tail<4>(p.K, w, p.off, xp, t); break;
        case 5: kloop_direct_tail<5>(p.K, w, p.off, xp, t); break;
        default: kloop_direct_6x16(p.K, w, p.off, xp, t);
      }
      store_tile(t, bias16, p.bias != nullptr, clamp, lo, hi, mr, n, p.Q - q, cm + q, ldc);
    }
  }
}

}  // namespace octet::kernels
