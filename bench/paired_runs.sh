#!/bin/bash
# Two builds of octet timed at the same moment: this machine's speed drifts by up to 2x within
# minutes, so runs taken one after the other compare moments, not binaries. Each round runs
# command A on core 0 and command B on core 1 at once, then the other way round; the script prints
# every pair and the medians over all pairs of B/A for the p50 and for the min latency (the min is
# the steadier: the same binary against itself gives a median min ratio of 0.997, a p50 ratio of
# 0.92). Both commands must be `octet bench ...` runs (their "latency ms:" line is read).
#
#   bench/paired_runs.sh ROUNDS "OLD/octet bench MODEL --batch 32 --threads 1" \
#                               "NEW/octet bench MODEL --batch 32 --threads 1"
set -euo pipefail
if [ $# -ne 3 ]; then
  sed -n '2,11p' "$0" >&2
  exit 2
fi
rounds=$1 A=$2 B=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
latency() { grep -m1 '^latency ms:' | awk '{print $6, $12}'; }  # p50, min
for r in $(seq "$rounds"); do
  for a_core in 0 1; do
    b_core=$((1 - a_core))
    (taskset -c "$a_core" bash -c "$A" 2>&1 | latency > "$tmp/a") &
    taskset -c "$b_core" bash -c "$B" 2>&1 | latency > "$tmp/b"
    wait
    read -r ap am < "$tmp/a"
    read -r bp bm < "$tmp/b"
    echo "A p50 $ap min $am | B p50 $bp min $bm"
    echo "$bp $ap $bm $am" >> "$tmp/pairs"
  done
done
median() { sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
echo "median B/A p50 ratio: $(awk '{print $1/$2}' "$tmp/pairs" | median)"
echo "median B/A min ratio: $(awk '{print $3/$4}' "$tmp/pairs" | median)"
