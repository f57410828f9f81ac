// octet.QLinearConv on the exact INT8 kernels: per image and group, im2col of the uint8 input
// (padding with the zero point, so padded taps contribute 0) into the packed u8 x s8 GEMM with the
// weights packed once at load, and the requantize (or dequantize) epilogue; depthwise convolutions
// use the direct depthwise kernel. int8 inputs are made uint8 by flipping the top bit (x + 128,
// zero point + 128), uint8 weights int8 the same way; both leave every (x - x_zp)(w - w_zp) term
// unchanged, so the result equals the reference op (quant_fused.cpp) bit for bit.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <vector>

#include "kernels/avx2/dwconv_avx2.h"
#include "kernels/avx2/dwconv_cb8_avx2.h"
#include "kernels/avx2/qgemm_avx2.h"
#include "kernels/avx512/dwconv_vbmi.h"
#include "kernels/avx512/qconv_direct_vnni.h"
#include "kernels/ref/qconv_direct_ref.h"
#include "kernels/ref/quantize_ref.h"
#include "runtime/fast/conv2d.h"
#include "runtime/fast/fast_op.h"
#include "runtime/fast/qadd.h"
#include "runtime/fast/qparams.h"
#include "runtime/fast/scratch.h"

namespace octet {
namespace {

using fast::Conv2d;

class QConv : public FastOp {
 public:
  // in_h, in_w: the input plane inferred at load, -1 where unknown.
  // add: a residual add fused after it (the engine's octet.QLinearAdd; conv_first: the
  // convolution's output is the Add's first operand), or none.
  QConv(const Conv2d& g, fast::QLayer layer, int64_t in_h, int64_t in_w,
        std::optional<fast::QAddKernel> add = std::nullopt, bool conv_first = true)
      : g_(g), q_(std::move(layer)), add_(std::move(add)), conv_first_(conv_first) {
    const int64_t K = g.K();
    if (g.depthwise() && g.Cg() == 1) {  // direct kernels read q_.w as is
      plan_vbmi(in_h, in_w);
      plan_channel_blocks();  // also the fallback of a run whose plane the pixel-lane kernel refuses
      return;
    }
    if (directable(g, q_, isa_) && (g.kh * g.kw > 1 || small_pointwise(g, in_h, in_w))) {
      prepare_direct(in_h, in_w);
      return;
    }
    phase_rows_ = phase_rowable(g, in_h, in_w);
    shift_ = !phase_rows_ && shiftable(g, q_);
    const int64_t taps = g.kh * g.kw, Cg = g.Cg(), C4 = 4 * channel_quads(g), Mg = g.Mg();
    const int64_t Kp = shift_ ? taps * C4 : K;  // the packed K
    // The input channels of each group in the order the AVX2 split pairs them best
    // (qgemm_pair_order), where B's rows are channels in an order the layer chooses: the shifted
    // path (the order of each quad's channels in the interleaved planes) and any other 1x1
    // convolution (pack-B's row map, on the input itself or on its im2col rows, which for a 1x1
    // kernel are the channels too; decided from the attributes, as the input size is not known
    // yet). Elsewhere, and for VNNI (no split), the identity.
    order_b_rows_ = !shift_ && taps == 1 && isa_ == kernels::QgemmIsa::Avx2;
    order_.assign(static_cast<size_t>(g.group * Cg), 0);
    for (int64_t gi = 0; gi < g.group; ++gi) {
      int32_t* o = order_.data() + gi * Cg;
      for (int64_t c = 0; c < Cg; ++c) o[c] = static_cast<int32_t>(c);
      if (isa_ == kernels::QgemmIsa::Avx2 && (shift_ || order_b_rows_))  // w [m][c][i][j]
        kernels::qgemm_pair_order(Mg, taps, Cg, q_.w.data() + gi * Mg * K, K, 1, taps, o);
    }
    // Reordered weights, [m][i][j][c] in the group's channel order, each tap's channels padded to
    // C4 on the shifted path (each k-quad is 4 channels of one tap; places Cg .. C4 - 1 weigh 0);
    // a 1x1 off it is [m][c].
    std::vector<int8_t> reordered;
    if (shift_ || order_b_rows_) {
      const int64_t Cw = shift_ ? C4 : Cg;
      reordered.assign(static_cast<size_t>(g.M * taps * Cw), 0);
      for (int64_t m = 0; m < g.M; ++m) {
        const int32_t* o = order_.data() + (m / Mg) * Cg;
        for (int64_t c = 0; c < Cg; ++c)
          for (int64_t t = 0; t < taps; ++t) reordered[(m * taps + t) * Cw + c] = q_.w[(m * Cg + o[c]) * taps + t];
      }
    }
    if (phase_rows_) {  // B's rows (taps of channels) in the order the AVX2 split pairs them best
      k_order_.resize(static_cast<size_t>(K));
      for (int64_t k = 0; k < K; ++k) k_order_[k] = static_cast<int32_t>(k);
      if (isa_ == kernels::QgemmIsa::Avx2) kernels::qgemm_pair_order(g.M, 1, K, q_.w.data(), K, 0, 1, k_order_.data());
      reordered.resize(static_cast<size_t>(g.M * K));
      for (int64_t m = 0; m < g.M; ++m)
        for (int64_t k = 0; k < K; ++k) reordered[m * K + k] = q_.w[m * K + k_order_[k]];
    }
    const int8_t* w = reordered.empty() ? q_.w.data() : reordered.data();
    packed_.resize(static_cast<size_t>(g.group));
    for (int64_t gi = 0; gi < g.group; ++gi) {
      packed_[gi].resize(kernels::qgemm_packed_a_bytes(g.Mg(), Kp));
      kernels::qgemm_pack_a_s8_avx2(g.Mg(), Kp, w + gi * g.Mg() * Kp, Kp, 1, q_.w_zp.data() + gi * g.Mg(),
                                    packed_[gi].data(), isa_);
      // The size bound allows a residual for every quad; keep what the weights needed.
      packed_[gi].resize(kernels::qgemm_packed_a_info(packed_[gi].data()).used_bytes);
      packed_[gi].shrink_to_fit();
    }
    q_.w = {};  // packed now; only the depthwise path reads the plain weights
  }

