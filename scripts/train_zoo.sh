#!/usr/bin/env bash
# Trains the zoo's models on Fashion-MNIST with `octet train`, scores each on the full test set with
# `octet eval`, and writes models/<name>/model.onnx and its card models/<name>/README.md (test
# accuracy, parameters, the exact training command, seed, training time on this machine).
#
#   scripts/train_zoo.sh [NAME ...]        (default: lenet resnet8 mobilenetv2-tiny vit-tiny)
#
# Needs a build with -DOCTET_TRAIN=ON (scripts/setup.sh makes one in build/). Environment:
# OCTET_BIN (default <repo>/build/octet), TRAIN_THREADS (libtorch threads, default: all cores).
# The training time in a card is the wall time of `octet train` as measured here; other work on the
# machine at the same time makes it longer, never shorter.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OCTET=${OCTET_BIN:-$ROOT/build/octet}
THREADS=${TRAIN_THREADS:-$(nproc)}
[ -x "$OCTET" ] || { echo "train_zoo.sh: $OCTET is not built (scripts/setup.sh)" >&2; exit 2; }
"$OCTET" train --help >/dev/null 2>&1 || { echo "train_zoo.sh: $OCTET has no 'train' (build with -DOCTET_TRAIN=ON)" >&2; exit 2; }

# The settings each model is trained with (arguments to `octet train` after zoo:NAME).
settings() {
  case "$1" in
    lenet)            echo "--epochs 20 --lr 2e-3 --batch 64 --optimizer adam --flip --seed 1" ;;
    resnet8)          echo "--epochs 15 --lr 0.05 --batch 64 --optimizer sgd --momentum 0.9 --weight-decay 5e-4 --flip --seed 1" ;;
    mobilenetv2-tiny) echo "--epochs 7 --lr 3e-3 --batch 64 --optimizer adam --flip --seed 1" ;;
    vit-tiny)         echo "--epochs 10 --lr 2e-3 --batch 64 --optimizer adam --flip --seed 1" ;;
    *) echo "train_zoo.sh: unknown zoo model '$1'" >&2; return 1 ;;
  esac
}

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(lenet resnet8 mobilenetv2-tiny vit-tiny)
for name in "${names[@]}"; do
  args=$(settings "$name")
  dir="$ROOT/models/$name"
  mkdir -p "$dir"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  cmd="octet train zoo:$name $args --threads $THREADS -o models/$name/model.onnx"
  echo "train_zoo.sh: $cmd" >&2
  start=$(date +%s.%N)
  # shellcheck disable=SC2086
  "$OCTET" train "zoo:$name" $args --threads "$THREADS" --eval none -o "$tmp/model.onnx" 2> "$tmp/train.log"
  end=$(date +%s.%N)
  seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')
  eval_json=$("$OCTET" eval "$tmp/model.onnx" --dataset fashion-mnist:test --json --quiet)
  top1=$(echo "$eval_json" | sed -E 's/.*"top1": *([0-9.e-]+).*/\1/')
  top5=$(echo "$eval_json" | sed -E 's/.*"top5": *([0-9.e-]+).*/\1/')
  params=$("$OCTET" inspect "$tmp/model.onnx" | sed -nE 's/^parameters: ([0-9]+) in.*/\1/p')
  ops=$("$OCTET" inspect "$tmp/model.onnx" | awk '/^ops:/{f=1;next} /^$/{f=0} f{printf "%s%s", sep, $1; sep=", "}')
  opset=$("$OCTET" inspect "$tmp/model.onnx" | sed -nE 's/^opsets: +ai.onnx ([0-9]+).*/\1/p')
  cpu=$(lscpu | sed -nE 's/^Model name: +//p' | head -n1)
  mv "$tmp/model.onnx" "$dir/model.onnx"
  pct() { awk -v v="$1" 'BEGIN { printf "%.2f%%", 100 * v }'; }
  mins() { awk -v s="$1" 'BEGIN { printf "%.1f min (%.0f s)", s / 60, s }'; }
  cat > "$dir/README.md" <<EOF
# $name

$("$OCTET" inspect --json "$dir/model.onnx" | sed -nE 's/^ *"doc": "(.*)",?$/\1/p' | head -n1 |
  sed -E 's/,? random He-normal weights//')

Trained on Fashion-MNIST (60,000 training images) by \`octet train\`; written by
\`scripts/train_zoo.sh $name\`, which also measured everything below.

| | |
|---|---|
| test top-1 (octet eval, 10,000 images) | $(pct "$top1") |
| test top-5 | $(pct "$top5") |
| parameters (float32 initializer values, BatchNormalization statistics included) | $params |
| opset | $opset |
| ops | $ops |
| training time on this machine (wall, \`octet train\`) | $(mins "$seconds") |
| machine | $cpu, $(nproc) cores, $THREADS libtorch threads |
| seed | 1 (initial weights and data order) |

Training command (from the repository root, with a build made with \`-DOCTET_TRAIN=ON\`):

    $cmd

Check the accuracy:

    octet eval models/$name/model.onnx --dataset fashion-mnist:test

Input \`image\`: float32 [N,1,28,28], pixels in [0,1] (normalisation is inside the graph); output
\`logits\`: float32 [N,10], the classes of Fashion-MNIST in label order (T-shirt/top, Trouser,
Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot).

Last lines of the training log:

\`\`\`
$(grep -E '^epoch [0-9]+/[0-9]+: loss' "$tmp/train.log" | tail -n 3)
\`\`\`
EOF
  rm -rf "$tmp"
  trap - EXIT
  echo "train_zoo.sh: $name: top-1 $(pct "$top1"), $(mins "$seconds") -> models/$name" >&2
done
