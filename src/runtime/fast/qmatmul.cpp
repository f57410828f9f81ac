// octet.QLinearMatMul with constant weights on the exact INT8 GEMM: computed transposed,
// C^T[N, rows] = W^T[N, K] · A^T[K, rows], so the weights are the packed int8 operand (packed once,
// one row per output column) and the activations the uint8 operand packed per call; C is written
// through transposed strides. Equal to the reference op bit for bit.
#include <algorithm>

#include "kernels/avx2/qgemm_avx2.h"
#include "runtime/fast/fast_op.h"
#include "runtime/fast/qparams.h"
#include "runtime/fast/scratch.h"

namespace octet {
namespace {

class QMatMul : public FastOp {
 public:
  explicit QMatMul(fast::QLayer layer) : q_(std::move(layer)) {
    packed_.resize(kernels::qgemm_packed_a_bytes(q_.M, q_.K));
    kernels::qgemm_pack_a_s8_avx2(q_.M, q_.K, q_.w.data(), q_.K, 1, q_.w_zp.data(), packed_.data(), isa_);
    packed_.resize(kernels::qgemm_packed_a_info(packed_.data()).used_bytes);  // the bound allows 3x
    packed_.shrink_to_fit();
    q_.w = {};  // packed now
  }

  std::string kernel() const override { return std::string("matmul_u8s8_qgemm_") + kernels::qgemm_tile_name(isa_); }
  std::string precision() const override { return "int8"; }

  bool run(const std::vector<const Tensor*>& in, Tensor& out, ThreadPool& pool) const override {
    const Tensor& a = *in[0];
    const int64_t K = q_.K, N = q_.M;
    if (a.dtype() != q_.x_type || a.rank() < 1 || a.dim(a.rank() - 1) != K) return false;
    if (K == 0) return false;  // an empty sum: the reference op writes the result
    const int64_t rows = a.numel() / K;
    Shape shape = a.shape();
    shape.back() = N;
    Tensor y(q_.out_type(), shape, Tensor::Uninitialized{});
    const uint8_t* ap = fast::as_u8(a);
    const int64_t chunk = std::min<int64_t>(512, std::max<int64_t>(16, (rows + pool.size() - 1) / pool.size()));
    const int64_t chunks = (rows + chunk - 1) / chunk;
    pool.parallel_tasks(chunks, [&](int64_t c) {
      const int64_t r0 = c * chunk, n = std::min(rows, r0 + chunk) - r0;
      void* packed = fast::scratch_bytes(0, kernels::qgemm_packed_b_bytes(K, n));
      kernels::qgemm_pack_b_u8_avx2(K, n, ap + r0 * K, 1, K, q_.x_zp, 0, n, packed);
      kernels::QgemmOutput o = q_.gemm_output(y, r0 * N, 1, N, 0);
      kernels::qgemm_packed_avx2(N, n, K, packed_.data(), packed, o, 0, N, 0, n);
    });
    q_.clamp_float_output(y, pool);
    out = std::move(y);
    return true;
  }

 private:
  kernels::QgemmIsa isa_ = kernels::qgemm_default_isa();  // the tile loop the weights are packed for
  fast::QLayer q_;
  std::vector<uint8_t> packed_;
};

}  // namespace

std::unique_ptr<FastOp> make_qmatmul(const FastOpContext& ctx) {
  const Node& node = ctx.node;
  if (node.domain != "octet" || node.op_type != "QLinearMatMul" || node.inputs.size() < 6) return nullptr;
  const Value* w = ctx.graph.find_value(node.inputs[3]);
  if (!w || !w->initializer || w->initializer->rank() != 2) return nullptr;
  fast::QLayer layer;
  if (!fast::read_qlayer(ctx, w->initializer->dim(1), w->initializer->dim(0), false, &layer)) return nullptr;
  return std::make_unique<QMatMul>(std::move(layer));
}

bool fast_kernels_available() {
  static const bool ok = kernels::qgemm_avx2_supported() && __builtin_cpu_supports("fma");
  return ok;
}

}  // namespace octet