  std::string kernel() const override {
    if (direct_) return "conv_u8s8_direct_avx512vnni";
    if (packed_.empty()) {
      if (!vbmi_.empty()) return "dwconv3x3_u8s8_vbmi_avx512";
      if (cb8_.empty()) return "dwconv_u8s8_avx2";
      // The output loop of the first block (blocks of one layer normally share their form).
      return cb8_.front().prepared.vnni ? "dwconv3x3_u8s8_cb8_avx512vnni" : "dwconv3x3_u8s8_cb8_avx2";
    }
    // A 1x1 without padding (any stride) multiplies its input, subsampled by the strides: several
    // images per GEMM on small planes (run_pointwise_images), or one image straight from the input
    // (pack-B for stride 1, the gather of im2col otherwise, or the shifted kernel's one phase plane
    // for symmetric weights): conv_u8s8_1x1_qgemm_ whichever the batch takes.
    const bool one_by_one = g_.plain_1x1() || (g_.unpadded_1x1() && multi_image_ok());
    if (one_by_one) return std::string("conv_u8s8_1x1_qgemm_") + kernels::qgemm_tile_name(isa_);
    if (shift_) return std::string("conv_u8s8_shift_qgemm_") + kernels::qgemm_tile_name(isa_);
    if (phase_rows_) return std::string("conv_u8s8_phase_rows_qgemm_") + kernels::qgemm_tile_name(isa_);
    return std::string("conv_u8s8_im2col_qgemm_") + kernels::qgemm_tile_name(isa_);
  }
  std::string precision() const override { return "int8"; }

  bool run(const std::vector<const Tensor*>& in, Tensor& out, ThreadPool& pool) const override {
    const Tensor& x = *in[0];
    if (x.dtype() != q_.x_type || x.rank() != 4 || x.dim(1) != g_.C) return false;
    Conv2d g = g_;
    if (!fast::resolve_conv2d(&g, x.dim(2), x.dim(3))) return false;
    const int64_t N = x.dim(0), P = g.P();
    const uint8_t* xp = fast::as_u8(x);
    Tensor y(q_.out_type(), {N, g.M, g.OH, g.OW}, Tensor::Uninitialized{});
    // The fused residual add's other operand.
    const Tensor* r = add_ && in.size() > kQConvResidualInput ? in[kQConvResidualInput] : nullptr;
    if (add_ && (!r || r->dtype() != (conv_first_ ? add_->b_type() : add_->a_type()) || r->shape() != y.shape()))
      return false;
    // The residual's bytes as they are (the add reads each operand in its own type; as_u8 would
    // reuse the buffer that holds an INT8 input's conversion).
    const uint8_t* rp = r ? static_cast<const uint8_t*>(r->raw()) : nullptr;
    const int64_t per = multi_image_ok() ? fast::pointwise_images_per_gemm(g, N, pool.size()) : 1;
    if (direct_) {
      if (!run_direct(g, N, xp, rp, y, pool)) return false;
      rp = nullptr;  // added by each task
    } else if (packed_.empty()) {
      run_depthwise(g, N, xp, y, pool);
    } else if (per > 1) {
      run_pointwise_images(g, N, per, xp, y, pool);
      q_.clamp_float_output(y, pool);
    } else if (shift_) {
      if (!run_shifted(g, N, xp, y, pool)) return false;
      q_.clamp_float_output(y, pool);
    } else if (phase_rows_) {
      if (!run_phase_rows(g, N, xp, y, pool)) return false;
      q_.clamp_float_output(y, pool);
    } else {
      const fast::ConvSplit s = fast::plan_conv_split(P, g.Mg(), g.K(), N * g.group, pool.size(), kernels::kQgemmMR, 1024);
      pool.parallel_tasks(s.tasks(N * g.group), [&](int64_t task) {
        const fast::ConvSplit::Task t = s.task(task, g.group);
        compute(g, xp + (t.n * g.C + t.gi * g.Cg()) * g.H * g.W, t.gi, y, (t.n * g.M + t.gi * g.Mg()) * P, t.p0, t.p1,
                t.m0, t.m1);
      });
      q_.clamp_float_output(y, pool);  // the GEMM's F32 output has no clamp; the depthwise kernel's has
    }
    if (rp) {  // the residual add over the whole output, in place
      auto* yp = static_cast<uint8_t*>(y.raw());
      pool.parallel_for(y.numel(), kEltwiseGrain, [&](int64_t b, int64_t e) { add_range(yp, rp, b, e - b); });
    }
    out = std::move(y);
    return true;
  }

 private:
  // Output pixels [p0, p1) of group gi of one image; y_off is the element offset of the group's
  // first channel plane in y.
  void compute(const Conv2d& g, const uint8_t* x, int64_t gi, Tensor& y, int64_t y_off, int64_t p0,
               int64_t p1, int64_t m0, int64_t m1) const {
    const int64_t K = g.K(), n = p1 - p0;
    void* packed = fast::scratch_bytes(0, kernels::qgemm_packed_b_bytes(K, n));
    const int32_t* rows = order_b_rows_ ? order_.data() + gi * g.Cg() : nullptr;  // the weights' channel order
    if (g.pointwise()) {
      kernels::qgemm_pack_b_u8_avx2(K, n, x + p0, g.H * g.W, 1, q_.x_zp, 0, n, packed, rows);
    } else {
      auto* col = static_cast<uint8_t*>(fast::scratch_bytes(1, static_cast<size_t>(K * n)));
      fast::im2col<uint8_t>(g, x, p0, p1, static_cast<uint8_t>(q_.x_zp), col);
      kernels::qgemm_pack_b_u8_avx2(K, n, col, n, 1, q_.x_zp, 0, n, packed, rows);
    }
    kernels::QgemmOutput o = q_.gemm_output(y, y_off + p0, g.P(), 1, gi * g.Mg());
    kernels::qgemm_packed_avx2(g.Mg(), n, K, packed_[gi].data(), packed, o, m0, m1, 0, n);
  }

  // Whether run_pointwise_images can multiply the packed weights: packed for a 1x1 off the shifted
  // path, or for the shifted path (a strided 1x1 without padding) with no channel padded to a quad
  // (its packed K is then Cg too, the channels in order_ as pack-B's rows).
  bool multi_image_ok() const { return !packed_.empty() && (!shift_ || g_.Cg() % 4 == 0); }

