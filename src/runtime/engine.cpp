#include "runtime/engine.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

#include "runtime/batch_split.h"
#include "runtime/fast/fast_op.h"
#include "runtime/fast/post_ops.h"
#include "runtime/op_registry.h"

namespace octet {

struct Engine::Step {
  const Node* node = nullptr;
  const OpDef* def = nullptr;
  // Nodes fused into the fast op (skipped as nodes): a Relu/Clip, or after a float Conv an Add of
  // a residual then maybe a Relu/Clip, or after an octet.QLinearConv its octet.QLinearAdd, or after
  // a float MatMul/Gemm a chain of element-wise nodes (post_ops.h, a residual Add among them),
  // each reading the one before.
  std::vector<const Node*> chain;
  std::vector<const OpDef*> chain_defs;
  std::vector<int> chain_out;  // slot of each chain node's output; the step's result is the last
  PostOps post;
  std::unique_ptr<FastOp> fast;
  // Slots of node inputs, -1 when absent; then, for a fused residual Add, the residual's (the fast
  // op's extra input, which the node's reference op does not see).
  std::vector<int> in;
  // Transposes folded into a run-time MatMul (operand index, the Transpose): the op reads the
  // Transpose's input through its permutation; a declined run runs the Transpose first.
  std::vector<std::pair<size_t, const Node*>> folded;
  std::vector<const OpDef*> folded_defs;
  std::vector<int> out;       // slots of node outputs (-1 when absent or fused away)
  std::vector<int> frees;     // slots whose last reader is this step
};

namespace {

std::unique_ptr<FastOp> make_fast(const FastOpContext& ctx) {
  const Node& n = ctx.node;
  if (n.domain.empty() && n.op_type == "Conv") return make_conv_f32(ctx);
  if (n.domain.empty() && (n.op_type == "MatMul" || n.op_type == "Gemm")) return make_matmul_f32(ctx);
  if (n.domain == "octet" && n.op_type == "QLinearConv") return make_qconv(ctx);
  if (n.domain == "octet" && n.op_type == "QLinearMatMul") return make_qmatmul(ctx);
  if (n.domain == "octet" && n.op_type == "QLinearAdd") return make_qadd(ctx);
  if (n.domain == "octet" && n.op_type == "QLinearGlobalAveragePool") return make_qglobal_avgpool(ctx);
  if (n.domain.empty() && n.op_type == "MaxPool") return make_maxpool(ctx);
  if (n.domain.empty() && n.op_type == "GlobalAveragePool") return make_global_avgpool(ctx);
  if (n.domain.empty() && n.op_type == "Transpose") return make_transpose(ctx);
  if (n.domain.empty() && (n.op_type == "Softmax" || n.op_type == "Gelu" || n.op_type == "LayerNormalization"))
    return make_activation(ctx);
  return make_eltwise(ctx);
}

bool float_output_op(const Node& n) {  // fast ops whose output is float and may absorb an activation
  return n.domain.empty() && (n.op_type == "Conv" || n.op_type == "MatMul" || n.op_type == "Gemm" || n.op_type == "Add");
}

bool float_product(const Node& n) {  // fast ops that apply a whole chain of element-wise nodes
  return n.domain.empty() && (n.op_type == "MatMul" || n.op_type == "Gemm");
}

bool qconv_node(const Node& n) { return n.domain == "octet" && n.op_type == "QLinearConv"; }

// The residual when `add` adds a convolution's output y and another value r, as a residual block
// does: a float Conv's Add, or an octet.QLinearConv's octet.QLinearAdd (y one of its two
// operands, inputs 0 and 3). r must be computed at run time by a node before the Conv (or be a
// graph input), so that it exists when the Conv runs, and not contradict y's inferred shape (or
// type, for a float Add). The fast op checks the shapes again at run time and declines (the nodes
// then run one by one), or refuses the Add at load (the engine then fuses nothing).
bool conv_residual(const Graph& g, const Node& conv, const Node& add, const std::string& y,
                   const std::set<std::string>& computed, std::string* residual) {
  const bool float_add = conv.domain.empty() && conv.op_type == "Conv" && add.domain.empty() &&
                         add.op_type == "Add" && add.inputs.size() == 2;
  const bool int8_add = qconv_node(conv) && add.domain == "octet" && add.op_type == "QLinearAdd" && add.inputs.size() >= 7;
  if ((!float_add && !int8_add) || conv.inputs.size() > residual_input(conv)) return false;
  const size_t first = 0, second = float_add ? 1 : 3;  // the operands' input indices
  if (add.outputs.size() != 1 || (add.inputs[first] != y && add.inputs[second] != y)) return false;
  const std::string& r = add.inputs[first] == y ? add.inputs[second] : add.inputs[first];
  if (r.empty() || r == y || !computed.count(r)) return false;
  const Value* rv = g.find_value(r);
  const Value* yv = g.find_value(y);
  if (!rv || rv->initializer || !yv) return false;
  if (float_add && rv->type.dtype != DType::Undefined && rv->type.dtype != DType::Float32) return false;
  if (rv->type.has_shape && yv->type.has_shape) {
    if (rv->type.dims.size() != yv->type.dims.size()) return false;
    for (size_t i = 0; i < rv->type.dims.size(); ++i)
      if (rv->type.dims[i].is_known() && yv->type.dims[i].is_known() && rv->type.dims[i] != yv->type.dims[i])
        return false;
  }
  *residual = r;
  return true;
}

// The other operand r when `add` adds a float product's value y (the chain's current value) and
// a value r computed by then, both float32 of the same inferred shape (each dim known and equal,
// or the same named symbol, such as the batch): a residual connection after a MatMul or Gemm
// (PostOp::Kind::AddTensor; the op receives r as input kProductAddendInput and compares the
// shapes again at run time, declining on a difference).
bool product_addend(const Graph& g, const Node& add, const std::string& y, const std::set<std::string>& computed,
                    std::string* r) {
  if (!add.domain.empty() || add.op_type != "Add" || add.inputs.size() != 2 || add.outputs.size() != 1) return false;
  if (add.inputs[0] != y && add.inputs[1] != y) return false;
  const std::string& other = add.inputs[0] == y ? add.inputs[1] : add.inputs[0];
  if (other.empty() || other == y || !computed.count(other)) return false;
  const Value* rv = g.find_value(other);
  const Value* yv = g.find_value(y);
  if (!rv || rv->initializer || !yv) return false;
  const TensorType &rt = rv->type, &yt = yv->type;
  if (rt.dtype != DType::Float32 || yt.dtype != DType::Float32 || !rt.has_shape || !yt.has_shape ||
      rt.dims.size() != yt.dims.size())
    return false;
  for (size_t i = 0; i < rt.dims.size(); ++i)
    if (rt.dims[i] != yt.dims[i] || (!rt.dims[i].is_known() && rt.dims[i].param.empty())) return false;
  *r = other;
  return true;
}

// The permutation of Transpose `t` when known at load: its perm attribute, or the reversal of its
// input's inferred rank. Empty when neither is known.
std::vector<int64_t> transpose_perm(const Graph& g, const Node& t) {
  if (t.has_attr("perm")) return t.attr_ints("perm");
  const Value* v = g.find_value(t.inputs[0]);
  if (!v || !v->type.has_shape) return {};
  std::vector<int64_t> perm(v->type.dims.size());
  for (size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<int64_t>(perm.size() - 1 - i);
  return perm;
}

// Whether `t`, the only reader of run-time MatMul `mm`'s output, is a float32 Transpose whose
// permutation (*perm) is known at load and keeps the last dim last: the MatMul can then write
// its product straight into the Transpose's layout (FastOpContext::output_perm).
bool output_transpose(const Graph& g, const Node& mm, const Node& t, std::vector<int64_t>* perm) {
  if (!runtime_matmul(g, mm) || mm.outputs.size() != 1) return false;
  if (!t.domain.empty() || t.op_type != "Transpose" || t.inputs.size() != 1 || t.outputs.size() != 1 ||
      t.inputs[0] != mm.outputs[0])
    return false;
  const Value* y = g.find_value(mm.outputs[0]);
  if (!y || y->type.dtype != DType::Float32) return false;
  std::vector<int64_t> p = transpose_perm(g, t);
  if (p.size() < 2 || p.back() != static_cast<int64_t>(p.size()) - 1) return false;
  *perm = std::move(p);
  return true;
}

}  // namespace

bool runtime_matmul(const Graph& g, const Node& mm) {
  auto runtime_value = [&](const std::string& name) {
    const Value* v = g.find_value(name);
    return !name.empty() && v && !v->initializer;
  };
  return mm.domain.empty() && mm.op_type == "MatMul" && mm.inputs.size() == 2 && mm.inputs[0] != mm.inputs[1] &&
         runtime_value(mm.inputs[0]) && runtime_value(mm.inputs[1]);
}

Engine::Engine(const Model& model, const EngineOptions& options)
    : model_(model), options_(options), checker_(model), pool_(options.threads) {
  const Graph& g = model.graph;
  const OpRegistry& reg = OpRegistry::global();
  auto slot = [&](const std::string& name) {
    auto [it, fresh] = slot_of_.emplace(name, num_slots_);
    if (fresh) ++num_slots_;
    return it->second;
  };
  for (const auto& name : g.inputs) slot(name);
  for (const auto& name : g.initializer_names()) slot(name);
  std::map<std::string, std::vector<const Node*>> readers;
  for (const auto& n : g.nodes)
    for (const auto& in : n->inputs)
      if (!in.empty()) readers[in].push_back(n.get());
  std::set<std::string> graph_outputs(g.outputs.begin(), g.outputs.end());
  std::set<const Node*> absorbed;
  std::set<std::string> computed(g.inputs.begin(), g.inputs.end());  // values of the nodes visited so far
  const bool fast_ok = fast_kernels_available();
  // Transposes folded into the float MatMul of two run-time operands that reads them (attention's
  // head splits: fast/matmul_f32.cpp reads the operand through the permutation's strides): a
  // Transpose of a float32 value whose only reader is such a MatMul, whose output is neither
  // observed nor a graph output, and whose permutation is known at load. It gets no step of its
  // own.
  std::map<const Node*, std::vector<std::pair<size_t, const Node*>>> folded;
  if (fast_ok && options.fuse_activations) {
    for (const auto& up : g.nodes) {
      const Node& t = *up;
      if (!t.domain.empty() || t.op_type != "Transpose" || t.inputs.size() != 1 || t.outputs.size() != 1 ||
          t.inputs[0].empty() || transpose_perm(g, t).empty())
        continue;
      const Value* x = g.find_value(t.inputs[0]);  // float32 as inferred: what the fast op takes
      if (!x || x->type.dtype != DType::Float32) continue;
      const std::string& y = t.outputs[0];
      const auto r = readers.find(y);
      if (graph_outputs.count(y) || options.observe.count(y) || r == readers.end() || r->second.size() != 1) continue;
      const Node& mm = *r->second[0];
      if (!runtime_matmul(g, mm)) continue;
      folded[&mm].push_back({mm.inputs[0] == y ? 0u : 1u, &t});
      absorbed.insert(&t);
    }
  }

  for (const auto& up : g.nodes) {
    const Node& n = *up;
    if (absorbed.count(&n)) continue;
    Step s;
    s.node = &n;
    s.def = reg.find(n.op_type, n.domain);
    OCTET_CHECK(s.def, "op vanished from registry: ", n.op_type);
    float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
    std::string residual;  // a fused Add's other input
    const Node* residual_add = nullptr;
    std::vector<int64_t> out_perm;  // a Transpose of a run-time product's output, folded into it
    if (fast_ok && options.fuse_activations && (float_output_op(n) || qconv_node(n)) && n.outputs.size() == 1) {
      // Follow the output while it is read by exactly one node, is neither observed nor a graph
      // output, and that node is an activation (or, after a product, any post op).
      std::string y = n.outputs[0];
      // The product's rank and last dim as inferred (-1 where unknown; no rank: an empty shape,
      // which no op that depends on the shape fits).
      Shape product_shape;
      if (const Value* v = g.find_value(y); v && v->type.has_shape && !v->type.dims.empty()) {
        product_shape.assign(v->type.dims.size(), -1);
        product_shape.back() = v->type.dims.back().is_known() ? v->type.dims.back().value : -1;
      }
      for (;;) {
        auto r = readers.find(y);
        if (graph_outputs.count(y) || options.observe.count(y) || r == readers.end() || r->second.size() != 1) break;
        const Node& next = *r->second[0];
        if (float_product(n) && s.chain.empty() && !absorbed.count(&next) && output_transpose(g, n, next, &out_perm)) {
          // The product written in the Transpose's layout (attention's head merge); it ends the chain.
          s.chain.push_back(&next);
          s.chain_defs.push_back(reg.find(next.op_type, next.domain));
          break;
        }
        if (float_product(n)) {
          PostOp op;
          std::string addend;
          if (!PostOps::describe(g, model.default_opset(), next, y, &op)) {
            // A residual Add of a value computed by now (one a chain): the op adds it per block.
            if (s.post.has_addend() || !product_addend(g, next, y, computed, &addend)) break;
            op = PostOp{};
            op.kind = PostOp::Kind::AddTensor;
          }
          // Only ops that fit the product's inferred shape: a run then declines the chain only
          // for inputs that contradict the inferred shapes (and the nodes run one by one).
          const bool shape_free = op.kind == PostOp::Kind::Clamp || op.kind == PostOp::Kind::Gelu;
          if (!(product_shape.empty() ? shape_free : PostOps::fits(op, product_shape))) break;
          s.post.push(op);
          if (!addend.empty()) residual = addend;  // the op's extra input
        } else if (s.chain.empty() && conv_residual(g, n, next, y, computed, &residual)) {
          residual_add = &next;  // the op adds the residual (before its clamp)
        } else if (qconv_node(n)) {
          break;  // an integer convolution takes its residual add only
        } else {
          float act_lo, act_hi;  // activation_bounds may write them before it says no
          if (s.chain.size() != (residual.empty() ? 0u : 1u) || next.inputs[0] != y ||
              !activation_bounds(g, next, &act_lo, &act_hi))
            break;
          lo = act_lo;
          hi = act_hi;
        }
        s.chain.push_back(&next);
        s.chain_defs.push_back(reg.find(next.op_type, next.domain));
        y = next.outputs[0];
      }
    }
    std::vector<int64_t> perms[2];
    if (const auto f = folded.find(&n); f != folded.end()) s.folded = f->second;
    if (fast_ok) {
      FastOpContext ctx{n, g, model.default_opset(), lo, hi, options.onednn};
      if (float_product(n)) ctx.post = &s.post;
      ctx.residual_add = residual_add;
      if (!out_perm.empty()) ctx.output_perm = &out_perm;
      for (const auto& [operand, t] : s.folded) {
        perms[operand] = transpose_perm(g, *t);
        ctx.operand_perm[operand] = &perms[operand];
      }
      s.fast = make_fast(ctx);
      OCTET_CHECK(s.folded.empty() || s.fast, "engine: ", n.describe(), " declined the Transposes folded into it");
      if (!s.fast && residual_add) {  // the op cannot take the Add: fuse nothing into it
        s.chain.clear();
        s.chain_defs.clear();
        residual.clear();
        FastOpContext plain{n, g, model.default_opset(), -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::infinity(), options.onednn};
        s.fast = make_fast(plain);
      }
    }
    if (!s.fast) {  // no fast op: the chain's nodes stay nodes of their own
      s.chain.clear();
      s.chain_defs.clear();
      s.post = PostOps();
      residual.clear();
    }
    for (const auto& in : n.inputs) s.in.push_back(in.empty() ? -1 : slot(in));
    if (!residual.empty()) {  // the fast op's extra input, after the node's own (absent ones -1)
      s.in.resize(float_product(n) ? kProductAddendInput : residual_input(n), -1);
      s.in.push_back(slot(residual));
    }
    for (const auto& [operand, t] : s.folded) {  // the Transpose's input in place of its output
      s.in[operand] = slot(t->inputs[0]);
      s.folded_defs.push_back(reg.find(t->op_type, t->domain));
      computed.insert(t->outputs[0]);
    }
    for (const auto& o : n.outputs) s.out.push_back(o.empty() ? -1 : slot(o));
    EngineLayer layer;
    layer.node = n.name;
    layer.op_type = n.domain.empty() ? n.op_type : n.domain + "." + n.op_type;
    layer.kernel = s.fast ? s.fast->kernel() : "reference";
    layer.precision = s.fast ? s.fast->precision() : "";
    for (const auto& o : n.outputs) computed.insert(o);
    for (const auto& f : s.folded) layer.fused.push_back(f.second->name);
    for (const Node* c : s.chain) {
      computed.insert(c->outputs[0]);
      absorbed.insert(c);
      s.chain_out.push_back(slot(c->outputs[0]));
      layer.fused.push_back(c->name);
    }
    layers_.push_back(layer);
    steps_.push_back(std::move(s));
  }
  // Precision of reference steps: the dtype of their first output, as far as known.
  for (size_t i = 0; i < steps_.size(); ++i)
    if (layers_[i].precision.empty()) {
      const Value* v = steps_[i].node->outputs.empty() ? nullptr : g.find_value(steps_[i].node->outputs[0]);
      layers_[i].precision = v && v->type.dtype != DType::Undefined ? dtype_name(v->type.dtype) : "?";
    }
  constants_.assign(num_slots_, nullptr);
  for (const auto& name : g.initializer_names()) constants_[slot_of_.at(name)] = &*g.value(name).initializer;
  observed_.assign(num_slots_, nullptr);
  for (const auto& [name, sl] : slot_of_)
    if (options_.observe.count(name) && !constants_[sl]) observed_[sl] = &name;
  // Free each intermediate after its last reader.
  std::vector<int> last(num_slots_, -1);
  for (size_t i = 0; i < steps_.size(); ++i) {
    for (int sl : steps_[i].in)
      if (sl >= 0) last[sl] = static_cast<int>(i);
  }
  std::set<int> keep;
  for (const auto& o : g.outputs) keep.insert(slot_of_.count(o) ? slot_of_.at(o) : -1);
  for (int sl = 0; sl < num_slots_; ++sl)
    if (last[sl] >= 0 && !keep.count(sl) && !constants_[sl]) steps_[last[sl]].frees.push_back(sl);
  bool invariant = true;
  for (const auto& st : steps_) invariant = invariant && (!st.fast || st.fast->batch_invariant());
  if (options_.micro_batch >= 0 && invariant) split_bytes_ = batch_split_bytes(model);
  // batch_invariant() is false only for the steps that hold oneDNN primitives.
  adaptive_ = options_.adaptive_threads && pool_.size() > 1 && invariant && !options_.profile;
}

Engine::BatchPlan Engine::batch_plan(int64_t n) const {
  const BatchPlan whole{n, 1, false};
  if (split_bytes_ <= 0 || n <= 1 || (options_.micro_batch > 0 && options_.micro_batch >= n)) return whole;
  const int64_t threads = pool_.size();
  // Concurrent parts: each at most the budget of its one thread (a single sample if not even one
  // fits: each step then runs on one thread with the same products as the whole batch split
  // across the threads), in a multiple of the thread count so that every thread gets as many,
  // more of them (smaller) where that evens the threads' shares, or one per sample. Taken only
  // when the busiest thread's samples are within kMaxImbalance of n / threads: a batch of 3 on
  // 2 threads would keep one thread on 2 samples while the other idles after 1.
  if (options_.batch_parallel && threads > 1 && n >= threads) {
    const int64_t part = std::max<int64_t>(1, options_.micro_batch > 0 ? options_.micro_batch
                                                                       : kSplitBudgetBytes / split_bytes_);
    auto even = [&](int64_t parts) {  // the busiest thread: rounds of parts, the largest part each
      const int64_t rounds = (parts + threads - 1) / threads, largest = (n + parts - 1) / parts;
      return static_cast<double>(rounds * largest * threads) <= kMaxImbalance * static_cast<double>(n);
    };
    for (int64_t parts = ((n + part - 1) / part + threads - 1) / threads * threads; parts <= n; parts += threads)
      if (even(parts)) return {(n + parts - 1) / parts, parts, true};
    if (even(n)) return {1, n, true};
  }
  // Consecutive parts, each step split across the threads: the budget of all threads, and no
  // split when not even two samples fit (one sample's activations then spill out of L2 anyway,
  // and smaller products only run slower: ResNet-18 at 224x224, batch 8, took 274 ms in parts of
  // 1 against 202 ms whole).
  const int64_t part = options_.micro_batch > 0 ? options_.micro_batch : kSplitBudgetBytes * threads / split_bytes_;
  if (part >= n || part < 1 || (options_.micro_batch == 0 && part < 2)) return whole;
  const int64_t parts = (n + part - 1) / part;
  return {(n + parts - 1) / parts, parts, false};  // the largest of parts differing by at most 1
}

Engine::~Engine() = default;

void Engine::reset_profile() {
  for (auto& l : layers_) {
    l.total_ms = 0;
    l.calls = 0;
  }
}

std::map<std::string, Tensor> Engine::run(const std::map<std::string, Tensor>& feeds, const RunOptions& options) {
  return run(feeds, options, ValueObserver());
}

std::map<std::string, Tensor> Engine::run(const std::map<std::string, Tensor>& feeds, const RunOptions& options,
                                          const ValueObserver& observer) {
  // The batch: dim 0 of every feed, when they agree (the checker reports feeds that do not fit).
  int64_t n = -1;
  for (const auto& [name, t] : feeds) {
    const int64_t d = t.rank() > 0 ? t.dim(0) : -1;
    n = n == -1 || n == d ? d : -2;
  }
  const BatchPlan plan = n > 1 && !observer && !options.keep_intermediates ? batch_plan(n) : BatchPlan{n, 1, false};
  std::vector<PassProfile> passes(options_.profile ? static_cast<size_t>(std::max<int64_t>(plan.parts, 1)) : 0);
  ++runs_;
  if (plan.parts <= 1) {
    if (!adaptive_) {
      auto out = run_plan(feeds, options, observer, pool_, passes.empty() ? nullptr : &passes[0]);
      record(passes, 1);
      return out;
    }
    const bool one = choice_.next_is_one(n);
    one_thread_runs_ += one ? 1 : 0;
    const auto t0 = std::chrono::steady_clock::now();
    auto out = run_plan(feeds, options, observer, one ? serial_ : pool_, nullptr);
    choice_.record(n, one, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    return out;
  }
  checker_.check_feeds(feeds);  // the whole batch, so that errors name its shapes
  std::vector<int64_t> first(static_cast<size_t>(plan.parts) + 1, 0);  // part i: samples [first[i], first[i + 1])
  for (int64_t i = 0; i < plan.parts; ++i) first[i + 1] = first[i] + n / plan.parts + (i < n % plan.parts ? 1 : 0);
  std::vector<std::map<std::string, Tensor>> outs(static_cast<size_t>(plan.parts));
  std::atomic<bool> failed{false};  // a part threw: the parts not yet started are skipped
  auto run_part = [&](int64_t i, ThreadPool& pool) {
    if (failed.load(std::memory_order_relaxed)) return;
    const int64_t b0 = first[i], b = first[i + 1] - b0;
    std::map<std::string, Tensor> sub;
    for (const auto& [name, t] : feeds) {
      Shape shape = t.shape();
      shape[0] = b;
      Tensor s(t.dtype(), shape, Tensor::Uninitialized{});
      const size_t row = t.nbytes() / static_cast<size_t>(n);
      std::memcpy(s.raw(), static_cast<const char*>(t.raw()) + row * b0, row * b);
      sub.emplace(name, std::move(s));
    }
    try {
      outs[i] = run_plan(sub, options, observer, pool, passes.empty() ? nullptr : &passes[i]);
    } catch (...) {
      failed = true;
      throw;
    }
    for (const auto& [name, t] : outs[i])
      if (t.rank() == 0 || t.dim(0) != b)
        throw InternalError(str_cat("graph output '", name, "' of a batch part has shape ", shape_str(t.shape()),
                                    ", not ", b, " samples: the model mixes samples (batch_split)"));
  };
  if (plan.concurrent) {
    pool_.parallel_tasks(plan.parts, [&](int64_t i) { run_part(i, serial_); });
  } else {
    for (int64_t i = 0; i < plan.parts; ++i) run_part(i, pool_);
  }
  record(passes, plan.concurrent ? static_cast<double>(std::min<int64_t>(pool_.size(), plan.parts)) : 1.0);
  std::map<std::string, Tensor> result;
  for (const auto& entry : outs[0]) {
    const std::string& name = entry.first;
    const DType type = entry.second.dtype();
    Shape shape = entry.second.shape();  // copied: each part's tensor is dropped once joined
    shape[0] = n;
    Tensor whole(type, shape, Tensor::Uninitialized{});
    const size_t row = whole.nbytes() / static_cast<size_t>(n);
    for (int64_t i = 0; i < plan.parts; ++i) {
      Tensor& t = outs[i].at(name);
      bool same = t.dtype() == type && t.rank() == shape.size();
      for (size_t d = 1; same && d < t.rank(); ++d) same = t.dim(d) == shape[d];
      if (!same)
        throw InternalError(str_cat("graph output '", name, "' is ", dtype_name(t.dtype()), " ", shape_str(t.shape()),
                                    " in batch part ", i, " and ", dtype_name(type), " ", shape_str(shape),
                                    " (samples per part aside) in part 0"));
      std::memcpy(static_cast<char*>(whole.raw()) + row * first[i], t.raw(), t.nbytes());
      if (i > 0) t = Tensor();  // each part's copy goes as soon as it is joined
    }
    result.emplace(name, std::move(whole));
  }
  return result;
}

void Engine::record(const std::vector<PassProfile>& passes, double divisor) {
  if (passes.empty()) return;
  for (size_t i = 0; i < layers_.size(); ++i) {
    double ms = 0;
    for (const PassProfile& p : passes) ms += p.ms[i];
    layers_[i].total_ms += ms / divisor;
    ++layers_[i].calls;
    // A fast op may settle on another of its kernels on its first run (a float convolution
    // that oneDNN declines for the input size), or leave a shape it was not prepared for to
    // the reference op: the profile names what ran (in the last part).
    if (steps_[i].fast) layers_[i].kernel = passes.back().fast_ran[i] ? steps_[i].fast->kernel() : "reference";
  }
}

std::map<std::string, Tensor> Engine::run_plan(const std::map<std::string, Tensor>& feeds, const RunOptions& options,
                                               const ValueObserver& observer, ThreadPool& pool,
                                               PassProfile* profile) {
  checker_.check_feeds(feeds);
  const Graph& g = model_.graph;
  std::vector<Tensor> env(num_slots_);
  auto notify = [&](int sl) {
    if (observer && sl >= 0 && observed_[sl] && env[sl].defined()) observer(*observed_[sl], env[sl]);
  };
  for (const auto& [name, t] : feeds) env[slot_of_.at(name)] = t;
  for (const auto& [name, t] : feeds) notify(slot_of_.at(name));
  auto value = [&](int sl) -> const Tensor* {
    if (sl < 0) return nullptr;
    if (constants_[sl]) return constants_[sl];
    return &env[sl];
  };
  const int64_t opset = model_.default_opset();
  using Clock = std::chrono::steady_clock;
  if (profile) {
    profile->ms.assign(steps_.size(), 0.0);
    profile->fast_ran.assign(steps_.size(), 0);
  }
  for (size_t i = 0; i < steps_.size(); ++i) {
    const Step& s = steps_[i];
    const auto t0 = profile ? Clock::now() : Clock::time_point{};
    std::vector<const Tensor*> inputs;
    inputs.reserve(s.in.size());
    for (int sl : s.in) {
      const Tensor* t = value(sl);
      OCTET_CHECK(sl < 0 || constants_[sl] || t->defined(), "value not computed before ", s.node->describe());
      inputs.push_back(t);
    }
    bool done = false;
    if (s.fast) {
      Tensor out;
      done = s.fast->run(inputs, out, pool);
      if (done) {
        const int result = s.chain.empty() ? s.out[0] : s.chain_out.back();
        env[result] = std::move(out);
        notify(result);
      }
    }
    if (!done) {
      inputs.resize(s.node->inputs.size());  // without a fused Add's residual
      std::vector<Tensor> unfolded(s.folded.size());  // the folded Transposes' outputs, computed now
      for (size_t f = 0; f < s.folded.size(); ++f) {
        const auto& [operand, t] = s.folded[f];
        OpContext tctx{*t, opset, {inputs[operand]}, {}};
        tctx.outputs.resize(1);
        s.folded_defs[f]->run(tctx);
        if (!tctx.outputs[0].defined())
          throw Error(str_cat(t->describe(), ": did not produce output '", t->outputs[0], "'"));
        unfolded[f] = std::move(tctx.outputs[0]);
        inputs[operand] = &unfolded[f];
      }
      OpContext ctx{*s.node, opset, std::move(inputs), {}};
      ctx.outputs.resize(s.node->outputs.size());
      s.def->run(ctx);
      for (size_t o = 0; o < s.out.size(); ++o) {
        if (s.out[o] < 0) continue;
        if (!ctx.outputs[o].defined())
          throw Error(str_cat(s.node->describe(), ": did not produce output '", s.node->outputs[o], "'"));
        env[s.out[o]] = std::move(ctx.outputs[o]);
        notify(s.out[o]);
      }
      // The fused nodes, run as nodes of their own; each intermediate is dropped once read.
      int prev = s.out.empty() ? -1 : s.out[0];
      for (size_t c = 0; c < s.chain.size(); ++c) {
        const Node& node = *s.chain[c];
        OpContext cctx{node, opset, {}, {}};
        for (const auto& in : node.inputs) cctx.inputs.push_back(in.empty() ? nullptr : value(slot_of_.at(in)));
        cctx.outputs.resize(1);
        s.chain_defs[c]->run(cctx);
        if (!cctx.outputs[0].defined())
          throw Error(str_cat(node.describe(), ": did not produce output '", node.outputs[0], "'"));
        env[s.chain_out[c]] = std::move(cctx.outputs[0]);
        notify(s.chain_out[c]);
        if (!options.keep_intermediates && prev >= 0) env[prev] = Tensor();
        prev = s.chain_out[c];
      }
    }
    if (!options.keep_intermediates)
      for (int sl : s.frees) env[sl] = Tensor();
    if (profile) {
      profile->ms[i] = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      profile->fast_ran[i] = done;
    }
  }
  std::map<std::string, Tensor> result;
  if (options.keep_intermediates) {
    for (const auto& [name, sl] : slot_of_) {
      if (constants_[sl]) {
        if (std::find(g.outputs.begin(), g.outputs.end(), name) != g.outputs.end()) result[name] = *constants_[sl];
      } else if (env[sl].defined()) {
        result[name] = std::move(env[sl]);
      }
    }
    return result;
  }
  for (const auto& out : g.outputs) {
    const int sl = slot_of_.at(out);
    if (constants_[sl]) result[out] = *constants_[sl];
    else if (env[sl].defined()) result[out] = env[sl];  // shares the buffer (an output may be listed twice)
    else throw Error(str_cat("graph output '", out, "' was not computed"));
  }
  return result;
}

}  // namespace octet
