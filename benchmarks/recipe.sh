# The one training recipe of the shipped models and of the zoo comparison, sourced by train_model_set.sh and
# zoo_train.sh: T91+BSD200 with one image in ten held out (dataset specs @train/@holdout, nbs/05a_datasets), the best
# checkpoint chosen on BSD200@holdout; Set5/Set14 are logged at each validation for the curves, never selecting.
# Recipe (benchmarks/ablation_recipe.sh, the table in nbs/09_train): scale augmentation (every image also shrunk by
# 0.9, 0.8, 0.7, 0.6: +0.03 dB hold-out at 10 K steps), AMSGrad at a constant 5e-4 (cosine lost 0.16 dB at 10 K, a
# 2 K cosine tail gained nothing, nor did a 5 K one from the plateau stop: +0.009 dB, benchmarks/plateau_tail.sh), until
# the hold-out has not gained 0.02 dB for 10,000 steps (the plateau rule; not before the run's --min-steps); the run's
# STEPS is only a cap.
# run NAME STEPS ARGS... trains $RUNS/NAME, continues an interrupted run (--resume), skips a finished one, and calls
# the function after_run NAME DIR if the sourcing script defines it. ONLY="name1 name2" limits a session to some runs.
DATA=${SESR_NB_DATA:-../shared/data}
TRAIN=("$DATA/T91@train" "$DATA/BSD200@train")
VAL=("$DATA/BSD200@holdout" "$DATA/T91@holdout" "$DATA/Set5" "$DATA/Set14")
# FSRCNN's departures from it (benchmarks/fsrcnn_recipe.sh; nbs/03b_fsrcnn): its paper's small patches, many per
# image, and a tenth of the rate for the deconvolution
FSRCNN_RECIPE=(--lr-patch 24 --patches-per-image 256 --lr-scale deconv=0.1)
COMMON=(--batch-size 32 --lr-patch 64 --lr 5e-4 --scale-aug 0.9 0.8 0.7 0.6 --schedule constant --plateau 10000 --plateau-delta 0.02
        --val-every 1000 --log-every 100 --no-progress)

run() {
  local name=$1 steps=$2; shift 2
  local dir="$RUNS/$name"
  if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then return; fi
  if [ -f "$dir/done" ]; then echo "== $name: finished"; return; fi
  local resume=(); [ -f "$dir/config.json" ] && resume=(--resume)
  echo "== $name ($steps steps at most) $(date +%T)"
  local start=$SECONDS
  sesr_nb train --workdir "$dir" --steps "$steps" --data "${TRAIN[@]}" --val "${VAL[@]}" "${COMMON[@]}" "$@" "${resume[@]}"
  if declare -F after_run > /dev/null; then after_run "$name" "$dir"; fi
  echo "$((SECONDS - start))" > "$dir/done"   # wall seconds of the last (or only) session of this run
}

# start_from NAME SHIPPED: where a run that starts from run NAME takes its weights: the run folder when this machine has
# it, else the shipped model it became (pretrained:SHIPPED, its best checkpoint, turned back into trainable weights of
# the same function by `sesr_nb train --init-from`, nbs/09_train), so a later session goes on without the folders
start_from() { if [ -f "$RUNS/$1/config.json" ]; then echo "$RUNS/$1"; else echo "pretrained:$2"; fi; }
