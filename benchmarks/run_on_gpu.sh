#!/usr/bin/env bash
# On a machine with a CUDA GPU: build torchlab, then
#   check: `torchlab doctor`, the whole test suite (GPU tests included), every lab with its
#          GPU steps, and every kernel under compute-sanitizer;
#   bench: the full benchmark sweep into DIR/bench, the quick one (timed, not kept), and a
#          kernel profile with Nsight Compute.
# Logs and results go to DIR (default benchmarks/results/local); the exit status says
# whether everything passed.
#
#   bash benchmarks/run_on_gpu.sh [DIR] [check|bench|all]
set -uo pipefail
out=${1:-benchmarks/results/local}
stages=${2:-all}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
status=0
torchlab() { python3 -m torchlab.cli "$@"; }
elapsed() { local start=$SECONDS; "$@"; local rc=$?; echo "($* took $((SECONDS - start)) s)"; return $rc; }

python3 -m pip install -q --no-build-isolation --no-deps -e . > "$out/build.log" 2>&1 \
  || { tail -30 "$out/build.log"; exit 1; }

if [[ $stages == check || $stages == all ]]; then
  torchlab doctor || status=1
  python3 -m pytest -q -rs tests 2>&1 | tail -15 || status=1
  for lab in 1 2 3 4; do
    torchlab lab run $lab --all > "$out/lab$lab.log" 2>&1 || { status=1; tail -30 "$out/lab$lab.log"; }
    tail -1 "$out/lab$lab.log"
  done
  if command -v compute-sanitizer >/dev/null; then
    for script in sanitize_bias_gelu sanitize_rows; do
      compute-sanitizer --tool memcheck --error-exitcode 1 python3 benchmarks/$script.py \
        2>&1 | tail -3 || status=1
    done
  else
    echo "compute-sanitizer not found: memory checks skipped"
  fi
fi

if [[ $stages == bench || $stages == all ]]; then
  elapsed torchlab bench --shapes full --dtype bfloat16 float32 --mode fwd fwd+bwd \
    --out "$out/bench" || status=1
  elapsed torchlab bench --shapes quick --out "$out/bench-quick" | tail -1 || status=1
  torchlab profile bias_gelu --mode fwd+bwd --out "$out/profile" || status=1
  torchlab profile bias_gelu --mode fwd+bwd --ncu --out "$out/profile" || status=1
fi
exit $status
