// INT8 GEMM for AVX2 without VNNI, exact: u8 activations x s8 weights -> int32, then S32, U8, S8
// or F32 output. Reference twin: kernels/ref/qgemm_ref.h (qgemm_s32_ref<int8_t, uint8_t>) followed
// by kernels/ref/quantize_ref.h (requantize_value) or the F32 formula below; the results are equal
// at 0 LSB for every input, weights included (tests/kernels/qgemm_avx2_test.cpp).
//
// How the engine uses it: convolution computes C[M = out channels, N = out pixels] = A[M,K] B[K,N]
// with A the int8 weights, packed ONCE at model load (qgemm_pack_a_s8_avx2), and B the uint8
// im2col activations, packed at every call (qgemm_pack_b_u8_avx2; threads pack disjoint column
// ranges of one buffer). MatMul runs transposed (A = weights^T, or an activation the caller
// converted to int8) with C written through transposed strides. int8 activations are made uint8 by
// the caller (x + 128, zero point + 128), so B is always uint8. Work is split by the caller:
// qgemm_packed_avx2 computes one block [m0,m1) x [n0,n1) of C on the calling thread, without
// allocating.
//
// Semantics, with a(m,k) = a[m*a_rs + k*a_cs], b(k,n) = b[k*b_rs + n*b_cs] and
// c(m,n) = c[m*c_rs + n*c_cs] (strides in elements, any value):
//   acc(m,n) = sum_k (a(m,k) - a_zp[m]) * (b(k,n) - b_zp) + bias[m]          (int32)
//   S32:   c = acc
//   U8/S8: c = min(max(requantize_value(acc, multiplier[m], zero_point, qmin, qmax), lo), hi)
//          with (qmin, qmax) = (0, 255) or (-128, 127): double(acc) * double(multiplier) rounded
//          half to even, + zero_point in double, saturated. Computed with vcvtdq2pd and vmulpd:
//          the same IEEE product as requantize_value, so equal bit for bit, not an approximation.
//          Rows with 0 <= multiplier <= 1 (nearly all) then round with vcvtpd2dq (MXCSR's default
//          nearest-even mode, which all of octet's floating-point results assume) and add the
//          zero point and saturate with saturating int16 packs and adds, the [lo, hi] clamp on the
//          bytes (requant16_rn in qgemm_tiles.inc says why that is exact); other finite
//          multipliers use vroundpd(nearest), vaddpd and one clamp to [max(lo, qmin), min(hi,
//          qmax)] in double (equal to the two clamps whenever lo <= qmax). Rows whose multiplier
//          is NaN or infinite call requantize_value itself (its NaN rule). Rows with
//          0 <= multiplier <= 1 whose |acc| cannot reach 1.5 * 2^23 for any input
//          (sum_k |a(m,k) - a_zp[m]| * 255 + |bias[m]| below it, the first term stored by pack-A)
//          take a shorter exact form in single precision: one FMA float(acc) * multiplier + 1.5 * 2^23
//          rounds the exact product to an integer (requant16_small in qgemm_tiles.inc says why).
//   F32:   c = float(acc) * scale[m] + fbias[m], in float, in exactly that order: vcvtdq2ps (round
//          to nearest, like static_cast<float>), vmulps, then vaddps; no FMA contraction (this
//          file is compiled with -ffp-contract=off; its one FMA intrinsic is the U8/S8 form above,
//          where the fused rounding is the point). fbias == nullptr:
//          no addition at all (so -0.0 stays -0.0).
// The caller guarantees that the exact acc fits int32 (K*255*255 + |bias| < 2^31 with 8-bit zero
// points); b_zp lies in [0, 255] (checked: the U8/S8 short form bounds |acc| with it). All intermediate int32 arithmetic wraps (mod 2^32), so the result is exact whenever the
// final value fits, whatever the order of the terms.
//
// THE EXACTNESS PROBLEM AND THE CHOSEN SOLUTION
// The fast AVX2 sequence is  t = vpmaddubsw(b_u8, a_s8); t = vpmaddwd(t, 1); acc = vpaddd(acc, t):
// 32 multiply-adds per 3 instructions, one sequence per cycle on this CPU (bench/gemm_bench.cpp).
// vpmaddubsw sums each k-pair b0*a0 + b1*a1 into a SATURATING int16. With b in [0, 255] the pair
// is exact for every b iff NOT (a0, a1 of the same sign and |a0| + |a1| > 128): 255*128 = 32640
// fits, 255*129 = 32895 does not, and a pair of opposite signs is bounded by 255*128. Real
// per-channel weights break this in nearly every row (each row has a |w| = 127): with N(0,1)
// weights quantized per row to [-127, 127], 2% of the pairs at K = 576 are unsafe and 95% of the
// rows hold one, so a per-matrix or per-panel "vpmaddubsw is safe" test alone covers ~0% of real
// weight matrices (100% of those with |a| <= 64, e.g. 7-bit weights).
// Chosen: A = A_main + A_res, split at pack time, both halves safe by construction.
//   In each unsafe pair (same sign, s = a0 + a1 with |s| > 128) the larger-magnitude element e is
//   replaced by e' = (s > 0 ? 128 : -128) - other, in [-127, 127], so that the pair sums to
//   +-128, and the excess r = e - e' (1 <= r <= 126 or -128 <= r <= -1) goes to A_res at e's
//   position with 0 at the partner's: 255*|r| <= 32640, so the residual pair is safe too.
//   A_main + A_res = A exactly and every product is exact, so the sum is exact for ALL weights.
//   A_res is stored SPARSE, per row: one entry per k-quad that holds a residual. The microkernel
//   runs the main loop over A_main, then adds vpmaddubsw(B quad, residual quad) for each entry of
//   each row. The extra work is the fraction of (row, quad) with a residual:
//     N(0,1) weights, per-row symmetric: ~8% at K = 144, ~4% at K = 576, ~1.5% at K = 4608
//     Laplace weights: ~3.6% at K = 144, ~1.2% at K = 576; uniform int8 in [-128, 127]: ~43%;
//     |a| <= 64: 0 (the pure vpmaddubsw path)
//   qgemm_packed_a_info() reports it for a packed matrix; bench/gemm_bench.cpp prints it.
// Alternatives: int16 widening + vpmaddwd (exact, 16 MACs per instruction) reaches only 81% of the
// INT8 sequence's peak even in a register-only loop here (4 vector instructions per 32 MACs against
// 3; this core sustains about 3 vector integer instructions per cycle), before its doubled B
// traffic; a dense nibble split (A = 16*A_hi + A_lo with int16 partial sums) needs 4.5 instructions
// per 32 MACs (~67%, estimated). The sparse split costs a few percent on real weights, and at
// worst (every quad of every row has a residual) halves the speed while staying exact.
// Zero points: the products use the RAW int8 a (a - a_zp may not fit int8, e.g. 127 - (-128)):
//   acc = sum a*b - b_zp*rowsum_a[m] - a_zp[m]*(colsum_b[n] - K*b_zp) + bias[m]
// with rowsum_a stored by pack-A and colsum_b - K*b_zp by pack-B; the a_zp term costs one vpmulld
// per output vector, only in row panels with a nonzero a_zp.
//
// Packed layouts (register tile MR x NR = 4 x 16: 4 rows x 2 ymm of 8 int32 = 8 accumulators).
// Kq = ceil(K/4); k >= K and rows/columns past M/N are packed as 0.
//   A: a 64-byte header (magic, M, K, totals), then ceil(M/4) row panels of 80 + Kq*16 bytes: a
//      panel header {int32 rowsum[4] (raw a over k < K), int32 a_zp[4], uint32 res_first[4],
//      uint32 res_count[4], uint32 absum[4] (sum of |a - a_zp| over k < K)}, then A_main: for q = 0..Kq-1 and r = 0..3 the 4 bytes
//      a_main(4p+r, 4q..4q+3) (the dword the kernel broadcasts). After all panels, the residual
//      entries {int32 byte offset of quad q inside a B panel (q*64), 4 residual bytes}, row after
//      row, each row's in increasing q. Size bound qgemm_packed_a_bytes(M, K) =
//      64 + ceil(M/4)*(80 + 16*Kq) + ceil(M/4)*4*Kq*8: up to 3x the weights when every quad has a
//      residual; the size actually used is qgemm_packed_a_info().used_bytes (~1.1x for N(0,1)).
//   B: ceil(N/16) column panels of Kq*64 + 128 bytes: for q = 0..Kq-1 and j = 0..15, the 4 bytes
//      b(4q..4q+3, 16p+j) (vpmaddubsw pairs k = 4q+2i, 4q+2i+1 and vpmaddwd adds the two pairs),
//      then int32 colterm[16] = colsum_b[n] - K*b_zp, then int32 b_zp (and padding).
// Buffers: 4-byte alignment at least (the headers are read as int32); 64 bytes recommended.
//
// Loop order: for each 16-column B panel (Kq*64 bytes, in L1 up to K ~ 1500), for each 4-row A
// panel: the whole K in registers, then the epilogue from registers straight to C. A streams from
// L2/L3 at ~2 bytes per cycle, so no K blocking (and no int32 scratch) is needed; blocking M so
// that an A block stays in L2 measured no gain at 1024^3, nor did software prefetch of A.
//
// Measured (bench/gemm_bench.cpp, AMD EPYC Zen 4 VM at ~3.7 GHz, a machine shared with other
// tenants: fastest iteration; INT8 peak measured by the same binary, 236 GOP/s per core):
//   1024^3, N(0,1) weights, U8 out, B packing included: 1 thread ~205 GOP/s (87% of peak),
//   2 threads ~386 GOP/s (84%); |a| <= 64 weights: 91-93%; uniform int8 weights: ~55-59%.
//   In cache (the tile loop alone, M = N = 64): 96% of peak at K = 1024, 90% at K = 256 (S32).
//   ResNet 3x3 conv 64 -> 64 on 56x56 (M 64, N 3136, K 576), U8 out: ~79% (1 thread).
// Determinism: each output depends only on its row's packed A and its column's packed B, never on
// the block decomposition or the thread count.
//
// Preconditions (the caller sizes everything from the same M, N, K; the packed A header's M and K
// are checked against the arguments, and a mismatch aborts): 0 <= m0 <= m1 <= M and
// 0 <= n0 <= n1 <= N, any values (partial tiles are masked); pack_b's n0 is a multiple of kQgemmNR
// and its n1 a multiple of kQgemmNR or N (checked); U8/S8: lo and hi lie in the type's range (or
// are the defaults); bias (if given), multiplier, scale and fbias are indexed by the global row m;
// C does not alias the inputs.
//
// CPU: the functions here execute AVX2 instructions; check qgemm_avx2_supported() first.
#pragma once

