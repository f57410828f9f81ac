// The engine: runs a model on the fast kernels where they apply and on the reference ops
// everywhere else. Load-time planning prepares each node once (weights packed, a Relu/Clip that
// only reads a convolution or matmul fused into it); run() then walks the plan with a thread pool.
// Integer paths (octet.QLinearConv / octet.QLinearMatMul written by LowerQdq) equal the reference
// executor's result bit for bit; float paths differ from it by summation order (and Softmax and
// Gelu by their stated approximations, kernels/avx2/act_avx2.h).
//
// The engine does not rewrite the graph: lower Q/DQ first (src/passes/lower_qdq.h) to get integer
// kernels for a Q/DQ model; unlowered Q/DQ runs in float through the reference ops.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "runtime/executor.h"
#include "runtime/thread_choice.h"
#include "runtime/thread_pool.h"

namespace octet {

class FastOp;

struct EngineOptions {
  int threads = 0;         // <= 0: all cores
  bool profile = false;    // time every step (adds a clock read per node)
  bool fuse_activations = true;
  // FP32 convolutions (group 1) on oneDNN's kernels where this build links it
  // (fast/conv_f32_onednn.h); false: octet's own AVX2 kernels.
  bool onednn = true;
  // Values that must stay observable (run with keep_intermediates, or a ValueObserver): never
  // fused away.
  std::set<std::string> observe;
  // Samples per pass through the plan when a batch is split (runtime/batch_split.h): 0 picks it
  // so that the largest activation of a part fits about kSplitBudgetBytes per thread that runs
  // it; > 0 sets it (a batch of at most that many runs whole); < 0 never splits. Batches are only
  // split for models that compute samples independently, and never for a run with an observer or
  // keep_intermediates (their values are whole-batch). Engine::batch_plan says what a batch gets.
  int64_t micro_batch = 0;
  // A batch of at least as many samples as the pool has threads runs as concurrent parts, one
  // part per thread at a time, each part's steps on that thread alone (no synchronisation between
  // layers): an automatically sized part then aims at kSplitBudgetBytes for its one thread, the
  // number of parts is a multiple of the thread count where the batch allows, and the threads'
  // shares must be even within kMaxImbalance. Otherwise, or with false, the parts (if any) run one
  // after another, each step split across the threads.
  bool batch_parallel = true;
  // With more than one thread, a run of the whole batch (not split) may take one thread instead
  // of the pool where that has been faster for its batch size: the engine keeps a running mean
  // of both and now and then times the one it is not using (runtime/thread_choice.h: about 1% of
  // the time goes to those probes where the pool is clearly faster). Any split
  // gives the same bits, so only the time changes. Not for plans with oneDNN steps (oneDNN keeps
  // its own threads) or with profile; false: always the pool.
  bool adaptive_threads = true;
};

// Activation bytes per thread that an automatically sized part aims to stay within: a little
// over the 512 KiB L2 of one Zen 3 core, since a part's values are not all live at once.
constexpr int64_t kSplitBudgetBytes = 640 * 1024;
// Concurrent batch parts are used only when the busiest thread gets at most this times its even
// share of the samples (else the parts run one after another, each step split across the threads).
constexpr double kMaxImbalance = 1.2;

// One step of the plan: a node (plus the nodes fused into it: an activation, or the element-wise
// chain after a float MatMul/Gemm).
struct EngineLayer {
  std::string node, op_type;
  std::string kernel;     // fast kernel name, or "reference"
  std::string precision;  // "fp32", "int8", or the reference op's output type
  std::vector<std::string> fused;  // names of nodes folded into this step
  double total_ms = 0;
  int64_t calls = 0;
};

class Engine {
 public:
  // Throws Error naming unsupported ops, as Executor does. Keeps a reference to `model`.
  Engine(const Model& model, const EngineOptions& options = {});
  ~Engine();

