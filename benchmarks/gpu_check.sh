#!/usr/bin/env bash
# The GPU checks in one go (CUDA parity tests, then the CUDA benchmarks), each part under its own time limit so that
# one slow part cannot cost the others. Logs and JSON go to $1 (default ./gpu-check).
#
#     bash benchmarks/gpu_check.sh OUT_DIR [SOURCE]      # SOURCE e.g. idx:/path/to/mnist (default: built-in glyphs)
set -uo pipefail
out=${1:-gpu-check}
source=${2:-glyphs}
split=test
mkdir -p "$out"
export PYTHONUNBUFFERED=1
py=${PYTHON:-python3}

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv | tee "$out/gpu.txt"
$py -c "import torch, numpy; print('torch', torch.__version__, 'numpy', numpy.__version__, torch.cuda.get_device_name())" \
    | tee -a "$out/gpu.txt"

echo "== 1. CUDA parity: conformance suite (cuda backends) and the torch test files"
timeout 110 $py -m pytest -q -p no:cacheprovider tests/conformance -k cuda 2>&1 | tee "$out/tests.log" | tail -6
timeout 80 $py -m pytest -q -p no:cacheprovider tests/test_torch_backend.py tests/test_torch_general.py 2>&1 \
    | tee -a "$out/tests.log" | tail -6

echo "== 2. get_batch on CUDA beside the device copy bound, batch sizes 1k-64k"
timeout 140 $py benchmarks/bench_torch.py --only cuda --presets srivastava segmentation affine --source "$source" \
    --split $split --nums 1024 4096 16384 65536 --repeats 5 --json "$out/cuda.json" 2>&1 | tee "$out/bench.log"
echo "== 2b. compile=True (general path), 16k sequences per call"
timeout 110 $py benchmarks/bench_torch.py --only cuda --presets segmentation affine --source "$source" --split $split \
    --nums 16384 --compile --repeats 5 2>&1 | tee "$out/compile.log"

echo "== 3. ConvLSTM training step on the GPU fed by get_batch on the GPU"
timeout 45 $py benchmarks/bench_torch.py --only train-device --device cuda --train-batches 64 256 1024 --steps 25 \
    --source "$source" --split $split 2>&1 | tee "$out/train.log"

echo "== 4. profiler tables, 65k sequences per call"
timeout 45 $py benchmarks/bench_torch.py --only cuda --presets srivastava segmentation --source "$source" \
    --split $split --nums 65536 --repeats 1 --profile > "$out/profile.log" 2>&1
tail -c 3000 "$out/profile.log"
