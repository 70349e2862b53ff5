#!/usr/bin/env bash
# On a machine with a CUDA GPU: build torchlab, run the whole test suite (the GPU tests
# included), run every kernel under compute-sanitizer, then benchmark. Logs and results go
# to DIR (default benchmarks/results/local); the exit status says whether all checks passed.
#
#   bash benchmarks/run_on_gpu.sh [DIR]
set -uo pipefail
out=${1:-benchmarks/results/local}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
status=0

python3 -m pip install -q --no-build-isolation --no-deps -e . 2>&1 | tail -5 || exit 1
python3 -m torchlab.cli doctor 2>&1 | tee "$out/doctor.log" || status=1
python3 -m pytest -q -rs tests 2>&1 | tee "$out/gpu-tests.log" | tail -15 || status=1
if command -v compute-sanitizer >/dev/null; then
  compute-sanitizer --tool memcheck --error-exitcode 1 python3 benchmarks/sanitize_bias_gelu.py \
    2>&1 | tee "$out/sanitizer.log" | tail -3 || status=1
else
  echo "compute-sanitizer not found: memory checks skipped"
fi
python3 benchmarks/bias_gelu.py --out "$out" || status=1
exit $status
