// Raising a model's default-domain opset to 21, the first with INT4/UINT4 and blocked
// QuantizeLinear/DequantizeLinear, when no op in it changes meaning on the way.
//
// Checked changes between opset 17 and 21: Reduce* (except ReduceSum) took 'axes' as an input
// from 18; Split without a 'split' input needs 'num_outputs' from 18; GridSample and DFT changed
// at 20; GroupNormalization at 21. Ops with subgraphs are not inspected, so they block the
// upgrade. Everything else that changed in that span only added types or optional attributes.
#pragma once

#include <string>

#include "ir/graph.h"

namespace octet {

constexpr int64_t kOpsetWithInt4 = 21;
constexpr int64_t kIrVersionWithInt4 = 10;
constexpr int64_t kLowestUpgradableOpset = 17;

// Why raising the default opset to 21 could change what the model means; empty if it cannot.
std::string opset21_blocker(const Model& model);

// Raises the default opset to 21 (and the IR version to 10) unless opset21_blocker says why not,
// in which case it returns false and sets *why. A model already at 21 or newer is left as is.
bool raise_opset_to_21(Model& model, std::string* why);

}  // namespace octet
