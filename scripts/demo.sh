#!/usr/bin/env bash
# The main job on the model that ships with the repository (models/tiny-cnn): set up, build,
# inspect the model, run it on its sample input and show the result.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
OCTET=./build/octet
MODEL=models/tiny-cnn/model.onnx
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

echo
echo "== octet inspect $MODEL"
$OCTET inspect "$MODEL"
echo
echo "== octet run $MODEL --input models/tiny-cnn/input.npy"
$OCTET run "$MODEL" --input image=models/tiny-cnn/input.npy --output-dir "$OUT"
echo
echo "== class probabilities (per image) from the octet executor"
.venv/bin/python - "$OUT" <<'PY'
import sys, glob, numpy as np
for f in sorted(glob.glob(sys.argv[1] + "/*.npy")):
    y = np.load(f)
    for i, row in enumerate(y):
        print(f"image {i}: top class {int(row.argmax())}  p={row.max():.4f}  sum={row.sum():.6f}")
PY
