// TorchGraph: runs an octet graph node by node through the op table of torch_ops.h.
#include "train/torch_graph.h"

#include <set>

#include "runtime/op_registry.h"
#include "train/torch_ops.h"

namespace octet::train {

using detail::OpCall;
using detail::OpMapping;
using detail::TValue;

struct TorchGraph::Plan {
  struct Step {
    const Node* node;  // into `nodes`
    const OpMapping* mapping;
    std::vector<std::string> frees;  // values whose last use this step is
  };
  std::vector<Node> nodes;
  std::vector<Step> steps;
  int64_t opset = 0;
  std::vector<std::string> inputs, outputs;
  std::map<std::string, TensorType> input_types;
  std::map<std::string, TValue> constants;  // non-parameter initializers and Constant outputs
};

namespace {

// Whether an initializer feeding `slot` of `node` may be a trainable parameter.
bool trainable_slot(const Node& node, const OpMapping& m, size_t slot, const Tensor& init) {
  if (m.all_frozen) return false;
  for (size_t f : m.frozen)
    if (f == slot) return false;
  // A one-element Max/Min operand is a bound (ReLU6 written as Max/Min), not a weight.
  if ((node.op_type == "Max" || node.op_type == "Min") && init.numel() == 1) return false;
  return true;
}

const OpMapping& mapping_for(const Node& node) {
  const bool default_domain = node.domain.empty() || node.domain == "ai.onnx";
  const detail::OpTable& table = detail::op_table();
  auto it = default_domain ? table.find(node.op_type) : table.end();
  if (it == table.end())
    throw Error(str_cat(node.describe(), ": op ", node.domain.empty() ? "" : node.domain + ".", node.op_type,
                        " is not supported by the libtorch bridge"));
  // Executor-run ops (and index-map ops) need the op in the executor's registry.
  if (it->second.all_frozen && !OpRegistry::global().find(node.op_type, node.domain))
    throw Error(str_cat(node.describe(), ": op ", node.op_type,
                        " is not supported by the libtorch bridge (octet's executor does not run it)"));
  return it->second;
}

}  // namespace

TorchGraph::TorchGraph(const Model& model) {
  auto plan = std::make_shared<Plan>();
  const Graph& g = model.graph;
  plan->opset = model.default_opset();
  plan->inputs = g.inputs;
  plan->outputs = g.outputs;
  for (const std::string& name : g.inputs) plan->input_types[name] = g.value(name).type;
  plan->nodes.reserve(g.nodes.size());
  for (const auto& n : g.nodes) plan->nodes.push_back(*n);

  // Mappings, and the order check: every input is a graph input, an initializer or an earlier
  // node's output.
  std::set<std::string> available(g.inputs.begin(), g.inputs.end());
  for (const std::string& name : g.initializer_names()) available.insert(name);
  for (const Node& node : plan->nodes) {
    const OpMapping& m = mapping_for(node);
    for (const std::string& in : node.inputs)
      if (!in.empty() && !available.count(in))
        throw Error(str_cat(node.describe(), ": input '", in,
                            "' is not a graph input, an initializer or an earlier node's output"));
    for (const std::string& out : node.outputs)
      if (!out.empty()) available.insert(out);
    plan->steps.push_back(Plan::Step{&node, &m, {}});
  }
  for (const std::string& out : g.outputs)
    if (!available.count(out)) throw Error(str_cat("graph output '", out, "' is not computed by any node"));

  // Initializers: parameters, buffers (BatchNormalization statistics) or constants.
  std::map<std::string, std::vector<std::pair<const Plan::Step*, size_t>>> uses;
  for (const Plan::Step& s : plan->steps)
    for (size_t i = 0; i < s.node->inputs.size(); ++i)
      if (!s.node->inputs[i].empty()) uses[s.node->inputs[i]].push_back({&s, i});
  for (const std::string& name : g.initializer_names()) {
    const Tensor& init = *g.value(name).initializer;
    bool buffer = false, trainable = false;
    for (const auto& [step, slot] : uses[name]) {
      if (step->node->op_type == "BatchNormalization" && (slot == 3 || slot == 4))
        buffer = true;
      else if (trainable_slot(*step->node, *step->mapping, slot, init))
        trainable = true;
    }
    if (init.dtype() == DType::Float32 && buffer)
      buffers_[name] = to_torch(init);
    else if (init.dtype() == DType::Float32 && trainable)
      params_[name] = to_torch(init).requires_grad_(true);
    else
      plan->constants[name] = detail::value_from_octet(init);
  }

  // Constant nodes are evaluated once.
  std::vector<Plan::Step> kept;
  for (const Plan::Step& s : plan->steps) {
    if (s.node->op_type != "Constant" || !s.node->inputs.empty() || !s.mapping->all_frozen) {
      kept.push_back(s);
      continue;
    }
    OpCall call(*s.node, plan->opset, false);
    detail::run_on_executor(call);
    for (size_t o = 0; o < s.node->outputs.size(); ++o)
      if (!s.node->outputs[o].empty()) plan->constants[s.node->outputs[o]] = call.out[o];
  }
  plan->steps = std::move(kept);

  // Lifetimes: a value is dropped after its last use unless it is a graph output.
  std::set<std::string> keep(g.outputs.begin(), g.outputs.end());
  std::map<std::string, size_t> last_use;
  for (size_t i = 0; i < plan->steps.size(); ++i)
    for (const std::string& in : plan->steps[i].node->inputs)
      if (!in.empty()) last_use[in] = i;
  for (const auto& [name, i] : last_use)
    if (!keep.count(name)) plan->steps[i].frees.push_back(name);
  plan_ = std::move(plan);
}

std::vector<torch::Tensor> TorchGraph::parameters() const {
  std::vector<torch::Tensor> out;
  for (const auto& [name, t] : params_) out.push_back(t);
  return out;
}

std::vector<std::string> TorchGraph::parameter_names() const {
  std::vector<std::string> out;
  for (const auto& [name, t] : params_) out.push_back(name);
  return out;
}

std::vector<torch::Tensor> TorchGraph::buffers() const {
  std::vector<torch::Tensor> out;
  for (const auto& [name, t] : buffers_) out.push_back(t);
  return out;
}

std::vector<std::string> TorchGraph::buffer_names() const {
  std::vector<std::string> out;
  for (const auto& [name, t] : buffers_) out.push_back(name);
  return out;
}

std::map<std::string, torch::Tensor> TorchGraph::forward(const std::map<std::string, torch::Tensor>& inputs,
                                                         bool training) {
  const Plan& plan = *plan_;
  std::map<std::string, TValue> env = plan.constants;
  for (const auto& [name, t] : params_) env[name] = TValue{t, DType::Float32};
  for (const auto& [name, t] : buffers_) env[name] = TValue{t, DType::Float32};

  for (const auto& [name, t] : inputs)
    if (!plan.input_types.count(name))
      throw Error(str_cat("input '", name, "' is not an input of the model"));
  for (const std::string& name : plan.inputs) {
    auto it = inputs.find(name);
    if (it == inputs.end())
      throw Error(str_cat("missing input '", name, "' (", plan.input_types.at(name).str(), ")"));
    const torch::Tensor& t = it->second;
    const TensorType& want = plan.input_types.at(name);
    const DType got = detail::natural_dtype(t.scalar_type());
    DType d = want.dtype == DType::Undefined ? got : want.dtype;
    if (want.dtype != DType::Undefined && detail::carrier_type(want.dtype) != t.scalar_type() &&
        got != want.dtype)
      throw Error(str_cat("input '", name, "' has element type ", dtype_name(got), ", the model expects ",
                          dtype_name(want.dtype)));
    if (want.has_shape && static_cast<size_t>(t.dim()) != want.dims.size())
      throw Error(str_cat("input '", name, "' has shape ", shape_str(t.sizes().vec()), ", the model expects ",
                          want.str()));
    torch::Tensor v = t;
    if (d == DType::Float16 || d == DType::BFloat16) v = v.to(torch::kFloat);
    env[name] = TValue{v, d};
  }

  const OpRegistry& registry = OpRegistry::global();
  for (const Plan::Step& step : plan.steps) {
    const Node& node = *step.node;
    const OpMapping& m = *step.mapping;
    OpCall call(node, plan.opset, training);
    call.buffers = &buffers_;
    call.in.resize(node.inputs.size());
    bool any_float = false;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (node.inputs[i].empty()) continue;
      auto it = env.find(node.inputs[i]);
      OCTET_CHECK(it != env.end(), "value '", node.inputs[i], "' missing before ", node.describe());
      TValue v = it->second;
      if (detail::is_int_carrier(v) && !m.reads_carriers && !(m.moves_carriers && i == 0))
        v.t = detail::materialize(v);
      if (pre_hook_) v.t = pre_hook_(node, i, v.t);
      any_float = any_float || at::isFloatingType(v.t.scalar_type());
      call.in[i] = std::move(v);
    }
    call.out.resize(node.outputs.size());
    try {
      if (!any_float && registry.find(node.op_type, node.domain))
        detail::run_on_executor(call);
      else
        m.run(call);
    } catch (const c10::Error& e) {
      throw Error(str_cat(node.describe(), ": ", e.what_without_backtrace()));
    }
    const bool carrier_in = m.moves_carriers && !call.in.empty() && detail::is_int_carrier(call.in[0]);
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      if (node.outputs[o].empty()) continue;
      TValue& v = call.out[o];
      if (!v.t.defined())
        throw Error(str_cat(node.describe(), ": did not produce output '", node.outputs[o], "'"));
      if (carrier_in && at::isFloatingType(v.t.scalar_type())) v.dtype = call.in[0].dtype;
      if (post_hook_) v.t = post_hook_(node, o, v.t);
      env[node.outputs[o]] = std::move(v);
    }
    for (const std::string& name : step.frees) env.erase(name);
  }

  std::map<std::string, torch::Tensor> result;
  for (const std::string& name : plan.outputs) {
    auto it = env.find(name);
    OCTET_CHECK(it != env.end(), "graph output '", name, "' missing");
    result[name] = detail::materialize(it->second);
  }
  return result;
}

