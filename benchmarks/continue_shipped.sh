#!/usr/bin/env bash
# Shipped models whose runs stopped before their plateau, trained on to it from the shipped (best) checkpoint: the
# deployed weights turned back into trainable ones of the same function (`--init-from pretrained:NAME`, nbs/09_train)
# with a fresh optimiser state, on the recipe of the run that made them (recipe.sh), until the plateau rule stops them.
# The rule goes on from where it stood in the shipped model's log (--plateau-from, nbs/09_train): a run that had gone
# 6,000 steps without a gain stops after 4,000 more without one, so a model reaches its plateau across sessions.
# For a session that does not have the earlier run folders (a run folder, when there, resumes exactly instead:
# train_model_set.sh, zoo_train.sh). The step a continued run starts from is logged as its first event.
#   usage: nice bash benchmarks/continue_shipped.sh [RUNS_DIR]      (ONLY="m11_x3 fsrcnn_x2" ... runs a subset)
set -euo pipefail
RUNS=${1:-runs/continued}
source "$(dirname "$0")/recipe.sh"
shipped_log() { echo "$(cd "$(dirname "$0")" && pwd)/results/pretrained/$1_metrics.jsonl"; }

run m11_x3 100000 --arch "M11(block_init=0)" --scale 3 --init-from pretrained:M11x3 --plateau-from "$(shipped_log M11x3)"
run m11_x4 100000 --arch "M11(block_init=0)" --scale 4 --init-from pretrained:M11x4 --plateau-from "$(shipped_log M11x4)"
run m5_x3 100000 --arch M5 --scale 3 --init-from pretrained:M5x3 --plateau-from "$(shipped_log M5x3)"
run m3_x3 100000 --arch M3 --scale 3 --init-from pretrained:M3x3 --plateau-from "$(shipped_log M3x3)"
run m3_x4 100000 --arch M3 --scale 4 --init-from pretrained:M3x4 --plateau-from "$(shipped_log M3x4)"
run fsrcnn_x2 150000 --arch FSRCNN --scale 2 --min-steps 0 "${FSRCNN_RECIPE[@]}" --init-from pretrained:FSRCNNx2 --plateau-from "$(shipped_log FSRCNNx2)"
run espcn_x2 150000 --arch ESPCN --scale 2 --init-from pretrained:ESPCNx2 --plateau-from "$(shipped_log ESPCNx2)"
run espcn_x4 100000 --arch ESPCN --scale 4 --init-from pretrained:ESPCNx4 --plateau-from "$(shipped_log ESPCNx4)"
run elsr_x2 150000 --arch ELSR --scale 2 --loss l1 --lr 5e-4 --init-from pretrained:ELSRx2 --plateau-from "$(shipped_log ELSRx2)"
run elsr_x4 100000 --arch ELSR --scale 4 --loss l2 --lr 5e-5 --init-from pretrained:ELSRx4 --plateau-from "$(shipped_log ELSRx4)"
