// resnet18: the ResNet-18 of He et al. 2016 at ImageNet shape ([N,3,224,224] in, 1000 logits out),
// with random He-normal weights: a model for speed measurements (octet bench, bench/engine_vs_*),
// not for accuracy.
#include "zoo/zoo_layers.h"

namespace octet::zoo {

namespace {

std::string block(LayerBuilder& L, const std::string& x, const std::string& name, int64_t cin, int64_t cout,
                  int64_t stride) {
  std::string y = L.relu(L.batch_norm(L.conv(x, name + ".conv1", cin, cout, 3, stride, 1, 1, false), name + ".bn1", cout),
                         name + ".relu1");
  y = L.batch_norm(L.conv(y, name + ".conv2", cout, cout, 3, 1, 1, 1, false), name + ".bn2", cout);
  std::string shortcut = x;
  if (stride != 1 || cin != cout)
    shortcut = L.batch_norm(L.conv(x, name + ".downsample.conv", cin, cout, 1, stride, 0, 1, false),
                            name + ".downsample.bn", cout);
  return L.relu(L.graph().op("Add", {y, shortcut}, {}, name + ".add"), name + ".relu2");
}

}  // namespace

Model make_resnet18(uint32_t seed) {
  LayerBuilder L("resnet18", 17, seed);
  using GB = GraphBuilder;
  std::string x = L.graph().input("image", DType::Float32, {-1, 3, 224, 224});
  x = L.relu(L.batch_norm(L.conv(x, "stem.conv", 3, 64, 7, 2, 3, 1, false), "stem.bn", 64), "stem.relu");
  x = L.graph().op("MaxPool", {x},
                   {{"kernel_shape", GB::ints({3, 3})}, {"strides", GB::ints({2, 2})}, {"pads", GB::ints({1, 1, 1, 1})}},
                   "stem.pool");
  int64_t cin = 64;
  const int64_t widths[] = {64, 128, 256, 512};
  for (int s = 0; s < 4; ++s) {
    const std::string stage = str_cat("layer", s + 1);
    x = block(L, x, stage + ".0", cin, widths[s], s == 0 ? 1 : 2);
    x = block(L, x, stage + ".1", widths[s], widths[s], 1);
    cin = widths[s];
  }
  x = L.global_pool_flatten(x, "pool");
  x = L.linear_gemm(x, "fc", 512, 1000);
  return L.finish(x, "resnet18: ResNet-18 at ImageNet shape with random He-normal weights, for speed "
                     "measurements; input image [N,3,224,224], output logits [N,1000]",
                  1000);
}

}  // namespace octet::zoo
