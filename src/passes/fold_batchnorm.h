// FoldBatchNorm: folds inference-mode BatchNormalization into the Conv, ConvTranspose or Gemm that
// produces its input, so quantization sees one weight per layer (the weight that actually runs)
// instead of a weight and a per-channel affine it would otherwise quantize separately.
//
// With s[c] = scale[c] / sqrt(var[c] + epsilon) for output channel c:
//   W'[.. c ..] = W[.. c ..] * s[c]              on the producer's output-channel axis
//   b'[c]       = (b[c] - mean[c]) * s[c] + bias[c]   (b = 0 when the producer has no bias)
// computed in double and stored as float32. Output-channel axes:
//   Conv           W [M, C/group, k...]: axis 0, for any group count (depthwise included).
//   ConvTranspose  W [C, M/group, k...]: output channel of W[c, j, ...] is
//                  (c / (C/group)) * (M/group) + j. Axis 1 only when group == 1; with groups,
//                  channel j of group g is g*(M/group)+j (the mistake of onnxruntime#19694).
//   Gemm           Y = alpha * A' * B' + beta * C, output [M, N], channel axis 1 (N): column n of
//                  B (transB = 0, B [K, N]) or row n (transB = 1, B [N, K]). The new C is
//                  s * (beta * C - mean) + bias with C broadcast to [rows of C, N]; beta becomes 1.
//
// Expects: FoldConstants has run if the weights or BN parameters come from Constant nodes; this
// pass only reads initializers.
//
// Folds a BatchNormalization node when ALL of these hold (otherwise the node is left unchanged):
//   - default domain, inference form: one output (any further output name empty), no
//     training_mode = 1 (opset >= 14), spatial = 1 where the opset has that attribute;
//   - scale, bias, mean and var are float32 initializers of one element per output channel;
//   - its input X is produced by a default-domain Conv, ConvTranspose or Gemm whose weight (and
//     bias / C, if given) are float32 initializers;
//   - X has no other reader (counting repeated uses by the BN itself) and is not a graph output,
//     so removing X changes nothing else.
// A BatchNormalization after anything else (a graph input, Add, Relu, MatMul, ...) is left alone:
// it has no weight to absorb it, and turning it into Mul+Add would only move the same arithmetic.
//
// Guarantees for each fold: the producer now writes the BN's output name (so graph outputs and
// downstream readers are untouched), X's value is removed, the BN node is removed. The new weight
// and bias are NEW initializers with fresh names: an initializer shared with other nodes is never
// changed in place. Old weights and BN parameters that nothing reads any more are removed (unless
// they are graph outputs). Chains (Conv -> BN -> BN) fold completely.
// Errors: a var[c] + epsilon that is not positive and finite, or BN parameters whose length is not
// the producer's output-channel count, throw octet::Error naming the BN node.
#pragma once

#include <string>

#include "passes/pass_manager.h"

namespace octet {

struct FoldBatchNormStats {
  int folded_into_conv = 0;
  int folded_into_conv_transpose = 0;
  int folded_into_gemm = 0;
  int left_alone = 0;  // BatchNormalization nodes that did not meet the conditions above
  int folded() const { return folded_into_conv + folded_into_conv_transpose + folded_into_gemm; }
};

class FoldBatchNorm : public Pass {
 public:
  std::string name() const override { return "fold-batchnorm"; }
  // Returns true if the model changed.
  bool run(Model& model) override;
  const FoldBatchNormStats& stats() const { return stats_; }

 private:
  FoldBatchNormStats stats_;
};

}  // namespace octet
