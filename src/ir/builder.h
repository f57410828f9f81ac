// Builds IR graphs in code (the model zoo, tests): inputs, initializers and nodes with attributes,
// with unique names generated where the caller gives none.
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"

namespace octet {

class GraphBuilder {
 public:
  explicit GraphBuilder(std::string graph_name, int64_t opset = 17);

  // Declares a graph input. Dims < 0 become the symbol `batch_symbol` (a dynamic batch).
  std::string input(const std::string& name, DType dtype, const std::vector<int64_t>& dims,
                    const std::string& batch_symbol = "N");
  std::string initializer(const std::string& name, Tensor value);
  // Adds a node; returns its output names (`num_outputs` generated as "<name>_out<i>").
  std::vector<std::string> node(const std::string& op_type, const std::vector<std::string>& inputs,
                                std::map<std::string, Attribute> attrs = {}, size_t num_outputs = 1,
                                const std::string& name = "");
  // Convenience for single-output nodes.
  std::string op(const std::string& op_type, const std::vector<std::string>& inputs,
                 std::map<std::string, Attribute> attrs = {}, const std::string& name = "");
  void output(const std::string& value_name);
  // Finishes: topologically sorts and returns the model. The builder is left empty.
  Model build();

  static Attribute ints(std::vector<int64_t> v);
  static Attribute i(int64_t v);
  static Attribute f(float v);
  static Attribute s(std::string v);

 private:
  Model model_;
  int counter_ = 0;
};

}  // namespace octet
