// See conv_f32_onednn.h.
#include "runtime/fast/conv_f32_onednn.h"

#ifdef OCTET_HAVE_ONEDNN

#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <vector>

#include "runtime/fast/scratch.h"

namespace octet::fast {
namespace {

using md = dnnl::memory::desc;
using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

dnnl::engine& cpu_engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

// OpenMP's thread count for this thread set to 1 while alive (oneDNN sizes its primitives and
// runs its loops by omp_get_max_threads()), the caller's value restored after.
class OneOmpThread {
 public:
  OneOmpThread() : saved_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~OneOmpThread() { omp_set_num_threads(saved_); }
  OneOmpThread(const OneOmpThread&) = delete;
  OneOmpThread& operator=(const OneOmpThread&) = delete;

 private:
  int saved_;
};

}  // namespace

struct OnednnConv::Impl {
  Conv2d g;
  std::vector<float> w, bias;  // [M, C, kh, kw] as given, [M]
  float lo, hi;

  // One single-threaded pipeline: n images, input rows [ih0, ih0 + in_rows) (all W' columns used),
  // output rows [r0, r0 + rows).
  struct Pipe {
    md src_user, dst_user;  // strided views of the NCHW tensors
    dnnl::convolution_forward conv;
    dnnl::reorder to_conv, from_conv;
    bool convert_src = true;
    size_t src_bytes = 0, dst_bytes = 0, scratch_bytes = 0;
    const dnnl::memory* weights = nullptr;
    md conv_src, conv_dst;
  };
  // A task: images [n0, n0 + n), output rows [r0, r0 + rows), input rows from ih0, on pipe.
  struct Task {
    int64_t n0, r0, ih0;
    const Pipe* pipe;
  };
  struct Plan {
    int64_t N, H, W;
    int threads;
    std::vector<Task> tasks;
  };

  std::mutex mu;  // guards the caches below (run() is not re-entrant, but plans are made lazily)
  std::vector<std::unique_ptr<Plan>> plans;
  std::map<std::array<int64_t, 8>, std::unique_ptr<Pipe>> pipes;
  std::vector<std::pair<md, std::unique_ptr<dnnl::memory>>> weights;  // per layout asked for

  dnnl::memory bias_mem;  // over `bias`; read by every task

  dnnl::memory::dims weight_dims() const { return {g.M, g.C, g.kh, g.kw}; }

  const dnnl::memory* weights_for(const md& want) {
    for (auto& [d, m] : weights)
      if (d == want) return m.get();
    const md given(weight_dims(), dt::f32, tag::oihw);
    dnnl::memory src(given, cpu_engine(), w.data());
    auto dst = std::make_unique<dnnl::memory>(want, cpu_engine());
    dnnl::stream s(cpu_engine());
    dnnl::reorder(src, *dst).execute(s, src, *dst);
    s.wait();
    weights.emplace_back(want, std::move(dst));
    return weights.back().second.get();
  }