  // 1x1 convolutions without padding (any stride) on small output planes, several images per GEMM
  // (fast::pointwise_images_per_gemm; gemm_bench, M = 96, K = 32: 62 GOP/s at 49 columns against
  // 94 at 539). Each task: images [i0, i1) of `per` gathered (subsampled by the strides) into one
  // K x (images * P) matrix (image-major columns),
  // packed, multiplied into a scratch C whose rows are then copied out to each image's planes.
  void run_pointwise_images(const Conv2d& g, int64_t N, int64_t per, const uint8_t* x, Tensor& y,
                            ThreadPool& pool) const {
    const int64_t K = g.K(), M = g.M, P = g.P();
    const size_t elem = q_.quantized ? 1 : 4;
    auto* yb = static_cast<uint8_t*>(y.raw());
    const int32_t* rows = order_b_rows_ || shift_ ? order_.data() : nullptr;  // the weights' channel order
    pool.parallel_tasks((N + per - 1) / per, [&](int64_t task) {
      const int64_t i0 = task * per, i1 = std::min(N, i0 + per), cols = (i1 - i0) * P;
      auto* b = static_cast<uint8_t*>(fast::scratch_bytes(1, static_cast<size_t>(K * cols)));
      for (int64_t k = 0; k < K; ++k)
        for (int64_t i = i0; i < i1; ++i) fast::gather_1x1(g, x + (i * K + k) * g.H * g.W, b + k * cols + (i - i0) * P);
      void* packed = fast::scratch_bytes(0, kernels::qgemm_packed_b_bytes(K, cols));
      kernels::qgemm_pack_b_u8_avx2(K, cols, b, cols, 1, q_.x_zp, 0, cols, packed, rows);
      auto* c = static_cast<uint8_t*>(fast::scratch_bytes(2, static_cast<size_t>(M * cols) * elem));
      kernels::qgemm_packed_avx2(M, cols, K, packed_[0].data(), packed, q_.gemm_output(c, cols, 1, 0), 0, M, 0, cols);
      for (int64_t i = i0; i < i1; ++i)
        for (int64_t m = 0; m < M; ++m)
          fast::copy_short(yb + ((i * M + m) * P) * elem, c + (m * cols + (i - i0) * P) * elem,
                           static_cast<size_t>(P) * elem);
    });
  }

  // Channel quads per group on the shifted path: Cg rounded up to a multiple of 4, over 4.
  static int64_t channel_quads(const Conv2d& g) { return (g.Cg() + 3) / 4; }

  // The shifted-B path (qgemm_shift_avx2) applies to what the float convolution runs that way (not
  // a plain 1x1) when the weights are symmetric (the shifted GEMM has no a_zp term). Each k-quad
  // is 4 channels of one tap; channels are padded to a multiple of 4 with zero weights (their
  // bytes are read but add nothing) where that adds at most a third to K: an RGB stem (3 -> 4)
  // then runs without im2col, which took more time than its GEMM (ResNet-18's 7x7/2 stem).
  static bool shiftable(const Conv2d& g, const fast::QLayer& q) {
    if (g.plain_1x1() || 3 * channel_quads(g) > g.Cg()) return false;  // 4 q > 4/3 Cg
    return std::all_of(q.w_zp.begin(), q.w_zp.end(), [](int32_t z) { return z == 0; });
  }

  // As the float convolution's run_shifted (conv_f32.cpp, fast::ShiftPlan), on channel-quad-
  // interleaved phase planes: plane (cq, a, b) holds, for each of its Hp x Wp entries, the 4 bytes
  // of channels 4 cq .. 4 cq + 3 at that input position (the zero point outside the input), so
  // quad kq = (i * kw + j) * Cq + cq of column q is the 4 bytes at 4 q + qoff[kq].
  bool run_shifted(const Conv2d& g, int64_t N, const uint8_t* x, Tensor& y, ThreadPool& pool) const {
    const int64_t Mg = g.Mg(), Cg = g.Cg(), Cq = channel_quads(g), K = 4 * Cq * g.kh * g.kw, images = N * g.group;
    if (images == 0 || g.P() == 0 || Mg == 0) return true;
    const fast::ShiftPlan s = fast::plan_shift(g, images, pool.size(), kernels::kQgemmMR, kernels::kQgemmNR,
                                               /*half_tiles=*/isa_ == kernels::QgemmIsa::Avx2);
    const int64_t plane = s.Hp * s.Wp * 4, planes = Cq * s.pa * s.pb;
    const int64_t bytes = planes * plane + 4 * (s.ldc + s.Wp) + 64;  // slack: see qgemm_shift_avx2's reads
    if (bytes > INT32_MAX) return false;
    const size_t elem = y.dtype() == DType::Float32 ? 4 : 1;
    const uint8_t zp = static_cast<uint8_t>(q_.x_zp);
    const uint32_t zq = 0x01010101u * zp;  // a quad of zero points
    auto* yb = static_cast<uint8_t*>(y.raw());
    // Byte offset of quad kq = (i * kw + j) * Cq + cq; the same for every task.
    std::vector<int32_t> qoff(static_cast<size_t>(K / 4));
    for (int64_t i = 0, kq = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j)
        for (int64_t cq = 0; cq < Cq; ++cq) qoff[kq++] = static_cast<int32_t>(4 * s.tap_offset(g, cq, i, j));
    pool.parallel_tasks(s.tasks(images), [&](int64_t task) {
      const fast::ShiftPlan::Task t = s.task(g, task);
      const uint8_t* xg = x + (t.n * g.C + t.gi * g.Cg()) * g.H * g.W;
      const int32_t* order = order_.data() + t.gi * Cg;  // channel of each place in a quad
      auto* xq = static_cast<uint8_t*>(fast::scratch_bytes(0, static_cast<size_t>(bytes)));
      // Rows [0, m1) of the output buffer (the kernel addresses C by the group's row m; rows
      // below m0 are not written).
      auto* cb = static_cast<uint8_t*>(fast::scratch_bytes(1, static_cast<size_t>(t.m1 * s.ldc) * elem));
      for (int64_t cq = 0; cq < Cq; ++cq)
        for (int64_t a = 0; a < s.pa; ++a)
          for (int64_t b = 0; b < s.pb; ++b) {
            int64_t c_lo, c_hi;
            fast::shift_plane_columns(g, s, b, &c_lo, &c_hi);
            uint8_t* pl = xq + s.plane_index(cq, a, b) * plane;
            for (int64_t rr = 0; rr < s.Hp; ++rr) {
              uint8_t* dst = pl + rr * s.Wp * 4;
              const int64_t ih = (t.r0 + rr) * g.sh + a - g.pt;
              if (ih < 0 || ih >= g.H || c_lo == c_hi) {
                std::memset(dst, zp, static_cast<size_t>(4 * s.Wp));
                continue;
              }
              // Columns [c_lo, c_hi) come from the input (column cc is byte cc * sw + b - pl of
              // the row), the rest is the zero point.
              const uint8_t* rows4[4];
              for (int j = 0; j < 4; ++j) {  // a padding place reads the quad's first channel (weight 0)
                const int64_t c = order[4 * cq + j < Cg ? 4 * cq + j : 4 * cq];
                rows4[j] = xg + (c * g.H + ih) * g.W + (c_lo * g.sw + b - g.pl);
              }
              fill_quads(dst, zq, c_lo);  // a column or two: no library call
              kernels::interleave4_u8_avx2(rows4, c_hi - c_lo, g.sw, dst + 4 * c_lo);
              fill_quads(dst + 4 * c_hi, zq, s.Wp - c_hi);
            }
          }
      std::memset(xq + planes * plane, zp, static_cast<size_t>(bytes - planes * plane));
      const int64_t Q = (t.r1 - t.r0) * s.Wp;
      const kernels::QgemmOutput o = q_.gemm_output(cb, s.ldc, 1, t.gi * Mg);
      kernels::qgemm_shift_avx2(Mg, Q, K, packed_[t.gi].data(), xq, qoff.data(), q_.x_zp, o, t.m0, t.m1, 0, Q);
      uint8_t* yg = yb + (t.n * g.M + t.gi * Mg) * g.P() * elem;
      for (int64_t m = t.m0; m < t.m1; ++m)
        for (int64_t r = t.r0; r < t.r1; ++r)
          fast::copy_short(yg + (m * g.P() + r * g.OW) * elem, cb + (m * s.ldc + (r - t.r0) * s.Wp) * elem,
                           static_cast<size_t>(g.OW) * elem);
    });
    return true;
  }

