// Static shape and type inference over the whole graph, with octet's own per-op rules (ONNX's
// C++ inference in Debian's libonnx stops at opset 17).
#pragma once

#include "ir/graph.h"

namespace octet {

struct InferenceReport {
  int nodes_inferred = 0;     // nodes whose op had an inference rule
  int nodes_without_rule = 0; // unsupported ops or ops without a rule: outputs kept as declared
};

// Walks the nodes in topological order and sets each value's TensorType. Known constants
// (initializers, Constant nodes, and small ops over constants, which are folded for inference only)
// let Reshape/Slice/... targets be known exactly. Where the file declared a type (value_info, graph
// outputs) and inference disagrees on a known dim or the element type, throws Error naming the
// tensor and both types ("inconsistent shapes"). The graph itself is not rewritten.
InferenceReport infer_shapes(Model& model);

}  // namespace octet
