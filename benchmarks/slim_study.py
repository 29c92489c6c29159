"""Channel pruning of SESR-M3 x2 against the same small networks trained from scratch (issue 10, structured part).

    nice python benchmarks/slim_study.py                 # the committed study (about 45-60 min on a shared 2-core CPU)
    python benchmarks/slim_study.py --tiny --out /tmp/s  # smoke test: a few steps of everything (a minute)

1. Train a dense SESR-M3 x2 (f=16) on T91+BSD200 minus 20 held-out BSD200 images (every 10th), `--dense-steps` steps.
2. From it, prune iteratively f = 16 -> 14 -> 12 -> 10 -> 8 (`--widths`), `--stage-steps` fine-tuning steps after each
   pruning step, once by the Fisher saliency and once by group magnitude (`sesr_nb.slim.slim`). Control without
   pruning: the dense network fine-tuned on the same schedule (as many steps as all stages, fresh optimiser).
3. The honest baseline: SESR-M3 with f = 12, 10, 8 trained from scratch for as many steps in total as the pruned network
   of that width has seen (dense steps + fine-tuning steps up to that width); a second initialisation seed per width
   (`--extra-seeds`) shows the seed-to-seed spread.
4. Each network's checkpoint is chosen on the held-out split; final scores are Set5/Set14 x2 PSNR/SSIM (Y, border 2).
5. Cost: inference MACs (1080p -> 4K), deployed parameters, compressed model-file bytes, and the 1080p -> 4K time of
   every width in one interleaved timing run (the default tile, as `sesr_nb upscale` does).

Writes `benchmarks/results/slim_study.json` (everything) and `slim_psnr_vs_macs.png`; intermediate networks go to
`--work` so that an interrupted study resumes where it stopped (`--fresh` ignores them). `--phases` runs a part of the
study (e.g. `--phases dense pruned --widths 14 --criteria fisher`: the dense network and one pruning stage).

Training goes through the library's engine (`sesr_nb.slim.slim` and `finetune_stage`, both `train_segment`), on this
study's sampler and held-out split. The split is the committed study's own, not the library's one hold-out rule
(`sesr_nb.datasets.in_holdout`, dataset specs SET@train / SET@holdout): every 10th BSD200 image (the former
`sesr_nb.slim.holdout_split`), rebuilt by `committed_split` so that the committed numbers reproduce; the held-out image
names are written into the results JSON.
"""
from __future__ import annotations
import argparse, dataclasses, json, os, platform, statistics, sys, time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
PHASES = ('dense', 'pruned', 'scratch', 'continued', 'seeds', 'timing')


