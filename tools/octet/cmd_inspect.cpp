// octet inspect MODEL [--json]: what a model is made of.
#include <nlohmann/json.hpp>

#include <iomanip>
#include <iostream>
#include <map>

#include "onnx/model_io.h"
#include "runtime/executor.h"
#include "runtime/shape_inference.h"
#include "tools/octet/commands.h"

namespace octet::cli {

namespace {

struct InspectArgs {
  std::string model;
  bool json = false;
};

int run_inspect(const InspectArgs& a) {
  Model m = load_model(a.model);
  infer_shapes(m);
  const Graph& g = m.graph;

  std::map<std::string, int> op_counts;
  for (const auto& n : g.nodes) op_counts[n->domain.empty() ? n->op_type : n->domain + "." + n->op_type]++;
  struct Tally { int64_t tensors = 0, params = 0, bytes = 0; };
  std::map<std::string, Tally> by_dtype;
  int64_t total_params = 0, total_bytes = 0;
  for (const auto& name : g.initializer_names()) {
    const Tensor& t = *g.value(name).initializer;
    Tally& tl = by_dtype[dtype_name(t.dtype())];
    // Bytes as stored in the file: 4-bit types pack two per byte.
    int64_t bytes = (t.dtype() == DType::Int4 || t.dtype() == DType::UInt4) ? (t.numel() + 1) / 2
                                                                             : static_cast<int64_t>(t.nbytes());
    tl.tensors++;
    tl.params += t.numel();
    tl.bytes += bytes;
    total_params += t.numel();
    total_bytes += bytes;
  }
  auto missing = unsupported_ops(m);

  if (a.json) {
    nlohmann::json j;
    j["model"] = a.model;
    j["ir_version"] = m.ir_version;
    j["producer"] = m.producer_name;
    if (!m.doc.empty()) j["doc"] = m.doc;
    for (const auto& o : m.opsets) j["opsets"][o.domain.empty() ? "ai.onnx" : o.domain] = o.version;
    auto io = [&](const std::vector<std::string>& names) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& n : names) {
        const TensorType& t = g.value(n).type;
        nlohmann::json shape = nlohmann::json::array();
        for (const Dim& d : t.dims) {
          if (d.is_known()) shape.push_back(d.value);
          else shape.push_back(d.param.empty() ? nlohmann::json(nullptr) : nlohmann::json(d.param));
        }
        arr.push_back({{"name", n}, {"dtype", dtype_name(t.dtype)},
                       {"shape", t.has_shape ? shape : nlohmann::json(nullptr)}});
      }
      return arr;
    };
    j["inputs"] = io(g.inputs);
    j["outputs"] = io(g.outputs);
    j["nodes"] = g.nodes.size();
    j["ops"] = op_counts;
    j["parameters"] = {{"total", total_params}, {"bytes", total_bytes}};
    for (const auto& [dt, tl] : by_dtype)
      j["parameters"]["by_dtype"][dt] = {{"tensors", tl.tensors}, {"count", tl.params}, {"bytes", tl.bytes}};
    j["unsupported_ops"] = nlohmann::json::array();
    for (const auto& [op, node] : missing) j["unsupported_ops"].push_back(op);
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << "model:     " << a.model << "\n";
  std::cout << "ir:        " << m.ir_version << "   producer: " << (m.producer_name.empty() ? "-" : m.producer_name)
            << "\n";
  std::cout << "opsets:   ";
  for (const auto& o : m.opsets) std::cout << " " << (o.domain.empty() ? "ai.onnx" : o.domain) << " " << o.version;
  std::cout << "\n\ninputs:\n";
  for (const auto& n : g.inputs) std::cout << "  " << std::left << std::setw(24) << n << " " << g.value(n).type.str() << "\n";
  std::cout << "outputs:\n";
  for (const auto& n : g.outputs) std::cout << "  " << std::left << std::setw(24) << n << " " << g.value(n).type.str() << "\n";
  std::cout << "\nops: " << g.nodes.size() << " nodes\n";
  for (const auto& [op, c] : op_counts) std::cout << "  " << std::left << std::setw(24) << op << " " << c << "\n";
  std::cout << "\nparameters: " << total_params << " in " << g.initializer_names().size() << " tensors, "
            << total_bytes << " bytes\n";
  for (const auto& [dt, tl] : by_dtype)
    std::cout << "  " << std::left << std::setw(10) << dt << " " << std::right << std::setw(12) << tl.params
              << " params " << std::setw(12) << tl.bytes << " bytes  (" << tl.tensors << " tensors)\n";
  if (!missing.empty()) {
    std::cout << "\nunsupported ops (octet cannot run this model):";
    for (const auto& [op, node] : missing) std::cout << " " << op;
    std::cout << "\n";
  }
  return 0;
}

}  // namespace

void add_inspect(CLI::App& app, Command& out) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* sub = app.add_subcommand("inspect", "Show a model's opset, inputs, outputs, ops and parameters");
  sub->add_option("model", args->model, "ONNX model file")->required();
  sub->add_flag("--json", args->json, "Print JSON instead of a table");
  sub->callback([args, &out] { out = [args] { return run_inspect(*args); }; });
}

}  // namespace octet::cli
