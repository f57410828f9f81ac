#include "passes/opset_upgrade.h"

#include <algorithm>
#include <set>

namespace octet {

namespace {
bool is_default_domain(const std::string& d) { return d.empty() || d == "ai.onnx"; }
}  // namespace

// Why raising the default opset to 21 could change what the model means; empty if it cannot.
std::string opset21_blocker(const Model& model) {
  const int64_t opset = model.default_opset();
  if (opset < kLowestUpgradableOpset)
    return str_cat("opset ", opset, " is below ", kLowestUpgradableOpset,
                   ", from which octet does not raise it to ", kOpsetWithInt4);
  static const std::set<std::string> reduce_axes_moved = {
      "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax",
      "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSumSquare"};
  for (const auto& n : model.graph.nodes) {
    if (!is_default_domain(n->domain)) continue;
    for (const auto& [key, a] : n->attrs)
      if (a.kind == Attribute::Kind::Graph)
        return str_cat(n->describe(), " has a subgraph, whose ops are not checked for opset ",
                       kOpsetWithInt4);
    const std::string& op = n->op_type;
    if (opset < 18 && reduce_axes_moved.count(op) && n->has_attr("axes"))
      return str_cat(n->describe(), " has an 'axes' attribute, an input from opset 18");
    if (opset < 18 && op == "Split" && (n->inputs.size() < 2 || n->inputs[1].empty()))
      return str_cat(n->describe(), " splits evenly without a 'split' input, which needs 'num_outputs' from opset 18");
    if (opset < 20 && (op == "GridSample" || op == "DFT"))
      return str_cat(n->describe(), " changed meaning at opset 20");
    if (opset < 21 && op == "GroupNormalization")
      return str_cat(n->describe(), " changed meaning at opset 21");
  }
  return "";
}

bool raise_opset_to_21(Model& model, std::string* why) {
  if (model.default_opset() >= kOpsetWithInt4) return true;
  const std::string blocker = opset21_blocker(model);
  if (!blocker.empty()) {
    if (why) *why = blocker;
    return false;
  }
  for (auto& o : model.opsets)
    if (is_default_domain(o.domain)) o.version = kOpsetWithInt4;
  model.ir_version = std::max<int64_t>(model.ir_version, kIrVersionWithInt4);
  return true;
}

}  // namespace octet
