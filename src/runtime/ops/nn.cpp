// The neural-network op family. The ops live in nn_conv.cpp (Conv, ConvTranspose), nn_gemm.cpp
// (Gemm, MatMul), nn_pool.cpp (MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool) and
// nn_norm.cpp (BatchNormalization, InstanceNormalization, LayerNormalization); their numeric
// loops are in src/kernels/ref/{conv,gemm,pool,norm}_ref.
#include "runtime/op_registry.h"
#include "runtime/ops/nn_common.h"

namespace octet {

void register_nn_ops(OpRegistry& r) {
  register_nn_conv_ops(r);
  register_nn_gemm_ops(r);
  register_nn_pool_ops(r);
  register_nn_norm_ops(r);
}

}  // namespace octet
