#!/usr/bin/env bash
# The shipped learning curves on a machine with one GPU and many CPU cores (one call, about 9 minutes):
# seeds 0-2 train on the GPU (--gpu-jobs processes), seeds 3-4 on CPU cores (--cpu-jobs processes, 1 thread
# each), both writing partial results as runs finish. Results do not depend on where a run trained beyond
# the last digits. Usage: bash scripts/gpu_studies.sh OUTDIR [BUDGET...]
set -uo pipefail
out=${1:?give an output folder}; shift
budgets=${*:-125 250 500 1000 2000 4000}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 COURSE_LIB_CACHE=${COURSE_LIB_CACHE:-/tmp/course_lib_cache}
PY=${PY:-python3}
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
$PY -c "from course_lib.metrics import digit_classifier; digit_classifier()"
timeout "${LIMIT:-520}" $PY scripts/capstone.py --device "${GPU_DEVICE:-cuda}" --jobs "${GPU_JOBS:-10}" --seeds 0 1 2 \
    --budgets $budgets --timing skip --out "$out/curves_gpu.json" > "$out/gpu.log" 2>&1 &
timeout "${LIMIT:-520}" $PY scripts/capstone.py --device cpu --jobs "${CPU_JOBS:-6}" --seeds 3 4 \
    --budgets $budgets --timing skip --out "$out/curves_cpu.json" > "$out/cpu.log" 2>&1 &
wait
tail -n 12 "$out/gpu.log" "$out/cpu.log"
