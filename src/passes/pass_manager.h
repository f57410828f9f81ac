// A small pass manager: named graph transformations run in order, each told the model it
// rewrites. A pass states what it expects and what it guarantees in its header.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace octet {

class Pass {
 public:
  virtual ~Pass() = default;
  virtual std::string name() const = 0;
  // Returns true if the model changed.
  virtual bool run(Model& model) = 0;
};

class PassManager {
 public:
  void add(std::unique_ptr<Pass> pass) { passes_.push_back(std::move(pass)); }
  // Runs every pass once in order; re-sorts the graph after each pass that changed it.
  // Returns the names of passes that changed the model.
  std::vector<std::string> run(Model& model);

 private:
  std::vector<std::unique_ptr<Pass>> passes_;
};

}  // namespace octet
