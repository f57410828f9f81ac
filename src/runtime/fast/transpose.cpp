// The engine's Transpose for 32-bit elements (float32, int32, uint32), split over the pool. The
// permutation is first reduced: dims of size 1 dropped, and neighbouring output dims that are also
// neighbours in the input merged. What is left is either
//   - a permutation that keeps the innermost dimension: contiguous rows gathered into place
//     (gather_rows_b32_avx2), or
//   - one that moves it: for every index of the other dims, a 2-D transpose between the output's
//     innermost dim and the output dim that is innermost in the input
//     (kernels/avx2/permute_avx2.h, 8x8 blocks in registers).
// Elements move as bits, so the result equals the reference op's. Other element sizes, and a
// perm the reference would reject, stay on the reference op.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "kernels/avx2/permute_avx2.h"
#include "runtime/fast/fast_op.h"
#include "runtime/ops/op_util.h"

namespace octet {
namespace {

constexpr int64_t kGrain = 16 * 1024;  // elements per task, below which threads cost more than they save

class Transpose32 : public FastOp {
 public:
  Transpose32(bool has_perm, std::vector<int64_t> perm) : has_perm_(has_perm), perm_(std::move(perm)) {}
  std::string kernel() const override { return "transpose_b32_avx2"; }
  std::string precision() const override { return "fp32"; }

  bool run(const std::vector<const Tensor*>& in, Tensor& out, ThreadPool& pool) const override {
    const Tensor& x = *in[0];
    const DType t = x.dtype();
    if (t != DType::Float32 && t != DType::Int32 && t != DType::UInt32) return false;
    const size_t rank = x.rank();
    std::vector<int64_t> perm = perm_;
    if (!has_perm_) {  // the default: the dims reversed
      perm.resize(rank);
      for (size_t i = 0; i < rank; ++i) perm[i] = static_cast<int64_t>(rank - 1 - i);
    }
    if (!is_permutation(perm, rank)) return false;
    Shape out_shape(rank);
    const std::vector<int64_t> in_stride = contiguous_strides(x.shape());
    std::vector<int64_t> src(rank);  // src[i]: input stride of output dim i
    for (size_t i = 0; i < rank; ++i) {
      out_shape[i] = x.dim(static_cast<size_t>(perm[i]));
      src[i] = in_stride[static_cast<size_t>(perm[i])];
    }
    Tensor y(t, out_shape, Tensor::Uninitialized{});
    const int64_t n = x.numel();
    if (n > 0) run_reduced(out_shape, src, static_cast<const uint32_t*>(x.raw()), static_cast<uint32_t*>(y.raw()), pool);
    out = std::move(y);
    return true;
  }

