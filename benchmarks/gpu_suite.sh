#!/usr/bin/env bash
# The GPU checks in one go, for a lent GPU machine (no internet there): training throughput
# against d2l's loop with the seed's full recipe, then the degradation experiment.
#   DATA=folder-with-FashionMNIST/raw OUT=results-folder bash benchmarks/gpu_suite.sh
set -u
DATA=${DATA:-.gpu-data}
OUT=${OUT:-/tmp/gpu-suite}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
for f in "$DATA"/FashionMNIST/raw/*.gz; do [ -f "${f%.gz}" ] || gunzip -kf "$f"; done
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)"
  nproc
} 2>&1 | tee "$OUT/machine.txt"
timeout 330 python3 benchmarks/train_throughput.py --device cuda --preset d2l-resnet18 --resize 96 \
  --epochs 10 --baseline-epochs 1 --data-dir "$DATA" 2>&1 | grep -v -i "warn" | tee "$OUT/train_throughput.txt"
timeout 200 python3 benchmarks/degradation.py --device cuda --dataset fashion-mnist --data-dir "$DATA" \
  --json "$OUT/degradation.json" 2>&1 | tee "$OUT/degradation.txt"
