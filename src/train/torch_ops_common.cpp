// The libtorch bridge's plumbing: conversions between octet tensors and torch tensors, OpCall's
// helpers, running a node on the reference executor, and the assembled op table.
#include <cstring>
#include <limits>

#include "runtime/op_registry.h"
#include "runtime/ops/op_util.h"
#include "train/torch_ops.h"

namespace octet::train {

// Declared in torch_graph.h (torch::Tensor is at::Tensor); defined here so that this file needs
// only ATen.
at::Tensor to_torch(const Tensor& t);
Tensor from_torch(const at::Tensor& t);

namespace {

at::Tensor raw_copy(const Tensor& t, at::ScalarType s) {
  at::Tensor out = at::empty(t.shape(), at::TensorOptions().dtype(s));
  if (t.nbytes() > 0) std::memcpy(out.data_ptr(), t.raw(), t.nbytes());
  return out;
}

// Unsigned types torch 1.13 lacks, widened to the next signed type.
template <class U, class S>
at::Tensor widen(const Tensor& t, at::ScalarType s) {
  at::Tensor out = at::empty(t.shape(), at::TensorOptions().dtype(s));
  const U* src = t.data<U>();
  S* dst = out.data_ptr<S>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    if constexpr (std::is_same_v<U, uint64_t>)
      if (src[i] > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        throw Error(str_cat("UINT64 value ", src[i], " (element ", i, ") does not fit torch's int64"));
    dst[i] = static_cast<S>(src[i]);
  }
  return out;
}

}  // namespace

at::Tensor to_torch(const Tensor& t) {
  switch (t.dtype()) {
    case DType::Float32:
      return raw_copy(t, at::kFloat);
    case DType::Float64:
      return raw_copy(t, at::kDouble);
    case DType::Float16:
      return raw_copy(t, at::kHalf);  // same IEEE binary16 bits
    case DType::BFloat16:
      return raw_copy(t, at::kBFloat16);  // same bfloat16 bits
    case DType::Int8:
    case DType::Int4:
      return raw_copy(t, at::kChar);
    case DType::UInt8:
    case DType::UInt4:
      return raw_copy(t, at::kByte);
    case DType::Int16:
      return raw_copy(t, at::kShort);
    case DType::Int32:
      return raw_copy(t, at::kInt);
    case DType::Int64:
      return raw_copy(t, at::kLong);
    case DType::Bool:
      return raw_copy(t, at::kBool);
    case DType::UInt16:
      return widen<uint16_t, int32_t>(t, at::kInt);
    case DType::UInt32:
      return widen<uint32_t, int64_t>(t, at::kLong);
    case DType::UInt64:
      return widen<uint64_t, int64_t>(t, at::kLong);
    default:
      throw Error(str_cat("element type ", dtype_name(t.dtype()), " has no torch equivalent"));
  }
}

Tensor from_torch(const at::Tensor& t) {
  const at::Tensor c = t.detach().to(at::kCPU).contiguous();
  DType d;
  switch (c.scalar_type()) {
    case at::kFloat:
      d = DType::Float32;
      break;
    case at::kDouble:
      d = DType::Float64;
      break;
    case at::kHalf:
      d = DType::Float16;
      break;
    case at::kBFloat16:
      d = DType::BFloat16;
      break;
    case at::kChar:
      d = DType::Int8;
      break;
    case at::kByte:
      d = DType::UInt8;
      break;
    case at::kShort:
      d = DType::Int16;
      break;
    case at::kInt:
      d = DType::Int32;
      break;
    case at::kLong:
      d = DType::Int64;
      break;
    case at::kBool:
      d = DType::Bool;
      break;
    default:
      throw Error(str_cat("torch type ", c.scalar_type(), " has no octet equivalent"));
  }
  Tensor out(d, c.sizes().vec());
  if (out.nbytes() > 0) std::memcpy(out.raw(), c.data_ptr(), out.nbytes());
  return out;
}

namespace detail {

at::ScalarType carrier_type(DType d) {
  switch (d) {
    case DType::Float32:
    case DType::Float16:
    case DType::BFloat16:
      return at::kFloat;
    case DType::Float64:
      return at::kDouble;
    case DType::Int8:
    case DType::Int4:
      return at::kChar;
    case DType::UInt8:
    case DType::UInt4:
      return at::kByte;
    case DType::Int16:
      return at::kShort;
    case DType::UInt16:
    case DType::Int32:
      return at::kInt;
    case DType::UInt32:
    case DType::Int64:
    case DType::UInt64:
      return at::kLong;
    case DType::Bool:
      return at::kBool;
    default:
      throw Error(str_cat("element type ", dtype_name(d), " has no torch equivalent"));
  }
}

DType natural_dtype(at::ScalarType s) {
  switch (s) {
    case at::kFloat:
      return DType::Float32;
    case at::kDouble:
      return DType::Float64;
    case at::kHalf:
      return DType::Float16;
    case at::kBFloat16:
      return DType::BFloat16;
    case at::kChar:
      return DType::Int8;
    case at::kByte:
      return DType::UInt8;
    case at::kShort:
      return DType::Int16;
    case at::kInt:
      return DType::Int32;
    case at::kLong:
      return DType::Int64;
    case at::kBool:
      return DType::Bool;
    default:
      throw Error(str_cat("torch type ", s, " has no octet equivalent"));
  }
}

at::Tensor materialize(const TValue& v) {
  if (!is_int_carrier(v)) return v.t;
  return v.t.to(carrier_type(v.dtype));
}

TValue value_from_octet(const Tensor& t) {
  TValue v;
  v.dtype = t.dtype();
  v.t = to_torch(t);
  if (t.dtype() == DType::Float16 || t.dtype() == DType::BFloat16) v.t = v.t.to(at::kFloat);
  return v;
}

Tensor octet_from_value(const TValue& v) {
  Tensor o = from_torch(v.t);
  if (v.dtype != DType::Undefined && o.dtype() != v.dtype) o = o.cast(v.dtype);
  return o;
}

// ---- OpCall ----------------------------------------------------------------------------------

const at::Tensor& OpCall::x(size_t i) const {
  if (!has(i)) fail(str_cat("input ", i, " is required"));
  return in[i].t;
}

void OpCall::fail(const std::string& msg) const { throw Error(str_cat(node.describe(), ": ", msg)); }

void OpCall::require_float(size_t i, const char* what) const {
  const DType d = dtype(i);
  if (!dtype_is_float(d) || !at::isFloatingType(x(i).scalar_type()))
    fail(str_cat(what, " has element type ", dtype_name(d),
                 "; a float type (FLOAT, DOUBLE, FLOAT16, BFLOAT16) is required"));
}

void OpCall::require_same(size_t i, size_t j) const {
  if (dtype(i) != dtype(j))
    fail(str_cat("input ", i, " has element type ", dtype_name(dtype(i)), " but input ", j, " has ",
                 dtype_name(dtype(j)), "; they must match"));
}

std::vector<int64_t> OpCall::ints(size_t i, const char* what) const {
  const at::Tensor& t = x(i);
  if (at::isFloatingType(t.scalar_type()) || t.scalar_type() == at::kBool)
    fail(str_cat(what, " must be INT64 or INT32, got ", dtype_name(dtype(i))));
  return int_values(t);
}

std::optional<std::vector<int64_t>> OpCall::ints_input_or_attr(size_t i, const std::string& name) const {
  if (has(i)) return ints(i, name.c_str());
  if (node.has_attr(name)) return node.attr_ints(name);
  return std::nullopt;
}

double OpCall::scalar(size_t i, const char* what) const {
  const at::Tensor& t = x(i);
  if (t.numel() != 1) fail(str_cat(what, " must have one element, got shape ", shape_str(t.sizes().vec())));
  return t.detach().to(at::kDouble).reshape({}).item<double>();
}

at::Tensor* OpCall::buffer(size_t i) const {
  if (!buffers || i >= node.inputs.size() || node.inputs[i].empty()) return nullptr;
  auto it = buffers->find(node.inputs[i]);
  return it == buffers->end() ? nullptr : &it->second;
}

void OpCall::set(size_t i, at::Tensor t, DType dtype) {
  if (out.size() < node.outputs.size()) out.resize(node.outputs.size());
  OCTET_CHECK(i < out.size(), node.describe(), " sets output ", i, " of ", out.size());
  if (dtype == DType::Undefined) {
    dtype = natural_dtype(t.scalar_type());
    if (at::isFloatingType(t.scalar_type()))
      for (const TValue& v : in)
        if (v.t.defined() && at::isFloatingType(v.t.scalar_type())) {
          if (v.dtype == DType::Float16 || v.dtype == DType::BFloat16) dtype = v.dtype;
          break;
        }
  }
  out[i] = TValue{std::move(t), dtype};
}

// ---- helpers ---------------------------------------------------------------------------------

std::vector<int64_t> int_values(const at::Tensor& t) {
  const at::Tensor c = t.detach().to(at::kLong).contiguous();
  const int64_t* p = c.data_ptr<int64_t>();
  return std::vector<int64_t>(p, p + c.numel());
}

int64_t norm_axis(const OpCall& call, int64_t axis, int64_t rank) {
  return normalize_axis(axis, rank, call.node);
}

std::vector<int64_t> broadcast(const OpCall& call, at::IntArrayRef a, at::IntArrayRef b) {
  return broadcast_shapes(a.vec(), b.vec(), call.node);
}

at::Tensor legacy_broadcast_b(const OpCall& call, const at::Tensor& a, const at::Tensor& b) {
  const Node& n = call.node;
  if (call.opset >= 7 || n.attr_int("broadcast", 0) != 1 || !n.has_attr("axis")) return b;
  const int64_t ra = a.dim(), rb = b.dim();
  int64_t axis = n.attr_int("axis");
  if (axis < 0) axis += ra;
  if (axis < 0 || axis + rb > ra)
    call.fail(str_cat("legacy broadcast axis ", n.attr_int("axis"), " does not fit B of shape ",
                      shape_str(b.sizes().vec()), " into A of shape ", shape_str(a.sizes().vec())));
  std::vector<int64_t> view(static_cast<size_t>(ra), 1);
  for (int64_t i = 0; i < rb; ++i) view[static_cast<size_t>(axis + i)] = b.size(i);
  return b.reshape(view);
}

// ---- the executor ----------------------------------------------------------------------------

void run_on_executor(OpCall& call) {
  const OpDef* def = OpRegistry::global().find(call.node.op_type, call.node.domain);
  if (!def) call.fail("the op is not registered in octet's executor");
  std::vector<Tensor> owned(call.in.size());
  OpContext ctx{call.node, call.opset, {}, {}};
  for (size_t i = 0; i < call.in.size(); ++i) {
    if (call.has(i)) owned[i] = octet_from_value(call.in[i]);
    ctx.inputs.push_back(call.has(i) ? &owned[i] : nullptr);
  }
  ctx.outputs.resize(call.node.outputs.size());
  def->run(ctx);
  call.out.resize(call.node.outputs.size());
  for (size_t o = 0; o < ctx.outputs.size(); ++o)
    if (ctx.outputs[o].defined()) call.out[o] = value_from_octet(ctx.outputs[o]);
}

OpMapping executor_mapping() {
  OpMapping m;
  m.run = run_on_executor;
  m.all_frozen = true;
  return m;
}

const OpTable& op_table() {
  static const OpTable table = [] {
    OpTable t;
    add_elementwise_ops(t);
    add_nn_ops(t);
    add_shape_ops(t);
    add_resize_ops(t);
    add_reduce_ops(t);
    add_quant_ops(t);
    add_generic_ops(t);
    return t;
  }();
  return table;
}

}  // namespace detail
}  // namespace octet::train
