// INT8 GEMM for AVX2 (no VNNI), exact. The contract, the packed layouts and the reasons for the
// A = A_main + A_res split are in qgemm_avx2.h; this file only implements them.
#include "kernels/avx2/qgemm_avx2.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/avx2/dw_requant_avx2.h"
#include "kernels/avx2/qgemm_layout.h"
#include "kernels/ref/quantize_ref.h"

namespace octet::kernels {

// The AVX-512 VNNI build of the same tile loop (avx512/qgemm_vnni.cpp; only called when the CPU
// has AVX512VL and AVX512_VNNI).
// qoff == nullptr: B is packed panels at pbase; else the shifted operand (qgemm_shift_avx2).
void qgemm_run_tiles_vnni(int64_t M, int64_t Kq, const uint8_t* abase, const void* res, const uint8_t* pbase,
                          const int32_t* qoff, int32_t b_zp, const QgemmOutput& out, int64_t m0, int64_t m1,
                          int64_t n0, int64_t n1);

namespace {

// Makes the pair (x, y) safe for vpmaddubsw against any b in [0, 255]: when x and y have the same
// sign and |x + y| > 128, the larger-magnitude element is reduced so that the pair sums to +-128
// (the new value lies in [-127, 127]) and the excess (1 <= |r| <= 128) is returned through rx/ry,
// the partner's residual staying 0. Returns whether a residual was produced.
bool split_pair(int8_t* x, int8_t* y, int8_t* rx, int8_t* ry) {
  const int s = *x + *y;
  const bool unsafe = (*x > 0 && *y > 0 && s > 128) || (*x < 0 && *y < 0 && s < -128);
  if (!unsafe) return false;
  const int lim = s > 0 ? 128 : -128;
  int8_t* big = std::abs(*x) >= std::abs(*y) ? x : y;
  int8_t* other = big == x ? y : x;
  int8_t* rbig = big == x ? rx : ry;
  const int nb = lim - *other;  // in [1, 127] or [-127, 0]
  *rbig = static_cast<int8_t>(*big - nb);
  *big = static_cast<int8_t>(nb);
  return true;
}

#define OCTET_QGEMM_STEP(acc, bv, av) \
  acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(bv, av), ones))
#include "kernels/avx2/qgemm_tiles.inc"
#undef OCTET_QGEMM_STEP

// ---- packing B ---------------------------------------------------------------------------------

// b_cs == 1 and 16 real columns: 4 rows x 16 bytes -> 16 columns x 4 bytes per quad. Column sums:
// vpmaddubsw by 1 (pair sums <= 510, no saturation), vpmaddwd by 1 into int32.
// (Measured: 17-18 GB/s with warm caches, bound by the cache bandwidth; blocking the loop over K
// so that the 4 panels sharing a source line run back to back did not change that.)
void pack_b_panel_rows(int64_t K, int64_t Kq, const uint8_t* b, int64_t b_rs, const int32_t* rows, uint8_t* dst,
                       int32_t colsum[NR]) {
  const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
  __m256i cs0 = _mm256_setzero_si256(), cs1 = _mm256_setzero_si256();
  for (int64_t q = 0; q < Kq; ++q) {
    __m128i r[4];
    for (int i = 0; i < 4; ++i) {
      const int64_t k = 4 * q + i;
      r[i] = k < K ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + (rows ? rows[k] : k) * b_rs))
                   : _mm_setzero_si128();
    }
    const __m128i t0 = _mm_unpacklo_epi8(r[0], r[1]), t1 = _mm_unpackhi_epi8(r[0], r[1]);
    const __m128i t2 = _mm_unpacklo_epi8(r[2], r[3]), t3 = _mm_unpackhi_epi8(r[2], r[3]);
    const __m256i v0 = _mm256_setr_m128i(_mm_unpacklo_epi16(t0, t2), _mm_unpackhi_epi16(t0, t2));
    const __m256i v1 = _mm256_setr_m128i(_mm_unpacklo_epi16(t1, t3), _mm_unpackhi_epi16(t1, t3));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + q * 64), v0);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + q * 64 + 32), v1);
    cs0 = _mm256_add_epi32(cs0, _mm256_madd_epi16(_mm256_maddubs_epi16(v0, ones8), ones16));
    cs1 = _mm256_add_epi32(cs1, _mm256_madd_epi16(_mm256_maddubs_epi16(v1, ones8), ones16));
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(colsum), cs0);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(colsum + 8), cs1);
}

