#include "passes/fold_constants.h"

#include <map>
#include <optional>
#include <set>
#include <vector>

#include "runtime/op_registry.h"

namespace octet {

namespace {

// Ops whose output is a random sample: folding would freeze one draw.
bool is_random_op(const Node& node) {
  static const std::set<std::string> random_ops = {"RandomNormal", "RandomNormalLike", "RandomUniform",
                                                   "RandomUniformLike", "Multinomial", "Bernoulli"};
  return random_ops.count(node.op_type) != 0;
}

// Dropout is random when its training_mode input (opset >= 12) is true.
bool is_random_dropout(const Node& node, const std::map<std::string, Tensor>& constants) {
  if (node.op_type != "Dropout" || node.inputs.size() < 3 || node.inputs[2].empty()) return false;
  auto it = constants.find(node.inputs[2]);
  if (it == constants.end() || it->second.numel() != 1) return true;  // cannot tell: treat as random
  return it->second.get_as_double(0) != 0;
}

// Combines a declared type with an inferred one without ever throwing: known dims of either side
// are used; where both are known and differ, the dim (or the rank) becomes unknown, so a Shape fold
// never rests on contradictory information. Reporting the contradiction is infer_shapes' job.
TensorType merge_for_folding(const TensorType& declared, const TensorType& inferred) {
  TensorType out;
  out.dtype = inferred.dtype != DType::Undefined ? inferred.dtype : declared.dtype;
  if (!inferred.has_shape) {
    out.has_shape = declared.has_shape;
    out.dims = declared.dims;
    return out;
  }
  if (!declared.has_shape) {
    out.has_shape = true;
    out.dims = inferred.dims;
    return out;
  }
  if (declared.dims.size() != inferred.dims.size()) return out;  // rank unknown
  out.has_shape = true;
  for (size_t i = 0; i < declared.dims.size(); ++i) {
    const Dim& d = declared.dims[i];
    const Dim& n = inferred.dims[i];
    if (n.is_known() && d.is_known() && n.value != d.value) out.dims.push_back(Dim{});
    else out.dims.push_back(n.is_known() ? n : d);
  }
  return out;
}

// Shape or Size of a value whose type is static enough; nullopt otherwise.
std::optional<Tensor> fold_shape_from_type(const Node& node, const TensorType& in) {
  if (!in.has_shape) return std::nullopt;
  const int64_t rank = static_cast<int64_t>(in.dims.size());
  if (node.op_type == "Size") {
    if (!in.fully_known()) return std::nullopt;
    try {
      return Tensor::scalar<int64_t>(shape_numel(in.concrete_shape()));
    } catch (const Error&) {
      return std::nullopt;  // overflowing product: leave it to the runtime to report
    }
  }
  // Shape, with opset 15's start/end (negative counts from the back, clamped to [0, rank]).
  auto clamp = [&](int64_t a) {
    a = a < 0 ? a + rank : a;
    return a < 0 ? 0 : (a > rank ? rank : a);
  };
  const int64_t begin = clamp(node.attr_int("start", 0)), end = clamp(node.attr_int("end", rank));
  std::vector<int64_t> dims;
  for (int64_t i = begin; i < end; ++i) {
    if (!in.dims[i].is_known()) return std::nullopt;
    dims.push_back(in.dims[i].value);
  }
  return Tensor::from_vector<int64_t>({static_cast<int64_t>(dims.size())}, dims);
}

enum class Outcome { Folded, NotConstant, OverLimit, UnknownSize, Unsupported };

struct Evaluation {
  Outcome outcome = Outcome::NotConstant;
  std::vector<Tensor> outputs;  // per node output; undefined where the output name is empty
};

class Folder {
 public:
  Folder(Model& model, const FoldConstantsOptions& options)
      : g_(model.graph), opset_(model.default_opset()), options_(options),
        reg_(OpRegistry::global()) {
    for (const auto& name : g_.initializer_names()) constants_[name] = *g_.value(name).initializer;
    for (const auto& [name, v] : g_.values()) types_[name] = v.type;
  }

  // Decides and evaluates one node; constants and types learned here feed the nodes after it.
  Evaluation visit(const Node& node) {
    Evaluation ev = evaluate(node);
    if (ev.outcome == Outcome::Folded) {
      for (size_t o = 0; o < node.outputs.size(); ++o) {
        if (node.outputs[o].empty()) continue;
        const Tensor& t = ev.outputs[o];
        constants_[node.outputs[o]] = t;
        types_[node.outputs[o]] = TensorType::of(t.dtype(), t.shape());
      }
    } else {
      learn_types(node);
    }
    return ev;
  }

