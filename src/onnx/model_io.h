// Reading and writing ONNX files. This layer is the only code in octet that sees onnx.proto
// (Debian's libonnx-dev generated classes, parsed with protobuf): everything else uses the IR.
#pragma once

#include <cstdint>
#include <string>

#include "ir/graph.h"

namespace octet {

// Loads an ONNX model, reading external data files relative to the model's folder. Validates what
// the IR relies on (a graph, opset imports, well-formed tensors, every input defined, no cycles)
// and throws Error naming the file and the node or tensor otherwise. Nodes come back in
// topological order; nodes without a name get a unique one ("<OpType>_<index>").
Model load_model(const std::string& path);
// Same, from bytes already in memory (fuzzing, tests). `base_dir` resolves external data; an empty
// base_dir makes external data an error.
Model load_model_from_bytes(const std::string& bytes, const std::string& display_name,
                            const std::string& base_dir = "");

struct SaveOptions {
  // Initializers of at least this many bytes go to an external data file; < 0 keeps all inline.
  // A model whose inline size would pass protobuf's 2 GiB limit is always saved with external data.
  int64_t external_data_threshold = -1;
  // Name of the external data file, relative to the model's folder; default "<model file>.data".
  std::string external_data_name;
};

// Writes the model; the file (and its external data) appears complete or not at all: everything is
// written to temporary files in the same folder and renamed into place.
void save_model(const Model& model, const std::string& path, const SaveOptions& opts = {});

// Single tensors in ONNX TensorProto form (the backend tests' input_N.pb / output_N.pb).
Tensor load_tensor_pb(const std::string& path, std::string* name = nullptr);
void save_tensor_pb(const Tensor& t, const std::string& name, const std::string& path);

}  // namespace octet