def committed_split(dataset, every: int = 10):
    """The committed study's held-out split of `dataset`: the images at index 0, `every`, 2·`every`, ... held out
    (the former `sesr_nb.slim.holdout_split`). Returns (the rest of `dataset`, the held-out images as a PairedDataset
    named 'holdout')."""
    from sesr_nb.datasets import PairedDataset
    train = dataclasses.replace(dataset, pairs=[p for i, p in enumerate(dataset.pairs) if i % every])
    held = PairedDataset('holdout', dataset.scale, [p for i, p in enumerate(dataset.pairs) if not i % every],
                         'held-out training images')
    return train, held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--data', default=str(HERE.parent.parent / 'shared' / 'data'), help='folder with T91, BSD200, Set5, Set14')
    parser.add_argument('--dense-steps', type=int, default=1200)
    parser.add_argument('--stage-steps', type=int, default=200)
    parser.add_argument('--widths', type=int, nargs='+', default=[14, 12, 10, 8])
    parser.add_argument('--scratch', type=int, nargs='+', default=[12, 10, 8], help='widths trained from scratch')
    parser.add_argument('--criteria', nargs='+', default=['fisher', 'magnitude'])
    parser.add_argument('--extra-seeds', type=int, nargs='*', default=[1],
                        help='initialisation seeds of a second from-scratch run per width (the seed-to-seed spread)')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--val-every', type=int, default=200)
    parser.add_argument('--repeats', type=int, default=5, help='timing rounds (1080p -> 4K)')
    parser.add_argument('--out', default=str(HERE / 'results'), help='folder of slim_study.json and the figure')
    parser.add_argument('--work', default='/tmp/sesr_slim_study', help='folder of the intermediate networks')
    parser.add_argument('--tiny', action='store_true', help='a smoke test: a few steps, a small timing frame')
    parser.add_argument('--fresh', action='store_true', help='ignore finished phases in --work')
    parser.add_argument('--phases', nargs='+', default=list(PHASES), choices=PHASES,
                        help='parts of the study to run (the dense network is trained or reused whenever pruning needs it)')
    args = parser.parse_args()
    if args.tiny: args.dense_steps, args.stage_steps, args.val_every, args.repeats = 20, 10, 10, 1

    from sesr_nb.conv import tune_process, conv_backend
    tune_process()
    import jax, numpy as np
    from sesr_nb.arch import TrainedModel, architecture_of
    from sesr_nb.checkpoint import load_model_file, save_model_file
    from sesr_nb.datasets import load_dataset
    from sesr_nb.evaluate import evaluate_model
    from sesr_nb.models import init_params, sesr_config
    from sesr_nb.sampler import PatchSampler, training_images
    from sesr_nb.slim import SlimConfig, finetune_stage, slim, slim_config

    data, work, out = Path(args.data), Path(args.work), Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.time()
    # the recipe of every fine-tuning stretch: AMSGrad 5e-4 constant, batch of 64x64 LR patches, seed 0; its `data`
    # names the sets the study's split is taken from
    recipe = SlimConfig(data=(str(data / 'T91'), str(data / 'BSD200')), val=(), batch_size=args.batch_size, lr_patch=64,
                        learning_rate=5e-4, schedule='constant', optimizer='amsgrad', adam_eps=1e-7, seed=0,
                        val_every=args.val_every, f=args.widths[-1], widths=tuple(args.widths), steps=args.stage_steps)
    t91, bsd = (load_dataset(data / name, 2, min_lr_size=recipe.lr_patch) for name in ('T91', 'BSD200'))
    bsd_train, holdout = committed_split(bsd, 10)  # BSD200 images share two shapes: validation compiles twice
    train_sets = [t91, bsd_train]
    sampler = PatchSampler(training_images(train_sets, recipe.lr_patch), recipe.sampler_config())
    tests = [load_dataset(data / name, 2) for name in ('Set5', 'Set14')]
    dense_config = sesr_config('M3', 2)
    arch = architecture_of(dense_config)
    print(f'{len(sampler.images)} training images, {len(holdout)} held out; {sampler.steps_per_epoch} steps per epoch; '
          f'conv backend {conv_backend()}', flush=True)

    def phase(name, fn):
        "Run `fn() -> (config, params, record)` unless `work/name.npz` holds its result already."
        path, meta = work / f'{name}.npz', work / f'{name}.json'
        if path.exists() and meta.exists() and not args.fresh:
            model = load_model_file(path)
            print(f'{name}: reused {path}', flush=True)
            return model.config, None, json.loads(meta.read_text()), model
        t0 = time.time()
        config, params, record = fn()
        model = TrainedModel.from_train_params(arch, config, params, name=f'{config.name} ({name})')
        save_model_file(path, model)
        scores = evaluate_model(model, tests)
        record = {**record, 'name': name, 'f': config.f, 'config': config.to_dict(), 'seconds': round(time.time() - t0, 1),
                  'test': {s.name: {'psnr': round(s.psnr, 4), 'ssim': round(s.ssim, 5)} for s in scores.sets},
                  'macs_1080p': arch.complexity(config, (1080, 1920))['macs'],
                  'deploy_params': arch.complexity(config)['deploy_params'], 'model_file_bytes': path.stat().st_size}
        meta.write_text(json.dumps(record, indent=1))
        print(f"{name}: f={config.f} Set5 {record['test']['Set5']['psnr']:.3f} Set14 {record['test']['Set14']['psnr']:.3f} "
              f"held-out {record.get('best_val_psnr')} ({record['seconds']:.0f} s, {time.time() - t_start:.0f} s so far)", flush=True)
        return config, params, record, model

    def train_from_scratch(config, steps, seed=0):
        params = init_params(config, seed)
        _, best, records = finetune_stage(params, config, sampler, recipe, steps, val_sets=[holdout])
        return config, best, {'steps': steps, 'records': records, 'best_val_psnr': max(r['val_psnr'] for r in records)}

    results = {'dense': None, 'pruned': {c: [] for c in args.criteria}, 'scratch': []}
    # 1. the dense network
    _, dense_params, results['dense'], dense_model = phase('dense', lambda: train_from_scratch(dense_config, args.dense_steps))
    models = {'dense f=16': dense_model}
    wanted = set(args.phases)
    # 2. pruning (needs the expanded parameters of the dense run: kept in work/dense_train.npz)
    train_path = work / 'dense_train.npz'
    if dense_params is not None:
        np.savez(train_path, **{'/'.join(str(k.key) for k in path): np.asarray(v)
                                for path, v in jax.tree_util.tree_flatten_with_path(dense_params)[0]})
    flat = dict(np.load(train_path))
    expanded = {}
    for key, value in flat.items():
        node = expanded
        *parents, leaf = key.split('/')
        for p in parents: node = node.setdefault(p, {})
        node[leaf] = value
    for criterion in args.criteria if 'pruned' in wanted else ():
        names = [f'{criterion}_f{w}' for w in args.widths]
        if all((work / f'{n}.npz').exists() for n in names) and not args.fresh:
            stages = [None] * len(names)
        else:
            t0 = time.time()
            stages = slim(expanded, dense_config, dataclasses.replace(recipe, criterion=criterion, val_every=min(
                args.val_every, args.stage_steps)), sampler, val_sets=[holdout], start=args.dense_steps)
            results[f'{criterion}_seconds'] = round(time.time() - t0)
        for name, stage in zip(names, stages):
            def done(stage=stage):
                return stage['config'], stage['params'], {
                    'steps': args.dense_steps + stage['steps'], 'keep': stage['keep'], 'scores': stage['scores'],
                    'records': stage['records'], 'best_val_psnr': max(r['val_psnr'] for r in stage['records'])}
            if stage is not None: (work / f'{name}.npz').unlink(missing_ok=True)
            _, _, record, model = phase(name, done)
            results['pruned'][criterion].append(record)
            models[f'{criterion} f={record["f"]}'] = model
    # 3. from scratch, the same total steps as the pruned network of that width
    for width in args.scratch if 'scratch' in wanted else ():
        steps = args.dense_steps + args.stage_steps * (args.widths.index(width) + 1)
        config = slim_config(dense_config, width)
        _, _, record, model = phase(f'scratch_f{width}', lambda: train_from_scratch(config, steps))
        results['scratch'].append(record)
        models[f'scratch f={width}'] = model
    # the control without pruning: the dense network fine-tuned on the same schedule (fresh optimiser, same steps)
    def continued():
        _, best, records = finetune_stage(expanded, dense_config, sampler, dataclasses.replace(
            recipe, val_every=args.stage_steps), args.stage_steps * len(args.widths), val_sets=[holdout],
            start=args.dense_steps)
        return dense_config, best, {'steps': args.dense_steps + args.stage_steps * len(args.widths), 'records': records,
                                    'best_val_psnr': max(r['val_psnr'] for r in records)}
    if 'continued' in wanted: results['dense_continued'] = phase('dense_continued', continued)[2]
    results['scratch_other_seeds'] = []
    for seed in args.extra_seeds if 'seeds' in wanted else ():
        for width in args.scratch:
            steps = args.dense_steps + args.stage_steps * (args.widths.index(width) + 1)
            config = slim_config(dense_config, width)
            _, _, record, _ = phase(f'scratch_f{width}_seed{seed}', lambda: train_from_scratch(config, steps, seed))
            results['scratch_other_seeds'].append({**record, 'seed': seed})
    # 4. one interleaved timing run: 1080p -> 4K, every width (pruned by Fisher where available)
    if 'timing' in wanted: results['timing'] = timing_run(args, models, arch)
    results['setup'] = {'dense_steps': args.dense_steps, 'stage_steps': args.stage_steps, 'widths': args.widths,
                        'batch_size': args.batch_size, 'lr_patch': recipe.lr_patch, 'learning_rate': recipe.learning_rate,
                        'optimizer': 'AMSGrad', 'train': 'T91+BSD200 minus every 10th BSD200 image (the held-out split)',
                        'holdout_images': len(holdout), 'steps_per_epoch': sampler.steps_per_epoch, 'tiny': args.tiny,
                        'holdout': {'rule': 'every 10th BSD200 image (index 0, 10, 20, ...) of the set loaded with '
                                            'min_lr_size 64, in file-name order', 'images': [p.name for p in holdout]},
                        'phases': args.phases,
                        'machine': f'{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, jax {jax.__version__}',
                        'wall_seconds': round(time.time() - t_start)}
    stem = 'slim_study_tiny' if args.tiny else 'slim_study'
    (out / f'{stem}.json').write_text(json.dumps(results, indent=1))
    plot(results, out / f'{stem}_psnr_vs_macs.png')
    print(f'wrote {out / f"{stem}.json"} in {time.time() - t_start:.0f} s', flush=True)