 private:
  // Output dims (size, input stride), sizes > 1 only, neighbours merged where the input has them
  // adjacent in the same order.
  static void run_reduced(const Shape& shape, const std::vector<int64_t>& stride, const uint32_t* x, uint32_t* y,
                          ThreadPool& pool) {
    std::vector<int64_t> sz, st;
    for (size_t i = 0; i < shape.size(); ++i) {
      if (shape[i] == 1) continue;
      if (!sz.empty() && st.back() == stride[i] * shape[i]) {
        sz.back() *= shape[i];
        st.back() = stride[i];
      } else {
        sz.push_back(shape[i]);
        st.push_back(stride[i]);
      }
    }
    const int64_t n = std::accumulate(sz.begin(), sz.end(), int64_t{1}, std::multiplies<int64_t>());
    const size_t r = sz.size();
    if (r <= 1) {  // a copy
      pool.parallel_for(n, kGrain, [&](int64_t b, int64_t e) { std::memcpy(y + b, x + b, static_cast<size_t>(e - b) * 4); });
      return;
    }
    const std::vector<int64_t> dst = contiguous_strides(sz);  // output strides of the reduced dims
    const size_t last = r - 1;
    if (st[last] == 1) {  // the innermost dim stays innermost: rows of sz[last] elements
      const int64_t rows = n / sz[last], len = sz[last];
      pool.parallel_for(rows, std::max<int64_t>(1, kGrain / len), [&](int64_t b, int64_t e) {
        // The first row's index by division, the next ones by an odometer over the outer dims
        // (output rows are consecutive, so only the input offset needs it); the rows' input
        // offsets are gathered kChunk at a time and copied by the kernel.
        constexpr int64_t kChunk = 256;
        int64_t off[kChunk];
        std::vector<int64_t> idx(last);
        for (size_t d = last, o = static_cast<size_t>(b); d-- > 0;) {
          idx[d] = static_cast<int64_t>(o % static_cast<size_t>(sz[d]));
          o /= static_cast<size_t>(sz[d]);
        }
        int64_t io = 0;
        for (size_t d = 0; d < last; ++d) io += idx[d] * st[d];
        const size_t in = last - 1;  // the innermost outer dim: runs of its rows need no carry
        for (int64_t row0 = b; row0 < e; row0 += kChunk) {
          const int64_t count = std::min(kChunk, e - row0);
          for (int64_t i = 0; i < count;) {
            const int64_t run = std::min(count - i, sz[in] - idx[in]);
            for (int64_t k = 0; k < run; ++k) off[i + k] = io + k * st[in];
            i += run;
            io += run * st[in];
            idx[in] += run;
            for (size_t d = last; d-- > 0 && idx[d] == sz[d];) {  // carry into the outer dims
              io -= st[d] * sz[d];
              idx[d] = 0;
              if (d > 0) {
                io += st[d - 1];
                ++idx[d - 1];
              }
            }
          }
          kernels::gather_rows_b32_avx2(count, len, x, off, y + row0 * len);
        }
      });
      return;
    }
    // The output dim that is innermost in the input: the input's last dim of size > 1 has stride
    // 1 and survives the reduction as (the tail of) one output dim.
    size_t q = 0;
    while (q < r && st[q] != 1) ++q;
    OCTET_CHECK(q < r, "transpose: no output dim has input stride 1");
    std::vector<size_t> outer;
    for (size_t d = 0; d < last; ++d)
      if (d != q) outer.push_back(d);
    int64_t blocks = 1;
    for (size_t d : outer) blocks *= sz[d];
    // Input and output offsets of index `o` of the outer dims (row-major over them).
    auto offsets = [&](int64_t o, int64_t* in_off, int64_t* out_off) {
      *in_off = *out_off = 0;
      for (size_t k = outer.size(); k-- > 0;) {
        const size_t d = outer[k];
        const int64_t i = o % sz[d];
        o /= sz[d];
        *in_off += i * st[d];
        *out_off += i * dst[d];
      }
    };
    // Element (i along last, j along q) of a block: input io + i * st[last] + j, output
    // oo + j * dst[q] + i. Small blocks are grouped, about kGrain elements a task; a big one is cut
    // along its longer side into pieces of whole 8-element steps.
    const int64_t rows = sz[last], cols = sz[q], block = rows * cols;
    auto transpose = [&](int64_t o, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
      int64_t io, oo;
      offsets(o, &io, &oo);
      kernels::transpose_2d_b32_avx2(i1 - i0, j1 - j0, x + io + i0 * st[last] + j0, st[last],
                                     y + oo + j0 * dst[q] + i0, dst[q]);
    };
    if (block < kGrain) {
      pool.parallel_for(blocks, (kGrain + block - 1) / block, [&](int64_t b, int64_t e) {
        for (int64_t o = b; o < e; ++o) transpose(o, 0, rows, 0, cols);
      });
      return;
    }
    const bool by_rows = rows >= cols;
    const int64_t side = by_rows ? rows : cols;
    const int64_t pieces = std::max<int64_t>(1, std::min<int64_t>((side + 7) / 8, block / kGrain));
    const int64_t piece = ((side + pieces - 1) / pieces + 7) / 8 * 8;  // whole 8-element steps
    const int64_t per_block = (side + piece - 1) / piece;
    pool.parallel_tasks(blocks * per_block, [&](int64_t task) {
      const int64_t o = task / per_block, p0 = (task % per_block) * piece, p1 = std::min(side, p0 + piece);
      if (by_rows) transpose(o, p0, p1, 0, cols);
      else transpose(o, 0, rows, p0, p1);
    });
  }

  bool has_perm_;
  std::vector<int64_t> perm_;
};

}  // namespace

std::unique_ptr<FastOp> make_transpose(const FastOpContext& ctx) {
  const Node& n = ctx.node;
  if (!n.domain.empty() || n.op_type != "Transpose" || n.inputs.empty()) return nullptr;
  return std::make_unique<Transpose32>(n.has_attr("perm"), n.attr_ints("perm"));
}

}  // namespace octet
