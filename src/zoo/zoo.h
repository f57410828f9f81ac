// Models defined in code. Each takes the input "image", float32 [N,1,28,28] with pixels in [0,1]
// (N a dynamic batch), and returns [N,10] class scores; weights are drawn from a seeded generator,
// so a seed gives the same model.
//   tiny-cnn          untrained demo model; its output "softmax_out" holds probabilities
//   lenet, resnet8, mobilenetv2-tiny, vit-tiny
//                     the Fashion-MNIST zoo: output "logits" (raw, no softmax), input normalisation
//                     inside the graph, BatchNormalization unfused, opset 17 (vit-tiny: 20, for Gelu).
//                     He-normal initial weights, for training (src/zoo/zoo_layers.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace octet::zoo {

std::vector<std::string> model_names();
// Models for speed measurements only (random weights, not trained, ImageNet shapes): "resnet18".
std::vector<std::string> speed_model_names();
// Throws Error listing the known names if `name` is unknown.
Model make_model(const std::string& name, uint32_t seed);
// A deterministic sample batch for a zoo model's input (values in [0,1]).
Tensor sample_input(int64_t batch, uint32_t seed);
// The same for any zoo model's input shape (its first dim replaced by `batch`); equal to the
// overload above for the 28x28 models.
Tensor sample_input(const Model& model, int64_t batch, uint32_t seed);

}  // namespace octet::zoo
