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

#include "kernels/ref/quantize_ref.h"

namespace octet::kernels {
namespace {

constexpr int MR = static_cast<int>(kQgemmMR);
constexpr int NR = static_cast<int>(kQgemmNR);
static_assert(MR == 4 && NR == 16, "the panel header and the microkernel are written for 4 x 16");
constexpr uint32_t kMagicA = 0x41385151u;  // "QQ8A"

struct PackedAHeader {
  uint32_t magic;
  uint32_t reserved;
  int64_t M, K, Kq, panels, residual_entries, clean_rows, used_bytes;
};
static_assert(sizeof(PackedAHeader) == 64, "");

struct PanelHeader {
  int32_t rowsum[MR];  // sum over k < K of the raw a(m, k)
  int32_t a_zp[MR];
  uint32_t res_first[MR];  // index of the row's first residual entry
  uint32_t res_count[MR];
};
static_assert(sizeof(PanelHeader) == 64, "");

struct ResEntry {
  int32_t b_off;  // q * 64: byte offset of quad q inside a B panel
  int32_t quad;   // the 4 residual bytes a_res(m, 4q..4q+3)
};

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "qgemm_avx2: precondition violated: %s\n", what);
    std::abort();
  }
}

int64_t quads(int64_t K) { return (K + 3) / 4; }
int64_t panel_a_bytes(int64_t Kq) { return static_cast<int64_t>(sizeof(PanelHeader)) + Kq * 16; }
int64_t panel_b_bytes(int64_t Kq) { return Kq * 64 + 128; }

uint32_t load_u32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

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

// ---- microkernel and epilogue ------------------------------------------------------------------

using Kind = QgemmOutput::Kind;

// What the epilogue of one 4 x 16 tile needs; built once per tile.
struct TileOut {
  const QgemmOutput* out;
  int64_t mb, nb;      // global row and column of the tile's (0, 0)
  int r0, r1, j0, j1;  // the rows and columns of the tile inside the block
  bool direct;         // all 16 columns, c_cs == 1: vector stores straight into C
  __m256d zp, lo, hi;  // U8/S8: zero point, max(lo, qmin), min(hi, qmax), as doubles
};

template <class T>
void store_cols(const T* y, T* c_row, int64_t c_cs, int j0, int j1) {
  for (int j = j0; j < j1; ++j) c_row[j * c_cs] = y[j];
}

