// Float MatMul / Gemm on the AVX2 SGEMM: with a constant weight (MatMulF32), or with two run-time
// operands (MatMulDynF32, below).
//
// Constant weight, K <= kRowsMaxK and N >= 2: the weight is the packed B operand (packed once)
// and the rows of X are read in place by sgemm_rows_avx2 (or, on AVX-512 machines, its 6x32 build
// sgemm_rows_zmm, the same bits; so also the run-time products' rows path), C written row-major. Otherwise (a long
// K, whose rows of X would not stay in L1, or N == 1, the GEMV): the weight is the packed A
// operand, C^T = W^T · X^T, so X^T is packed per call (rows of X become columns) and C is written
// transposed (c_rs = 1, c_cs = N). Both sum all of K in one chain per element, so they give the
// same bits. Bias and a fused Relu/Clip go in the epilogue. Rows of X are split into chunks over
// the pool.
//
// Both apply the element-wise nodes the engine fused after them (post_ops.h) to each task's rows
// of the output right after computing them; a leading bias Add and a clamp after it go into the
// SGEMM epilogue instead (the same operations).
#include <algorithm>
#include <vector>

#include "kernels/avx2/sgemm_avx2.h"
#include "kernels/avx512/sgemm_narrow_zmm.h"
#include "kernels/avx512/sgemm_rows_zmm.h"
#include "runtime/fast/fast_op.h"
#include "runtime/fast/post_ops.h"
#include "runtime/fast/scratch.h"
#include "runtime/ops/op_util.h"

namespace octet {
namespace {

// Longest K for which products read their row operand in place (sgemm_rows_avx2): 6 rows of it
// and a 16-column panel of the other (6 KiB + 16 KiB at 256) stay in L1 over the k loop.
constexpr int64_t kRowsMaxK = 256;

// sgemm_rows_avx2's product on the AVX-512 6x32 tiles where fast::act_zmm() holds
// (kernels/avx512/sgemm_rows_zmm.h: the same bits), else on the AVX2 6x16 ones.
void sgemm_rows(int64_t N, int64_t K, const float* a, int64_t lda, const float* packed_b, float* c, int64_t ldc,
                const kernels::SgemmEpilogue& ep, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  if (fast::act_zmm()) kernels::sgemm_rows_zmm(N, K, a, lda, packed_b, c, ldc, ep, m0, m1, n0, n1);
  else kernels::sgemm_rows_avx2(N, K, a, lda, packed_b, c, ldc, ep, m0, m1, n0, n1);
}
const char* rows_kernel_name() { return fast::act_zmm() ? "rows_6x32_avx512" : "rows_6x16_avx2"; }

// A fused AddTensor's value (input kProductAddendInput) when `post` has one: nullptr when there is
// none, and *ok false when it is missing or not a float32 value of the product's shape (the op
// then declines and the nodes run as written).
const float* addend_of(const PostOps& post, const std::vector<const Tensor*>& in, const Shape& shape, bool* ok) {
  *ok = true;
  if (!post.has_addend()) return nullptr;
  const Tensor* r = in.size() > kProductAddendInput ? in[kProductAddendInput] : nullptr;
  if (!r || !r->defined() || r->dtype() != DType::Float32 || r->shape() != shape) {
    *ok = false;
    return nullptr;
  }
  return r->data<float>();
}

// Moves what the SGEMM epilogue can do of `post` into `ep`: a leading bias Add (when `bias` is
// given: where that bias goes, the epilogue's per-output-column vector), then a clamp. Returns
// the index of the first op left to PostOps::apply.
size_t epilogue_prefix(const PostOps& post, const float** bias, kernels::SgemmEpilogue* ep) {
  size_t first = 0;
  if (bias && first < post.size() && post[first].kind == PostOp::Kind::AddRow)
    *bias = post[first++].operand->data<float>();
  if (first < post.size() && post[first].kind == PostOp::Kind::Clamp) {
    ep->lo = post[first].lo;
    ep->hi = post[first].hi;
    ++first;
  }
  return first;
}

class MatMulF32 : public FastOp {
 public:
  // w_rs / w_cs address W as [K, N]: w(k, n) = w[k * w_rs + n * w_cs].
  MatMulF32(int64_t K, int64_t N, const float* w, int64_t w_rs, int64_t w_cs, const float* bias,
            bool gemm, PostOps post)
      : K_(K), N_(N), gemm_(gemm), rows_(K <= kRowsMaxK && N >= 2), post_(std::move(post)) {
    if (rows_) {
      packed_.resize(kernels::sgemm_packed_b_floats(K, N));
      kernels::sgemm_pack_b_avx2(K, N, w, w_rs, w_cs, 0, N, packed_.data());  // b(k, n) = W(k, n)
    } else {
      packed_.resize(kernels::sgemm_packed_a_floats(N, K));
      kernels::sgemm_pack_a_avx2(N, K, w, w_cs, w_rs, packed_.data());  // a(n, k) = W(k, n)
    }
    if (bias) bias_.assign(bias, bias + N);
  }

