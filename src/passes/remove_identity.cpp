#include "passes/remove_identity.h"

#include <map>
#include <set>

namespace octet {

namespace {

// True when `node` copies its first input to its only wanted output.
bool is_identity(const Graph& g, const Node& node) {
  if (!node.domain.empty() || node.inputs.empty() || node.inputs[0].empty() || node.outputs.empty() ||
      node.outputs[0].empty())
    return false;
  if (node.op_type == "Identity") return node.inputs.size() == 1 && node.outputs.size() == 1;
  if (node.op_type != "Dropout") return false;
  for (size_t o = 1; o < node.outputs.size(); ++o)
    if (!node.outputs[o].empty()) return false;  // the mask is wanted
  if (node.inputs.size() < 3 || node.inputs[2].empty()) return true;
  const Value* mode = g.find_value(node.inputs[2]);  // training_mode: only a constant false is safe
  return mode && mode->initializer && mode->initializer->numel() == 1 &&
         mode->initializer->get_as_double(0) == 0;
}

void rename_reads(Graph& g, const std::string& from, const std::string& to) {
  for (auto& n : g.nodes)
    for (auto& in : n->inputs)
      if (in == from) in = to;
}

}  // namespace

bool RemoveIdentity::run(Model& model) {
  removed_ = 0;
  Graph& g = model.graph;
  g.topo_sort();
  const std::set<std::string> graph_inputs(g.inputs.begin(), g.inputs.end());
  const std::set<std::string> graph_outputs(g.outputs.begin(), g.outputs.end());
  std::map<std::string, Node*> producer;
  for (auto& n : g.nodes)
    for (const auto& o : n->outputs)
      if (!o.empty()) producer[o] = n.get();

  std::set<const Node*> removed;
  for (auto& np : g.nodes) {
    Node& node = *np;
    if (!is_identity(g, node)) continue;
    const std::string x = node.inputs[0], y = node.outputs[0];
    if (!graph_outputs.count(y)) {
      removed.insert(&node);  // before renaming, so the node's own input is not touched twice
      rename_reads(g, y, x);
      g.remove_value(y);
      producer.erase(y);
    } else {
      auto p = producer.find(x);
      const Value* xv = g.find_value(x);
      if (p == producer.end() || graph_outputs.count(x) || graph_inputs.count(x) || (xv && xv->initializer))
        continue;
      Node& src = *p->second;
      for (auto& o : src.outputs)
        if (o == x) o = y;
      rename_reads(g, x, y);  // includes this node's own input, which is removed below
      Value& yv = g.value(y);
      if (yv.type.dtype == DType::Undefined && !yv.type.has_shape && xv) yv.type = xv->type;
      g.remove_value(x);
      producer.erase(x);
      producer[y] = &src;
      removed.insert(&node);
    }
    ++removed_;
  }
  if (removed.empty()) return false;
  std::vector<std::unique_ptr<Node>> kept;
  for (auto& np : g.nodes)
    if (!removed.count(np.get())) kept.push_back(std::move(np));
  g.nodes = std::move(kept);
  return true;
}

}  // namespace octet
