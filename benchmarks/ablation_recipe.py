"""The one ablation table of the training recipe (nbs/09_train): every row is one change against its control, trained
on the same data (T91@train + BSD200@train), seed and budget in the same study; the checkpoint of every run is its best
on BSD200@holdout, and Set5/Set14 at that step are reported, never used to choose.

Rows come from three studies: the 10,000-step one of benchmarks/ablation_recipe.sh (run folders, read here), the
2,000-step one of benchmarks/ablation_m5x2.sh (its committed summary, benchmarks/results/ablation_m5x2.json), and the
decay at the plateau of benchmarks/plateau_tail.sh (its two arms, forked from a plateau-stopped run, read here over the
steps after the fork).
    python benchmarks/ablation_recipe.py [--runs runs/ablation_recipe] [--plateau RUNS/plateau_tail_m5_x2]
Writes benchmarks/results/ablation.{md,json,png}.
"""
from __future__ import annotations
import argparse, json, sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / 'results'
SETS = ('BSD200@holdout', 'Set5', 'Set14')
SELECT = SETS[0]
ARMS = {  # 10 K-step study: arm -> (the change, its control)
    'scaleaug': ('scale augmentation: every image also shrunk by 0.9, 0.8, 0.7, 0.6', 'constant'),
    'cosine': ('cosine decay of the rate to 0 over the run', 'constant'),
    'tail': ('constant, then a cosine decay to 0 over the last 2,000 steps', 'constant'),
    'tail_lr1e-3': ('the tail schedule at twice the rate (1e-3)', 'tail'),
}
CONTROLS = {'constant': 'constant 5e-4, LR patch 64, L1, flips + rotations (the paper\'s recipe)',
            'tail': 'constant 5e-4 then a 2,000-step cosine tail'}
OLD = {  # 2 K-step study: variant -> (the change, its control), from ablation_m5x2.json
    'paper': ('constant 5e-4 instead of cosine 5e-4 -> 0', 'cosine'),
    'noaug': ('no flips / rotations', 'cosine'),
    'patch48': ('LR patch 48 instead of 64 (0.56x the pixels per step)', 'cosine'),
    'ft_l2': ('+500 steps with L2 instead of L1 (constant 2e-5, from the end of cosine)', 'ft_l1'),
}


def read_run(folder: Path) -> dict | None:
    "Validation curve of a run folder and its selected (best hold-out) step, or None before its first validation."
    path = folder / 'metrics.jsonl'
    if not path.exists(): return None
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    vals = {r['step']: r for r in records if 'val' in r}   # a resumed run may log a step twice: the last wins
    if not vals: return None
    best = max(vals.values(), key=lambda r: r['val'][SELECT]['psnr'])
    return {'curve': [{'step': s, **{k: v['psnr'] for k, v in r['val'].items()}} for s, r in sorted(vals.items())],
            'best': {'step': best['step'], **{k: v['psnr'] for k, v in best['val'].items()}},
            'finished': (folder / 'done').exists()}


def fork_best(arm_dir: Path, control_dir: Path) -> tuple[int, int, dict, dict] | None:
    """Two runs forked from one checkpoint (benchmarks/fork_run.py, plateau_tail.sh): the fork step (where the arm's
    resume changed its configuration, the last override in its config.json), the arm's last validated step, and each
    run's best validation on the selecting set over the steps in between; None before both have one."""
    arm, control = read_run(arm_dir), read_run(control_dir)
    if arm is None or control is None: return None
    fork = json.loads((arm_dir / 'config.json').read_text())['overrides'][-1]['step']
    last = arm['curve'][-1]['step']
    best = [max((c for c in r['curve'] if fork < c['step'] <= last), key=lambda c: c[SELECT], default=None)
            for r in (arm, control)]
    return None if None in best else (fork, last, *best)


def plateau_row(folder: Path) -> tuple[dict | None, dict]:
    "The decay-at-the-plateau row (arm 'tail' against control 'constant', best hold-out step after the fork) and its curves."
    runs = {arm: read_run(folder / arm) for arm in ('tail', 'constant')}
    found = fork_best(folder / 'tail', folder / 'constant')
    if found is None: return None, runs
    fork, last, a, b = found
    extra = last - fork
    row = {'budget': f'{fork:,} + {extra:,}', 'arm': 'plateau_tail', 'finished': all(r['finished'] for r in runs.values()),
           'change': f'at the plateau stop (step {fork:,}), a cosine decay of the rate to 0 over {extra:,} steps',
           'control': f'the constant rate continued for {extra:,} steps', 'step': a['step'],
           **{s: a[s] for s in SETS}, **{f'delta_{s}': round(a[s] - b[s], 3) for s in SETS}}
    return row, runs


def delta_cells(row: dict) -> str:
    "A row's score and Δ cells per set, the selecting set's Δ in bold."
    return ' | '.join(f"{row[s]:.3f} | **{row[f'delta_{s}']:+.3f}**" if s == SELECT else f"{row[s]:.3f} | {row[f'delta_{s}']:+.3f}"
                      for s in SETS)


