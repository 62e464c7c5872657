#!/usr/bin/env bash
# The GPU checks in one go, for a lent GPU machine (no internet there): what a training step costs
# each way the engine runs it, then the seed's full recipe against d2l's loop, plain and compiled.
#   DATA=folder-with-FashionMNIST/raw OUT=results-folder bash benchmarks/gpu_suite.sh [PART ...]
# from the repository root: the benchmarks run as modules of the checkout (python3 -m benchmarks.NAME).
# PARTS: throughput autotune steps degradation (default: throughput autotune, at most 9.5 minutes,
# so that one call fits a lent machine's 15 minutes with its start). Max-autotune's compiling takes
# minutes, so it gets whatever is left of SUITE_SECONDS (default 560) when the parts before it end.
# On a fresh machine the compiled runs pay Inductor's whole compilation (cold cache). d2l's loop
# runs 3 epochs and its best one counts: its first pays CUDA's and cuDNN's warm-up, which our best
# of 10 does not.
set -u
DATA=${DATA:-.gpu-data}
OUT=${OUT:-/tmp/gpu-suite}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
for f in "$DATA"/FashionMNIST/raw/*.gz; do [ -f "${f%.gz}" ] || gunzip -kf "$f"; done
{
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
  python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)"
  nproc
} 2>&1 | tee "$OUT/machine.txt"
run() {  # run NAME SECONDS command...: output to the screen and $OUT/NAME.txt, warnings dropped
  local name=$1 limit=$2
  shift 2
  echo "== $name"
  timeout "$limit" "$@" 2>&1 | grep -v -i "warn" | tee "$OUT/$name.txt"
}
parts=" ${*:-throughput autotune} "
if [[ $parts == *" steps "* ]]; then
  run step_speed 240 python3 -m benchmarks.step_speed --device cuda --preset d2l-resnet18 --resize 96 --profile \
    --variants eager,graphed/pytorch-strides,graphed,compiled,compiled+graphed/pytorch-strides,compiled+graphed,compiled+graphed/cudnn-benchmark
fi
if [[ $parts == *" throughput "* ]]; then
  run throughput 120 python3 -m benchmarks.train_throughput --device cuda --preset d2l-resnet18 --resize 96 \
    --epochs 10 --baseline-epochs 3 --data-dir "$DATA"
  run throughput_compiled 150 python3 -m benchmarks.train_throughput --device cuda --preset d2l-resnet18 \
    --resize 96 --epochs 10 --baseline-epochs 3 --data-dir "$DATA" --compile
fi
if [[ $parts == *" autotune "* ]]; then  # Inductor's Triton templates against cuDNN: minutes of compiling
  left=$(( ${SUITE_SECONDS:-560} - SECONDS ))
  run throughput_max_autotune $(( left > 120 ? left : 120 )) python3 -m benchmarks.train_throughput --device cuda --preset d2l-resnet18 \
    --resize 96 --epochs 10 --baseline-epochs 3 --data-dir "$DATA" --compile --max-autotune
fi
if [[ $parts == *" degradation "* ]]; then
  # the recorded full-size run the Why residuals? page shows (explorer/data/degradation_recorded.json)
  run degradation 400 python3 -m benchmarks.degradation --full --device cuda --dataset fashion-mnist \
    --data-dir "$DATA" --json "$OUT/degradation_recorded.json"
fi
