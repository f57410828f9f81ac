#!/usr/bin/env bash
# Fuzzes octet's ONNX importer, shape inference and reference executor (fuzz/fuzz_import.cpp) with
# libFuzzer + ASan + UBSan, starting from a seed corpus of ONNX backend test models.
#
#   scripts/fuzz.sh                  # 20000 runs or 120 s, whichever comes first
#   FUZZ_RUNS=-1 FUZZ_SECONDS=600 scripts/fuzz.sh
#   scripts/fuzz.sh build-fuzz/artifacts/crash-...   # replay given inputs only (reproducers)
#
# Environment: FUZZ_RUNS (default 20000), FUZZ_SECONDS (default 120), FUZZ_TIMEOUT (seconds per
# input before libFuzzer reports a hang, default 30), FUZZ_BUILD_DIR (default <repo>/build-fuzz),
# FUZZ_SEEDS_PER_OP (backend-test models copied per op pattern, default 2), FUZZ_KEEP_GOING=1 (fork
# mode: keep fuzzing past crashes, saving every crashing input, and fail at the end if there were
# any; use it to look past known open bugs; -runs does not apply in this mode, only the time).
# Exits 0 when the run ends without a finding; otherwise non-zero, printing the path of the input
# that triggered it (saved under $FUZZ_BUILD_DIR/artifacts/). Regression inputs in fuzz/regressions/
# are always part of the corpus, so a fixed bug that comes back fails at once.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
RUNS=${FUZZ_RUNS:-20000}
[ "${FUZZ_KEEP_GOING:-0}" = 1 ] && RUNS=${FUZZ_RUNS:--1}
MAX_SECONDS=${FUZZ_SECONDS:-120}
TIMEOUT=${FUZZ_TIMEOUT:-30}
SEEDS_PER_OP=${FUZZ_SEEDS_PER_OP:-2}
MAX_LEN=65536
TESTDATA=/usr/share/libonnx-testdata/data

log() { echo "fuzz.sh: $*" >&2; }

# --- toolchain: clang and the libFuzzer runtime, installed only when missing -------------------
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
  log "installing ${missing[*]}"
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}
ensure_packages clang libclang-rt-14-dev

# --- build ------------------------------------------------------------------------------------
# OCTET_FUZZ puts -fsanitize=fuzzer,address,undefined on fuzz_import.cpp only. The octet libraries
# must be instrumented too, or libFuzzer gets no coverage from the code under test and ASan/UBSan
# see none of its memory accesses: hence the CMAKE_CXX_FLAGS below. -fno-sanitize-recover makes a
# UBSan report fatal, so libFuzzer records it as a crash with its input.
SAN_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
if [ -f "$BUILD/CMakeCache.txt" ] && ! grep -q '^CMAKE_CXX_COMPILER:[A-Z]*=.*clang++' "$BUILD/CMakeCache.txt"; then
  log "$BUILD was configured with another compiler; reconfiguring it with clang++"
  rm -f "$BUILD/CMakeCache.txt"
fi
generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi
if [ ! -f "$BUILD/CMakeCache.txt" ] || ! grep -qF -- "CMAKE_CXX_FLAGS:STRING=$SAN_FLAGS" "$BUILD/CMakeCache.txt"; then
  CXX=clang++ cmake -S "$ROOT" -B "$BUILD" "${generator[@]}" -DOCTET_FUZZ=ON -DOCTET_TESTS=OFF -DOCTET_TRAIN=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS="$SAN_FLAGS" >/dev/null
fi
log "building fuzz_import in $BUILD (log: $BUILD/build.log)"
if ! cmake --build "$BUILD" --target fuzz_import -j "${FUZZ_JOBS:-2}" >"$BUILD/build.log" 2>&1; then
  grep -E -A5 'error|FAILED' "$BUILD/build.log" | head -n 60 >&2
  log "build failed"
  exit 2
fi
FUZZER="$BUILD/fuzz_import"

