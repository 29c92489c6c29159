#!/usr/bin/env bash
# Does a decay of the learning rate at the plateau help? (issue 19 §2 at the budget that matters; benchmarks/ablation.md
# found a 2 K cosine tail worth nothing at 10 K steps, far from any plateau.) Forks a run of train_model_set.sh that the
# plateau rule stopped into two arms of the same extra steps, from the same checkpoint, optimiser state and sampler
# position: a cosine tail of the rate to 0 (the arm) and the constant rate continued (the control). Each arm is read at
# its best BSD200@holdout step by benchmarks/plateau_tail.py.
#   usage: nice bash benchmarks/plateau_tail.sh RUNS_DIR [RUN (m5_x2)] [EXTRA_STEPS (5000)]   (ONLY=tail|constant: one arm)
set -euo pipefail
SET=${1:?the runs folder of train_model_set.sh}; NAME=${2:-m5_x2}; EXTRA=${3:-5000}
source "$(dirname "$0")/recipe.sh"
SRC="$SET/$NAME"; RUNS="$SET/plateau_tail_$NAME"
STOP=$(python -c "import json,sys; print(max(r['step'] for r in map(json.loads, open(sys.argv[1])) if r.get('event', '').startswith('plateau:')))" "$SRC/metrics.jsonl")
ARGS=($(python -c "import json,sys; c=json.load(open(sys.argv[1])); print('--arch', c['arch'].replace(' ', ''), '--scale', c['scale'], '--min-steps', c['min_steps'])" "$SRC/config.json"))
mkdir -p "$RUNS"
for arm in tail constant; do
  if [ ! -d "$RUNS/$arm" ] && { [ -z "${ONLY:-}" ] || [ "$ONLY" = "$arm" ]; }; then
    python "$(dirname "$0")/fork_run.py" "$SRC" "$RUNS/$arm"
  fi
done
echo "forking $SRC at its plateau stop (step $STOP) into $EXTRA more steps an arm"
run tail $((STOP + EXTRA)) "${ARGS[@]}" --schedule tail --tail-steps "$EXTRA" --resume-override
run constant $((STOP + EXTRA)) "${ARGS[@]}" --plateau 0 --resume-override
