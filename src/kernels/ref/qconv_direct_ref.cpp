#include "kernels/ref/qconv_direct_ref.h"

#include <algorithm>

#include "kernels/ref/quantize_ref.h"

namespace octet::kernels {

void qconv_direct_pack(int64_t M, int64_t C, int64_t taps, const int8_t* w, int8_t* packed) {
  const int64_t Cq = (C + 3) / 4;
  std::fill(packed, packed + qconv_direct_packed_bytes(M, taps, Cq), int8_t{0});
  for (int64_t m = 0; m < M; ++m)
    for (int64_t t = 0; t < taps; ++t)
      for (int64_t c = 0; c < C; ++c)
        packed[((m / 16 * taps + t) * Cq + c / 4) * 64 + m % 16 * 4 + c % 4] = w[(m * C + c) * taps + t];
}

void qconv_direct_ref(const QconvDirectParams& p, const QconvDirectBand* bands, int64_t nbands,
                      const int8_t* packed, int64_t m0, int64_t m1, uint8_t* y, int64_t ldy) {
  for (int64_t bi = 0; bi < nbands; ++bi) {
    const QconvDirectBand& b = bands[bi];
    for (int64_t m = m0; m < m1; ++m) {
      const int8_t* wb = packed + m / 16 * p.block_bytes + m % 16 * 4;
      for (int64_t i = 0; i < b.rows; ++i)
        for (int64_t j = 0; j < b.cols; ++j) {
          const uint8_t* xp = b.x + i * p.row_step + j * p.col_step;
          uint32_t acc = static_cast<uint32_t>(b.rowterm[m]);
          for (int64_t t = 0; t < b.taps; ++t)
            for (int64_t c = 0; c < 4 * p.Cq; ++c)
              acc += static_cast<uint32_t>(static_cast<int32_t>(xp[b.off[t] + c]) * wb[b.w_off[t] + c / 4 * 64 + c % 4]);
          const int32_t q = requantize_value(static_cast<int32_t>(acc), p.multiplier[m], p.zero_point, p.qmin, p.qmax);
          y[(m - m0) * ldy + b.out + i * p.ldo + j] = static_cast<uint8_t>(std::min(std::max(q, p.lo), p.hi));
        }
    }
  }
}

}  // namespace octet::kernels
