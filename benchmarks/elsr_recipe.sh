#!/usr/bin/env bash
# ELSR's multi-stage training recipe (arXiv 2208.14600; issue 11, notebook 03d_elsr) as three `sesr_nb train` runs with
# the data and recipe of every shipped model (recipe.sh: T91+BSD200 with one image in ten held out, the best checkpoint
# chosen on BSD200@holdout, batch 32 of 64x64 LR patches, AMSGrad, cosine schedule):
#   1. elsr_x2      x2, L1 loss, learning rate LR;
#   2. elsr_x4      x4, L1 loss, LR, initialised from elsr_x2 in all but the scale-dependent last layer (--init-from);
#   3. elsr_x4_mse  x4, MSE (--loss l2) fine-tune at the lower rate FT_LR, initialised from all of elsr_x4.
# The stages are the paper's; the budgets and rates are ours (the paper trains far longer on REDS). Re-running continues
# an unfinished stage (--resume) and skips finished ones; after each stage its best checkpoint is evaluated on
# Set5/Set14 (standard protocol: Y of the 8-bit RGB output against HR, border = scale) into RUN/eval.json.
#   usage: nice -n 10 bash benchmarks/elsr_recipe.sh RUNS_DIR [STEPS_X2] [STEPS_X4] [STEPS_FT]
#   environment: ARCH (default ELSR; elsr-tiny for a smoke test), LR (default 5e-4), FT_LR (default 5e-5),
#                VAL_EVERY (steps between validations, default 1000)
set -euo pipefail
RUNS=${1:?usage: elsr_recipe.sh RUNS_DIR [STEPS_X2] [STEPS_X4] [STEPS_FT]}
STEPS_X2=${2:-6000}; STEPS_X4=${3:-$STEPS_X2}; STEPS_FT=${4:-$(( (STEPS_X4 + 3) / 4 ))}
ARCH=${ARCH:-ELSR}; LR=${LR:-5e-4}; FT_LR=${FT_LR:-5e-5}; VAL_EVERY=${VAL_EVERY:-1000}
source "$(dirname "$0")/recipe.sh"
after_run() { sesr_nb evaluate --model "$2" --data "$DATA/Set5" "$DATA/Set14" --per-set --out "$2/eval.json"; }
STAGE=(--arch "$ARCH" --val-every "$VAL_EVERY")

run elsr_x2 "$STEPS_X2" "${STAGE[@]}" --scale 2 --loss l1 --lr "$LR"
run elsr_x4 "$STEPS_X4" "${STAGE[@]}" --scale 4 --loss l1 --lr "$LR" --init-from "$RUNS/elsr_x2"
run elsr_x4_mse "$STEPS_FT" "${STAGE[@]}" --scale 4 --loss l2 --lr "$FT_LR" --init-from "$RUNS/elsr_x4"
