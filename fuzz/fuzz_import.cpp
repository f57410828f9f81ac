// libFuzzer target for the ONNX importer, static shape inference and the reference executor.
//
// Contract under test (shared/STYLE.md, "Errors"): whatever bytes arrive, octet either succeeds or
// throws octet::Error. Everything else is a finding and is left to libFuzzer to report:
//   - a crash, an ASan report (overflow, use-after-free, leak) or a UBSan report;
//   - octet::InternalError (a broken invariant), std::bad_alloc or any other std::exception, which
//     are printed here and then abort() so the report names the exception.
//
// Each input is parsed with load_model_from_bytes (no base folder, so external data is an Error),
// then infer_shapes runs over the whole graph (which also folds small constant subgraphs by
// running the ops). Small models are then executed on zero-filled inputs of the declared dtypes
// and shapes, so the op implementations' checks on attributes, ranks, dtypes and constant inputs
// are fuzzed too.
//
// Build: cmake -DOCTET_FUZZ=ON with clang (see scripts/fuzz.sh, which also builds a seed corpus).
// Reproduce a finding: build-fuzz/fuzz_import path/to/crash-file
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <new>
#include <string>
#include <typeinfo>

#include "ir/error.h"
#include "ir/graph.h"
#include "onnx/model_io.h"
#include "runtime/executor.h"
#include "runtime/shape_inference.h"

namespace {

// Execution limits: the executor runs only on models this small, so a fuzzed model can neither
// take long nor ask for much memory through its inputs.
constexpr size_t kMaxNodesToRun = 64;
constexpr int64_t kMaxInputElements = 4096;
// A graph whose inferred values are larger than this is not run: tiny inputs can legitimately be
// expanded (Expand, Tile, ConstantOfShape, Resize) into tensors that are merely slow, not wrong.
constexpr int64_t kMaxValueElements = int64_t{1} << 22;

[[noreturn]] void report_and_abort(const char* kind, const char* what) {
  std::fprintf(stderr, "\n==fuzz_import== FINDING: %s escaped: %s\n", kind, what);
  std::fflush(stderr);
  std::abort();
}

// Zero-filled feeds for every graph input, or false if some input has no fully known shape,
// is too large, or has a type no tensor can hold.
bool make_feeds(const octet::Model& m, std::map<std::string, octet::Tensor>* feeds) {
  const octet::Graph& g = m.graph;
  for (const auto& name : g.inputs) {
    const octet::TensorType& t = g.value(name).type;
    if (!t.fully_known() || t.dtype == octet::DType::Undefined) return false;
    const octet::Shape shape = t.concrete_shape();
    int64_t n = 1;
    for (int64_t d : shape) {
      if (d > kMaxInputElements) return false;  // also keeps the product from overflowing
      n *= d;
      if (n > kMaxInputElements) return false;
    }
    // Types a tensor cannot hold (complex) throw Error here; fine, it is part of the contract.
    (*feeds)[name] = octet::Tensor(t.dtype, shape);
  }
  return true;
}

bool small_enough_to_run(const octet::Model& m) {
  const octet::Graph& g = m.graph;
  if (g.nodes.size() > kMaxNodesToRun) return false;
  for (const auto& [name, v] : g.values()) {
    if (!v.type.fully_known()) continue;
    int64_t n = 1;
    for (const auto& d : v.type.dims) {
      if (d.value > kMaxValueElements) return false;
      n *= d.value;
      if (n > kMaxValueElements) return false;
    }
  }
  return true;
}

// FUZZ_IMPORT_VERBOSE=1 prints how far each input got and the Error it ended with, which is
// what one wants when replaying a reproducer or checking that the seeds reach the executor.
const bool g_verbose = std::getenv("FUZZ_IMPORT_VERBOSE") != nullptr;

void note(const char* stage, const std::string& detail = "") {
  if (g_verbose) std::fprintf(stderr, "fuzz_import: %s%s%s\n", stage, detail.empty() ? "" : ": ", detail.c_str());
}

void fuzz_one(const std::string& bytes) {
  octet::Model model = octet::load_model_from_bytes(bytes, "fuzz-input");
  note("loaded", std::to_string(model.graph.nodes.size()) + " nodes");
  octet::infer_shapes(model);
  note("shapes inferred");
  if (!small_enough_to_run(model)) return note("not run (too large)");
  std::map<std::string, octet::Tensor> feeds;
  if (!make_feeds(model, &feeds)) return note("not run (input shapes not fully known or too large)");
  octet::Executor exec(model);
  exec.run(feeds);
  note("ran");
}

}  // namespace

// Defaults for the sanitizer runtimes, overridable through ASAN_OPTIONS / UBSAN_OPTIONS.
// A tensor allocation above max_allocation_size_mb makes aligned_alloc return null, which
// octet::Tensor reports as an Error ("out of memory"): a model may legitimately ask for a huge
// tensor and that is an input problem, not a bug. operator new still aborts on such sizes, so an
// unchecked std::vector size taken from the file is still a finding.
extern "C" const char* __asan_default_options() {
  return "allocator_may_return_null=1:max_allocation_size_mb=256:detect_leaks=1:"
         "detect_stack_use_after_return=1:strict_string_checks=1";
}
extern "C" const char* __ubsan_default_options() { return "print_stacktrace=1:halt_on_error=1"; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    fuzz_one(bytes);
  } catch (const octet::Error& e) {
    note("Error", e.what());  // the expected outcome for bad input
  } catch (const octet::InternalError& e) {
    report_and_abort("octet::InternalError", e.what());
  } catch (const std::bad_alloc& e) {
    report_and_abort("std::bad_alloc (an allocation size taken from the input is not checked?)",
                     e.what());
  } catch (const std::exception& e) {
    std::string kind = std::string("std::exception (") + typeid(e).name() + ")";
    report_and_abort(kind.c_str(), e.what());
  } catch (...) {
    report_and_abort("unknown exception", "");
  }
  return 0;
}