// Requantizes 8 int32 (one ymm) as requantize_value does: double(acc) * double(multiplier),
// vroundpd to nearest even, + zero point in double, then one clamp to [lo', hi'] = [max(lo, qmin),
// min(hi, qmax)], which equals saturating to [qmin, qmax] and then clamping to [lo, hi] whenever
// lo <= qmax (clamps commute then; lo and hi lie in the type's range by contract). The multiplier
// is finite here, so the product is finite (no NaN), and the clamped value converts exactly.
inline void requant8(__m256i v, __m256d mult, __m256d zp, __m256d lo, __m256d hi, __m128i* x0,
                     __m128i* x1) {
  __m256d d0 = _mm256_cvtepi32_pd(_mm256_castsi256_si128(v));
  __m256d d1 = _mm256_cvtepi32_pd(_mm256_extracti128_si256(v, 1));
  d0 = _mm256_round_pd(_mm256_mul_pd(d0, mult), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  d1 = _mm256_round_pd(_mm256_mul_pd(d1, mult), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  *x0 = _mm256_cvttpd_epi32(_mm256_min_pd(_mm256_max_pd(_mm256_add_pd(d0, zp), lo), hi));
  *x1 = _mm256_cvttpd_epi32(_mm256_min_pd(_mm256_max_pd(_mm256_add_pd(d1, zp), lo), hi));
}

// Converts and writes row r of the tile (acc(r, 0..7) in v0, acc(r, 8..15) in v1).
template <Kind kKind>
inline __attribute__((always_inline)) void write_row(const TileOut& t, int r, __m256i v0,
                                                     __m256i v1) {
  if (r < t.r0 || r >= t.r1) return;
  const QgemmOutput& out = *t.out;
  const int64_t m = t.mb + r;
  const int64_t off = m * out.c_rs + t.nb * out.c_cs;
  if constexpr (kKind == Kind::S32) {
    int32_t* c_row = static_cast<int32_t*>(out.c) + off;
    if (t.direct) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(c_row), v0);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(c_row + 8), v1);
      return;
    }
    alignas(32) int32_t y[NR];
    _mm256_store_si256(reinterpret_cast<__m256i*>(y), v0);
    _mm256_store_si256(reinterpret_cast<__m256i*>(y + 8), v1);
    store_cols(y, c_row, out.c_cs, t.j0, t.j1);
  } else if constexpr (kKind == Kind::F32) {
    float* c_row = static_cast<float*>(out.c) + off;
    const __m256 s = _mm256_set1_ps(out.scale[m]);
    __m256 f0 = _mm256_mul_ps(_mm256_cvtepi32_ps(v0), s);  // float(acc) * scale, rounded
    __m256 f1 = _mm256_mul_ps(_mm256_cvtepi32_ps(v1), s);
    if (out.fbias) {  // + fbias, rounded separately (no FMA)
      const __m256 fb = _mm256_set1_ps(out.fbias[m]);
      f0 = _mm256_add_ps(f0, fb);
      f1 = _mm256_add_ps(f1, fb);
    }
    if (t.direct) {
      _mm256_storeu_ps(c_row, f0);
      _mm256_storeu_ps(c_row + 8, f1);
      return;
    }
    alignas(32) float y[NR];
    _mm256_store_ps(y, f0);
    _mm256_store_ps(y + 8, f1);
    store_cols(y, c_row, out.c_cs, t.j0, t.j1);
  } else {
    constexpr bool kSigned = kKind == Kind::S8;
    using T = std::conditional_t<kSigned, int8_t, uint8_t>;
    constexpr int32_t qmin = kSigned ? -128 : 0, qmax = kSigned ? 127 : 255;
    T* c_row = static_cast<T*>(out.c) + off;
    const float mult = out.multiplier[m];
    alignas(16) T y[NR];
    if (std::isfinite(mult)) {
      const __m256d md = _mm256_set1_pd(static_cast<double>(mult));
      __m128i x0, x1, x2, x3;
      requant8(v0, md, t.zp, t.lo, t.hi, &x0, &x1);
      requant8(v1, md, t.zp, t.lo, t.hi, &x2, &x3);
      // The values lie in [qmin, qmax]: the packs do not saturate.
      const __m128i w01 = _mm_packs_epi32(x0, x1), w23 = _mm_packs_epi32(x2, x3);
      const __m128i bytes = kSigned ? _mm_packs_epi16(w01, w23) : _mm_packus_epi16(w01, w23);
      if (t.direct) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(c_row), bytes);
        return;
      }
      _mm_store_si128(reinterpret_cast<__m128i*>(y), bytes);
    } else {  // NaN or infinite multiplier: requantize_value's own NaN and saturation rules
      alignas(32) int32_t acc[NR];
      _mm256_store_si256(reinterpret_cast<__m256i*>(acc), v0);
      _mm256_store_si256(reinterpret_cast<__m256i*>(acc + 8), v1);
      for (int j = t.j0; j < t.j1; ++j) {
        const int32_t q = requantize_value(acc[j], mult, out.zero_point, qmin, qmax);
        y[j] = static_cast<T>(std::min(std::max(q, out.lo), out.hi));
      }
    }
    store_cols(y, c_row, out.c_cs, t.j0, t.j1);
  }
}

// One 4 x 16 tile over the whole K, then its epilogue, all in registers: 8 named accumulators
// (an array of them made GCC spill one and copy the others every iteration, -15% at 1024^3).
//   main loop: acc(r, j) += vpmaddwd(vpmaddubsw(b quad q of column j, a_main(r, quad q)), 1)
//   residual:  the same for each of row r's residual entries (a few percent of quads)
//   acc(r, j) += rowterm[r] - a_zp[r] * colterm[j]      (rowterm = bias - b_zp * rowsum)
template <Kind kKind>
void tile_kernel(int64_t Kq, const uint8_t* ap, const uint8_t* bp, const PanelHeader* ph,
                 const ResEntry* res, const int32_t rowterm[MR], bool has_azp, const TileOut& t) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00;
  __m256i c20 = c00, c21 = c00, c30 = c00, c31 = c00;
