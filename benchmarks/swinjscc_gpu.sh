#!/usr/bin/env bash
# SwinJSCC on a GPU machine (run through the device tool, never in CI):
#  1. the paper-size `base` model trains with nothing changed but the config (steps/s, memory);
#  2. the tiny-photos config with 4x the batch, to show what more compute buys the tiny model.
# Needs, in the working tree: .whl/ (pydantic and its wheels for Python 3.12), .gpudata/photos
# (the training photos) and .gpudata/kodak5 (the five Kodak photos).
# Local dry run: DEVICE=cpu BASE_STEPS=1 TINY_STEPS=2 OUT=/tmp/out bash benchmarks/swinjscc_gpu.sh
set -euo pipefail
DEVICE=${DEVICE:-cuda}
BASE_STEPS=${BASE_STEPS:-300}
TINY_STEPS=${TINY_STEPS:-5000}
if [ "$DEVICE" = cuda ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD
  ln -sfn ../baselines gscsim/baselines && ln -sfn ../channels gscsim/channels
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
fi
export PYTHONUNBUFFERED=1
mkdir -p "$OUT"
sed -e "s/device: cuda/device: $DEVICE/" -e "s/warmup: 2000/warmup: 50/" \
  baselines/swinjscc/configs/base.yaml > /tmp/base.yaml
sed -e "s/device: cpu/device: $DEVICE/" -e 's/batch: 16/batch: 64/' \
  baselines/swinjscc/configs/tiny-photos.yaml > /tmp/tiny.yaml
for run in "base $BASE_STEPS" "tiny $TINY_STEPS"; do
  set -- $run
  start=$(date +%s)
  python3 -m gscsim.cli train swinjscc --config /tmp/$1.yaml --data .gpudata/photos \
    --steps "$2" --out "$OUT/$1" --quiet
  echo "$1: $2 steps in $(( $(date +%s) - start )) s (process start and data loading included)"
  tail -n 3 "$OUT/$1/log.csv"
  rm -f "$OUT/$1/last.pt"
done
cat "$OUT/base/model.md" "$OUT/tiny/model.md"
python3 benchmarks/swinjscc_eval.py "$OUT/tiny/model.pt" --images .gpudata/kodak5 \
  --snr 1 10 --cbr 1/96 1/48 1/24 --device "$DEVICE" | tee "$OUT/tiny_kodak5.txt"
rm -f "$OUT"/*/model.pt
