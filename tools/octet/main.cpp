// octet: quantize ONNX models and run them. See README.md.
#include <malloc.h>

#include <CLI/CLI.hpp>

#include <string>

#include "tools/octet/commands.h"

int main(int argc, char** argv) {
  // Inference allocates the same activation buffers on every run. glibc serves large blocks with
  // fresh mmap()s (page faults and kernel zeroing each time: ~8% of a small model's INT8 run) and
  // trims the heap back eagerly; keep blocks up to 64 MiB on the heap and trim above 256 MiB of
  // free space, so a run reuses the previous run's pages.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
#ifdef OCTET_HAVE_TRAIN
  // Before parsing: octet-train parses its own options (see commands.h).
  if (argc >= 2 && std::string(argv[1]) == "train") return octet::cli::exec_train(argc - 1, argv + 1);
#endif
  CLI::App app{"octet: turn floating-point ONNX models into fast, accurate low-precision models"};
  app.require_subcommand(1);
  octet::cli::Command command;
  octet::cli::add_inspect(app, command);
  octet::cli::add_run(app, command);
  octet::cli::add_conformance(app, command);
  octet::cli::add_convert(app, command);
#ifdef OCTET_HAVE_TRAIN
  octet::cli::add_train_listing(app);
#endif
  octet::cli::add_zoo(app, command);
  octet::cli::add_eval(app, command);
  octet::cli::add_quantize(app, command);
  octet::cli::add_bench(app, command);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);  // help goes to stdout, usage errors to stderr with a non-zero code
  }
  return octet::cli::run_command(command, "octet");
}