def timing_run(args, models, arch) -> dict:
    "One interleaved timing run, 1080p -> 4K (a small frame with --tiny), of the dense network and every pruned width."
    import numpy as np
    from timing import timings
    from sesr_nb.infer import DEFAULT_TILE, parse_tile, upscale_y_tiled
    height, width = (1080, 1920) if not args.tiny else (120, 200)
    frame = np.random.default_rng(0).random((height, width), dtype=np.float32)
    timed = {'dense f=16': models['dense f=16']}
    first = args.criteria[0]
    for w in args.widths:
        if f'{first} f={w}' in models: timed[f'pruned f={w}'] = models[f'{first} f={w}']
    tile = parse_tile(DEFAULT_TILE)
    for model in timed.values(): upscale_y_tiled(model, frame, tile)  # compile
    times = {k: [] for k in timed}
    load_before = os.getloadavg()[0]
    for _ in range(args.repeats):
        for key, model in timed.items():
            times[key] += timings(lambda: upscale_y_tiled(model, frame, tile), 1)
    timing = {'frame': f'{width}x{height} -> {2 * width}x{2 * height}', 'tile': DEFAULT_TILE, 'repeats': args.repeats,
              'load_average': [load_before, os.getloadavg()[0]],
              'ms': {k: {'median': round(statistics.median(v), 1), 'min': round(min(v), 1), 'all': [round(t, 1) for t in v]}
                     for k, v in times.items()},
              'macs': {k: arch.complexity(m.config, (height, width))['macs'] for k, m in timed.items()}}
    print(json.dumps(timing['ms'], indent=1), flush=True)
    return timing