  // Convolutions whose channels per group are not a multiple of 4 (an RGB or grey stem), group 1:
  // the shifted path would pad each tap's channels to a quad (ResNet-18's 7x7/2 stem: K 147 ->
  // 196, a third more work), and im2col copies K bytes per output pixel before packing them.
  // Instead each output row's B is packed straight from phase planes (plain byte planes per
  // channel and stride phase, the zero point outside the input): row k = (c, i, j) of output row
  // r's B is entry (r + di, dj) onwards of plane (c, a, b), so pack-B reads it through a row map of
  // byte offsets, in the order k_order_ (qgemm_pair_order over all of K). One GEMM per output
  // row: taken where the rows are at least kMinPhaseRowWidth wide, decided at load from the
  // inferred input plane (unknown or narrower: the shifted or im2col path as before).
  // ResNet-18's stem: 2.12 -> 1.72 ms (1 thread, batch 1).
  static constexpr int64_t kMinPhaseRowWidth = 32;
  static bool phase_rowable(const Conv2d& g, int64_t in_h, int64_t in_w) {
    if (g.group != 1 || g.Cg() % 4 == 0 || g.kh * g.kw == 1 || g.K() > 4096 || in_h < 1 || in_w < 1) return false;
    Conv2d r = g;
    return fast::resolve_conv2d(&r, in_h, in_w) && r.OW >= kMinPhaseRowWidth;
  }

  bool run_phase_rows(const Conv2d& g, int64_t N, const uint8_t* x, Tensor& y, ThreadPool& pool) const {
    const int64_t K = g.K(), C = g.C, M = g.M, P = g.P();
    if (N == 0 || P == 0 || M == 0) return true;
    // Output rows per task: every thread busy even for one image.
    const int64_t per_image = std::min<int64_t>(g.OH, std::max<int64_t>(1, (pool.size() + N - 1) / N));
    const int64_t rows = (g.OH + per_image - 1) / per_image, chunks = (g.OH + rows - 1) / rows;
    fast::ShiftPlan s;  // the planes' geometry (tasks are split here, not by plan_shift)
    s.pa = g.kh == 1 ? 1 : g.sh;
    s.pb = g.kw == 1 ? 1 : g.sw;
    s.Wp = g.OW + (g.kw - 1) * g.dw / g.sw;
    s.Hp = rows + (g.kh - 1) * g.dh / g.sh;
    const int64_t bytes = C * s.pa * s.pb * s.Hp * s.Wp;
    if (bytes + 64 > INT32_MAX) return false;
    const int32_t taps = static_cast<int32_t>(g.kh * g.kw);
    std::vector<int32_t> base(static_cast<size_t>(K));  // row k's offset in a task's planes, output row r0
    for (int64_t k = 0; k < K; ++k) {
      const int32_t kk = k_order_[k];
      base[k] = static_cast<int32_t>(s.tap_offset(g, kk / taps, kk % taps / g.kw, kk % g.kw));
    }
    pool.parallel_tasks(N * chunks, [&](int64_t task) {
      const int64_t n = task / chunks, r0 = task % chunks * rows, r1 = std::min(g.OH, r0 + rows);
      auto* xq = static_cast<uint8_t*>(fast::scratch_bytes(0, static_cast<size_t>(bytes + 64)));
      fast::build_phase_planes(g, s, x + n * C * g.H * g.W, r0, static_cast<uint8_t>(q_.x_zp), xq);
      auto* offs = static_cast<int32_t*>(fast::scratch_bytes(1, static_cast<size_t>(K) * sizeof(int32_t)));
      void* packed = fast::scratch_bytes(2, kernels::qgemm_packed_b_bytes(K, g.OW));
      for (int64_t r = r0; r < r1; ++r) {
        const int32_t shift = static_cast<int32_t>((r - r0) * s.Wp);
        for (int64_t k = 0; k < K; ++k) offs[k] = base[k] + shift;
        kernels::qgemm_pack_b_u8_avx2(K, g.OW, xq, 1, 1, q_.x_zp, 0, g.OW, packed, offs);
        const kernels::QgemmOutput o = q_.gemm_output(y, n * M * P + r * g.OW, P, 1, 0);
        kernels::qgemm_packed_avx2(M, g.OW, K, packed_[0].data(), packed, o, 0, M, 0, g.OW);
      }
    });
    return true;
  }

  // The direct path (kernels/avx512/qconv_direct_vnni.h: output channels in the lanes, each
  // pixel's input quads broadcast, the taps in the padding skipped by bands) where the INT8 GEMM
  // runs its VNNI loop: group-1 convolutions with more than one tap, input channels a multiple of
  // 4 and output channels of 16, symmetric weights (the row terms carry the input zero point
  // alone), and a quantized output with finite multipliers. 1x1 layers stay on the GEMM, which
  // needs no layout change of its input. ResNet-18's 7x7 layers had computed 64 columns for 49
  // pixels on the shifted GEMM, and the taps in their padding (576 pixel-taps for 361).
  static bool directable(const Conv2d& g, const fast::QLayer& q, kernels::QgemmIsa isa) {
    if (isa != kernels::QgemmIsa::Avx512Vnni || g.group != 1 || g.C % 4 != 0 || g.M % 16 != 0) return false;
    if (!q.quantized || !std::all_of(q.multiplier.begin(), q.multiplier.end(), [](float m) { return std::isfinite(m); }))
      return false;
    return std::all_of(q.w_zp.begin(), q.w_zp.end(), [](int32_t z) { return z == 0; });
  }

