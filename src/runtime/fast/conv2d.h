// 2-D convolution geometry shared by the engine's float and integer convolutions, and the im2col
// that turns one image's input into the [K, pixels] operand of a GEMM.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include "ir/graph.h"

namespace octet::fast {

struct Conv2d {
  int64_t M = 0, C = 0, group = 1;  // output channels, input channels
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  std::string auto_pad = "NOTSET";
  int64_t pads[4] = {0, 0, 0, 0};  // top, left, bottom, right (NOTSET)
  // Resolved for an input size by resolve():
  int64_t H = 0, W = 0, OH = 0, OW = 0, pt = 0, pl = 0;

  int64_t Mg() const { return M / group; }
  int64_t Cg() const { return C / group; }
  int64_t K() const { return Cg() * kh * kw; }
  int64_t P() const { return OH * OW; }
  bool depthwise() const { return group == C && group == M && group > 1; }
  bool pointwise() const {  // 1x1, stride 1, no padding: the input already is the GEMM operand
    return kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0 && OH == H && OW == W;
  }
};

// Reads a Conv-like node's attributes for weight shape w [M, C/group, kh, kw]; false when the
// convolution is not 2-D or uses something the fast path does not cover (the reference op then
// runs and reports any error).
bool read_conv2d(const Node& node, const Shape& w, Conv2d* g);
// Resolves output size and padding for input H x W; false when the kernel does not fit.
bool resolve_conv2d(Conv2d* g, int64_t H, int64_t W);

// im2col of one group of one image for output pixels [p0, p1): col[k * (p1 - p0) + (p - p0)] with
// k = (c * kh + i) * kw + j, holding x[c][oh*sh - pt + i*dh][ow*sw - pl + j*dw], or `pad` outside.
template <class T>
void im2col(const Conv2d& g, const T* x /* [Cg, H, W] */, int64_t p0, int64_t p1, T pad, T* col) {
  const int64_t n = p1 - p0;
  for (int64_t c = 0; c < g.Cg(); ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        T* row = col + ((c * g.kh + i) * g.kw + j) * n;
        const T* plane = x + c * g.H * g.W;
        int64_t oh = p0 / g.OW, ow = p0 % g.OW;
        for (int64_t t = 0; t < n;) {
          const int64_t ih = oh * g.sh - g.pt + i * g.dh;
          const int64_t run = std::min<int64_t>(g.OW - ow, n - t);  // rest of this output row
          if (ih < 0 || ih >= g.H) {
            for (int64_t r = 0; r < run; ++r) row[t + r] = pad;
          } else {
            const T* src = plane + ih * g.W;
            int64_t iw = ow * g.sw - g.pl + j * g.dw;
            if (g.sw == 1 && iw >= 0 && iw + run <= g.W) {
              std::memcpy(row + t, src + iw, static_cast<size_t>(run) * sizeof(T));
            } else {
              for (int64_t r = 0; r < run; ++r, iw += g.sw)
                row[t + r] = (iw >= 0 && iw < g.W) ? src[iw] : pad;
            }
          }
          t += run;
          ow = 0;
          ++oh;
        }
      }
}

}  // namespace octet::fast
