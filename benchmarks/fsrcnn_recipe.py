"""The FSRCNN x2 recipe study of benchmarks/fsrcnn_recipe.sh as one table and one figure: each arm against its control,
trained on the same data, seed and budget in the same study, read at its best BSD200@holdout step (Set5/Set14 at that
step are reported, never used to choose).
    python benchmarks/fsrcnn_recipe.py [--runs runs/fsrcnn_recipe]
Writes benchmarks/results/fsrcnn_recipe.{md,json,png}.
"""
from __future__ import annotations
import argparse, sys
from pathlib import Path

from ablation_recipe import SETS, delta_cells, fork_best, read_run, write_study

RESULTS = Path(__file__).resolve().parent / 'results'
ARMS = {  # arm -> (the change, its control)
    'patch24': ('FSRCNN\'s patches: 24x24 LR, 256 a picture (instead of 64x64, 64 a picture)', 'base'),
    'deconv01': ('the deconvolution at a tenth of the rate (--lr-scale deconv=0.1)', 'patch24'),
    'mse': ("the paper's loss, the mean squared error (--loss l2), instead of L1", 'zoo'),
    'lr1e-3': ('twice the rate: 1e-3 (the deconvolution still at a tenth of it)', 'zoo'),
    'late_tail': ('at the plateau: a cosine decay of the rate to 0 over the steps of the arm', 'late_constant'),
}
CONTROLS = {'base': 'the SESR recipe unchanged (constant 5e-4, scale augmentation, 64x64 LR patches)',
            'patch24': 'the SESR recipe with 24x24 LR patches, 256 a picture',
            'zoo': "the zoo's recipe (24x24 LR patches, 256 a picture, deconvolution at a tenth of the rate), re-run beside the arm",
            'late_constant': 'the constant rate over the same steps, from the same checkpoint (the shipped model at its plateau)'}


def fork_row(zoo: Path, forked: Path, runs: dict) -> dict | None:
    """The late-rate row: the fork (1e-3) against the zoo run (5e-4) at its best hold-out step after the fork, each over
    the same steps (those the fork ran); their curves go into `runs` as 'plateau_*' (the figure's fork panel)."""
    found = fork_best(forked, zoo)
    if found is None: return None
    start, last, a, b = found
    arm, base = read_run(forked), read_run(zoo)
    runs['plateau_lr 1e-3 (fork)'] = {**arm, 'curve': [c for c in arm['curve'] if c['step'] <= last]}
    runs['plateau_5e-4 (zoo run)'] = {**base, 'curve': [c for c in base['curve'] if c['step'] <= last]}
    return {'change': f'late in training: from step {start:,} of the zoo run, 1e-3 for {last - start:,} steps',
            'control': 'the zoo run itself, continuing at 5e-4 over the same steps', 'arm': 'fork_lr1e-3',
            'step': a['step'], 'wall_s': None, **{s: a[s] for s in SETS},
            **{f'delta_{s}': round(a[s] - b[s], 3) for s in SETS}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--runs', type=Path, default=Path('runs/fsrcnn_recipe'))
    ap.add_argument('--fork', type=Path, nargs=2, metavar=('ZOO_RUN', 'FORK_RUN'), default=None,
                    help='the zoo run and its 1e-3 fork (fsrcnn_lr_fork.sh): compared over the steps the fork ran')
    ap.add_argument('--out', type=Path, default=RESULTS / 'fsrcnn_recipe')
    args = ap.parse_args(argv)
    runs = {name: read_run(args.runs / name) for name in ['base', 'zoo', 'late_constant', *ARMS]}
    wall = {name: int((args.runs / name / 'done').read_text()) if (args.runs / name / 'done').exists() else None
            for name in runs}   # seconds of the run's (last) session, beside the other runs of that session
    rows, stopped = [], []
    for name, (change, control) in ARMS.items():
        arm, base = runs[name], runs[control]
        if arm is None or base is None: continue
        if not (arm['finished'] and base['finished']):   # a partial arm is not compared with a finished control
            stopped.append(f"{name} ({change}): stopped at step {arm['curve'][-1]['step']:,}, not compared")
            continue
        rows.append({'change': change, 'control': CONTROLS[control], 'arm': name, 'step': arm['best']['step'],
                     'wall_s': wall[name],
                     **{s: arm['best'][s] for s in SETS},
                     **{f'delta_{s}': round(arm['best'][s] - base['best'][s], 3) for s in SETS}})
    steps = max((r['curve'][-1]['step'] for r in runs.values() if r), default=0)
    late = fork_row(*args.fork, runs) if args.fork else None
    lines = ['| change | control | best step | wall s | BSD200@holdout (selects) | Δ | Set5 | Δ | Set14 | Δ |',
             '|---|---|---|---|---|---|---|---|---|---|']
    if runs['base'] and runs['base']['finished']:
        b = runs['base']['best']
        lines.append(f"| (control) | {CONTROLS['base']} | {b['step']:,} | {wall['base']} | " + ' | '.join(f'{b[s]:.3f} | –' for s in SETS) + ' |')
    for r in rows:
        lines.append(f"| {r['change']} | {r['control']} | {r['step']:,} | {r['wall_s']} | " +
                     delta_cells(r) + ' |')
    if late:
        rows.append(late)
        lines.append(f"| {late['change']} | {late['control']} | {late['step']:,} | – | " + delta_cells(late) + ' |')
    text = (f'# FSRCNN x2 in this harness, one change at a time (up to {steps:,} steps an arm; T91@train + BSD200@train, seed 0, '
            'batch 32; 2 CPU cores)\n\nEach run is read at its best BSD200@holdout step; Δ is against its control in the '
            'same study and budget of steps; wall s is the time a run took, beside other trainings on the same cores (two in the first study, base to deconv01; four in the second, zoo to lr1e-3; eight to ten in the third, from the shipped model at its plateau: late_constant and late_tail): compare wall times within a study only.\n\n' + '\n'.join(lines) + '\n' + ''.join(f'\nNot in the table: {line}.\n' for line in stopped))
    write_study(args.out, text, rows, runs, 'FSRCNN x2', fork_title='FSRCNN x2, 1e-3 late (fork): BSD200@holdout')
    return 0


if __name__ == '__main__':
    sys.exit(main())