def plot(results: dict, path: Path) -> None:
    "PSNR (Set5 and Set14 x2) against inference GMACs at 1080p for pruned, from-scratch and dense networks."
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    styles = {'fisher': ('o-', 'pruned (Fisher)'), 'magnitude': ('s--', 'pruned (magnitude)')}
    for ax, test in zip(axes, ('Set5', 'Set14')):
        dense = results['dense']
        for c, (style, label) in styles.items():
            if c not in results['pruned']: continue
            rs = [dense] + results['pruned'][c]
            ax.plot([r['macs_1080p'] / 1e9 for r in rs], [r['test'][test]['psnr'] for r in rs], style, label=label)
        rs = results['scratch']
        ax.plot([r['macs_1080p'] / 1e9 for r in rs], [r['test'][test]['psnr'] for r in rs], '^:', label='from scratch (same steps)')
        others = results.get('scratch_other_seeds') or []
        if others:
            ax.plot([r['macs_1080p'] / 1e9 for r in others], [r['test'][test]['psnr'] for r in others], '^', mfc='none',
                    color='C2', label='from scratch, other init seed')
        ax.plot([dense['macs_1080p'] / 1e9], [dense['test'][test]['psnr']], 'k*', ms=12, label=f"dense M3 (f=16), {dense['steps']} steps")
        if results.get('dense_continued'):
            r = results['dense_continued']
            ax.plot([r['macs_1080p'] / 1e9], [r['test'][test]['psnr']], 'kP', ms=9,
                    label=f"dense M3, fine-tuned to {r['steps']} steps (no pruning)")
        for r in [dense] + results['scratch']:
            ax.annotate(f"f={r['f']}", (r['macs_1080p'] / 1e9, r['test'][test]['psnr']), textcoords='offset points',
                        xytext=(4, -10), fontsize=8)
        ax.set_xlabel('inference GMACs, 1080p -> 4K'); ax.set_ylabel(f'{test} x2 PSNR (dB)'); ax.set_title(test)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc='lower center', ncol=3, fontsize=8, frameon=False)
    setup = results.get('setup', {})
    fig.suptitle(f"Channel-pruned SESR-M3 x2 vs the same widths from scratch, equal steps "
                 f"(dense {setup.get('dense_steps')} + {setup.get('stage_steps')} per pruning stage)")
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(path, dpi=110)


if __name__ == '__main__':
    main()
