// StoreFp16Weights: layers left in float (not quantized, excluded, or kept out of INT8 by a
// mixed-precision choice) keep their weights as FLOAT16 in the file: each float32 weight
// initializer of a Conv, ConvTranspose, Gemm or MatMul becomes a FLOAT16 initializer (rounded to
// nearest even) read through Cast(to = FLOAT), halving its size; biases and everything else stay
// float32. Any runtime runs the result (the Cast is standard ONNX); octet's engine expands the
// weights once at load (expand_fp16_weights, F16C) and computes in FP32.
//
// Expects: float32 weight initializers read by input 1 of those ops. A weight is left float32
// when a value of it is outside FLOAT16's finite range (|w| > 65504) or when it is shared with a
// node that is not one of those ops; such weights are listed in the result.
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"

namespace octet {

struct Fp16WeightsReport {
  std::vector<std::string> converted;  // weight initializer names now stored as FLOAT16
  std::vector<std::string> kept;       // "name: why" for weights left float32
  int64_t bytes_before = 0, bytes_after = 0;
};

// `only_nodes`: when non-empty, only weights of these node names.
Fp16WeightsReport store_fp16_weights(Model& model, const std::vector<std::string>& only_nodes = {});

// Replaces every Cast(to = FLOAT) of a FLOAT16 initializer by a float32 initializer (converted with
// F16C where the CPU has it, else by ir/half.h's exact conversion: the same values), so the engine
// packs float weights. Returns the number of weights expanded.
int expand_fp16_weights(Model& model);

}  // namespace octet
