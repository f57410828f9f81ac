// The libtorch bridge on the ONNX backend node tests (Debian's libonnx-testdata): for every case
// whose model the executor runs, TorchGraph (eval mode) must give the executor's outputs, floats
// within 1e-5 relative (FLOAT16/BFLOAT16 outputs, which the bridge computes in float32, within
// 1e-2), everything else exactly. This sweeps every op over the attribute and input forms of
// opsets 6..17 that the test data covers.
#include <dirent.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>

#include "ir/file_util.h"
#include "onnx/model_io.h"
#include "runtime/executor.h"
#include "train/torch_graph.h"

namespace octet::train {
namespace {

const char* kNodeTests = "/usr/share/libonnx-testdata/data/node";

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != "..") out.push_back(n);
    }
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// "" when equal within the tolerance, else the first mismatch.
std::string compare(const Tensor& want, const torch::Tensor& got_t) {
  const Tensor got = from_torch(got_t);
  if (got.shape() != want.shape())
    return str_cat("shape ", shape_str(got.shape()), " vs ", shape_str(want.shape()));
  const bool half = want.dtype() == DType::Float16 || want.dtype() == DType::BFloat16;
  const double tol = half ? 1e-2 : 1e-5;
  // torch 1.13 has no UINT16/32/64: the bridge returns them widened to INT32/INT64.
  const bool widened =
      (want.dtype() == DType::UInt16 && got.dtype() == DType::Int32) ||
      ((want.dtype() == DType::UInt32 || want.dtype() == DType::UInt64) && got.dtype() == DType::Int64);
  if (!dtype_is_float(want.dtype()) && got.dtype() != want.dtype() && !widened)
    return str_cat("type ", dtype_name(got.dtype()), " vs ", dtype_name(want.dtype()));
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double e = want.get_as_double(i), g = got.get_as_double(i);
    if ((std::isnan(e) && std::isnan(g)) || e == g) continue;
    if (!dtype_is_float(want.dtype()) || std::isnan(e) || std::isnan(g) || std::isinf(e) || std::isinf(g) ||
        std::fabs(g - e) > tol * std::max(1.0, std::fabs(e)))
      return str_cat("element ", i, ": bridge ", g, ", executor ", e);
  }
  return "";
}

TEST(TorchGraphConformance, AgreesWithTheExecutorOnTheOnnxNodeTests) {
  if (!is_directory(kNodeTests)) GTEST_SKIP() << kNodeTests << " is not installed";
  int compared = 0, not_run = 0, unmapped = 0;
  std::vector<std::string> failures;
  for (const std::string& name : list_dir(kNodeTests)) {
    const std::string dir = join_path(kNodeTests, name);
    const std::string set = join_path(dir, "test_data_set_0");
    Model m;
    std::map<std::string, Tensor> feeds;
    std::map<std::string, Tensor> want;
    try {  // only cases the executor runs are compared
      m = load_model(join_path(dir, "model.onnx"));
      for (size_t i = 0; i < m.graph.inputs.size(); ++i) {
        const std::string f = join_path(set, str_cat("input_", i, ".pb"));
        if (!file_exists(f)) break;
        feeds[m.graph.inputs[i]] = load_tensor_pb(f);
      }
      want = Executor(m).run(feeds);
    } catch (const std::exception&) {
      ++not_run;
      continue;
    }
    std::map<std::string, torch::Tensor> tfeeds;
    bool representable = true;
    for (const auto& [n, t] : feeds) representable = representable && t.dtype() != DType::String;
    for (const auto& [n, t] : want) representable = representable && t.dtype() != DType::String;
    if (!representable) {  // torch has no strings
      ++not_run;
      continue;
    }
    for (const auto& [n, t] : feeds) tfeeds[n] = to_torch(t);
    std::string problem;
    try {
      TorchGraph g(m);
      const auto got = g.forward(tfeeds, false);
      for (const auto& [out, t] : want) {
        const std::string d = compare(t, got.at(out));
        if (!d.empty()) problem = str_cat("output '", out, "': ", d);
      }
    } catch (const Error& e) {
      if (std::string(e.what()).find("not supported by the libtorch bridge") != std::string::npos) {
        ++unmapped;
        failures.push_back(str_cat(name, ": ", e.what()));
        continue;
      }
      problem = e.what();
    } catch (const std::exception& e) {
      problem = str_cat("exception: ", e.what());
    }
    ++compared;
    if (!problem.empty()) failures.push_back(str_cat(name, ": ", problem));
  }
  std::cout << "[ note ] compared " << compared << " cases; " << not_run
            << " not run by the executor (or with strings); " << unmapped
            << " with ops the bridge does not map\n";
  for (const std::string& f : failures) ADD_FAILURE() << f;
  EXPECT_GT(compared, 500);
}

}  // namespace
}  // namespace octet::train
