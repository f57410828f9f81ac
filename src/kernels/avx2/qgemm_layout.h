// The packed-A layout of the INT8 GEMM (described in qgemm_avx2.h) as structs, shared by the
// packing code and the two tile loops (qgemm_avx2.cpp, avx512/qgemm_vnni.cpp). Internal: every
// name is in an anonymous namespace, so each translation unit (compiled for its own ISA) keeps
// its own copy.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "kernels/avx2/qgemm_avx2.h"

namespace octet::kernels {
namespace {

constexpr int MR = static_cast<int>(kQgemmMR);
constexpr int NR = static_cast<int>(kQgemmNR);
static_assert(MR == 4 && NR == 16, "the panel header and the microkernel are written for 4 x 16");
constexpr uint32_t kMagicA = 0x41385151u;  // "QQ8A"

struct PackedAHeader {
  uint32_t magic;
  uint32_t isa;  // QgemmIsa the matrix was packed for (Avx2: split into A_main + A_res)
  int64_t M, K, Kq, panels, residual_entries, clean_rows, used_bytes;
};
static_assert(sizeof(PackedAHeader) == 64, "");

struct PanelHeader {
  int32_t rowsum[MR];  // sum over k < K of the raw a(m, k)
  int32_t a_zp[MR];
  uint32_t res_first[MR];  // index of the row's first residual entry
  uint32_t res_count[MR];
  uint32_t absum[MR];  // sum over k < K of |a(m, k) - a_zp[m]|, saturated at UINT32_MAX: bounds |acc|
};
static_assert(sizeof(PanelHeader) == 80, "");

struct ResEntry {
  int32_t b_off;  // q * 64: byte offset of quad q inside a B panel
  int32_t quad;   // the 4 residual bytes a_res(m, 4q..4q+3)
};

[[maybe_unused]] void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "qgemm_avx2: precondition violated: %s\n", what);
    std::abort();
  }
}

[[maybe_unused]] int64_t quads(int64_t K) { return (K + 3) / 4; }
int64_t panel_a_bytes(int64_t Kq) { return static_cast<int64_t>(sizeof(PanelHeader)) + Kq * 16; }
int64_t panel_b_bytes(int64_t Kq) { return Kq * 64 + 128; }

uint32_t load_u32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace
}  // namespace octet::kernels
