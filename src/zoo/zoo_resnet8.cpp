// resnet8: a CIFAR-style ResNet (He et al. 2016) with one basic block per stage, for 28x28 input.
#include "zoo/zoo_layers.h"

namespace octet::zoo {

namespace {

// Conv3x3-BN-Relu-Conv3x3-BN, plus the shortcut (1x1 conv + BN when the shape changes), Add, Relu.
std::string basic_block(LayerBuilder& L, const std::string& x, const std::string& name, int64_t cin,
                        int64_t cout, int64_t stride) {
  std::string y = L.conv(x, name + ".conv1", cin, cout, 3, stride, 1, 1, false);
  y = L.relu(L.batch_norm(y, name + ".bn1", cout), name + ".relu1");
  y = L.conv(y, name + ".conv2", cout, cout, 3, 1, 1, 1, false);
  y = L.batch_norm(y, name + ".bn2", cout);
  std::string shortcut = x;
  if (stride != 1 || cin != cout) {
    shortcut = L.conv(x, name + ".downsample.conv", cin, cout, 1, stride, 0, 1, false);
    shortcut = L.batch_norm(shortcut, name + ".downsample.bn", cout);
  }
  std::string sum = L.graph().op("Add", {y, shortcut}, {}, name + ".add");
  return L.relu(sum, name + ".relu2");
}

}  // namespace

Model make_resnet8(uint32_t seed) {
  LayerBuilder L("resnet8", 17, seed);
  std::string x = L.normalize(L.image_input());
  x = L.relu(L.batch_norm(L.conv(x, "stem.conv", 1, 16, 3, 1, 1, 1, false), "stem.bn", 16), "stem.relu");
  x = basic_block(L, x, "stage1", 16, 16, 1);  // [N,16,28,28]
  x = basic_block(L, x, "stage2", 16, 32, 2);  // [N,32,14,14]
  x = basic_block(L, x, "stage3", 32, 64, 2);  // [N,64,7,7]
  x = L.global_pool_flatten(x, "pool");
  x = L.linear_gemm(x, "fc", 64, 10);
  return L.finish(x, "resnet8: conv stem and three stages (16, 32, 64 channels) of one basic residual "
                     "block, unfused BatchNormalization, random He-normal weights; input image "
                     "[N,1,28,28] in [0,1], output logits [N,10]");
}

}  // namespace octet::zoo
