// Float 2-D convolution on the AVX2 kernels, with weights packed once at load and bias and a fused
// Relu/Clip in the epilogue:
//   - depthwise: the direct depthwise kernels (3x3: 8 channels per call in the vector lanes);
//   - 1x1 stride 1 without padding: of group 1, the shifted kernel's tiles on the input as it is
//     (run_1x1_shift: pixels in the lanes, nothing packed or transposed), but 16- and 32-channel
//     ones on planes known at load to be small, or with K <= 16, on the direct kernel; grouped
//     ones on the direct kernel under that plane rule, else the packed SGEMM on the input as it
//     is (see direct());
//   - other convolutions with K <= 2304 taps: with at least 16 output channels per group, the
//     direct kernel (channels in the lanes, on the input itself, skipping the taps in the padding;
//     see sconv_direct_avx2.h and run_direct), else the shifted-B kernel on zero-padded phase
//     planes of the input (no im2col; see sconv_shift_avx2.h and run_shifted);
//   - the rest: per image and group, im2col and the packed SGEMM;
//   - but spatial (kh * kw > 1) group-1 convolutions of at least 64 input channels go to oneDNN
//     (conv_f32_onednn.h, see use_onednn) when the build has it and the engine allows it, these
//     kernels remaining for what oneDNN declines and for output planes under 14x14 with K <= 576,
//     which run on the direct kernel (decided at load where the input plane's size is known
//     then, else per run; the profile names what ran).
// A residual Add after the convolution (and the Relu/Clip after that), fused by the engine: the
// direct kernel adds the residual in its epilogue before the clamp; on the other paths one pass
// over the output adds it and clamps (add_clamp_f32_avx2). Either way each element is the float
// sum (conv + bias) + residual, clamped: what the unfused nodes compute, bit for bit.
// Work is split into (image, group, pixel or row chunk, channel block) tasks over the pool.
#include <algorithm>
#include <cmath>
#include <climits>
#include <vector>

#include "kernels/avx2/dwconv_avx2.h"
#include "kernels/avx2/dwconv_cb8_avx2.h"
#include "kernels/avx2/eltwise_avx2.h"
#include "kernels/avx2/sconv_direct_avx2.h"
#include "kernels/avx2/sconv_shift_avx2.h"
#include "kernels/avx2/sgemm_avx2.h"
#include "runtime/fast/conv2d.h"
#include "runtime/fast/conv_f32_onednn.h"
#include "runtime/fast/fast_op.h"
#include "runtime/fast/scratch.h"

namespace octet {
namespace {

using fast::Conv2d;

class ConvF32 : public FastOp {
 public:
  // in_h, in_w: the input plane as shape inference left it on the graph, -1 where unknown.
  // residual: the engine fused an Add of a residual after it, [lo, hi] then being the clamp after
  // that Add.
  ConvF32(const Conv2d& g, const Tensor& w, const Tensor* b, float lo, float hi, bool residual, bool onednn,
          int64_t in_h, int64_t in_w)
      : g_(g),
        lo_(residual ? -INFINITY : lo),
        hi_(residual ? INFINITY : hi),
        residual_(residual),
        sum_lo_(lo),
        sum_hi_(hi) {
    const bool direct_ok = g.plain_1x1() && g.K() <= kMaxShiftK && g.Mg() % kernels::kSconvDirectMR == 0 &&
                           in_h > 0 && in_w > 0 && (in_h * in_w < fast::kSmallPlane || g.K() <= kShortK);
    const int64_t panel_rows = (g.Mg() + kernels::kSgemmMR - 1) / kernels::kSgemmMR * kernels::kSgemmMR;
    shift_1x1_ = g.plain_1x1() && g.group == 1 && g.K() <= kMaxShiftK && !(direct_ok && 16 * panel_rows > 17 * g.Mg());
    direct_1x1_ = !shift_1x1_ && direct_ok;
    bias_.assign(static_cast<size_t>(g.M), 0.f);
    if (b) std::copy(b->data<float>(), b->data<float>() + g.M, bias_.begin());
    const float* wp = w.data<float>();
    // A plane known to be small enough for the direct kernel never runs on oneDNN: such a layer
    // then does not hold oneDNN at all, and stays batch_invariant() (resnet8's 64-channel 3x3
    // layer on a 7x7 plane, so that its batches are split).
    Conv2d known = g;
    const bool small = in_h > 0 && in_w > 0 && small_plane_capable(g) && fast::resolve_conv2d(&known, in_h, in_w) &&
                       known.P() < kOnednnMinPixels;
    if (onednn && use_onednn(g_) && !small) onednn_ = fast::OnednnConv::make(g, wp, bias_.data(), lo_, hi_);
    if (g_.depthwise() && g_.Cg() == 1) {
      dw_weights_.assign(wp, wp + w.numel());
    } else if (!onednn_ || small_plane_capable(g_)) {  // with oneDNN: for small planes
      pack(wp);
    }
    Conv2d at_load = g;
    if (direct(g) && (!onednn_ || small_plane_capable(g)) && in_h > 0 && in_w > 0 &&
        fast::resolve_conv2d(&at_load, in_h, in_w)) {
      bands_ = fast::plan_tap_bands(at_load, kernels::kSconvDirectMR);
      bands_h_ = in_h;
      bands_w_ = in_w;
    }
  }

