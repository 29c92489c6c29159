#!/usr/bin/env bash
# FSRCNN x2 in this harness (nbs/03b_fsrcnn): which parts of its paper's recipe matter, each against its control at
# the same budget. FSRCNN x2, T91@train + BSD200@train, the shared recipe of recipe.sh (constant 5e-4, scale
# augmentation, batch 32, L1), seed 0, STEPS steps every arm (default 4,000), validated every 500 steps; every arm is
# read at its best BSD200@holdout step, Set5/Set14 only reported. Each arm changes ONE thing from its control:
#   base       control: the recipe of the SESR runs unchanged (LR patches 64x64, 64 a picture)
#   patch24    FSRCNN's patches: 24x24 LR, 256 a picture (fewer pixels a step)          control: base
#   deconv01   patch24 with the deconvolution at a tenth of the rate (--lr-scale deconv=0.1; the paper's solver
#              trains it at 1e-4 against 1e-3 for the rest)                                 control: patch24
# A second study (session of 2026-12-06, after the zoo run showed FSRCNN still 1 dB short of its paper), each arm against
# the zoo's recipe (patch24 + deconv01) re-run beside it as 'zoo':
#   mse        the paper's loss, the mean squared error (--loss l2), instead of L1            control: zoo
#   lr1e-3     twice the rate (1e-3, as FSRCNN's Adam ports; the paper's SGD used 1e-3 too)   control: zoo
# Summarised by benchmarks/fsrcnn_recipe.py into benchmarks/results/fsrcnn_recipe.{md,json}.
#   usage: nice -n 10 bash benchmarks/fsrcnn_recipe.sh [RUNS_DIR]     (ONLY="a b" runs a subset; re-running continues)
set -euo pipefail
RUNS=${1:-runs/fsrcnn_recipe}
source "$(dirname "$0")/recipe.sh"
STEPS=${STEPS:-4000}
VAL=("$DATA/BSD200@holdout" "$DATA/Set5" "$DATA/Set14")
COMMON+=(--val-every 500 --arch FSRCNN --scale 2 --seed 0)

run base     "$STEPS"
run patch24  "$STEPS" --lr-patch 24 --patches-per-image 256
run deconv01 "$STEPS" --lr-patch 24 --patches-per-image 256 --lr-scale deconv=0.1
ZOO=(--lr-patch 24 --patches-per-image 256 --lr-scale deconv=0.1)
run zoo      "$STEPS" "${ZOO[@]}"
run mse      "$STEPS" "${ZOO[@]}" --loss l2
run lr1e-3   "$STEPS" "${ZOO[@]}" --lr 1e-3

# Third study, at the end of training: from the long run's plateau checkpoint (the shipped model, pretrained:FSRCNNx2,
# with a fresh optimiser state) a cosine decay of the rate to 0 over LATE steps against the constant rate over the same
# steps: the validations of the constant-rate curve move by 0.05-0.15 dB from one to the next, the sign of a rate too
# high to settle (ONLY=late_constant / ONLY=late_tail run the arms apart, e.g. side by side)
LATE=${LATE:-5000}
run late_constant "$LATE" "${ZOO[@]}" --init-from pretrained:FSRCNNx2
run late_tail     "$LATE" "${ZOO[@]}" --init-from pretrained:FSRCNNx2 --schedule tail --tail-steps "$LATE"
