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
void add_train(CLI::App& app, Command& out);
void add_zoo(CLI::App& app, Command& out);
void add_eval(CLI::App& app, Command& out);
void add_quantize(CLI::App& app, Command& out);
void add_bench(CLI::App& app, Command& out);

// Loads a tensor from .npy or ONNX TensorProto .pb (chosen by extension, then by content).
Tensor load_tensor_file(const std::string& path);
// Replaces characters that are not safe in file names.
std::string safe_file_name(const std::string& tensor_name);

}  // namespace octet::cli
