#!/usr/bin/env bash
# Builds octet with AddressSanitizer + UndefinedBehaviorSanitizer (-DOCTET_SANITIZE=ON) and runs
# the unit tests and the ONNX backend conformance cases under them.
#
#   scripts/sanitize.sh
#
# The libtorch training code is left out by default (SANITIZE_TRAIN=ON builds it and runs its tests,
# octet_train_tests, too): compiling libtorch's headers under ASan would add about ten minutes to CI
# on two cores, and libtorch itself is not instrumented. Leaks inside libtorch and its BLAS/OpenMP are suppressed (lsan.supp).
#
# Environment: SANITIZE_BUILD_DIR (default <repo>/build-asan), SANITIZE_JOBS (default 2),
# SANITIZE_GTEST_FILTER (default: all tests), SANITIZE_CONFORMANCE_DIR (default
# /usr/share/libonnx-testdata/data/node), SANITIZE_CONFORMANCE_FILTER (substring of case names),
# SANITIZE_ALLOW_CONFORMANCE_FAILURES=1 (do not fail on plain conformance failures: mismatching
# outputs or octet::Error; sanitizer reports, crashes and internal errors still fail).
#
# Exits non-zero on: a build failure; a failing unit test; any ASan/LSan/UBSan report or crash
# (reports abort the process: abort_on_error / halt_on_error); an "internal error" in conformance
# (octet::InternalError or another non-Error exception: a bug in octet); and, unless
# SANITIZE_ALLOW_CONFORMANCE_FAILURES=1, any FAILED conformance case. Logs are kept in the build
# folder (octet_tests.log, conformance.log).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${SANITIZE_BUILD_DIR:-$ROOT/build-asan}
JOBS=${SANITIZE_JOBS:-2}
CONF_DIR=${SANITIZE_CONFORMANCE_DIR:-/usr/share/libonnx-testdata/data/node}
CONF_FILTER=${SANITIZE_CONFORMANCE_FILTER:-}
ALLOW_CONF_FAIL=${SANITIZE_ALLOW_CONFORMANCE_FAILURES:-0}

log() { echo "sanitize.sh: $*" >&2; }

generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi
if [ ! -f "$BUILD/CMakeCache.txt" ] || ! grep -q '^OCTET_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt"; then
  cmake -S "$ROOT" -B "$BUILD" "${generator[@]}" -DOCTET_SANITIZE=ON -DOCTET_TRAIN="${SANITIZE_TRAIN:-OFF}" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    >/dev/null || { log "cmake configure failed"; exit 2; }
fi
programs=(octet_tests)
[ "${SANITIZE_TRAIN:-OFF}" = ON ] && programs+=(octet_train_tests)
log "building octet and ${programs[*]} in $BUILD (log: $BUILD/build.log)"
if ! cmake --build "$BUILD" --target octet "${programs[@]}" -j "$JOBS" >"$BUILD/build.log" 2>&1; then
  grep -E -A5 'error|FAILED' "$BUILD/build.log" | head -n 60 >&2
  log "build failed"
  exit 2
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/scripts/lsan.supp:print_suppressions=0}

# A sanitizer report in a log, whatever the exit status said.
SAN_PATTERN='ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer)'
status=0

# --- unit tests ---------------------------------------------------------------------------------
gtest_args=()
[ -n "${SANITIZE_GTEST_FILTER:-}" ] && gtest_args=(--gtest_filter="$SANITIZE_GTEST_FILTER")
for prog in "${programs[@]}"; do
  TESTS_LOG="$BUILD/$prog.log"
  log "running $prog under ASan/UBSan (log: $TESTS_LOG)"
  (cd "$BUILD" && "./$prog" "${gtest_args[@]}") >"$TESTS_LOG" 2>&1
  rc=$?
  grep -E '^\[  (PASSED|FAILED)  \]|^\[  FAILED  \] [A-Za-z]' "$TESTS_LOG" >&2
  if grep -qE "$SAN_PATTERN" "$TESTS_LOG"; then
    log "SANITIZER REPORT in $prog:"
    grep -E -A40 "$SAN_PATTERN" "$TESTS_LOG" | head -n 80 >&2
    status=1
  elif [ "$rc" -ge 128 ]; then
    log "$prog died with signal $((rc - 128)); last lines:"
    tail -n 30 "$TESTS_LOG" >&2
    status=1
  elif [ "$rc" -ne 0 ]; then
    log "$prog failed (exit status $rc)"
    status=1
  fi
done

# --- conformance --------------------------------------------------------------------------------
CONF_LOG="$BUILD/conformance.log"
conf_args=(conformance "$CONF_DIR" -q)
[ -n "$CONF_FILTER" ] && conf_args+=(--filter "$CONF_FILTER")
log "running octet ${conf_args[*]} under ASan/UBSan (log: $CONF_LOG)"
"$BUILD/octet" "${conf_args[@]}" >"$CONF_LOG" 2>&1
rc=$?
grep -E '^[0-9]+ passed, [0-9]+ failed' "$CONF_LOG" >&2
if grep -qE "$SAN_PATTERN" "$CONF_LOG" || [ "$rc" -ge 128 ] ||
   ! grep -qE '^[0-9]+ passed, [0-9]+ failed' "$CONF_LOG"; then
  log "SANITIZER REPORT or crash in conformance (exit status $rc):"
  if grep -qE "$SAN_PATTERN" "$CONF_LOG"; then grep -E -A40 "$SAN_PATTERN" "$CONF_LOG" | head -n 80 >&2
  else tail -n 30 "$CONF_LOG" >&2; fi
  status=1
  # The report aborted the whole run (and buffered output is lost), so run each case alone to
  # name every case that crashes; their reports go to crash-<case>.log.
  log "running each case alone to find the crashing ones"
  for d in "$CONF_DIR"/*/; do
    c=$(basename "$d")
    [ -f "$d/model.onnx" ] || continue
    case "$c" in *"$CONF_FILTER"*) ;; *) continue ;; esac
    "$BUILD/octet" conformance "$d" -q >"$BUILD/crash-$c.log" 2>&1
    crc=$?
    if [ "$crc" -ge 128 ] || grep -qE "$SAN_PATTERN" "$BUILD/crash-$c.log"; then
      log "  crashes: $c (exit status $crc; log: $BUILD/crash-$c.log)"
    else
      rm -f "$BUILD/crash-$c.log"
    fi
  done
else
  if grep -q 'internal error' "$CONF_LOG"; then
    log "internal errors (bugs in octet, not in the model) in conformance:"
    grep 'internal error' "$CONF_LOG" >&2
    status=1
  fi
  if [ "$rc" -ne 0 ]; then
    nfail=$(grep -c '^FAILED ' "$CONF_LOG")
    if [ "$ALLOW_CONF_FAIL" = 1 ]; then
      log "$nfail conformance case(s) failed; allowed by SANITIZE_ALLOW_CONFORMANCE_FAILURES=1"
    else
      log "$nfail conformance case(s) failed:"
      grep '^FAILED ' "$CONF_LOG" | cut -c1-200 >&2
      status=1
    fi
  fi
fi

if [ "$status" -eq 0 ]; then log "OK: no sanitizer reports, crashes or failures"; else log "FAILED"; fi
exit "$status"
