#!/usr/bin/env bash
# Reproduces the shipped default model (models/default.gguf, docs/MODEL.md) end to end with mmfree's own
# commands: tokenizer, data split, training, packing, validation bits per byte, loss plot.
#
#   scripts/train-default-model.sh [WORK_DIR] [--install]
#
# WORK_DIR (default runs/default-model) receives tokenizer/, data/, run/ (checkpoint, log, hf/),
# model.gguf, perplexity.json and loss.svg. --install copies model.gguf over models/default.gguf.
# The shipped model took 24 minutes on 16 Xeon cores; on 2 AVX-512 cores expect about 50 minutes. `train --resume`
# continues an interrupted run bit-exactly: rerun this script with the same WORK_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=runs/default-model
INSTALL=0
for a in "$@"; do
  case "$a" in
    --install) INSTALL=1 ;;
    -*) echo "train-default-model.sh: unknown option $a" >&2; exit 2 ;;
    *) WORK=$a ;;
  esac
done
[ -x build/mmfree ] || { cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build --target mmfree; }
M=build/mmfree
# Let OpenBLAS pick its AVX-512 kernels where the CPU has them (docs/BENCHMARKS.md, Training).
unset OPENBLAS_CORETYPE
CORPUS=(../shared/data/corpus/*.txt)
mkdir -p "$WORK"

$M tokenizer train --input "${CORPUS[@]}" --vocab-size 4096 --out "$WORK/tokenizer"
$M data prepare --tokenizer "$WORK/tokenizer" --input "${CORPUS[@]}" --out "$WORK/data" --val-fraction 0.02 --seed 1

TRAIN=(--data "$WORK/data" --out "$WORK/run")
if [ -f "$WORK/run/checkpoint.safetensors" ]; then
  $M train --resume "${TRAIN[@]}"
else
  # d=512, 6 layers, GLU 1536, vocabulary 4096: 24.7 M parameters, every ternary row a multiple of 256 weights (TQ2_0).
  $M train "${TRAIN[@]}" --config scripts/default_model/config.json --batch 16 --seq-len 256 --steps 878 \
    --lr 3e-3 --lr-schedule cosine --warmup 100 --min-lr 3e-4 --weight-decay 0.1 --no-decay-norms --grad-clip 1 \
    --seed 1 --eval-every 100 --eval-batches 13 --save-every 300
fi

$M convert --model "$WORK/run/hf" --out "$WORK/model.gguf" --embeddings f16
$M perplexity --model "$WORK/model.gguf" --file "$WORK/data/val.txt" --json | tee "$WORK/perplexity.json"
echo "xz -9 on the same text: $(xz -9 -c "$WORK/data/val.txt" | wc -c) bytes of $(wc -c < "$WORK/data/val.txt")"
$M plot --log "$WORK/run/train_log.jsonl" --out "$WORK/loss.svg"
if [ "$INSTALL" = 1 ]; then
  cp "$WORK/model.gguf" models/default.gguf
  echo "installed $WORK/model.gguf as models/default.gguf"
fi