// Writes a panel's trailer: colterm = colsum - K * b_zp (wrapping like the kernel's int32
// arithmetic), then b_zp.
void write_b_trailer(int64_t K, int64_t Kq, int32_t b_zp, const int32_t colsum[NR], uint8_t* dst) {
  int32_t trailer[32] = {};
  const uint32_t kz = static_cast<uint32_t>(K) * static_cast<uint32_t>(b_zp);
  for (int j = 0; j < NR; ++j)
    trailer[j] = static_cast<int32_t>(static_cast<uint32_t>(colsum[j]) - kz);
  trailer[NR] = b_zp;
  std::memcpy(dst + Kq * 64, trailer, sizeof(trailer));
}

// b_rs == 1: each column's k run is contiguous, so a quad is one 4-byte copy.
void pack_b_panel_cols(int64_t K, int64_t Kq, const uint8_t* b, int64_t b_cs, int cols,
                       uint8_t* dst, int32_t colsum[NR]) {
  const int64_t full = K / 4;
  for (int j = 0; j < NR; ++j) {
    uint32_t sum = 0;
    if (j < cols) {
      const uint8_t* col = b + j * b_cs;
      for (int64_t q = 0; q < full; ++q) {
        std::memcpy(dst + q * 64 + j * 4, col + 4 * q, 4);
        sum += static_cast<uint32_t>(col[4 * q]) + col[4 * q + 1] + col[4 * q + 2] + col[4 * q + 3];
      }
      for (int64_t q = full; q < Kq; ++q)
        for (int i = 0; i < 4; ++i) {
          const int64_t k = 4 * q + i;
          const uint8_t v = k < K ? col[k] : 0;
          dst[q * 64 + j * 4 + i] = v;
          sum += v;
        }
    } else {
      for (int64_t q = 0; q < Kq; ++q) std::memset(dst + q * 64 + j * 4, 0, 4);
    }
    colsum[j] = static_cast<int32_t>(sum);
  }
}

// Any strides (and partial panels of the two cases above).
void pack_b_panel_any(int64_t K, int64_t Kq, const uint8_t* b, int64_t b_rs, int64_t b_cs, const int32_t* rows,
                      int cols, uint8_t* dst, int32_t colsum[NR]) {
  for (int j = 0; j < NR; ++j) {
    uint32_t sum = 0;
    for (int64_t q = 0; q < Kq; ++q)
      for (int i = 0; i < 4; ++i) {
        const int64_t k = 4 * q + i;
        const uint8_t v = (j < cols && k < K) ? b[(rows ? rows[k] : k) * b_rs + j * b_cs] : 0;
        dst[q * 64 + j * 4 + i] = v;
        sum += v;
      }
    colsum[j] = static_cast<int32_t>(sum);
  }
}

}  // namespace

// ---- A -----------------------------------------------------------------------------------------

size_t qgemm_packed_a_bytes(int64_t M, int64_t K) {
  const int64_t panels = (M + MR - 1) / MR, Kq = quads(K);
  return static_cast<size_t>(sizeof(PackedAHeader) + panels * panel_a_bytes(Kq) +
                             panels * MR * Kq * static_cast<int64_t>(sizeof(ResEntry)));
}

