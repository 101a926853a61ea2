#!/usr/bin/env bash
# Everything dlcheck checks on a real GPU, in one run (issue 17): dlcheck vs a hand-written loop vs Lightning,
# host syncs per step from a profiler trace, throughput by precision and option, babysit and lr-find in the
# recipe's bf16, the char LM in bf16; then the gpu-marked tests (torchrun with nccl among them) beside the rest
# of the suite. The benchmarks run first and alone on the GPU; the tests last, in parallel.
#
# Usage (on the GPU machine, from the repository root): bash benchmarks/gpu_check.sh OUT_DIR [PHASES]
# PHASES is a comma list of: loop,sync,throughput,checks,tests (default: all). Each phase has its own time
# limit and log file in OUT_DIR, so one hang or failure does not hide the rest.
# Dry-run on a CPU machine: DLCHECK_GPU_DRY_RUN=1 bash benchmarks/gpu_check.sh /tmp/out (small, CPU).
set -uo pipefail
out=${1:?usage: gpu_check.sh OUT_DIR [PHASES]}
phases=${2:-loop,sync,throughput,checks,tests}
mkdir -p "$out"
python=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
dry=${DLCHECK_GPU_DRY_RUN:-}
device=cuda
quick=""
if [ -n "$dry" ]; then device=cpu; quick="--device cpu --quick"; fi

want() { [[ ",$phases," == *",$1,"* ]]; }
phase() {  # phase LOG LIMIT_SECONDS COMMAND...: run with a limit, append to OUT/LOG.log, report the exit code
  local name=$1 limit=$2; shift 2
  local started=$SECONDS
  echo "=== $name (limit ${limit}s): $*" | tee -a "$out/$name.log"
  timeout --signal=INT --kill-after=10 "$limit" "$@" >>"$out/$name.log" 2>&1
  local code=$?
  echo "=== $name: exit $code after $((SECONDS - started))s" | tee -a "$out/$name.log"
  tail -n 30 "$out/$name.log" | sed 's/^/    /'
}

{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi"
  $python -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"
  nproc
} 2>&1 | tee "$out/environment.log"

if want loop; then
  phase loop 170 $python benchmarks/gpu_loop.py --rounds 3 --epochs 3 $quick
fi
if want sync && [ -z "$dry" ]; then
  phase sync 90 $python benchmarks/gpu_sync.py --steps 50 --every-steps 10 --trace "$out/sync_trace.json.gz"
fi
if want throughput; then
  phase throughput 170 $python benchmarks/gpu_throughput.py $quick
fi
if want checks; then
  # The checklist and the range test on the GPU in the recipe's bf16 (JSON: overfit_batch's precision).
  phase checks 90 $python -m dlcheck babysit recipes/digits_cnn.yaml --set device=$device \
    --set train.precision=bf16-mixed --json "$out/checks-babysit.json"
  phase checks 60 $python -m dlcheck lr-find recipes/digits_cnn.yaml --set device=$device \
    --set train.precision=bf16-mixed --json "$out/checks-lr-find.json"
  for report in checks-babysit checks-lr-find; do
    [ -f "$out/$report.json" ] && { echo "--- $report.json"; cat "$out/$report.json"; echo; } >>"$out/checks.log"
    rm -f "$out/$report.json"
  done
  # The char LM in bf16: its time to the stated validation loss (README).
  phase checks 90 $python -m dlcheck train recipes/char_lm.yaml --set device=$device \
    --set train.precision=bf16-mixed --run-dir "$out/char-lm-run" --json "$out/char-lm.json" --quiet
  [ -f "$out/char-lm.json" ] && { echo "--- char-lm.json"; cat "$out/char-lm.json"; echo; } >>"$out/checks.log"
  rm -rf "$out/char-lm-run" "$out/char-lm.json"
fi
if want tests; then
  # The gpu-marked tests and the rest of the suite at once (the second on CPU cores, with xdist when present).
  workers=$($python -c "import xdist" 2>/dev/null && echo "-n 8")
  timeouts=$($python -c "import pytest_timeout" 2>/dev/null && echo "--timeout=200")
  phase gpu-tests 240 $python -m pytest -m gpu -v -p no:cacheprovider -p no:benchmark $timeouts tests &
  phase suite 240 $python -m pytest -q -p no:cacheprovider -p no:benchmark -m "not gpu" $workers $timeouts --maxfail=40 tests dlcheck &
  wait
fi
echo "done: logs in $out"
