// Private to src/train: the op table of the libtorch bridge (torch_graph.cpp runs it).
//
// Every op of octet's executor has one entry here, of one of three kinds:
//   native     written with ATen ops, so autograd differentiates it; forward agrees with the
//              executor to float rounding (torch_ops_{elementwise,nn,shape,resize,reduce,quant}.cpp)
//   index map  pure data movement (DepthToSpace, GatherND, ScatterND, ...): the executor's own op
//              is run on int64 element numbers to learn where each output element comes from,
//              and the values are then gathered with ATen, so the movement is the executor's and
//              the gradient flows (torch_ops_generic.cpp)
//   executor   ops without a useful gradient (integer/bool outputs, ArgMax, NonZero, QLinearConv,
//              comparisons): run on the reference executor on detached copies; their outputs
//              are constants to autograd
// In addition, a node none of whose inputs is a floating tensor cannot carry a gradient and is
// always run on the executor, so integer shape arithmetic has exactly the executor's semantics.
//
// This header includes only ATen (not <torch/torch.h>), which keeps each op file's compile time
// near 20 s instead of 75 s.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace octet::train::detail {

// A value as the bridge holds it: a torch tensor and the ONNX element type it stands for.
// Carriers: FLOAT16/BFLOAT16 values are held in float32 (the bridge computes them in float32);
// UINT16/UINT32/UINT64 in int32/int64/int64; the output of QuantizeLinear in float32 holding the
// integer values (fake quantization, so gradients pass); see carrier_type().
struct TValue {
  at::Tensor t;  // undefined: an absent optional input
  DType dtype = DType::Undefined;
};

// The torch type that carries values of `d`. Throws Error for types torch cannot hold (strings,
// complex, FP8).
at::ScalarType carrier_type(DType d);
// The ONNX type a torch type stands for when nothing else is known (kFloat -> FLOAT, ...).
DType natural_dtype(at::ScalarType s);
// True when `v` is a QuantizeLinear result carried in float (an integer type held as float).
inline bool is_int_carrier(const TValue& v) {
  return v.t.defined() && at::isFloatingType(v.t.scalar_type()) && !dtype_is_float(v.dtype) &&
         v.dtype != DType::Undefined;
}
// An int carrier converted to its integer torch type (exact: the values are integers in range).
at::Tensor materialize(const TValue& v);
// Conversions between the bridge's values and octet tensors (copies; detached).
TValue value_from_octet(const Tensor& t);
Tensor octet_from_value(const TValue& v);

// One execution of one node.
class OpCall {
 public:
  OpCall(const Node& n, int64_t op_set, bool train) : node(n), opset(op_set), training(train) {}

  const Node& node;
  const int64_t opset;      // the model's default-domain opset
  const bool training;      // TorchGraph::forward's flag
  std::vector<TValue> in;   // one per node input; undefined where absent
  std::vector<TValue> out;  // filled by the op, one per node output
  // Running statistics of BatchNormalization, by initializer name (TorchGraph's buffers).
  std::map<std::string, at::Tensor>* buffers = nullptr;

  size_t num_inputs() const { return in.size(); }
  bool has(size_t i) const { return i < in.size() && in[i].t.defined(); }
  // Input i; throws Error naming the node if it is absent.
  const at::Tensor& x(size_t i) const;
  DType dtype(size_t i) const { return has(i) ? in[i].dtype : DType::Undefined; }
  bool wants(size_t i) const { return i < node.outputs.size() && !node.outputs[i].empty(); }
  // Throws octet::Error "node 'name' (Op): msg".
  [[noreturn]] void fail(const std::string& msg) const;

  // Checks that input i is a float type (FLOAT, DOUBLE, FLOAT16, BFLOAT16).
  void require_float(size_t i, const char* what) const;
  // Checks that inputs i and j have the same element type.
  void require_same(size_t i, size_t j) const;
  // Values of an integer input (INT32/INT64; shape-like inputs).
  std::vector<int64_t> ints(size_t i, const char* what) const;
  // Values of input i when present, else of attribute `name` when present, else nullopt (ops
  // that moved an attribute to an input accept both forms, like the executor).
  std::optional<std::vector<int64_t>> ints_input_or_attr(size_t i, const std::string& name) const;
  // A one-element float input as double.
  double scalar(size_t i, const char* what) const;
  // The running-statistics buffer fed to input i, or nullptr when that input is not a buffer.
  at::Tensor* buffer(size_t i) const;

  // Sets output i. Its ONNX type is `dtype`, or by default the natural type of the tensor,
  // except that a float result of a FLOAT16/BFLOAT16 input keeps that type.
  void set(size_t i, at::Tensor t, DType dtype = DType::Undefined);
};

using OpFn = std::function<void(OpCall&)>;

struct OpMapping {
  OpFn run;
  // Input slots whose initializers are never trainable parameters (shapes, axes, bounds, quant
  // parameters); all_frozen: none are (executor-run ops).
  std::vector<size_t> frozen;
  bool all_frozen = false;
  // Ops that pass a QuantizeLinear carrier through unchanged (DequantizeLinear reads it; the
  // movement ops keep it a carrier). Other ops see the carrier converted to its integer type.
  bool reads_carriers = false;
  bool moves_carriers = false;
};
using OpTable = std::map<std::string, OpMapping>;

// The table, built once. Keys are op types of the default ONNX domain.
const OpTable& op_table();

// Per family; each lives in torch_ops_<family>.cpp.
void add_elementwise_ops(OpTable& t);
void add_nn_ops(OpTable& t);
void add_shape_ops(OpTable& t);
void add_resize_ops(OpTable& t);
void add_reduce_ops(OpTable& t);
void add_quant_ops(OpTable& t);
void add_generic_ops(OpTable& t);

// Runs the node on octet's reference executor and sets every output (no gradient).
void run_on_executor(OpCall& call);
// An OpMapping whose run is run_on_executor and whose inputs are all frozen.
OpMapping executor_mapping();

// Shared helpers.
std::vector<int64_t> int_values(const at::Tensor& t);
// `axis` in [-rank, rank) mapped into [0, rank); fails naming the node otherwise.
int64_t norm_axis(const OpCall& call, int64_t axis, int64_t rank);
// Numpy broadcast of two shapes; fails naming the node.
std::vector<int64_t> broadcast(const OpCall& call, at::IntArrayRef a, at::IntArrayRef b);
// Opset < 7 Add/Mul/...: B reshaped for the legacy `broadcast`/`axis` attributes (unchanged
// when they are absent).
at::Tensor legacy_broadcast_b(const OpCall& call, const at::Tensor& a, const at::Tensor& b);

}  // namespace octet::train::detail