void qgemm_pack_a_s8_avx2(int64_t M, int64_t K, const int8_t* a, int64_t a_rs, int64_t a_cs,
                          const int32_t* a_zp, void* packed, QgemmIsa isa) {
  const bool split = isa == QgemmIsa::Avx2;  // vpdpbusd has no int16 step: nothing to split
  check(M >= 0 && K >= 0, "M, K >= 0");
  check(static_cast<uint64_t>(M) * static_cast<uint64_t>(quads(K)) < (1ull << 32),
        "M * ceil(K/4) < 2^32 (residual entry indices are 32-bit)");
  uint8_t* base = static_cast<uint8_t*>(packed);
  const int64_t Kq = quads(K), panels = (M + MR - 1) / MR, pa = panel_a_bytes(Kq);
  ResEntry* res = reinterpret_cast<ResEntry*>(base + sizeof(PackedAHeader) + panels * pa);
  uint32_t nres = 0;
  int64_t clean = 0;
  for (int64_t p = 0; p < panels; ++p) {
    PanelHeader ph{};
    uint8_t* main = base + sizeof(PackedAHeader) + p * pa + sizeof(PanelHeader);
    for (int r = 0; r < MR; ++r) {
      const int64_t m = p * MR + r;
      const bool real = m < M;
      ph.res_first[r] = nres;
      const int64_t zp = (real && a_zp) ? a_zp[m] : 0;
      int32_t rowsum = 0;
      int64_t absum = 0;
      for (int64_t q = 0; q < Kq; ++q) {
        int8_t v[4] = {0, 0, 0, 0}, rv[4] = {0, 0, 0, 0};
        for (int i = 0; i < 4; ++i) {
          const int64_t k = 4 * q + i;
          if (real && k < K) {
            v[i] = a[m * a_rs + k * a_cs];
            absum = std::min<int64_t>(absum + std::abs(v[i] - zp), UINT32_MAX);
          }
          rowsum += v[i];
        }
        const bool r0 = split && split_pair(&v[0], &v[1], &rv[0], &rv[1]);
        const bool r1 = split && split_pair(&v[2], &v[3], &rv[2], &rv[3]);
        std::memcpy(main + q * 4 * MR + 4 * r, v, 4);
        if (r0 || r1) {
          ResEntry e;
          e.b_off = static_cast<int32_t>(q * 64);
          std::memcpy(&e.quad, rv, 4);
          res[nres++] = e;
        }
      }
      ph.res_count[r] = nres - ph.res_first[r];
      ph.rowsum[r] = rowsum;
      ph.a_zp[r] = static_cast<int32_t>(zp);
      ph.absum[r] = static_cast<uint32_t>(absum);
      if (real && ph.res_count[r] == 0) ++clean;
    }
    std::memcpy(base + sizeof(PackedAHeader) + p * pa, &ph, sizeof(ph));
  }
  PackedAHeader h{};
  h.magic = kMagicA;
  h.isa = static_cast<uint32_t>(isa);
  h.M = M;
  h.K = K;
  h.Kq = Kq;
  h.panels = panels;
  h.residual_entries = nres;
  h.clean_rows = clean;
  h.used_bytes = static_cast<int64_t>(sizeof(PackedAHeader)) + panels * pa +
                 static_cast<int64_t>(nres) * static_cast<int64_t>(sizeof(ResEntry));
  std::memcpy(base, &h, sizeof(h));
}

QgemmPackedAInfo qgemm_packed_a_info(const void* packed) {
  PackedAHeader h;
  std::memcpy(&h, packed, sizeof(h));
  check(h.magic == kMagicA, "packed A was made by qgemm_pack_a_s8_avx2");
  QgemmPackedAInfo info;
  info.M = h.M;
  info.K = h.K;
  info.clean_rows = h.clean_rows;
  info.residual_quads = h.residual_entries;
  info.total_quads = h.M * h.Kq;
  info.used_bytes = static_cast<size_t>(h.used_bytes);
  return info;
}

// ---- the k order for the split (qgemm_pair_order) ----------------------------------------------

namespace {

bool unsafe_pair(int x, int y) { return (x > 0 && y > 0 && x + y > 128) || (x < 0 && y < 0 && x + y < -128); }

// Residual entries of channel order `order` (places >= C weigh 0) of the weights w, rows of C
// channels (one per (row, tap)): the (row, tap, quad) with an unsafe pair.
int64_t count_residual_quads(int64_t rows, int64_t C, const int8_t* w, const int32_t* order) {
  int64_t n = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const int8_t* wr = w + r * C;
    auto at = [&](int64_t i) { return i < C ? static_cast<int>(wr[order[i]]) : 0; };
    for (int64_t i = 0; i < C; i += 4) n += unsafe_pair(at(i), at(i + 1)) || unsafe_pair(at(i + 2), at(i + 3));
  }
  return n;
}

}  // namespace