  // A 1x1 convolution takes the direct kernel only on output planes of at most kDirectPointwiseMax
  // pixels inferred at load: there its tiles beat the GEMM's set-up (mobilenetv2-tiny INT8, 1
  // thread, batch 1, its 7x7 layers: 96 -> 32 channels 3.2 -> 1.8 us, 32 -> 128 4.3 -> 2.7,
  // 48 -> 128 5.0 -> 3.5), while from 14x14 on the GEMM is as fast or faster (24 -> 96 at 14x14
  // 6.2 against 7.1 us, 16 -> 64 at 28x28 10.1 against 15.9). A strided one (ResNet's
  // downsampling shortcuts), whose input the GEMM path must first gather, up to
  // kDirectStridedPointwiseMax: 1 thread, batch 1, resnet8's 16 -> 32 on 14x14 5.9 -> 4.5 us
  // (batch 32: 0.177 -> 0.133 ms), ResNet-18's 128 -> 256 on 14x14 88-100 -> 66-76 us, while its
  // 64 -> 128 on 28x28 is no faster (92-104 against 103-106 us).
  static constexpr int64_t kDirectPointwiseMax = 100;
  static constexpr int64_t kDirectStridedPointwiseMax = 256;
  static bool small_pointwise(const Conv2d& g, int64_t in_h, int64_t in_w) {
    if (in_h <= 0 || in_w <= 0) return false;
    Conv2d r = g;
    if (!fast::resolve_conv2d(&r, in_h, in_w)) return false;
    return r.OH * r.OW <= (r.sh > 1 || r.sw > 1 ? kDirectStridedPointwiseMax : kDirectPointwiseMax);
  }

  // Packs the weights for the direct kernel, sums each (channel, tap)'s weights for the row terms,
  // and plans the bands of the input plane inferred at load.
  void prepare_direct(int64_t in_h, int64_t in_w) {
    direct_ = true;
    const int64_t taps = g_.kh * g_.kw, C = g_.C;
    dpacked_.resize(static_cast<size_t>(kernels::qconv_direct_packed_bytes(g_.M, taps, C / 4)));
    kernels::qconv_direct_pack(g_.M, C, taps, q_.w.data(), dpacked_.data());
    tapsum_.assign(static_cast<size_t>(g_.M * taps), 0);
    abssum_.assign(static_cast<size_t>(g_.M), 0);
    for (int64_t m = 0; m < g_.M; ++m)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t t = 0; t < taps; ++t) {
          const int8_t v = q_.w[(m * C + c) * taps + t];
          tapsum_[m * taps + t] += v;
          abssum_[m] += std::abs(static_cast<int64_t>(v));
        }
    q_.w = {};
    Conv2d r = g_;
    if (in_h > 0 && in_w > 0 && fast::resolve_conv2d(&r, in_h, in_w)) plan_ = plan_direct(r);
  }

  // The input of the direct kernel: each image in HWC-quad layout (kernels/avx512/
  // qconv_direct_vnni.h) with padl columns of the input zero point left of each row and padr right
  // of it, rows of Wp = padl + W + padr pixels, so that every column tap of every output pixel
  // lies in its row. The output plane is cut into bands of pixels that read the same taps: along
  // the rows, fast::tap_runs' runs skip the taps above and below the input; a run of more than
  // kMergeRows rows is cut along its columns too (the interior and the left and right edges,
  // skipping those taps as well), while a shorter run (the top and bottom edge rows) is one band
  // across the whole width whose ends read the padding columns: its corners would otherwise be
  // bands of one pixel, whose tiles wait on weight loads (4 vpdpbusd per 256 weight bytes; they
  // took 4% of ResNet-18's time for 1% of its multiply-adds). Each band's row term is
  // bias - x_zp * (the weights of the taps it reads), per channel, in wrapping int32.
  static constexpr int64_t kMergeRows = 2;
  struct DirectBand {
    int64_t oh0 = 0, oh1 = 0, ow0 = 0, ow1 = 0;
    int64_t x0 = 0;                        // bytes: pixel (oh0, ow0)'s first tap in the image
    std::vector<int32_t> off, w_off;       // bytes: the taps, their weights in a packed block
    std::vector<int32_t> rowterm;          // [M]
    std::vector<uint8_t> small;            // [M / 16]: QconvDirectBand::small
  };
  struct DirectPlan {
    int64_t H = -1, W = -1;
    int64_t padl = 0, padr = 0, Wp = 0;    // pixels
    std::vector<DirectBand> bands;
  };
  DirectPlan plan_direct(const Conv2d& g) const {
    DirectPlan plan;
    const int64_t C4 = g.C, tap_bytes = C4 / 4 * 64;
    const int64_t padl = std::max<int64_t>(0, g.pl);
    const int64_t padr = std::max<int64_t>(0, (g.OW - 1) * g.sw - g.pl + (g.kw - 1) * g.dw - (g.W - 1));
    const int64_t Wp = padl + g.W + padr;
    if (g.H * Wp * C4 > INT32_MAX || g.kh * g.kw * tap_bytes > INT32_MAX) return plan;
    const std::vector<fast::TapRun> rows = fast::tap_runs(g.OH, g.H, g.sh, g.pt, g.kh, g.dh);
    const std::vector<fast::TapRun> cols = fast::tap_runs(g.OW, g.W, g.sw, g.pl, g.kw, g.dw);
    const fast::TapRun whole{0, g.OW, 0, g.kw};  // every column tap, from the padded rows
    for (const fast::TapRun& r : rows) {
      const bool merge = r.o1 - r.o0 <= kMergeRows;
      for (const fast::TapRun& c : merge ? std::vector<fast::TapRun>{whole} : cols) {
        DirectBand b;
        b.oh0 = r.o0, b.oh1 = r.o1, b.ow0 = c.o0, b.ow1 = c.o1;
        if (r.lo < r.hi && c.lo < c.hi) {
          b.x0 = ((r.o0 * g.sh - g.pt + r.lo * g.dh) * Wp + c.o0 * g.sw - g.pl + c.lo * g.dw + padl) * C4;
          for (int64_t i = r.lo; i < r.hi; ++i)
            for (int64_t j = c.lo; j < c.hi; ++j) {
              b.off.push_back(static_cast<int32_t>(((i - r.lo) * g.dh * Wp + (j - c.lo) * g.dw) * C4));
              b.w_off.push_back(static_cast<int32_t>((i * g.kw + j) * tap_bytes));
            }
        }
        b.rowterm.resize(static_cast<size_t>(g.M));
        const int64_t taps = g.kh * g.kw;
        for (int64_t m = 0; m < g.M; ++m) {
          uint32_t sum = 0;
          for (const int32_t wo : b.w_off) sum += static_cast<uint32_t>(tapsum_[m * taps + wo / tap_bytes]);
          const uint32_t bias = q_.bias_i32.empty() ? 0u : static_cast<uint32_t>(q_.bias_i32[m]);
          b.rowterm[m] = static_cast<int32_t>(bias - static_cast<uint32_t>(q_.x_zp) * sum);
        }
        // |acc| <= 255 * sum |w| + |row term| (inputs in [0, 255]).
        b.small.assign(static_cast<size_t>(g.M / 16), 1);
        for (int64_t m = 0; m < g.M; ++m) {
          const float mult = q_.multiplier[m];
          const double bound = 255.0 * static_cast<double>(abssum_[m]) + std::abs(static_cast<double>(b.rowterm[m]));
          if (!(mult >= 0.f && mult <= 1.f) || bound >= kernels::kQconvDirectSmallAcc) b.small[m / 16] = 0;
        }
        plan.bands.push_back(std::move(b));
      }
    }
    plan.H = g.H, plan.W = g.W, plan.padl = padl, plan.padr = padr, plan.Wp = Wp;
    return plan;
  }

