// <immintrin.h> for the AVX-512 kernels. GCC 12's AVX-512 intrinsics (max, min, masked compares,
// down-conversions, ...) start from a self-initialised "undefined" vector, which -Wuninitialized
// and -Wmaybe-uninitialized report wherever they are inlined (GCC bug 105593, which Debian's GCC
// 12.2 has); the warning is about the header, not the kernels, so it is silenced for the header
// alone.
#pragma once

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
