// The reference executor: runs a model node by node on the plain-loop op implementations. It is
// the oracle every faster path is compared with.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace octet {

struct RunOptions {
  // Keep every intermediate tensor in the result (for `octet run --outputs all` and layer-wise
  // comparison); otherwise only graph outputs are returned and intermediates are freed after
  // their last use.
  bool keep_intermediates = false;
};

// Names of nodes whose op octet cannot run, as "op_type" -> first node name using it.
std::map<std::string, std::string> unsupported_ops(const Model& model);

class Executor {
 public:
  // Throws Error listing the unsupported ops (with a node using each) if any.
  explicit Executor(const Model& model);

  // Checks the feeds against the graph inputs (every input present, no unknown names, dtype and
  // rank equal, known dims equal, symbolic dims bound consistently) and runs the graph.
  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& feeds,
                                    const RunOptions& options = {}) const;

  // The feed checks of run(), for other runners of the same model (the engine).
  void check_feeds(const std::map<std::string, Tensor>& feeds) const;

 private:
  const Model& model_;
  int64_t opset_;
  std::vector<std::vector<std::string>> frees_after_;  // per node: values whose last use it is
};

}  // namespace octet
