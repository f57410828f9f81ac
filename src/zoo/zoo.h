// Models defined in code. Each takes float32 [N,1,28,28] images in [0,1] and returns [N,10]
// class scores; weights are drawn from a seeded generator, so a seed gives the same model.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace octet::zoo {

std::vector<std::string> model_names();
// Throws Error listing the known names if `name` is unknown.
Model make_model(const std::string& name, uint32_t seed);
// A deterministic sample batch for a zoo model's input (values in [0,1]).
Tensor sample_input(int64_t batch, uint32_t seed);

}  // namespace octet::zoo
