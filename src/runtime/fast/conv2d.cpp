#include "runtime/fast/conv2d.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace octet::fast {

bool read_conv2d(const Node& node, const Shape& w, Conv2d* g) {
  if (w.size() != 4) return false;
  g->group = node.attr_int("group", 1);
  g->M = w[0];
  g->C = w[1] * g->group;
  if (g->group < 1 || g->M % g->group != 0) return false;
  g->kh = w[2];
  g->kw = w[3];
  const auto ks = node.attr_ints("kernel_shape", {w[2], w[3]});
  if (ks.size() != 2 || ks[0] != w[2] || ks[1] != w[3]) return false;
  const auto st = node.attr_ints("strides", {1, 1});
  const auto di = node.attr_ints("dilations", {1, 1});
  if (st.size() != 2 || di.size() != 2) return false;
  g->sh = st[0];
  g->sw = st[1];
  g->dh = di[0];
  g->dw = di[1];
  for (int64_t v : {g->sh, g->sw, g->dh, g->dw})
    if (v < 1 || v > (1 << 20)) return false;
  g->auto_pad = node.attr_string("auto_pad", "NOTSET");
  if (g->auto_pad == "NOTSET") {
    const auto p = node.attr_ints("pads", {0, 0, 0, 0});
    if (p.size() != 4) return false;
    for (int i = 0; i < 4; ++i) {
      if (p[i] < 0 || p[i] > (1 << 20)) return false;
      g->pads[i] = p[i];
    }
  } else if (g->auto_pad != "VALID" && g->auto_pad != "SAME_UPPER" && g->auto_pad != "SAME_LOWER") {
    return false;
  }
  return g->kh >= 1 && g->kw >= 1;
}

bool resolve_conv2d(Conv2d* g, int64_t H, int64_t W) {
  g->H = H;
  g->W = W;
  const int64_t in[2] = {H, W}, k[2] = {g->kh, g->kw}, s[2] = {g->sh, g->sw}, d[2] = {g->dh, g->dw};
  int64_t out[2], begin[2];
  for (int a = 0; a < 2; ++a) {
    const int64_t eff = (k[a] - 1) * d[a] + 1;
    int64_t pb = 0, pe = 0;
    if (g->auto_pad == "NOTSET") {
      pb = g->pads[a];
      pe = g->pads[a + 2];
    } else if (g->auto_pad != "VALID") {
      const int64_t o = (in[a] + s[a] - 1) / s[a];
      const int64_t total = std::max<int64_t>(0, (o - 1) * s[a] + eff - in[a]);
      pb = g->auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      pe = total - pb;
    }
    if (in[a] + pb + pe < eff) return false;
    out[a] = (in[a] + pb + pe - eff) / s[a] + 1;
    begin[a] = pb;
  }
  g->OH = out[0];
  g->OW = out[1];
  g->pt = begin[0];
  g->pl = begin[1];
  return true;
}

int64_t pointwise_images_per_gemm(const Conv2d& g, int64_t N, int threads) {
  if (!g.subsampled_1x1() || g.group != 1 || N < 2 || g.P() >= kSmallPlane || g.P() == 0) return 1;
  const int64_t t = std::max(threads, 1), fill = (kImageColumns + g.P() - 1) / g.P();  // images for the columns
  const int64_t groups = std::min(N, ((N + fill - 1) / fill + t - 1) / t * t);
  return (N + groups - 1) / groups;
}

void inferred_plane(const Graph& graph, const Node& node, int64_t* h, int64_t* w) {
  *h = *w = -1;
  const Value* x = node.inputs.empty() ? nullptr : graph.find_value(node.inputs[0]);
  if (!x || !x->type.has_shape || x->type.dims.size() != 4) return;
  if (x->type.dims[2].is_known()) *h = x->type.dims[2].value;
  if (x->type.dims[3].is_known()) *w = x->type.dims[3].value;
}

kernels::DwConvParams dw_params(const Conv2d& g) {
  kernels::DwConvParams p;
  p.in_h = g.H;
  p.in_w = g.W;
  p.out_h = g.OH;
  p.out_w = g.OW;
  p.kernel_h = g.kh;
  p.kernel_w = g.kw;
  p.stride_h = g.sh;
  p.stride_w = g.sw;
  p.dilation_h = g.dh;
  p.dilation_w = g.dw;
  p.pad_top = g.pt;
  p.pad_left = g.pl;
  return p;
}

