// octet convert IN -o OUT [--external-data N]: import then export, optionally moving large
// initializers to an external data file. Proves the IR round-trips a model.
#include <iostream>

#include "onnx/model_io.h"
#include "runtime/shape_inference.h"
#include "tools/octet/commands.h"

namespace octet::cli {

namespace {

struct ConvertArgs {
  std::string in, out;
  int64_t external_threshold = -1;
  bool infer = false;
};

int run_convert(const ConvertArgs& a) {
  Model m = load_model(a.in);
  if (a.infer) infer_shapes(m);
  SaveOptions opts;
  opts.external_data_threshold = a.external_threshold;
  save_model(m, a.out, opts);
  std::cout << a.in << " -> " << a.out << " (" << m.graph.nodes.size() << " nodes, "
            << m.graph.initializer_names().size() << " initializers)\n";
  return 0;
}

}  // namespace

void add_convert(CLI::App& app, Command& out) {
  auto args = std::make_shared<ConvertArgs>();
  CLI::App* sub = app.add_subcommand("convert", "Import a model into octet's IR and write it back as ONNX");
  sub->add_option("model", args->in, "ONNX model file")->required();
  sub->add_option("-o,--output", args->out, "Output ONNX file")->required();
  sub->add_option("--external-data", args->external_threshold,
                  "Store initializers of at least this many bytes in <output>.data (default: inline)");
  sub->add_flag("--infer-shapes", args->infer, "Record inferred types of intermediate tensors (value_info)");
  sub->callback([args, &out] { out = [args] { return run_convert(*args); }; });
}

}  // namespace octet::cli
