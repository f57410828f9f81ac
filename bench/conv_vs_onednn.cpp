// octet's FP32 convolution against oneDNN's, side by side in one run (the question the README's
// dependency table left open: does oneDNN's FP32 convolution win on this machine, and by how much
// once its blocked layout is paid for?).
//
//   build/conv_vs_onednn [--threads 2] [--runs 50]
//
// For each 3x3 convolution of resnet8 (28x28 Fashion-MNIST input, batch 1 and 32) and of a
// ResNet-18 at 224x224 (batch 1), with bias and a fused Relu, four ways on the same input:
//   octet          the engine (Engine) running a Conv -> Relu model: the fast op octet uses, with
//                  its weights packed at load and its thread pool;
//   dnnl nchw      oneDNN 2.6 convolution_forward with NCHW source and destination (what a
//                  drop-in replacement on octet's tensors gets; oneDNN picks its implementation);
//   dnnl blocked   the same with format_tag::any for source and destination (oneDNN's preferred
//                  blocked layout, e.g. nChw16c): the convolution alone, its input already blocked;
//   dnnl blk+ro    blocked, plus the reorders NCHW -> blocked -> NCHW around it (what one layer
//                  costs when the rest of the graph stays NCHW).
// oneDNN's threads are OpenMP's (Debian builds it so), set to --threads, as octet's pool is.
// Each implementation runs --runs times (in phases, see below), and its median is printed (ms) with
// GFLOP/s (2 * MACs / time) and octet's time over each of oneDNN's; the outputs are compared
// first (largest difference relative to the largest |y|), so the timings are of the same work.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ir/builder.h"
#include "runtime/engine.h"
#include "runtime/shape_inference.h"

