// octet quantize MODEL -o OUT.onnx [--mode static|dynamic|weight-only] [--calib DATA] ...
// Post-training quantization: prepares the graph (constant folding, BatchNormalization folding),
// calibrates activations on a seeded subset of the calibration data (static mode), writes a Q/DQ
// ONNX model for onnxruntime or TensorRT, a JSON file of every range and parameter, a TensorRT
// calibration cache, and, with --eval, FP32 against quantized accuracy and model size.
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>
#include <iomanip>
#include <iostream>
#include <limits>
#include <sstream>

#include "data/dataset.h"
#include "ir/file_util.h"
#include "onnx/model_io.h"
#include "passes/codebook_weights.h"
#include "passes/fp16_weights.h"
#include "passes/fold_batchnorm.h"
#include "passes/fold_constants.h"
#include "passes/opset_upgrade.h"
#include "passes/quantize_dynamic.h"
#include "passes/quantize_static.h"
#include "passes/remove_identity.h"
#include "quant/calibrate.h"
#include "runtime/executor.h"
#include "runtime/shape_inference.h"
#include "tools/octet/classify.h"
#include "tools/octet/commands.h"
#include "tools/octet/progress.h"

namespace octet::cli {

namespace {

struct QuantizeArgs {
  std::string model, output;
  std::string mode = "static";
  std::string calib;
  std::string image_options;
  int64_t calib_size = 512;
  uint32_t calib_seed = 1;
  int64_t calib_batch = 0;  // automatic (quant::calibrate_on_dataset)
  std::string method = "minmax";
  bool compare_methods = false;
  std::vector<std::string> methods_to_compare = {"minmax", "ema", "percentile:99.99", "percentile:99.999",
                                                  "entropy", "mse"};
  std::string target = "onnxruntime";
  std::string activation_type = "uint8";
  bool symmetric_activations = false;
  bool per_tensor = false;
  bool per_channel_flag = false;
  bool reduce_range = false;
  std::string weight_method = "max";
  std::string weight_type = "int8";  // weight-only: int8, int4, codebook, pow2
  int bits = 4;                      // weight-only codebook / pow2
  int64_t block_size = 0;
  std::vector<std::string> op_types;
  bool float_residual_adds = false;
  bool float_pools = false;
  std::vector<std::string> exclude, exclude_op_types, overrides, ranges;
  std::string json_out, trt_cache;
  std::string trt_version = "8601";
  std::string eval;
  int64_t eval_limit = -1;
  bool quiet = false;
  bool fp16 = false;  // weights of layers left in float stored as FLOAT16
};

std::vector<std::string> split_list(const std::vector<std::string>& items) {
  std::vector<std::string> out;
  for (const auto& item : items) {
    std::stringstream ss(item);
    std::string part;
    while (std::getline(ss, part, ','))
      if (!part.empty()) out.push_back(part);
  }
  return out;
}

DType parse_activation_type(const std::string& s) {
  if (s == "uint8") return DType::UInt8;
  if (s == "int8") return DType::Int8;
  throw Error(str_cat("--activation-type must be uint8 or int8, got '", s, "'"));
}

float parse_float(const std::string& s, const std::string& what) {
  char* end = nullptr;
  const float v = std::strtof(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !std::isfinite(v)) throw Error(str_cat(what, ": '", s, "' is not a finite number"));
  return v;
}

// Graph preparation shared by every mode: constants folded, Identity removed, BatchNormalization
// folded into the Conv/Gemm before it, shapes inferred again.
Model prepare(const Model& m, bool quiet) {
  Model p = clone_model(m);
  PassManager pm;
  pm.add(std::make_unique<FoldConstants>());
  pm.add(std::make_unique<RemoveIdentity>());
  pm.add(std::make_unique<FoldBatchNorm>());
  const auto changed = pm.run(p);
  infer_shapes(p);
  if (!quiet && !changed.empty()) {
    std::cerr << "prepared the graph:";
    for (const auto& c : changed) std::cerr << " " << c;
    std::cerr << "\n";
  }
  return p;
}

StaticQuantOptions static_options(const QuantizeArgs& a) {
  StaticQuantOptions o;
  o.target = parse_quant_target(a.target);
  o.activation_type = parse_activation_type(a.activation_type);
  o.activation_symmetric = a.symmetric_activations;
  if (a.per_tensor && a.per_channel_flag) throw Error("--per-tensor and --per-channel contradict each other");
  o.per_channel = !a.per_tensor;
  if (a.weight_method != "max" && a.weight_method != "mse")
    throw Error(str_cat("--weight-method must be max or mse, got '", a.weight_method, "'"));
  o.weight_mse = a.weight_method == "mse";
  o.reduce_range = a.reduce_range;
  const auto ops = split_list(a.op_types);
  if (!ops.empty()) o.op_types = std::set<std::string>(ops.begin(), ops.end());
  o.residual_adds = !a.float_residual_adds;
  o.global_pools = !a.float_pools;
  for (const auto& n : split_list(a.exclude)) o.exclude_nodes.insert(n);
  for (const auto& t : split_list(a.exclude_op_types)) o.exclude_op_types.insert(t);
  // --override NODE:per-tensor|per-channel|mse|max
  for (const auto& ov : a.overrides) {
    const size_t colon = ov.rfind(':');
    if (colon == std::string::npos || colon == 0)
      throw Error(str_cat("--override '", ov, "': expected NODE:per-tensor, NODE:per-channel, NODE:mse or NODE:max"));
    const std::string node = ov.substr(0, colon), what = ov.substr(colon + 1);
    NodeQuantOverride& x = o.overrides[node];
    if (what == "per-tensor") x.per_channel = 0;
    else if (what == "per-channel") x.per_channel = 1;
    else if (what == "mse") x.weight_mse = 1;
    else if (what == "max") x.weight_mse = 0;
    else throw Error(str_cat("--override '", ov, "': unknown setting '", what, "' (per-tensor, per-channel, mse, max)"));
  }
  // --range TENSOR=MIN,MAX
  for (const auto& r : a.ranges) {
    const size_t eq = r.rfind('=');
    const size_t comma = r.rfind(',');
    if (eq == std::string::npos || comma == std::string::npos || comma < eq)
      throw Error(str_cat("--range '", r, "': expected TENSOR=MIN,MAX"));
    quant::Range range;
    range.min = parse_float(r.substr(eq + 1, comma - eq - 1), "--range " + r);
    range.max = parse_float(r.substr(comma + 1), "--range " + r);
    if (range.min > range.max) throw Error(str_cat("--range '", r, "': MIN is above MAX"));
    range.degenerate = range.min == 0 && range.max == 0;
    o.range_overrides[r.substr(0, eq)] = range;
  }
  return o;
}

std::string hex_float(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", bits);
  return buf;
}

// TensorRT's calibration cache: a header line, then "tensor: <scale as IEEE-754 float32 bits in
// hex>" for every activation, scale = amax / 127 (symmetric int8).
std::string trt_calibration_cache(const StaticQuantResult& r, const std::string& version) {
  std::ostringstream os;
  os << "TRT-" << version << "-EntropyCalibration2\n";
  for (const QuantRecord& rec : r.records) {
    if (rec.kind != "activation") continue;
    const float amax = std::max(std::fabs(rec.range_min), std::fabs(rec.range_max));
    float scale = amax / 127.f;
    if (!(scale >= std::numeric_limits<float>::min())) scale = rec.params.scale[0];
    os << rec.tensor << ": " << hex_float(scale) << "\n";
  }
  return os.str();
}

nlohmann::ordered_json report_json(const QuantizeArgs& a, const std::string& method, const StaticQuantResult& r) {
  nlohmann::ordered_json j;
  j["model"] = a.model;
  j["mode"] = a.mode;
  j["target"] = a.target;
  if (a.mode == "static") {
    j["method"] = method;
    j["calibration"] = {{"data", a.calib}, {"samples", a.calib_size}, {"seed", a.calib_seed}};
  }
  j["tensors"] = nlohmann::ordered_json::array();
  for (const QuantRecord& rec : r.records) {
    nlohmann::ordered_json t;
    t["name"] = rec.tensor;
    t["kind"] = rec.kind;
    t["nodes"] = rec.nodes;
    t["dtype"] = dtype_name(rec.params.qtype);
    if (rec.params.axis >= 0 && rec.params.scale.size() > 1) t["axis"] = rec.params.axis;
    if (rec.params.block_size > 0) t["block_size"] = rec.params.block_size;
    t["scale"] = rec.params.scale;
    t["zero_point"] = rec.params.zero_point;
    if (rec.kind == "activation") {
      t["range"] = {rec.range_min, rec.range_max};
      if (rec.degenerate) t["degenerate"] = true;
    }
    j["tensors"].push_back(t);
  }
  j["warnings"] = r.warnings;
  return j;
}

// Bytes of a model file (models written with external data are larger than this says).
int64_t file_bytes(const std::string& path) {
  std::error_code ec;
  const auto n = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<int64_t>(n);
}

std::string size_str(int64_t bytes) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(1) << bytes / 1024.0 << " KiB";
  return os.str();
}

// Output SQNR (dB) of `q` against `f` on the samples `indices` of `ds`, over all outputs.
double output_sqnr(const Model& f, const Model& q, const data::Dataset& ds, const std::vector<int64_t>& indices) {
  Executor ef(f), eq(q);
  const std::string& input = f.graph.inputs.at(0);
  double signal = 0, noise = 0;
  for (size_t start = 0; start < indices.size(); start += 64) {
    std::vector<int64_t> idx(indices.begin() + static_cast<long>(start),
                             indices.begin() + static_cast<long>(std::min(indices.size(), start + 64)));
    data::Batch b = ds.get(idx);
    auto rf = ef.run({{input, b.inputs}});
    auto rq = eq.run({{input, b.inputs}});
    for (const auto& [name, t] : rf) {
      const Tensor& u = rq.at(name);
      for (int64_t i = 0; i < t.numel(); ++i) {
        const double x = t.get_as_double(i), d = x - u.get_as_double(i);
        signal += x * x;
        noise += d * d;
      }
    }
  }
  return noise == 0 ? std::numeric_limits<double>::infinity() : 10.0 * std::log10(signal / noise);
}

struct Candidate {
  std::string method;
  Model model;
  StaticQuantResult result;
  double score = 0;  // accuracy, or SQNR without labels
};

int run_quantize(QuantizeArgs& a) {
  if (a.output.empty()) throw Error("-o/--output is required: where to write the quantized model");
  if (!is_directory(dirname_of(a.output))) throw Error(str_cat(a.output, ": the output folder does not exist"));
  for (const auto* f : {&a.json_out, &a.trt_cache})
    if (!f->empty() && !is_directory(dirname_of(*f))) throw Error(str_cat(*f, ": the folder does not exist"));
  if (a.mode != "static" && a.mode != "dynamic" && a.mode != "weight-only")
    throw Error(str_cat("--mode must be static, dynamic or weight-only, got '", a.mode, "'"));
  if (a.calib_size < 1) throw Error(str_cat("--calib-size must be at least 1, got ", a.calib_size));
  if (!a.trt_cache.empty() && (a.mode != "static" || parse_quant_target(a.target) != QuantTarget::TensorRT))
    throw Error("--trt-cache needs --mode static --target tensorrt (symmetric int8 activation scales)");

  // Static calibration data is opened (read, checked) on another thread while the model loads
  // and is prepared: neither needs the other, and both take milliseconds (a 4,096-image npz about
  // 11). A model error still comes first: get() is only reached once the model is ready (and the
  // future's destructor waits for the thread otherwise).
  std::future<std::unique_ptr<data::Dataset>> calib_opening;
  if (a.mode == "static" && !a.calib.empty())
    calib_opening = std::async(std::launch::async, [&a] {
      return data::open_dataset(a.calib, data::parse_image_options(a.image_options));
    });
  Model original = load_model(a.model);
  infer_shapes(original);
  Model prepared = prepare(original, a.quiet);
  const bool progress = !a.quiet;

  std::unique_ptr<data::Dataset> eval_set;
  if (!a.eval.empty()) eval_set = data::open_dataset(a.eval, data::parse_image_options(a.image_options));

  std::vector<Candidate> candidates;
  if (a.mode == "static") {
    if (a.calib.empty()) throw Error("static quantization needs calibration data: --calib DATA (e.g. fashion-mnist:train)");
    const StaticQuantOptions opts = static_options(a);
    const StaticQuantPlan plan = plan_static(prepared, opts);
    if (plan.nodes.empty())
      throw Error(str_cat(a.model, ": nothing to quantize: no node of the types being quantized (",
                          [&] { std::string s; for (const auto& t : opts.op_types) s += (s.empty() ? "" : ", ") + t; return s; }(),
                          ") with float inputs is left after exclusions"));
    std::unique_ptr<data::Dataset> calib = calib_opening.get();
    const std::vector<int64_t> indices = data::random_subset(calib->size(), a.calib_size, a.calib_seed);
    if (a.calib_size > calib->size() && progress)
      std::cerr << "note: --calib-size " << a.calib_size << " is more than the " << calib->size()
                << " samples of '" << calib->name() << "'; using all of them\n";
    std::vector<std::string> names = a.compare_methods ? a.methods_to_compare : std::vector<std::string>{a.method};
    std::vector<quant::CalibrationMethod> methods;
    for (const auto& n : names) methods.push_back(quant::parse_method(n));
    quant::CalibrationSession session(prepared, plan.activations, methods);
    {
      ProgressBar bar("calibrate", static_cast<int64_t>(indices.size()), "samples", std::cerr, ::isatty(2) == 1, progress);
      quant::calibrate_on_dataset(session, *calib, indices, a.calib_batch,
                                  [&](int64_t done, int64_t) { bar.update(done); });
      bar.finish();
    }
    for (size_t m = 0; m < methods.size(); ++m) {
      Candidate c{quant::method_name(methods[m]), clone_model(prepared), {}, 0};
      c.result = apply_static(c.model, plan, session.ranges(m), opts);
      candidates.push_back(std::move(c));
    }
    for (const auto& s : plan.skipped)
      if (progress) std::cerr << "note: left in float: " << s << "\n";
  } else if (a.mode == "dynamic") {
    DynamicQuantOptions o;
    if (a.per_tensor && a.per_channel_flag) throw Error("--per-tensor and --per-channel contradict each other");
    o.per_channel = !a.per_tensor;
    o.reduce_range = a.reduce_range;
    const auto ops = split_list(a.op_types);
    if (!ops.empty()) o.op_types = std::set<std::string>(ops.begin(), ops.end());
    for (const auto& n : split_list(a.exclude)) o.exclude_nodes.insert(n);
    for (const auto& t : split_list(a.exclude_op_types)) o.exclude_op_types.insert(t);
    Candidate c{"dynamic", clone_model(prepared), {}, 0};
    c.result = apply_dynamic(c.model, o);
    if (c.result.records.empty())
      throw Error(str_cat(a.model, ": nothing to quantize dynamically: no MatMul/Gemm with a constant 2-D weight"));
    candidates.push_back(std::move(c));
  } else {  // weight-only
    Candidate c{a.weight_type, clone_model(prepared), {}, 0};
    if (a.weight_type == "codebook" || a.weight_type == "pow2") {
      CodebookOptions o;
      o.method = a.weight_type == "codebook" ? CodebookMethod::KMeans : CodebookMethod::Pow2;
      o.bits = a.bits;
      o.per_channel = !a.per_tensor;
      const auto ops = split_list(a.op_types);
      if (!ops.empty()) o.op_types = ops;
      o.skip = split_list(a.exclude);
      const CodebookReport rep = apply_codebook_weights(c.model, o);
      if (rep.weights.empty()) throw Error(str_cat(a.model, ": nothing to quantize: no weight was turned into a codebook"));
      for (const auto& w : rep.weights) {
        QuantRecord r;
        r.tensor = w.name;
        r.kind = "codebook weight";
        r.params.qtype = w.index_dtype;
        c.result.records.push_back(r);
        if (progress)
          std::cerr << "codebook " << w.name << ": " << w.float_bytes << " -> " << w.codebook_bytes
                    << " bytes, SQNR " << std::fixed << std::setprecision(1) << w.error.sqnr_db << " dB\n";
      }
      if (!rep.opset_note.empty()) c.result.warnings.push_back(rep.opset_note);
    } else {
      StaticQuantOptions o = static_options(a);
      if (a.weight_type == "int4") o.weight_type = DType::Int4;
      else if (a.weight_type != "int8")
        throw Error(str_cat("--weight-type must be int8, int4, codebook or pow2, got '", a.weight_type, "'"));
      o.weight_block_size = a.block_size;
      o.target = QuantTarget::TensorRT;  // float biases: nothing is known about the input scale
      if (o.weight_type == DType::Int4 || o.weight_block_size > 0) {
        std::string why;
        if (!raise_opset_to_21(c.model, &why))
          throw Error(str_cat(a.model, ": INT4 and blocked weights need opset 21, and the model cannot be raised to it: ", why));
      }
      StaticQuantPlan plan = plan_static(c.model, o);
      plan.activations.clear();
      if (plan.nodes.empty()) throw Error(str_cat(a.model, ": nothing to quantize: no Conv/Gemm/MatMul with a float weight"));
      c.result = apply_static(c.model, plan, {}, o);
    }
    candidates.push_back(std::move(c));
  }
  if (a.fp16)
    for (auto& c : candidates) {
      const Fp16WeightsReport rep = store_fp16_weights(c.model);
      if (progress && &c == &candidates.front()) {
        std::cerr << "fp16: " << rep.converted.size() << " float weight(s) stored as FLOAT16 (" << rep.bytes_before
                  << " -> " << rep.bytes_after << " bytes)\n";
        for (const auto& k : rep.kept) std::cerr << "note: kept FLOAT32: " << k << "\n";
      }
    }
  for (auto& c : candidates) infer_shapes(c.model);

  // Scores: accuracy with a labelled --eval set, else output SQNR on up to 256 samples.
  double fp32_score = 0;
  const bool labelled = eval_set && eval_set->labelled();
  ClassifyOptions co;
  co.limit = a.eval_limit;
  co.progress = progress;
  if (eval_set && labelled) {
    co.label = "eval fp32";
    fp32_score = classify(original, a.model, *eval_set, co).top1_rate();
  }
  const bool score = eval_set != nullptr || candidates.size() > 1;
  std::unique_ptr<data::Dataset> sqnr_set;  // without --eval: the calibration data, opened once
  if (score && !eval_set) sqnr_set = data::open_dataset(a.calib, data::parse_image_options(a.image_options));
  if (score) {
    for (auto& c : candidates) {
      if (labelled) {
        co.label = "eval " + c.method;
        c.score = classify(c.model, a.output, *eval_set, co).top1_rate();
      } else {
        const data::Dataset& ds = eval_set ? *eval_set : *sqnr_set;
        c.score = output_sqnr(original, c.model, ds, data::random_subset(ds.size(), 256, a.calib_seed + 1));
      }
    }
  }
  size_t best = 0;
  for (size_t i = 1; i < candidates.size(); ++i)
    if (candidates[i].score > candidates[best].score) best = i;
  Candidate& chosen = candidates[best];

  if (candidates.size() > 1) {
    std::cout << (labelled ? "method               top-1     vs FP32\n" : "method               output SQNR (dB)\n");
    if (labelled) std::cout << std::left << std::setw(20) << "fp32" << std::right << std::fixed << std::setprecision(2)
                            << std::setw(7) << 100 * fp32_score << "%\n";
    for (size_t i = 0; i < candidates.size(); ++i) {
      std::cout << std::left << std::setw(20) << candidates[i].method << std::right << std::fixed << std::setprecision(2);
      if (labelled)
        std::cout << std::setw(7) << 100 * candidates[i].score << "%  " << std::showpos << std::setw(6)
                  << 100 * (candidates[i].score - fp32_score) << std::noshowpos;
      else
        std::cout << std::setw(8) << candidates[i].score;
      std::cout << (i == best ? "   <- written" : "") << "\n";
    }
  }

  for (const auto& w : chosen.result.warnings) std::cerr << "warning: " << w << "\n";
  save_model(chosen.model, a.output);
  if (!a.json_out.empty())
    write_file_atomic(a.json_out, report_json(a, chosen.method, chosen.result).dump(2) + "\n");
  if (!a.trt_cache.empty()) write_file_atomic(a.trt_cache, trt_calibration_cache(chosen.result, a.trt_version));

  const int64_t in_bytes = file_bytes(a.model), out_bytes = file_bytes(a.output);
  int64_t n_act = 0, n_w = 0;
  for (const auto& r : chosen.result.records) (r.kind == "activation" ? n_act : n_w)++;
  std::cout << "wrote " << a.output << " (" << a.mode << ", " << chosen.method << ", target " << a.target << "): "
            << n_act << " activations and " << n_w << " weights/biases quantized\n";
  std::cout << "size:  FP32 " << size_str(in_bytes) << " -> " << size_str(out_bytes) << " (" << std::fixed
            << std::setprecision(2) << static_cast<double>(in_bytes) / std::max<int64_t>(1, out_bytes) << "x smaller)\n";
  if (labelled && candidates.size() == 1)
    std::cout << "top-1: FP32 " << std::setprecision(2) << 100 * fp32_score << "% -> quantized " << 100 * chosen.score
              << "% (" << std::showpos << 100 * (chosen.score - fp32_score) << std::noshowpos << " points) on "
              << eval_set->name() << "\n";
  else if (!labelled && eval_set)
    std::cout << "output SQNR against FP32: " << std::setprecision(1) << chosen.score << " dB\n";
  return 0;
}

}  // namespace