  std::string kernel() const override {
    return rows_ ? std::string("matmul_f32_") + rows_kernel_name() : "matmul_f32_sgemm_6x16_avx2";
  }
  std::string precision() const override { return "fp32"; }

  bool run(const std::vector<const Tensor*>& in, Tensor& out, ThreadPool& pool) const override {
    const Tensor& x = *in[0];
    if (x.dtype() != DType::Float32 || x.rank() < (gemm_ ? 2u : 1u) || x.dim(x.rank() - 1) != K_) return false;
    if (gemm_ && x.rank() != 2) return false;
    if (K_ == 0) return false;  // an empty sum: the reference op writes the zeros / bias
    const int64_t rows = x.numel() / K_;
    Shape shape = x.shape();
    shape.back() = N_;
    if (!post_.fits(shape)) return false;
    bool addend_ok;
    const float* addend = addend_of(post_, in, shape, &addend_ok);
    if (!addend_ok) return false;
    Tensor y(DType::Float32, shape, Tensor::Uninitialized{});
    const float* xp = x.data<float>();
    float* yp = y.data<float>();
    kernels::SgemmEpilogue ep;
    // The bias is per output column: the epilogue's column vector when C is row-major, its row
    // vector when C is computed transposed.
    const float** bias = rows_ ? &ep.bias_col : &ep.bias_row;
    *bias = bias_.empty() ? nullptr : bias_.data();
    const size_t first = epilogue_prefix(post_, *bias ? nullptr : bias, &ep);
    // One task per chunk of rows of X (columns of the transposed product).
    const int64_t chunk = std::min<int64_t>(256, std::max<int64_t>(16, (rows + pool.size() - 1) / pool.size()));
    const int64_t chunks = (rows + chunk - 1) / chunk;
    pool.parallel_tasks(chunks, [&](int64_t c) {
      const int64_t r0 = c * chunk, n = std::min(rows, r0 + chunk) - r0;
      if (rows_) {
        sgemm_rows(N_, K_, xp, K_, packed_.data(), yp, N_, ep, r0, r0 + n, 0, N_);
      } else {
        float* packed = fast::scratch_floats(0, kernels::sgemm_packed_b_floats(K_, n));
        kernels::sgemm_pack_b_avx2(K_, n, xp + r0 * K_, 1, K_, 0, n, packed);
        kernels::sgemm_packed_avx2(N_, n, K_, packed_.data(), packed, yp + r0 * N_, 1, N_, ep, 0, N_, 0, n);
      }
      post_.apply(yp + r0 * N_, n, N_, first, addend ? addend + r0 * N_ : nullptr);
    });
    out = std::move(y);
    return true;
  }