  // Same contract as Executor::run (feeds checked the same way). One run at a time per Engine: the
  // pool is shared, so run() is not re-entrant. A batch that batch_plan() splits runs as parts,
  // consecutive or concurrent, whose outputs are joined along dim 0: the same values, since each
  // sample's arithmetic does not depend on the batch it is in. (Concurrent parts call the same
  // FastOp at once: FastOp::run is const and its buffers are per thread.) An error in one part
  // ends the run with that error; parts not yet started are skipped.
  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& feeds,
                                    const RunOptions& options = {});

  // Called by run() with each value named in EngineOptions::observe, once per run, as soon as it
  // is computed (a fed graph input before the first step), so that it is read while still in
  // cache and need not be kept. Runs on run()'s thread between steps, where it may use pool();
  // the tensor is valid only during the call. An exception it throws ends the run.
  using ValueObserver = std::function<void(const std::string& name, const Tensor& value)>;
  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& feeds, const RunOptions& options,
                                    const ValueObserver& observer);

  // Per-step timing since construction (or reset_profile), in plan order; times are only
  // measured with EngineOptions::profile.
  // A split run counts as one call per step, timed as the sum over its parts; with concurrent
  // parts that sum is divided by the number of threads that ran them (the step's share of the
  // run's wall time, when the threads were equally busy).
  const std::vector<EngineLayer>& layers() const { return layers_; }
  void reset_profile();
  // How run() splits a batch of n samples: `parts` parts of `part` samples or one fewer (sizes
  // differ by at most 1), run concurrently or not (EngineOptions::batch_parallel). One part of n
  // when the run is not split.
  struct BatchPlan {
    int64_t part = 0, parts = 1;
    bool concurrent = false;
  };
  BatchPlan batch_plan(int64_t n) const;
  // Samples per part for a batch of n (n itself when the run is not split).
  int64_t part_size(int64_t n) const { return batch_plan(n).part; }
  int threads() const { return pool_.size(); }
  // Runs since construction (those that threw included), and how many of them took one thread
  // (adaptive_threads: where that was faster, and the probes of one thread where it was not).
  int64_t runs() const { return runs_; }
  int64_t one_thread_runs() const { return one_thread_runs_; }
  ThreadPool& pool() { return pool_; }
  const ThreadPool& pool() const { return pool_; }

 private:
  struct Step;
  // What one pass of the plan measured for the profile: per step, milliseconds and whether the
  // fast op ran (rather than declining to the reference op).
  struct PassProfile {
    std::vector<double> ms;
    std::vector<char> fast_ran;
  };
  // One pass of the plan over `feeds` (the whole batch or a part of it) on `pool`.
  std::map<std::string, Tensor> run_plan(const std::map<std::string, Tensor>& feeds, const RunOptions& options,
                                         const ValueObserver& observer, ThreadPool& pool, PassProfile* profile);
  // Adds passes' measurements to layers_: one call, the time summed and divided by `divisor`.
  void record(const std::vector<PassProfile>& passes, double divisor);
  const Model& model_;
  EngineOptions options_;
  Executor checker_;  // validates feeds and holds the reference semantics
  ThreadPool pool_;
  ThreadPool serial_{1};  // the pool each concurrent part runs on: inline, so shared by all threads
  std::vector<Step> steps_;
  std::vector<EngineLayer> layers_;
  std::map<std::string, int> slot_of_;  // value name -> slot in the run's value table
  std::vector<const Tensor*> constants_;  // per slot: initializer or nullptr
  std::vector<const std::string*> observed_;  // per slot: its name if in options_.observe, else nullptr
  int num_slots_ = 0;
  int64_t split_bytes_ = 0;  // batch_split_bytes(model): 0 when the batch must not be split
  bool adaptive_ = false;    // adaptive_threads applies: more than one thread, no oneDNN step, no profile
  ThreadChoice choice_;
  int64_t runs_ = 0, one_thread_runs_ = 0;
};

// A float MatMul whose two operands are computed at run time, as far as the graph tells at load:
// the MatMuls the engine reads through the Transposes it folds into them (and whose output
// Transpose it may write directly). Calibration (quant/calibrate.cpp) follows the same rule.
bool runtime_matmul(const Graph& g, const Node& mm);

}  // namespace octet
