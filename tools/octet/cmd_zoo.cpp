// octet zoo NAME --out-dir DIR: writes a model defined in code (model.onnx) and a sample input.
#include <iostream>

#include "io/npy.h"
#include "ir/file_util.h"
#include "onnx/model_io.h"
#include "runtime/shape_inference.h"
#include "tools/octet/commands.h"
#include "zoo/zoo.h"

namespace octet::cli {

namespace {

struct ZooArgs {
  std::string name;
  std::string out_dir;
  uint32_t seed = 1;
  int64_t batch = 2;
};

int run_zoo(const ZooArgs& a) {
  Model m = zoo::make_model(a.name, a.seed);
  infer_shapes(m);  // records output and intermediate types in the file
  if (!is_directory(a.out_dir)) throw Error(str_cat(a.out_dir, ": output folder does not exist"));
  if (a.batch < 1 || a.batch > 4096) throw Error(str_cat("--batch ", a.batch, " must be in 1..4096"));
  save_model(m, join_path(a.out_dir, "model.onnx"));
  save_npy(zoo::sample_input(m, a.batch, a.seed + 1000), join_path(a.out_dir, "input.npy"));
  std::cout << "wrote " << join_path(a.out_dir, "model.onnx") << " and " << join_path(a.out_dir, "input.npy") << "\n";
  return 0;
}

}  // namespace

void add_zoo(CLI::App& app, Command& out) {
  auto args = std::make_shared<ZooArgs>();
  CLI::App* sub = app.add_subcommand("zoo", "Write a model defined in octet's code, with a sample input");
  sub->add_option("name", args->name, "Model name (tiny-cnn, lenet, resnet8, mobilenetv2-tiny, vit-tiny)")->required();
  sub->add_option("--out-dir", args->out_dir, "Existing folder for model.onnx and input.npy")->required();
  sub->add_option("--seed", args->seed, "Seed for the weights (default 1)");
  sub->add_option("--batch", args->batch, "Batch size of the sample input (default 2)");
  sub->callback([args, &out] { out = [args] { return run_zoo(*args); }; });
}

}  // namespace octet::cli
