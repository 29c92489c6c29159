"""The efficient-SR zoo compared in one harness: every finished run's best checkpoint (chosen on BSD200@holdout by its
training run), evaluated with the same protocol, counted with the same MAC counter and timed with the same harness.

For each run: parameters (deployed), MACs for 360p -> 720p at x2 and 270p -> 1080p at x4 (`Architecture.complexity`,
one MAC per multiply-accumulate of every convolution, transposed convolutions on the LR grid), Set5 / Set14 PSNR/SSIM
(Y, crop = scale, `sesr_nb.evaluate`), and the time of one 1080p -> 4K frame on this CPU (x2: 1920x1080 in; x4: 960x540
in, both 3840x2160 out): `model.forward` jitted on the whole frame, host float32 in and out, interleaved rounds after
one warm-up call each, so a change of load hits every model alike. Published figures are listed beside ours with their
source. The recipe is read from each run's config.json: what all runs share is said above the table, what one run does
differently is said in its row; each row also says how its run ended (its plateau rule fired, its step cap, or stopped
while still improving, with --unfinished). Writes benchmarks/results/zoo_table.{md,json} and zoo_efficiency_x{2,4}.png
(PSNR vs MACs).

    python benchmarks/zoo_compare.py --runs /work/runs/set --zoo /work/runs/zoo [--unfinished] [--run m5_x2=DIR]
    python benchmarks/zoo_compare.py --run m3_x2=pretrained:M3x2 --run fsrcnn_x2=pretrained:FSRCNNx2 ...  # shipped models
                                     # (their header and the log shipped with them: no run folder needed)
"""
from __future__ import annotations
import argparse, json, os, platform, statistics, sys, time
from pathlib import Path

from sesr_nb.published import published

RESULTS = Path(__file__).resolve().parent / 'results'
SESR_RUNS = ('m3_x2', 'm5_x2', 'm11_x2', 'm3_x3', 'm5_x3', 'm11_x3', 'm3_x4', 'm5_x4', 'm11_x4')  # train_model_set.sh
# config.json fields that make the recipe (the rest, e.g. val_every or keep, do not change what is learnt)
RECIPE_FIELDS = ('batch_size', 'lr_patch', 'patches_per_image', 'scale_aug', 'augment', 'learning_rate', 'schedule',
                 'tail_steps', 'optimizer', 'loss', 'lr_scale', 'plateau', 'plateau_delta', 'min_steps')
LR_HW = {2: (360, 640), 3: (240, 427), 4: (270, 480)}       # x2: 360p -> 720p; x4: 270p -> 1080p (the convention)
FRAME_IN = {2: (1080, 1920), 3: (720, 1280), 4: (540, 960)}  # all -> 3840x2160


def discover(runs: Path, zoo: Path, extra: list[str], unfinished: bool = False) -> dict[str, Path]:
    "Runs to compare: the zoo folder's runs, the SESR model-set runs and NAME=DIR pairs from --run (which win)."
    usable = lambda d: (d / 'config.json').exists() and ((d / 'done').exists() or
                                                          (unfinished and any((d / 'checkpoints').glob('*'))))
    found = {}
    if zoo.is_dir():
        for d in sorted(zoo.iterdir()):
            if d.is_dir() and usable(d): found[d.name] = d
    for name in SESR_RUNS:
        if usable(runs / name): found[name] = runs / name
    for item in extra:
        name, _, folder = item.partition('=')
        if not folder: sys.exit(f'--run takes NAME=DIR, got {item!r}')
        found[name] = Path(folder)
    return found


def run_end(folder: Path, shipped: dict | None = None) -> tuple[int | None, str]:
    """Steps a run trained and how it ended: 'plateau' (its rule fired), 'cap' (its --steps) or 'stopped' (neither yet);
    for a shipped model (`shipped`: its name and header), from the log shipped with it (benchmarks/results/pretrained)."""
    from pretrained_set import run_ending   # the README table's reading of the same logs
    if shipped: return run_ending(RESULTS / 'pretrained' / f"{shipped['name']}_metrics.jsonl", shipped['finished'])[:2]
    if folder.suffix == '.npz' or not (folder / 'metrics.jsonl').exists(): return None, 'cap'
    return run_ending(folder / 'metrics.jsonl', (folder / 'done').exists())[:2]