#include <cstddef>
#include <cstdint>

namespace octet::kernels {

constexpr int64_t kQgemmMR = 4;   // rows of the register tile
constexpr int64_t kQgemmNR = 16;  // columns of the register tile (2 ymm of int32)

inline bool qgemm_avx2_supported() {  // AVX2, and FMA for the U8/S8 short requantization
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

// Which instructions the tile loop uses; chosen when A is packed and recorded in it.
//   Avx2:       vpmaddubsw + vpmaddwd + vpaddd on A split into A_main + A_res (above).
//   Avx512Vnni: vpdpbusd on ymm registers (AVX512VL + AVX512_VNNI, EVEX-encoded): the four u8 x s8
//               products of a dword are summed straight into int32 with no int16 step, so it is
//               exact for every weight and A is packed whole (no residual entries). One instruction
//               per 32 multiply-adds instead of three. Same packed layouts, same results; the
//               tile loop runs two A panels at once (8 x 16, 16 accumulators: AVX-512 has 32
//               vector registers). Measured by bench/gemm_bench.cpp against a vpdpbusd peak loop.
enum class QgemmIsa : uint32_t { Avx2 = 0, Avx512Vnni = 1 };
inline bool qgemm_isa_supported(QgemmIsa isa) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  if (isa == QgemmIsa::Avx2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  // All the -m flags the src/kernels/avx512 files are compiled with (fma: their single-precision
  // requantization; avx512f/bw/vl/vnni).
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512vnni");
#else
  (void)isa;
  return false;
#endif
}
// The best supported ISA; OCTET_ISA=avx2 in the environment forces Avx2 (for comparisons).
QgemmIsa qgemm_default_isa();
const char* qgemm_isa_name(QgemmIsa isa);   // "avx2", "avx512vnni"
const char* qgemm_tile_name(QgemmIsa isa);  // register tile and ISA, for kernel names: "4x16_avx2", "8x16_avx512vnni"

// Upper bound of the packed A size (see the layout above).
size_t qgemm_packed_a_bytes(int64_t M, int64_t K);
// Packs all of A, splits it into A_main + A_res (see above) and stores the row sums and a_zp
// (a_zp: one int32 per row, nullptr = all 0). Done once, at model load; scalar code.
void qgemm_pack_a_s8_avx2(int64_t M, int64_t K, const int8_t* a, int64_t a_rs, int64_t a_cs,
                          const int32_t* a_zp, void* packed, QgemmIsa isa = qgemm_default_isa());

// What the weights allowed: rows whose pairs are all vpmaddubsw-safe need no residual pass.
struct QgemmPackedAInfo {
  int64_t M = 0, K = 0;
  int64_t clean_rows = 0;      // rows with no residual entry (pure vpmaddubsw path)
  int64_t residual_quads = 0;  // residual entries over all rows
  int64_t total_quads = 0;     // M * ceil(K/4)
  size_t used_bytes = 0;       // bytes of the packed buffer actually written
};
QgemmPackedAInfo qgemm_packed_a_info(const void* packed);

size_t qgemm_packed_b_bytes(int64_t K, int64_t N);
// Packs columns [n0, n1) of B (their panels, padding included) into their place in `packed`, with
// the column sums for the a_zp correction. Vectorized for b_cs == 1 (im2col) and b_rs == 1
// (a transposed operand: each column's k run is contiguous); other strides use a scalar loop.
// rows (optional, K entries): B's row k is read from source row rows[k] (b + rows[k] * b_rs), the
// order qgemm_pair_order chose for A's columns; nullptr = row k.
void qgemm_pack_b_u8_avx2(int64_t K, int64_t N, const uint8_t* b, int64_t b_rs, int64_t b_cs,
                          int32_t b_zp, int64_t n0, int64_t n1, void* packed, const int32_t* rows = nullptr);

// An order of A's k columns for the AVX2 split, which the caller applies to A before packing it and
// to B's rows (qgemm_pack_b_u8_avx2's rows, or the channels of a shifted operand's quads): which
// columns vpmaddubsw pairs decides which (row, quad) need a residual entry, and weights of one
// model share their large values along a few input channels, so pairing a channel with large
// weights with one whose weights are small keeps most pairs safe. A is seen as T taps of C
// channels, a(m, t, c) = a[m * a_ms + t * a_ts + c * a_cs], and the order is of the C channels (the
// same for every tap, as a shifted operand's interleaved planes need): order[i] = the channel put in
// place i, a permutation of [0, C). Greedy, at load time: channels with the most unsafe partners
// first, each paired with its unmatched partner unsafe in the fewest (row, tap); then pairs joined
// into quads that share the most unsafe (row, tap), whose residual entries then coincide. The
// identity where that does not lower the count, or where C > 2048 (its C x C table). Residual
// entries over the (row, tap, quad) of the layers the engine orders (shifted and pointwise
// convolutions), identity -> this order: mobilenetv2-tiny 15.5% -> 6.1%, resnet8 5.5% -> 2.3%,
// a ResNet-18 with random weights 1.9% -> 1.1%. Load time: ~0.3 s for that ResNet-18.
// Returns the residual entries (row, tap, quad) of the order written.
int64_t qgemm_pair_order(int64_t M, int64_t T, int64_t C, const int8_t* a, int64_t a_ms, int64_t a_ts, int64_t a_cs,
                         int32_t* order);

struct QgemmOutput {
  enum class Kind { S32, U8, S8, F32 };
  Kind kind = Kind::S32;
  void* c = nullptr;  // int32_t, uint8_t, int8_t or float, by kind
  int64_t c_rs = 0, c_cs = 1;
  const int32_t* bias = nullptr;      // per row, added to acc (all kinds); nullptr = 0
  const float* multiplier = nullptr;  // U8/S8: per-row requantization multiplier
  int32_t zero_point = 0;             // U8/S8
  int32_t lo = -2147483647 - 1;       // U8/S8: y = min(max(y, lo), hi) after requantization
  int32_t hi = 2147483647;            //   (fused ReLU etc.); the defaults change nothing
  const float* scale = nullptr;       // F32: per-row scale
  const float* fbias = nullptr;       // F32: per-row float bias, nullptr = not added
};

// Computes the block rows [m0,m1) x cols [n0,n1) of C; writes nothing else.
void qgemm_packed_avx2(int64_t M, int64_t N, int64_t K, const void* packed_a, const void* packed_b,
                       const QgemmOutput& out, int64_t m0, int64_t m1, int64_t n0, int64_t n1);

// The same GEMM with a "shifted" B that is never packed (convolutions without im2col; the idea is
// that of sconv_shift_avx2.h): b(k, n) for k in quad q is byte k % 4 of the 4 bytes at
// x + 4 * n + qoff[q]. The caller lays the input out as channel-quad-interleaved planes (4
// channels' bytes per pixel), so 16 consecutive columns of a quad are the 64 bytes a packed B
// panel would hold. Same semantics, arithmetic and exactness as qgemm_packed_avx2, except that
// there is no column-sum term: every row's a_zp must be 0 (checked; aborts otherwise). Quads past
// K multiply zero weights, whatever bytes they read.
// Preconditions besides qgemm_packed_avx2's: x is readable at 4 n + qoff[q] + [0, 4) for every
// quad q < ceil(K/4) and every n < round_up(n1, 16) (whole 16-column tiles are loaded).
void qgemm_shift_avx2(int64_t M, int64_t N, int64_t K, const void* packed_a, const uint8_t* x,
                      const int32_t* qoff, int32_t b_zp, const QgemmOutput& out, int64_t m0, int64_t m1,
                      int64_t n0, int64_t n1);

// dst[4 i + j] = rows[j][i * stride] for i < n, j < 4: four byte rows (every stride-th byte of
// them) interleaved into quads, the shifted operand's layout. Reads no byte of a row past
// element n - 1. Vector chunks of 16 or 8 elements for stride 1 and 2 (the strided convolutions'
// phase planes), the last overlapping; other strides a quad at a time. Reference twin: the plain
// loop in the test.
void interleave4_u8_avx2(const uint8_t* const rows[4], int64_t n, int64_t stride, uint8_t* dst);

}  // namespace octet::kernels
