#!/usr/bin/env bash
# The main job on a model that ships with the repository: set up and build, then quantize the
# trained resnet8 (models/resnet8) to INT8 with 512 Fashion-MNIST training images for calibration,
# and print FP32 against INT8 top-1 on the 10,000 test images and the model sizes.
#
#   scripts/demo.sh [MODEL]       (default models/resnet8/model.onnx)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
OCTET=./build/octet
MODEL=${1:-models/resnet8/model.onnx}
OUT=build/demo
mkdir -p "$OUT"
NAME=$(basename "$(dirname "$MODEL")")

echo
echo "== octet inspect $MODEL"
$OCTET inspect "$MODEL"
echo
echo "== octet quantize $MODEL: static INT8, per-channel weights, min-max calibration on 512 training images"
$OCTET quantize "$MODEL" --calib fashion-mnist:train --calib-size 512 \
  --eval fashion-mnist:test -o "$OUT/$NAME-int8.onnx" --json "$OUT/$NAME-int8.json"
echo
echo "the INT8 model is $OUT/$NAME-int8.onnx (Q/DQ ONNX: onnxruntime and TensorRT load it);"
echo "every range and quantization parameter is in $OUT/$NAME-int8.json"