ConvSplit plan_conv_split(int64_t P, int64_t Mg, int64_t K, int64_t images, int threads, int64_t mr, int64_t cap) {
  auto round_up = [](int64_t v, int64_t m) { return (v + m - 1) / m * m; };
  ConvSplit s;
  s.P = P;
  s.Mg = Mg;
  const int64_t per_image = std::max<int64_t>(1, (threads + images - 1) / images);
  const int64_t total = std::max<int64_t>(1, P * Mg * K);
  // The most tasks per image that keep each one at least kMinTaskMacs.
  const int64_t max_tasks = std::max<int64_t>(1, total / kMinTaskMacs);
  const int64_t want = std::min(per_image, max_tasks);
  if (per_image > 1 && P <= 256 && Mg >= 2 * mr && Mg > P) {
    s.m_blocks = std::min(want, (Mg + mr - 1) / mr);
    s.m_block = round_up((Mg + s.m_blocks - 1) / s.m_blocks, mr);
    s.m_blocks = (Mg + s.m_block - 1) / s.m_block;
    // Too few rows for the threads: cut the pixels as well.
    const int64_t chunks = std::min((want + s.m_blocks - 1) / s.m_blocks, (P + 15) / 16);
    s.chunk = chunks > 1 ? round_up((P + chunks - 1) / chunks, 16) : P;
    s.chunks = (P + s.chunk - 1) / s.chunk;
    return s;
  }
  s.m_block = Mg;
  int64_t chunks = std::max<int64_t>((P + cap - 1) / cap, want);
  if (per_image > 1) chunks = std::min(round_up(chunks, per_image), std::max<int64_t>(1, max_tasks));
  chunks = std::max<int64_t>(1, std::min(chunks, (P + 15) / 16));
  s.chunk = std::min(round_up(cap, 16), round_up((P + chunks - 1) / chunks, 16));
  // Rounding up to whole panels can leave fewer chunks than threads; then round down instead.
  if ((P + s.chunk - 1) / s.chunk < chunks) s.chunk = std::max<int64_t>(16, (P + chunks - 1) / chunks / 16 * 16);
  s.chunks = (P + s.chunk - 1) / s.chunk;
  return s;
}

ShiftPlan plan_shift(const Conv2d& g, int64_t images, int threads, int64_t mr, int64_t nr, bool half_tiles) {
  ShiftPlan s;
  s.pa = g.kh == 1 ? 1 : g.sh;
  s.pb = g.kw == 1 ? 1 : g.sw;
  // Plane rows hold every column an output row reads: Wp = OW + the widest tap offset. With
  // stride 1 along rows and left padding, the taps past a row's end may instead read the next
  // row's first columns, which are left padding too, so the row can be shorter (3x3, pad 1:
  // W + 1 instead of W + 2), the columns read beyond Wp being within the next row's pl padding
  // ones (OW + max dj - pl <= Wp) and every input column read being inside the row
  // (min(OW + max dj, W + pl) <= Wp). Fewer columns computed per output row: a 7x7 plane's row
  // band is 56 columns instead of 63.
  const int64_t max_dj = (g.kw - 1) * g.dw / g.sw;
  s.Wp = g.OW + max_dj;
  if (g.sw == 1 && g.pl > 0)
    s.Wp = std::max({g.OW, std::min(g.OW + max_dj, g.W + g.pl), g.OW + max_dj - g.pl});
  const int64_t Mg = g.Mg();
  const int64_t per_image = std::max<int64_t>(1, (threads + images - 1) / images);
  const int64_t max_tasks = std::max<int64_t>(1, g.OH * s.Wp * Mg * g.K() / kMinTaskMacs);
  const int64_t want = std::min({per_image, max_tasks, g.OH * ((Mg + mr - 1) / mr)});
  // Of the ways to cut an image into >= want tasks (row chunks x channel blocks), the one whose
  // tasks finish first: ceil(tasks / threads) rounds of one task's cost, which is its output
  // columns rounded up to whole nr-column tiles (or half tiles) times its channels times K, plus
  // its planes' bytes (each task builds the planes of its rows; ~32 multiply-adds per byte).
  // Cutting rows pays the tile rounding of each chunk (a 7x7 plane of 56 columns on 2 threads:
  // 32 + 24 columns become 32 + 32, where cutting its channels in two keeps 56 with half tiles),
  // cutting channels pays a plane per task; ties go to the rows.
  const int64_t unit = half_tiles ? std::max<int64_t>(1, nr / 2) : nr;
  const int64_t Cg = g.Cg(), halo = (g.kh - 1) * g.dh / g.sh;
  double best = -1;
  for (int64_t rc = std::min(want, g.OH); rc >= 1; --rc) {
    const int64_t rows = (g.OH + rc - 1) / rc, chunks = (g.OH + rows - 1) / rows;
    int64_t m_blocks = std::min((want + chunks - 1) / chunks, (Mg + mr - 1) / mr);
    const int64_t m_block = ((Mg + m_blocks - 1) / m_blocks + mr - 1) / mr * mr;
    m_blocks = (Mg + m_block - 1) / m_block;
    const double tasks = static_cast<double>(images * chunks * m_blocks);
    const double cols = static_cast<double>((rows * s.Wp + unit - 1) / unit * unit);
    const double task_cost = cols * static_cast<double>(std::min(m_block, Mg) * g.K()) +
                             32.0 * static_cast<double>((rows + halo) * s.Wp * Cg * s.pa * s.pb);
    const double cost = std::ceil(tasks / threads) * task_cost;
    if (best < 0 || cost < best) {
      best = cost;
      s.rows = rows, s.chunks = chunks, s.m_block = m_block, s.m_blocks = m_blocks;
    }
  }
  s.Hp = s.rows + halo;
  s.ldc = (s.rows * s.Wp + nr - 1) / nr * nr;
  return s;
}