def recipe_split(configs: dict[str, dict]) -> tuple[dict, dict[str, dict]]:
    """The common recipe (each field's most frequent value over the runs that record it), and for each run the fields
    where it departs from it."""
    from collections import Counter
    common = {}
    for k in RECIPE_FIELDS:
        values = Counter(json.dumps(c[k]) for c in configs.values() if k in c)
        if values: common[k] = json.loads(values.most_common(1)[0][0])
    return common, {name: {k: c[k] for k in common if k in c and c[k] != common[k]} for name, c in configs.items()}


def describe(fields: dict) -> str:
    "Recipe fields as `name value` phrases (lists joined by spaces; None and empty lists left out)."
    show = lambda v: ' '.join(map(str, v)) if isinstance(v, list) else str(v)
    return ', '.join(f'{k} {show(v)}' for k, v in fields.items() if v not in (None, []))


def plots(rows: list[dict], folder: Path) -> None:
    "PSNR-vs-MACs figures (11_viz's efficiency_figure) of the x2 rows (with the literature) and of the x4 rows."
    from collections import Counter
    from sesr_nb.viz import ModelPoint, efficiency_figure, literature_points, save_figure
    names = Counter((r['model'], r['scale']) for r in rows)
    for s, (lr, out) in {2: ('360p', '720p'), 4: ('270p', '1080p')}.items():
        ours = [ModelPoint(f"{r['model']} ({r['run'] if names[(r['model'], s)] > 1 else 'ours'})", r['Set14_psnr'],
                           r['gmacs'] * 1e9, r['params']) for r in rows if r['scale'] == s]
        if not ours: continue
        fig = efficiency_figure(ours, 'Set14', literature=literature_points('Set14') if s == 2 else [],
                                title=f'x{s}: Set14 PSNR vs MACs ({lr}→{out}), one harness')
        ax = fig.axes[0]
        ax.set_ylabel(f'PSNR on Set14, x{s} (dB, Y)')
        ax.set_xlabel(f'MACs for a {lr} → {out} frame (G, log scale)')
        save_figure(fig, folder / f'zoo_efficiency_x{s}.png')


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--runs', type=Path, default=Path('runs'))
    ap.add_argument('--zoo', type=Path, default=None, help='folder of the zoo runs (default RUNS/zoo)')
    ap.add_argument('--unfinished', action='store_true',
                    help='also runs still training or stopped before their plateau (best checkpoint so far, marked)')
    ap.add_argument('--run', action='append', default=[],
                    help='another run folder, .npz model file or shipped model (pretrained:M3x3: its header and shipped log) to compare, NAME=PATH')
    ap.add_argument('--data', type=Path, default=None, help='folder holding Set5/ and Set14/ (default $SESR_NB_DATA or ../shared/data)')
    ap.add_argument('--rounds', type=int, default=3, help='interleaved timing rounds')
    ap.add_argument('--no-timing', action='store_true')
    ap.add_argument('--out', type=Path, default=RESULTS / 'zoo_table')
    ap.add_argument('--carry', action='append', default=[],
                    help='a row of the existing table (its run name) to keep although its model is not at hand, e.g. the '
                         'SMSR study\'s short run: scores kept, marked as carried, its timing dropped (another run\'s load)')
    ap.add_argument('--plot-only', action='store_true', help='redraw the plots from the JSON of an earlier run')
    args = ap.parse_args(argv)
    if args.plot_only:
        plots(json.loads(args.out.with_suffix('.json').read_text())['rows'], args.out.parent)
        return 0

    import jax, jax.numpy as jnp, numpy as np
    from tqdm.auto import tqdm
    from sesr_nb.arch import model_color
    from sesr_nb.checkpoint import PRETRAINED, load_train_params, load_trained, pretrained_path, read_model_header
    from sesr_nb.resolve import load_model
    from sesr_nb.datasets import benchmark_data_dir, load_dataset
    from sesr_nb.evaluate import evaluate_model
    from sesr_nb.fileio import markdown_table, read_jsonl, write_json_atomic

    carried = []
    if args.carry:
        earlier = {r['run']: r for r in json.loads(args.out.with_suffix('.json').read_text())['rows']}
        missing = [c for c in args.carry if c not in earlier]
        if missing: sys.exit(f'--carry {missing}: no such run in {args.out.with_suffix(".json")}')
        carried = [{**{k: v for k, v in earlier[c].items() if k != 'ms_1080p_to_4k'}, 'carried': True} for c in args.carry]
    data = args.data or benchmark_data_dir()
    if data is None: sys.exit('Set5/Set14 not found: pass --data or set SESR_NB_DATA')
    runs = discover(args.runs, args.zoo or args.runs / 'zoo', args.run, args.unfinished)
    if not runs: sys.exit(f'no finished run under {args.runs}')
    rows, models, configs = [], {}, {}
    for name, folder in tqdm(runs.items(), desc='evaluate', file=sys.stderr):
        shipped = None
        if str(folder).startswith('pretrained:'):   # a shipped model: its recipe, step and log shipped with it
            model = load_model(str(folder))
            header = read_model_header(pretrained_path(model.config.preset, model.scale))
            key = {k.lower(): k for k in PRETRAINED}[str(folder).partition(':')[2].lower()]
            shipped = {'name': key, 'finished': header.get('finished', True)}
            cfg, step = dict(header.get('recipe', {})), header.get('step')
            if str(cfg.get('init_from', '')).lower() == str(folder).lower(): cfg.pop('init_from')   # trained on from itself
        else:
            model = load_trained(folder)
            if folder.suffix == '.npz':   # a model file (e.g. the SMSR study's short run): its recipe from the header
                cfg, step = read_model_header(folder).get('recipe', {}), None
            else: cfg, step = json.loads((folder / 'config.json').read_text()), load_train_params(folder)[3]
        arch, config = model.arch, model.config
        s = model.scale
        configs[name] = cfg
        steps_run, ended = run_end(folder, shipped)
        cost = arch.complexity(config, LR_HW[s])
        sets = {r.name: r for r in evaluate_model(model, [load_dataset(data / n, s) for n in ('Set5', 'Set14')], s).sets}
        label = config.name.rsplit(' x', 1)[0] if config.preset != 'custom' else arch.name.upper()
        paper = published(label, s)   # the one table of published figures (nbs/06a_published)
        rows.append({'run': name, 'model': model.name if folder.suffix == '.npz' and not shipped else config.name, 'arch': arch.name, 'scale': s, 'color': model_color(model),
                     'steps': steps_run or cfg.get('steps'), 'ended': ended, 'init_from': Path(cfg['init_from']).name if cfg.get('init_from') else None,
                     'checkpoint_step': step, 'params': int(cost['deploy_params']),
                     'gmacs': round(cost['macs'] / 1e9, 3), 'macs_lr': list(LR_HW[s]),
                     **{f'{n}_psnr': round(sets[n].psnr, 3) for n in sets}, **{f'{n}_ssim': round(sets[n].ssim, 4) for n in sets},
                     'published_set5': paper and paper.set5, 'published_set14': paper and paper.set14,
                     'published_source': paper.source if paper else ''})
        models[name] = model

    timing = {}
    if not args.no_timing:
        from PIL import Image
        from skimage import data as skdata
        photo = Image.fromarray(skdata.astronaut())
        frames = {}
        for s, (h, w) in FRAME_IN.items():
            rgb = np.asarray(photo.resize((w, h), Image.BICUBIC), np.float32) / 255
            y = (16 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2])) / 255
            frames[s] = {'y': y[None, :, :, None].astype(np.float32), 'rgb': rgb[None]}
        calls = {name: (lambda m=m: np.asarray(m.forward(jnp.asarray(frames[m.scale][model_color(m)]))))
                 for name, m in models.items()}
        for call in tqdm(calls.values(), desc='warm-up', file=sys.stderr): call()
        times = {name: [] for name in calls}
        for _ in tqdm(range(args.rounds), desc='timing rounds', file=sys.stderr):
            for name, call in calls.items():
                t0 = time.perf_counter(); call(); times[name].append(time.perf_counter() - t0)
        for row in rows:
            t = times[row['run']]
            row['ms_1080p_to_4k'] = round(1000 * statistics.median(t), 1)
            timing[row['run']] = [round(1000 * v, 1) for v in t]

    shared, differs = recipe_split(configs)
    for r in rows: r['recipe_differs'] = differs[r['run']]
    for r in carried: r.setdefault('ended', 'cap'); r.setdefault('recipe_differs', {'recipe': 'its own (model name, source)'}); r.setdefault('checkpoint_step', None)
    rows += carried
    rows.sort(key=lambda r: (r['scale'], r['gmacs']))
    show = lambda v, f='{:.2f}': '—' if v is None else f.format(v)
    header = ['model', 'run', 'scale', 'input', 'params', 'GMACs (360p→720p / 270p→1080p)', 'steps (how the run ended)',
              'chosen at', 'departs from the recipe in', 'Set5 PSNR / SSIM', 'Set14 PSNR / SSIM', 'ms 1080p→4K (this CPU)',
              'published Set5 / Set14', 'source']
    table = [[r['model'], r['run'], f"×{r['scale']}", r['color'].upper(), f"{r['params']:,}", f"{r['gmacs']:.2f}",
              f"{r['steps']:,} ({r['ended']}" + (f", from {r['init_from']}" if r['init_from'] else '') +
              (', carried from an earlier table, not re-timed)' if r.get('carried') else ')'),
              show(r['checkpoint_step'], '{:,}'), describe(r['recipe_differs']) or '—',
              f"{r['Set5_psnr']:.2f} / {r['Set5_ssim']:.4f}", f"{r['Set14_psnr']:.2f} / {r['Set14_ssim']:.4f}",
              show(r.get('ms_1080p_to_4k'), '{:,.0f}'),
              f"{show(r['published_set5'])} / {show(r['published_set14'])}", r['published_source']] for r in rows]
    bicubic = {}
    from sesr_nb.arch import BicubicModel
    for s in sorted({r['scale'] for r in rows}):
        res = {x.name: x for x in evaluate_model(BicubicModel(s), [load_dataset(data / n, s) for n in ('Set5', 'Set14')], s).sets}
        bicubic[s] = {n: round(res[n].psnr, 3) for n in res}
        table.append(['bicubic', '—', f'×{s}', '—', '—', '—', '—', '—', '—', f"{bicubic[s]['Set5']:.2f}", f"{bicubic[s]['Set14']:.2f}",
                      '—', '—', 'MATLAB-exact bicubic (sesr_nb.color)'])
    load = os.getloadavg()[0]
    ended = {'plateau': 'its plateau rule fired (no hold-out gain of plateau_delta dB for plateau steps)',
             'cap': 'its step cap', 'stopped': 'stopped while still improving: not at its plateau'}
    text = ('# The efficient-SR zoo in one harness\n\nEvery model trained by `benchmarks/recipe.sh` on T91@train + BSD200@train '
            f'with this recipe (each config.json field at the value most runs have): {describe(shared)}; x3/x4 runs start '
            'from the x2 run of the same model; where a run departs from it is said in its row. The checkpoint of each row is its run\'s best on '
            'BSD200@holdout (step under "chosen at"); a run ends at ' + '; '.join(f'"{k}": {v}' for k, v in ended.items()) +
            '. Set5/Set14 with the standard protocol (Y, crop = scale; RGB models on the '
            'Y of their RGB output). Timing: one whole 1080p -> 4K frame per call, median of '
            f'{args.rounds} interleaved rounds on {platform.processor() or platform.machine()} with '
            f'{len(os.sched_getaffinity(0))} usable cores, load average {load:.1f} at the end (shared machine: compare '
            'ratios, not absolute times).\n\n' + markdown_table(header, table) + '\n')
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix('.md').write_text(text)
    write_json_atomic(args.out.with_suffix('.json'), {'rows': rows, 'bicubic': bicubic, 'timing_ms': timing,
                                                      'load_average_end': round(load, 2), 'jax': jax.__version__})
    print(text)
    plots(rows, args.out.parent)
    print(f'wrote {args.out}.md/.json and the efficiency plots', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
