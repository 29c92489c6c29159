#!/usr/bin/env bash
# The recipe at a budget that matters (issue: results you can trust, section 2): SESR-M5 x2, T91@train + BSD200@train,
# seed 0, batch 32 of 64x64 LR patches, L1, 10,000 steps every run; the checkpoint is chosen on BSD200@holdout
# (validated every 500 steps), Set5/Set14 only reported. Each run changes ONE thing from its control:
#   constant     control: constant 5e-4 (the paper's schedule; won the 2 K-step ablation against cosine)
#   scaleaug     + scale augmentation: every image also shrunk by 0.9 0.8 0.7 0.6 (FSRCNN/VDSR)     control: constant
#   cosine       cosine 5e-4 -> 0 over the run                                                        control: constant
#   tail         constant, then a cosine decay to 0 over the last 2,000 steps                         control: constant
#   tail_lr1e-3  the tail schedule at twice the rate, 1e-3                                            control: tail
# Summarised by benchmarks/ablation_recipe.py into the one ablation table of nbs/09_train.
#   usage: nice -n 10 bash benchmarks/ablation_recipe.sh [RUNS_DIR]     (ONLY="a b" runs a subset; re-running continues)
set -euo pipefail
RUNS=${1:-runs/ablation_recipe}
source "$(dirname "$0")/recipe.sh"
STEPS=${STEPS:-10000}
COMMON=(--batch-size 32 --lr-patch 64 --val-every 500 --log-every 100 --no-progress --arch M5 --scale 2)

run constant      "$STEPS" --schedule constant --lr 5e-4
run scaleaug      "$STEPS" --schedule constant --lr 5e-4 --scale-aug 0.9 0.8 0.7 0.6
run cosine        "$STEPS" --schedule cosine   --lr 5e-4
run tail          "$STEPS" --schedule tail     --lr 5e-4 --tail-steps 2000
run tail_lr1e-3   "$STEPS" --schedule tail     --lr 1e-3 --tail-steps 2000
