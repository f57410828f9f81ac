// TensorProto <-> Tensor conversion (internal to src/onnx).
#pragma once

#include <string>

#include "ir/tensor.h"
#include "onnx/onnx_pb.h"

namespace octet::onnx_io {

// Converts a TensorProto. `context` names the file and tensor for messages; `base_dir` resolves
// external data (empty: external data is an error).
Tensor tensor_from_proto(const onnx::TensorProto& p, const std::string& context,
                         const std::string& base_dir);
// Fills a TensorProto with raw_data (strings in string_data; INT4/UINT4 packed two per byte).
void tensor_to_proto(const Tensor& t, const std::string& name, onnx::TensorProto* p);
// Packed size in bytes of `numel` elements of `t` as stored in a file.
uint64_t file_bytes(DType t, int64_t numel);

}  // namespace octet::onnx_io
