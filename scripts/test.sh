#!/usr/bin/env bash
# Set up, build and run every test: C++ unit tests (CTest), ONNX node conformance, the Python
# agreement tests against onnxruntime/onnx, the sanitizer build and a bounded fuzzing run.
# Environment: OCTET_SKIP_SANITIZE=1 or OCTET_SKIP_FUZZ=1 skip those two stages (local use only).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
status=0

echo
for set in node pytorch-converted pytorch-operator simple; do
  echo "== ONNX backend test conformance: libonnx-testdata/$set"
  ./build/octet conformance "/usr/share/libonnx-testdata/data/$set" --quiet || status=1
done

echo
echo "== C++ unit tests (ctest)"
(cd build && ctest --output-on-failure -j2 --timeout 600) || status=1

if [ "${OCTET_SKIP_SANITIZE:-0}" != 1 ] && [ -x scripts/sanitize.sh ]; then
  echo
  echo "== AddressSanitizer + UndefinedBehaviorSanitizer build"
  ./scripts/sanitize.sh || status=1
fi
if [ "${OCTET_SKIP_FUZZ:-0}" != 1 ] && [ -x scripts/fuzz.sh ]; then
  echo
  echo "== importer fuzzing (bounded)"
  ./scripts/fuzz.sh || status=1
fi

echo
echo "== Python tests against onnxruntime and onnx"
OCTET_BIN="$(pwd)/build/octet" .venv/bin/python -m pytest -q tests/python || status=1
exit $status
