#include "tools/octet/classify.h"
#include "tools/octet/runner.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <iostream>

#include "runtime/executor.h"
#include "tools/octet/progress.h"

namespace octet::cli {

namespace {

// What the model's single input and output look like, checked against the data set.
struct ModelIo {
  std::string input, output;
  int64_t fixed_batch = 0;  // > 0 when the model's input has a known batch dim
};

// Folders of .npy samples infer their class count from the largest label unless classes.txt says.
std::string npy_classes_hint(const data::Dataset& ds) {
  if (ds.name().rfind("npy:", 0) != 0) return "";
  return " (a folder's class count is the number of lines in its classes.txt, or else its largest label + 1)";
}

ModelIo check_model(const Model& m, const std::string& path, const data::Dataset& ds) {
  const Graph& g = m.graph;
  if (g.inputs.size() != 1 || g.outputs.size() != 1)
    throw Error(str_cat(path, ": eval needs a model with one input and one output; it has ", g.inputs.size(),
                        " input", g.inputs.size() == 1 ? "" : "s", " and ", g.outputs.size(), " output",
                        g.outputs.size() == 1 ? "" : "s"));
  ModelIo io{g.inputs[0], g.outputs[0], 0};
  const Shape sample = ds.sample_shape();
  std::string batched = "[B";
  for (int64_t d : sample) batched += str_cat(",", d);
  const std::string data_desc = str_cat("the samples of '", ds.name(), "', of shape ", shape_str(sample),
                                        " (batched: ", batched, "])");

  const TensorType& in = g.value(io.input).type;
  if (in.dtype != DType::Undefined && in.dtype != DType::Float32)
    throw Error(str_cat(path, ": input '", io.input, "' is ", in.str(), "; eval feeds float32 samples"));
  if (in.has_shape) {
    bool ok = in.dims.size() == sample.size() + 1;
    for (size_t d = 1; ok && d < in.dims.size(); ++d)
      if (in.dims[d].is_known() && in.dims[d].value != sample[d - 1]) ok = false;
    if (!ok)
      throw Error(str_cat(path, ": input '", io.input, "' is ", in.str(), ", which does not accept ", data_desc));
    if (in.dims[0].is_known()) {
      if (in.dims[0].value < 1)
        throw Error(str_cat(path, ": input '", io.input, "' has batch dimension ", in.dims[0].value));
      io.fixed_batch = in.dims[0].value;
    }
  }

  const TensorType& out = g.value(io.output).type;
  if (out.has_shape) {
    const bool classes_ok = out.dims.size() == 2 &&
                            (!out.dims[1].is_known() || out.dims[1].value == ds.num_classes());
    if (!classes_ok)
      throw Error(str_cat(path, ": output '", io.output, "' is ", out.str(), ", expected [N,", ds.num_classes(),
                          "] class scores for the ", ds.num_classes(), " classes of '", ds.name(), "'",
                          npy_classes_hint(ds)));
  }
  return io;
}

// Rank of `label` among the scores: classes scoring higher, ties broken by the lower class index
// (the class std::max_element-style argmax would pick). 0 = top-1.
int64_t rank_of(const std::vector<double>& scores, int64_t label) {
  const double s = scores[static_cast<size_t>(label)];
  int64_t rank = 0;
  for (size_t j = 0; j < scores.size(); ++j)
    if (scores[j] > s || (scores[j] == s && static_cast<int64_t>(j) < label)) ++rank;
  return rank;
}

}  // namespace

ClassifyResult classify(const Model& m, const std::string& model_path, const data::Dataset& ds_ref,
                        const ClassifyOptions& a) {
  if (!ds_ref.labelled())
    throw Error(str_cat(ds_ref.name(), ": the data set has no labels; scoring a classifier needs labelled samples"));
  const data::Dataset* ds = &ds_ref;
  const ModelIo io = check_model(m, model_path, *ds);
  RunnerOptions ro;
  ro.reference = a.reference;
  ro.threads = a.threads;
  ModelRunner exec(m, ro);
  if (a.progress) warn_left_in_float(exec);

  const int64_t n = a.limit > 0 ? std::min(a.limit, ds->size()) : ds->size();
  if (a.limit > ds->size() && a.progress)
    std::cerr << "note: --limit " << a.limit << " is more than the " << ds->size() << " samples of '"
              << ds->name() << "'; evaluating all of them\n";
  int64_t batch = a.batch;
  if (io.fixed_batch > 0) {
    if (a.batch_given && a.batch != io.fixed_batch && a.progress)
      std::cerr << "note: the model's input has a fixed batch of " << io.fixed_batch << "; using it instead of --batch "
                << a.batch << "\n";
    batch = io.fixed_batch;
  }
  const int64_t classes = ds->num_classes();

  int64_t top1 = 0, top5 = 0;
  Tensor predicted(DType::Int64, {a.keep_predictions ? n : 0});
  ProgressBar bar(a.label, n, "samples", std::cerr, ::isatty(2) == 1, a.progress);
  std::vector<double> scores(static_cast<size_t>(classes));
  for (int64_t start = 0; start < n; start += batch) {
    const int64_t count = std::min(batch, n - start);
    std::vector<int64_t> indices;
    for (int64_t i = 0; i < count; ++i) indices.push_back(start + i);
    // A fixed-batch model gets its last, short batch padded with copies of the last sample.
    while (io.fixed_batch > 0 && static_cast<int64_t>(indices.size()) < batch) indices.push_back(start + count - 1);
    data::Batch b = ds->get(indices);
    auto results = exec.run({{io.input, b.inputs}});
    const Tensor& out = results.at(io.output);
    if (out.rank() != 2 || out.dim(0) != static_cast<int64_t>(indices.size()) || out.dim(1) != classes)
      throw Error(str_cat(model_path, ": output '", io.output, "' has shape ", shape_str(out.shape()), " for a batch of ",
                          indices.size(), "; expected [", indices.size(), ",", classes, "] class scores for the ",
                          classes, " classes of '", ds->name(), "'", npy_classes_hint(*ds)));
    if (out.dtype() == DType::String || out.dtype() == DType::Bool)
      throw Error(str_cat(model_path, ": output '", io.output, "' is ", dtype_name(out.dtype()), ", not class scores"));
    for (int64_t i = 0; i < count; ++i) {
      for (int64_t c = 0; c < classes; ++c) {
        const double v = out.get_as_double(i * classes + c);
        if (std::isnan(v))
          throw Error(str_cat(model_path, ": output '", io.output, "' is NaN for sample ", start + i, " (class ", c, ")"));
        scores[static_cast<size_t>(c)] = v;
      }
      const int64_t rank = rank_of(scores, b.labels.data<int64_t>()[i]);
      if (a.keep_predictions)
        predicted.data<int64_t>()[start + i] =
            std::max_element(scores.begin(), scores.end()) - scores.begin();  // first of equal maxima
      top1 += rank < 1;
      top5 += rank < 5;
    }
    bar.update(start + count);
  }
  bar.finish();

  ClassifyResult r;
  r.samples = n;
  r.top1 = top1;
  r.top5 = top5;
  r.batch = batch;
  r.seconds = bar.elapsed_s();
  if (a.keep_predictions) r.predictions = std::move(predicted);
  return r;
}

}  // namespace octet::cli