  std::string kernel() const override {
    if (onednn_ && !small_plane_) return fast::OnednnConv::kernel();
    if (!dw_weights_.empty()) return channel_blocks() ? "dwconv3x3_f32_cb8_avx2" : "dwconv_f32_avx2";
    if (shift_1x1_) return "conv_f32_1x1_shift_6x16_avx2";
    if (direct(g_)) return "conv_f32_direct_6x16_avx2";
    if (shifted(g_)) return "conv_f32_shift_6x16_avx2";
    return g_.plain_1x1() ? "conv_f32_1x1_sgemm_6x16_avx2" : "conv_f32_im2col_sgemm_6x16_avx2";
  }
  std::string precision() const override { return "fp32"; }
  bool batch_invariant() const override { return !onednn_; }

  bool run(const std::vector<const Tensor*>& in, Tensor& out, ThreadPool& pool) const override {
    const Tensor& x = *in[0];
    if (x.dtype() != DType::Float32 || x.rank() != 4 || x.dim(1) != g_.C) return false;
    Conv2d g = g_;
    if (!fast::resolve_conv2d(&g, x.dim(2), x.dim(3))) return false;
    const int64_t N = x.dim(0), P = g.P();
    Tensor y(DType::Float32, {N, g.M, g.OH, g.OW}, Tensor::Uninitialized{});
    const Tensor* r = residual_ && in.size() > kConvResidualInput ? in[kConvResidualInput] : nullptr;
    if (residual_ && (!r || r->dtype() != DType::Float32 || r->shape() != y.shape())) return false;
    const float* rp = r ? r->data<float>() : nullptr;
    bool summed = false;  // the residual is in y
    const float* xp = x.data<float>();
    float* yp = y.data<float>();
    const bool small = onednn_ && small_plane_capable(g) && g.P() < kOnednnMinPixels;
    if (onednn_) small_plane_ = small;  // written only with oneDNN: such an op never runs concurrently
    if (onednn_ && !small && !onednn_->run(g, N, xp, yp, pool)) {  // declined: own kernels from now on
      if (packed_.empty()) pack(onednn_->weights().data());
      onednn_.reset();
    }
    if (onednn_ && !small) {
      // done on oneDNN
    } else if (!dw_weights_.empty()) {
      run_depthwise(g, N, xp, yp, pool);
    } else if (shift_1x1_ && run_1x1_shift(g, N, xp, yp, pool)) {
      // done (else: offsets past int32, the packed SGEMM below: packed_ is in its layout)
    } else if (direct(g)) {
      if (!run_direct(g, N, xp, rp, yp, pool)) return false;
      summed = true;
    } else if (shifted(g)) {
      if (!run_shifted(g, N, xp, yp, pool)) return false;
    } else {
      const fast::ConvSplit s =
          fast::plan_conv_split(P, g.Mg(), g.K(), N * g.group, pool.size(), kernels::kSgemmMR, 512);
      pool.parallel_tasks(s.tasks(N * g.group), [&](int64_t task) {
        const fast::ConvSplit::Task t = s.task(task, g.group);
        compute(g, xp + (t.n * g.C + t.gi * g.Cg()) * g.H * g.W, t.gi, yp + (t.n * g.M + t.gi * g.Mg()) * P, t.p0,
                t.p1, t.m0, t.m1);
      });
    }
    if (rp && !summed) {
      pool.parallel_for(y.numel(), kEltwiseGrain, [&](int64_t b, int64_t e) {
        kernels::add_clamp_f32_avx2(yp + b, rp + b, e - b, sum_lo_, sum_hi_, yp + b);
      });
    }
    out = std::move(y);
    return true;
  }

