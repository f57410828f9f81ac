// Reference Softmax, LogSoftmax and Hardmax (ONNX semantics) along one axis of a dense tensor.
// Pure functions over raw pointers; no allocation; standard library only.
#pragma once

#include <cstdint>

namespace octet::kernels {

enum class SoftmaxOp { Softmax, LogSoftmax, Hardmax };

// x and y are [outer, n, inner] row-major; the op runs along n for each (outer, inner) pair.
// (Opset >= 13 models use outer/inner = products of the dims before/after the axis; older ones
// coerce to 2-D, i.e. n = product of the dims from the axis on and inner = 1.)
//
// Softmax/LogSoftmax are numerically stable: the row maximum m is subtracted before exp, the sum
// of exp(x - m) is accumulated in double and each result is rounded once to T:
//   softmax = exp(x - m) / sum,  log_softmax = (x - m) - log(sum).
// A NaN in a row makes the row NaN; a row of only -inf gives NaN (as numpy).
// Hardmax writes 1 at the first index of the row maximum (the first NaN if any, as numpy's
// argmax) and 0 elsewhere.
// Instantiated for float and double.
struct SoftmaxParams {
  SoftmaxOp op = SoftmaxOp::Softmax;
  int64_t outer = 1, n = 1, inner = 1;
};
template <class T>
void softmax_ref(const T* x, T* y, const SoftmaxParams& p);

}  // namespace octet::kernels
