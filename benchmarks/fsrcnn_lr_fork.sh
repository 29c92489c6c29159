#!/usr/bin/env bash
# FSRCNN x2 at twice the rate late in training (nbs/03b_fsrcnn): the 4 K-step study (fsrcnn_recipe.sh, arm lr1e-3) found
# 1e-3 ahead of 5e-4 early on; this tests it where the gap to the paper is, on the zoo's long run. The zoo run is forked
# (fork_run.py) at its latest checkpoint into ZOO_FORK/fsrcnn_x2_lr1e-3, which continues at 1e-3 (deconvolution still at
# a tenth) while the zoo run itself goes on at 5e-4 as the control; both are read at the same steps.
#   usage: nice bash benchmarks/fsrcnn_lr_fork.sh ZOO_RUNS ZOO_FORK_RUNS [STEPS (150000)]
set -euo pipefail
ZOO=${1:?the zoo runs folder}; RUNS=${2:?the folder of the forked run}; STEPS=${3:-150000}
source "$(dirname "$0")/recipe.sh"
if [ ! -d "$RUNS/fsrcnn_x2_lr1e-3" ]; then
  mkdir -p "$RUNS"
  pids=$(pgrep -f -- "--workdir $ZOO/fsrcnn_x2 " || true)
  [ -n "$pids" ] && kill -STOP $pids
  python "$(dirname "$0")/fork_run.py" "$ZOO/fsrcnn_x2" "$RUNS/fsrcnn_x2_lr1e-3" || { [ -n "$pids" ] && kill -CONT $pids; exit 1; }
  [ -n "$pids" ] && kill -CONT $pids
fi
run fsrcnn_x2_lr1e-3 "$STEPS" --arch FSRCNN --scale 2 --min-steps 20000 --lr-patch 24 --patches-per-image 256 \
  --lr-scale deconv=0.1 --lr 1e-3 --resume-override