int64_t qgemm_pair_order(int64_t M, int64_t T, int64_t C, const int8_t* a, int64_t a_ms, int64_t a_ts, int64_t a_cs,
                         int32_t* order) {
  for (int64_t c = 0; c < C; ++c) order[c] = static_cast<int32_t>(c);
  if (C <= 0) return 0;
  // The weights as M * T contiguous rows of C channels.
  const int64_t rows = M * T;
  std::vector<int8_t> w(static_cast<size_t>(rows * C));
  for (int64_t m = 0; m < M; ++m)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t c = 0; c < C; ++c) w[static_cast<size_t>((m * T + t) * C + c)] = a[m * a_ms + t * a_ts + c * a_cs];
  const int64_t identity = count_residual_quads(rows, C, w.data(), order);
  if (identity == 0 || C > 2048 || C < 3) return identity;  // C < 3: one pair, nothing to choose
  // u[i * C + j] + u[j * C + i]: the (row, tap) where channels i and j make an unsafe pair. One of
  // the two has |weight| > 64 (else their sum is within 128); each unsafe pair is counted once, in
  // the row of such a channel i (against j either small or a larger-index large one).
  std::vector<int32_t> u(static_cast<size_t>(C * C), 0);
  std::vector<int32_t> big;
  for (int64_t r = 0; r < rows; ++r) {
    const int8_t* wr = w.data() + r * C;
    big.clear();
    for (int64_t c = 0; c < C; ++c)
      if (wr[c] > 64 || wr[c] < -64) big.push_back(static_cast<int32_t>(c));
    for (int32_t i : big) {
      const int vi = wr[i];
      int32_t* ui = u.data() + static_cast<int64_t>(i) * C;
      for (int32_t j = 0; j < static_cast<int32_t>(C); ++j) {  // vectorized: compares and an add per channel
        const int vj = wr[j];
        const bool large_before = (vj > 64 || vj < -64) && j <= i;  // counted in j's row, or j == i
        ui[j] += static_cast<int32_t>(!large_before && unsafe_pair(vi, vj));
      }
    }
  }
  for (int64_t i = 0; i < C; ++i)
    for (int64_t j = 0; j < i; ++j) {
      const int32_t t = u[static_cast<size_t>(i * C + j)] + u[static_cast<size_t>(j * C + i)];
      u[static_cast<size_t>(i * C + j)] = u[static_cast<size_t>(j * C + i)] = t;
    }
  // Pairs: the channels with the most unsafe (row, tap) first, each taking its unmatched partner
  // with the fewest (the lowest channel on ties).
  std::vector<int64_t> bad(static_cast<size_t>(C), 0);
  for (int64_t i = 0; i < C; ++i)
    for (int64_t j = 0; j < C; ++j) bad[static_cast<size_t>(i)] += u[static_cast<size_t>(i * C + j)];
  std::vector<int32_t> by_bad(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) by_bad[static_cast<size_t>(c)] = static_cast<int32_t>(c);
  std::stable_sort(by_bad.begin(), by_bad.end(), [&](int32_t x, int32_t y) { return bad[x] > bad[y]; });
  std::vector<char> used(static_cast<size_t>(C), 0);
  std::vector<std::pair<int32_t, int32_t>> pairs;  // second = -1: a single channel (C odd)
  for (int32_t i : by_bad) {
    if (used[i]) continue;
    used[i] = 1;
    int32_t best = -1;
    for (int32_t j = 0; j < C; ++j)
      if (!used[j] && (best < 0 || u[static_cast<size_t>(i * C + j)] < u[static_cast<size_t>(i * C + best)])) best = j;
    if (best >= 0) used[best] = 1;
    pairs.push_back({i, best});
  }
  // Quads: each pair's unsafe (row, tap) as a bit set; pairs with the most first, each joined with
  // the unmatched pair sharing the most of them (a quad's residual entry covers both its pairs).
  const int64_t words = (rows + 63) / 64, np = static_cast<int64_t>(pairs.size());
  std::vector<uint64_t> bits(static_cast<size_t>(np * words), 0);
  std::vector<int64_t> count(static_cast<size_t>(np), 0);
  for (int64_t p = 0; p < np; ++p) {
    if (pairs[static_cast<size_t>(p)].second < 0) continue;
    const int64_t c0 = pairs[static_cast<size_t>(p)].first, c1 = pairs[static_cast<size_t>(p)].second;
    for (int64_t r = 0; r < rows; ++r)
      if (unsafe_pair(w[static_cast<size_t>(r * C + c0)], w[static_cast<size_t>(r * C + c1)])) {
        bits[static_cast<size_t>(p * words + r / 64)] |= uint64_t{1} << (r % 64);
        ++count[static_cast<size_t>(p)];
      }
  }
  std::vector<int32_t> by_count(static_cast<size_t>(np));
  for (int64_t p = 0; p < np; ++p) by_count[static_cast<size_t>(p)] = static_cast<int32_t>(p);
  std::stable_sort(by_count.begin(), by_count.end(), [&](int32_t x, int32_t y) { return count[x] > count[y]; });
  // A single channel (C odd) goes last, with the padding.
  auto single = [&](int32_t p) { return pairs[static_cast<size_t>(p)].second < 0; };
  std::vector<char> taken(static_cast<size_t>(np), 0);
  std::vector<int32_t> out;
  out.reserve(static_cast<size_t>(C));
  auto put = [&](int32_t p) {
    out.push_back(pairs[static_cast<size_t>(p)].first);
    if (!single(p)) out.push_back(pairs[static_cast<size_t>(p)].second);
  };
  for (int32_t p : by_count) {
    if (taken[p] || single(p)) continue;
    taken[p] = 1;
    int32_t best = -1;
    int64_t best_shared = -1;
    for (int32_t q = 0; q < np; ++q) {
      if (taken[q] || single(q)) continue;
      int64_t shared = 0;
      for (int64_t w = 0; w < words; ++w)
        shared += __builtin_popcountll(bits[static_cast<size_t>(p * words + w)] & bits[static_cast<size_t>(q * words + w)]);
      if (shared > best_shared) best = q, best_shared = shared;
    }
    put(p);
    if (best >= 0) {
      taken[best] = 1;
      put(best);
    }
  }
  for (int32_t p = 0; p < np; ++p)
    if (single(p)) put(p);
  const int64_t chosen = count_residual_quads(rows, C, w.data(), out.data());
  if (chosen >= identity) return identity;
  std::copy(out.begin(), out.end(), order);
  return chosen;
}

