// 2-D convolution geometry shared by the engine's float and integer convolutions, and the im2col
// that turns one image's input into the [K, pixels] operand of a GEMM.
#pragma once

#include <cstdint>
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kernels/avx2/dwconv_avx2.h"
#include "kernels/short_copy.h"
#include "runtime/thread_pool.h"

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
  // 1x1 without padding, read from the attributes alone (known at load, before the input size
  // resolves the padding); such a convolution multiplies its input, subsampled by the strides.
  bool unpadded_1x1() const {
    const bool no_pad = auto_pad != "NOTSET" || (pads[0] == 0 && pads[1] == 0 && pads[2] == 0 && pads[3] == 0);
    return kh == 1 && kw == 1 && no_pad;
  }
  // The same with stride 1: the input as it is.
  bool plain_1x1() const { return unpadded_1x1() && sh == 1 && sw == 1; }
  // Resolved: output pixel (oh, ow) reads input pixel (oh * sh, ow * sw), inside the input.
  bool subsampled_1x1() const {
    return kh == 1 && kw == 1 && pt == 0 && pl == 0 && OH > 0 && OW > 0 && (OH - 1) * sh < H && (OW - 1) * sw < W;
  }
  bool pointwise() const {  // 1x1, stride 1, no padding: the input already is the GEMM operand
    return subsampled_1x1() && sh == 1 && sw == 1 && OH == H && OW == W;
  }
};

// Reads a Conv-like node's attributes for weight shape w [M, C/group, kh, kw]; false when the
// convolution is not 2-D or uses something the fast path does not cover (the reference op then
// runs and reports any error).
bool read_conv2d(const Node& node, const Shape& w, Conv2d* g);
// Resolves output size and padding for input H x W; false when the kernel does not fit.
bool resolve_conv2d(Conv2d* g, int64_t H, int64_t W);

// Images per GEMM for a (resolved) subsampled_1x1 convolution of group 1 on N images over `threads`:
// on a plane under kSmallPlane pixels, several images gathered into one operand of about
// kImageColumns columns (one 7x7 image is a 49-column product whose fixed costs weigh as much as
// its multiply-adds), in groups whose count is a multiple of the threads where N allows, so that
// each thread gets as many; 1 (one image per GEMM) otherwise. Used by the INT8 convolution
// (qconv.cpp); the float one measured slower that way.
constexpr int64_t kSmallPlane = 256, kImageColumns = 512;
int64_t pointwise_images_per_gemm(const Conv2d& g, int64_t N, int threads);

// The depthwise kernels' description of this (resolved) convolution's plane geometry.
kernels::DwConvParams dw_params(const Conv2d& g);

// Depthwise work over the pool, one task per image and block: `blocks` blocks of 8 channels
// (channels [0, 8 * blocks)) as block(n, c0), then each channel left over as plane(n, c).
template <class Block, class Plane>
void parallel_channel_blocks(ThreadPool& pool, int64_t N, int64_t M, int64_t blocks, Block block, Plane plane) {
  const int64_t per_image = blocks + (M - 8 * blocks);
  pool.parallel_for(N * per_image, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t n = t / per_image, j = t % per_image;
      if (j < blocks) block(n, 8 * j);
      else plane(n, 8 * blocks + (j - blocks));
    }
  });
}

// The least work (multiply-adds) worth a task of its own: below it the hand-off costs more than a
// second thread saves. Measured at batch 1 on 2 threads (p50): mobilenetv2-tiny FP32 0.164 ms with
// 256K, 0.124 with 64K, 0.122 with 16K (onnxruntime 0.120), its INT8 0.155 / 0.125 / 0.121;
// resnet8 INT8 0.124 / 0.124 / 0.116.
constexpr int64_t kMinTaskMacs = 16384;

// How a GEMM convolution's work is cut into tasks: `chunks` pixel ranges of `chunk` output pixels
// (a multiple of the 16-column panel) times `m_blocks` row ranges of `m_block` output channels (a
// multiple of the kernel's row tile mr), for each of `images` (image, group) pairs.
//   - Enough tasks for every thread, each at least kMinTaskMacs multiply-adds, and a task count
//     per image that is a multiple of the threads' share so no thread idles at the end.
//   - Pixel chunks at most `cap` (the packed B chunk is reused by every row and should stay in
//     cache).
//   - Few images, small planes (<= 256 pixels) and more rows than pixels (the late layers, whose
//     weights are the bigger operand): the rows are split instead, so each thread streams only its
//     share of the weights rather than all of them (each task then packs the whole pixel operand,
//     which is the smaller one).
struct ConvSplit {
  int64_t P = 0, Mg = 0;  // what was planned for
  int64_t chunk = 0, chunks = 1, m_block = 0, m_blocks = 1;
  int64_t tasks(int64_t images) const { return images * chunks * m_blocks; }

