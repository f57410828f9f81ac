#!/usr/bin/env bash
# Installs what octet needs on a fresh Debian 12 machine and builds it. Idempotent: when
# everything is present it only runs an incremental build.
#   Debian packages (apt-get, only those missing), the Python venv at .venv (pinned onnxruntime,
#   onnx, numpy, pytest: used only by tests and benchmarks), then a Release build in build/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

APT_PACKAGES=(
  cmake ninja-build g++ pkg-config
  libprotobuf-dev protobuf-compiler   # protobuf runtime for ONNX's generated classes
  libonnx-dev                         # ONNX's own onnx.proto classes (the model format)
  libonnx-testdata                    # ONNX backend node tests and pytorch models (conformance)
  libcli11-dev                        # command line
  nlohmann-json3-dev                  # JSON output
  libgtest-dev libgmock-dev           # unit tests
  libbenchmark-dev                    # kernel microbenchmarks (build/gemm_bench)
  libdnnl-dev                         # oneDNN 2.6: build/conv_vs_onednn compares its FP32 convolution with octet's
  libtorch-dev                        # autograd for training and quantization-aware training
  libopenblas0-pthread                # fast BLAS for libtorch (Debian defaults to the reference BLAS)
  zlib1g-dev                          # reading the gzipped IDX files of Fashion-MNIST
  libpng-dev libturbojpeg0-dev        # PNG and JPEG images (calibration and evaluation folders)
  libzip-dev                          # .npz archives of calibration data
  dataset-fashion-mnist               # the data set the model zoo is trained and evaluated on
  python3 python3-venv                # test and benchmark venv
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python venv for tests and benchmarks only; re-installed when the pinned requirements change.
VENV="$ROOT/.venv"
REQ="$ROOT/tests/python/requirements.txt"
STAMP="$VENV/.octet-requirements"
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  python3 -m venv "$VENV"
fi
if [ -f "$REQ" ] && ! cmp -s "$REQ" "$STAMP"; then
  echo "setup: installing Python test requirements"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ"
  cp "$REQ" "$STAMP"
fi

BUILD="$ROOT/build"
if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DOCTET_TRAIN=ON >/dev/null
fi
echo "setup: building"
ninja -C "$BUILD" ${OCTET_BUILD_TARGETS:-} >"$BUILD/build.log" 2>&1 || { tail -n 40 "$BUILD/build.log"; echo "setup: build failed (full log: build/build.log)"; exit 1; }
