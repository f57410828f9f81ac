#include "kernels/ref/qconv_ref.h"

#include <algorithm>
#include <limits>

namespace octet::kernels {

template <class TX, class TW>
bool qconv_s32_ref(const QConvParams& p, const TX* x, int32_t x_zp, const TW* w,
                   const int32_t* w_zp, int64_t w_zp_stride, const int32_t* bias, int32_t* y) {
  constexpr int64_t lo = std::numeric_limits<int32_t>::min();
  constexpr int64_t hi = std::numeric_limits<int32_t>::max();
  const size_t rank = p.kernel.size();
  int64_t in_size = 1, out_size = 1, k_size = 1;
  for (size_t d = 0; d < rank; ++d) {
    in_size *= p.in_spatial[d];
    out_size *= p.out_spatial[d];
    k_size *= p.kernel[d];
  }
  const int64_t cin_g = p.in_channels / p.group;
  const int64_t cout_g = p.out_channels / p.group;
  bool fits = true;

  // For the current output position: the offset inside one input channel plane of each kernel
  // tap, or -1 where the tap falls into the padding.
  std::vector<int64_t> tap_offset(static_cast<size_t>(k_size));
  std::vector<int64_t> out_pos(rank), k_pos(rank);  // zero-initialised
  for (int64_t op = 0; op < out_size; ++op) {
    std::fill(k_pos.begin(), k_pos.end(), 0);
    for (int64_t kk = 0; kk < k_size; ++kk) {
      int64_t off = 0;
      for (size_t d = 0; d < rank; ++d) {
        const int64_t i = out_pos[d] * p.strides[d] - p.pads_begin[d] + k_pos[d] * p.dilations[d];
        if (i < 0 || i >= p.in_spatial[d]) {
          off = -1;
          break;
        }
        off = off * p.in_spatial[d] + i;
      }
      tap_offset[static_cast<size_t>(kk)] = off;
      for (size_t d = rank; d-- > 0;) {  // odometer over kernel taps
        if (++k_pos[d] < p.kernel[d]) break;
        k_pos[d] = 0;
      }
    }

    for (int64_t n = 0; n < p.batch; ++n) {
      for (int64_t m = 0; m < p.out_channels; ++m) {
        const int64_t g = m / cout_g;
        const int64_t zw = w_zp ? w_zp[m * w_zp_stride] : 0;
        int64_t acc = bias ? bias[m] : 0;
        for (int64_t c = 0; c < cin_g; ++c) {
          const TX* xplane = x + (n * p.in_channels + g * cin_g + c) * in_size;
          const TW* wk = w + (m * cin_g + c) * k_size;
          for (int64_t kk = 0; kk < k_size; ++kk) {
            const int64_t off = tap_offset[static_cast<size_t>(kk)];
            if (off < 0) continue;
            acc += (static_cast<int64_t>(xplane[off]) - x_zp) * (static_cast<int64_t>(wk[kk]) - zw);
          }
        }
        if (acc < lo || acc > hi) {
          fits = false;
          acc = acc < lo ? lo : hi;
        }
        y[(n * p.out_channels + m) * out_size + op] = static_cast<int32_t>(acc);
      }
    }

    for (size_t d = rank; d-- > 0;) {  // odometer over output positions
      if (++out_pos[d] < p.out_spatial[d]) break;
      out_pos[d] = 0;
    }
  }
  return fits;
}

#define OCTET_QCONV_REF_INSTANTIATE(TX, TW)                                              \
  template bool qconv_s32_ref<TX, TW>(const QConvParams&, const TX*, int32_t, const TW*, \
                                      const int32_t*, int64_t, const int32_t*, int32_t*);
OCTET_QCONV_REF_INSTANTIATE(uint8_t, uint8_t)
OCTET_QCONV_REF_INSTANTIATE(uint8_t, int8_t)
OCTET_QCONV_REF_INSTANTIATE(int8_t, uint8_t)
OCTET_QCONV_REF_INSTANTIATE(int8_t, int8_t)
#undef OCTET_QCONV_REF_INSTANTIATE

}  // namespace octet::kernels
