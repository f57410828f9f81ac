// The graph IR: values (typed, possibly with a symbolic batch dim), nodes in topological order,
// initializers, and a model wrapper with opset imports. Only src/onnx converts this to and from
// onnx.proto; everything else in octet sees only these types.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ir/quant_params.h"
#include "ir/tensor.h"

namespace octet {

// A dimension: a known size, a named symbol ("batch", "N"), or unknown.
struct Dim {
  int64_t value = -1;  // >= 0 when known
  std::string param;   // symbol name when not known; may be empty (fully unknown)
  static Dim known(int64_t v) { Dim d; d.value = v; return d; }
  static Dim symbol(std::string s) { Dim d; d.param = std::move(s); return d; }
  bool is_known() const { return value >= 0; }
  bool operator==(const Dim& o) const { return value == o.value && param == o.param; }
  bool operator!=(const Dim& o) const { return !(*this == o); }
};

// Element type and (optionally) shape of a value. has_shape == false: rank unknown.
struct TensorType {
  DType dtype = DType::Undefined;
  bool has_shape = false;
  std::vector<Dim> dims;

  static TensorType of(DType t, const Shape& s);
  bool fully_known() const;
  Shape concrete_shape() const;  // requires fully_known()
  std::string str() const;       // "FLOAT[N,3,224,224]"
};

struct Attribute {
  enum class Kind { Float, Int, String, Tensor, Floats, Ints, Strings, Graph, Unknown };
  Kind kind = Kind::Unknown;
  float f = 0;
  int64_t i = 0;
  std::string s;
  Tensor t;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
};

struct Node {
  std::string name;  // may be empty in the file; the importer gives every node a unique name
  std::string op_type;
  std::string domain;  // "" for the default ONNX domain
  std::vector<std::string> inputs;   // "" marks an absent optional input
  std::vector<std::string> outputs;  // "" marks an absent optional output
  std::map<std::string, Attribute> attrs;

  bool has_attr(const std::string& key) const { return attrs.count(key) != 0; }
  // Typed getters throw Error naming the node if the attribute has the wrong kind.
  int64_t attr_int(const std::string& key, int64_t def) const;
  int64_t attr_int(const std::string& key) const;  // required
  float attr_float(const std::string& key, float def) const;
  std::string attr_string(const std::string& key, const std::string& def) const;
  std::vector<int64_t> attr_ints(const std::string& key, std::vector<int64_t> def = {}) const;
  std::vector<float> attr_floats(const std::string& key, std::vector<float> def = {}) const;
  const Tensor& attr_tensor(const std::string& key) const;
  // "node 'conv1' (Conv)" for messages.
  std::string describe() const;
};

struct Value {
  std::string name;
  TensorType type;
  std::optional<Tensor> initializer;  // constant data
  std::optional<QuantParams> quant;   // set by quantization passes
  std::string doc;
};

class Graph {
 public:
  std::string name;
  std::vector<std::unique_ptr<Node>> nodes;  // topological order after topo_sort()
  std::vector<std::string> inputs;           // graph inputs, initializers excluded
  std::vector<std::string> outputs;

  // Value lookup and creation. value() throws Error if the name is unknown.
  Value& value(const std::string& name);
  const Value& value(const std::string& name) const;
  Value* find_value(const std::string& name);
  const Value* find_value(const std::string& name) const;
  Value& get_or_add_value(const std::string& name);
  const std::map<std::string, Value>& values() const { return values_; }
  void remove_value(const std::string& name) { values_.erase(name); }

  Node& add_node(Node n);
  // A value name not used in the graph yet: `base` itself if free, else base_1, base_2, ... (the
  // one rule every pass that adds values follows).
  std::string unique_value_name(const std::string& base) const;
  // Orders nodes so every input is produced before use. Throws Error naming a node on a cycle
  // or on an input that no node, graph input or initializer provides.
  void topo_sort();
  // Names of initializer values in a stable order.
  std::vector<std::string> initializer_names() const;

 private:
  std::map<std::string, Value> values_;
};

struct OpsetImport {
  std::string domain;  // "" is the default ONNX domain
  int64_t version = 0;
};

struct Model {
  int64_t ir_version = 8;
  std::vector<OpsetImport> opsets;
  std::string producer_name;
  std::string producer_version;
  std::string doc;
  std::map<std::string, std::string> metadata;
  Graph graph;
  std::string source_path;  // file it was loaded from, for messages; empty if built in memory

  // Version of the default ONNX domain ("" or "ai.onnx"); 0 if not imported.
  int64_t default_opset() const;
};

// A deep copy (nodes, values, initializers): passes rewrite the copy, the original is untouched.
Model clone_model(const Model& m);

}  // namespace octet