void add_quantize(CLI::App& app, Command& out) {
  auto a = std::make_shared<QuantizeArgs>();
  CLI::App* sub = app.add_subcommand("quantize", "Post-training quantization to a Q/DQ ONNX model");
  sub->add_option("model", a->model, "Float ONNX model")->required();
  sub->add_option("-o,--output", a->output, "Quantized ONNX model to write")->required();
  sub->add_option("--mode", a->mode, "static (default: weights and activations), dynamic, weight-only");
  sub->add_option("--calib", a->calib, "Calibration data: fashion-mnist:train, npy:DIR, FILE.npz, images:DIR");
  sub->add_option("--calib-size", a->calib_size, "Calibration samples, a seeded random subset (default 512)");
  sub->add_option("--calib-seed", a->calib_seed, "Seed of the calibration subset (default 1)");
  sub->add_option("--calib-batch", a->calib_batch, "Samples per engine run in calibration (default 0: 16 where batches run on one engine per thread, else 64; EMA's ranges depend on it)");
  sub->add_option("--image-options", a->image_options,
                  "Image folder preprocessing: size=HxW&channels=3&mean=..&std=..&layout=nchw|nhwc&resize=bilinear|nearest");
  sub->add_option("--method", a->method,
                  "Activation calibrator: minmax (default), ema[:decay], percentile[:p], entropy, mse");
  sub->add_flag("--compare-methods", a->compare_methods,
                "Calibrate with every method, print accuracy (--eval with labels) or output SQNR for each, write the best");
  sub->add_option("--target", a->target, "onnxruntime (default: asymmetric activations, int32 bias) or tensorrt "
                                         "(symmetric int8, float bias)");
  sub->add_option("--activation-type", a->activation_type, "onnxruntime target: uint8 (default) or int8");
  sub->add_flag("--symmetric-activations", a->symmetric_activations, "onnxruntime target: symmetric activations");
  sub->add_flag("--per-channel", a->per_channel_flag, "Per-channel weights (the default)");
  sub->add_flag("--per-tensor", a->per_tensor, "One scale per weight tensor");
  sub->add_flag("--reduce-range", a->reduce_range, "Weights in [-64, 64] (onnxruntime's reduce_range): exact in onnxruntime's u8 x s8 kernels on x86 CPUs without VNNI, which saturate with full-range int8 weights");
  sub->add_option("--weight-method", a->weight_method, "Weight ranges: max (default) or mse (per-channel search)");
  sub->add_option("--weight-type", a->weight_type, "weight-only mode: int8 (default), int4, codebook, pow2");
  sub->add_option("--bits", a->bits, "weight-only codebook/pow2: bits per weight (default 4)");
  sub->add_option("--block-size", a->block_size, "weight-only int8/int4: blocked scales of this many elements");
  sub->add_option("--op-types", a->op_types,
                  "Op types to quantize (default Conv,Gemm,MatMul, and residual Adds and GlobalAveragePools whose "
                  "result is quantized; "
                  "dynamic: MatMul,Gemm)");
  sub->add_flag("--float-residual-adds", a->float_residual_adds,
                "static: keep residual Adds in float (by default an Add of two activations whose result is "
                "quantized anyway is quantized too, so that it runs as an integer add)");
  sub->add_flag("--float-pools", a->float_pools,
                "static: keep GlobalAveragePool in float (by default one whose result is quantized anyway is "
                "quantized too, so that it runs as an integer pool)");
  sub->add_option("--exclude", a->exclude, "Node names to keep in float (repeat or comma-separate)");
  sub->add_option("--exclude-op-type", a->exclude_op_types, "Op types to keep in float");
  sub->add_option("--override", a->overrides, "Per-node setting NODE:per-tensor|per-channel|mse|max");
  sub->add_option("--range", a->ranges, "Use this activation range instead of calibrating: TENSOR=MIN,MAX");
  sub->add_option("--json", a->json_out, "Write every range and quantization parameter to this JSON file");
  sub->add_option("--trt-cache", a->trt_cache, "Write a TensorRT calibration cache (target tensorrt)");
  sub->add_option("--trt-version", a->trt_version, "Version number in the cache header (default 8601)");
  sub->add_option("--eval", a->eval, "Labelled data to report FP32 against quantized top-1 (e.g. fashion-mnist:test)");
  sub->add_option("--eval-limit", a->eval_limit, "Evaluate only the first N samples of --eval");
  sub->add_flag("--quiet,-q", a->quiet, "No progress output");
  sub->add_flag("--fp16", a->fp16,
                "Store the weights of layers left in float (excluded, not quantized) as FLOAT16 read through Cast; "
                "the engine expands them with F16C at load");
  sub->callback([a, &out] { out = [a] { return run_quantize(*a); }; });
}

}  // namespace octet::cli
