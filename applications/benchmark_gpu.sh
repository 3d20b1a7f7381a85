#!/usr/bin/env bash
# The GPU benchmark of issue 7: Keras on JAX, bf16, beside keras ResNet50 and the timm twins
# (eager and torch.compile) in the same process. Run from the repository root:
#     applications/benchmark_gpu.sh OUT_DIR [se50|families|fp32|all]
# Each part fits in one 10-minute device command and writes 3 files (json, md, png); a device
# command brings back at most 8, so `all` (9 files) is for machines of your own. PEAK_TFLOPS: the GPU's dense bf16 peak
# for the MFU column (H100 SXM: 989; H100 PCIe: 756; H200: 989).
set -euo pipefail
out=${1:?usage: applications/benchmark_gpu.sh OUT_DIR [se50|families|fp32|all]}
part=${2:-all}
mkdir -p "$out"
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1
# JAX and torch share the GPU in one process: leave torch room.
export XLA_PYTHON_CLIENT_MEM_FRACTION=${XLA_PYTHON_CLIENT_MEM_FRACTION:-0.5}
py=${PYTHON:-python3}
bench="$py applications/benchmark.py --precision bfloat16 --peak-tflops ${PEAK_TFLOPS:-989}"
bench="$bench --repeats 5 --warmup 3 --min-repeat-s 1.0"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
case $part in se50|all)
  $bench seresnet50 keras:ResNet50 timm:seresnet50 timm:seresnet50@compile timm:resnet50 \
    timm:resnet50@compile --baseline keras:ResNet50 --batch-sizes 256 \
    --train-batch-sizes 128 --out "$out/gpu_bf16_seresnet50" ;;& esac
case $part in families|all)
  $bench seresnext50_32x4d timm:seresnext50_32x4d@compile skresnext50_32x4d \
    timm:skresnext50_32x4d@compile senet154 timm:senet154@compile keras:ResNet50 \
    --baseline keras:ResNet50 --batch-sizes 256 --train-batch-sizes \
    --out "$out/gpu_bf16_families" ;;& esac
case $part in fp32|all)
  $py applications/benchmark.py seresnet50 keras:ResNet50 timm:seresnet50@compile \
    --baseline keras:ResNet50 --precision float32 --batch-sizes 256 --train-batch-sizes \
    --repeats 5 --warmup 3 --out "$out/gpu_fp32_seresnet50" ;;& esac
