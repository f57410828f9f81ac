// Whether a model computes each sample of a batch independently of the others, so that the
// engine may run a large batch as several smaller ones and get the same output. At batch 32 the
// activations of a small CNN no longer fit in the L2 caches: every layer then writes its output
// to L3 and the next reads it back (mobilenetv2-tiny's first expand output is 6.4 MB at batch 32,
// 200 KB per image), which cost a third of the run on the development machine.
//
// The rule, checked on the shapes that shape inference (runtime/shape_inference.h) left on the
// graph: every graph input has the same symbolic dim 0 (the batch); every value computed from
// the inputs has that symbol as its dim 0 and otherwise known dims; and every node that reads
// such a value is an op that works per sample along dim 0 (a list below: convolutions, pooling,
// element-wise ops, MatMul/Gemm with the batch in the first operand, Reshape/Transpose/Softmax/
// normalisations/reductions/Concat that leave dim 0 alone, Q/DQ and octet's fused integer ops).
// Anything else (an unknown shape, an op that mixes samples, an axis-0 attribute) answers 0:
// the engine then runs the whole batch at once, as before.
#pragma once

#include <cstdint>

#include "ir/graph.h"

namespace octet {

// Bytes per sample of the largest value computed from the inputs when the model is batch
// separable by the rule above; 0 when it is not.
int64_t batch_split_bytes(const Model& model);

}  // namespace octet
