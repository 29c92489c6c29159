#!/usr/bin/env python3
"""The runs of the shipped SESR set at one scale to their plateau, in one figure: BSD200@holdout (the set that chooses
the checkpoint and stops the run) and Set5 (reported, never choosing) against the step for M3, M5 and M11, with the
best hold-out checkpoint and the plateau stop of each run marked, the paper's Set5 figure where nbs/06a_published has
one (x2) and the targets of issue 19 (x2: M5 >= 37.25, M3 >= 36.90, M11 >= M5's shipped Set5 + 0.15 dB; x4: M5 >=
30.85) drawn beside them.

Reads the metrics logs that benchmarks/pretrained_set.py copied for the shipped models
(benchmarks/results/pretrained/{M3,M5,M11}xS_metrics.jsonl; a continued model's log joins its runs, with a mark where
each continuation starts); writes benchmarks/results/plateau_xS.png and prints a table of what it draws.

    python benchmarks/plateau_figure.py [--scale 2|3|4]
"""
import argparse, sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from sesr_nb.checkpoint import read_model_header
from sesr_nb.fileio import markdown_table, read_jsonl
from sesr_nb.published import published

from pretrained_set import is_continuation_mark, model_file, run_ending   # one reading of the shipped logs

RESULTS = Path(__file__).resolve().parent / 'results'
PRESETS = {'M3': 'tab:green', 'M5': 'tab:blue', 'M11': 'tab:red'}
SELECT = 'BSD200@holdout'


def curves(name: str, scale: int) -> dict:
    """Validation steps, hold-out and Set5 PSNR of one shipped model's run at `scale`, its best hold-out step, plateau
    stop and the steps where continuations from a shipped checkpoint start."""
    log = RESULTS / 'pretrained' / f'{name}x{scale}_metrics.jsonl'
    records = read_jsonl(log)
    vals = [r for r in records if 'val' in r and SELECT in r['val']]
    steps = np.array([r['step'] for r in vals])
    holdout = np.array([r['val'][SELECT]['psnr'] for r in vals])
    set5 = np.array([r['val']['Set5']['psnr'] if 'Set5' in r['val'] else np.nan for r in vals])
    shipped = read_model_header(model_file(f'{name}x{scale}')).get('step')   # the checkpoint the run chose (ties: its pick)
    best = int(np.flatnonzero(steps == shipped)[0]) if shipped in steps else int(np.argmax(holdout))
    restarts = [r['step'] for r in records if is_continuation_mark(r)]
    return {'steps': steps, 'holdout': holdout, 'set5': set5, 'best': best, 'stop': run_ending(log, True)[2],
            'restarts': restarts}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--scale', type=int, default=2, choices=(2, 3, 4))
    scale = parser.parse_args(argv).scale
    runs = {name: curves(name, scale) for name in PRESETS}
    m5_shipped = runs['M5']['set5'][runs['M5']['best']]
    targets = {2: {'M3': 36.90, 'M5': 37.25, 'M11': m5_shipped + 0.15}, 4: {'M5': 30.85}}.get(scale, {})
    fig = Figure(figsize=(11, 4), dpi=110)
    hold_ax, set5_ax = fig.subplots(1, 2)
    rows = []
    for name, color in PRESETS.items():
        c = runs[name]
        b = c['best']
        for ax, values in ((hold_ax, c['holdout']), (set5_ax, c['set5'])):
            ax.plot(c['steps'] / 1000, values, color=color, linewidth=1.2, label=f'SESR-{name}')
            ax.plot(c['steps'][b] / 1000, values[b], 'o', color=color, markersize=6, markeredgecolor='black')
            if c['stop']: ax.axvline(c['stop'] / 1000, color=color, linestyle=':', linewidth=0.8)
            for restart in c['restarts']:
                ax.plot(restart / 1000, np.interp(restart, c['steps'], values), '|', color=color, markersize=12)
        paper = published(f'SESR-{name}', scale)
        if paper and paper.set5: set5_ax.axhline(paper.set5, color=color, linestyle='--', linewidth=0.9)
        if name in targets: set5_ax.axhline(targets[name], color=color, linestyle='-.', linewidth=0.7, alpha=0.7)
        rows.append([f'SESR-{name}', f"{c['steps'][-1]:,}", f"{c['stop']:,}" if c['stop'] else 'not yet',
                     f"{c['steps'][b]:,}", f"{c['holdout'][b]:.3f}", f"{c['set5'][b]:.2f}",
                     f'{targets[name]:.2f}' if name in targets else '–',
                     f'{paper.set5:.2f}' if paper and paper.set5 else '–'])
    hold_ax.set_title(f'{SELECT}: chooses the checkpoint (●) and stops the run (dotted); |: continued', fontsize=9)
    hold_ax.set_ylabel('PSNR (dB, Y)')
    set5_ax.set_title('Set5 (reported only)' + ('; dashed: paper (DIV2K)' if scale == 2 else '')
                      + ("; dash-dot: issue 19's target" if targets else ''), fontsize=9)
    lows = [np.nanmin(c['set5'][len(c['set5']) // 4:]) for c in runs.values()]
    highs = [np.nanmax(c['set5']) for c in runs.values()] + list(targets.values()) + [
        p.set5 for p in (published(f'SESR-{n}', scale) for n in PRESETS) if p and p.set5]
    set5_ax.set_ylim(min(lows) - 0.1, max(highs) + 0.1)
    hold_ax.set_ylim(min(np.min(c['holdout'][len(c['holdout']) // 4:]) for c in runs.values()) - 0.05,
                     max(np.max(c['holdout']) for c in runs.values()) + 0.05)
    for ax in (hold_ax, set5_ax): ax.set_xlabel('step (thousands)'); ax.grid(alpha=0.3)
    hold_ax.legend(fontsize=8, loc='upper left')
    fig.suptitle(f'SESR x{scale} on T91+BSD200 at a constant rate until the plateau rule (no 0.02 dB hold-out gain in 10 K steps)',
                 fontsize=10)
    fig.tight_layout()
    out = RESULTS / f'plateau_x{scale}.png'
    fig.savefig(out)
    print(markdown_table(['model', 'steps run', 'plateau stop', 'chosen at', SELECT, 'Set5 there', 'target Set5',
                          'paper Set5'], rows))
    print(f'wrote {out}', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
