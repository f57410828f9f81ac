#include "tools/octet/runner.h"

#include <iostream>

#include "passes/fold_batchnorm.h"
#include "passes/fold_constants.h"
#include "passes/fp16_weights.h"
#include "passes/lower_qdq.h"
#include "runtime/shape_inference.h"

namespace octet::cli {

ModelRunner::ModelRunner(const Model& model, const RunnerOptions& options) {
  if (options.reference) {
    executor_ = std::make_unique<Executor>(model);
    description_ = "reference executor";
    return;
  }
  bool qdq = false;
  for (const auto& n : model.graph.nodes)
    qdq |= n->domain.empty() && (n->op_type == "QuantizeLinear" || n->op_type == "DequantizeLinear");
  EngineOptions eo;
  eo.threads = options.threads;
  eo.profile = options.profile;
  eo.onednn = options.onednn;
  eo.micro_batch = options.micro_batch;
  eo.batch_parallel = options.batch_parallel;
  eo.adaptive_threads = options.adaptive_threads;
  // The engine runs a prepared copy: Q/DQ lowered to integer ops first (before constant folding,
  // which would turn the INT8 weights back into float), then constants and BatchNormalization
  // folded, as any inference engine does at load.
  lowered_ = clone_model(model);
  LowerQdq lower;
  if (qdq) lower.run(lowered_);
  expand_fp16_weights(lowered_);  // FLOAT16-stored float weights, widened once with F16C
  FoldConstants().run(lowered_);
  FoldBatchNorm().run(lowered_);
  lowered_.graph.topo_sort();
  infer_shapes(lowered_);
  left_in_float_ = lower.stats().left_in_float;
  engine_ = std::make_unique<Engine>(lowered_, eo);
  description_ = str_cat("engine, ", engine_->threads(), " threads");
  if (qdq)
    description_ += str_cat("; Q/DQ lowered: ", lower.stats().fused_conv, " conv, ", lower.stats().fused_matmul,
                            " matmul, ", lower.stats().fused_add, " add and ", lower.stats().fused_pool,
                            " pool layers on INT8 kernels");
}

std::map<std::string, Tensor> ModelRunner::run(const std::map<std::string, Tensor>& feeds, const RunOptions& options) {
  return engine_ ? engine_->run(feeds, options) : executor_->run(feeds, options);
}

void warn_left_in_float(const ModelRunner& runner) {
  if (runner.left_in_float().empty()) return;
  std::cerr << "warning: " << runner.left_in_float().size()
            << " quantized layer(s) run in float on the engine (their Q/DQ pattern is not fused):\n";
  for (const auto& s : runner.left_in_float()) std::cerr << "  " << s << "\n";
}

}  // namespace octet::cli