 private:
  int64_t K_, N_;
  bool gemm_;
  bool rows_;  // weight packed as B, rows of X read in place (see the top of the file)
  PostOps post_;
  std::vector<float> packed_, bias_;
};

// Float MatMul of two run-time operands (attention's Q·K^T and P·V): A [..., M, K] times
// B [..., K, N] with numpy broadcasting of the batch dims. Per product B is packed into 16-column
// panels; A is read in place by sgemm_rows_avx2 (K <= kRowsMaxK, N >= 2, A's rows contiguous), or
// else packed into 6-row panels for the packed SGEMM (each task packing only its rows of A); C is
// written row-major. A narrow B (N % 16 in 1..8, N <= 64: attention's 49 x 49 scores) whose width
// is known at load takes the AVX-512 narrow tiles instead where fast::act_zmm() holds
// (kernels/avx512/sgemm_narrow_zmm.h: the rows kernel's bits, fewer wasted columns). Tasks are
// (batch matrix, block of rows of C). The profile names the paths matmul_f32_dyn_sgemm_6x16_avx2
// and matmul_f32_dyn_narrow_avx512.
//
// An operand may come as the input of a Transpose that the engine folded into this op
// (FastOpContext::operand_perm: a head split such as [B, T, H, d] -> [B, H, T, d] or
// [B, H, d, T]): it is read through the permutation's strides instead of being copied first. Every
// path sums each element's K products in one chain in k order, so the bits do not depend on how
// an operand is laid out.
class MatMulDynF32 : public FastOp {
 public:
  // narrow_n: B's last dim as inferred at load when the narrow AVX-512 tiles take it
  // (sgemm_narrow_wins, K <= kRowsMaxK, fast::act_zmm()), else -1; a run whose N differs, or whose
  // K is longer, takes the 6x16 tiles (the profile keeps the name chosen at load). perm_a, perm_b:
  // the folded Transposes' permutations (empty: the operand as it is).
  // out_perm: a folded Transpose after the product (empty: none; then post must be empty too).
  MatMulDynF32(PostOps post, int64_t narrow_n, std::vector<int64_t> perm_a, std::vector<int64_t> perm_b,
               std::vector<int64_t> out_perm)
      : post_(std::move(post)), narrow_n_(narrow_n), perm_a_(std::move(perm_a)), perm_b_(std::move(perm_b)),
        out_perm_(std::move(out_perm)) {}
  std::string kernel() const override {
    return narrow_n_ > 0 ? "matmul_f32_dyn_narrow_avx512" : "matmul_f32_dyn_sgemm_6x16_avx2";
  }
  std::string precision() const override { return "fp32"; }

