#include "runtime/executor.h"

#include <set>

#include "runtime/op_registry.h"

namespace octet {

std::map<std::string, std::string> unsupported_ops(const Model& model) {
  std::map<std::string, std::string> missing;
  const OpRegistry& reg = OpRegistry::global();
  for (const auto& n : model.graph.nodes)
    if (!reg.find(n->op_type, n->domain)) {
      std::string key = n->domain.empty() ? n->op_type : n->domain + "." + n->op_type;
      missing.emplace(key, n->name);
    }
  return missing;
}

Executor::Executor(const Model& model) : model_(model), opset_(model.default_opset()) {
  auto missing = unsupported_ops(model);
  if (!missing.empty()) {
    std::string list;
    for (const auto& [op, node] : missing) list += str_cat(list.empty() ? "" : ", ", op, " (node '", node, "')");
    throw Error(str_cat(model.source_path.empty() ? "model" : model.source_path,
                        ": unsupported op", missing.size() > 1 ? "s: " : ": ", list));
  }
  // Last use of each non-output value, so intermediates can be freed early.
  const Graph& g = model.graph;
  std::set<std::string> keep(g.outputs.begin(), g.outputs.end());
  std::map<std::string, size_t> last_use;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (const auto& in : g.nodes[i]->inputs)
      if (!in.empty()) last_use[in] = i;
  frees_after_.resize(g.nodes.size());
  for (const auto& [name, idx] : last_use) {
    const Value* v = g.find_value(name);
    if (keep.count(name) || (v && v->initializer)) continue;
    frees_after_[idx].push_back(name);
  }
}

void Executor::check_feeds(const std::map<std::string, Tensor>& feeds) const {
  const Graph& g = model_.graph;
  std::set<std::string> expected(g.inputs.begin(), g.inputs.end());
  for (const auto& [name, t] : feeds)
    if (!expected.count(name)) {
      std::string list;
      for (const auto& e : g.inputs) list += (list.empty() ? "'" : ", '") + e + "'";
      throw Error(str_cat("input '", name, "' is not an input of the model (its inputs: ", list, ")"));
    }
  std::map<std::string, int64_t> symbols;
  for (const auto& name : g.inputs) {
    auto it = feeds.find(name);
    if (it == feeds.end()) throw Error(str_cat("missing input '", name, "' (", g.value(name).type.str(), ")"));
    const Tensor& t = it->second;
    const TensorType& want = g.value(name).type;
    if (want.dtype != DType::Undefined && t.dtype() != want.dtype)
      throw Error(str_cat("input '", name, "' has element type ", dtype_name(t.dtype()),
                          ", the model expects ", dtype_name(want.dtype)));
    if (!want.has_shape) continue;
    if (t.rank() != want.dims.size())
      throw Error(str_cat("input '", name, "' has shape ", shape_str(t.shape()), ", the model expects ",
                          want.str()));
    for (size_t d = 0; d < want.dims.size(); ++d) {
      const Dim& wd = want.dims[d];
      if (wd.is_known() && wd.value != t.dim(d))
        throw Error(str_cat("input '", name, "' has shape ", shape_str(t.shape()),
                            ", the model expects ", want.str(), " (dimension ", d, ")"));
      if (!wd.is_known() && !wd.param.empty()) {
        auto [sit, fresh] = symbols.emplace(wd.param, t.dim(d));
        if (!fresh && sit->second != t.dim(d))
          throw Error(str_cat("input '", name, "' binds dimension '", wd.param, "' to ", t.dim(d),
                              " but another input bound it to ", sit->second));
      }
    }
  }
}

std::map<std::string, Tensor> Executor::run(const std::map<std::string, Tensor>& feeds,
                                            const RunOptions& options) const {
  check_feeds(feeds);
  const Graph& g = model_.graph;
  std::map<std::string, Tensor> env = feeds;
  std::map<std::string, const Tensor*> constants;
  for (const auto& name : g.initializer_names()) constants[name] = &*g.value(name).initializer;

  const OpRegistry& reg = OpRegistry::global();
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& node = *g.nodes[i];
    const OpDef* def = reg.find(node.op_type, node.domain);
    OCTET_CHECK(def, "op vanished from registry: ", node.op_type);
    OpContext ctx{node, opset_, {}, {}};
    ctx.inputs.reserve(node.inputs.size());
    for (const auto& in : node.inputs) {
      if (in.empty()) { ctx.inputs.push_back(nullptr); continue; }
      auto it = env.find(in);
      if (it != env.end()) { ctx.inputs.push_back(&it->second); continue; }
      auto ct = constants.find(in);
      OCTET_CHECK(ct != constants.end(), "value '", in, "' not computed before ", node.describe());
      ctx.inputs.push_back(ct->second);
    }
    ctx.outputs.resize(node.outputs.size());
    def->run(ctx);
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      if (node.outputs[o].empty()) continue;
      if (!ctx.outputs[o].defined())
        throw Error(str_cat(node.describe(), ": did not produce output '", node.outputs[o], "'"));
      env[node.outputs[o]] = std::move(ctx.outputs[o]);
    }
    if (!options.keep_intermediates)
      for (const auto& name : frees_after_[i]) env.erase(name);
  }
  std::map<std::string, Tensor> result;
  if (options.keep_intermediates) {
    for (const auto& out : g.outputs)  // an output that is an initializer is not in env
      if (!env.count(out) && constants.count(out)) env[out] = *constants[out];
    return env;
  }
  for (const auto& out : g.outputs) {
    auto it = env.find(out);
    if (it != env.end()) result[out] = it->second;
    else if (constants.count(out)) result[out] = *constants[out];
    else throw Error(str_cat("graph output '", out, "' was not computed"));
  }
  return result;
}

}  // namespace octet
