// Pass: store weights as codebooks (k-means or power-of-two, src/quant/codebook.h, log_quant.h)
// in plain ONNX, so any runtime runs the model unchanged. Each selected FLOAT weight initializer W
// of shape S becomes
//
//   W_cb_indices  initializer, UINT4 (bits <= 4, opset >= 21) or UINT8, shape S: one code per weight
//   W_cb_codebook initializer, FLOAT [groups * 2^bits]: the groups' tables back to back
//   W_cb_offsets  initializer, INT32, shape S with 1 everywhere but the channel axis, holding
//                 c * 2^bits for channel c (per-channel only)
//   Cast(W_cb_indices, to=INT32)  -> W_cb_indices_i32
//   Add(W_cb_indices_i32, W_cb_offsets) -> W_cb_flat_indices        (per-channel only)
//   Gather(W_cb_codebook, W_cb_flat_indices or W_cb_indices_i32, axis=0) -> W
//
// so W is recomputed under its own name and its consumers are untouched; its value is exactly
// quant::decode(codebook, S). Why this form: Gather on a flat table keeps the stored indices at
// `bits` per element (a per-channel table needs an offset per channel, which would not fit in 4 or
// 8 bits if added into the stored indices, so it is a broadcast Add of a tiny INT32 initializer
// at run time); Gather needs INT32/INT64 indices, hence the Cast. GatherElements on a [C, K] table
// would need the indices reshaped around the channel axis (or transposed for a middle axis).
// onnxruntime 1.23 runs this form with UINT4 and UINT8 indices (checked by hand, see the tests).
//
// Selection: a weight is the constant second input of Conv (channel axis 0: output channels), Gemm
// (axis 0 with transB=1, else 1: the N dimension) or MatMul (axis rank-1, the N dimension; a 1-D
// B has no output-channel axis and gets one table). It is rewritten only if every use of it is
// such a weight slot of a selected op agreeing on the axis, it is FLOAT32, not a graph input or
// output, not in the skip list, has at least min_elements elements and (skip_if_not_smaller) the
// codebook form is smaller in the file than the float weight. Candidates passed over are listed
// with the reason in the report.
//
// UINT4 needs opset 21 and IR version 10 (the IR version is raised to 10 whenever UINT4 indices
// are written). A model at opset 17..20 is raised to 21 only when every op in it means the same at
// 21: no Reduce{L1,L2,LogSum,LogSumExp,Max,Mean,Min,Prod,SumSquare} with an `axes` attribute below
// opset 18, no GridSample or DFT below 20 (renamed modes, axis moved to an input), no
// GroupNormalization below 21 (scale/bias changed meaning), no subgraph attributes (their ops
// cannot be checked here). The other default-domain ops whose schema changed from 17 to 21 (per
// onnx.defs) only gained types, attributes or optional inputs whose defaults keep the old meaning.
// Otherwise (or with allow_opset_upgrade off, or an opset below 17) the indices are UINT8; the
// report says why.
//
// Expects: a model whose graph is topologically valid. Guarantees: on success the graph is
// re-sorted and every rewritten weight decodes exactly as its codebook; on Error (bad options,
// NaN/Inf weight) the model is left unchanged, since all codebooks are built before any edit.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "passes/pass_manager.h"
#include "quant/codebook.h"

namespace octet {

enum class CodebookMethod { KMeans, Pow2 };

struct CodebookOptions {
  CodebookMethod method = CodebookMethod::KMeans;
  int bits = 4;                 // k-means 1..8, power of two 2..8
  bool per_channel = true;      // one table per output channel; false: one per weight tensor
  std::vector<std::string> op_types = {"Conv", "Gemm", "MatMul"};  // subset of these three
  int64_t min_elements = 256;   // smaller weights stay float
  std::vector<std::string> skip;  // initializer names to leave alone
  uint32_t seed = 0;            // k-means++ seed, the same for every weight
  int max_iters = 50;           // Lloyd iterations (k-means)
  bool allow_opset_upgrade = true;   // raise opset 17..20 to 21 for UINT4 when safe (see above)
  bool skip_if_not_smaller = true;   // keep a weight whose codebook form would not be smaller
};

struct CodebookedWeight {
  std::string name;
  Shape shape;
  int64_t axis = -1;               // the codebook's axis (-1: one table)
  DType index_dtype = DType::UInt8;
  int64_t float_bytes = 0;         // the FLOAT weight's data
  int64_t codebook_bytes = 0;      // indices as stored (UINT4 packed two per byte) + table + offsets
  quant::WeightErrorReport error;  // decoded weight against the original
};

struct CodebookReport {
  std::vector<CodebookedWeight> weights;                   // in initializer-name order
  std::vector<std::pair<std::string, std::string>> skipped;  // candidate name, why it was kept
  int64_t opset_before = 0;
  int64_t opset_after = 0;
  std::string opset_note;  // why UINT4 was not used, when bits <= 4 and indices are UINT8
};

// Rewrites the model as above and returns what it did (weights.size() is the number rewritten).
// Throws Error naming the option for bad options (bits, op types, min_elements) and naming the
// tensor for a NaN/Inf weight; the model is unchanged then.
CodebookReport apply_codebook_weights(Model& model, const CodebookOptions& opts);

// The same as a Pass; the last run's report is kept.
class CodebookWeightsPass : public Pass {
 public:
  explicit CodebookWeightsPass(CodebookOptions opts) : opts_(std::move(opts)) {}
  std::string name() const override { return "codebook-weights"; }
  bool run(Model& model) override {
    report_ = apply_codebook_weights(model, opts_);
    return !report_.weights.empty();
  }
  const CodebookReport& report() const { return report_; }

 private:
  CodebookOptions opts_;
  CodebookReport report_;
};

}  // namespace octet
