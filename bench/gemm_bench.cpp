// GEMM benchmarks against this CPU's own measured peak (Google Benchmark, own main).
//
//   g++ -std=c++17 -O2 -mavx2 -mfma -mf16c -ffp-contract=off -Isrc bench/gemm_bench.cpp
//       src/kernels/avx2/qgemm_avx2.cpp -lbenchmark -lpthread -o /tmp/gemm_bench
//   /tmp/gemm_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// (a) Peak/*: tight register-only instruction loops, on 1 and 2 std::threads:
//     FP32 = 12 independent vfmadd231ps ymm chains (16 FLOP per FMA);
//     INT8 = 8 independent vpmaddubsw + vpmaddwd(ones) + vpaddd sequences (32 MACs = 64 OP each);
//     INT8 VNNI = 12 independent vpdpbusd ymm chains (32 MACs = 64 OP each), where the CPU has it;
//     PeakInt8PairSum: a candidate sequence the exact kernel does not use (see pairsum_loop).
//     The peak used for the fraction counters is the best of many short runs of the same loops,
//     taken once at startup (the machine is shared, so a mean would understate it).
// (b) Qgemm/*: qgemm_pack_b_u8_avx2 + qgemm_packed_avx2 on M x N x K, N split across std::threads
//     (each thread packs its own columns of B, as the engine does at every call; A is packed once,
//     outside the timing). Counters: GOPS = 2*M*N*K / s, frac_peak = GOPS / INT8 peak of as many
//     threads, best_GOPS / best_frac = the same for the fastest iteration (this machine is shared
//     with other tenants: the mean mixes in their load), resid = residual quads / all quads of the
//     packed weights (extra work of the exact path, see qgemm_avx2.h). Weights: "normal" = N(0,1)
//     quantized per row to [-127, 127] with scale max|w|/127 (like real per-channel weights),
//     "uniform" = uniform int8 (adversarial for vpmaddubsw), "small" = |a| <= 64 (no residual: the
//     pure vpmaddubsw path). Outputs: U8 (requantized, per-row multipliers) or S32.
// (c) PackACoverage/*: how much of a weight matrix the pure vpmaddubsw path covers, by K and weight
//     distribution ("laplace" = Laplace weights quantized like "normal").
// Statistics: with --benchmark_repetitions, a "max" row is added next to mean/median/stddev.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include "kernels/avx2/qgemm_avx2.h"
#include "kernels/avx2/sgemm_avx2.h"

