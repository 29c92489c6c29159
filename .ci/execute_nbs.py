#!/usr/bin/env python3
"""Run notebooks and save them with their outputs, so a reader sees every proof, table and figure without running.

`python .ci/execute_nbs.py [NOTEBOOK ...] [--jobs N]` (default: every notebook in nbs/) executes each notebook in its
own Python process, in nbs/, as `nbdev_test` does (cells flagged `#| colab`, `#| notest` or `#| slow` — unless
`--slow` — and `#| eval: false` ones, are not run and keep whatever output they had; `#| data` cells run when the benchmark data is
found), then writes it back with its outputs kept small: PNG figures at 80 dpi, long printouts cut to their first and
last lines, progress bars dropped. A notebook that raises is reported and left untouched. Run `nbdev_clean`
afterwards (it keeps outputs). `.ci/nb_outputs.py` checks that every figure and results table carries its output.
"""
from __future__ import annotations
import argparse, json, os, re, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP_FLAGS = {'colab', 'notest', 'slow'}   # --slow runs the `#| slow` cells too
MAX_LINES, HEAD, TAIL = 60, 15, 40          # a printout longer than MAX_LINES keeps its first HEAD and last TAIL lines
MAX_TEXT = 20_000                           # characters of one text/plain or text/html result


def skipped(source: str, run_slow: bool = False) -> bool:
    "Whether `nbdev_test` leaves this cell out (a skip flag, `eval: false`, or nbdev_export itself)."
    flags = SKIP_FLAGS - ({'slow'} if run_slow else set())
    for line in source.splitlines():
        if not line.startswith('#|'): continue
        words = line[2:].strip()
        if words.split()[:1] and words.split()[0] in flags: return True
        if re.fullmatch(r'eval:\s*false', words, re.I): return True
    return 'nbdev_export(' in source


def shorten(text: str) -> str:
    "A long printout cut to its first and last lines, with a note of how many were left out."
    text = re.sub(r'[^\n]*\r(?!\n)', '', text)          # carriage-return redraws (progress bars): keep the last state
    lines = text.splitlines(keepends=True)
    if len(lines) <= MAX_LINES: return text
    return ''.join(lines[:HEAD] + [f'[... {len(lines) - HEAD - TAIL} lines left out ...]\n'] + lines[-TAIL:])


def tidy(outputs: list) -> list:
    "Outputs kept small: streams shortened, tqdm widgets and oversized text dropped."
    kept = []
    for out in outputs:
        if out.get('output_type') == 'stream':
            text = shorten(''.join(out.get('text', '')))
            if not text.strip() or re.fullmatch(r'(\s*[^\n]*\d+%\|[^\n]*\n?)+', text): continue   # bare progress bars
            out = {**out, 'text': text}
        elif 'data' in out:
            data = dict(out['data'])
            if 'application/vnd.jupyter.widget-view+json' in data and 'tqdm' in str(data.get('text/plain', '')): continue
            for mime in ('text/plain', 'text/html'):
                if mime in data and len(''.join(data[mime])) > MAX_TEXT:
                    data[mime] = ''.join(data[mime])[:MAX_TEXT] + '\n[... cut ...]'
            out = {**out, 'data': data}
        kept.append(out)
    return kept


def run_one(path: Path, run_slow: bool = False) -> int:
    "Execute one notebook in this process and write it back with its outputs (nothing is written if a cell raises)."
    from execnb.nbio import read_nb, write_nb
    from execnb.shell import CaptureShell
    os.chdir(path.parent)
    sys.path.insert(0, str(ROOT))
    shell = CaptureShell(path, mpl_format='png')
    shell.run("import matplotlib\nmatplotlib.rcParams['figure.dpi'] = 80\nmatplotlib.rcParams['savefig.dpi'] = 80")
    nb = read_nb(path)
    failed = []
    def post(cell):
        if shell.exc: failed.append(cell)
        cell.outputs = tidy(list(cell.outputs))
    shell.run_all(nb, exc_stop=True, preproc=lambda cell: cell.cell_type != 'code' or skipped(cell.source, run_slow),
                  postproc=post)
    if shell.exc or failed:
        sys.stderr.write(shell.prettytb(fname=path) + '\n')
        return 1
    write_nb(nb, path)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('notebooks', nargs='*', type=Path, help='notebooks to run (default: every one in nbs/)')
    parser.add_argument('--jobs', type=int, default=2, help='notebooks run at once (default 2)')
    parser.add_argument('--slow', action='store_true', help='also run the cells flagged `#| slow` (their outputs are shown '
                        'in the docs; nbdev_test leaves them out)')
    parser.add_argument('--one', type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one: return run_one(args.one.resolve(), args.slow)
    paths = [p.resolve() for p in args.notebooks] or sorted((ROOT / 'nbs').glob('*.ipynb'))
    pending, running, failed = list(paths), {}, []
    while pending or running:
        while pending and len(running) < args.jobs:
            p = pending.pop(0)
            running[p] = (subprocess.Popen([sys.executable, __file__, '--one', str(p)] + (['--slow'] if args.slow else [])), time.time())
        for p, (proc, start) in list(running.items()):
            if proc.poll() is None: continue
            del running[p]
            print(f'{"ok    " if proc.returncode == 0 else "FAILED"} {p.name} ({time.time() - start:.0f} s)', flush=True)
            if proc.returncode: failed.append(p.name)
        time.sleep(0.5)
    if failed: print('failed (left as they were):', ', '.join(failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