  // Task t of tasks(): image n, group gi (of `group` per image), pixels [p0, p1), rows [m0, m1).
  struct Task {
    int64_t n, gi, p0, p1, m0, m1;
  };
  Task task(int64_t t, int64_t group) const {
    const int64_t mb = t % m_blocks, c = t / m_blocks % chunks, ng = t / m_blocks / chunks;
    return {ng / group, ng % group, c * chunk, std::min(P, (c + 1) * chunk), mb * m_block,
            std::min(Mg, (mb + 1) * m_block)};
  }
};
ConvSplit plan_conv_split(int64_t P, int64_t Mg, int64_t K, int64_t images, int threads, int64_t mr, int64_t cap);

// im2col of one group of one image for output pixels [p0, p1): col[k * (p1 - p0) + (p - p0)] with
// k = (c * kh + i) * kw + j, holding x[c][oh*sh - pt + i*dh][ow*sw - pl + j*dw], or `pad` outside.
// Each output row is done as three plain loops (left padding, the inside, right padding) whose
// bounds are computed once, so the compiler vectorises the copies and no per-element test runs.
template <class T>
void im2col(const Conv2d& g, const T* x /* [Cg, H, W] */, int64_t p0, int64_t p1, T pad, T* col) {
  const int64_t n = p1 - p0;
  if (g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 && g.OW == g.W) {
    // "Same" stride-1 convolution: row (c, i, j) is the input plane shifted by
    // s = (i - pt) * W + (j - pl) elements: one bulk copy, padding where the source index leaves
    // the plane (rows above / below), then the columns that wrapped into a neighbouring row.
    const int64_t hw = g.H * g.W;
    for (int64_t c = 0; c < g.Cg(); ++c)
      for (int64_t i = 0; i < g.kh; ++i)
        for (int64_t j = 0; j < g.kw; ++j) {
          T* row = col + ((c * g.kh + i) * g.kw + j) * n;
          const T* plane = x + c * hw;
          const int64_t shift = (i - g.pt) * g.W + (j - g.pl);
          const int64_t a = std::min(p1, std::max(p0, -shift)), b = std::max(a, std::min(p1, hw - shift));
          for (int64_t p = p0; p < a; ++p) row[p - p0] = pad;
          std::memcpy(row + (a - p0), plane + a + shift, static_cast<size_t>(b - a) * sizeof(T));
          for (int64_t p = b; p < p1; ++p) row[p - p0] = pad;
          const int64_t dj = j - g.pl;  // columns ow with ow + dj outside [0, W) are padding
          if (dj == 0) continue;
          for (int64_t r = p0 / g.W; r * g.W < p1; ++r) {
            const int64_t lo = dj < 0 ? r * g.W : r * g.W + g.W - dj;
            const int64_t hi = dj < 0 ? r * g.W - dj : r * g.W + g.W;
            for (int64_t p = std::max(lo, p0); p < std::min(hi, p1); ++p) row[p - p0] = pad;
          }
        }
    return;
  }
  for (int64_t c = 0; c < g.Cg(); ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        T* row = col + ((c * g.kh + i) * g.kw + j) * n;
        const T* plane = x + c * g.H * g.W;
        const int64_t col_off = j * g.dw - g.pl;  // iw = ow * sw + col_off
        // Output columns whose input column is inside [0, W): ow in [ow_lo, ow_hi).
        const int64_t ow_lo = col_off >= 0 ? 0 : std::min<int64_t>(g.OW, (-col_off + g.sw - 1) / g.sw);
        const int64_t ow_hi = std::max<int64_t>(ow_lo, std::min<int64_t>(g.OW, (g.W - col_off + g.sw - 1) / g.sw));
        int64_t oh = p0 / g.OW, ow = p0 % g.OW;
        for (int64_t t = 0; t < n;) {
          const int64_t end = std::min<int64_t>(g.OW, ow + (n - t));  // this output row, up to the chunk end
          T* out = row + t - ow;  // out[ow'] is column ow' of this output row
          const int64_t ih = oh * g.sh - g.pt + i * g.dh;
          if (ih < 0 || ih >= g.H) {
            for (int64_t o = ow; o < end; ++o) out[o] = pad;
          } else {
            const T* src = plane + ih * g.W + col_off;  // src[o * sw] is column o's input
            const int64_t a = std::max(ow, ow_lo), b = std::min(end, ow_hi);
            for (int64_t o = ow; o < std::min(end, a); ++o) out[o] = pad;
            if (g.sw == 1) {
              for (int64_t o = a; o < b; ++o) out[o] = src[o];
            } else {
              for (int64_t o = a; o < b; ++o) out[o] = src[o * g.sw];
            }
            for (int64_t o = std::max(ow, b); o < end; ++o) out[o] = pad;
          }
          t += end - ow;
          ow = 0;
          ++oh;
        }
      }
}

