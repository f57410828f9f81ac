// octet run MODEL --input NAME=FILE ... --output-dir DIR [--outputs all]
#include <sys/stat.h>

#include <iostream>

#include "io/npy.h"
#include "ir/file_util.h"
#include "onnx/model_io.h"
#include "runtime/executor.h"
#include "runtime/shape_inference.h"
#include "tools/octet/commands.h"
#include "tools/octet/runner.h"

namespace octet::cli {

namespace {

struct RunArgs {
  std::string model;
  std::vector<std::string> inputs;
  std::string output_dir;
  std::string outputs = "graph";
  bool reference = false;
  int threads = 0;
};

void make_dirs(const std::string& dir) {
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    partial = dir.substr(0, pos);
    if (partial.empty() || is_directory(partial)) continue;
    if (::mkdir(partial.c_str(), 0755) != 0 && !is_directory(partial))
      throw Error(str_cat(dir, ": cannot create output folder"));
  }
}

int run_run(const RunArgs& a) {
  Model m = load_model(a.model);
  infer_shapes(m);
  if (a.threads < 0 || a.threads > 1024) throw Error(str_cat("--threads ", a.threads, " must be in 0..1024"));
  RunnerOptions ro;
  // Every intermediate tensor is the model as written: that is the reference executor's job.
  ro.reference = a.reference || a.outputs == "all";
  ro.threads = a.threads;
  ModelRunner exec(m, ro);
  warn_left_in_float(exec);
  std::map<std::string, Tensor> feeds;
  for (const auto& spec : a.inputs) {
    auto eq = spec.find('=');
    std::string name, path;
    if (eq == std::string::npos) {
      if (m.graph.inputs.size() != 1)
        throw Error(str_cat("--input '", spec, "': the model has ", m.graph.inputs.size(),
                            " inputs, so write NAME=FILE"));
      name = m.graph.inputs[0];
      path = spec;
    } else {
      name = spec.substr(0, eq);
      path = spec.substr(eq + 1);
    }
    if (feeds.count(name)) throw Error(str_cat("input '", name, "' is given twice"));
    Tensor t = load_tensor_file(path);
    for (int64_t i = 0; i < t.numel() && dtype_is_float(t.dtype()); ++i) {
      double v = t.get_as_double(i);
      if (v != v) throw Error(str_cat(path, ": input '", name, "' contains NaN at element ", i));
    }
    feeds[name] = std::move(t);
  }
  RunOptions opts;
  opts.keep_intermediates = a.outputs == "all";
  auto results = exec.run(feeds, opts);

  // Graph outputs, then (with --outputs all) every node output, each once.
  std::vector<std::string> names = m.graph.outputs;
  if (opts.keep_intermediates)
    for (const auto& n : m.graph.nodes)
      for (const auto& o : n->outputs)
        if (!o.empty() && results.count(o) && std::find(names.begin(), names.end(), o) == names.end())
          names.push_back(o);
  make_dirs(a.output_dir);
  AtomicWriter writer;
  std::map<std::string, std::string> used;
  for (const auto& name : names) {
    std::string file = safe_file_name(name);
    if (used.count(file)) throw Error(str_cat("tensors '", used[file], "' and '", name, "' map to the same file name"));
    used[file] = name;
    writer.write(join_path(a.output_dir, file + ".npy"), serialize_npy(results.at(name)));
  }
  writer.commit();
  for (const auto& name : m.graph.outputs) {
    const Tensor& t = results.at(name);
    std::cout << name << ": " << dtype_short_name(t.dtype()) << shape_str(t.shape()) << " -> "
              << join_path(a.output_dir, safe_file_name(name) + ".npy") << "\n";
  }
  if (opts.keep_intermediates)
    std::cout << "(" << names.size() - m.graph.outputs.size() << " intermediate tensors written too)\n";
  return 0;
}

}  // namespace

void add_run(CLI::App& app, Command& out) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* sub = app.add_subcommand("run", "Run a model on input tensors and write its outputs as .npy");
  sub->add_option("model", args->model, "ONNX model file")->required();
  sub->add_option("--input,-i", args->inputs, "NAME=FILE (.npy or TensorProto .pb); FILE alone for a one-input model")
      ->required();
  sub->add_option("--output-dir,-o", args->output_dir, "Folder for <output name>.npy files")->required();
  sub->add_option("--outputs", args->outputs, "'graph' (default) or 'all' to also write every intermediate tensor")
      ->check(CLI::IsMember({"graph", "all"}));
  sub->add_flag("--reference", args->reference,
                "Run on the reference executor (the model as written, Q/DQ simulated in float) instead of the engine");
  sub->add_option("--threads,-t", args->threads, "Engine threads (default: all cores)");
  sub->callback([args, &out] { out = [args] { return run_run(*args); }; });
}

}  // namespace octet::cli
