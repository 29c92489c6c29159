"""Ship the pretrained model set and measure it: model files from finished runs, then one table of every shipped model.

  python benchmarks/pretrained_set.py --runs /work/runs --ship m3_x2 m11_x2 m5_x4   # write sesr_nb/weights/*.npz
  python benchmarks/pretrained_set.py                                               # only the table

Each shipped run's best checkpoint is the one its first validation set chose (BSD200@holdout, see
benchmarks/train_model_set.sh); its config, metrics log and curves are copied under benchmarks/results/pretrained/.
The table evaluates every entry of `sesr_nb.checkpoint.PRETRAINED` and bicubic on Set5/Set14 with the standard protocol
(Y channel, crop = scale) and writes benchmarks/results/pretrained_table.{json,md}. MACs are counted for a 1280x720
output (the paper's convention: 360p->720p at x2, 180p->720p at x4).
"""
from __future__ import annotations
import argparse, json, os, re, shutil, sys
from pathlib import Path

from sesr_nb.arch import BicubicModel
from sesr_nb.checkpoint import (PRETRAINED, load_model_file, load_pretrained, load_train_params, load_trained, read_model_header,
                                save_model_file)
from sesr_nb.evaluate import evaluate_model
from sesr_nb.fileio import markdown_table, read_jsonl, write_json_atomic
from sesr_nb.published import published
from sesr_nb.viz import ModelPoint, efficiency_figure, plot_training_curves, save_figure

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / 'benchmarks' / 'results'
WEIGHTS = ROOT / 'sesr_nb' / 'weights'
# Table 2 (x2) of Bhardwaj et al., MLSys 2022: Set5 / Set14 PSNR after 300 DIV2K epochs
OUTPUT_HW = (720, 1280)


def paper_scores(label: str, scale: int) -> tuple[float, float] | None:
    "The published Set5 / Set14 PSNR of the network `label` ('SESR-M5', 'FSRCNN', ...) at `scale` (nbs/06a_published), or None."
    paper = published(label, scale)
    return (paper.set5, paper.set14) if paper and paper.set5 else None


def ship(run: Path, unfinished: bool = False) -> Path:
    """Write the best checkpoint of a finished run as a packaged model file, with its provenance; copy its records.
    `unfinished`: also a run stopped before its plateau rule fired (its name and header say so)."""
    finished = (run / 'done').exists()
    if not finished and not unfinished:
        raise SystemExit(f'{run} has not finished (no {run / "done"}); let it finish, or pass --unfinished to ship its '
                         'best checkpoint so far')
    config = json.loads((run / 'config.json').read_text())
    metrics = read_jsonl(run / 'metrics.jsonl')
    steps_run = max(r['step'] for r in metrics if 'step' in r)
    model = load_trained(run)
    step = load_train_params(run)[3]
    selected_on = os.path.basename(config['val'][0]) if config.get('val') else None
    preset, scale = model.config.preset, model.scale
    name = f'{preset}x{scale}'
    wall_s = sum(config['log_every'] / r['steps_per_sec'] for r in metrics if 'steps_per_sec' in r)  # one line per log_every steps
    label = model.config.name.rsplit(' x', 1)[0]          # 'SESR-M5', 'ESPCN', 'ELSR'
    origin = init_origin(metrics)
    folder = RESULTS / 'pretrained'
    folder.mkdir(parents=True, exist_ok=True)
    if origin and origin['from'].lower() == f'pretrained:{name}'.lower():   # this model's own shipped checkpoint, trained on
        earlier = read_model_header(model_file(name))
        offset, more = origin['step'], steps_run
        history = read_jsonl(folder / f'{name}_metrics.jsonl')
        if holdout_at(metrics, selected_on, step) < holdout_at(history, selected_on, offset):
            # the continuation never beat the shipped checkpoint: that stays the best of the whole run (the continued
            # run only adds its steps, and its plateau)
            model, step = load_model_file(model_file(name)), 0
        earlier_s = earlier.get('train_seconds', 0) - seconds_after_mark(history, offset, config['log_every'])
        metrics = continued_log(history, metrics, offset)
        steps_run, step, wall_s = offset + more, offset + step, wall_s + earlier_s
        how = f'{steps_run:,} steps: {offset:,}, then {more:,} from that checkpoint'
    else:
        after = f', after {Path(config["init_from"]).name}' if config.get('init_from') else ''   # the earlier stage it started from
        how = f'{steps_run:,} steps{after}'
    stopped = '' if finished else ', stopped before its plateau'
    extra = {'name': f'{label} x{scale} (T91+BSD200, {how}, best on {selected_on}{stopped})',
             'steps_run': steps_run, 'finished': finished,
             'trained_on': 'T91 + BSD200 without their held-out tenth (@train), MATLAB bicubic',
             'selected_on': selected_on, 'step': step, 'recipe': config, 'train_seconds': round(wall_s)}
    model.name = extra['name']
    stem = f'sesr_{preset.lower()}' if model.arch.name == 'sesr' else preset.lower()
    out = save_model_file(WEIGHTS / f'{stem}_x{scale}.npz', model, extra=extra)
    shutil.copyfile(run / 'config.json', folder / f'{name}_config.json')
    with open(folder / f'{name}_metrics.jsonl', 'w') as f: f.writelines(json.dumps(r) + '\n' for r in latest_records(metrics))
    save_figure(plot_training_curves(folder / f'{name}_metrics.jsonl', title=extra['name']), folder / f'{name}_curves.png')
    print(f'shipped {name}: {out} ({out.stat().st_size / 1024:.0f} KB), step {step}, ~{wall_s / 60:.0f} min of training; '
          f"PRETRAINED needs '{name}': '{out.name}'")
    return out


