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
RUNS=${1:-runs/zoo}; STEPS_X2=${2:-6000}; STEPS_X4=${3:-0}; ESPCN_STEPS_X2=${4:-$STEPS_X2}
source "$(dirname "$0")/recipe.sh"
after_run() { sesr_nb evaluate --model "$2" --data "$DATA/Set5" "$DATA/Set14" --per-set --out "$2/eval.json"; }

run fsrcnn_x2 "$STEPS_X2" --arch FSRCNN --scale 2
run espcn_x2 "$ESPCN_STEPS_X2" --arch ESPCN --scale 2
if [ "$STEPS_X4" -gt 0 ]; then
  run fsrcnn_x4 "$STEPS_X4" --arch FSRCNN --scale 4 --init-from "$RUNS/fsrcnn_x2"
  run espcn_x4 "$STEPS_X4" --arch ESPCN --scale 4 --init-from "$RUNS/espcn_x2"
fi

# The comparison table: best holdout PSNR (the selection set), Set5/Set14 x2 of the selected checkpoint, cost on
# 360p -> 720p, and the published figures; SESR runs of train_model_set.sh found in SESR_RUNS (default: RUNS/..) are
# listed for reference with their own step counts.
python - "$RUNS" "${SESR_RUNS:-$RUNS/..}" <<'PY'
import json, sys
from pathlib import Path
from sesr_nb.arch import arch_config
from sesr_nb.fileio import read_jsonl, write_json_atomic, markdown_table
runs, sesr_runs = Path(sys.argv[1]), Path(sys.argv[2])
PUBLISHED = {  # x2, Set5 / Set14 PSNR/SSIM as published
    'FSRCNN x2': 'FSRCNN paper (ECCV 2016) Table, as quoted in SESR Table 2: 37.00/0.9558, 32.63/0.9088; 12.46 K weights, 6.00 G MACs (SESR count)',
    'ESPCN x2': 'ESPCN paper reports x3/x4 only (x3 Set5 32.55 trained on 91 images, 33.00 on ImageNet); no x2 figure of the authors',
    'SESR-M5 x2': 'SESR paper (DIV2K, 300 epochs): Set5 37.39; 13.52 K weights, 3.11 G MACs',
}
rows = []
dirs = sorted(d for d in runs.iterdir() if (d / 'done').exists())
dirs += sorted(d for d in sesr_runs.glob('m*_x2') if (d / 'done').exists())
for d in dirs:
    cfg = json.loads((d / 'config.json').read_text())
    metrics = list(read_jsonl(d / 'metrics.jsonl'))
    vals = [r for r in metrics if 'val_psnr' in r]
    best = max(vals, key=lambda r: r['val_psnr']) if vals else None
    arch, config = arch_config(cfg['arch'], cfg['scale'])
    cost = arch.complexity(config, (720 // config.scale, 1280 // config.scale))
    row = {'run': d.name, 'model': config.name, 'steps': cfg['steps'],
           'best holdout PSNR': best and best['val_psnr'], 'best step': best and best['step'],
           'params': cost['params'], 'deploy params': cost['deploy_params'], 'GMACs 720p': round(cost['macs'] / 1e9, 3)}
    if 'macs_deconv_on_hr_grid' in cost['details']:   # FSRCNN: the deconvolution counted on the HR grid (SESR's count)
        row['GMACs 720p, deconv on HR grid'] = round(cost['details']['macs_deconv_on_hr_grid'] / 1e9, 3)
    if (d / 'eval.json').exists():
        ev = json.loads((d / 'eval.json').read_text())
        for s in ev['sets']: row[s['name']] = f"{s['psnr']:.2f} / {s['ssim']:.4f}"
    elif best:
        for name in ('Set5', 'Set14'): row[name] = f"{best['val'][name]['psnr']:.2f} / {best['val'][name]['ssim']:.4f}"
    row['published'] = PUBLISHED.get(config.name, '')
    rows.append(row)
out = Path('benchmarks/results')
write_json_atomic(out / 'zoo_results.json', {'runs': rows, 'recipe': 'T91@train+BSD200@train, val BSD200@holdout (selects) '
                  'T91@holdout Set5 Set14, batch 32, LR patch 64, AMSGrad 5e-4 cosine, L1; evaluation: Y, crop = scale'})
header = list(dict.fromkeys(k for row in rows for k in row))
table = markdown_table(header, [[row.get(k, '') for k in header] for row in rows]) if rows else '(no finished run)'
(out / 'zoo_results.md').write_text('# The efficient-SR zoo, x2, trained with the SESR recipe on two CPU cores\n\n' + table + '\n')
print(table)
PY
