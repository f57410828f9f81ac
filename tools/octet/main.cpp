// octet: quantize ONNX models and run them. See README.md.
#include <malloc.h>

#include <CLI/CLI.hpp>

#include <iostream>

#include "ir/error.h"
#include "tools/octet/commands.h"

int main(int argc, char** argv) {
  // Inference allocates the same activation buffers on every run. glibc serves large blocks with
  // fresh mmap()s (page faults and kernel zeroing each time: ~8% of a small model's INT8 run) and
  // trims the heap back eagerly; keep blocks up to 64 MiB on the heap and trim above 256 MiB of
  // free space, so a run reuses the previous run's pages.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  CLI::App app{"octet: turn floating-point ONNX models into fast, accurate low-precision models"};
  app.require_subcommand(1);
  octet::cli::Command command;
  octet::cli::add_inspect(app, command);
  octet::cli::add_run(app, command);
  octet::cli::add_conformance(app, command);
  octet::cli::add_convert(app, command);
#ifdef OCTET_HAVE_TRAIN
  octet::cli::add_train(app, command);
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
  try {
    return command ? command() : 2;
  } catch (const octet::Error& e) {
    std::cerr << "octet: error: " << e.what() << "\n";
    return 1;
  } catch (const octet::InternalError& e) {
    std::cerr << "octet: internal error (a bug in octet, please report): " << e.what() << "\n";
    return 3;
  } catch (const std::bad_alloc&) {
    std::cerr << "octet: error: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "octet: internal error: " << e.what() << "\n";
    return 3;
  }
}