namespace {

using namespace octet::kernels;

// ---- (a) peak loops ----------------------------------------------------------------------------

constexpr int kFmaPerIter = 12;  // vfmadd231ps per loop iteration
constexpr int kSeqPerIter = 8;   // INT8 sequences per loop iteration

void fma_loop(int64_t iters) {
  asm volatile(
      "vxorps %%ymm0,%%ymm0,%%ymm0\n vxorps %%ymm1,%%ymm1,%%ymm1\n"
      "vxorps %%ymm2,%%ymm2,%%ymm2\n vxorps %%ymm3,%%ymm3,%%ymm3\n"
      "vxorps %%ymm4,%%ymm4,%%ymm4\n vxorps %%ymm5,%%ymm5,%%ymm5\n"
      "vxorps %%ymm6,%%ymm6,%%ymm6\n vxorps %%ymm7,%%ymm7,%%ymm7\n"
      "vxorps %%ymm8,%%ymm8,%%ymm8\n vxorps %%ymm9,%%ymm9,%%ymm9\n"
      "vxorps %%ymm10,%%ymm10,%%ymm10\n vxorps %%ymm11,%%ymm11,%%ymm11\n"
      "vxorps %%ymm12,%%ymm12,%%ymm12\n vxorps %%ymm13,%%ymm13,%%ymm13\n"
      "1:\n"
      "vfmadd231ps %%ymm13,%%ymm12,%%ymm0\n vfmadd231ps %%ymm13,%%ymm12,%%ymm1\n"
      "vfmadd231ps %%ymm13,%%ymm12,%%ymm2\n vfmadd231ps %%ymm13,%%ymm12,%%ymm3\n"
      "vfmadd231ps %%ymm13,%%ymm12,%%ymm4\n vfmadd231ps %%ymm13,%%ymm12,%%ymm5\n"
      "vfmadd231ps %%ymm13,%%ymm12,%%ymm6\n vfmadd231ps %%ymm13,%%ymm12,%%ymm7\n"
      "vfmadd231ps %%ymm13,%%ymm12,%%ymm8\n vfmadd231ps %%ymm13,%%ymm12,%%ymm9\n"
      "vfmadd231ps %%ymm13,%%ymm12,%%ymm10\n vfmadd231ps %%ymm13,%%ymm12,%%ymm11\n"
      "dec %0\n jnz 1b\n vzeroupper\n"
      : "+r"(iters)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "cc");
}

// The INT8 loops' registers: ymm0 = all-ones bytes (u8 operand), ymm1 = 0 (s8 operand), ymm2 =
// int16 ones (the vpmaddwd operand), ymm8-15 the accumulators.
#define OCTET_INT8_LOOP_SETUP                                                \
  "vpcmpeqd %%ymm0,%%ymm0,%%ymm0\n vpxor %%ymm1,%%ymm1,%%ymm1\n"            \
  "vpcmpeqw %%ymm2,%%ymm2,%%ymm2\n vpsrlw $15,%%ymm2,%%ymm2\n"              \
  "vpxor %%ymm8,%%ymm8,%%ymm8\n vpxor %%ymm9,%%ymm9,%%ymm9\n"               \
  "vpxor %%ymm10,%%ymm10,%%ymm10\n vpxor %%ymm11,%%ymm11,%%ymm11\n"         \
  "vpxor %%ymm12,%%ymm12,%%ymm12\n vpxor %%ymm13,%%ymm13,%%ymm13\n"         \
  "vpxor %%ymm14,%%ymm14,%%ymm14\n vpxor %%ymm15,%%ymm15,%%ymm15\n"

void int8_loop(int64_t iters) {
  asm volatile(
      OCTET_INT8_LOOP_SETUP
      "1:\n"
      "vpmaddubsw %%ymm1,%%ymm0,%%ymm3\n vpmaddwd %%ymm2,%%ymm3,%%ymm3\n"
      "vpaddd %%ymm3,%%ymm8,%%ymm8\n"
      "vpmaddubsw %%ymm1,%%ymm0,%%ymm4\n vpmaddwd %%ymm2,%%ymm4,%%ymm4\n"
      "vpaddd %%ymm4,%%ymm9,%%ymm9\n"
      "vpmaddubsw %%ymm1,%%ymm0,%%ymm5\n vpmaddwd %%ymm2,%%ymm5,%%ymm5\n"
      "vpaddd %%ymm5,%%ymm10,%%ymm10\n"
      "vpmaddubsw %%ymm1,%%ymm0,%%ymm6\n vpmaddwd %%ymm2,%%ymm6,%%ymm6\n"
      "vpaddd %%ymm6,%%ymm11,%%ymm11\n"
      "vpmaddubsw %%ymm1,%%ymm0,%%ymm3\n vpmaddwd %%ymm2,%%ymm3,%%ymm3\n"
      "vpaddd %%ymm3,%%ymm12,%%ymm12\n"
      "vpmaddubsw %%ymm1,%%ymm0,%%ymm4\n vpmaddwd %%ymm2,%%ymm4,%%ymm4\n"
      "vpaddd %%ymm4,%%ymm13,%%ymm13\n"
      "vpmaddubsw %%ymm1,%%ymm0,%%ymm5\n vpmaddwd %%ymm2,%%ymm5,%%ymm5\n"
      "vpaddd %%ymm5,%%ymm14,%%ymm14\n"
      "vpmaddubsw %%ymm1,%%ymm0,%%ymm6\n vpmaddwd %%ymm2,%%ymm6,%%ymm6\n"
      "vpaddd %%ymm6,%%ymm15,%%ymm15\n"
      "dec %0\n jnz 1b\n vzeroupper\n"
      : "+r"(iters)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm8", "xmm9", "xmm10", "xmm11",
        "xmm12", "xmm13", "xmm14", "xmm15", "cc");
}

// A candidate the exact kernel does not use (measured to decide): two vpmaddubsw results summed in
// int16 (vpaddw) before one vpmaddwd(ones) + vpaddd, 8 independent chains of 2 x 32 MACs = 128 OP.
// One multiply-unit instruction fewer per 64 MACs than int8_loop, but exact only when each int16
// lane's 4 weights (the two pairs it sums) have positive and negative sums within 128 for any
// u8 input; bench/int8_weight_groups.py counts how often real weights break that.
constexpr int kPairSumPerIter = 8;
void pairsum_loop(int64_t iters) {
  asm volatile(
      OCTET_INT8_LOOP_SETUP
      "1:\n"
#define OCTET_PAIRSUM(t0, t1, acc)                                                     \
  "vpmaddubsw %%ymm1,%%ymm0," t0 "\n vpmaddubsw %%ymm1,%%ymm0," t1 "\n"               \
  "vpaddw " t1 "," t0 "," t0 "\n vpmaddwd %%ymm2," t0 "," t0 "\n vpaddd " t0 "," acc "," acc "\n"
      OCTET_PAIRSUM("%%ymm3", "%%ymm4", "%%ymm8") OCTET_PAIRSUM("%%ymm5", "%%ymm6", "%%ymm9")
      OCTET_PAIRSUM("%%ymm3", "%%ymm4", "%%ymm10") OCTET_PAIRSUM("%%ymm5", "%%ymm6", "%%ymm11")
      OCTET_PAIRSUM("%%ymm3", "%%ymm4", "%%ymm12") OCTET_PAIRSUM("%%ymm5", "%%ymm6", "%%ymm13")
      OCTET_PAIRSUM("%%ymm3", "%%ymm4", "%%ymm14") OCTET_PAIRSUM("%%ymm5", "%%ymm6", "%%ymm15")
#undef OCTET_PAIRSUM
      "dec %0\n jnz 1b\n vzeroupper\n"
      : "+r"(iters)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm8", "xmm9", "xmm10", "xmm11",
        "xmm12", "xmm13", "xmm14", "xmm15", "cc");
}

// 12 independent vpdpbusd ymm chains (AVX512VL + AVX512_VNNI, EVEX-encoded: 32 MACs = 64 OP each),
// the instruction the VNNI tile loop is built on.
void vnni_loop(int64_t iters) {
  asm volatile(
      "vpcmpeqd %%ymm0,%%ymm0,%%ymm0\n vpxor %%ymm1,%%ymm1,%%ymm1\n"
      "vpxor %%ymm2,%%ymm2,%%ymm2\n vpxor %%ymm3,%%ymm3,%%ymm3\n"
      "vpxor %%ymm4,%%ymm4,%%ymm4\n vpxor %%ymm5,%%ymm5,%%ymm5\n"
      "vpxor %%ymm6,%%ymm6,%%ymm6\n vpxor %%ymm7,%%ymm7,%%ymm7\n"
      "vpxor %%ymm8,%%ymm8,%%ymm8\n vpxor %%ymm9,%%ymm9,%%ymm9\n"
      "vpxor %%ymm10,%%ymm10,%%ymm10\n vpxor %%ymm11,%%ymm11,%%ymm11\n"
      "vpxor %%ymm12,%%ymm12,%%ymm12\n vpxor %%ymm13,%%ymm13,%%ymm13\n"
      "1:\n"
      "%{evex%} vpdpbusd %%ymm1,%%ymm0,%%ymm2\n %{evex%} vpdpbusd %%ymm1,%%ymm0,%%ymm3\n"
      "%{evex%} vpdpbusd %%ymm1,%%ymm0,%%ymm4\n %{evex%} vpdpbusd %%ymm1,%%ymm0,%%ymm5\n"
      "%{evex%} vpdpbusd %%ymm1,%%ymm0,%%ymm6\n %{evex%} vpdpbusd %%ymm1,%%ymm0,%%ymm7\n"
      "%{evex%} vpdpbusd %%ymm1,%%ymm0,%%ymm8\n %{evex%} vpdpbusd %%ymm1,%%ymm0,%%ymm9\n"
      "%{evex%} vpdpbusd %%ymm1,%%ymm0,%%ymm10\n %{evex%} vpdpbusd %%ymm1,%%ymm0,%%ymm11\n"
      "%{evex%} vpdpbusd %%ymm1,%%ymm0,%%ymm12\n %{evex%} vpdpbusd %%ymm1,%%ymm0,%%ymm13\n"
      "dec %0\n jnz 1b\n vzeroupper\n"
      : "+r"(iters)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "cc");
}
constexpr int kVnniPerIter = 12;

template <class F>
void on_threads(int threads, F f) {
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(f, t);
  f(0);
  for (auto& th : pool) th.join();
}

double seconds_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Peak rate of a loop run concurrently on `threads` threads, in ops per second: each thread times
// its own runs and keeps its best (so a run that another tenant of this shared machine preempted
// does not count), and the threads' best rates are added.
template <class Loop>
double best_rate(Loop loop, int threads, double ops_per_iter) {
  const int64_t iters = 400000;  // ~1-2 ms per run
  std::vector<double> best(static_cast<size_t>(threads), 0.0);
  for (int rep = 0; rep < 150; ++rep)
    on_threads(threads, [&](int t) {
      const double t0 = seconds_now();
      loop(iters);
      best[t] = std::max(best[t], iters * ops_per_iter / (seconds_now() - t0));
    });
  double sum = 0;
  for (double r : best) sum += r;
  return sum;
}

double int8_peak(int threads) {  // OP/s, cached
  static double peak[3] = {0, 0, 0};
  if (peak[threads] == 0) peak[threads] = best_rate(int8_loop, threads, kSeqPerIter * 64.0);
  return peak[threads];
}

double vnni_peak(int threads) {  // OP/s, cached
  static double peak[3] = {0, 0, 0};
  if (peak[threads] == 0) peak[threads] = best_rate(vnni_loop, threads, kVnniPerIter * 64.0);
  return peak[threads];
}

void BM_PeakFp32(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const int64_t iters = 2000000;
  for (auto _ : state) on_threads(threads, [&](int) { fma_loop(iters); });
  state.counters["GFLOPS"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * threads * iters * kFmaPerIter * 16 / 1e9,
      benchmark::Counter::kIsRate);
  state.counters["best_GFLOPS"] = best_rate(fma_loop, threads, kFmaPerIter * 16.0) / 1e9;
}

void BM_PeakInt8(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const int64_t iters = 2000000;
  for (auto _ : state) on_threads(threads, [&](int) { int8_loop(iters); });
  state.counters["GOPS"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * threads * iters * kSeqPerIter * 64 / 1e9,
      benchmark::Counter::kIsRate);
  state.counters["best_GOPS"] = int8_peak(threads) / 1e9;
}

// The pair-sum candidate above, against int8_peak: ratio = its OP/s over the exact loop's.
void BM_PeakInt8PairSum(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const int64_t iters = 2000000;
  for (auto _ : state) on_threads(threads, [&](int) { pairsum_loop(iters); });
  state.counters["GOPS"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * threads * iters * kPairSumPerIter * 128 / 1e9,
      benchmark::Counter::kIsRate);
  const double best = best_rate(pairsum_loop, threads, kPairSumPerIter * 128.0);
  state.counters["best_GOPS"] = best / 1e9;
  state.counters["vs_int8_peak"] = best / int8_peak(threads);
}

void BM_PeakInt8Vnni(benchmark::State& state) {
  if (!qgemm_isa_supported(QgemmIsa::Avx512Vnni)) {
    state.SkipWithError("this CPU has no AVX512VL + AVX512_VNNI");
    return;
  }
  const int threads = static_cast<int>(state.range(0));
  const int64_t iters = 2000000;
  for (auto _ : state) on_threads(threads, [&](int) { vnni_loop(iters); });
  state.counters["GOPS"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * threads * iters * kVnniPerIter * 64 / 1e9,
      benchmark::Counter::kIsRate);
  state.counters["best_GOPS"] = vnni_peak(threads) / 1e9;
}

// ---- (b) qgemm ---------------------------------------------------------------------------------

enum Weights { kNormal = 0, kUniform = 1, kSmall = 2, kLaplace = 3 };
const char* const kWeightNames[] = {"normal", "uniform", "small", "laplace"};

std::vector<int8_t> make_weights(int64_t M, int64_t K, Weights w, std::mt19937& rng) {
  std::vector<int8_t> a(static_cast<size_t>(M * K));
  std::normal_distribution<float> g(0.f, 1.f);
  std::exponential_distribution<float> e(1.f);
  std::uniform_int_distribution<int> u(-128, 127), s(-64, 64), sign(0, 1);
  for (int64_t m = 0; m < M; ++m) {
    if (w == kNormal || w == kLaplace) {  // per-row symmetric quantization, scale max|w| / 127
      std::vector<float> row(static_cast<size_t>(K));
      float mx = 0;
      for (auto& v : row) {
        v = w == kNormal ? g(rng) : (sign(rng) ? e(rng) : -e(rng));
        mx = std::max(mx, std::fabs(v));
      }
      for (int64_t k = 0; k < K; ++k)
        a[m * K + k] = static_cast<int8_t>(std::nearbyint(row[k] / (mx / 127.f)));
    } else {
      for (int64_t k = 0; k < K; ++k)
        a[m * K + k] = static_cast<int8_t>(w == kUniform ? u(rng) : s(rng));
    }
  }
  return a;
}

struct AlignedBuf {
  explicit AlignedBuf(size_t n) : p(std::aligned_alloc(64, (n + 63) / 64 * 64 + 64)) {}
  ~AlignedBuf() { std::free(p); }
  void* p;
};

// Args: M, N, K, threads, weights, output kind (0 = U8 requantized, 1 = S32), tile loop (0 = AVX2,
// 1 = AVX-512 VNNI; each against its own instruction's peak).
void BM_Qgemm(benchmark::State& state) {
  const int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  const int threads = static_cast<int>(state.range(3));
  const Weights wkind = static_cast<Weights>(state.range(4));
  const bool s32 = state.range(5) == 1;
  const QgemmIsa isa = state.range(6) == 1 ? QgemmIsa::Avx512Vnni : QgemmIsa::Avx2;
  if (!qgemm_isa_supported(isa)) {
    state.SkipWithError("this CPU lacks the tile loop's instructions");
    return;
  }
  std::mt19937 rng(1234);
  const std::vector<int8_t> a = make_weights(M, K, wkind, rng);
  std::vector<uint8_t> b(static_cast<size_t>(K * N));
  std::uniform_int_distribution<int> ub(0, 255);
  for (auto& v : b) v = static_cast<uint8_t>(ub(rng));
  AlignedBuf pa(qgemm_packed_a_bytes(M, K)), pb(qgemm_packed_b_bytes(K, N));
  qgemm_pack_a_s8_avx2(M, K, a.data(), K, 1, nullptr, pa.p, isa);
  const QgemmPackedAInfo info = qgemm_packed_a_info(pa.p);
  std::vector<int32_t> bias(static_cast<size_t>(M), 1000);
  std::vector<float> mult(static_cast<size_t>(M), 1.f / (16.f * static_cast<float>(K) * 127.f));
  std::vector<uint8_t> c8(static_cast<size_t>(M * N));
  std::vector<int32_t> c32(s32 ? static_cast<size_t>(M * N) : 0);
  QgemmOutput out;
  out.kind = s32 ? QgemmOutput::Kind::S32 : QgemmOutput::Kind::U8;
  out.c = s32 ? static_cast<void*>(c32.data()) : static_cast<void*>(c8.data());
  out.c_rs = N;
  out.c_cs = 1;
  out.bias = bias.data();
  out.multiplier = mult.data();
  out.zero_point = 128;
  // N split across threads in multiples of the 16-column panel.
  const int64_t panels = (N + kQgemmNR - 1) / kQgemmNR;
  auto col = [&](int t) { return std::min(N, (panels * t / threads) * kQgemmNR); };
  // measured before the timing starts
  const double peak = isa == QgemmIsa::Avx512Vnni ? vnni_peak(threads) : int8_peak(threads);
  double elapsed = 0, fastest = 1e30;
  for (auto _ : state) {
    const double t0 = seconds_now();
    on_threads(threads, [&](int t) {
      const int64_t n0 = col(t), n1 = col(t + 1);
      if (n0 >= n1) return;
      qgemm_pack_b_u8_avx2(K, N, b.data(), N, 1, 128, n0, n1, pb.p);
      qgemm_packed_avx2(M, N, K, pa.p, pb.p, out, 0, M, n0, n1);
    });
    benchmark::ClobberMemory();
    const double dt = seconds_now() - t0;
    state.SetIterationTime(dt);
    elapsed += dt;
    fastest = std::min(fastest, dt);
  }
  const double ops = 2.0 * static_cast<double>(M) * N * K;
  const double rate = static_cast<double>(state.iterations()) * ops / elapsed;
  state.counters["GOPS"] = rate / 1e9;
  state.counters["frac_peak"] = rate / peak;
  // The fastest iteration: what the kernel does when no other tenant of this shared machine runs.
  state.counters["best_GOPS"] = ops / fastest / 1e9;
  state.counters["best_frac"] = ops / fastest / peak;
  state.counters["resid"] =
      static_cast<double>(info.residual_quads) / static_cast<double>(info.total_quads);
  state.SetLabel(std::string(kWeightNames[wkind]) + (s32 ? " S32" : " U8") + " x" + std::to_string(threads) +
                 " " + qgemm_isa_name(isa));
}

// What the pack-time split gives on a weight matrix (M = 256): resid = residual quads / all quads
// (the extra work of the exact path), clean = rows that need no residual at all, bytes = packed
// size over M*K. The timing is qgemm_pack_a_s8_avx2 itself (done once, at model load).
void BM_PackACoverage(benchmark::State& state) {
  const int64_t M = 256, K = state.range(0);
  const Weights wkind = static_cast<Weights>(state.range(1));
  std::mt19937 rng(99);
  const std::vector<int8_t> a = make_weights(M, K, wkind, rng);
  AlignedBuf pa(qgemm_packed_a_bytes(M, K));
  for (auto _ : state) qgemm_pack_a_s8_avx2(M, K, a.data(), K, 1, nullptr, pa.p, QgemmIsa::Avx2);
  const QgemmPackedAInfo info = qgemm_packed_a_info(pa.p);
  state.counters["resid"] =
      static_cast<double>(info.residual_quads) / static_cast<double>(info.total_quads);
  state.counters["clean"] = static_cast<double>(info.clean_rows) / static_cast<double>(M);
  state.counters["bytes"] = static_cast<double>(info.used_bytes) / static_cast<double>(M * K);
  state.SetLabel(kWeightNames[wkind]);
}

double max_of(const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); }