 private:
  void compute(const Conv2d& g, const float* x, int64_t gi, float* y, int64_t p0, int64_t p1, int64_t m0,
               int64_t m1) const {
    const int64_t K = g.K(), n = p1 - p0;
    float* packed = fast::scratch_floats(0, kernels::sgemm_packed_b_floats(K, n));
    if (g.pointwise()) {
      kernels::sgemm_pack_b_avx2(K, n, x + p0, g.H * g.W, 1, 0, n, packed);
    } else {
      float* col = fast::scratch_floats(1, static_cast<size_t>(K * n));
      fast::im2col<float>(g, x, p0, p1, 0.f, col);
      kernels::sgemm_pack_b_avx2(K, n, col, n, 1, 0, n, packed);
    }
    kernels::SgemmEpilogue ep;
    ep.bias_row = bias_.data() + gi * g.Mg();
    ep.lo = lo_;
    ep.hi = hi_;
    kernels::sgemm_packed_avx2(g.Mg(), n, K, packed_[gi].data(), packed, y + p0, g.P(), 1, ep, m0, m1, 0, n);
  }

  // Which convolutions oneDNN runs, from `octet bench --profile` with and without --no-onednn (2
  // threads; AMD EPYC, AVX2): spatial group-1 convolutions of at least 64 input channels, the
  // ResNet-18 ones (64-256 channels at 56x56-14x14, batch 1: 1.66-1.76 ms against the direct
  // kernel's 1.84-2.04; 512 channels, K = 4608, beyond the direct kernel: 2.2 against im2col's
  // 3.0), its conversions to and from its blocked layout included. Below 64 channels the direct
  // kernel wins (resnet8 at batch 32: 16 channels 0.97 against 1.25 ms, 16 -> 32 stride 2 0.56
  // against 0.66, 32 -> 64 stride 2 0.55 against 0.68). On 1x1 convolutions (mobilenetv2-tiny's,
  // 16-96 channels: 0.55 against 0.32 ms) the conversions cost more than it gains over the packed
  // SGEMM, which reads NCHW as it is.
  static bool use_onednn(const Conv2d& g) { return g.group == 1 && g.kh * g.kw > 1 && g.C >= 64; }
  // But on output planes under 14x14 the direct kernel wins where it applies with K <= 576, so
  // such a layer keeps its weights packed for it too and the plane size of each run picks:
  // resnet8's 64-channel 3x3 layer at 7x7, batch 32, 1.16 ms on oneDNN against 1.0, batch 1 0.056
  // against 0.038 for its 32-channel layer of the same multiply-adds at 14x14; ResNet-18's 256
  // channels at 14x14 stay on oneDNN (1.76 against 1.9 ms), and so does its 256 -> 512 layer at
  // 7x7 (K = 2304: 1.25 against 1.31 ms), whose 16-channel weight blocks no longer stay in cache.
  static constexpr int64_t kOnednnMinPixels = 14 * 14;
  bool small_plane_capable(const Conv2d& g) const { return direct(g) && g.K() <= 576; }

  // The weights, per group, from w [M, Cg, kh, kw]: in the direct kernel's 16-channel blocks, or
  // the SGEMM kernels' 6-row panels.
  void pack(const float* wp) const {
    const int64_t Mg = g_.Mg(), K = g_.K();
    packed_.resize(static_cast<size_t>(g_.group));
    for (int64_t gi = 0; gi < g_.group; ++gi) {
      if (direct(g_)) {
        packed_[gi].resize(kernels::sconv_direct_packed_floats(Mg, K));
        kernels::sconv_direct_pack_avx2(Mg, K, wp + gi * Mg * K, K, packed_[gi].data());
      } else {
        packed_[gi].resize(kernels::sgemm_packed_a_floats(Mg, K));
        kernels::sgemm_pack_a_avx2(Mg, K, wp + gi * Mg * K, K, 1, packed_[gi].data());
      }
    }
    if (shift_1x1_) {  // its last P % 16 pixels run on the direct kernel (group 1)
      packed_tail_.resize(kernels::sconv_direct_packed_floats(Mg, K));
      kernels::sconv_direct_pack_avx2(Mg, K, wp, K, packed_tail_.data());
    }
  }

