// Extra ops: self-contained tensor ops outside the core families (trigonometry, Mod, BitShift,
// CumSum, Trilu, Dropout, LRN, DepthToSpace, TopK, GatherND, Scatter*, OneHot, NonZero, Compress,
// ReverseSequence, Unique, ...). register_extra_ops is the family's entry point for the global
// OpRegistry; each file of the family has its own registration function, declared here.
#include "runtime/op_registry.h"

namespace octet {

void register_extra_math_ops(OpRegistry& r);  // extra_math.cpp: element-wise math, CumSum, Trilu, Dropout, LRN, MVN
void register_extra_data_ops(OpRegistry& r);  // extra_data.cpp: data movement, selection, scatter/gather

void register_extra_ops(OpRegistry& r) {
  register_extra_math_ops(r);
  register_extra_data_ops(r);
}

}  // namespace octet
