#include "ir/graph.h"

#include <gtest/gtest.h>

namespace octet {
namespace {

Node make_node(const std::string& name, const std::string& op, std::vector<std::string> in,
               std::vector<std::string> out) {
  Node n;
  n.name = name;
  n.op_type = op;
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  return n;
}

TEST(Graph, TopoSortOrdersProducersFirst) {
  Graph g;
  g.inputs = {"x"};
  g.get_or_add_value("x");
  g.add_node(make_node("b", "Relu", {"t"}, {"y"}));
  g.add_node(make_node("a", "Neg", {"x"}, {"t"}));
  g.topo_sort();
  EXPECT_EQ(g.nodes[0]->name, "a");
  EXPECT_EQ(g.nodes[1]->name, "b");
}

TEST(Graph, CycleIsAnErrorNamingANode) {
  Graph g;
  g.add_node(make_node("a", "Neg", {"u"}, {"t"}));
  g.add_node(make_node("b", "Neg", {"t"}, {"u"}));
  try {
    g.topo_sort();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cycle"), std::string::npos) << e.what();
  }
}

TEST(Graph, MissingInputIsAnError) {
  Graph g;
  g.add_node(make_node("a", "Neg", {"nowhere"}, {"t"}));
  EXPECT_THROW(g.topo_sort(), Error);
}

TEST(Graph, DuplicateProducerIsAnError) {
  Graph g;
  g.inputs = {"x"};
  g.get_or_add_value("x");
  g.add_node(make_node("a", "Neg", {"x"}, {"t"}));
  g.add_node(make_node("b", "Neg", {"x"}, {"t"}));
  EXPECT_THROW(g.topo_sort(), Error);
}

}  // namespace
}  // namespace octet
