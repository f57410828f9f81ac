// lenet: LeNet-5 with ReLU and max pooling (LeCun et al. 1998, as the modern tutorials write it).
#include "zoo/zoo_layers.h"

namespace octet::zoo {

Model make_lenet(uint32_t seed) {
  LayerBuilder L("lenet", 17, seed);
  std::string x = L.normalize(L.image_input());
  x = L.max_pool2(L.relu(L.conv(x, "conv1", 1, 6, 5, 1, 2), "relu1"), "pool1");   // [N,6,14,14]
  x = L.max_pool2(L.relu(L.conv(x, "conv2", 6, 16, 5, 1, 0), "relu2"), "pool2");  // [N,16,5,5]
  x = L.graph().op("Flatten", {x}, {{"axis", GraphBuilder::i(1)}}, "flatten");    // [N,400]
  x = L.relu(L.linear_gemm(x, "fc1", 400, 120), "relu3");
  x = L.relu(L.linear_gemm(x, "fc2", 120, 84), "relu4");
  x = L.linear_gemm(x, "fc3", 84, 10);
  return L.finish(x, "lenet: two conv-relu-maxpool stages and three fully connected layers (LeNet-5), "
                     "random He-normal weights; input image [N,1,28,28] in [0,1], output logits [N,10]");
}

}  // namespace octet::zoo
