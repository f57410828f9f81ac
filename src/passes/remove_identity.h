// RemoveIdentity: removes Identity nodes (and inference-mode Dropout, which is an Identity with an
// unused mask) so that pattern-matching passes see Conv -> BatchNormalization or Conv -> Relu
// directly, and so that no quantize/dequantize pair is later placed around a copy.
// (Identity over a constant is already folded by FoldConstants; this pass handles activations.)
//
// Expects: nothing beyond a valid graph.
// Guarantees, for a node Y = Identity(X) (or Y = Dropout(X) with no mask output wanted and no
// training_mode input, or one that is a constant false):
//   - Y is not a graph output: every reader of Y reads X instead; the node and Y's value go.
//   - Y is a graph output and X is a value produced by a node, not a graph output itself: the
//     producer of X writes Y instead and every reader of X reads Y; the node and X's value go.
//     The graph's output names never change.
//   - Otherwise (Y is a graph output and X is a graph input, an initializer or another graph
//     output) the node stays: an ONNX graph output must keep its own name, and it cannot be a
//     second name for an input.
// Quantization parameters on the removed value are dropped: run this before calibration.
#pragma once

#include <string>

#include "passes/pass_manager.h"

namespace octet {

class RemoveIdentity : public Pass {
 public:
  std::string name() const override { return "remove-identity"; }
  // Returns true if the model changed.
  bool run(Model& model) override;
  int removed() const { return removed_; }  // nodes removed by the last run

 private:
  int removed_ = 0;
};

}  // namespace octet
