#include "onnx/model_io.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <algorithm>
#include <climits>
#include <set>

#include "ir/file_util.h"
#include "onnx/tensor_proto.h"

namespace octet {

using onnx_io::tensor_from_proto;
using onnx_io::tensor_to_proto;

namespace {

// Highest default-domain opset octet knows; lower ones are accepted where the ops' semantics are
// implemented for them (every op handles its attribute-to-input changes since opset 6).
constexpr int64_t kMaxOpset = 21;

template <class Msg>
bool parse_message(const std::string& bytes, Msg* msg) {
  google::protobuf::io::ArrayInputStream raw(bytes.data(), static_cast<int>(bytes.size()));
  google::protobuf::io::CodedInputStream coded(&raw);
  coded.SetTotalBytesLimit(INT_MAX);
  return msg->ParseFromCodedStream(&coded) && coded.ConsumedEntireMessage();
}

TensorType type_from_proto(const onnx::TypeProto& tp, const std::string& context) {
  TensorType t;
  if (tp.value_case() != onnx::TypeProto::kTensorType)
    throw Error(str_cat(context, ": only tensor types are supported (sequences, maps and optionals are not)"));
  const auto& tt = tp.tensor_type();
  if (!dtype_is_known(tt.elem_type()))
    throw Error(str_cat(context, ": unknown element type ", tt.elem_type()));
  t.dtype = static_cast<DType>(tt.elem_type());
  if (tt.has_shape()) {
    t.has_shape = true;
    for (const auto& d : tt.shape().dim()) {
      if (d.has_dim_value()) {
        if (d.dim_value() < 0)
          throw Error(str_cat(context, ": negative dimension ", d.dim_value()));
        t.dims.push_back(Dim::known(d.dim_value()));
      } else {
        t.dims.push_back(Dim::symbol(d.has_dim_param() ? d.dim_param() : ""));
      }
    }
  }
  return t;
}

void type_to_proto(const TensorType& t, onnx::TypeProto* tp) {
  auto* tt = tp->mutable_tensor_type();
  tt->set_elem_type(static_cast<int32_t>(t.dtype));
  if (!t.has_shape) return;
  auto* shape = tt->mutable_shape();
  for (const Dim& d : t.dims) {
    auto* pd = shape->add_dim();
    if (d.is_known()) pd->set_dim_value(d.value);
    else if (!d.param.empty()) pd->set_dim_param(d.param);
  }
}

Attribute attr_from_proto(const onnx::AttributeProto& a, const std::string& context,
                          const std::string& base_dir) {
  Attribute out;
  using AP = onnx::AttributeProto;
  AP::AttributeType type = a.type();
  if (type == AP::UNDEFINED) {  // very old files: infer from the field that is set
    if (a.has_f()) type = AP::FLOAT;
    else if (a.has_i()) type = AP::INT;
    else if (a.has_s()) type = AP::STRING;
    else if (a.has_t()) type = AP::TENSOR;
    else if (a.floats_size()) type = AP::FLOATS;
    else if (a.ints_size()) type = AP::INTS;
    else if (a.strings_size()) type = AP::STRINGS;
  }
  switch (type) {
    case AP::FLOAT: out.kind = Attribute::Kind::Float; out.f = a.f(); break;
    case AP::INT: out.kind = Attribute::Kind::Int; out.i = a.i(); break;
    case AP::STRING: out.kind = Attribute::Kind::String; out.s = a.s(); break;
    case AP::TENSOR:
      out.kind = Attribute::Kind::Tensor;
      out.t = tensor_from_proto(a.t(), context + " attribute '" + a.name() + "'", base_dir);
      break;
    case AP::FLOATS: out.kind = Attribute::Kind::Floats; out.floats.assign(a.floats().begin(), a.floats().end()); break;
    case AP::INTS: out.kind = Attribute::Kind::Ints; out.ints.assign(a.ints().begin(), a.ints().end()); break;
    case AP::STRINGS: out.kind = Attribute::Kind::Strings; out.strings.assign(a.strings().begin(), a.strings().end()); break;
    case AP::GRAPH: case AP::GRAPHS: out.kind = Attribute::Kind::Graph; break;
    default: out.kind = Attribute::Kind::Unknown; break;
  }
  return out;
}

void attr_to_proto(const std::string& name, const Attribute& a, onnx::AttributeProto* p) {
  using AP = onnx::AttributeProto;
  p->set_name(name);
  switch (a.kind) {
    case Attribute::Kind::Float: p->set_type(AP::FLOAT); p->set_f(a.f); break;
    case Attribute::Kind::Int: p->set_type(AP::INT); p->set_i(a.i); break;
    case Attribute::Kind::String: p->set_type(AP::STRING); p->set_s(a.s); break;
    case Attribute::Kind::Tensor: p->set_type(AP::TENSOR); tensor_to_proto(a.t, "", p->mutable_t()); break;
    case Attribute::Kind::Floats: p->set_type(AP::FLOATS); for (float f : a.floats) p->add_floats(f); break;
    case Attribute::Kind::Ints: p->set_type(AP::INTS); for (int64_t i : a.ints) p->add_ints(i); break;
    case Attribute::Kind::Strings: p->set_type(AP::STRINGS); for (const auto& s : a.strings) p->add_strings(s); break;
    default:
      throw Error(str_cat("attribute '", name, "': subgraph attributes cannot be written"));
  }
}

Model model_from_proto(const onnx::ModelProto& mp, const std::string& file, const std::string& base_dir) {
  Model m;
  m.source_path = file;
  if (!mp.has_graph()) throw Error(str_cat(file, ": not an ONNX model (no graph)"));
  if (mp.ir_version() <= 0) throw Error(str_cat(file, ": not an ONNX model (ir_version missing)"));
  m.ir_version = mp.ir_version();
  m.producer_name = mp.producer_name();
  m.producer_version = mp.producer_version();
  m.doc = mp.doc_string();
  for (const auto& kv : mp.metadata_props()) m.metadata[kv.key()] = kv.value();
  for (const auto& o : mp.opset_import()) m.opsets.push_back({o.domain() == "ai.onnx" ? "" : o.domain(), o.version()});
  if (mp.opset_import_size() == 0) m.opsets.push_back({"", 1});  // IR spec: absent means opset 1
  const int64_t opset = m.default_opset();
  if (opset > kMaxOpset)
    throw Error(str_cat(file, ": default-domain opset ", opset, " is newer than octet supports (up to ", kMaxOpset, ")"));
  if (mp.functions_size() > 0)
    throw Error(str_cat(file, ": model-local functions are not supported"));

  const auto& gp = mp.graph();
  Graph& g = m.graph;
  g.name = gp.name();
  if (gp.sparse_initializer_size() > 0)
    throw Error(str_cat(file, ": sparse initializers are not supported"));
  for (const auto& init : gp.initializer()) {
    if (init.name().empty()) throw Error(str_cat(file, ": an initializer has no name"));
    Value& v = g.get_or_add_value(init.name());
    if (v.initializer) throw Error(str_cat(file, ": initializer '", init.name(), "' is defined twice"));
    v.initializer = tensor_from_proto(init, str_cat(file, ": initializer '", init.name(), "'"), base_dir);
    v.type = TensorType::of(v.initializer->dtype(), v.initializer->shape());
  }
  std::set<std::string> seen_inputs;
  for (const auto& in : gp.input()) {
    if (in.name().empty()) throw Error(str_cat(file, ": a graph input has no name"));
    if (!seen_inputs.insert(in.name()).second)
      throw Error(str_cat(file, ": graph input '", in.name(), "' is listed twice"));
    Value& v = g.get_or_add_value(in.name());
    TensorType declared = type_from_proto(in.type(), str_cat(file, ": graph input '", in.name(), "'"));
    if (v.initializer) continue;  // IR < 4 lists initializers as inputs too; the data wins
    v.type = declared;
    g.inputs.push_back(in.name());
  }
  for (const auto& vi : gp.value_info()) {
    if (!vi.has_type()) continue;
    Value& v = g.get_or_add_value(vi.name());
    if (!v.initializer) v.type = type_from_proto(vi.type(), str_cat(file, ": value_info '", vi.name(), "'"));
  }
  std::set<std::string> node_names;
  for (int i = 0; i < gp.node_size(); ++i) {
    const auto& np = gp.node(i);
    Node n;
    n.op_type = np.op_type();
    n.domain = np.domain() == "ai.onnx" ? "" : np.domain();
    n.name = np.name().empty() ? str_cat(np.op_type(), "_", i) : np.name();
    while (!node_names.insert(n.name).second) n.name += "_";
    if (n.op_type.empty()) throw Error(str_cat(file, ": node ", i, " has no op_type"));
    n.inputs.assign(np.input().begin(), np.input().end());
    n.outputs.assign(np.output().begin(), np.output().end());
    const std::string ctx = str_cat(file, ": node '", n.name, "' (", n.op_type, ")");
    // Every ONNX operator has at least one output (the schemas' minimum output arity), and the
    // op implementations rely on outputs[0] existing.
    if (n.outputs.empty()) throw Error(ctx + ": node has no outputs");
    for (const auto& a : np.attribute()) {
      if (a.name().empty()) throw Error(ctx + ": an attribute has no name");
      n.attrs[a.name()] = attr_from_proto(a, ctx, base_dir);
    }
    g.add_node(std::move(n));
  }
  for (const auto& out : gp.output()) {
    if (out.name().empty()) throw Error(str_cat(file, ": a graph output has no name"));
    Value& v = g.get_or_add_value(out.name());
    if (out.has_type() && !v.initializer)
      v.type = type_from_proto(out.type(), str_cat(file, ": graph output '", out.name(), "'"));
    g.outputs.push_back(out.name());
  }
  try {
    g.topo_sort();
  } catch (const Error& e) {
    throw Error(str_cat(file, ": ", e.what()));
  }
  std::set<std::string> produced(g.inputs.begin(), g.inputs.end());
  for (const auto& n : g.nodes)
    for (const auto& o : n->outputs) produced.insert(o);
  for (const auto& out : g.outputs)
    if (!produced.count(out) && !g.value(out).initializer)
      throw Error(str_cat(file, ": graph output '", out, "' is not produced by any node"));
  return m;
}

}  // namespace

Model load_model_from_bytes(const std::string& bytes, const std::string& display_name,
                            const std::string& base_dir) {
  onnx::ModelProto mp;
  if (bytes.empty()) throw Error(str_cat(display_name, ": file is empty, not an ONNX model"));
  if (!parse_message(bytes, &mp))
    throw Error(str_cat(display_name, ": not a valid ONNX model (protobuf parsing failed: truncated or corrupted file?)"));
  return model_from_proto(mp, display_name, base_dir);
}

Model load_model(const std::string& path) {
  return load_model_from_bytes(read_file(path), path, dirname_of(path));
}

void save_model(const Model& m, const std::string& path, const SaveOptions& opts) {
  onnx::ModelProto mp;
  // octet never lists initializers among the graph inputs, which IR versions before 4 require, so
  // older files are written as IR 4 (no semantic change for their opsets).
  mp.set_ir_version(std::max<int64_t>(m.ir_version, 4));
  mp.set_producer_name(m.producer_name.empty() ? "octet" : m.producer_name);
  mp.set_producer_version(m.producer_version);
  if (!m.doc.empty()) mp.set_doc_string(m.doc);
  for (const auto& [k, v] : m.metadata) {
    auto* kv = mp.add_metadata_props();
    kv->set_key(k);
    kv->set_value(v);
  }
  for (const auto& o : m.opsets) {
    auto* op = mp.add_opset_import();
    op->set_domain(o.domain);
    op->set_version(o.version);
  }
  const Graph& g = m.graph;
  auto* gp = mp.mutable_graph();
  gp->set_name(g.name.empty() ? "octet" : g.name);

  // Decide which initializers go to the external file.
  uint64_t total_inline = 0;
  for (const auto& name : g.initializer_names()) total_inline += g.value(name).initializer->nbytes();
  int64_t threshold = opts.external_data_threshold;
  if (threshold < 0 && total_inline > (1ull << 31) - (64ull << 20)) threshold = 1024;
  const std::string data_name =
      opts.external_data_name.empty() ? basename_of(path) + ".data" : opts.external_data_name;
  std::string external;

  for (const auto& name : g.initializer_names()) {
    const Tensor& t = *g.value(name).initializer;
    auto* tp = gp->add_initializer();
    tensor_to_proto(t, name, tp);
    // Small INT64/INT32 tensors are shapes, axes and indices that runtimes read while loading the
    // graph (onnxruntime cannot take them from external data): they always stay inline.
    const bool shape_like = (t.dtype() == DType::Int64 || t.dtype() == DType::Int32) && t.nbytes() <= 4096;
    if (threshold >= 0 && t.dtype() != DType::String && !shape_like &&
        static_cast<int64_t>(tp->raw_data().size()) >= threshold) {
      while (external.size() % 4096) external.push_back('\0');  // page-aligned for mmap readers
      const uint64_t offset = external.size();
      external += tp->raw_data();
      tp->clear_raw_data();
      tp->set_data_location(onnx::TensorProto::EXTERNAL);
      auto add = [&](const char* k, const std::string& v) {
        auto* e = tp->add_external_data();
        e->set_key(k);
        e->set_value(v);
      };
      add("location", data_name);
      add("offset", std::to_string(offset));
      add("length", std::to_string(external.size() - offset));
    }
  }
  for (const auto& in : g.inputs) {
    auto* vi = gp->add_input();
    vi->set_name(in);
    type_to_proto(g.value(in).type, vi->mutable_type());
  }
  for (const auto& out : g.outputs) {
    auto* vi = gp->add_output();
    vi->set_name(out);
    const TensorType& t = g.value(out).type;
    if (t.dtype != DType::Undefined) type_to_proto(t, vi->mutable_type());
  }
  std::set<std::string> io(g.inputs.begin(), g.inputs.end());
  io.insert(g.outputs.begin(), g.outputs.end());
  for (const auto& n : g.nodes) {
    auto* np = gp->add_node();
    np->set_name(n->name);
    np->set_op_type(n->op_type);
    if (!n->domain.empty()) np->set_domain(n->domain);
    for (const auto& i : n->inputs) np->add_input(i);
    for (const auto& o : n->outputs) np->add_output(o);
    for (const auto& [k, a] : n->attrs) attr_to_proto(k, a, np->add_attribute());
    for (const auto& o : n->outputs) {
      if (o.empty() || io.count(o)) continue;
      const Value* v = g.find_value(o);
      if (v && v->type.dtype != DType::Undefined) {
        auto* vi = gp->add_value_info();
        vi->set_name(o);
        type_to_proto(v->type, vi->mutable_type());
      }
    }
  }
  std::string bytes;
  if (mp.ByteSizeLong() > static_cast<size_t>(INT_MAX))
    throw Error(str_cat(path, ": model is larger than 2 GiB even with external data"));
  if (!mp.SerializeToString(&bytes)) throw Error(str_cat(path, ": serialisation failed"));
  AtomicWriter w;
  if (!external.empty()) w.write(join_path(dirname_of(path), data_name), external);
  w.write(path, bytes);
  w.commit();
}

Tensor load_tensor_pb(const std::string& path, std::string* name) {
  onnx::TensorProto tp;
  const std::string bytes = read_file(path);
  if (!parse_message(bytes, &tp)) throw Error(str_cat(path, ": not a valid ONNX TensorProto file"));
  if (name) *name = tp.name();
  return tensor_from_proto(tp, path, dirname_of(path));
}

void save_tensor_pb(const Tensor& t, const std::string& name, const std::string& path) {
  onnx::TensorProto tp;
  tensor_to_proto(t, name, &tp);
  write_file_atomic(path, tp.SerializeAsString());
}

}  // namespace octet
