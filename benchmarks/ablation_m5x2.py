"""Summarise the SESR-M5 x2 recipe ablation (benchmarks/ablation_m5x2.sh) into a table, a JSON file and a plot.

Every variant is read from its run folder: the checkpoint is the best on BSD200@holdout (the selection rule of every
shipped model); Set5/Set14 at that step are reported, never used to choose. Each row differs from the reference
`cosine` in one thing, so its Δ is the effect of that change at this budget. Training length is read from the curves:
the reference at 2,000 steps, the recipe's m5_x2 run at 3,000 (same data and schedule, longer) and the shipped 30 K-step
run (benchmarks/results/m5x2_291_metrics.jsonl: cosine over 30 K steps, but trained on all of T91+BSD200 with no
hold-out, so its Set5/Set14 are comparable and its hold-out column is empty).

    python benchmarks/ablation_m5x2.py [--runs runs/ablation_m5x2] [--m5-x2 runs/m5_x2]
Writes benchmarks/results/ablation_m5x2.{md,json,png}.
"""
from __future__ import annotations
import argparse, json, sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / 'results'
VARIANTS = {  # name: (what changes from the reference, parent run for fine-tunes)
    'cosine': ('reference: cosine 5e-4 -> 0, LR patch 64, L1, flips + 90° rotations, 2,000 steps', None),
    'paper': ('constant learning rate 5e-4 (as the paper states)', None),
    'noaug': ('no flips / rotations', None),
    'patch48': ('LR patch 48 instead of 64 (0.56x the pixels per step)', None),
    'ft_l1': ('+500 steps L1 at constant 2e-5 from the reference (control of ft_l2)', 'cosine'),
    'ft_l2': ('+500 steps L2 (MSE) at constant 2e-5 from the reference', 'cosine'),
}
SELECT = 'BSD200@holdout'


def read_run(folder: Path) -> dict | None:
    "Validation records of a run folder, its selected (best hold-out) step and the wall time, or None when missing."
    path = folder / 'metrics.jsonl'
    if not path.exists(): return None
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    vals = [r for r in records if 'val' in r]
    if not vals: return None
    rates = [r['steps_per_sec'] for r in records if 'steps_per_sec' in r]
    best = max(vals, key=lambda r: r['val'].get(SELECT, {}).get('psnr', float('-inf')))
    return {'curve': [{'step': r['step'], **{k: v['psnr'] for k, v in r['val'].items()}} for r in vals],
            'best': {'step': best['step'], **{k: {'psnr': v['psnr'], 'ssim': v['ssim']} for k, v in best['val'].items()}},
            'finished': (folder / 'done').exists(), 'median_steps_per_sec': sorted(rates)[len(rates) // 2] if rates else None}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--runs', type=Path, default=Path('runs/ablation_m5x2'))
    ap.add_argument('--m5-x2', type=Path, default=Path('runs/m5_x2'), help='the recipe run of 3,000 steps (length)')
    ap.add_argument('--out', type=Path, default=RESULTS / 'ablation_m5x2')
    args = ap.parse_args(argv)
    runs = {name: read_run(args.runs / name) for name in VARIANTS}
    missing = [n for n, r in runs.items() if r is None]
    if runs['cosine'] is None: sys.exit(f'the reference run {args.runs / "cosine"} has no validation yet')
    ref = runs['cosine']['best']
    sets = ('BSD200@holdout', 'Set5', 'Set14')
    rows = []
    for name, (change, parent) in VARIANTS.items():
        r = runs[name]
        if r is None: continue
        base = runs[parent]['best'] if parent else ref
        rows.append({'variant': name, 'change': change, 'step': r['best']['step'], 'finished': r['finished'],
                     **{s: r['best'][s]['psnr'] for s in sets}, 'ssim_Set5': r['best']['Set5']['ssim'],
                     **{f'delta_{s}': round(r['best'][s]['psnr'] - base[s]['psnr'], 4) for s in sets}})
    length = []
    if runs['cosine']: length.append({'run': 'ablation cosine', 'steps': 2000, **{s: ref[s]['psnr'] for s in sets}})
    m5 = read_run(args.m5_x2)
    if m5: length.append({'run': args.m5_x2.name, 'steps': m5['curve'][-1]['step'], **{s: m5['best'][s]['psnr'] for s in sets}})
    shipped = RESULTS / 'm5x2_291_metrics.jsonl'
    if shipped.exists():
        last = [json.loads(l) for l in shipped.read_text().splitlines() if '"val"' in l][-1]
        length.append({'run': 'shipped M5 x2 (all 291 images, no hold-out; final step)', 'steps': last['step'],
                       'BSD200@holdout': None, 'Set5': last['val']['Set5']['psnr'], 'Set14': last['val']['Set14']['psnr']})

    lines = ['# SESR-M5 x2 recipe ablation (T91@train + BSD200@train, batch 32, seed 0; 2 CPU cores)', '',
             f'Checkpoint of each run: best {SELECT} PSNR (validated every 500 steps); Set5 / Set14 at that step, '
             'Y PSNR (dB), crop 2. Δ: against the reference `cosine` (the two fine-tunes continue from its end, so their Δ is what 500 more steps gave; the L2 effect is their difference, below).', '',
             '| variant | change | step | BSD200@holdout | Δ | Set5 | Δ | Set14 | Δ |', '|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['variant']}{'' if r['finished'] else ' (unfinished)'} | {r['change']} | {r['step']} | "
                     + ' | '.join(f"{r[s]:.3f} | {r[f'delta_{s}']:+.3f}" for s in sets) + ' |')
    if 'ft_l2' in runs and runs['ft_l2'] and runs['ft_l1']:
        l2, l1 = runs['ft_l2']['best'], runs['ft_l1']['best']
        lines += ['', 'L2 fine-tune against its L1 control (same 500 steps, batches and learning rate): '
                  + ', '.join(f"{s} {l2[s]['psnr'] - l1[s]['psnr']:+.3f} dB" for s in sets)]
    lines += ['', '## Training length (same recipe, cosine schedule over the whole run)', '',
              '| run | steps | BSD200@holdout | Set5 | Set14 |', '|---|---|---|---|---|']
    for r in length:
        lines.append(f"| {r['run']} | {r['steps']:,} | " + ' | '.join('—' if r[s] is None else f'{r[s]:.3f}' for s in sets) + ' |')
    if missing: lines += ['', f'Not run yet: {", ".join(missing)}']
    text = '\n'.join(lines) + '\n'
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix('.md').write_text(text)
    args.out.with_suffix('.json').write_text(json.dumps({'rows': rows, 'length': length, 'runs': runs}, indent=1))
    print(text)

    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, r in runs.items():
        if r is None: continue
        offset = 2000 if VARIANTS[name][1] else 0
        steps = [c['step'] + offset for c in r['curve']]
        for ax, s in zip(axes, ('BSD200@holdout', 'Set14')):
            ax.plot(steps, [c[s] for c in r['curve']], marker='o', ms=3, label=name)
    for ax, s in zip(axes, ('BSD200@holdout (selects)', 'Set14 (reported only)')):
        ax.set_xlabel('step'); ax.set_ylabel('PSNR (dB)'); ax.set_title(f'SESR-M5 x2 ablation: {s}'); ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out.with_suffix('.png'), dpi=110)
    print(f'wrote {args.out}.md/.json/.png')
    return 0


if __name__ == '__main__':
    sys.exit(main())