 private:
  Evaluation evaluate(const Node& node) {
    Evaluation ev;
    if (!node.domain.empty()) return ev;
    const OpDef* def = reg_.find(node.op_type, node.domain);
    if (!def) return ev;
    if (is_random_op(node)) return ev;
    if (node.op_type == "DequantizeLinear" && !options_.fold_dequantize_linear) return ev;

    std::vector<const Tensor*> inputs;
    bool all_constant = true;
    for (const auto& in : node.inputs) {
      if (in.empty()) { inputs.push_back(nullptr); continue; }
      auto it = constants_.find(in);
      if (it == constants_.end()) { all_constant = false; inputs.push_back(nullptr); }
      else inputs.push_back(&it->second);
    }
    if (!all_constant) {
      if ((node.op_type == "Shape" || node.op_type == "Size") && node.inputs.size() == 1 &&
          node.outputs.size() == 1 && !node.inputs[0].empty()) {
        auto it = types_.find(node.inputs[0]);
        if (it == types_.end()) return ev;
        if (auto t = fold_shape_from_type(node, it->second)) {
          ev.outcome = Outcome::Folded;
          ev.outputs = {*t};
          ++shape_folds;
        }
      }
      return ev;
    }
    if (is_random_dropout(node, constants_)) return ev;

    const bool is_constant_node = node.op_type == "Constant";
    try {
      if (!is_constant_node) {
        const Outcome size = predict_size(node, *def, inputs);
        if (size != Outcome::Folded) {
          ev.outcome = size;
          return ev;
        }
      }
      OpContext ctx{node, opset_, inputs, {}};
      ctx.outputs.resize(node.outputs.size());
      def->run(ctx);
      ev.outputs = std::move(ctx.outputs);
    } catch (const Unsupported&) {
      ev.outcome = Outcome::Unsupported;
      return ev;
    } catch (const Error& e) {
      throw Error(str_cat("fold-constants: ", node.describe(), " cannot be evaluated on its constant inputs: ",
                          e.what()));
    }
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      if (node.outputs[o].empty()) continue;
      if (!ev.outputs[o].defined())
        throw Error(str_cat("fold-constants: ", node.describe(), " did not produce output '",
                            node.outputs[o], "'"));
      // The prediction is checked again on the real result, in case an inference rule was loose.
      if (!is_constant_node && ev.outputs[o].numel() > options_.max_output_elements) {
        ev.outcome = Outcome::OverLimit;
        ev.outputs.clear();
        return ev;
      }
    }
    ev.outcome = Outcome::Folded;
    return ev;
  }

  // Output sizes from the op's inference rule with every input known exactly. Folded when all
  // wanted outputs have a fully known shape within the limit.
  Outcome predict_size(const Node& node, const OpDef& def, const std::vector<const Tensor*>& inputs) {
    if (!def.infer) return Outcome::UnknownSize;
    std::vector<TensorType> input_types(inputs.size());
    InferContext ictx{node, opset_, {}, inputs, {}};
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i]) input_types[i] = TensorType::of(inputs[i]->dtype(), inputs[i]->shape());
      ictx.inputs.push_back(inputs[i] ? &input_types[i] : nullptr);
    }
    ictx.outputs.resize(node.outputs.size());
    def.infer(ictx);  // an Error here is an Error on constant data: the caller names the node
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      if (node.outputs[o].empty()) continue;
      const TensorType& t = ictx.outputs[o];
      if (!t.fully_known()) return Outcome::UnknownSize;
      try {
        if (shape_numel(t.concrete_shape()) > options_.max_output_elements) return Outcome::OverLimit;
      } catch (const Error&) {
        return Outcome::OverLimit;  // the element count overflows int64
      }
    }
    return Outcome::Folded;
  }

  // Best-effort static types for the outputs of a node that stays, so a later Shape can fold.
  // A rule that throws leaves the declared types: judging the model is not this pass's job.
  void learn_types(const Node& node) {
    const OpDef* def = reg_.find(node.op_type, node.domain);
    if (!def || !def->infer) return;
    static const TensorType unknown;
    InferContext ictx{node, opset_, {}, {}, {}};
    for (const auto& in : node.inputs) {
      if (in.empty()) {
        ictx.inputs.push_back(nullptr);
        ictx.constants.push_back(nullptr);
        continue;
      }
      auto t = types_.find(in);
      ictx.inputs.push_back(t == types_.end() ? &unknown : &t->second);
      auto c = constants_.find(in);
      ictx.constants.push_back(c == constants_.end() ? nullptr : &c->second);
    }
    ictx.outputs.resize(node.outputs.size());
    try {
      def->infer(ictx);
    } catch (const Error&) {
      return;
    }
    for (size_t o = 0; o < node.outputs.size(); ++o)
      if (!node.outputs[o].empty())
        types_[node.outputs[o]] = merge_for_folding(types_[node.outputs[o]], ictx.outputs[o]);
  }

  Graph& g_;
  const int64_t opset_;
  const FoldConstantsOptions& options_;
  const OpRegistry& reg_;
  std::map<std::string, Tensor> constants_;  // initializers and values folded so far
  std::map<std::string, TensorType> types_;  // best static type known for each value

 public:
  int shape_folds = 0;
};

}  // namespace