  // Tasks of (64-channel chunk, image, output rows), those of one chunk consecutive so that a
  // thread's next task reuses its weights in L2, on the input in the padded HWC-quad layout.
  // Where the channels are one chunk, each task builds the rows its outputs read itself (its
  // own rows and a halo), in its own buffer: the rows a thread wrote in the layer before are then
  // read from its own cache, and no thread waits for one copy of the whole image (resnet8 INT8 on
  // 2 threads had spent 15% of a 16-channel layer's time there, and the other core then read half
  // of that copy from the first one's cache). With more chunks, their tasks share one copy of
  // every image (the calling thread's kSharedSlot), which takes the pool when it is large.
  // An input plane other than the one inferred at load (unknown there, or changed) is planned at
  // every run (bands x M x taps additions).
  // r: the fused residual add's other operand (y's shape), added by each task to the rows it
  // wrote while they are in its cache; or null.
  bool run_direct(const Conv2d& g, int64_t N, const uint8_t* x, const uint8_t* r, Tensor& y, ThreadPool& pool) const {
    DirectPlan local;
    const DirectPlan* plan = &plan_;
    if (plan_.H != g.H || plan_.W != g.W) {
      local = plan_direct(g);
      plan = &local;
    }
    if (N == 0 || g.P() == 0) return true;
    if (plan->bands.empty()) return false;
    const int64_t C = g.C, M = g.M, HW = g.H * g.W, P = g.P(), row_bytes = plan->Wp * C, image = g.H * row_bytes;
    const uint8_t zp = static_cast<uint8_t>(q_.x_zp);
    auto copy_row = [&](int64_t n, int64_t h, uint8_t* row) {  // input row h of image n
      std::memset(row, zp, static_cast<size_t>(plan->padl * C));
      kernels::qconv_direct_hwc_vnni(x + n * C * HW + h * g.W, C, HW, g.W, C, row + plan->padl * C);
      std::memset(row + (plan->padl + g.W) * C, zp, static_cast<size_t>(plan->padr * C));
    };
    const int64_t mt = std::min<int64_t>(M, 64), m_chunks = (M + mt - 1) / mt;
    const bool own_rows = m_chunks == 1;
    uint8_t* xh = nullptr;  // the shared copy: image n's row h at xh + n * image + h * row_bytes
    if (!own_rows) {
      xh = static_cast<uint8_t*>(fast::scratch_bytes(fast::kSharedSlot, static_cast<size_t>(N * image + 64)));
      const int64_t in_rows = std::max<int64_t>(1, 1024 / g.W), in_chunks = (g.H + in_rows - 1) / in_rows;
      auto copy_rows = [&](int64_t task) {
        const int64_t n = task / in_chunks, h0 = task % in_chunks * in_rows, h1 = std::min(g.H, h0 + in_rows);
        for (int64_t h = h0; h < h1; ++h) copy_row(n, h, xh + n * image + h * row_bytes);
      };
      if (N * image <= kDirectInlineCopy) {  // a few microseconds: not worth waking the pool
        for (int64_t task = 0; task < N * in_chunks; ++task) copy_rows(task);
      } else {
        pool.parallel_tasks(N * in_chunks, copy_rows);
      }
    }
    // Row chunks: as few as the scratch budget allows, but enough for one task per thread, in a
    // count of tasks that the threads share evenly where the rows allow. Fewer, larger tasks won
    // at batch 1 (resnet8 INT8, 2 threads, p50: 0.072 ms with at least 4 tasks per thread, 0.067
    // with 2, 0.064 with 1: its layers take 5-13 us, a task's set-up and a hand-over count).
    // A convolution of under kDirectSerialMacs runs all its tasks on the calling thread, its rows
    // uncut.
    const bool serial = N * g.P() * M * g.C * g.kh * g.kw < kDirectSerialMacs;
    const int64_t threads = serial ? 1 : pool.size(), per_chunk = m_chunks * N;
    int64_t chunks = std::max((g.OH * g.OW * mt + kDirectScratchBudget - 1) / kDirectScratchBudget,
                              (threads + per_chunk - 1) / per_chunk);
    while (chunks < g.OH && per_chunk * chunks < 4 * threads && per_chunk * chunks % threads != 0) ++chunks;
    const int64_t rows = (g.OH + std::min(chunks, g.OH) - 1) / std::min(chunks, g.OH);
    const int64_t row_chunks = (g.OH + rows - 1) / rows;
    kernels::QconvDirectParams p;
    p.M = M;
    p.Cq = C / 4;
    p.block_bytes = g.kh * g.kw * p.Cq * 64;
    p.ldo = g.OW;
    p.row_step = g.sh * row_bytes;
    p.col_step = g.sw * C;
    p.multiplier = q_.multiplier.data();
    p.zero_point = q_.y_zp;
    p.qmin = q_.y_type == DType::Int8 ? -128 : 0;
    p.qmax = q_.y_type == DType::Int8 ? 127 : 255;
    p.lo = q_.lo;
    p.hi = q_.hi;
    auto* yb = static_cast<uint8_t*>(y.raw());
    auto run_task = [&](int64_t task) {
      const int64_t mc = task / (N * row_chunks), n = task / row_chunks % N, rc = task % row_chunks;
      const int64_t m0 = mc * mt, m1 = std::min(M, m0 + mt), r0 = rc * rows, r1 = std::min(g.OH, r0 + rows);
      // Image n's rows: in + in_off + h * row_bytes is row h's first byte (own_rows: the buffer
      // holds rows [h0, h1), those the output rows [r0, r1) read).
      const uint8_t* in = nullptr;
      int64_t in_off = 0;
      if (!own_rows) {
        in = xh + n * image;
      } else {
        const int64_t h0 = std::max<int64_t>(0, r0 * g.sh - g.pt);
        const int64_t h1 = std::min(g.H, (r1 - 1) * g.sh - g.pt + (g.kh - 1) * g.dh + 1);
        auto* buf = static_cast<uint8_t*>(fast::scratch_bytes(1, static_cast<size_t>(std::max<int64_t>(0, h1 - h0) * row_bytes + 64)));
        for (int64_t h = h0; h < h1; ++h) copy_row(n, h, buf + (h - h0) * row_bytes);
        in = buf;
        in_off = -h0 * row_bytes;
      }
      std::vector<kernels::QconvDirectBand> bands;
      for (const DirectBand& t : plan->bands) {  // each band's rows inside [r0, r1)
        const int64_t lo = std::max(r0, t.oh0), hi = std::min(r1, t.oh1);
        if (lo >= hi || t.ow0 == t.ow1) continue;
        kernels::QconvDirectBand b;
        b.x = t.off.empty() ? in : in + (in_off + t.x0 + (lo - t.oh0) * p.row_step);  // a band without taps reads nothing
        b.rows = hi - lo;
        b.cols = t.ow1 - t.ow0;
        b.out = (lo - r0) * g.OW + t.ow0;
        b.taps = static_cast<int64_t>(t.off.size());
        b.off = t.off.data();
        b.w_off = t.w_off.data();
        b.rowterm = t.rowterm.data();
        b.small = t.small.data();
        bands.push_back(b);
      }
      const int64_t Q = (r1 - r0) * g.OW;
      auto* scratch = static_cast<uint8_t*>(fast::scratch_bytes(0, kernels::qconv_direct_scratch_bytes(Q, m0, m1)));
      kernels::qconv_direct_vnni(p, bands.data(), static_cast<int64_t>(bands.size()), Q, dpacked_.data(), m0, m1,
                                 yb + (n * M + m0) * P + r0 * g.OW, P, scratch);
      if (r && Q == P) {  // whole planes: the channels' rows are one run
        add_range(yb, r, (n * M + m0) * P, (m1 - m0) * P);
      } else if (r) {
        for (int64_t m = m0; m < m1; ++m) add_range(yb, r, (n * M + m) * P + r0 * g.OW, Q);
      }
    };
    if (serial) {
      for (int64_t task = 0; task < m_chunks * N * row_chunks; ++task) run_task(task);
    } else {
      pool.parallel_tasks(m_chunks * N * row_chunks, run_task);
    }
    return true;
  }