def write_study(out: Path, text: str, rows: list, runs: dict, title: str,
                fork_title: str = 'SESR-M5 x2 at its plateau: BSD200@holdout') -> None:
    """Write a study's table (OUT.md), rows and curves (OUT.json), print the table, and plot its curves (OUT.png); runs
    named 'plateau_*' are the arms of a fork, drawn apart around the fork under `fork_title`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix('.md').write_text(text)
    out.with_suffix('.json').write_text(json.dumps({'rows': rows, 'runs': runs}, indent=1))
    print(text)
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fork = {k[len('plateau_'):]: v for k, v in runs.items() if k.startswith('plateau_') and v}
    fig, axes = plt.subplots(1, 3 if fork else 2, figsize=(16.5 if fork else 11, 4))
    for name, r in runs.items():
        if r is None or name.startswith('plateau_'): continue
        for ax, s in zip(axes, (SELECT, 'Set5')):
            ax.plot([c['step'] for c in r['curve']], [c[s] for c in r['curve']], label=name, lw=1.2)
    for ax, panel in zip(axes, ('BSD200@holdout (selects)', 'Set5 (reported only)')):
        ax.set_xlabel('step'); ax.set_ylabel('PSNR (dB)'); ax.set_title(f'{title}: {panel}'); ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    if fork:   # the decay at the plateau: both arms from 10 K steps before the fork
        last = max(c['step'] for r in fork.values() for c in r['curve'])
        for name, r in fork.items():
            curve = [c for c in r['curve'] if c['step'] >= last - 15000]
            axes[2].plot([c['step'] for c in curve], [c[SELECT] for c in curve], label=name, lw=1.2, marker='.')
        axes[2].set_xlabel('step'); axes[2].set_ylabel('PSNR (dB)'); axes[2].grid(alpha=0.3); axes[2].legend(fontsize=8)
        axes[2].set_title(fork_title)
    fig.tight_layout()
    fig.savefig(out.with_suffix('.png'), dpi=100)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--runs', type=Path, default=Path('runs/ablation_recipe'))
    ap.add_argument('--plateau', type=Path, default=None, help='the arms of benchmarks/plateau_tail.sh')
    ap.add_argument('--out', type=Path, default=RESULTS / 'ablation')
    args = ap.parse_args(argv)
    runs = {name: read_run(args.runs / name) for name in ['constant', *ARMS]}
    rows, stopped = [], []
    for name, (change, control) in ARMS.items():
        arm, base = runs[name], runs[control]
        if arm is None or base is None: continue
        if not (arm['finished'] and base['finished']):   # a partial arm is not compared with a finished control
            stopped.append(f"{name} ({change}): stopped at step {arm['curve'][-1]['step']:,} of 10,000, not compared")
            continue
        rows.append({'budget': 10000, 'change': change, 'control': CONTROLS[control], 'arm': name,
                     'finished': arm['finished'] and base['finished'], 'step': arm['best']['step'],
                     **{s: arm['best'][s] for s in SETS}, **{f'delta_{s}': round(arm['best'][s] - base['best'][s], 3) for s in SETS}})
    if args.plateau is not None:
        row, arms = plateau_row(args.plateau)
        if row is None or not row['finished']: stopped.append(f'the decay at the plateau ({args.plateau}): not finished, not compared')
        else: rows.insert(0, row)
        runs.update({f'plateau_{k}': v for k, v in arms.items()})
    old = json.loads((RESULTS / 'ablation_m5x2.json').read_text())
    best = {name: run['best'] for name, run in old['runs'].items() if run}
    for name, (change, control) in OLD.items():
        if name not in best or control not in best: continue
        a, b = best[name], best[control]
        rows.append({'budget': 2000 if name != 'ft_l2' else 500, 'change': change, 'arm': name,
                     'control': 'cosine 5e-4 -> 0, 2,000 steps' if control == 'cosine' else '+500 steps with L1, same rate',
                     'finished': True, 'step': a['step'], **{s: a[s]['psnr'] for s in SETS},
                     **{f'delta_{s}': round(a[s]['psnr'] - b[s]['psnr'], 3) for s in SETS}})
    lines = ['| steps | change | control | BSD200@holdout (selects) | Δ | Set5 | Δ | Set14 | Δ |', '|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        budget = r['budget'] if isinstance(r['budget'], str) else f"{r['budget']:,}"
        lines.append(f"| {budget} | {r['change']} | {r['control']} | " +
                     delta_cells(r) + ' |')
    table = '\n'.join(lines)
    text = ('# The recipe, one change at a time (SESR-M5 x2, T91@train + BSD200@train, seed 0, batch 32; 2 CPU cores)\n\n'
            'Each run is read at its best BSD200@holdout step; Δ is against the control of the same study and budget.\n\n'
            + table + '\n' + ''.join(f'\nNot in the table: {line}.\n' for line in stopped))
    write_study(args.out, text, rows, runs, 'SESR-M5 x2, 10 K steps')
    return 0


if __name__ == '__main__':
    sys.exit(main())
