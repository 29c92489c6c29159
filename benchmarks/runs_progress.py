#!/usr/bin/env python3
"""Snapshot of the runs still training (benchmarks/train_model_set.sh, continue_shipped.sh, the zoo scripts): each run's metrics log and a
table of its best BSD200@holdout checkpoint so far, with the Set5/Set14 logged at that validation (reported, never
used to choose). The runs resume where they stopped (`--resume`); a later snapshot replaces this one.

    python benchmarks/runs_progress.py /work/runs/set m5_x2 m11_x2 m3_x2 m5_x4

Writes benchmarks/results/runs_in_progress/{RUN_metrics.jsonl, progress.md}.
"""
import shutil, sys
from pathlib import Path

from sesr_nb.fileio import markdown_table, read_jsonl

OUT = Path(__file__).resolve().parent / 'results' / 'runs_in_progress'


def main(runs: Path, names: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in names:
        metrics = read_jsonl(runs / name / 'metrics.jsonl')
        shutil.copyfile(runs / name / 'metrics.jsonl', OUT / f'{name}_metrics.jsonl')
        vals = [r for r in metrics if 'val' in r]
        best = max(vals, key=lambda r: r['val']['BSD200@holdout']['psnr'])
        at = lambda r, s: f"{r['val'][s]['psnr']:.3f}" if s in r['val'] else '–'
        rows.append([name, f"{max(r['step'] for r in metrics if 'step' in r):,}", f"{best['step']:,}",
                     at(best, 'BSD200@holdout'), at(best, 'Set5'), at(best, 'Set14'),
                     f"{vals[-1]['step']:,}: {at(vals[-1], 'BSD200@holdout')}"])
    table = markdown_table(['run', 'steps run', 'best step', 'BSD200@holdout', 'Set5', 'Set14', 'last validation'], rows)
    (OUT / 'progress.md').write_text(
        'Runs still training (train_model_set.sh, zoo_train.sh, elsr_recipe.sh, continue_shipped.sh; where a model of '
        'the README table comes from one, it is the best checkpoint below); PSNR (dB) at the best BSD200@holdout '
        'checkpoint so far. A run started from a shipped model or another run counts its steps from there (its first '
        'logged event names the source and its step).\n\n' + table + '\n')
    print(table)


if __name__ == '__main__':
    main(Path(sys.argv[1]), sys.argv[2:])
