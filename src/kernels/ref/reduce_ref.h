// Reference reductions (ONNX Reduce* and ArgMax/ArgMin semantics) over dense row-major tensors.
// Pure functions over raw pointers; they allocate only their accumulators and depend on nothing
// but the standard library.
#pragma once

#include <cstdint>
#include <vector>

namespace octet::kernels {

enum class ReduceOp { Sum, Mean, Max, Min, Prod, L1, L2, LogSum, LogSumExp, SumSquare };

// x: contiguous row-major tensor with `dims`. reduce[d] != 0 marks dim d as reduced (both vectors
// have the input's rank). y: the kept dims in row-major order, product(kept dims) elements
// (keepdims only changes the shape the caller attaches, not the layout). With no dim reduced each
// output is the reduction of one element (ONNX noop_with_empty_axes: ReduceSumSquare squares,
// ReduceL1 takes |x|, ...).
//
// Accumulation, in input (row-major) order per output:
//  - float/double: in double; the result is rounded once to T. LogSumExp subtracts the largest
//    finite element (max + log(sum exp(x - max))), so large inputs do not overflow.
//  - integers: Sum/Mean/Prod/L1/SumSquare in 64 bits with two's-complement wrap, then truncated
//    to T (as numpy's astype); Mean divides the 64-bit sum, rounding toward zero. L2, LogSum and
//    LogSumExp are computed in double and converted with truncation toward zero, saturating,
//    NaN -> 0.
//  - Max/Min compare in T; a NaN element makes the result NaN (numpy). bool: false < true.
// Reduction over an empty set gives: Sum/L1/L2/SumSquare 0, Prod 1, Mean NaN (0 for integers),
// Max -inf (lowest for integers, false for bool), Min +inf (max, true), LogSum/LogSumExp -inf
// (lowest for integers).
// Instantiated for float, double, int8/16/32/64, uint8/16/32/64; bool for Max/Min only.
struct ReduceParams {
  ReduceOp op = ReduceOp::Sum;
  std::vector<int64_t> dims;
  std::vector<uint8_t> reduce;
};
template <class T>
void reduce_ref(const T* x, T* y, const ReduceParams& p);

// ArgMax/ArgMin of x viewed as [outer, n, inner] (row-major) along n; y is [outer, inner] int64.
// Ties give the first index, or the last with select_last_index. A NaN counts as larger (ArgMax)
// and smaller (ArgMin) than any number, so the first (last) NaN wins, as numpy's argmax does.
// n must be >= 1. Instantiated for the same types as reduce_ref, except bool.
struct ArgReduceParams {
  int64_t outer = 1, n = 1, inner = 1;
  bool is_max = true;
  bool select_last_index = false;
};
template <class T>
void arg_reduce_ref(const T* x, int64_t* y, const ArgReduceParams& p);

// Calibration's per-batch range in one pass: the index of the first NaN or infinity in x[0, n),
// or -1 when all are finite, in which case *lo and *hi are the smallest and largest element
// (untouched when n == 0). A zero result is +0 whichever zeros x holds, so that any order of
// comparison (the AVX2 twin's lanes) gives the same bits.
int64_t minmax_finite_f32(const float* x, int64_t n, float* lo, float* hi);

}  // namespace octet::kernels