  // Elements [at, at + len) of the convolution's output y become the fused residual add's results
  // (y is either operand; the add reads each step's inputs before storing).
  void add_range(uint8_t* y, const uint8_t* r, int64_t at, int64_t len) const {
    if (conv_first_) add_->run(y + at, r + at, len, y + at);
    else add_->run(r + at, y + at, len, y + at);
  }
  static constexpr int64_t kDirectScratchBudget = 128 * 1024;
  // Below this many multiply-adds the second thread costs more than it saves: resnet8's 1x1
  // shortcuts (100,352 each; 2.4 and 4.5 us on 1 thread) took 6 us on 2, and the whole model on
  // 2 threads, batch 1, p50, went 0.062 -> 0.057-0.058 ms (0.126 -> 0.110 in this machine's slow
  // 2-thread mode) with them on one; mobilenetv2-tiny, whose direct 1x1 layers have 150,528 to
  // 301,056, was the same either way (at a limit of 310,000 too).
  static constexpr int64_t kDirectSerialMacs = 256 * 1024;
  static constexpr int64_t kDirectInlineCopy = 64 * 1024;  // bytes of HWC copy made on the calling thread

  // n quads of 4 bytes q at dst.
  static void fill_quads(uint8_t* dst, uint32_t q, int64_t n) {
    for (int64_t i = 0; i < n; ++i) std::memcpy(dst + 4 * i, &q, 4);
  }

  // 3x3 depthwise with a quantized output on a CPU with AVX-512 VNNI and VBMI, where the INT8 GEMM
  // takes its VNNI loop: every channel on the pixel-lane kernel (kernels/avx512/dwconv_vbmi.h)
  // when every channel fits it (symmetric weights, a base within int32, a finite multiplier).
  // The plane inferred at load must fit it (dwconv3x3_vbmi_plan); a run on a plane that does not
  // takes the channel-lane kernel (the profile keeps the name chosen at load).
  void plan_vbmi(int64_t in_h, int64_t in_w) {
    if (g_.kh != 3 || g_.kw != 3 || !q_.quantized || isa_ != kernels::QgemmIsa::Avx512Vnni ||
        !kernels::dwconv3x3_vbmi_supported() || in_h <= 0 || in_w <= 0)
      return;
    Conv2d g = g_;
    if (!fast::resolve_conv2d(&g, in_h, in_w) || !kernels::dwconv3x3_vbmi_plan(fast::dw_params(g)).ok) return;
    std::vector<kernels::DwVbmiChannel> chans(static_cast<size_t>(g_.M));
    for (int64_t c = 0; c < g_.M; ++c)
      if (!kernels::dwconv3x3_vbmi_prepare(q_.x_zp, q_.w.data() + c * 9, q_.w_zp[static_cast<size_t>(c)],
                                           q_.bias_i32.empty() ? 0 : q_.bias_i32[static_cast<size_t>(c)],
                                           q_.dw_output(c), &chans[static_cast<size_t>(c)]))
        return;
    vbmi_ = std::move(chans);
  }