// ---- B -----------------------------------------------------------------------------------------

size_t qgemm_packed_b_bytes(int64_t K, int64_t N) {
  return static_cast<size_t>(((N + NR - 1) / NR) * panel_b_bytes(quads(K)));
}

void qgemm_pack_b_u8_avx2(int64_t K, int64_t N, const uint8_t* b, int64_t b_rs, int64_t b_cs,
                          int32_t b_zp, int64_t n0, int64_t n1, void* packed, const int32_t* rows) {
  check(0 <= n0 && n0 <= n1 && n1 <= N, "0 <= n0 <= n1 <= N");
  check(0 <= b_zp && b_zp <= 255, "b_zp in [0, 255] (the zero point of uint8 B)");
  check(n0 % NR == 0, "pack_b's n0 is a multiple of kQgemmNR");
  check(n1 % NR == 0 || n1 == N, "pack_b's n1 is a multiple of kQgemmNR or N");
  const int64_t Kq = quads(K), pb = panel_b_bytes(Kq);
  for (int64_t nb = n0; nb < n1; nb += NR) {
    uint8_t* dst = static_cast<uint8_t*>(packed) + (nb / NR) * pb;
    const int cols = static_cast<int>(std::min<int64_t>(NR, N - nb));
    const uint8_t* src = b + nb * b_cs;
    alignas(32) int32_t colsum[NR];
    if (b_cs == 1 && cols == NR)
      pack_b_panel_rows(K, Kq, src, b_rs, rows, dst, colsum);
    else if (b_rs == 1 && !rows)  // a permuted k run is no longer contiguous
      pack_b_panel_cols(K, Kq, src, b_cs, cols, dst, colsum);
    else
      pack_b_panel_any(K, Kq, src, b_rs, b_cs, rows, cols, dst, colsum);
    write_b_trailer(K, Kq, b_zp, colsum, dst);
  }
}

