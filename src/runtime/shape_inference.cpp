#include "runtime/shape_inference.h"

#include <map>

#include "runtime/op_registry.h"

namespace octet {

namespace {

// Constants larger than this are not folded during inference: folding exists to learn shapes
// (Shape -> Gather -> Concat -> Reshape chains), which are tiny.
constexpr int64_t kMaxFoldElements = 4096;

// Merges an inferred type with a declared one. Known dims must agree; an unknown side takes the
// other's value. Returns the merged type or throws.
TensorType merge_types(const TensorType& declared, const TensorType& inferred, const std::string& file,
                       const std::string& value, const Node& node) {
  if (declared.dtype == DType::Undefined) return inferred;
  if (inferred.dtype == DType::Undefined && !inferred.has_shape) return declared;
  auto mismatch = [&]() {
    return Error(str_cat(file, ": inconsistent shapes: tensor '", value, "' is declared ", declared.str(),
                         " but ", node.describe(), " produces ", inferred.str()));
  };
  TensorType out = declared;
  if (inferred.dtype != DType::Undefined) {
    if (declared.dtype != inferred.dtype) throw mismatch();
  }
  if (!inferred.has_shape) return out;
  if (!declared.has_shape) {
    out.has_shape = true;
    out.dims = inferred.dims;
    return out;
  }
  if (declared.dims.size() != inferred.dims.size()) throw mismatch();
  for (size_t i = 0; i < declared.dims.size(); ++i) {
    const Dim& d = declared.dims[i];
    const Dim& n = inferred.dims[i];
    if (d.is_known() && n.is_known() && d.value != n.value) throw mismatch();
    if (!d.is_known() && n.is_known()) out.dims[i] = n;
  }
  return out;
}

}  // namespace

InferenceReport infer_shapes(Model& model) {
  InferenceReport report;
  Graph& g = model.graph;
  const std::string file = model.source_path.empty() ? "model" : model.source_path;
  const OpRegistry& reg = OpRegistry::global();
  const int64_t opset = model.default_opset();
  std::map<std::string, Tensor> folded;  // values known at inference time
  for (const auto& name : g.initializer_names()) folded[name] = *g.value(name).initializer;

  for (const auto& np : g.nodes) {
    const Node& node = *np;
    const OpDef* def = reg.find(node.op_type, node.domain);
    if (!def || !def->infer) {
      ++report.nodes_without_rule;
      continue;
    }
    ++report.nodes_inferred;
    InferContext ctx{node, opset, {}, {}, {}};
    bool all_const = true;
    int64_t const_elems = 0;
    for (const auto& in : node.inputs) {
      if (in.empty()) {
        ctx.inputs.push_back(nullptr);
        ctx.constants.push_back(nullptr);
        continue;
      }
      const Value* v = g.find_value(in);
      ctx.inputs.push_back(v ? &v->type : nullptr);
      auto it = folded.find(in);
      ctx.constants.push_back(it == folded.end() ? nullptr : &it->second);
      if (it == folded.end()) all_const = false;
      else const_elems += it->second.numel();
    }
    ctx.outputs.resize(node.outputs.size());
    try {
      def->infer(ctx);
    } catch (const Error& e) {
      throw Error(str_cat(file, ": ", e.what()));
    }
    // Shape of a fully known input is a constant: computed from the type, no data needed.
    if (node.op_type == "Shape" && node.outputs.size() == 1 && ctx.inputs.size() == 1 && ctx.inputs[0] &&
        ctx.inputs[0]->fully_known()) {
      const Shape dims = ctx.inputs[0]->concrete_shape();
      const int64_t rank = static_cast<int64_t>(dims.size());
      auto clamp = [&](int64_t a) { a = a < 0 ? a + rank : a; return a < 0 ? 0 : (a > rank ? rank : a); };
      const int64_t b = clamp(node.attr_int("start", 0)), e = clamp(node.attr_int("end", rank));
      std::vector<int64_t> vals;
      for (int64_t i = b; i < e; ++i) vals.push_back(dims[i]);
      folded[node.outputs[0]] = Tensor::from_vector<int64_t>({static_cast<int64_t>(vals.size())}, vals);
      ctx.outputs[0] = TensorType::of(DType::Int64, {static_cast<int64_t>(vals.size())});
    } else if (all_const && const_elems <= kMaxFoldElements && node.domain.empty()) {
      // Fold small all-constant nodes so later shape computations see exact values.
      try {
        OpContext rc{node, opset, ctx.constants, {}};
        rc.outputs.resize(node.outputs.size());
        def->run(rc);
        for (size_t o = 0; o < node.outputs.size(); ++o)
          if (!node.outputs[o].empty() && rc.outputs[o].defined()) {
            ctx.outputs[o] = TensorType::of(rc.outputs[o].dtype(), rc.outputs[o].shape());
            if (rc.outputs[o].numel() <= kMaxFoldElements) folded[node.outputs[o]] = rc.outputs[o];
          }
      } catch (const Error&) {
        // A constant subgraph that fails to evaluate is reported when the model runs.
      }
    }
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      if (node.outputs[o].empty()) continue;
      Value& v = g.get_or_add_value(node.outputs[o]);
      v.type = merge_types(v.type, ctx.outputs[o], file, node.outputs[o], node);
    }
  }
  return report;
}

}  // namespace octet