  // 3x3 depthwise with a quantized output runs 8 channels at a time on the channel-lane kernel
  // (dwconv_cb8_avx2.h) wherever the 8 multipliers are finite (its precondition); the channels
  // left over (M % 8) and any block with a non-finite multiplier run plane by plane.
  void plan_channel_blocks() {
    if (g_.kh != 3 || g_.kw != 3 || !q_.quantized || g_.M < 8) return;
    cb8_.resize(static_cast<size_t>(g_.M / 8));
    for (size_t b = 0; b < cb8_.size(); ++b) {
      Block8& k = cb8_[b];
      k.out.is_signed = q_.y_type == DType::Int8;
      for (int ch = 0; ch < 8; ++ch) {
        const kernels::DwQOutput o = q_.dw_output(static_cast<int64_t>(8 * b) + ch);
        k.out.multiplier[ch] = o.multiplier;
        k.out.zero_point = o.zero_point;
        k.out.qmin = o.qmin, k.out.qmax = o.qmax, k.out.lo = o.lo, k.out.hi = o.hi;
        k.finite = k.finite && std::isfinite(o.multiplier);
      }
      const int64_t c0 = static_cast<int64_t>(8 * b);
      kernels::dwconv3x3_u8s8_cb8_prepare(q_.x_zp, q_.w.data() + c0 * 9, q_.w_zp.data() + c0,
                                          q_.bias_i32.empty() ? nullptr : q_.bias_i32.data() + c0, k.out, &k.prepared);
    }
  }

  void run_depthwise(const Conv2d& g, int64_t N, const uint8_t* x, Tensor& y, ThreadPool& pool) const {
    const kernels::DwConvParams p = fast::dw_params(g);
    const size_t elem = y.dtype() == DType::Float32 ? 4 : 1;
    auto* yb = static_cast<uint8_t*>(y.raw());
    if (!vbmi_.empty()) {
      const kernels::DwVbmiPlan plan = kernels::dwconv3x3_vbmi_plan(p);
      auto planes = [&](int64_t n, int64_t c, int64_t count) {
        const int64_t t = n * g.M + c;
        kernels::dwconv3x3_u8s8_vbmi(p, plan, x + t * g.H * g.W, q_.x_zp, vbmi_.data() + c, count, yb + t * g.P(),
                                     fast::scratch_bytes(2, kernels::dwconv3x3_vbmi_scratch_size(plan)));
      };
      auto vplane = [&](int64_t n, int64_t c) { planes(n, c, 1); };
      auto vblock = [&](int64_t n, int64_t c0) { planes(n, c0, 8); };
      if (plan.ok) {
        fast::parallel_channel_blocks(pool, N, g.M, g.M / 8, vblock, vplane);
        return;
      }
    }
    auto plane = [&](int64_t n, int64_t c) {
      const int64_t t = n * g.M + c;
      kernels::dwconv_u8s8_avx2(p, x + t * g.H * g.W, q_.x_zp, q_.w.data() + c * g.kh * g.kw, q_.w_zp[c],
                                q_.bias_i32.empty() ? 0 : q_.bias_i32[c], q_.dw_output(c), yb + t * g.P() * elem,
                                fast::scratch_bytes(2, kernels::dwconv_avx2_scratch_size(p)));
    };
    auto block = [&](int64_t n, int64_t c0) {
      const Block8& k = cb8_[static_cast<size_t>(c0 / 8)];
      if (!k.finite) {
        for (int64_t c = c0; c < c0 + 8; ++c) plane(n, c);
        return;
      }
      const int64_t t0 = n * g.M + c0;
      kernels::dwconv3x3_u8s8_cb8_avx2(p, x + t0 * g.H * g.W, q_.x_zp, k.prepared, k.out, yb + t0 * g.P(),
                                       fast::scratch_bytes(3, kernels::dwconv_cb8_avx2_scratch_size(p)));
    };
    fast::parallel_channel_blocks(pool, N, g.M, static_cast<int64_t>(cb8_.size()), block, plane);
  }

  struct Block8 {
    kernels::DwQOutput8 out;
    kernels::DwCb8Prepared prepared;  // weights, bias and epilogue form, derived once
    bool finite = true;  // all 8 multipliers finite
  };

  Conv2d g_;
  kernels::QgemmIsa isa_ = kernels::qgemm_default_isa();  // the tile loop the weights are packed for
  bool direct_ = false;               // run_direct; the weights in dpacked_
  std::vector<int8_t> dpacked_;       // qconv_direct_pack's layout
  std::vector<int32_t> tapsum_;       // [M][taps]: the sum of each channel's weights of each tap
  std::vector<int64_t> abssum_;       // [M]: the sum of each channel's |weights|
  DirectPlan plan_;                   // the bands of the plane inferred at load
  bool shift_ = false;  // shifted-B path; the packed weights are then in [m][i][j][c4] order
  std::vector<int32_t> order_;  // [group][Cg]: the channel in each place of B's rows (shifted path, 1x1)
  bool order_b_rows_ = false;   // a 1x1 off the shifted path: pack-B reads its rows in order_
  bool phase_rows_ = false;     // run_phase_rows; the weights packed in k_order_
  std::vector<int32_t> k_order_;  // phase_rows_: the k (of all of K) in each place of B's rows
  fast::QLayer q_;
  std::optional<fast::QAddKernel> add_;  // a fused residual add
  bool conv_first_ = true;   // the convolution's output is the add's first operand
  std::vector<std::vector<uint8_t>> packed_;
  std::vector<Block8> cb8_;    // depthwise 3x3, quantized output: the 8-channel blocks
  std::vector<kernels::DwVbmiChannel> vbmi_;  // depthwise 3x3 on the pixel-lane kernel: every channel
};

}  // namespace

std::unique_ptr<FastOp> make_qconv(const FastOpContext& ctx) {
  const Node& node = ctx.node;
  if (node.domain != "octet" || node.op_type != "QLinearConv" || node.inputs.size() < 6) return nullptr;
  const Value* w = ctx.graph.find_value(node.inputs[3]);
  if (!w || !w->initializer) return nullptr;
  Conv2d g;
  if (!fast::read_conv2d(node, w->initializer->shape(), &g)) return nullptr;
  fast::QLayer layer;
  if (!fast::read_qlayer(ctx, g.M, g.K(), /*weight_rows_are_channels=*/true, &layer)) return nullptr;
  int64_t in_h, in_w;
  fast::inferred_plane(ctx.graph, node, &in_h, &in_w);
  if (!ctx.residual_add) return std::make_unique<QConv>(g, std::move(layer), in_h, in_w);
  // A fused residual add: an octet.QLinearAdd with a fast kernel, on an 8-bit output of this type.
  const Node& add = *ctx.residual_add;
  FastOpContext add_ctx{add, ctx.graph, ctx.opset, -std::numeric_limits<float>::infinity(),
                        std::numeric_limits<float>::infinity(), ctx.onednn};
  fast::QAddKernel k;
  if (!layer.quantized || !fast::QAddKernel::read(add_ctx, &k)) return nullptr;
  const bool conv_first = add.inputs[0] == node.outputs[0];
  if ((conv_first ? k.a_type() : k.b_type()) != layer.out_type()) return nullptr;
  return std::make_unique<QConv>(g, std::move(layer), in_h, in_w, k, conv_first);
}

}  // namespace octet
