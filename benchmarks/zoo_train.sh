#!/usr/bin/env bash
# The efficient-SR zoo (issue 11) trained with the recipe and data of the shipped SESR runs (train_model_set.sh):
# T91+BSD200 with one image in ten held out, the best checkpoint chosen on BSD200@holdout; Set5/Set14 logged at each
# validation for the curves but never selecting anything. FSRCNN x2 and ESPCN x2 first, then (if asked) x4 runs that
# start from the x2 ones in all but the scale-dependent layer (FSRCNN: the deconvolution; ESPCN: conv3).
# Re-running continues every unfinished run (--resume) and skips finished ones; after each run its best checkpoint is
# evaluated on Set5/Set14 into RUN/eval.json.
#   usage: nice -n 10 bash benchmarks/zoo_train.sh [RUNS_DIR] [STEPS_X2] [STEPS_X4 (0: no x4 runs)] [ESPCN_STEPS_X2]
# (ESPCN_STEPS_X2, default STEPS_X2, gives ESPCN x2 its own budget when the machine is too busy for the full one.)
set -euo pipefail
RUNS=${1:-runs/zoo}; STEPS_X2=${2:-150000}; STEPS_X4=${3:-0}; ESPCN_STEPS_X2=${4:-$STEPS_X2}
source "$(dirname "$0")/recipe.sh"
after_run() { sesr_nb evaluate --model "$2" --data "$DATA/Set5" "$DATA/Set14" --per-set --out "$2/eval.json"; }

# FSRCNN with what its paper's recipe adds to ours (nbs/03b_fsrcnn): small LR patches (24x24, 256 a picture) and its
# deconvolution trained at a tenth of the rate
run fsrcnn_x2 "$STEPS_X2" --arch FSRCNN --scale 2 --min-steps 20000 "${FSRCNN_RECIPE[@]}"
run espcn_x2 "$ESPCN_STEPS_X2" --arch ESPCN --scale 2 --min-steps 20000
if [ "$STEPS_X4" -gt 0 ]; then
  run fsrcnn_x4 "$STEPS_X4" --arch FSRCNN --scale 4 --init-from "$(start_from fsrcnn_x2 FSRCNNx2)" "${FSRCNN_RECIPE[@]}"
  run espcn_x4 "$STEPS_X4" --arch ESPCN --scale 4 --init-from "$(start_from espcn_x2 ESPCNx2)"
fi

# The comparison table of every zoo and SESR run, with the published figures (nbs/06a_published), is made by
# benchmarks/zoo_compare.py (benchmarks/results/zoo_table.{md,json} and the PSNR-vs-MACs plots).