DeadCodeCounts remove_dead_code(Graph& g) {
  DeadCodeCounts counts;
  // A subgraph (If, Loop, Scan body) may read outer values by name, and octet's IR does not keep
  // subgraph bodies, so their readers are invisible here: remove nothing rather than guess.
  for (const auto& n : g.nodes)
    for (const auto& [key, attr] : n->attrs)
      if (attr.kind == Attribute::Kind::Graph) return counts;
  std::set<std::string> needed(g.outputs.begin(), g.outputs.end());
  std::vector<bool> live(g.nodes.size(), false);
  // Reverse topological order: a node is live when a live node or a graph output reads it.
  for (size_t i = g.nodes.size(); i-- > 0;) {
    const Node& n = *g.nodes[i];
    for (const auto& o : n.outputs)
      if (!o.empty() && needed.count(o)) live[i] = true;
    if (live[i])
      for (const auto& in : n.inputs)
        if (!in.empty()) needed.insert(in);
  }
  std::vector<std::unique_ptr<Node>> kept;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (live[i]) {
      kept.push_back(std::move(g.nodes[i]));
      continue;
    }
    ++counts.nodes;
    for (const auto& o : g.nodes[i]->outputs)
      if (!o.empty()) g.remove_value(o);
  }
  g.nodes = std::move(kept);
  for (const auto& name : g.initializer_names())
    if (!needed.count(name)) {
      g.remove_value(name);
      ++counts.initializers;
    }
  return counts;
}

FoldConstants::FoldConstants(FoldConstantsOptions options) : options_(options) {
  if (options_.max_output_elements < 0)
    throw Error(str_cat("fold-constants: max_output_elements must be >= 0, got ",
                        options_.max_output_elements));
}

bool FoldConstants::run(Model& model) {
  stats_ = {};
  Graph& g = model.graph;
  g.topo_sort();
  Folder folder(model, options_);
  std::vector<std::unique_ptr<Node>> kept;
  for (auto& np : g.nodes) {
    Evaluation ev = folder.visit(*np);
    switch (ev.outcome) {
      case Outcome::Folded: break;
      case Outcome::OverLimit: ++stats_.skipped_over_limit; break;
      case Outcome::UnknownSize: ++stats_.skipped_unknown_size; break;
      case Outcome::Unsupported: ++stats_.skipped_unsupported; break;
      case Outcome::NotConstant: break;
    }
    if (ev.outcome != Outcome::Folded) {
      kept.push_back(std::move(np));
      continue;
    }
    if (np->op_type == "Constant") ++stats_.constant_nodes;
    else ++stats_.nodes_folded;
    for (size_t o = 0; o < np->outputs.size(); ++o) {
      if (np->outputs[o].empty()) continue;
      Value& v = g.value(np->outputs[o]);
      v.type = TensorType::of(ev.outputs[o].dtype(), ev.outputs[o].shape());
      v.initializer = std::move(ev.outputs[o]);
    }
  }
  stats_.shape_nodes_folded = folder.shape_folds;
  g.nodes = std::move(kept);
  const DeadCodeCounts dead = remove_dead_code(g);
  stats_.dead_nodes_removed = dead.nodes;
  stats_.initializers_removed = dead.initializers;
  return stats_.constant_nodes + stats_.nodes_folded + dead.nodes + dead.initializers > 0;
}

}  // namespace octet