  bool run(const std::vector<const Tensor*>& in, Tensor& out, ThreadPool& pool) const override {
    const Tensor &a = *in[0], &b = *in[1];
    if (a.dtype() != DType::Float32 || b.dtype() != DType::Float32) return false;
    Shape da, db;
    std::vector<int64_t> sta, stb;
    if (!view(a, perm_a_, &da, &sta) || !view(b, perm_b_, &db, &stb) || da.size() < 2 || db.size() < 2) return false;
    const size_t ra = da.size(), rb = db.size();
    const int64_t M = da[ra - 2], K = da[ra - 1], N = db[rb - 1];
    if (db[rb - 2] != K || K == 0) return false;  // mismatch: the reference reports it
    const int64_t a_rs = sta[ra - 2], a_cs = sta[ra - 1], b_rs = stb[rb - 2], b_cs = stb[rb - 1];
    // Batch dims, right-aligned and broadcast; an element stride of 0 repeats a matrix.
    const int64_t rank = static_cast<int64_t>(std::max(ra, rb));
    const int64_t lead_a = rank - static_cast<int64_t>(ra), lead_b = rank - static_cast<int64_t>(rb);
    Shape batch(static_cast<size_t>(rank - 2));
    std::vector<int64_t> sa(batch.size(), 0), sb(batch.size(), 0);
    for (int64_t i = rank - 3; i >= 0; --i) {  // dims a lacks (i < lead_a) count as 1
      const int64_t dai = i >= lead_a ? da[static_cast<size_t>(i - lead_a)] : 1;
      const int64_t dbi = i >= lead_b ? db[static_cast<size_t>(i - lead_b)] : 1;
      if (dai != dbi && dai != 1 && dbi != 1) return false;
      batch[static_cast<size_t>(i)] = dai == 1 ? dbi : dai;
      sa[static_cast<size_t>(i)] = dai == 1 ? 0 : sta[static_cast<size_t>(i - lead_a)];
      sb[static_cast<size_t>(i)] = dbi == 1 ? 0 : stb[static_cast<size_t>(i - lead_b)];
    }
    int64_t batches = 1;
    for (int64_t d : batch) batches *= d;
    Shape shape = batch;
    shape.push_back(M);
    shape.push_back(N);
    if (!post_.fits(shape)) return false;
    bool addend_ok;
    const float* addend = addend_of(post_, in, shape, &addend_ok);
    if (!addend_ok) return false;
    // Where each dim of the product lands in the output: row-major, or (a folded Transpose after
    // the product) through out_perm_, whose last dim stays last, so rows of C stay contiguous.
    Shape out_shape = shape;
    std::vector<int64_t> cst = contiguous_strides(shape);
    if (!out_perm_.empty()) {  // a perm that does not fit: the Transpose's reference op reports it
      if (!is_permutation(out_perm_, shape.size()) || out_perm_.back() != static_cast<int64_t>(shape.size()) - 1) return false;
      for (size_t i = 0; i < shape.size(); ++i) out_shape[i] = shape[static_cast<size_t>(out_perm_[i])];
      const std::vector<int64_t> ost = contiguous_strides(out_shape);
      for (size_t i = 0; i < shape.size(); ++i) cst[static_cast<size_t>(out_perm_[i])] = ost[i];
    }
    const int64_t ldc = cst[cst.size() - 2];
    Tensor y(DType::Float32, out_shape, Tensor::Uninitialized{});
    if (y.numel() == 0) {
      out = std::move(y);
      return true;
    }
    const float* ap = a.data<float>();
    const float* bp = b.data<float>();
    float* yp = y.data<float>();
    kernels::SgemmEpilogue ep;
    const size_t first = epilogue_prefix(post_, &ep.bias_col, &ep);
    // Rows of A in place for short K when they are contiguous (one K block in both kernels, so the
    // same bits as packing them); a narrow B on the narrow tiles (the rows kernel's bits).
    const bool rows = K <= kRowsMaxK && N >= 2 && a_cs == 1;
    const bool narrow = rows && N == narrow_n_;
    // A Mul by a scalar right after the product (no clamp before it) goes into the narrow tiles'
    // epilogue: the same rounded product, while the scores are in registers.
    float narrow_scale = 1.f;
    size_t narrow_first = first;
    if (narrow && ep.lo == -INFINITY && ep.hi == INFINITY && first < post_.size() &&
        post_[first].kind == PostOp::Kind::Scalar && post_[first].scalar_op == kernels::ScalarOp::Mul)
      narrow_scale = post_[narrow_first++].s;
    const int64_t MR = kernels::kSgemmMR;
    const int64_t per = std::min((pool.size() + batches - 1) / batches, (M + MR - 1) / MR);
    const int64_t m_block = ((M + per - 1) / per + MR - 1) / MR * MR, m_blocks = (M + m_block - 1) / m_block;
    pool.parallel_tasks(batches * m_blocks, [&](int64_t t) {
      int64_t bi = t / m_blocks, oa = 0, ob = 0, oc = 0;
      for (size_t i = batch.size(); i-- > 0;) {
        const int64_t idx = bi % batch[i];
        bi /= batch[i];
        oa += idx * sa[i];
        ob += idx * sb[i];
        oc += idx * cst[i];
      }
      const int64_t m0 = t % m_blocks * m_block, m1 = std::min(M, m0 + m_block);
      float* c = yp + oc + m0 * ldc;
      if (narrow) {
        float* pb = fast::scratch_floats(1, static_cast<size_t>(K * kernels::sgemm_narrow_ld(N)));
        kernels::sgemm_narrow_pack_b(K, N, bp + ob, b_rs, b_cs, pb);
        kernels::sgemm_narrow_zmm(N, K, ap + oa + m0 * a_rs, a_rs, pb, c, ldc, ep, 0, m1 - m0, narrow_scale);
        post_.apply(c, m1 - m0, N, narrow_first, addend ? addend + (c - yp) : nullptr);
        return;
      }
      float* pb = fast::scratch_floats(1, kernels::sgemm_packed_b_floats(K, N));
      kernels::sgemm_pack_b_avx2(K, N, bp + ob, b_rs, b_cs, 0, N, pb);
      if (rows) {
        sgemm_rows(N, K, ap + oa + m0 * a_rs, a_rs, pb, c, ldc, ep, 0, m1 - m0, 0, N);
      } else {
        float* pa = fast::scratch_floats(0, kernels::sgemm_packed_a_floats(m1 - m0, K));
        kernels::sgemm_pack_a_avx2(m1 - m0, K, ap + oa + m0 * a_rs, a_rs, a_cs, pa);
        kernels::sgemm_packed_avx2(m1 - m0, N, K, pa, pb, c, ldc, 1, ep, 0, m1 - m0, 0, N);
      }
      post_.apply(c, m1 - m0, N, first, addend ? addend + (c - yp) : nullptr);
    });
    out = std::move(y);
    return true;
  }

