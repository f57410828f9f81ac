#include "ir/graph.h"

#include <algorithm>
#include <set>

namespace octet {

TensorType TensorType::of(DType t, const Shape& s) {
  TensorType tt;
  tt.dtype = t;
  tt.has_shape = true;
  for (int64_t d : s) tt.dims.push_back(Dim::known(d));
  return tt;
}

bool TensorType::fully_known() const {
  if (!has_shape) return false;
  return std::all_of(dims.begin(), dims.end(), [](const Dim& d) { return d.is_known(); });
}

Shape TensorType::concrete_shape() const {
  OCTET_CHECK(fully_known(), "concrete_shape of ", str());
  Shape s;
  for (const Dim& d : dims) s.push_back(d.value);
  return s;
}

std::string TensorType::str() const {
  std::string s = dtype_name(dtype);
  if (!has_shape) return s + "[?]";
  s += "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ",";
    if (dims[i].is_known()) s += std::to_string(dims[i].value);
    else s += dims[i].param.empty() ? "?" : dims[i].param;
  }
  return s + "]";
}

namespace {
const Attribute* find_attr(const Node& n, const std::string& key, Attribute::Kind kind) {
  auto it = n.attrs.find(key);
  if (it == n.attrs.end()) return nullptr;
  if (it->second.kind != kind)
    throw Error(str_cat(n.describe(), ": attribute '", key, "' has the wrong type"));
  return &it->second;
}
}  // namespace

std::string Node::describe() const { return str_cat("node '", name, "' (", op_type, ")"); }

int64_t Node::attr_int(const std::string& key, int64_t def) const {
  const Attribute* a = find_attr(*this, key, Attribute::Kind::Int);
  return a ? a->i : def;
}
int64_t Node::attr_int(const std::string& key) const {
  const Attribute* a = find_attr(*this, key, Attribute::Kind::Int);
  if (!a) throw Error(str_cat(describe(), ": required attribute '", key, "' is missing"));
  return a->i;
}
float Node::attr_float(const std::string& key, float def) const {
  const Attribute* a = find_attr(*this, key, Attribute::Kind::Float);
  return a ? a->f : def;
}
std::string Node::attr_string(const std::string& key, const std::string& def) const {
  const Attribute* a = find_attr(*this, key, Attribute::Kind::String);
  return a ? a->s : def;
}
std::vector<int64_t> Node::attr_ints(const std::string& key, std::vector<int64_t> def) const {
  const Attribute* a = find_attr(*this, key, Attribute::Kind::Ints);
  return a ? a->ints : def;
}
std::vector<float> Node::attr_floats(const std::string& key, std::vector<float> def) const {
  const Attribute* a = find_attr(*this, key, Attribute::Kind::Floats);
  return a ? a->floats : def;
}
const Tensor& Node::attr_tensor(const std::string& key) const {
  const Attribute* a = find_attr(*this, key, Attribute::Kind::Tensor);
  if (!a) throw Error(str_cat(describe(), ": required attribute '", key, "' is missing"));
  return a->t;
}

Value& Graph::value(const std::string& name) {
  auto it = values_.find(name);
  if (it == values_.end()) throw Error(str_cat("graph has no value named '", name, "'"));
  return it->second;
}
const Value& Graph::value(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) throw Error(str_cat("graph has no value named '", name, "'"));
  return it->second;
}
Value* Graph::find_value(const std::string& name) {
  auto it = values_.find(name);
  return it == values_.end() ? nullptr : &it->second;
}
const Value* Graph::find_value(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? nullptr : &it->second;
}
Value& Graph::get_or_add_value(const std::string& name) {
  Value& v = values_[name];
  v.name = name;
  return v;
}

std::string Graph::unique_value_name(const std::string& base) const {
  std::string name = base;
  for (int i = 1; find_value(name); ++i) name = str_cat(base, "_", i);
  return name;
}

Node& Graph::add_node(Node n) {
  for (const auto& o : n.outputs)
    if (!o.empty()) get_or_add_value(o);
  nodes.push_back(std::make_unique<Node>(std::move(n)));
  return *nodes.back();
}

void Graph::topo_sort() {
  std::set<std::string> available;
  for (const auto& in : inputs) available.insert(in);
  for (const auto& [name, v] : values_)
    if (v.initializer) available.insert(name);
  // Which node produces each value; a value produced twice is an error.
  std::map<std::string, size_t> producer;
  for (size_t i = 0; i < nodes.size(); ++i)
    for (const auto& o : nodes[i]->outputs) {
      if (o.empty()) continue;
      if (available.count(o) || !producer.emplace(o, i).second)
        throw Error(str_cat(nodes[i]->describe(), ": output '", o,
                            "' is already defined by another node, a graph input or an initializer"));
    }
  for (const auto& n : nodes)
    for (const auto& in : n->inputs)
      if (!in.empty() && !available.count(in) && !producer.count(in))
        throw Error(str_cat(n->describe(), ": input '", in,
                            "' is not a graph input, an initializer or the output of any node"));
  // Kahn's algorithm keeping the file order among ready nodes, for stable output.
  std::vector<size_t> pending(nodes.size(), 0);
  std::vector<std::vector<size_t>> users(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    std::set<size_t> deps;
    for (const auto& in : nodes[i]->inputs) {
      auto it = in.empty() ? producer.end() : producer.find(in);
      if (it != producer.end()) deps.insert(it->second);
    }
    pending[i] = deps.size();
    for (size_t d : deps) users[d].push_back(i);
  }
  std::set<size_t> ready;
  for (size_t i = 0; i < nodes.size(); ++i)
    if (pending[i] == 0) ready.insert(i);
  std::vector<size_t> order;
  while (!ready.empty()) {
    size_t i = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(i);
    for (size_t u : users[i])
      if (--pending[u] == 0) ready.insert(u);
  }
  if (order.size() != nodes.size()) {
    for (size_t i = 0; i < nodes.size(); ++i)
      if (pending[i] != 0)
        throw Error(str_cat(nodes[i]->describe(), " is part of a cycle in the graph"));
  }
  std::vector<std::unique_ptr<Node>> sorted;
  sorted.reserve(nodes.size());
  for (size_t i : order) sorted.push_back(std::move(nodes[i]));
  nodes = std::move(sorted);
}

std::vector<std::string> Graph::initializer_names() const {
  std::vector<std::string> names;
  for (const auto& [name, v] : values_)
    if (v.initializer) names.push_back(name);
  return names;
}

int64_t Model::default_opset() const {
  for (const auto& o : opsets)
    if (o.domain.empty() || o.domain == "ai.onnx") return o.version;
  return 0;
}

Model clone_model(const Model& m) {
  Model c;
  c.ir_version = m.ir_version;
  c.opsets = m.opsets;
  c.producer_name = m.producer_name;
  c.producer_version = m.producer_version;
  c.doc = m.doc;
  c.metadata = m.metadata;
  c.source_path = m.source_path;
  c.graph.name = m.graph.name;
  c.graph.inputs = m.graph.inputs;
  c.graph.outputs = m.graph.outputs;
  for (const auto& [name, v] : m.graph.values()) {
    Value& nv = c.graph.get_or_add_value(name);
    nv = v;
    if (v.initializer) nv.initializer = v.initializer->clone();  // Tensor copies share buffers
  }
  for (const auto& n : m.graph.nodes) c.graph.nodes.push_back(std::make_unique<Node>(*n));
  return c;
}

}  // namespace octet
