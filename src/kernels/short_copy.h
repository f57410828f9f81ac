// Copies of fewer than 16 bytes without a library call: the short rows that the convolutions copy
// thousands of times per layer (memcpy with a run-time size is a call each time). Plain C++; the
// fixed-size memcpys compile to single loads and stores.
#pragma once

#include <cstddef>
#include <cstring>

namespace octet::kernels {

// dst[0, n) = src[0, n) for n < 16: two overlapping moves of 8 (or 4) bytes, inside the range.
inline void copy_under16(unsigned char* dst, const unsigned char* src, size_t n) {
  if (n >= 8) {
    std::memcpy(dst, src, 8);
    std::memcpy(dst + n - 8, src + n - 8, 8);
  } else if (n >= 4) {
    std::memcpy(dst, src, 4);
    std::memcpy(dst + n - 4, src + n - 4, 4);
  } else {
    for (size_t i = 0; i < n; ++i) dst[i] = src[i];
  }
}

}  // namespace octet::kernels