// ---- GEMM --------------------------------------------------------------------------------------

namespace {

// Reads packed A's header and checks it and the block against the call; false when the block is
// empty (nothing to compute).
bool open_packed_a(int64_t M, int64_t N, int64_t K, const void* packed_a, int64_t m0, int64_t m1, int64_t n0,
                   int64_t n1, PackedAHeader* h) {
  std::memcpy(h, packed_a, sizeof(*h));
  check(h->magic == kMagicA, "packed A was made by qgemm_pack_a_s8_avx2");
  check(h->M == M && h->K == K, "packed A has the M and K of the call");
  check(0 <= m0 && m0 <= m1 && m1 <= M && 0 <= n0 && n0 <= n1 && n1 <= N, "block inside C");
  return m0 < m1 && n0 < n1;
}

}  // namespace

void qgemm_packed_avx2(int64_t M, int64_t N, int64_t K, const void* packed_a, const void* packed_b,
                       const QgemmOutput& out, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  PackedAHeader h;
  if (!open_packed_a(M, N, K, packed_a, m0, m1, n0, n1, &h)) return;
  const int64_t Kq = quads(K);
  const uint8_t* abase = static_cast<const uint8_t*>(packed_a) + sizeof(PackedAHeader);
  const ResEntry* res = reinterpret_cast<const ResEntry*>(abase + h.panels * panel_a_bytes(Kq));
  const uint8_t* pbase = static_cast<const uint8_t*>(packed_b);
  if (h.isa == static_cast<uint32_t>(QgemmIsa::Avx512Vnni)) {
    check(qgemm_isa_supported(QgemmIsa::Avx512Vnni), "packed A for AVX-512 VNNI runs on a CPU that has it");
    qgemm_run_tiles_vnni(M, Kq, abase, res, pbase, nullptr, 0, out, m0, m1, n0, n1);
  } else {
    run_tiles<false>(M, Kq, abase, res, BSource{pbase, nullptr, 0}, out, m0, m1, n0, n1);
  }
}

void qgemm_shift_avx2(int64_t M, int64_t N, int64_t K, const void* packed_a, const uint8_t* x,
                      const int32_t* qoff, int32_t b_zp, const QgemmOutput& out, int64_t m0, int64_t m1,
                      int64_t n0, int64_t n1) {
  PackedAHeader h;
  check(0 <= b_zp && b_zp <= 255, "b_zp in [0, 255] (the zero point of uint8 B)");
  if (!open_packed_a(M, N, K, packed_a, m0, m1, n0, n1, &h)) return;
  const int64_t Kq = quads(K);
  const uint8_t* abase = static_cast<const uint8_t*>(packed_a) + sizeof(PackedAHeader);
  for (int64_t p = 0; p < h.panels; ++p) {  // no colterm here: the a_zp correction is not available
    const auto* ph = reinterpret_cast<const PanelHeader*>(abase + p * panel_a_bytes(Kq));
    for (int r = 0; r < MR; ++r) check(ph->a_zp[r] == 0, "shifted B needs a_zp == 0 in every row");
  }
  const ResEntry* res = reinterpret_cast<const ResEntry*>(abase + h.panels * panel_a_bytes(Kq));
  if (h.isa == static_cast<uint32_t>(QgemmIsa::Avx512Vnni)) {
    check(qgemm_isa_supported(QgemmIsa::Avx512Vnni), "packed A for AVX-512 VNNI runs on a CPU that has it");
    qgemm_run_tiles_vnni(M, Kq, abase, res, x, qoff, b_zp, out, m0, m1, n0, n1);
  } else {
    run_tiles<true>(M, Kq, abase, res, BSource{x, qoff, b_zp}, out, m0, m1, n0, n1);
  }
}