 private:
  // An operand's dims and element strides: its own shape, row-major (perm empty), or the input of
  // a folded Transpose read through perm (output dim i is input dim perm[i]). False for a perm the
  // input does not fit (the Transpose's reference op then reports it).
  static bool view(const Tensor& t, const std::vector<int64_t>& perm, Shape* dims, std::vector<int64_t>* strides) {
    const std::vector<int64_t> st = contiguous_strides(t.shape());
    if (perm.empty()) {
      *dims = t.shape();
      *strides = st;
      return true;
    }
    if (!is_permutation(perm, t.rank())) return false;
    dims->assign(perm.size(), 0);
    strides->assign(perm.size(), 0);
    for (size_t i = 0; i < perm.size(); ++i) {
      (*dims)[i] = t.dim(static_cast<size_t>(perm[i]));
      (*strides)[i] = st[static_cast<size_t>(perm[i])];
    }
    return true;
  }

  PostOps post_;
  int64_t narrow_n_;
  std::vector<int64_t> perm_a_, perm_b_, out_perm_;
};

// The fused nodes: the engine's chain, or the clamp alone (ctx.act_min / act_max) from a caller
// that fuses only activations.
PostOps post_ops(const FastOpContext& ctx) {
  if (ctx.post) return *ctx.post;
  PostOps post;
  if (ctx.act_min != -INFINITY || ctx.act_max != INFINITY) {
    PostOp clamp;
    clamp.lo = ctx.act_min;
    clamp.hi = ctx.act_max;
    post.push(clamp);
  }
  return post;
}

// Input i as a float32 initializer, else nullptr.
const Tensor* float_constant(const FastOpContext& ctx, size_t i) {
  const Tensor* t = constant_input(ctx, i);
  return t && t->dtype() == DType::Float32 ? t : nullptr;
}

}  // namespace

std::unique_ptr<FastOp> make_matmul_f32(const FastOpContext& ctx) {
  const Node& node = ctx.node;
  if (!node.domain.empty() || node.inputs.size() < 2) return nullptr;
  const Tensor* w = float_constant(ctx, 1);
  if (node.op_type == "MatMul" && !constant_input(ctx, 1) && !constant_input(ctx, 0)) {
    auto last_dim = [&](const std::string& name) {
      const Value* v = ctx.graph.find_value(name);
      return v && v->type.has_shape && !v->type.dims.empty() ? v->type.dims.back().value : int64_t{-1};
    };
    // K within the rows kernel's reach too: beyond it the 6x16 path blocks K (other bits).
    const int64_t n = last_dim(node.inputs[1]), k = last_dim(node.inputs[0]);
    const bool narrow = fast::act_zmm() && n >= 2 && kernels::sgemm_narrow_wins(n) && k >= 1 && k <= kRowsMaxK;
    std::vector<int64_t> perm[2];
    for (int i = 0; i < 2; ++i)
      if (ctx.operand_perm[i]) perm[i] = *ctx.operand_perm[i];
    PostOps post = post_ops(ctx);
    if (ctx.output_perm && !post.empty()) return nullptr;  // rows of C would not be contiguous for them
    return std::make_unique<MatMulDynF32>(std::move(post), narrow ? n : -1, std::move(perm[0]), std::move(perm[1]),
                                          ctx.output_perm ? *ctx.output_perm : std::vector<int64_t>{});
  }
  if (ctx.operand_perm[0] || ctx.operand_perm[1] || ctx.output_perm) return nullptr;  // views: run-time operands only
  if (!w || w->rank() != 2) return nullptr;
  if (node.op_type == "MatMul") {
    return std::make_unique<MatMulF32>(w->dim(0), w->dim(1), w->data<float>(), w->dim(1), 1, nullptr,
                                       false, post_ops(ctx));
  }
  if (node.op_type != "Gemm") return nullptr;
  if (node.attr_float("alpha", 1.f) != 1.f || node.attr_int("transA", 0) != 0) return nullptr;
  const bool tb = node.attr_int("transB", 0) != 0;
  const int64_t K = tb ? w->dim(1) : w->dim(0), N = tb ? w->dim(0) : w->dim(1);
  const float* bias = nullptr;
  if (node.inputs.size() > 2 && !node.inputs[2].empty()) {
    const Tensor* c = float_constant(ctx, 2);
    if (!c || node.attr_float("beta", 1.f) != 1.f || c->numel() != N) return nullptr;
    if (!(c->rank() == 1 || (c->rank() == 2 && c->dim(0) == 1))) return nullptr;
    bias = c->data<float>();
  }
  return std::make_unique<MatMulF32>(K, N, w->data<float>(), tb ? 1 : N, tb ? K : 1, bias, true,
                                     post_ops(ctx));
}

}  // namespace octet