#define OCTET_QGEMM_STEP(acc, bv, av) \
  acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(bv, av), ones))
  const uint8_t* bq = bp;
  for (int64_t q = 0; q < Kq; ++q) {
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bq));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bq + 32));
    __m256i av = _mm256_set1_epi32(static_cast<int>(load_u32(ap)));
    OCTET_QGEMM_STEP(c00, b0, av);
    OCTET_QGEMM_STEP(c01, b1, av);
    av = _mm256_set1_epi32(static_cast<int>(load_u32(ap + 4)));
    OCTET_QGEMM_STEP(c10, b0, av);
    OCTET_QGEMM_STEP(c11, b1, av);
    av = _mm256_set1_epi32(static_cast<int>(load_u32(ap + 8)));
    OCTET_QGEMM_STEP(c20, b0, av);
    OCTET_QGEMM_STEP(c21, b1, av);
    av = _mm256_set1_epi32(static_cast<int>(load_u32(ap + 12)));
    OCTET_QGEMM_STEP(c30, b0, av);
    OCTET_QGEMM_STEP(c31, b1, av);
    ap += 16;
    bq += 64;
    // Pins the accumulators to registers: without it GCC 12 spills one of them to the stack
    // inside this loop (the residual loops below raise the register pressure it plans for).
    asm(""
        : "+x"(c00), "+x"(c01), "+x"(c10), "+x"(c11), "+x"(c20), "+x"(c21), "+x"(c30), "+x"(c31));
  }
#define OCTET_QGEMM_RESIDUAL(r, acc0, acc1)                                                      \
  for (const ResEntry *e = res + ph->res_first[r], *end = e + ph->res_count[r]; e != end; ++e) { \
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp + e->b_off));      \
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp + e->b_off + 32)); \
    const __m256i av = _mm256_set1_epi32(e->quad);                                               \
    OCTET_QGEMM_STEP(acc0, b0, av);                                                              \
    OCTET_QGEMM_STEP(acc1, b1, av);                                                              \
  }
  OCTET_QGEMM_RESIDUAL(0, c00, c01)
  OCTET_QGEMM_RESIDUAL(1, c10, c11)
  OCTET_QGEMM_RESIDUAL(2, c20, c21)
  OCTET_QGEMM_RESIDUAL(3, c30, c31)
#undef OCTET_QGEMM_RESIDUAL
#undef OCTET_QGEMM_STEP
  const int32_t* colterm = reinterpret_cast<const int32_t*>(bp + Kq * 64);
  const __m256i ct0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(colterm));
  const __m256i ct1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(colterm + 8));
#define OCTET_QGEMM_FINISH(r, acc0, acc1)                         \
  {                                                               \
    const __m256i rt = _mm256_set1_epi32(rowterm[r]);             \
    acc0 = _mm256_add_epi32(acc0, rt);                            \
    acc1 = _mm256_add_epi32(acc1, rt);                            \
    if (has_azp) {                                                \
      const __m256i za = _mm256_set1_epi32(ph->a_zp[r]);          \
      acc0 = _mm256_sub_epi32(acc0, _mm256_mullo_epi32(za, ct0)); \
      acc1 = _mm256_sub_epi32(acc1, _mm256_mullo_epi32(za, ct1)); \
    }                                                             \
    write_row<kKind>(t, r, acc0, acc1);                           \
  }
  OCTET_QGEMM_FINISH(0, c00, c01)
  OCTET_QGEMM_FINISH(1, c10, c11)
  OCTET_QGEMM_FINISH(2, c20, c21)
  OCTET_QGEMM_FINISH(3, c30, c31)
#undef OCTET_QGEMM_FINISH
}