  // The shifted kernel's convolutions with at least 16 output channels per group run on the
  // direct kernel (sconv_direct_avx2.h), which fills its 16 channel lanes there and computes no
  // wrap-around columns. Plain 1x1 ones of group 1 run on run_1x1_shift (pixels in the lanes, the
  // input read as it is, no transpose), but for planes known at load to be under
  // fast::kSmallPlane pixels, or with K <= kShortK, whose output channels fill whole 16-lane
  // blocks and would leave more than 1/16 of the shifted kernel's 6-row panels empty (16 or 32
  // channels): those take the direct kernel (direct_1x1_). mobilenetv2-tiny FP32 batch 32, 1
  // thread, per layer, from the direct kernel or the packed SGEMM to run_1x1_shift: its first
  // expand layer (16 -> 64 channels, 28x28) 0.82 -> 0.67 ms, the other expand layers 0.39 -> 0.31
  // and 0.17 -> 0.15, the projections to 24 and 48 channels 0.24-0.35 -> 0.19-0.28 and 0.20 ->
  // 0.19, the head 0.22 -> 0.21; but the projections to 32 channels 0.106 -> 0.111 and 0.140 ->
  // 0.146 (36 rows computed for 32), so those stay on the direct kernel. Grouped plain 1x1 layers
  // take the direct kernel under the same plane rule, else the packed SGEMM.
  static constexpr int64_t kShortK = 16;
  bool direct(const Conv2d& g) const { return (shifted(g) || direct_1x1_) && g.Mg() >= kernels::kSconvDirectMR; }

  // Everything but a plain 1x1 (stride 1, no padding), which multiplies the input as it is.
  // Above this many taps the 16 input columns of a tile (K x 2-3 cache lines) no longer stay in L2
  // while every row panel re-reads them; im2col + packed SGEMM, which blocks K, is faster there.
  // Measured on ResNet-18's last stage (K = 4608): 2.8 ms against 2.2 ms; at K = 2304 they tie.
  static constexpr int64_t kMaxShiftK = 2304;
  // Decided from the attributes alone, so that kernel() names at load what run() does (except
  // that a oneDNN layer may run on the direct kernel for a small plane, see kOnednnMinPixels).
  static bool shifted(const Conv2d& g) { return !g.plain_1x1() && g.K() <= kMaxShiftK; }

  // Each task (fast::ShiftPlan) copies the input its output rows read into zero-padded phase
  // planes, runs the shifted-B kernel on them into a buffer of rows on the padded-width grid, and
  // copies the OW valid columns of each row out.
  bool run_shifted(const Conv2d& g, int64_t N, const float* x, float* y, ThreadPool& pool) const {
    const int64_t Mg = g.Mg(), K = g.K(), images = N * g.group;
    if (images == 0 || g.P() == 0 || Mg == 0) return true;  // nothing to compute
    const fast::ShiftPlan s = fast::plan_shift(g, images, pool.size(), kernels::kSgemmMR, kernels::kSconvShiftNR);
    // The kernel reads up to ldc - 1 + (Hp - rows) * Wp + max dj past a plane's start, max dj
    // being at most Wp - OW + pl (plan_shift's shorter rows); the slack after the last plane
    // (ldc + Wp) keeps those reads inside the buffer.
    const int64_t plane = s.Hp * s.Wp, planes = g.Cg() * s.pa * s.pb, padded = planes * plane + s.ldc + s.Wp;
    if (padded > INT32_MAX) return false;
    std::vector<int32_t> off(static_cast<size_t>(K));  // tap k = (c * kh + i) * kw + j; the same for every task
    for (int64_t c = 0, k = 0; c < g.Cg(); ++c)
      for (int64_t i = 0; i < g.kh; ++i)
        for (int64_t j = 0; j < g.kw; ++j) off[k++] = static_cast<int32_t>(s.tap_offset(g, c, i, j));
    pool.parallel_tasks(s.tasks(images), [&](int64_t task) {
      const fast::ShiftPlan::Task t = s.task(g, task);
      const float* xg = x + (t.n * g.C + t.gi * g.Cg()) * g.H * g.W;
      float* xp = fast::scratch_floats(0, static_cast<size_t>(padded));
      float* cb = fast::scratch_floats(1, static_cast<size_t>((t.m1 - t.m0) * s.ldc));
      fast::build_phase_planes(g, s, xg, t.r0, 0.f, xp);
      std::fill(xp + planes * plane, xp + padded, 0.f);
      kernels::SconvShiftParams p;
      p.M = Mg;
      p.K = K;
      p.Q = (t.r1 - t.r0) * s.Wp;
      p.off = off.data();
      p.bias = bias_.data() + t.gi * Mg;
      p.lo = lo_;
      p.hi = hi_;
      kernels::sconv_shift_avx2(p, packed_[t.gi].data(), xp, cb, s.ldc, t.m0, t.m1);
      float* yg = y + (t.n * g.M + t.gi * Mg) * g.P();
      for (int64_t m = t.m0; m < t.m1; ++m)
        for (int64_t r = t.r0; r < t.r1; ++r)
          fast::copy_short(yg + m * g.P() + r * g.OW, cb + (m - t.m0) * s.ldc + (r - t.r0) * s.Wp,
                           static_cast<size_t>(g.OW) * sizeof(float));
    });
    return true;
  }

