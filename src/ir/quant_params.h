// Typed quantization parameters attached to a graph value. Passes and exporters read these,
// never tensor-name conventions.
#pragma once

#include <cstdint>
#include <vector>

#include "ir/dtype.h"

namespace octet {

struct QuantParams {
  DType qtype = DType::Int8;        // INT8, UINT8, INT16, INT4, UINT4, ...
  std::vector<float> scale;         // one per tensor, per channel, or per block
  std::vector<int32_t> zero_point;  // same length as scale
  int64_t axis = -1;                // channel axis when scale.size() > 1 (negative: none)
  int64_t block_size = 0;           // > 0: blocked along `axis`
  bool per_tensor() const { return scale.size() == 1 && block_size == 0; }
};

}  // namespace octet
