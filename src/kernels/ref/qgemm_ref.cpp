#include "kernels/ref/qgemm_ref.h"

#include <limits>

namespace octet::kernels {

template <class TA, class TB>
bool qgemm_s32_ref(const QGemmParams& p, const TA* a, const int32_t* a_zp, int64_t a_zp_stride,
                   const TB* b, const int32_t* b_zp, int64_t b_zp_stride, int32_t* c) {
  constexpr int64_t lo = std::numeric_limits<int32_t>::min();
  constexpr int64_t hi = std::numeric_limits<int32_t>::max();
  bool fits = true;
  for (int64_t m = 0; m < p.M; ++m) {
    const int64_t za = a_zp ? a_zp[m * a_zp_stride] : 0;
    const TA* arow = a + m * p.lda;
    for (int64_t n = 0; n < p.N; ++n) {
      const int64_t zb = b_zp ? b_zp[n * b_zp_stride] : 0;
      int64_t acc = 0;
      for (int64_t k = 0; k < p.K; ++k)
        acc += (static_cast<int64_t>(arow[k]) - za) * (static_cast<int64_t>(b[k * p.ldb + n]) - zb);
      if (acc < lo || acc > hi) {
        fits = false;
        acc = acc < lo ? lo : hi;
      }
      c[m * p.ldc + n] = static_cast<int32_t>(acc);
    }
  }
  return fits;
}

template bool qgemm_s32_ref<uint8_t, uint8_t>(const QGemmParams&, const uint8_t*, const int32_t*,
                                              int64_t, const uint8_t*, const int32_t*, int64_t,
                                              int32_t*);
template bool qgemm_s32_ref<uint8_t, int8_t>(const QGemmParams&, const uint8_t*, const int32_t*,
                                             int64_t, const int8_t*, const int32_t*, int64_t,
                                             int32_t*);
template bool qgemm_s32_ref<int8_t, uint8_t>(const QGemmParams&, const int8_t*, const int32_t*,
                                             int64_t, const uint8_t*, const int32_t*, int64_t,
                                             int32_t*);
template bool qgemm_s32_ref<int8_t, int8_t>(const QGemmParams&, const int8_t*, const int32_t*,
                                            int64_t, const int8_t*, const int32_t*, int64_t,
                                            int32_t*);

}  // namespace octet::kernels