  // Plain 1x1 convolutions (group 1) with pixels in the lanes, on the input as it is: a 6-channel x
  // 16-pixel tile of the shifted kernel (sconv_shift_avx2.h) reads B's row k straight from input
  // plane k (off[k] = k * P), so nothing is packed or copied, and its rows are the output's rows,
  // so nothing is transposed; the last P % 16 pixels of a plane, which a 16-pixel tile would read
  // past, run on the direct kernel as one band. Tasks as the SGEMM path splits them (pixel chunks
  // of whole 16-pixel tiles, 6-row channel blocks); the tasks of the last chunk also do the tail,
  // each for its channels rounded to 16-lane blocks (a plane under 16 pixels is all tail, and its
  // channels stay split over the threads). False when an offset would pass int32: run() then
  // takes the packed SGEMM.
  bool run_1x1_shift(const Conv2d& g, int64_t N, const float* x, float* y, ThreadPool& pool) const {
    const int64_t M = g.M, K = g.K(), P = g.P();
    if (N == 0 || P == 0 || M == 0) return true;
    if (K * P > INT32_MAX) return false;
    const int64_t P16 = P / kernels::kSconvShiftNR * kernels::kSconvShiftNR;
    constexpr int64_t kBlock = kernels::kSconvDirectMR;
    auto round16 = [](int64_t m) { return (m + kBlock - 1) / kBlock * kBlock; };
    std::vector<int32_t> off(static_cast<size_t>(K));
    for (int64_t k = 0; k < K; ++k) off[k] = static_cast<int32_t>(k * P);
    const fast::ConvSplit s = fast::plan_conv_split(P, M, K, N, pool.size(), kernels::kSgemmMR, 512);
    pool.parallel_tasks(s.tasks(N), [&](int64_t task) {
      const fast::ConvSplit::Task t = s.task(task, 1);
      const float* xn = x + t.n * g.C * P;
      float* yn = y + t.n * M * P;
      const int64_t q1 = std::min(t.p1, P16);
      if (q1 > t.p0) {
        kernels::SconvShiftParams p;
        p.M = M;
        p.K = K;
        p.Q = q1 - t.p0;
        p.off = off.data();
        p.bias = bias_.data();
        p.lo = lo_;
        p.hi = hi_;
        kernels::sconv_shift_avx2(p, packed_[0].data(), xn + t.p0, yn + t.m0 * P + t.p0, P, t.m0, t.m1);
      }
      // The tail's channels in whole 16-lane blocks: [m0, m1) rounded up at both ends, which
      // partition [0, M) over the channel blocks of the split.
      const int64_t c0 = std::min(M, round16(t.m0)), c1 = std::min(M, round16(t.m1));
      if (t.p1 == P && P16 < P && c0 < c1) {
        kernels::SconvDirectParams p;
        p.M = M;
        p.packed_K = K;
        p.Q = P - P16;
        p.ldo = p.Q;
        p.bias = bias_.data();
        p.lo = lo_;
        p.hi = hi_;
        kernels::SconvDirectBand b;
        b.x = xn + P16;
        b.rows = 1;
        b.cols = p.Q;
        b.K = K;
        b.off = off.data();
        float* scratch = fast::scratch_floats(0, kernels::sconv_direct_scratch_floats(p.Q, p.ldo, c0, c1));
        kernels::sconv_direct_avx2(p, &b, 1, packed_tail_.data(), yn + c0 * P + P16, P, c0, c1, scratch);
      }
    });
    return true;
  }