export ASAN_OPTIONS=${ASAN_OPTIONS:-allocator_may_return_null=1:max_allocation_size_mb=256:detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ARTIFACTS="$BUILD/artifacts"
mkdir -p "$ARTIFACTS"

# --- replay mode: run the given inputs once each -----------------------------------------------
if [ $# -gt 0 ]; then
  exec "$FUZZER" -rss_limit_mb=2048 -timeout="$TIMEOUT" "$@"
fi

# --- seed corpus ------------------------------------------------------------------------------
CORPUS=$(mktemp -d "${TMPDIR:-/tmp}/octet-fuzz-corpus.XXXXXX")
trap 'rm -rf "$CORPUS"' EXIT
# Backend node tests of ops octet implements (a few per op), and the "simple" model tests.
OPS="conv convinteger convtranspose add sub mul div pow reshape quantizelinear dequantizelinear
  dynamicquantizelinear qlinearconv qlinearmatmul matmul matmulinteger gemm maxpool averagepool
  globalaveragepool globalmaxpool batchnorm instancenorm layer_normalization slice gather
  gatherelements concat transpose resize upsample pad squeeze unsqueeze expand tile split cast clip
  where range constantofshape shape size flatten prelu argmax argmin mean sum max min not identity"
seeds=0
copy_seed() {  # copy_seed MODEL NAME
  local size
  size=$(stat -c %s "$1")
  [ "$size" -le "$MAX_LEN" ] || return 0
  cp "$1" "$CORPUS/$2.onnx"
  seeds=$((seeds + 1))
}
if [ -d "$TESTDATA/node" ]; then
  for op in $OPS; do
    n=0
    for d in "$TESTDATA"/node/test_"$op"*/; do
      [ -f "$d/model.onnx" ] || continue
      [ "$n" -lt "$SEEDS_PER_OP" ] || break
      copy_seed "$d/model.onnx" "$(basename "$d")"
      n=$((n + 1))
    done
  done
fi
for d in "$TESTDATA"/simple/*/; do
  [ -f "$d/model.onnx" ] && copy_seed "$d/model.onnx" "simple_$(basename "$d")"
done
[ "$seeds" -gt 0 ] || log "warning: no seed models found under $TESTDATA (is libonnx-testdata installed?)"
log "seed corpus: $seeds models from $TESTDATA, plus $(find "$ROOT/fuzz/regressions" -type f 2>/dev/null | wc -l) regression inputs"

# --- fuzz -------------------------------------------------------------------------------------
dirs=("$CORPUS")
[ -d "$ROOT/fuzz/regressions" ] && dirs+=("$ROOT/fuzz/regressions")
dict=()
[ -f "$ROOT/fuzz/fuzz_import.dict" ] && dict=(-dict="$ROOT/fuzz/fuzz_import.dict")
LOG="$BUILD/fuzz.log"
log "running $FUZZER: -runs=$RUNS -max_total_time=$MAX_SECONDS (log: $LOG)"
mode=()
failed_regressions=()
if [ "${FUZZ_KEEP_GOING:-0}" = 1 ]; then
  # Fork mode skips crashing seeds silently, so replay the regression inputs one by one first.
  for r in "$ROOT"/fuzz/regressions/*; do
    [ -f "$r" ] || continue
    "$FUZZER" -rss_limit_mb=2048 -timeout="$TIMEOUT" "$r" >"$BUILD/regression.log" 2>&1 || failed_regressions+=("$r")
  done
  mode=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
  : >"$BUILD/.fuzz-start"
fi
set +e
"$FUZZER" "${mode[@]}" -runs="$RUNS" -max_total_time="$MAX_SECONDS" -rss_limit_mb=2048 \
  -max_len="$MAX_LEN" -timeout="$TIMEOUT" -artifact_prefix="$ARTIFACTS/" -print_final_stats=1 \
  "${dict[@]}" "${dirs[@]}" >"$LOG" 2>&1
rc=$?
set -e
if [ "${FUZZ_KEEP_GOING:-0}" = 1 ]; then
  tail -n 3 "$LOG" >&2
  found=$(find "$ARTIFACTS" -type f -newer "$BUILD/.fuzz-start" | sort)
  for r in "${failed_regressions[@]}"; do log "regression input still fails: $r"; done
  if [ -n "$found" ]; then
    log "FINDINGS: inputs saved (replay each with: $FUZZER FILE):"
    echo "$found" >&2
  fi
  [ -z "$found" ] && [ ${#failed_regressions[@]} -eq 0 ] || exit 1
fi
if [ "$rc" -ne 0 ]; then
  # The report: from the first sanitizer/libFuzzer/harness error line on.
  first=$(grep -nE '==[0-9]+==ERROR|runtime error:|==fuzz_import== FINDING|ERROR: libFuzzer|ALARM: working on' "$LOG" |
          head -n 1 | cut -d: -f1)
  if [ -n "$first" ]; then sed -n "${first},\$p" "$LOG" | grep -v '^0x' | head -n 60 >&2; else tail -n 40 "$LOG" >&2; fi
  crash=$(grep -o 'Test unit written to [^ ]*' "$LOG" | tail -n 1 | sed 's/Test unit written to //' || true)
  log "FINDING (libFuzzer exit status $rc)"
  if [ -n "$crash" ]; then
    log "crashing input: $crash"
    sum=$(sha1sum "$crash" | cut -d' ' -f1)
    for r in "$ROOT"/fuzz/regressions/*; do
      [ -f "$r" ] && [ "$(sha1sum "$r" | cut -d' ' -f1)" = "$sum" ] && log "it is the regression input $r (a known bug is back or not fixed yet)" || true
    done
    log "reproduce with: $FUZZER $crash   (or: scripts/fuzz.sh $crash)"
  else
    log "no input was saved; see $LOG"
  fi
  exit "$rc"
fi
tail -n 8 "$LOG" >&2
log "no findings"