torch::Tensor TorchGraph::forward_one(const torch::Tensor& input, bool training) {
  const Plan& plan = *plan_;
  if (plan.inputs.size() != 1)
    throw Error(str_cat("forward_one needs a graph with one input; this one has ", plan.inputs.size()));
  if (plan.outputs.size() != 1)
    throw Error(str_cat("forward_one needs a graph with one output; this one has ", plan.outputs.size()));
  return forward({{plan.inputs[0], input}}, training).at(plan.outputs[0]);
}

void TorchGraph::write_back(Model& model) const {
  auto put = [&model](const std::string& name, const torch::Tensor& t) {
    Value* v = model.graph.find_value(name);
    if (!v || !v->initializer) throw Error(str_cat("write_back: the model has no initializer '", name, "'"));
    Tensor data = from_torch(t.detach().to(torch::kFloat));
    if (data.shape() != v->initializer->shape())
      throw Error(str_cat("write_back: initializer '", name, "' has shape ",
                          shape_str(v->initializer->shape()), " in the model but ", shape_str(data.shape()),
                          " in the bridge"));
    v->initializer = std::move(data);
    v->type = TensorType::of(DType::Float32, v->initializer->shape());
  };
  for (const auto& [name, t] : params_) put(name, t);
  for (const auto& [name, t] : buffers_) put(name, t);
}

}  // namespace octet::train
