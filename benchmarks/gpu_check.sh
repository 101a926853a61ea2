#!/usr/bin/env bash
# Everything dlcheck checks on a real GPU, in one run (issue 17): the gpu-marked tests, throughput by
# precision/option, dlcheck vs a hand-written loop vs Lightning, host syncs per step from a profiler trace,
# torchrun with nccl, babysit and lr-find on a GPU recipe, then the whole test suite.
#
# Usage (on the GPU machine, from the repository root): bash benchmarks/gpu_check.sh OUT_DIR [PHASES]
# PHASES is a comma list of: gpu-tests,throughput,loop,sync,torchrun,checks,suite (default: all).
# Each phase has its own time limit and log file in OUT_DIR, so one hang or failure does not hide the rest.
# Dry-run on a CPU machine: DLCHECK_GPU_DRY_RUN=1 bash benchmarks/gpu_check.sh /tmp/out (small, CPU).
set -uo pipefail
out=${1:?usage: gpu_check.sh OUT_DIR [PHASES]}
phases=${2:-gpu-tests,throughput,loop,sync,torchrun,checks,suite}
mkdir -p "$out"
python=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
dry=${DLCHECK_GPU_DRY_RUN:-}
device=cuda
[ -n "$dry" ] && device=cpu

want() { [[ ",$phases," == *",$1,"* ]]; }
phase() {  # phase NAME LIMIT_SECONDS COMMAND...: run with a limit, log to OUT/NAME.log, report the exit code
  local name=$1 limit=$2; shift 2
  local started=$SECONDS
  echo "=== $name (limit ${limit}s): $*" | tee -a "$out/$name.log"
  timeout --signal=INT --kill-after=10 "$limit" "$@" >>"$out/$name.log" 2>&1
  local code=$?
  echo "=== $name: exit $code after $((SECONDS - started))s" | tee -a "$out/$name.log"
  tail -n 25 "$out/$name.log" | sed 's/^/    /'
}

{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi"
  $python -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"
} | tee "$out/environment.log"

if want gpu-tests; then
  phase gpu-tests 240 $python -m pytest -m gpu -v -p no:cacheprovider tests
fi
if want throughput; then
  if [ -n "$dry" ]; then
    phase throughput 600 $python benchmarks/gpu_throughput.py --device cpu --quick
  else
    phase throughput 240 $python benchmarks/gpu_throughput.py
  fi
fi
if want loop; then
  if [ -n "$dry" ]; then
    phase loop 600 $python benchmarks/gpu_loop.py --device cpu --quick
  else
    phase loop 240 $python benchmarks/gpu_loop.py --rounds 3 --epochs 4
  fi
fi
if want sync && [ -z "$dry" ]; then
  phase sync 120 $python benchmarks/gpu_sync.py --steps 50 --every-steps 10 --trace "$out/sync_trace.json.gz"
fi
if want torchrun; then
  # One process with the nccl backend (NCCL_DEBUG=INFO prints the NCCL version line as evidence).
  phase torchrun 120 env NCCL_DEBUG=INFO $python -m torch.distributed.run --standalone --nproc_per_node=1 \
    -m dlcheck train recipes/digits_cnn.yaml --set device=$device --set train.epochs=3 \
    --set train.precision=bf16-mixed --run-dir "$out/torchrun-run" --json "$out/torchrun-run.json" --quiet
  [ -f "$out/torchrun-run.json" ] && cat "$out/torchrun-run.json" >>"$out/torchrun.log"
  rm -rf "$out/torchrun-run" "$out/torchrun-run.json"
fi
if want checks; then
  # The checklist and the range test on the GPU, in the recipe's bf16 precision.
  phase checks 180 $python -m dlcheck babysit recipes/digits_cnn.yaml --set device=$device \
    --set train.precision=bf16-mixed --json "$out/babysit.json"
  phase checks 120 $python -m dlcheck lr-find recipes/digits_cnn.yaml --set device=$device \
    --set train.precision=bf16-mixed --json "$out/lr_find.json"
  for report in babysit lr_find; do
    [ -f "$out/$report.json" ] && { echo "--- $report.json"; cat "$out/$report.json"; } >>"$out/checks.log"
    rm -f "$out/$report.json"
  done
fi
if want suite; then
  # pytest-xdist and pytest-timeout when the machine has them (the GPU image does); all failures listed.
  extra=$($python -c "import xdist" 2>/dev/null && echo "-n 8")
  extra="$extra $($python -c "import pytest_timeout" 2>/dev/null && echo "--timeout=240")"
  phase suite 300 $python -m pytest -q -p no:cacheprovider $extra --maxfail=40 tests dlcheck
fi
echo "done: logs in $out"
