// mobilenetv2-tiny: MobileNetV2's inverted residual blocks (Sandler et al. 2018) at 28x28 and
// 16-48 channels.
#include "zoo/zoo_layers.h"

namespace octet::zoo {

namespace {

// 1x1 expand (x t) -BN-ReLU6, depthwise 3x3 -BN-ReLU6, 1x1 project -BN (linear bottleneck),
// residual Add when stride 1 and the channels are unchanged.
std::string inverted_residual(LayerBuilder& L, const std::string& x, const std::string& name, int64_t cin,
                              int64_t cout, int64_t expand, int64_t stride) {
  int64_t hidden = cin * expand;
  std::string y = L.conv(x, name + ".expand.conv", cin, hidden, 1, 1, 0, 1, false);
  y = L.relu6(L.batch_norm(y, name + ".expand.bn", hidden), name + ".expand.relu6");
  y = L.conv(y, name + ".dw.conv", hidden, hidden, 3, stride, 1, hidden, false);
  y = L.relu6(L.batch_norm(y, name + ".dw.bn", hidden), name + ".dw.relu6");
  y = L.conv(y, name + ".project.conv", hidden, cout, 1, 1, 0, 1, false);
  y = L.batch_norm(y, name + ".project.bn", cout);
  if (stride == 1 && cin == cout) y = L.graph().op("Add", {x, y}, {}, name + ".add");
  return y;
}

struct BlockSpec {
  int64_t expand, cout, stride;
};

}  // namespace

Model make_mobilenetv2_tiny(uint32_t seed) {
  LayerBuilder L("mobilenetv2-tiny", 17, seed);
  std::string x = L.normalize(L.image_input());
  x = L.conv(x, "stem.conv", 1, 16, 3, 1, 1, 1, false);
  x = L.relu6(L.batch_norm(x, "stem.bn", 16), "stem.relu6");  // [N,16,28,28]
  const BlockSpec blocks[] = {
      {4, 24, 2},  // -> [N,24,14,14]
      {4, 24, 1},  // residual
      {4, 32, 2},  // -> [N,32,7,7]
      {4, 32, 1},  // residual
      {4, 48, 1},  // -> [N,48,7,7]
  };
  int64_t c = 16;
  int index = 0;
  for (const BlockSpec& s : blocks) {
    x = inverted_residual(L, x, str_cat("blocks.", index++), c, s.cout, s.expand, s.stride);
    c = s.cout;
  }
  x = L.conv(x, "head.conv", c, 128, 1, 1, 0, 1, false);
  x = L.relu6(L.batch_norm(x, "head.bn", 128), "head.relu6");
  x = L.global_pool_flatten(x, "pool");
  x = L.linear_gemm(x, "fc", 128, 10);
  return L.finish(x, "mobilenetv2-tiny: conv stem, five inverted residual blocks (expand 4, depthwise "
                     "3x3, ReLU6 as Clip), 1x1 head conv, unfused BatchNormalization, random He-normal "
                     "weights; input image [N,1,28,28] in [0,1], output logits [N,10]");
}

}  // namespace octet::zoo