// All tiles of the block, n panels outer (the 16-column B panel stays in L1), m panels inner.
template <Kind kKind>
void run_block(int64_t M, int64_t Kq, const uint8_t* abase, const ResEntry* res,
               const uint8_t* packed_b, const QgemmOutput& out, int64_t m0, int64_t m1, int64_t n0,
               int64_t n1) {
  const int64_t pa = panel_a_bytes(Kq), pb = panel_b_bytes(Kq);
  TileOut t;
  t.out = &out;
  if (kKind == Kind::U8 || kKind == Kind::S8) {
    const int32_t qmin = kKind == Kind::S8 ? -128 : 0, qmax = kKind == Kind::S8 ? 127 : 255;
    t.zp = _mm256_set1_pd(static_cast<double>(out.zero_point));
    t.lo = _mm256_set1_pd(static_cast<double>(std::max(out.lo, qmin)));
    t.hi = _mm256_set1_pd(static_cast<double>(std::min(out.hi, qmax)));
  }
  for (int64_t nb = n0 - n0 % NR; nb < n1; nb += NR) {
    const uint8_t* bp = packed_b + (nb / NR) * pb;
    int32_t b_zp;
    std::memcpy(&b_zp, bp + Kq * 64 + NR * 4, 4);
    t.nb = nb;
    t.j0 = static_cast<int>(std::max<int64_t>(n0 - nb, 0));
    t.j1 = static_cast<int>(std::min<int64_t>(n1 - nb, NR));
    t.direct = t.j0 == 0 && t.j1 == NR && out.c_cs == 1;
    for (int64_t mb = m0 - m0 % MR; mb < m1; mb += MR) {
      const uint8_t* panel = abase + (mb / MR) * pa;
      const PanelHeader* ph = reinterpret_cast<const PanelHeader*>(panel);
      t.mb = mb;
      t.r0 = static_cast<int>(std::max<int64_t>(m0 - mb, 0));
      t.r1 = static_cast<int>(std::min<int64_t>(m1 - mb, MR));
      int32_t rowterm[MR];
      bool has_azp = false;
      for (int r = 0; r < MR; ++r) {
        const int64_t m = mb + r;
        const uint32_t bias = (m < M && out.bias) ? static_cast<uint32_t>(out.bias[m]) : 0u;
        rowterm[r] = static_cast<int32_t>(bias - static_cast<uint32_t>(b_zp) *
                                                     static_cast<uint32_t>(ph->rowsum[r]));
        has_azp |= ph->a_zp[r] != 0;
      }
      tile_kernel<kKind>(Kq, panel + sizeof(PanelHeader), bp, ph, res, rowterm, has_azp, t);
    }
  }
}

// ---- packing B ---------------------------------------------------------------------------------

