// octet's public C++ API: load an ONNX model into the IR, infer shapes, run it on the reference
// executor, and write it back. Link the octet_runtime, octet_onnx and octet_io libraries.
//
//   octet::Model m = octet::load_model("model.onnx");
//   octet::infer_shapes(m);
//   octet::Executor exec(m);
//   auto outputs = exec.run({{"input", octet::load_npy("x.npy")}});
#pragma once

#include "io/npy.h"
#include "ir/graph.h"
#include "ir/tensor.h"
#include "onnx/model_io.h"
#include "runtime/executor.h"
#include "runtime/shape_inference.h"