std::vector<TapRun> tap_runs(int64_t outs, int64_t n, int64_t stride, int64_t pad, int64_t taps, int64_t dil) {
  std::vector<TapRun> runs;
  for (int64_t o = 0; o < outs; ++o) {
    const int64_t i0 = o * stride - pad;
    // First tap at or after input 0, first tap at or after input n (ceil divisions of i >= 0).
    const int64_t lo = i0 >= 0 ? 0 : std::min(taps, (-i0 + dil - 1) / dil);
    const int64_t hi = std::max(lo, i0 >= n ? 0 : std::min(taps, (n - i0 + dil - 1) / dil));
    if (!runs.empty() && runs.back().lo == lo && runs.back().hi == hi) {
      runs.back().o1 = o + 1;
    } else {
      runs.push_back({o, o + 1, lo, hi});
    }
  }
  return runs;
}

std::vector<TapBand> plan_tap_bands(const Conv2d& g, int64_t w_stride) {
  std::vector<TapBand> bands;
  if (g.Cg() * g.H * g.W > INT32_MAX || w_stride * g.K() > INT32_MAX) return bands;
  const std::vector<TapRun> rows = tap_runs(g.OH, g.H, g.sh, g.pt, g.kh, g.dh);
  const std::vector<TapRun> cols = tap_runs(g.OW, g.W, g.sw, g.pl, g.kw, g.dw);
  for (const TapRun& r : rows)
    for (const TapRun& c : cols) {
      TapBand b;
      b.oh0 = r.o0, b.oh1 = r.o1, b.ow0 = c.o0, b.ow1 = c.o1;
      const bool none = r.lo == r.hi || c.lo == c.hi, all = r.lo == 0 && r.hi == g.kh && c.lo == 0 && c.hi == g.kw;
      if (!none) {
        b.x0 = (r.o0 * g.sh - g.pt + r.lo * g.dh) * g.W + c.o0 * g.sw - g.pl + c.lo * g.dw;
        for (int64_t ch = 0; ch < g.Cg(); ++ch)
          for (int64_t i = r.lo; i < r.hi; ++i)
            for (int64_t j = c.lo; j < c.hi; ++j) {
              b.off.push_back(static_cast<int32_t>((ch * g.H + (i - r.lo) * g.dh) * g.W + (j - c.lo) * g.dw));
              if (!all) b.w_off.push_back(static_cast<int32_t>(w_stride * ((ch * g.kh + i) * g.kw + j)));
            }
      }
      bands.push_back(std::move(b));
    }
  return bands;
}

}  // namespace octet::fast
