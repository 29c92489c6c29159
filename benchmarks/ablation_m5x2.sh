#!/usr/bin/env bash
# Ablation of the SESR-M5 x2 recipe (issue: pretrained SESR, "which change gave how much"), on two CPU cores.
# Every run: T91@train + BSD200@train, the same seed, batch 32, 2000 steps; the checkpoint is chosen on BSD200@holdout
# and Set5/Set14 are only reported. Each variant changes ONE thing from the reference `cosine` (the recipe of the
# shipped models): the schedule (`paper`: constant 5e-4 as the paper states), the augmentation (`noaug`), the patch
# size (`patch48`: LR 48x48 instead of 64x64, 0.56x the pixels per step). The fine-tune stage compares, from the end
# of `cosine`, 500 more steps with L2 (`ft_l2`) against the same 500 steps with L1 (`ft_l1`, its control), both at a
# constant 2e-5. Training length comes from the runs' own curves. Summarised by benchmarks/ablation_m5x2.py.
#   usage: nice -n 10 bash benchmarks/ablation_m5x2.sh [RUNS_DIR]       (re-running continues / skips finished runs)
set -euo pipefail
RUNS=${1:-runs/ablation_m5x2}
source "$(dirname "$0")/recipe.sh"
COMMON=(--batch-size 32 --lr 5e-4 --val-every 500 --log-every 100 --no-progress --arch M5 --scale 2)
STEPS=${STEPS:-2000}
FT=${FT:-500}

run cosine  "$STEPS" --schedule cosine   --lr-patch 64
run paper   "$STEPS" --schedule constant --lr-patch 64
run noaug   "$STEPS" --schedule cosine   --lr-patch 64 --no-augment
run patch48 "$STEPS" --schedule cosine   --lr-patch 48
run ft_l2   "$FT" --schedule constant --lr 2e-5 --lr-patch 64 --loss l2 --init-from "$RUNS/cosine"
run ft_l1   "$FT" --schedule constant --lr 2e-5 --lr-patch 64 --loss l1 --init-from "$RUNS/cosine"
