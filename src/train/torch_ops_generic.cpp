// The libtorch bridge, data movement by index map: DepthToSpace, SpaceToDepth, GatherND,
// ReverseSequence, Compress, ScatterND, ScatterElements, Scatter.
//
// These ops only move elements, so running the executor's own op on int64 element numbers (an
// iota over each data input, numbered on from one input to the next) gives, for every output
// element, the number of the element it came from. The output is then that gather of the real
// values, which autograd differentiates (index_select; its backward is a deterministic
// index_add on the CPU). The movement, including every check and edge case, is therefore
// exactly the executor's. Scatter ops with a reduction (add, mul, max, min) combine values and
// run on the executor without a gradient.
#include "train/torch_ops.h"

namespace octet::train::detail {
namespace {

void run_index_map(OpCall& c, const std::vector<size_t>& data) {
  if (!at::isFloatingType(c.x(data[0]).scalar_type()) || c.node.attr_string("reduction", "none") != "none") {
    run_on_executor(c);
    return;
  }
  OpCall probe(c.node, c.opset, c.training);
  probe.in = c.in;
  std::vector<at::Tensor> flat;
  int64_t offset = 0;
  for (size_t slot : data) {
    if (!c.has(slot)) continue;
    if (slot != data[0]) c.require_same(data[0], slot);
    const at::Tensor& v = c.x(slot);
    probe.in[slot] =
        TValue{at::arange(offset, offset + v.numel(), at::kLong).reshape(v.sizes()), DType::Int64};
    flat.push_back(v.reshape({-1}));
    offset += v.numel();
  }
  run_on_executor(probe);
  const at::Tensor src = flat.size() == 1 ? flat[0] : at::cat(flat);
  c.out.resize(probe.out.size());
  for (size_t o = 0; o < probe.out.size(); ++o) {
    const TValue& p = probe.out[o];
    if (!p.t.defined()) continue;
    if (o == 0)
      c.set(0, src.index_select(0, p.t.reshape({-1})).reshape(p.t.sizes()), c.dtype(data[0]));
    else
      c.out[o] = p;
  }
}

OpMapping index_map(std::vector<size_t> data, std::vector<size_t> frozen) {
  OpMapping m;
  m.run = [data](OpCall& c) { run_index_map(c, data); };
  m.frozen = std::move(frozen);
  return m;
}

}  // namespace

void add_generic_ops(OpTable& t) {
  t["DepthToSpace"] = index_map({0}, {});
  t["SpaceToDepth"] = index_map({0}, {});
  t["GatherND"] = index_map({0}, {1});
  t["ReverseSequence"] = index_map({0}, {1});
  t["Compress"] = index_map({0}, {1});
  t["ScatterND"] = index_map({0, 2}, {1});
  t["ScatterElements"] = index_map({0, 2}, {1});
  t["Scatter"] = index_map({0, 2}, {1});
}

}  // namespace octet::train::detail