BENCHMARK(BM_PeakFp32)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PeakInt8)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PeakInt8PairSum)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

BENCHMARK(BM_PeakInt8Vnni)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

BENCHMARK(BM_Qgemm)
    ->ArgNames({"M", "N", "K", "thr", "w", "s32", "vnni"})
    ->Args({1024, 1024, 1024, 1, kNormal, 0, 0})
    ->Args({1024, 1024, 1024, 2, kNormal, 0, 0})
    ->Args({1024, 1024, 1024, 1, kNormal, 1, 0})
    ->Args({1024, 1024, 1024, 2, kNormal, 1, 0})
    ->Args({1024, 1024, 1024, 1, kSmall, 0, 0})
    ->Args({1024, 1024, 1024, 2, kSmall, 0, 0})
    ->Args({1024, 1024, 1024, 1, kUniform, 0, 0})
    ->Args({1024, 1024, 1024, 2, kUniform, 0, 0})
    // ResNet 3x3 conv, 64 -> 64 channels on 56x56 (im2col K = 576), the QLinearConv shape.
    ->Args({64, 3136, 576, 1, kNormal, 0, 0})
    ->Args({64, 3136, 576, 2, kNormal, 0, 0})
    // mobilenetv2-tiny's 1x1 expansions, 16 -> 64 on 28x28 and 24 -> 96 on 14x14, one image: at
    // this K the requantization epilogue costs about as much as the multiply-adds.
    ->Args({64, 784, 16, 1, kNormal, 0, 0})
    ->Args({96, 196, 24, 1, kNormal, 0, 0})
    // A 1x1 layer on a 7x7 plane, one image (49 columns) and 11 images in one product (539):
    // why QConv runs several images per GEMM on small planes (fast::pointwise_images_per_gemm).
    ->Args({96, 49, 32, 1, kSmall, 0, 0})
    ->Args({96, 539, 32, 1, kSmall, 0, 0})
    // The same 16 -> 64 layer without residual entries (|w| <= 64) and without requantization
    // (S32 out): what each of the two costs at this K.
    ->Args({64, 784, 16, 1, kSmall, 0, 0})
    ->Args({64, 784, 16, 1, kNormal, 1, 0})
    // The AVX-512 VNNI tile loop (skipped on CPUs without it).
    ->Args({1024, 1024, 1024, 1, kNormal, 0, 1})
    ->Args({1024, 1024, 1024, 2, kNormal, 0, 1})
    ->Args({1024, 1024, 1024, 1, kUniform, 0, 1})
    ->Args({64, 3136, 576, 1, kNormal, 0, 1})
    ->Args({64, 3136, 576, 2, kNormal, 0, 1})
    ->Args({64, 784, 16, 1, kNormal, 0, 1})
    ->Args({64, 784, 16, 1, kNormal, 1, 1})
    ->ComputeStatistics("max", max_of)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