// The shifted-B convolutions' geometry and work split (conv_f32.cpp and qconv.cpp run_shifted).
//
// Phase planes turn any stride and dilation into the kernels' stride-1 form. Output (oh, ow) and
// tap (i, j) read input row oh * sh + i * dh - pt, column ow * sw + j * dw - pl. Writing
// i * dh = a + sh * di with a = (i * dh) % sh (likewise b, dj for columns), that is row
// (oh + di) * sh + a - pt: entry (oh + di, ow + dj) of phase plane (a, b), the plane holding
// P[a][b][r][c] = x[r * sh + a - pt][c * sw + b - pl] (padding outside the input). Stride 1 has
// one plane: the padded input. Only the phases some tap uses are built (kh == 1: a = 0 only, so a
// 1x1 stride-2 convolution has the one plane (0, 0)). A plane is Wp = OW + max dj wide (less with
// stride 1 and left padding, see plan_shift: the widest taps then read the next row's left
// padding) and Hp = rows + max di high; output pixel q = r * Wp + ow of a task reads tap (c, i, j)
// at plane_index(c, a, b) * Hp * Wp + di * Wp + dj + q, its ow >= OW columns being wrap-around the
// caller skips when copying out.
//
// Tasks: (image, group, block of `rows` output rows, block of `m_block` output channels), so that
// every thread has work while each task keeps at least kMinTaskMacs multiply-adds.
struct ShiftPlan {
  int64_t pa = 1, pb = 1;          // phases built along rows and columns
  int64_t Wp = 0, Hp = 0;          // plane size
  int64_t rows = 0, chunks = 1;    // output rows per task, row chunks per image
  int64_t m_block = 0, m_blocks = 1;
  int64_t ldc = 0;                 // columns of a task's output buffer: rows * Wp rounded up to nr
  int64_t tasks(int64_t images) const { return images * chunks * m_blocks; }
  // Plane index of channel c and phases (a, b).
  int64_t plane_index(int64_t c, int64_t a, int64_t b) const { return (c * pa + a) * pb + b; }
  // Tap (c, i, j)'s offset (in plane entries) from a plane set's start.
  int64_t tap_offset(const Conv2d& g, int64_t c, int64_t i, int64_t j) const {
    return (plane_index(c, i * g.dh % g.sh, j * g.dw % g.sw) * Hp + i * g.dh / g.sh) * Wp + j * g.dw / g.sw;
  }
  // Task t: image n, group gi, output rows [r0, r1), channels [m0, m1).
  struct Task {
    int64_t n, gi, r0, r1, m0, m1;
  };
  Task task(const Conv2d& g, int64_t t) const {
    const int64_t mb = t % m_blocks, rc = t / m_blocks % chunks, ng = t / m_blocks / chunks;
    return {ng / g.group, ng % g.group, rc * rows, std::min(g.OH, (rc + 1) * rows), mb * m_block,
            std::min(g.Mg(), (mb + 1) * m_block)};
  }
};
// For a resolved convolution with images = N * group (image, group) pairs, OH, Mg >= 1; mr is the
// kernel's row tile (m_block is a multiple of it), nr its column tile; half_tiles: a last tile of
// at most nr / 2 columns costs half a tile (the AVX2 INT8 kernel's tile_kernel_half).
ShiftPlan plan_shift(const Conv2d& g, int64_t images, int threads, int64_t mr, int64_t nr, bool half_tiles = false);

// Columns [c_lo, c_hi) of phase b's plane rows that lie inside the input (the rest is padding).
inline void shift_plane_columns(const Conv2d& g, const ShiftPlan& s, int64_t b, int64_t* c_lo, int64_t* c_hi) {
  const int64_t first = g.pl - b;  // column cc reads input column cc * sw + b - pl
  *c_lo = std::min(s.Wp, first <= 0 ? 0 : (first + g.sw - 1) / g.sw);
  *c_hi = std::max(*c_lo, std::min(s.Wp, (g.W + g.pl - b + g.sw - 1) / g.sw));
}

