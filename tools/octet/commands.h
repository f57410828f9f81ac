// Sub-commands of the `octet` program. Each add_* registers its options on the app and returns
// a callback the main function runs; errors are thrown as octet::Error and printed by main.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

#include "ir/tensor.h"

namespace octet::cli {

using Command = std::function<int()>;

void add_inspect(CLI::App& app, Command& out);
void add_run(CLI::App& app, Command& out);
void add_conformance(CLI::App& app, Command& out);
void add_convert(CLI::App& app, Command& out);
// `octet train` runs in its own program, build/octet-train, the only one linked with libtorch:
// loading libtorch (its static initialisers and ~290 shared libraries) costs every process about a
// second and 150 MiB, which every other command would pay for nothing. `octet` lists the command
// (add_train_listing) and hands `octet train ...` to that program (exec_train); octet-train
// registers the options on its own app (add_train_options).
inline constexpr const char* kTrainDescription = "Train an ONNX classifier (or zoo:NAME) with libtorch";
void add_train_listing(CLI::App& app);
// argv[0] is "train"; replaces the process with <octet's folder>/octet-train argv[1..]. Returns
// (1, with a message naming the program) only when that fails.
int exec_train(int argc, char** argv);
void add_train_options(CLI::App& app, Command& out);
void add_zoo(CLI::App& app, Command& out);
void add_eval(CLI::App& app, Command& out);
void add_quantize(CLI::App& app, Command& out);
void add_bench(CLI::App& app, Command& out);

// Runs a parsed command with octet's error handling: octet::Error -> message and exit code 1,
// an internal error -> 3; returns the command's own exit code otherwise (2 if there is none).
int run_command(const Command& command, const char* program);

// Loads a tensor from .npy or ONNX TensorProto .pb (chosen by extension, then by content).
Tensor load_tensor_file(const std::string& path);
// Replaces characters that are not safe in file names.
std::string safe_file_name(const std::string& tensor_name);

}  // namespace octet::cli