// b_cs == 1 and 16 real columns: 4 rows x 16 bytes -> 16 columns x 4 bytes per quad. Column sums:
// vpmaddubsw by 1 (pair sums <= 510, no saturation), vpmaddwd by 1 into int32.
// (Measured: 17-18 GB/s with warm caches, bound by the cache bandwidth; blocking the loop over K
// so that the 4 panels sharing a source line run back to back did not change that.)
void pack_b_panel_rows(int64_t K, int64_t Kq, const uint8_t* b, int64_t b_rs, uint8_t* dst,
                       int32_t colsum[NR]) {
  const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
  __m256i cs0 = _mm256_setzero_si256(), cs1 = _mm256_setzero_si256();
  for (int64_t q = 0; q < Kq; ++q) {
    __m128i r[4];
    for (int i = 0; i < 4; ++i) {
      const int64_t k = 4 * q + i;
      r[i] = k < K ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + k * b_rs))
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
void pack_b_panel_any(int64_t K, int64_t Kq, const uint8_t* b, int64_t b_rs, int64_t b_cs, int cols,
                      uint8_t* dst, int32_t colsum[NR]) {
  for (int j = 0; j < NR; ++j) {
    uint32_t sum = 0;
    for (int64_t q = 0; q < Kq; ++q)
      for (int i = 0; i < 4; ++i) {
        const int64_t k = 4 * q + i;
        const uint8_t v = (j < cols && k < K) ? b[k * b_rs + j * b_cs] : 0;
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
                          const int32_t* a_zp, void* packed) {
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
      int32_t rowsum = 0;
      for (int64_t q = 0; q < Kq; ++q) {
        int8_t v[4] = {0, 0, 0, 0}, rv[4] = {0, 0, 0, 0};
        for (int i = 0; i < 4; ++i) {
          const int64_t k = 4 * q + i;
          if (real && k < K) v[i] = a[m * a_rs + k * a_cs];
          rowsum += v[i];
        }
        const bool r0 = split_pair(&v[0], &v[1], &rv[0], &rv[1]);
        const bool r1 = split_pair(&v[2], &v[3], &rv[2], &rv[3]);
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
      ph.a_zp[r] = (real && a_zp) ? a_zp[m] : 0;
      if (real && ph.res_count[r] == 0) ++clean;
    }
    std::memcpy(base + sizeof(PackedAHeader) + p * pa, &ph, sizeof(ph));
  }
  PackedAHeader h{};
  h.magic = kMagicA;
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

// ---- B -----------------------------------------------------------------------------------------

size_t qgemm_packed_b_bytes(int64_t K, int64_t N) {
  return static_cast<size_t>(((N + NR - 1) / NR) * panel_b_bytes(quads(K)));
}

void qgemm_pack_b_u8_avx2(int64_t K, int64_t N, const uint8_t* b, int64_t b_rs, int64_t b_cs,
                          int32_t b_zp, int64_t n0, int64_t n1, void* packed) {
  check(0 <= n0 && n0 <= n1 && n1 <= N, "0 <= n0 <= n1 <= N");
  check(n0 % NR == 0, "pack_b's n0 is a multiple of kQgemmNR");
  check(n1 % NR == 0 || n1 == N, "pack_b's n1 is a multiple of kQgemmNR or N");
  const int64_t Kq = quads(K), pb = panel_b_bytes(Kq);
  for (int64_t nb = n0; nb < n1; nb += NR) {
    uint8_t* dst = static_cast<uint8_t*>(packed) + (nb / NR) * pb;
    const int cols = static_cast<int>(std::min<int64_t>(NR, N - nb));
    const uint8_t* src = b + nb * b_cs;
    alignas(32) int32_t colsum[NR];
    if (b_cs == 1 && cols == NR)
      pack_b_panel_rows(K, Kq, src, b_rs, dst, colsum);
    else if (b_rs == 1)
      pack_b_panel_cols(K, Kq, src, b_cs, cols, dst, colsum);
    else
      pack_b_panel_any(K, Kq, src, b_rs, b_cs, cols, dst, colsum);
    write_b_trailer(K, Kq, b_zp, colsum, dst);
  }
}

// ---- GEMM --------------------------------------------------------------------------------------

void qgemm_packed_avx2(int64_t M, int64_t N, int64_t K, const void* packed_a, const void* packed_b,
                       const QgemmOutput& out, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  PackedAHeader h;
  std::memcpy(&h, packed_a, sizeof(h));
  check(h.magic == kMagicA, "packed A was made by qgemm_pack_a_s8_avx2");
  check(h.M == M && h.K == K, "packed A has the M and K of the call");
  check(0 <= m0 && m0 <= m1 && m1 <= M && 0 <= n0 && n0 <= n1 && n1 <= N, "block inside C");
  if (m0 >= m1 || n0 >= n1) return;
  const int64_t Kq = quads(K);
  const uint8_t* abase = static_cast<const uint8_t*>(packed_a) + sizeof(PackedAHeader);
  const ResEntry* res = reinterpret_cast<const ResEntry*>(abase + h.panels * panel_a_bytes(Kq));
  const uint8_t* pbase = static_cast<const uint8_t*>(packed_b);
  switch (out.kind) {
    case Kind::S32:
      run_block<Kind::S32>(M, Kq, abase, res, pbase, out, m0, m1, n0, n1);
      break;
    case Kind::U8:
      run_block<Kind::U8>(M, Kq, abase, res, pbase, out, m0, m1, n0, n1);
      break;
    case Kind::S8:
      run_block<Kind::S8>(M, Kq, abase, res, pbase, out, m0, m1, n0, n1);
      break;
    case Kind::F32:
      run_block<Kind::F32>(M, Kq, abase, res, pbase, out, m0, m1, n0, n1);
      break;
  }
}

}  // namespace octet::kernels