  // The pipeline for n images of the resolved geometry r, output rows [r0, r1); nullptr when
  // oneDNN has no implementation for it.
  const Pipe* pipe_for(const Conv2d& r, int64_t n, int64_t r0, int64_t r1, int64_t* ih0) {
    const int64_t kext_h = (r.kh - 1) * r.dh + 1, kext_w = (r.kw - 1) * r.dw + 1;
    const int64_t first_ih = r0 * r.sh - r.pt, last_ih = (r1 - 1) * r.sh - r.pt + kext_h - 1;
    const int64_t last_iw = (r.OW - 1) * r.sw - r.pl + kext_w - 1;
    const int64_t pad_t = std::max<int64_t>(0, -first_ih), pad_b = std::max<int64_t>(0, last_ih - (r.H - 1));
    const int64_t pad_r = std::max<int64_t>(0, last_iw - (r.W - 1));
    *ih0 = std::max<int64_t>(0, first_ih);
    const int64_t in_rows = std::min(r.H, last_ih + 1) - *ih0, in_cols = std::min(r.W, last_iw + 1);
    if (in_rows <= 0 || in_cols <= 0 || r.pl < 0 || r.pt < 0) return nullptr;  // e.g. a band of padding rows only
    const std::array<int64_t, 8> key{n, r.H, r.W, in_rows, pad_t, pad_b, r1 - r0, in_cols};
    auto it = pipes.find(key);
    if (it != pipes.end()) return it->second.get();

    auto p = std::make_unique<Pipe>();
    const dnnl::memory::dims src{n, g.C, in_rows, in_cols}, dst{n, g.M, r1 - r0, r.OW};
    p->src_user = md(src, dt::f32, {g.C * r.H * r.W, r.H * r.W, r.W, 1});
    p->dst_user = md(dst, dt::f32, {g.M * r.OH * r.OW, r.OH * r.OW, r.OW, 1});
    dnnl::post_ops po;
    const float inf = std::numeric_limits<float>::infinity();
    if (lo == 0.f && hi == inf) {
      po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    } else if (lo != -inf || hi != inf) {
      po.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, std::max(lo, -std::numeric_limits<float>::max()),
                        std::min(hi, std::numeric_limits<float>::max()));
    }
    dnnl::primitive_attr attr;
    attr.set_post_ops(po);
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    try {
      OneOmpThread one;
      dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                        md(src, dt::f32, tag::any), md(weight_dims(), dt::f32, tag::any),
                                        md({g.M}, dt::f32, tag::x), md(dst, dt::f32, tag::any), {r.sh, r.sw},
                                        {r.dh - 1, r.dw - 1}, {pad_t, r.pl}, {pad_b, pad_r});
      const dnnl::convolution_forward::primitive_desc pd(d, attr, cpu_engine());
      p->conv = dnnl::convolution_forward(pd);
      p->conv_src = pd.src_desc();
      p->conv_dst = pd.dst_desc();
      p->convert_src = !(p->conv_src == p->src_user);
      if (p->convert_src)
        p->to_conv = dnnl::reorder(dnnl::reorder::primitive_desc(cpu_engine(), p->src_user, cpu_engine(), p->conv_src));
      p->from_conv = dnnl::reorder(dnnl::reorder::primitive_desc(cpu_engine(), p->conv_dst, cpu_engine(), p->dst_user));
      p->src_bytes = p->conv_src.get_size();
      p->dst_bytes = p->conv_dst.get_size();
      p->scratch_bytes = pd.scratchpad_desc().get_size();
      p->weights = weights_for(pd.weights_desc());
    } catch (const dnnl::error&) {
      return nullptr;
    }
    return pipes.emplace(key, std::move(p)).first->second.get();
  }

  // The tasks for input N x H x W on `threads` threads (r resolved for that size); nullptr when
  // some pipeline has no oneDNN implementation.
  const Plan* plan_for(const Conv2d& r, int64_t N, int threads) {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& p : plans)
      if (p->N == N && p->H == r.H && p->W == r.W && p->threads == threads) return p.get();
    auto plan = std::make_unique<Plan>(Plan{N, r.H, r.W, threads, {}});
    const int64_t T = std::max(1, threads), slices = std::min(N, T);
    // Tasks of `slices` batch slices times `bands` bands of output rows; false when oneDNN has
    // no pipeline for one of them.
    auto cut = [&](int64_t bands) {
      plan->tasks.clear();
      for (int64_t s = 0; s < slices; ++s)
        for (int64_t b = 0; b < bands; ++b) {
          const int64_t n0 = N * s / slices, n1 = N * (s + 1) / slices;
          const int64_t r0 = r.OH * b / bands, r1 = r.OH * (b + 1) / bands;
          if (n1 == n0 || r1 == r0) continue;
          int64_t ih0 = 0;
          const Pipe* pipe = pipe_for(r, n1 - n0, r0, r1, &ih0);
          if (!pipe) return false;
          plan->tasks.push_back({n0, r0, ih0, pipe});
        }
      return true;
    };
    // At least as many images as threads: T batch slices of whole images; else each image in
    // ceil(T / N) bands of output rows, or whole if a band would read padding rows only.
    const int64_t bands = N >= T ? 1 : std::min(r.OH, (T + N - 1) / N);
    if (!cut(bands) && (bands == 1 || !cut(1))) return nullptr;
    plans.push_back(std::move(plan));
    return plans.back().get();
  }
};