// The phase planes of one group's input x [Cg, H, W] for output rows from r0 on, `pad` outside the
// input: plane (c, a, b) of s (s.pa x s.pb phases, s.Hp x s.Wp entries) holds entry (rr, cc) =
// x[c][(r0 + rr) * sh + a - pt][cc * sw + b - pl]. The float shifted and direct convolutions
// (conv_f32.cpp) and the INT8 phase-row path (qconv.cpp) read them.
template <class T>
void build_phase_planes(const Conv2d& g, const ShiftPlan& s, const T* x, int64_t r0, T pad, T* planes) {
  for (int64_t c = 0; c < g.Cg(); ++c)
    for (int64_t a = 0; a < s.pa; ++a)
      for (int64_t b = 0; b < s.pb; ++b) {
        int64_t c_lo, c_hi;
        shift_plane_columns(g, s, b, &c_lo, &c_hi);
        T* pl = planes + s.plane_index(c, a, b) * s.Hp * s.Wp;
        for (int64_t rr = 0; rr < s.Hp; ++rr) {
          T* dst = pl + rr * s.Wp;
          const int64_t ih = (r0 + rr) * g.sh + a - g.pt;
          if (ih < 0 || ih >= g.H) {
            std::fill(dst, dst + s.Wp, pad);
            continue;
          }
          const T* src = x + (c * g.H + ih) * g.W;  // column cc is src[cc * sw + b - pl]
          std::fill(dst, dst + c_lo, pad);
          if (g.sw == 1) {
            std::memcpy(dst + c_lo, src + (c_lo + b - g.pl), static_cast<size_t>(c_hi - c_lo) * sizeof(T));
          } else {
            for (int64_t cc = c_lo; cc < c_hi; ++cc) dst[cc] = src[cc * g.sw + b - g.pl];
          }
          std::fill(dst + c_hi, dst + s.Wp, pad);
        }
      }
}

// Runs of output positions along one axis that read the same kernel taps [lo, hi) inside an input
// of n positions: position o reads input o * stride - pad + t * dil for tap t < taps.
struct TapRun {
  int64_t o0, o1, lo, hi;
};
std::vector<TapRun> tap_runs(int64_t outs, int64_t n, int64_t stride, int64_t pad, int64_t taps, int64_t dil);

// A resolved convolution's output plane cut into rectangles whose pixels read the same taps
// inside the input (3x3 with padding 1: the interior, 4 edges and 4 corners), so that a direct
// kernel reads the input as it is and skips the taps that fall in the padding instead of
// multiplying zeros from a padded copy. Pixel (oh, ow) of a band reads its t-th tap at input offset
// x0 + (oh - oh0) * sh * W + (ow - ow0) * sw + off[t] within a group's [Cg, H, W] planes (x0 is
// the first pixel's first tap inside the input, so every offset is >= 0), and that tap is
// weight column k = (c * kh + i) * kw + j at w_off[t] = w_stride * k (the kernel's packed row
// length); w_off is empty when the band reads every tap, in k order. A band whose pixels read no
// input at all has no taps (and no w_off).
struct TapBand {
  int64_t oh0 = 0, oh1 = 0, ow0 = 0, ow1 = 0;
  int64_t x0 = 0;
  std::vector<int32_t> off, w_off;
};
// Bands in row-major order of their rectangles, which tile the OH x OW plane; empty when the plane
// is, or when an offset does not fit in int32 (Cg * H * W or w_stride * K over INT32_MAX).
std::vector<TapBand> plan_tap_bands(const Conv2d& g, int64_t w_stride);

// The input plane of a Conv-like node as shape inference left it on the graph: *h, *w, or -1
// where unknown (the fast ops decide some paths at load from it).
void inferred_plane(const Graph& graph, const Node& node, int64_t* h, int64_t* w);

// memcpy for the short rows the shifted convolutions copy out of their padded-width buffers (a
// few to a few dozen bytes, thousands of times per layer): fixed-size moves, the last one
// overlapping, instead of a library call per row (the calls took 10% of resnet8's INT8 time).
inline void copy_short(void* dst, const void* src, size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  if (n < 16) {
    kernels::copy_under16(d, s, n);
    return;
  }
  size_t i = 0;
  for (; i + 16 <= n; i += 16) std::memcpy(d + i, s + i, 16);
  if (i < n) std::memcpy(d + n - 16, s + n - 16, 16);
}

// One input plane [H, W] of a subsampled_1x1 convolution as its [OH * OW] GEMM row: x[oh * sh][ow *
// sw] for each output pixel (a copy when the strides are 1).
template <class T>
void gather_1x1(const Conv2d& g, const T* plane, T* dst) {
  if (g.pointwise()) {
    copy_short(dst, plane, static_cast<size_t>(g.P()) * sizeof(T));
    return;
  }
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    const T* src = plane + oh * g.sh * g.W;
    T* d = dst + oh * g.OW;
    for (int64_t ow = 0; ow < g.OW; ++ow) d[ow] = src[ow * g.sw];
  }
}

}  // namespace octet::fast
