// A float 2-D convolution (group 1) on oneDNN's blocked kernels (Debian's libdnnl-dev 2.6; on
// AVX-512 CPUs its brgemm convolution), for the engine's FP32 convolutions: measured 1.4-3.7x
// faster than octet's own AVX2 kernels on every resnet8 and ResNet-18 3x3 layer with the layout
// conversions paid (README, build/conv_vs_onednn).
//
// Threads: Debian builds oneDNN on OpenMP, whose idle threads spin and would take the cores from
// the engine's pool. So oneDNN never starts a thread here: each of the pool's tasks runs one
// single-threaded oneDNN pipeline (NCHW -> oneDNN's layout, convolution with bias and the fused
// Relu/Clip, back to NCHW) on its share of the work, with OpenMP's thread count set to 1 on that
// thread for the call. The share is a slice of the batch when there are at least as many images
// as threads, else a band of output rows of each image (the band's input rows, halo included,
// are converted, and its convolution is given the padding that falls inside the band).
//
// Primitives are made on first use for each input size and kept; weights are converted to the
// primitive's layout once. Without oneDNN (OCTET_HAVE_ONEDNN unset) make() returns nullptr and the
// engine uses its own kernels.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/fast/conv2d.h"
#include "runtime/thread_pool.h"

namespace octet::fast {

class OnednnConv {
 public:
  // g: the attributes (unresolved), w: [M, C, kh, kw], bias: [M] or nullptr; output clamped to
  // [lo, hi] (+-inf: none). nullptr when oneDNN is absent or the convolution is grouped.
  static std::unique_ptr<OnednnConv> make(const Conv2d& g, const float* w, const float* bias, float lo, float hi);
  ~OnednnConv();

  // y [N, M, OH, OW] = conv(x [N, C, H, W]) for g resolved to x's size. False when oneDNN has no
  // implementation for this size (the caller then runs its own kernels).
  bool run(const Conv2d& g, int64_t N, const float* x, float* y, ThreadPool& pool);

  // "conv_f32_onednn".
  static std::string kernel();

  // The weights as given to make(), [M, C, kh, kw] (a caller that falls back packs them).
  const std::vector<float>& weights() const;

  struct Impl;

 private:
  explicit OnednnConv(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// True when this build links oneDNN.
bool onednn_built();

}  // namespace octet::fast
