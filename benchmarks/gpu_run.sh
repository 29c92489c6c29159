#!/usr/bin/env bash
# One GPU session's work for sesr_nb, in one command under a time budget: the GPU-relevant notebook tests, train-step
# throughput, then training the model set in the minutes left. Everything it keeps goes to $OUT (at most 8 files:
# gpu_run.log, summary.json, throughput.json, tests.log, runs/*.tar.gz). See benchmarks/gpu_run.py for the stages.
#
#   benchmarks/gpu_run.sh                 # on the GPU machine (one H200, 16 cores): about 8.5 minutes
#   benchmarks/gpu_run.sh --dry-run       # the same logic on the CPU with tiny settings, under a minute (CI)
#
# Before a GPU session, here:  python benchmarks/gpu_pack.py --wheels   (gpu_data/ 45 MiB, .whl/ 7 MiB; both ignored;
# with the working tree, ~56 of the 64 MiB a run may carry)
# and run it there with carry [gpu_data, .whl] and the command:  bash benchmarks/gpu_run.sh
# Environment: PYTHON (default python3: on the GPU machine the image's Python with JAX), OUT (required unless
# --dry-run), SESR_GPU_SITE (where carried wheels are installed, default /tmp/sesr_gpu_site).
set -u
export SESR_GPU_RUN_T0=${SESR_GPU_RUN_T0:-$(date +%s.%N)}   # the budget counts from here
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 2
PY=${PYTHON:-python3}

dry=0
for a in "$@"; do [ "$a" = "--dry-run" ] && dry=1; done
if [ -z "${OUT:-}" ]; then
  if [ $dry = 1 ]; then OUT=$(mktemp -d "${TMPDIR:-/tmp}/sesr_gpu_out.XXXXXX"); echo "OUT not set: writing to $OUT"
  else echo "gpu_run.sh: set OUT to the folder everything is written to (the device machine sets it)" >&2; exit 2; fi
fi
export OUT
mkdir -p "$OUT"

# nbdev_test and its dependencies travel as wheels (the GPU image lacks them); install them only where they are missing
if ls .whl/*.whl >/dev/null 2>&1 && ! "$PY" -c 'import nbdev, execnb' >/dev/null 2>&1; then
  site=${SESR_GPU_SITE:-/tmp/sesr_gpu_site}
  if "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .whl/*.whl \
       >"$OUT/gpu_run.log" 2>&1; then
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
  else
    echo "gpu_run.sh: installing the carried wheels failed; the tests stage will be skipped" >&2
  fi
fi
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false

set -o pipefail
"$PY" benchmarks/gpu_run.py --out "$OUT" "$@" 2>&1 | tee -a "$OUT/gpu_run.log"