def init_origin(metrics: list[dict]) -> dict | None:
    "Where a run started, {'from', 'step'} (the event `sesr_nb train --init-from` logs at step 0), or None."
    for r in metrics:
        if 'init_from' in r: return r['init_from']
        found = re.match(r'initialised from (\S+) \(its step (\d+)\)', str(r.get('event', '')))  # logged before the field
        if found: return {'from': found[1], 'step': int(found[2])}
    return None


def holdout_at(metrics: list[dict], val_set: str, step: int) -> float:
    "The `val_set` PSNR a metrics log records at `step` (the score that chose a checkpoint)."
    scores = [r['val'][val_set]['psnr'] for r in metrics if r.get('step') == step and val_set in r.get('val', {})]
    if not scores: raise ValueError(f'the log records no {val_set} score at step {step}')
    return scores[-1]


def continuation_mark(offset: int) -> dict:
    "The event a joined log records where a continuation from the shipped checkpoint of step `offset` begins."
    return {'step': offset, 'event': f'continued from the shipped checkpoint of step {offset:,} (its weights, a fresh '
                                     'optimiser state: benchmarks/continue_shipped.sh)'}


def is_continuation_mark(record: dict) -> bool:
    "Whether a record of a joined log is the mark where a continuation from a shipped checkpoint begins."
    return 'step' in record and record == continuation_mark(record['step'])


def mark_index(history: list[dict], offset: int) -> int:
    "Where the continuation mark at `offset` stands in a joined log, len(history) when it has none."
    return next((i for i, r in enumerate(history) if r.get('step') == offset and is_continuation_mark(r)), len(history))


def seconds_after_mark(history: list[dict], offset: int, log_every: int) -> float:
    """Training seconds a shipped log records after its continuation mark at `offset`: the part of the shipped model's
    `train_seconds` that a re-ship of the same (resumed) continuation counts again, 0 when the log has no such mark."""
    return sum(log_every / r['steps_per_sec'] for r in history[mark_index(history, offset) + 1:] if 'steps_per_sec' in r)


def latest_records(log: list[dict]) -> list[dict]:
    """A metrics log without the training and validation lines of steps run twice: a resumed run redoes the steps
    between its last checkpoint and the interruption and logs them again; the later lines (the run that went on) stay."""
    seen, kept = set(), []
    for record in reversed(log):
        key = None if 'event' in record else (record.get('step'), 'val' in record)
        if key is not None and key in seen: continue
        seen.add(key)
        kept.append(record)
    return kept[::-1]