BENCHMARK(BM_PackACoverage)
    ->ArgNames({"K", "w"})
    ->ArgsProduct({{27, 144, 576, 1152, 4608}, {kNormal, kLaplace, kUniform, kSmall}})
    ->Unit(benchmark::kMillisecond);

// ---- (c) sgemm: FP32 at the same shapes, against the measured FMA peak -------------------------

double fp32_peak(int threads) {  // FLOP/s, cached
  static double peak[3] = {0, 0, 0};
  if (peak[threads] == 0) peak[threads] = best_rate(fma_loop, threads, kFmaPerIter * 16.0);
  return peak[threads];
}

// Args: M, N, K, threads. A packed once (weights), B packed inside the timed loop (activations),
// N split across threads in 16-column panels, as the engine does.
void BM_Sgemm(benchmark::State& state) {
  const int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  const int threads = static_cast<int>(state.range(3));
  std::mt19937 rng(4321);
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> a(static_cast<size_t>(M * K)), b(static_cast<size_t>(K * N)), c(static_cast<size_t>(M * N));
  for (auto& v : a) v = g(rng);
  for (auto& v : b) v = g(rng);
  AlignedBuf pa(sgemm_packed_a_floats(M, K) * sizeof(float)), pb(sgemm_packed_b_floats(K, N) * sizeof(float));
  sgemm_pack_a_avx2(M, K, a.data(), K, 1, static_cast<float*>(pa.p));
  const int64_t panels = (N + kSgemmNR - 1) / kSgemmNR;
  auto col = [&](int t) { return std::min(N, (panels * t / threads) * kSgemmNR); };
  const double peak = fp32_peak(threads);
  SgemmEpilogue ep;
  double elapsed = 0, fastest = 1e30;
  for (auto _ : state) {
    const double t0 = seconds_now();
    on_threads(threads, [&](int t) {
      const int64_t n0 = col(t), n1 = col(t + 1);
      if (n0 >= n1) return;
      sgemm_pack_b_avx2(K, N, b.data(), N, 1, n0, n1, static_cast<float*>(pb.p));
      sgemm_packed_avx2(M, N, K, static_cast<const float*>(pa.p), static_cast<const float*>(pb.p), c.data(), N, 1,
                        ep, 0, M, n0, n1);
    });
    benchmark::ClobberMemory();
    const double dt = seconds_now() - t0;
    state.SetIterationTime(dt);
    elapsed += dt;
    fastest = std::min(fastest, dt);
  }
  const double flops = 2.0 * static_cast<double>(M) * N * K;
  const double rate = static_cast<double>(state.iterations()) * flops / elapsed;
  state.counters["GFLOPS"] = rate / 1e9;
  state.counters["frac_peak"] = rate / peak;
  state.counters["best_GFLOPS"] = flops / fastest / 1e9;
  state.counters["best_frac"] = flops / fastest / peak;
  state.SetLabel("fp32 x" + std::to_string(threads));
}

BENCHMARK(BM_Sgemm)
    ->ArgNames({"M", "N", "K", "thr"})
    ->Args({1024, 1024, 1024, 1})
    ->Args({1024, 1024, 1024, 2})
    ->Args({64, 3136, 576, 1})
    ->Args({64, 3136, 576, 2})
    ->Args({64, 784, 16, 1})
    ->Args({96, 196, 24, 1})
    ->ComputeStatistics("max", max_of)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