  // The direct kernel over tasks of (image, group, output rows, channels) as planned for the
  // shifted kernel. Each task runs the kernel on the input as it is, once per tap band
  // (fast::plan_tap_bands) its rows cross: the interior reads every tap, the edges and corners
  // only those inside the input, so no padded copy is built and no zero is multiplied (resnet8
  // FP32 batch 32, 1 thread: the copies took 11% of its time, the padding taps 8% of its
  // multiply-adds). The kernel writes each band's output pixels in place.
  // r: the fused residual ([N, M, OH, OW], added before the clamp), or null.
  bool run_direct(const Conv2d& g, int64_t N, const float* x, const float* r, float* y, ThreadPool& pool) const {
    const int64_t Mg = g.Mg(), K = g.K(), images = N * g.group;
    if (images == 0 || g.P() == 0 || Mg == 0) return true;  // nothing to compute
    std::vector<fast::TapBand> planned;
    const std::vector<fast::TapBand>* bands = &bands_;
    if (g.H != bands_h_ || g.W != bands_w_) {  // not the plane planned at load
      planned = fast::plan_tap_bands(g, kernels::kSconvDirectMR);
      bands = &planned;
    }
    if (bands->empty()) return false;  // offsets beyond int32
    const fast::ShiftPlan s = fast::plan_shift(g, images, pool.size(), kernels::kSconvDirectMR, 1);
    kernels::SconvDirectParams p;
    p.M = Mg;
    p.packed_K = K;
    p.ldo = g.OW;
    p.row_step = g.sh * g.W;
    p.col_step = g.sw;
    p.lo = lo_;
    p.hi = hi_;
    pool.parallel_tasks(s.tasks(images), [&](int64_t task) {
      const fast::ShiftPlan::Task t = s.task(g, task);
      const float* xg = x + (t.n * g.C + t.gi * g.Cg()) * g.H * g.W;
      std::vector<kernels::SconvDirectBand> kb;
      kb.reserve(bands->size());
      for (const fast::TapBand& b : *bands) {  // the bands' rows inside the task's, [r0, r1)
        const int64_t r0 = std::max(b.oh0, t.r0), r1 = std::min(b.oh1, t.r1);
        if (r0 >= r1) continue;
        kernels::SconvDirectBand k;
        k.x = b.off.empty() ? xg : xg + b.x0 + (r0 - b.oh0) * p.row_step;  // a band without taps reads nothing
        k.rows = r1 - r0;
        k.cols = b.ow1 - b.ow0;
        k.out = (r0 - t.r0) * g.OW + b.ow0;
        k.K = static_cast<int64_t>(b.off.size());
        k.off = b.off.data();
        k.w_off = b.w_off.empty() ? nullptr : b.w_off.data();
        kb.push_back(k);
      }
      kernels::SconvDirectParams tp = p;
      tp.Q = (t.r1 - t.r0) * g.OW;
      tp.bias = bias_.data() + t.gi * Mg;
      const int64_t at = (t.n * g.M + t.gi * Mg) * g.P() + t.m0 * g.P() + t.r0 * g.OW;  // the task's first output
      if (r) {
        tp.sum = r + at;
        tp.lo = sum_lo_;
        tp.hi = sum_hi_;
      }
      float* scratch = fast::scratch_floats(0, kernels::sconv_direct_scratch_floats(tp.Q, tp.ldo, t.m0, t.m1));
      kernels::sconv_direct_avx2(tp, kb.data(), static_cast<int64_t>(kb.size()), packed_[t.gi].data(), y + at, g.P(),
                                 t.m0, t.m1, scratch);
    });
    return true;
  }

  // 3x3: whole blocks of 8 channels on the channel-lane kernel (dwconv_cb8_avx2.h, the same
  // operations per plane, so the same bits), the M % 8 channels left plane by plane.
  bool channel_blocks() const { return g_.kh == 3 && g_.kw == 3 && g_.M >= 8; }

