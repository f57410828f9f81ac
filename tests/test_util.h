// Helpers for op-level tests: build a node, run it through the registry, compare tensors.
#pragma once

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "runtime/op_registry.h"

namespace octet::testing {

inline Node make_node(const std::string& op, std::vector<std::string> inputs,
                      std::vector<std::string> outputs, std::map<std::string, Attribute> attrs = {}) {
  Node n;
  n.name = op + "_test";
  n.op_type = op;
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  n.attrs = std::move(attrs);
  return n;
}

inline Attribute attr_int(int64_t v) { Attribute a; a.kind = Attribute::Kind::Int; a.i = v; return a; }
inline Attribute attr_float(float v) { Attribute a; a.kind = Attribute::Kind::Float; a.f = v; return a; }
inline Attribute attr_string(std::string v) { Attribute a; a.kind = Attribute::Kind::String; a.s = std::move(v); return a; }
inline Attribute attr_ints(std::vector<int64_t> v) { Attribute a; a.kind = Attribute::Kind::Ints; a.ints = std::move(v); return a; }
inline Attribute attr_floats(std::vector<float> v) { Attribute a; a.kind = Attribute::Kind::Floats; a.floats = std::move(v); return a; }
inline Attribute attr_tensor(Tensor v) { Attribute a; a.kind = Attribute::Kind::Tensor; a.t = std::move(v); return a; }

// Runs one op through the global registry. `inputs` may hold default-constructed (undefined)
// tensors for absent optional inputs.
inline std::vector<Tensor> run_op(const Node& node, const std::vector<Tensor>& inputs,
                                  int64_t opset = 21) {
  const OpDef* def = OpRegistry::global().find(node.op_type, node.domain);
  if (!def) throw Error("op not registered: " + node.op_type);
  OpContext ctx{node, opset, {}, {}};
  for (const Tensor& t : inputs) ctx.inputs.push_back(t.defined() ? &t : nullptr);
  ctx.outputs.resize(node.outputs.size());
  def->run(ctx);
  return ctx.outputs;
}

// Random tensor with a printed seed so a failure can be replayed.
inline Tensor random_float(const Shape& shape, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  Tensor t(DType::Float32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

inline void expect_near(const Tensor& got, const Tensor& want, float tol = 1e-5f) {
  ASSERT_EQ(got.dtype(), want.dtype());
  ASSERT_EQ(got.shape(), want.shape()) << shape_str(got.shape()) << " vs " << shape_str(want.shape());
  for (int64_t i = 0; i < got.numel(); ++i)
    ASSERT_NEAR(got.get_as_double(i), want.get_as_double(i), tol) << "at element " << i;
}

}  // namespace octet::testing
