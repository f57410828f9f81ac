#include "passes/codebook_weights.h"
#include "passes/opset_upgrade.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "quant/log_quant.h"

namespace octet {

namespace {

constexpr int64_t kUInt4Opset = kOpsetWithInt4;
constexpr int64_t kUInt4IrVersion = kIrVersionWithInt4;

bool is_default_domain(const std::string& d) { return d.empty() || d == "ai.onnx"; }

void check_options(const CodebookOptions& o) {
  const int lo = o.method == CodebookMethod::Pow2 ? 2 : 1;
  if (o.bits < lo || o.bits > 8)
    throw Error(str_cat("codebook weights: bits is ", o.bits, ", must be in ", lo, "..8 for ",
                        o.method == CodebookMethod::Pow2 ? "power-of-two" : "k-means"));
  for (const auto& op : o.op_types)
    if (op != "Conv" && op != "Gemm" && op != "MatMul")
      throw Error(str_cat("codebook weights: op type '", op,
                          "' is not supported (choose from Conv, Gemm, MatMul)"));
  if (o.min_elements < 0)
    throw Error(str_cat("codebook weights: min_elements is ", o.min_elements, ", must be >= 0"));
  if (o.max_iters < 0)
    throw Error(str_cat("codebook weights: max_iters is ", o.max_iters, ", must be >= 0"));
}

// The channel axis of a weight at input 1 of `n`, or nullopt with `why` set if n is not a weight
// use of a selected op.
std::optional<int64_t> weight_axis(const Node& n, size_t input_index, const Tensor& w,
                                   const std::set<std::string>& ops, std::string* why) {
  const int64_t rank = static_cast<int64_t>(w.rank());
  if (!is_default_domain(n.domain) || !ops.count(n.op_type) || input_index != 1) {
    *why = str_cat("also input ", input_index, " of ", n.describe(), ", which is not a weight use");
    return std::nullopt;
  }
  if (n.op_type == "Conv") {
    if (rank < 3) { *why = str_cat("rank ", rank, " weight of ", n.describe()); return std::nullopt; }
    return 0;
  }
  if (n.op_type == "Gemm") {
    if (rank != 2) { *why = str_cat("rank ", rank, " weight of ", n.describe()); return std::nullopt; }
    return n.attr_int("transB", 0) != 0 ? 0 : 1;
  }
  if (rank < 1) { *why = str_cat("rank 0 weight of ", n.describe()); return std::nullopt; }
  return rank == 1 ? -1 : rank - 1;  // MatMul: N is the last axis of B
}

std::string unique_node_name(std::set<std::string>& taken, const std::string& base) {
  std::string name = base;
  for (int i = 1; taken.count(name); ++i) name = str_cat(base, "_", i);
  taken.insert(name);
  return name;
}

Attribute int_attr(int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::Int;
  a.i = v;
  return a;
}

void add_initializer(Graph& g, const std::string& name, Tensor t) {
  Value& v = g.get_or_add_value(name);
  v.type = TensorType::of(t.dtype(), t.shape());
  v.initializer = std::move(t);
}

// One selected weight with everything needed to rewrite it.
struct Plan {
  std::string name;
  int64_t axis = -1;
  quant::Codebook codebook;
  CodebookedWeight record;
};

int64_t stored_index_bytes(DType t, int64_t n) { return t == DType::UInt4 ? (n + 1) / 2 : n; }

void rewrite_weight(Graph& g, std::set<std::string>& node_names, const Plan& p, DType index_dtype) {
  const Tensor& w = *g.value(p.name).initializer;
  const Shape shape = w.shape();
  const int64_t k = p.codebook.codes_per_group();

  Tensor indices(index_dtype, shape);  // UINT4 is held one code per byte (ir/dtype.h)
  std::copy(p.codebook.indices.begin(), p.codebook.indices.end(), indices.data<uint8_t>());
  const std::string indices_name = g.unique_value_name(p.name + "_cb_indices");
  add_initializer(g, indices_name, indices);

  const std::string table_name = g.unique_value_name(p.name + "_cb_codebook");
  add_initializer(g, table_name, Tensor::from_vector<float>({static_cast<int64_t>(p.codebook.centroids.size())},
                                                            p.codebook.centroids));

  Node cast;
  cast.name = unique_node_name(node_names, p.name + "_cb_cast");
  cast.op_type = "Cast";
  cast.inputs = {indices_name};
  cast.attrs["to"] = int_attr(static_cast<int64_t>(DType::Int32));
  const std::string i32_name = g.unique_value_name(p.name + "_cb_indices_i32");
  cast.outputs = {i32_name};
  g.add_node(std::move(cast));
  g.value(i32_name).type = TensorType::of(DType::Int32, shape);

  std::string gather_indices = i32_name;
  if (p.axis >= 0) {
    Shape offsets_shape(shape.size(), 1);
    const int64_t channels = shape[static_cast<size_t>(p.axis)];
    offsets_shape[static_cast<size_t>(p.axis)] = channels;
    std::vector<int32_t> offsets(static_cast<size_t>(channels));
    for (int64_t c = 0; c < channels; ++c) offsets[static_cast<size_t>(c)] = static_cast<int32_t>(c * k);
    const std::string offsets_name = g.unique_value_name(p.name + "_cb_offsets");
    add_initializer(g, offsets_name, Tensor::from_vector<int32_t>(offsets_shape, offsets));

    Node add;
    add.name = unique_node_name(node_names, p.name + "_cb_add_offsets");
    add.op_type = "Add";
    add.inputs = {i32_name, offsets_name};
    gather_indices = g.unique_value_name(p.name + "_cb_flat_indices");
    add.outputs = {gather_indices};
    g.add_node(std::move(add));
    g.value(gather_indices).type = TensorType::of(DType::Int32, shape);
  }

  // The weight stops being an initializer and becomes the Gather's output, same name and type.
  Value& wv = g.value(p.name);
  wv.initializer.reset();
  wv.type = TensorType::of(DType::Float32, shape);
  Node gather;
  gather.name = unique_node_name(node_names, p.name + "_cb_gather");
  gather.op_type = "Gather";
  gather.inputs = {table_name, gather_indices};
  gather.attrs["axis"] = int_attr(0);
  gather.outputs = {p.name};
  g.add_node(std::move(gather));
}

}  // namespace

CodebookReport apply_codebook_weights(Model& model, const CodebookOptions& opts) {
  check_options(opts);
  Graph& g = model.graph;
  CodebookReport report;
  report.opset_before = report.opset_after = model.default_opset();

  // Index dtype, decided first because the size check depends on it.
  DType index_dtype = DType::UInt8;
  bool raise_opset = false;
  if (opts.bits <= 4) {
    if (report.opset_before >= kUInt4Opset) {
      index_dtype = DType::UInt4;
    } else if (!opts.allow_opset_upgrade) {
      report.opset_note = str_cat("opset ", report.opset_before, " < ", kUInt4Opset,
                                  " and opset upgrade not allowed: indices stored as UINT8");
    } else {
      const std::string blocker = opset21_blocker(model);
      if (blocker.empty()) {
        index_dtype = DType::UInt4;
        raise_opset = true;
      } else {
        report.opset_note = str_cat("opset not raised to ", kUInt4Opset, " (", blocker,
                                    "): indices stored as UINT8");
      }
    }
  }

  // Uses of every value, in node order.
  std::map<std::string, std::vector<std::pair<const Node*, size_t>>> uses;
  for (const auto& n : g.nodes)
    for (size_t i = 0; i < n->inputs.size(); ++i)
      if (!n->inputs[i].empty()) uses[n->inputs[i]].push_back({n.get(), i});
  const std::set<std::string> ops(opts.op_types.begin(), opts.op_types.end());
  const std::set<std::string> skip(opts.skip.begin(), opts.skip.end());
  const std::set<std::string> graph_io = [&] {
    std::set<std::string> s(g.inputs.begin(), g.inputs.end());
    s.insert(g.outputs.begin(), g.outputs.end());
    return s;
  }();

  std::vector<Plan> plans;
  for (const std::string& name : g.initializer_names()) {
    const auto it = uses.find(name);
    if (it == uses.end()) continue;
    const Tensor& w = *g.value(name).initializer;
    // A candidate has at least one weight use of a selected op; anything else is not reported.
    bool weight_use = false;
    for (const auto& [n, idx] : it->second)
      weight_use |= idx == 1 && is_default_domain(n->domain) && ops.count(n->op_type) != 0;
    if (!weight_use) continue;

    auto pass_over = [&](std::string why) { report.skipped.emplace_back(name, std::move(why)); };
    if (skip.count(name)) { pass_over("in the skip list"); continue; }
    if (graph_io.count(name)) { pass_over("a graph input or output"); continue; }
    if (w.dtype() != DType::Float32) { pass_over(str_cat("element type ", dtype_name(w.dtype()))); continue; }
    std::optional<int64_t> axis;
    std::string why;
    bool usable = true;
    for (const auto& [n, idx] : it->second) {
      const std::optional<int64_t> a = weight_axis(*n, idx, w, ops, &why);
      if (!a || (axis && *axis != *a)) {
        if (a) why = str_cat("channel axis ", *a, " for ", n->describe(), " but ", *axis, " for another use");
        usable = false;
        break;
      }
      axis = a;
    }
    if (!usable) { pass_over(why); continue; }
    if (w.numel() < opts.min_elements) {
      pass_over(str_cat(w.numel(), " elements, fewer than ", opts.min_elements));
      continue;
    }
    Plan p;
    p.name = name;
    p.axis = opts.per_channel ? *axis : -1;
    const int64_t groups = p.axis >= 0 ? w.dim(static_cast<size_t>(p.axis)) : 1;
    const int64_t k = int64_t{1} << opts.bits;
    CodebookedWeight& r = p.record;
    r.name = name;
    r.shape = w.shape();
    r.axis = p.axis;
    r.index_dtype = index_dtype;
    r.float_bytes = static_cast<int64_t>(w.nbytes());
    r.codebook_bytes = stored_index_bytes(index_dtype, w.numel()) + 4 * groups * k +
                       (p.axis >= 0 ? 4 * groups : 0);
    if (opts.skip_if_not_smaller && r.codebook_bytes >= r.float_bytes) {
      pass_over(str_cat("codebook form (", r.codebook_bytes, " bytes) not smaller than the float weight (",
                        r.float_bytes, " bytes)"));
      continue;
    }
    plans.push_back(std::move(p));
  }

  // All codebooks before any edit: a NaN/Inf weight throws with the model untouched.
  for (Plan& p : plans) {
    const Tensor& w = *g.value(p.name).initializer;
    p.codebook = opts.method == CodebookMethod::Pow2
                     ? quant::pow2_codebook(w, opts.bits, p.axis, p.name)
                     : quant::kmeans_codebook(w, opts.bits, p.axis, opts.seed, opts.max_iters, p.name);
    p.record.error = quant::weight_error(w, quant::decode(p.codebook, w.shape()));
  }
  if (plans.empty()) return report;

  std::set<std::string> node_names;
  for (const auto& n : g.nodes) node_names.insert(n->name);
  for (const Plan& p : plans) {
    rewrite_weight(g, node_names, p, index_dtype);
    report.weights.push_back(p.record);
  }
  if (raise_opset) {
    for (auto& o : model.opsets)
      if (is_default_domain(o.domain)) o.version = kUInt4Opset;
    report.opset_after = kUInt4Opset;
  }
  // UINT4 exists from IR version 10 on (opset 21 belongs to it too).
  if (index_dtype == DType::UInt4) model.ir_version = std::max(model.ir_version, kUInt4IrVersion);
  g.topo_sort();
  return report;
}

}  // namespace octet
