#!/usr/bin/env bash
# Everything owed to a lent GPU, in order of value, as one device command of under 10 minutes.
# Each part writes its results under OUT as soon as it finishes, so a timeout still returns
# what was done; at most 8 files come back:
#   (a) ResNet-110 / SE-ResNet-110 trained side by side with the data on the device
#       (applications/cifar_device.py): OUT/{resnet110_cifar,se_resnet110_cifar}.tar,
#       OUT/pair.json, OUT/pair.md (per-image predictions inside the .tar files, McNemar in pair.md)
#   (b) the SE-ResNet-50 inference/training benchmark beside keras ResNet50 and timm
#       (applications/benchmark_gpu.sh se50): OUT/gpu_bf16_seresnet50.{json,md,png}
#   and OUT/session.log (every part's output, with its wall time).
#
# On the device (Keras on JAX, no TensorFlow; carry .whl/ and .data/cifar10-train.tar.gz), with
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl \
#     keras==3.15.1 namex optree timm safetensors huggingface_hub filelock
# here first:
#   pip install -q --no-index --no-deps --target "$HOME/site" .whl/*.whl
#   PYTHONPATH="$HOME/site:$PWD" bash applications/gpu_session.sh "$OUT"
# Dry run on a CPU at toy size (the sample images, ResNet-20, a tiny benchmark):
#   DRY_RUN=1 PYTHON=.venv/bin/python bash applications/gpu_session.sh /tmp/session
#
# PAIR_SECONDS (default 330) is part (a)'s share: it trains the most epochs of the paper's
# 164 that fit, on a cosine schedule laid over them (see keras_senet.device_training).
set -uo pipefail
out=${1:?usage: applications/gpu_session.sh OUT_DIR}
mkdir -p "$out"
py=${PYTHON:-python3}
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
log="$out/session.log"
work=${WORK_DIR:-$HOME/gpu-session}
rm -rf "$work" && mkdir -p "$work"

part() {  # part NAME SECONDS COMMAND...: runs COMMAND under a timeout, logs it and its time
  local name=$1 limit=$2 start=$SECONDS status
  shift 2
  echo "=== $name (limit ${limit} s): $*" >>"$log"
  timeout --signal=TERM --kill-after=20 "$limit" "$@" >>"$log" 2>&1
  status=$?
  echo "=== $name: exit $status after $((SECONDS - start)) s" >>"$log"
}

if [[ -n ${DRY_RUN:-} ]]; then
  # The device has no TensorFlow: make it unimportable here too.
  mkdir -p "$work/no-tf/tensorflow"
  echo 'raise ImportError("no TensorFlow on the device (gpu_session.sh DRY_RUN)")' \
    >"$work/no-tf/tensorflow/__init__.py"
  export JAX_PLATFORMS=cpu PYTHONPATH="$work/no-tf${PYTHONPATH:+:$PYTHONPATH}"
  part "a: CIFAR pair (dry run)" 300 "$py" applications/cifar_device.py resnet20_cifar \
    --data-dir applications/data/cifar10-sample --holdout 2 --epochs 2 --batch-size 16 \
    --lr 0.05 --time-budget 240 --out "$work/pair" --bundle "$out"
  part "b: benchmark (dry run)" 300 "$py" applications/benchmark.py resnet20_cifar \
    se_resnet20_cifar --input-size 32 --classes 10 --batch-sizes 8 --train-batch-sizes 8 \
    --repeats 2 --warmup 1 --min-repeat-s 0.1 --baseline resnet20_cifar \
    --out "$out/gpu_bf16_seresnet50"
else
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv >>"$log" 2>&1
  # Batch 512 with the paper's 0.1 per 128 images; 2 warm-up epochs for the large batch.
  part "a: CIFAR pair" "${PAIR_SECONDS:-330}" "$py" applications/cifar_device.py \
    resnet110_cifar --data-dir .data/cifar10-train.tar.gz --holdout 500 --epochs 164 \
    --batch-size 512 --lr 0.4 --warmup-epochs 2 --mixed-precision \
    --time-budget $(( ${PAIR_SECONDS:-330} - 20 )) --out "$work/pair" --bundle "$out"
  part "b: SE-ResNet-50 benchmark" 200 bash applications/benchmark_gpu.sh "$out" se50
fi
echo "session: $SECONDS s in all" >>"$log"
ls -l "$out" >>"$log"
