#include "passes/pass_manager.h"

namespace octet {

std::vector<std::string> PassManager::run(Model& model) {
  std::vector<std::string> changed;
  for (auto& p : passes_) {
    if (p->run(model)) {
      model.graph.topo_sort();
      changed.push_back(p->name());
    }
  }
  return changed;
}

}  // namespace octet