namespace {

// Elements [i, i + 16) (W == 16) or [i, i + 8) (W == 8) of the four rows, every stride-th byte
// (stride 1 or 2), interleaved into quads at dst + 4 i. Reads bytes i * stride up to
// (i + W) * stride - 1 of each row.
template <int W>
inline void quads_chunk(const uint8_t* const rows[4], int64_t i, int64_t stride, uint8_t* dst) {
  __m128i r[4];
  const __m128i even = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1, -1, -1);
  for (int j = 0; j < 4; ++j) {
    const uint8_t* s = rows[j] + i * stride;
    if (stride == 1) {
      r[j] = W == 16 ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(s))
                     : _mm_loadl_epi64(reinterpret_cast<const __m128i*>(s));
    } else {
      const __m128i lo = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s)), even);
      r[j] = W == 16 ? _mm_unpacklo_epi64(lo, _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 16)), even))
                     : lo;
    }
  }
  const __m128i t0 = _mm_unpacklo_epi8(r[0], r[1]), t2 = _mm_unpacklo_epi8(r[2], r[3]);
  uint8_t* d = dst + 4 * i;
  _mm_storeu_si128(reinterpret_cast<__m128i*>(d), _mm_unpacklo_epi16(t0, t2));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 16), _mm_unpackhi_epi16(t0, t2));
  if (W == 16) {
    const __m128i t1 = _mm_unpackhi_epi8(r[0], r[1]), t3 = _mm_unpackhi_epi8(r[2], r[3]);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 32), _mm_unpacklo_epi16(t1, t3));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 48), _mm_unpackhi_epi16(t1, t3));
  }
}

}  // namespace

void interleave4_u8_avx2(const uint8_t* const rows[4], int64_t n, int64_t stride, uint8_t* dst) {
  // Vector chunks cover elements [0, nv): all n for stride 1; for stride 2 a chunk's last load
  // reads the byte after its last element, which exists for every element but the row's last.
  // The last chunk overlaps the one before it (rewriting the same quads) rather than leaving a
  // tail; rows of 8 to 15 elements take 8-element chunks (the 7x7 and 14x14 planes).
  const int64_t nv = stride == 1 ? n : stride == 2 ? n - 1 : 0;
  int64_t i = 0;
  if (nv >= 16) {
    for (; i + 16 <= nv; i += 16) quads_chunk<16>(rows, i, stride, dst);
    if (i < nv) quads_chunk<16>(rows, nv - 16, stride, dst);
    i = nv;
  } else if (nv >= 8) {
    quads_chunk<8>(rows, 0, stride, dst);
    quads_chunk<8>(rows, nv - 8, stride, dst);
    i = nv;
  }
  // The rest one quad at a time, assembled in a register (byte stores into dst would make the
  // compiler reload the row pointers after each, as they may alias).
  const uint8_t *r0 = rows[0], *r1 = rows[1], *r2 = rows[2], *r3 = rows[3];
  for (; i < n; ++i) {
    const int64_t k = i * stride;
    const uint32_t q = static_cast<uint32_t>(r0[k]) | static_cast<uint32_t>(r1[k]) << 8 |
                       static_cast<uint32_t>(r2[k]) << 16 | static_cast<uint32_t>(r3[k]) << 24;
    std::memcpy(dst + 4 * i, &q, 4);  // little-endian: byte j is row j's
  }
}

QgemmIsa qgemm_default_isa() {
  static const QgemmIsa isa = [] {
    const char* env = std::getenv("OCTET_ISA");
    if (env && std::strcmp(env, "avx2") == 0) return QgemmIsa::Avx2;
    return qgemm_isa_supported(QgemmIsa::Avx512Vnni) ? QgemmIsa::Avx512Vnni : QgemmIsa::Avx2;
  }();
  return isa;
}

const char* qgemm_isa_name(QgemmIsa isa) { return isa == QgemmIsa::Avx512Vnni ? "avx512vnni" : "avx2"; }

const char* qgemm_tile_name(QgemmIsa isa) { return isa == QgemmIsa::Avx512Vnni ? "8x16_avx512vnni" : "4x16_avx2"; }

}  // namespace octet::kernels