namespace {

using namespace octet;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

struct Shape4 {
  const char* model;
  int64_t n, c, h, k, stride;
};

Tensor random_tensor(const Shape& shape, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, scale);
  Tensor t(DType::Float32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = nd(rng);
  return t;
}

double median_ms(std::vector<double>& t) {
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

double timed_ms(const std::function<void()>& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, runs = 50;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: %s [--threads T] [--runs R]\n", argv[0]);
      return 2;
    }
  }
  omp_set_num_threads(threads);
  const std::vector<Shape4> shapes = {
      {"resnet8", 32, 16, 28, 16, 1}, {"resnet8", 32, 16, 28, 32, 2}, {"resnet8", 32, 32, 14, 32, 1},
      {"resnet8", 32, 32, 14, 64, 2}, {"resnet8", 32, 64, 7, 64, 1},  {"resnet8", 1, 16, 28, 16, 1},
      {"resnet8", 1, 64, 7, 64, 1},   {"resnet18", 1, 64, 56, 64, 1}, {"resnet18", 1, 128, 28, 128, 1},
      {"resnet18", 1, 256, 14, 256, 1}, {"resnet18", 1, 512, 7, 512, 1},
  };
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  std::printf("threads %d, %d runs each, median ms (GFLOP/s); ratio = octet time / oneDNN time\n", threads, runs);
  std::printf("%-9s %-22s %16s %16s %16s %16s  %-22s %s\n", "model", "N x C x H -> K /s", "octet", "dnnl nchw",
              "dnnl blocked", "dnnl blk+ro", "octet / nchw, blocked, blk+ro", "dnnl impl (nchw | blocked)");
  for (const Shape4& s : shapes) {
    const int64_t oh = (s.h + 2 - 3) / s.stride + 1;
    const double gflop = 2.0 * s.n * s.k * oh * oh * s.c * 9 / 1e9;
    const Tensor x = random_tensor({s.n, s.c, s.h, s.h}, 1, 1.f);
    const Tensor w = random_tensor({s.k, s.c, 3, 3}, 2, 1.f / std::sqrt(9.f * s.c));
    const Tensor b = random_tensor({s.k}, 3, 0.1f);

    GraphBuilder gb("conv", 17);
    gb.input("x", DType::Float32, {s.n, s.c, s.h, s.h});
    gb.initializer("w", w);
    gb.initializer("b", b);
    const std::string c = gb.op("Conv", {"x", "w", "b"},
                                {{"pads", GraphBuilder::ints({1, 1, 1, 1})},
                                 {"strides", GraphBuilder::ints({s.stride, s.stride})},
                                 {"kernel_shape", GraphBuilder::ints({3, 3})}},
                                "conv");
    gb.output(gb.op("Relu", {c}, {}, "relu"));
    Model m = gb.build();
    infer_shapes(m);
    EngineOptions eo;
    eo.threads = threads;
    Engine engine(m, eo);
    const std::string out = m.graph.outputs[0];
    const std::map<std::string, Tensor> feeds = {{"x", x}};
    const Tensor y_octet = engine.run(feeds).at(out);

    // oneDNN: weights given as OIHW, reordered once to what the primitive wants.
    const dnnl::memory::dims src_d{s.n, s.c, s.h, s.h}, wei_d{s.k, s.c, 3, 3}, bia_d{s.k}, dst_d{s.n, s.k, oh, oh};
    dnnl::post_ops po;
    po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    dnnl::primitive_attr attr;
    attr.set_post_ops(po);
    auto make_pd = [&](tag io) {
      dnnl::convolution_forward::desc d(
          dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, dnnl::memory::desc(src_d, dt::f32, io),
          dnnl::memory::desc(wei_d, dt::f32, tag::any), dnnl::memory::desc(bia_d, dt::f32, tag::x),
          dnnl::memory::desc(dst_d, dt::f32, io), {s.stride, s.stride}, {1, 1}, {1, 1});
      return dnnl::convolution_forward::primitive_desc(d, attr, eng);
    };
    const auto pd_nchw = make_pd(tag::nchw), pd_blk = make_pd(tag::any);
    dnnl::memory x_user({src_d, dt::f32, tag::nchw}, eng, const_cast<float*>(x.data<float>()));
    dnnl::memory w_user({wei_d, dt::f32, tag::oihw}, eng, const_cast<float*>(w.data<float>()));
    dnnl::memory b_mem({bia_d, dt::f32, tag::x}, eng, const_cast<float*>(b.data<float>()));
    dnnl::memory y_nchw({dst_d, dt::f32, tag::nchw}, eng), y_back({dst_d, dt::f32, tag::nchw}, eng);
    auto packed_weights = [&](const dnnl::convolution_forward::primitive_desc& pd) {
      dnnl::memory wm(pd.weights_desc(), eng);
      dnnl::reorder(w_user, wm).execute(strm, w_user, wm);
      strm.wait();
      return wm;
    };
    const dnnl::memory w_nchw = packed_weights(pd_nchw), w_blk = packed_weights(pd_blk);
    dnnl::memory x_blk(pd_blk.src_desc(), eng), y_blk(pd_blk.dst_desc(), eng);
    const dnnl::convolution_forward conv_nchw(pd_nchw), conv_blk(pd_blk);
    const dnnl::reorder to_blk(x_user, x_blk), from_blk(y_blk, y_back);
    auto run_nchw = [&] {
      conv_nchw.execute(strm, {{DNNL_ARG_SRC, x_user}, {DNNL_ARG_WEIGHTS, w_nchw}, {DNNL_ARG_BIAS, b_mem},
                               {DNNL_ARG_DST, y_nchw}});
      strm.wait();
    };
    auto run_blk = [&] {
      conv_blk.execute(strm, {{DNNL_ARG_SRC, x_blk}, {DNNL_ARG_WEIGHTS, w_blk}, {DNNL_ARG_BIAS, b_mem},
                              {DNNL_ARG_DST, y_blk}});
      strm.wait();
    };
    auto run_blk_ro = [&] {
      to_blk.execute(strm, x_user, x_blk);
      run_blk();
      from_blk.execute(strm, y_blk, y_back);
      strm.wait();
    };
    run_nchw();
    run_blk_ro();
    double diff = 0, ymax = 0;
    for (int64_t i = 0; i < y_octet.numel(); ++i) {
      const float o = y_octet.data<float>()[i];
      diff = std::max({diff, std::fabs(double(o) - static_cast<const float*>(y_nchw.get_data_handle())[i]),
                       std::fabs(double(o) - static_cast<const float*>(y_back.get_data_handle())[i])});
      ymax = std::max(ymax, std::fabs(double(o)));
    }
    if (!(diff <= 1e-4 * ymax)) {
      std::fprintf(stderr, "outputs differ: max |octet - oneDNN| = %g for max |y| = %g\n", diff, ymax);
      return 1;
    }
    // Phases of runs / 5 runs of one implementation, after 2 untimed ones, the four in turn, five
    // rounds; 50 ms of sleep before each phase lets OpenMP's spinning threads go to sleep, so that
    // they do not take the cores from octet's pool (and octet's from oneDNN).
    const std::function<void()> impl[4] = {[&] { engine.run(feeds); }, run_nchw, run_blk, run_blk_ro};
    std::vector<double> t[4];
    for (int round = 0; round < 5; ++round)
      for (int i = 0; i < 4; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        impl[i]();
        impl[i]();
        for (int r = 0; r < std::max(1, runs / 5); ++r) t[i].push_back(timed_ms(impl[i]));
      }
    double med[4];
    char cell[4][32];
    for (int i = 0; i < 4; ++i) {
      med[i] = median_ms(t[i]);
      std::snprintf(cell[i], sizeof cell[i], "%.3f (%.0f)", med[i], gflop / (med[i] / 1e3));
    }
    char shape[48], ratio[48];
    std::snprintf(shape, sizeof shape, "%ldx%ldx%ld -> %ld /%ld", long(s.n), long(s.c), long(s.h), long(s.k),
                  long(s.stride));
    std::snprintf(ratio, sizeof ratio, "%.2f, %.2f, %.2f", med[0] / med[1], med[0] / med[2], med[0] / med[3]);
    std::printf("%-9s %-22s %16s %16s %16s %16s  %-29s %s | %s\n", s.model, shape, cell[0], cell[1], cell[2], cell[3],
                ratio, pd_nchw.impl_info_str(), pd_blk.impl_info_str());
  }
  return 0;
}
