// FoldConstants: evaluates the parts of a graph that do not depend on the graph inputs once, ahead
// of time, so that later passes (BatchNormalization folding, calibration, quantization) see weights
// as initializers and shape arithmetic as plain numbers.
//
// Expects: a model the reference executor accepts (topologically sortable; the pass sorts it first).
//
// Guarantees, after run():
//   - Every Constant node is gone; its output is an initializer of the same name.
//   - Every default-domain node that octet can run, that is deterministic and whose inputs are all
//     constants (initializers, Constant outputs, or outputs folded earlier in the same run) has been
//     evaluated once with the reference op implementations (OpRegistry) and replaced by
//     initializers holding its outputs, same names, types set to the computed dtype and shape.
//   - Shape and Size nodes whose input has a statically known shape (declared, or inferred along
//     the way with the ops' own inference rules) are folded the same way, so a
//     Shape -> Gather -> Concat -> Reshape chain over static shapes becomes one Reshape with an
//     initializer target. Shape's start/end attributes are honoured, so Shape(x, start=1) folds
//     even when dim 0 is a dynamic batch.
//   - Nodes none of whose outputs reach a graph output are removed, and so are initializers no
//     remaining node reads (not in graphs with subgraph attributes: see remove_dead_code). Graph inputs are never removed, even unused; graph outputs are never
//     renamed or dropped: an output whose producer was folded is an initializer-backed graph output
//     (legal in ONNX and octet's IR; save_model writes it as an output naming an initializer, which
//     onnx.checker and onnxruntime accept, so no Identity node is needed).
//   - Quantization parameters (Value::quant) and value names are kept.
//
// Left alone, on purpose:
//   - Random ops (RandomNormal[Like], RandomUniform[Like], Multinomial, Bernoulli) and Dropout with
//     a training_mode input that is true: evaluating them once would freeze one sample.
//   - DequantizeLinear, unless FoldConstantsOptions::fold_dequantize_linear: DequantizeLinear over
//     an int8 initializer is how a Q/DQ model carries a quantized weight; folding it would turn the
//     weight back into float32.
//   - Ops outside the default ONNX domain (octet cannot know they are deterministic) and ops octet
//     does not implement.
//   - A node whose output would have more than max_output_elements elements, or whose output shape
//     the op's inference rule cannot predict from its constant inputs: the size is checked BEFORE
//     evaluating, so a constant Expand or ConstantOfShape to a huge shape never allocates.
//     (Constant nodes are exempt: their data is already in memory.)
//   - A node whose op reports Unsupported on its constant inputs (valid, not implemented by
//     octet): it stays for a runtime that implements it.
// Errors: an op that fails on its constant inputs (bad Reshape target, mismatched shapes, ...)
// throws octet::Error naming the node and the op's own message: the model could never run.
#pragma once

#include <cstdint>
#include <string>

#include "passes/pass_manager.h"

namespace octet {

struct FoldConstantsOptions {
  // Largest output, in elements, the pass materialises (per output tensor). 1<<24 float32
  // elements are 64 MiB: larger than any weight in the models octet targets, small enough that
  // folding cannot exhaust memory.
  int64_t max_output_elements = int64_t{1} << 24;
  // See the file comment: off keeps Q/DQ weights quantized.
  bool fold_dequantize_linear = false;
};

// What the last run() did; for tests and logs.
struct FoldConstantsStats {
  int constant_nodes = 0;        // Constant nodes turned into initializers
  int nodes_folded = 0;          // other nodes evaluated on constant inputs (Shape/Size included)
  int shape_nodes_folded = 0;    // of which Shape/Size answered from static types
  int skipped_over_limit = 0;    // all-constant nodes left because an output exceeds the limit
  int skipped_unknown_size = 0;  // all-constant nodes left because the output size is unknown
  int skipped_unsupported = 0;   // all-constant nodes whose op reported Unsupported
  int dead_nodes_removed = 0;    // nodes removed because nothing used their outputs
  int initializers_removed = 0;  // initializers removed because nothing read them
};

class FoldConstants : public Pass {
 public:
  explicit FoldConstants(FoldConstantsOptions options = {});
  std::string name() const override { return "fold-constants"; }
  // Returns true if the model changed.
  bool run(Model& model) override;
  const FoldConstantsStats& stats() const { return stats_; }

 private:
  FoldConstantsOptions options_;
  FoldConstantsStats stats_;
};

// Removes nodes none of whose outputs reach a graph output, then initializers that no remaining
// node reads and that are not graph outputs. Graph inputs are kept. Returns {nodes removed,
// initializers removed}. Used by FoldConstants; usable on its own after any rewrite. A graph with
// a subgraph attribute (If, Loop, Scan) is left untouched: its bodies may read outer values by
// name, and octet's IR does not keep the bodies, so their readers cannot be seen.
struct DeadCodeCounts {
  int nodes = 0;
  int initializers = 0;
};
DeadCodeCounts remove_dead_code(Graph& graph);

}  // namespace octet