  void run_depthwise(const Conv2d& g, int64_t N, const float* x, float* y, ThreadPool& pool) const {
    const kernels::DwConvParams p = fast::dw_params(g);
    fast::parallel_channel_blocks(
        pool, N, g.M, channel_blocks() ? g.M / 8 : 0,
        [&](int64_t n, int64_t c0) {
          const int64_t t0 = n * g.M + c0;
          kernels::dwconv3x3_f32_cb8_avx2(p, x + t0 * g.H * g.W, dw_weights_.data() + c0 * 9, bias_.data() + c0, lo_,
                                          hi_, y + t0 * g.P(),
                                          fast::scratch_bytes(3, kernels::dwconv_cb8_f32_avx2_scratch_size(p)));
        },
        [&](int64_t n, int64_t c) {
          const int64_t tc = n * g.M + c;
          kernels::dwconv_f32_avx2(p, x + tc * g.H * g.W, dw_weights_.data() + c * g.kh * g.kw, bias_[c], lo_, hi_,
                                   y + tc * g.P(), fast::scratch_bytes(2, kernels::dwconv_avx2_scratch_size(p)));
        });
  }

  Conv2d g_;
  float lo_, hi_;  // the convolution's own clamp (none when a residual follows)
  // A fused residual Add, and the clamp after it (the Relu/Clip that followed the Add).
  bool residual_ = false;
  float sum_lo_, sum_hi_;
  // A plain 1x1 on the direct kernel (see direct()): a plane known at load, small or with K <=
  // kShortK, 16-lane channel blocks, and grouped or of 16 or 32 channels.
  bool direct_1x1_ = false;
  bool shift_1x1_ = false;   // a plain 1x1 of group 1 otherwise: run_1x1_shift
  std::vector<float> bias_;
  // run() is const so that the engine may run batch parts concurrently (engine.h); the mutable
  // members change only in a run on oneDNN (which declines a size: packed_ and onednn_; or picks
  // the direct kernel for a small plane: small_plane_), and an op on oneDNN is not
  // batch_invariant(), so the engine never runs it on two parts at once (packed_tail_ is written
  // with packed_, by pack()).
  // Per group: the packed [Mg, K] weights (on oneDNN: empty, unless kept for small planes).
  mutable std::vector<std::vector<float>> packed_;
  mutable std::vector<float> packed_tail_;  // shift_1x1_: the weights in the direct kernel's blocks
  std::vector<float> dw_weights_;           // depthwise: [M, kh * kw] as given
  mutable std::unique_ptr<fast::OnednnConv> onednn_;  // group 1 with oneDNN: runs there first
  mutable bool small_plane_ = false;  // the last run was on a plane small enough for the direct kernel
  // The direct kernel's tap bands for the input plane known at load (bands_h_ x bands_w_; -1 when
  // unknown, and a run on another plane plans its own).
  std::vector<fast::TapBand> bands_;
  int64_t bands_h_ = -1, bands_w_ = -1;
};

}  // namespace

std::unique_ptr<FastOp> make_conv_f32(const FastOpContext& ctx) {
  const Node& node = ctx.node;
  if (!node.domain.empty() || node.op_type != "Conv" || node.inputs.size() < 2) return nullptr;
  const Value* w = ctx.graph.find_value(node.inputs[1]);
  if (!w || !w->initializer || w->initializer->dtype() != DType::Float32) return nullptr;
  const Tensor* b = nullptr;
  if (node.inputs.size() > 2 && !node.inputs[2].empty()) {
    const Value* bv = ctx.graph.find_value(node.inputs[2]);
    if (!bv || !bv->initializer || bv->initializer->dtype() != DType::Float32) return nullptr;
    b = &*bv->initializer;
  }
  Conv2d g;
  if (!fast::read_conv2d(node, w->initializer->shape(), &g)) return nullptr;
  if (b && b->numel() != g.M) return nullptr;
  int64_t in_h, in_w;
  fast::inferred_plane(ctx.graph, node, &in_h, &in_w);
  const bool residual = ctx.residual_add != nullptr;
  return std::make_unique<ConvF32>(g, *w->initializer, b, ctx.act_min, ctx.act_max, residual, ctx.onednn, in_h, in_w);
}

}  // namespace octet