def continued_log(history: list[dict], continuation: list[dict], offset: int) -> list[dict]:
    """One log for a shipped model trained on from its shipped checkpoint: the earlier run's records up to that
    checkpoint's step `offset`, then the continuation's, their steps counted on from `offset`. `history` may already
    join an earlier ship of the same continuation (a run resumed in a later session and shipped again): its records from
    the mark at `offset` on are replaced, not repeated."""
    mark, at = continuation_mark(offset), mark_index(history, offset)
    def counted_on(record: dict) -> dict:   # events name steps too ('no gain ... since step -2000', a carried plateau)
        out = {**record, 'step': record['step'] + offset}
        if 'event' in out:
            out['event'] = re.sub(r'since step (-?\d+)', lambda m: f'since step {int(m[1]) + offset}', str(out['event']))
            out['event'] = re.sub(r' \((-?\d+) here\)', '', out['event'])
        return out
    later = [counted_on(r) for r in latest_records(continuation)
             if 'step' in r and (r['step'] > 0 or ('event' in r and init_origin([r]) is None))]
    return [r for r in history[:at] if r.get('step', 0) <= offset] + [mark] + later


def table(data: Path) -> list[dict]:
    "Set5/Set14 PSNR/SSIM, parameters and MACs of every shipped model and of bicubic, per scale."
    rows = []
    entries = sorted(PRETRAINED, key=lambda k: (int(k.rpartition('x')[2]), int(k[1:].rpartition('x')[0]) if k[1:].rpartition('x')[0].isdigit() else 99))
    for scale in sorted({int(k.rpartition('x')[2]) for k in entries}):
        models = [BicubicModel(scale)] + [load_pretrained(k.rpartition('x')[0], scale) for k in entries
                                          if int(k.rpartition('x')[2]) == scale]
        for model in models:
            result = evaluate_model(model, [data / 'Set5', data / 'Set14'], scale)
            scores = {s.name: (round(s.psnr, 2), round(s.ssim, 4)) for s in result.sets}
            row = {'model': 'bicubic' if isinstance(model, BicubicModel) else f'{model.config.preset}x{scale}',
                   'scale': scale, 'Set5': scores['Set5'], 'Set14': scores['Set14']}
            if not isinstance(model, BicubicModel): row['label'] = model.config.name.rsplit(' x', 1)[0]   # 'SESR-M5', 'ESPCN'
            if not isinstance(model, BicubicModel):
                cost = model.arch.complexity(model.config, (OUTPUT_HW[0] // scale, OUTPUT_HW[1] // scale), 1)
                header = read_model_header(model_file(row['model']))
                row.update(params=int(cost['deploy_params']), gmacs_720p=round(cost['macs'] / 1e9, 2),
                           steps=header.get('steps_run') or header.get('recipe', {}).get('steps'),
                           finished=header.get('finished', True), selected_on=selected_on(header),
                           file_kb=round(model_file(row['model']).stat().st_size / 1024, 1),
                           paper=paper_scores(row['label'], scale))
            rows.append(row)
            print(row)
    return rows


def model_file(name: str) -> Path: return WEIGHTS / PRETRAINED[name]


def selected_on(header: dict) -> str | None:
    "The set that chose a shipped model's checkpoint (older files record only their recipe's first validation set)."
    if header.get('selected_on'):
        return header['selected_on'] + (f" (step {header['step']:,})" if header.get('step') else '')
    val = header.get('recipe', {}).get('val')
    return f"{os.path.basename(val[0])} (step {header['step']:,})" if val and header.get('step') else None


def run_ending(metrics: Path, finished: bool) -> tuple[int | None, str, int | None]:
    """How a run ended, from its metrics log: (steps run, 'plateau' when its plateau rule fired, else 'cap' when it
    `finished` (its folder has `done`) or 'stopped', the step of the plateau stop or None). Also read by zoo_compare.py."""
    records = read_jsonl(metrics) if metrics.exists() else []
    steps = max((r['step'] for r in records if 'step' in r), default=None)
    plateau = [r['step'] for r in records if str(r.get('event', '')).startswith('plateau:')]
    return steps, 'plateau' if plateau else 'cap' if finished else 'stopped', plateau[0] if plateau else None


def how_it_ended(name: str, finished: bool) -> str:
    """How the run of shipped model `name` ended, from its copied log: 'plateau rule' (at step N when the run went on
    after the stop, e.g. a decay arm), 'stopped' (before its plateau) or 'step cap'."""
    steps, ended, stop = run_ending(RESULTS / 'pretrained' / f'{name}_metrics.jsonl', finished)
    if ended == 'plateau': return 'plateau rule' + (f' at {stop:,}' if stop != steps else '')
    return {'cap': 'step cap', 'stopped': 'stopped'}[ended]


def render(rows: list[dict]) -> str:
    "The README/closing-note table."
    fmt = lambda pair: f'{pair[0]:.2f} / {pair[1]:.4f}'
    body = [[r['model'], f"×{r['scale']}", f"{r['params']:,}" if 'params' in r else '–',
             f"{r['gmacs_720p']:.2f}" if 'gmacs_720p' in r else '–', fmt(r['Set5']), fmt(r['Set14']),
             (f"{r['paper'][0]:.2f} / {r['paper'][1]:.2f}" if r.get('paper') else ('–' if r['model'] == 'bicubic' else 'not checked')),
             (f"{r['steps']:,} ({how_it_ended(r['model'], r.get('finished', True))})" if r.get('steps') else '–'),
             r.get('selected_on') or '–']
            for r in rows]
    return markdown_table(['model', 'scale', 'params', 'GMACs (720p out)', 'Set5 PSNR / SSIM', 'Set14 PSNR / SSIM',
                           'paper Set5 / Set14', 'steps (how the run ended)', 'checkpoint chosen on'], body)


def efficiency_points(rows: list[dict], dataset: str = 'Set14') -> list[ModelPoint]:
    "Our measured x2 networks for the PSNR-vs-MACs plot: the shipped models and the zoo's runs (the one zoo table, zoo_table.json)."
    points = [ModelPoint(f"{r['label']} (ours)", r[dataset][0], r['gmacs_720p'] * 1e9, r['params'])
              for r in rows if r['scale'] == 2 and 'params' in r]
    shipped = {r['label'] for r in rows if r['scale'] == 2 and 'label' in r}
    zoo = RESULTS / 'zoo_table.json'
    for run in (json.loads(zoo.read_text())['rows'] if zoo.exists() else []):
        name = run['model'].split()[0]
        if run['scale'] != 2 or run['arch'] == 'sesr' or f'{dataset}_psnr' not in run or name in shipped: continue
        points.append(ModelPoint(f"{name} (ours, {run['steps']} steps)", run[f'{dataset}_psnr'], run['gmacs'] * 1e9,
                                 run['params']))
    return points


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--runs', type=Path, default=Path('runs'), help='folder of the runs of train_model_set.sh')
    parser.add_argument('--ship', nargs='*', default=[], help='run names to package (e.g. m3_x2 m11_x2 m5_x4)')
    parser.add_argument('--unfinished', action='store_true',
                        help='ship runs stopped before their plateau too (their best checkpoint so far, marked as such)')
    parser.add_argument('--data', type=Path, default=Path(os.environ.get('SESR_NB_DATA', ROOT.parent / 'shared' / 'data')))
    parser.add_argument('--render-only', action='store_true',
                        help='re-write the table and figure from pretrained_table.json without evaluating again')
    args = parser.parse_args(argv)
    for name in args.ship: ship(args.runs / name, args.unfinished)
    if args.render_only: rows = json.loads((RESULTS / 'pretrained_table.json').read_text())
    else:
        if not (args.data / 'Set5').is_dir(): sys.exit(f'no benchmark data in {args.data}: pass --data or set SESR_NB_DATA')
        rows = table(args.data)
        write_json_atomic(RESULTS / 'pretrained_table.json', rows)
    text = render(rows)
    (RESULTS / 'pretrained_table.md').write_text(text + '\n')
    print(text)
    figure = efficiency_figure(efficiency_points(rows), 'Set14', title='x2 on Set14: published (blue) and measured here (red)')
    print('wrote', save_figure(figure, RESULTS / 'efficiency_x2_set14.png'))


if __name__ == '__main__':
    main()