std::unique_ptr<OnednnConv> OnednnConv::make(const Conv2d& g, const float* w, const float* bias, float lo, float hi) {
  if (g.group != 1) return nullptr;
  auto impl = std::make_unique<Impl>();
  impl->g = g;
  impl->w.assign(w, w + g.M * g.C * g.kh * g.kw);
  impl->bias.assign(static_cast<size_t>(g.M), 0.f);
  if (bias) std::copy(bias, bias + g.M, impl->bias.begin());
  impl->lo = lo;
  impl->hi = hi;
  impl->bias_mem = dnnl::memory(md({g.M}, dt::f32, tag::x), cpu_engine(), impl->bias.data());
  return std::unique_ptr<OnednnConv>(new OnednnConv(std::move(impl)));
}

bool OnednnConv::run(const Conv2d& r, int64_t N, const float* x, float* y, ThreadPool& pool) {
  if (N == 0 || r.P() == 0 || r.M == 0) return true;
  const Impl::Plan* plan = impl_->plan_for(r, N, pool.size());
  if (!plan) return false;
  const Conv2d& g = impl_->g;
  const int64_t in_image = g.C * r.H * r.W, out_image = g.M * r.P();
  pool.parallel_tasks(static_cast<int64_t>(plan->tasks.size()), [&](int64_t i) {
    const Impl::Task& t = plan->tasks[static_cast<size_t>(i)];
    const Impl::Pipe& p = *t.pipe;
    OneOmpThread one;
    thread_local dnnl::stream strm(cpu_engine());
    dnnl::engine& eng = cpu_engine();
    float* xin = const_cast<float*>(x) + t.n0 * in_image + t.ih0 * r.W;
    dnnl::memory src_user(p.src_user, eng, xin);
    dnnl::memory src = p.convert_src ? dnnl::memory(p.conv_src, eng, scratch_bytes(0, p.src_bytes)) : src_user;
    dnnl::memory dst(p.conv_dst, eng, scratch_bytes(1, p.dst_bytes));
    dnnl::memory pad(md({static_cast<int64_t>(p.scratch_bytes)}, dt::u8, tag::x), eng,
                     scratch_bytes(2, std::max<size_t>(p.scratch_bytes, 1)));
    dnnl::memory dst_user(p.dst_user, eng, y + t.n0 * out_image + t.r0 * r.OW);
    if (p.convert_src) p.to_conv.execute(strm, src_user, src);
    p.conv.execute(strm, {{DNNL_ARG_SRC, src},
                          {DNNL_ARG_WEIGHTS, *p.weights},
                          {DNNL_ARG_BIAS, impl_->bias_mem},
                          {DNNL_ARG_DST, dst},
                          {DNNL_ARG_SCRATCHPAD, pad}});
    p.from_conv.execute(strm, dst, dst_user);
    strm.wait();
  });
  return true;
}

const std::vector<float>& OnednnConv::weights() const { return impl_->w; }

bool onednn_built() { return true; }

}  // namespace octet::fast

#else  // no oneDNN in this build

namespace octet::fast {

struct OnednnConv::Impl {};

std::unique_ptr<OnednnConv> OnednnConv::make(const Conv2d&, const float*, const float*, float, float) {
  return nullptr;
}

bool OnednnConv::run(const Conv2d&, int64_t, const float*, float*, ThreadPool&) { return false; }

const std::vector<float>& OnednnConv::weights() const {
  static const std::vector<float> none;
  return none;
}

bool onednn_built() { return false; }

}  // namespace octet::fast

#endif

namespace octet::fast {

OnednnConv::OnednnConv(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OnednnConv::~OnednnConv() = default;
std::string OnednnConv::kernel() { return "conv_f32_onednn"; }

}  // namespace octet::fast
