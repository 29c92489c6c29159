"""IMP with rewinding on SESR-M3 x2 (T91 + BSD200) and its controls, sized for a shared two-core CPU.

Runs `sesr_nb.prune.imp` (round 0 dense, then R rounds of 20 % magnitude pruning of the collapsed kernels with
rewinding to step k), then the controls on the same data, the same held-out split and the same step budget:
  (a) dense: IMP round 0 (N steps from the same initialisation);
  (b) random re-initialisation: the mask of an IMP round on a fresh initialisation (another seed), trained 0 -> N;
  (c) one-shot: the best dense network pruned by magnitude at once to an IMP round's sparsity, fine-tuned k -> N
      (the N - k steps every IMP round trains).
Checkpoints are chosen on centre crops of held-out training images; final scores are Set5/Set14 x2 (Y, 2-pixel
border). Writes benchmarks/results/prune_imp.json, prune_imp.png and prune_imp_masks.png. `--resume` continues an interrupted study;
`--deadline MINUTES` skips the controls that would start after that much wall time (they are listed as skipped).

The held-out split is this study's own, not the library's one hold-out rule (`sesr_nb.datasets.in_holdout`, dataset
specs SET@train / SET@holdout): the committed results drew `--holdout` random images of T91+BSD200 (numpy's generator
seeded [seed, 7], the former `sesr_nb.prune.split_holdout`), and `study_data` rebuilds exactly that split so that the
committed table reproduces; the held-out image names are written into the results JSON. The library trains through
`imp(cfg, workdir, data=PruneData(...))` and `train_masked`, on this study's sampler and crops.

    nice python benchmarks/prune_imp_study.py --steps 500 --deadline 40   # ~45 min on two busy cores
    python benchmarks/prune_imp_study.py --plot-only                  # redraw the figure from the JSON
"""
from __future__ import annotations
import argparse, dataclasses, json, os, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / 'shared' / 'data' if (ROOT.parent / 'shared' / 'data').is_dir() else Path('/work/shared/data')
RESULTS = ROOT / 'benchmarks' / 'results'


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--steps', type=int, default=600, help='N: steps to the end of every round')
    p.add_argument('--rewind', type=int, default=None, help='k (default 5%% of N)')
    p.add_argument('--rounds', type=int, default=8)
    p.add_argument('--rate', type=float, default=0.2)
    p.add_argument('--batch-size', type=int, default=16)
    p.add_argument('--lr-patch', type=int, default=48)
    p.add_argument('--lr', type=float, default=5e-4)
    p.add_argument('--holdout', type=int, default=20, help='training images held out for checkpoint choice (drawn at '
                   'random with the seed, as in the committed study; 0: keep the last weights)')
    p.add_argument('--val-crop', type=int, default=64, help='LR side of the centre crops of the held-out images '
                   '(at most --lr-patch)')
    p.add_argument('--reinit-rounds', type=int, nargs='*', default=None, help='IMP rounds whose masks get control (b) '
                   '(default: the last, 3, 1, 5)')
    p.add_argument('--oneshot-rounds', type=int, nargs='*', default=None, help='IMP rounds whose sparsity gets control '
                   '(c) (default: the last and 3; round 0 = the dense network trained N-k more steps, the same budget)')
    p.add_argument('--workdir', default=os.path.join(tempfile.gettempdir(), 'sesr_prune_imp_study'))
    p.add_argument('--out', default=str(RESULTS / 'prune_imp'), help='output prefix (.json, .png)')
    p.add_argument('--resume', action='store_true')
    p.add_argument('--deadline', type=float, default=None, help='minutes of wall time after which no control starts')
    p.add_argument('--plot-only', action='store_true')
    return p.parse_args(argv)


def committed_split(sets, holdout: int, seed: int = 0):
    """The committed study's held-out split: `holdout` images drawn with numpy's generator seeded [seed, 7] over the
    concatenated pairs of `sets` (the former `sesr_nb.prune.split_holdout`). Returns (training sets without them, the
    held-out pairs as [(set name, pair)] in draw-index order)."""
    import numpy as np
    jobs = [(d, i) for d in sets for i in range(len(d))]
    if not 0 <= holdout < len(jobs):
        raise ValueError(f'cannot hold out {holdout} of {len(jobs)} training images; use 0 <= --holdout < {len(jobs)}')
    chosen = set(np.random.default_rng([seed, 7]).choice(len(jobs), holdout, replace=False).tolist()) if holdout else set()
    train, offset = [], 0
    for d in sets:
        train.append(dataclasses.replace(d, pairs=[d[i] for i in range(len(d)) if offset + i not in chosen]))
        offset += len(d)
    held = [(d.name, d[i]) for j, (d, i) in enumerate(jobs) if j in chosen]
    return [d for d in train if len(d)], held


def centre_crops(held, scale: int, crop: int):
    """One fixed centre crop (LR `crop` x `crop`, HR `scale` times that) of every held-out pair with an LR side of at
    least `crop`, as a PairedDataset: what the committed study scored to choose checkpoints (one compiled shape instead
    of one per image size; Y on 8-bit levels, `scale` pixels shaved, through the evaluation harness)."""
    from sesr_nb.datasets import ImagePair, PairedDataset
    pairs = []
    for set_name, pair in held:
        h, w = pair.lr.shape[:2]
        if min(h, w) < crop: continue
        y, x = (h - crop) // 2, (w - crop) // 2
        pairs.append(ImagePair(f'{set_name}/{pair.name}', pair.lr[y:y + crop, x:x + crop],
                               pair.hr[scale * y:scale * (y + crop), scale * x:scale * (x + crop)]))
    if not pairs: raise ValueError(f'no held-out image has an LR side of {crop}; use a smaller --val-crop')
    return PairedDataset('holdout', scale, tuple(pairs), f'centre crops ({crop}x{crop} LR) of held-out training images')


def study_data(cfg, holdout: int, val_crop: int):
    """The study's PruneData (the patch sampler over the training sets minus the committed held-out split, the centre
    crops of the held-out images as the one validation set, the test sets) and the split's record for the JSON."""
    from sesr_nb.datasets import load_dataset
    from sesr_nb.prune import PruneData
    from sesr_nb.sampler import PatchSampler, training_images
    sets = [load_dataset(spec, cfg.scale, min_lr_size=cfg.lr_patch) for spec in cfg.data]
    train_sets, held = committed_split(sets, holdout, cfg.seed)
    sampler = PatchSampler(training_images(train_sets, cfg.lr_patch), cfg.sampler_config())
    crop = min(val_crop, cfg.lr_patch)
    val_sets = (centre_crops(held, cfg.scale, crop),) if held else ()
    record = {'rule': 'numpy default_rng([seed, 7]).choice(len(pairs), holdout, replace=False) over the concatenated '
                      'pairs of the training sets (loaded with min_lr_size = lr_patch), in the order of --data',
              'seed': cfg.seed, 'count': len(held), 'val_crop': crop, 'images': [f'{n}/{p.name}' for n, p in held],
              'training_images': sum(len(d) for d in train_sets)}
    return PruneData(sampler, val_sets, tuple(load_dataset(spec, cfg.scale) for spec in cfg.test)), record


def plot(result: dict, path: Path) -> Path:
    "Fig. 3 (best PSNR vs sparsity, with the controls), Fig. 4 (held-out PSNR vs step per round), sparsity per layer."
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    rows = result['imp']
    fig, axes = plt.subplots(1, 4, figsize=(20, 4.3))
    for ax, set_name in zip(axes[:2], ('Set5', 'Set14')):
        sp = [100 * r['sparsity'] for r in rows]
        ax.plot(sp, [r['test'][set_name] for r in rows], 'o-', label='IMP with rewinding')
        for key, style, label in (('reinit', 's--', '(b) same mask, random re-init (at 0 %: dense, seed 1)'),
                                  ('oneshot', 'D:', '(c) one-shot + fine-tune (at 0 %: dense + N-k steps)')):
            ctl = sorted(result['controls'].get(key, []), key=lambda c: c['sparsity'])
            if ctl: ax.plot([100 * c['sparsity'] for c in ctl], [c['test'][set_name] for c in ctl], style, label=label)
        ax.axhline(rows[0]['test'][set_name], color='gray', lw=0.8, ls='--', label='(a) dense')
        ax.set(xlabel='sparsity of the collapsed kernels (%)', ylabel=f'{set_name} x2 PSNR (dB)',
               title=f'best network per sparsity, {set_name}')
        ax.legend(fontsize=8)
    cmap = plt.get_cmap('viridis')
    for i, r in enumerate(rows):
        steps, psnr = zip(*r['curve']) if r['curve'] else ((), ())
        axes[2].plot(steps, psnr, color=cmap(i / max(1, len(rows) - 1)), label=f"{100 * r['sparsity']:.1f}%")
    axes[2].set(xlabel='training step', ylabel='held-out PSNR (dB)', title='PSNR vs step, one line per sparsity')
    axes[2].legend(fontsize=7, ncol=2)
    layers = list(rows[0]['layers'])
    for name in layers:
        axes[3].plot([100 * r['sparsity'] for r in rows], [100 * r['layers'][name] for r in rows], 'o-', label=name)
    axes[3].set(xlabel='overall sparsity (%)', ylabel='layer sparsity (%)', title='sparsity per layer (global ranking)')
    axes[3].legend(fontsize=8)
    fig.suptitle(result['title'], fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_masks(run: Path, path: Path, rounds=(3, 8)) -> Path | None:
    "The kernels' sparsity pattern of two IMP rounds: one panel per layer, a k x k tile per (input, output) channel pair."
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np
    files = [run / 'models' / f'round{r:02d}.npz' for r in rounds]
    if not all(f.exists() for f in files): return None
    loaded = []
    for f in files:
        with np.load(f) as data:
            loaded.append({k.rpartition('/')[0]: data[k] for k in data.files if k.endswith('/kernel')})
    order = lambda n: (0, 0) if n == 'first' else (2, 0) if n == 'last' else (1, int(n[5:]) if n[5:].isdigit() else 0)
    layers = sorted(loaded[0], key=order)
    fig, axes = plt.subplots(len(rounds), len(layers), figsize=(3.2 * len(layers), 3.4 * len(rounds)), squeeze=False)
    for row, (r, kernels) in enumerate(zip(rounds, loaded)):
        for col, name in enumerate(layers):
            w = kernels[name]                                    # (k, k, cin, cout)
            k, _, cin, cout = w.shape
            tiles = np.pad(w != 0, ((0, 1), (0, 1), (0, 0), (0, 0)), constant_values=False)  # a gap between tiles
            image = tiles.transpose(2, 0, 3, 1).reshape(cin * (k + 1), cout * (k + 1))
            ax = axes[row, col]
            ax.imshow(image, cmap='Greys', interpolation='nearest', aspect='auto')
            ax.set(xticks=[], yticks=[], title=f'round {r}: {name} ({100 * (w == 0).mean():.0f}% zero)')
            if col == 0: ax.set_ylabel('input channel x tap row')
            if row == len(rounds) - 1: ax.set_xlabel('output channel x tap column')
    fig.suptitle('kept (black) and pruned (white) weights of the collapsed kernels', fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    if args.plot_only:
        result = json.loads(out.with_suffix('.json').read_text())
        print(plot(result, out.with_suffix('.png')))
        print(plot_masks(Path(args.workdir) / 'imp', Path(f'{out}_masks.png'), (3, result['config']['rounds'])))
        return 0
    t_start = time.perf_counter()
    from sesr_nb.conv import tune_process
    tune_process()
    import jax, jax.numpy as jnp, numpy as np
    from tqdm.auto import tqdm
    from sesr_nb.checkpoint import checkpoint_manager, restore_checkpoint, save_model_file
    from sesr_nb.fileio import write_json_atomic
    from sesr_nb.prune import (PruneConfig, imp, magnitude_mask, mask_from_record, masked_model, sparsity,
                               test_scores, train_masked)
    from sesr_nb.train import TrainState, make_optimizer

    # `data` names the sets the held-out images are drawn from; the training data is `study_data`'s split of them
    cfg = PruneConfig(arch='M3', scale=2, data=(str(DATA / 'T91'), str(DATA / 'BSD200')), val=(),
                      test=(str(DATA / 'Set5'), str(DATA / 'Set14')), rounds=args.rounds, rate=args.rate,
                      steps=args.steps, rewind=args.rewind, batch_size=args.batch_size, lr_patch=args.lr_patch,
                      learning_rate=args.lr, seed=0)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    controls_path = workdir / 'controls.json'
    if not args.resume and controls_path.exists(): controls_path.unlink()
    data, split = study_data(cfg, args.holdout, args.val_crop)
    held_crops = len(data.val_sets[0]) if data.val_sets else 0
    print(f'{len(data.sampler.images)} training images, {held_crops} held-out crops, '
          f'N={cfg.steps}, k={cfg.rewind}, batch {cfg.batch_size} of {cfg.lr_patch}x{cfg.lr_patch}', file=sys.stderr)
    summary = imp(cfg, workdir / 'imp', resume=args.resume, progress=True, data=data)
    records = json.loads((workdir / 'imp' / 'rounds.json').read_text())
    t_imp = time.perf_counter() - t_start

    manager = checkpoint_manager(workdir / 'imp', read_only=True)
    def round_meta(r): return restore_checkpoint(manager, cfg.total_steps(r), items=('params', 'meta'))
    from sesr_nb.arch import arch_config
    arch, config = arch_config(cfg.arch, cfg.scale)
    tx = make_optimizer(cfg, cfg.steps)
    dense = round_meta(0)['params']
    cdense = jax.device_get(arch.deploy(dense, config))
    controls = json.loads(controls_path.read_text()) if controls_path.exists() else {'reinit': [], 'oneshot': [], 'skipped': []}
    controls['skipped'] = []  # decided afresh by every (resumed) run
    last = cfg.rounds
    reinit_rounds = args.reinit_rounds if args.reinit_rounds is not None else [last, 3, 1, 5]
    oneshot_rounds = args.oneshot_rounds if args.oneshot_rounds is not None else [last, 3]
    jobs = []  # interleaved by priority: the final sparsity first, then ~49 %
    for i in range(max(len(reinit_rounds), len(oneshot_rounds))):
        if i < len(oneshot_rounds): jobs.append(('oneshot', oneshot_rounds[i]))
        if i < len(reinit_rounds): jobs.append(('reinit', reinit_rounds[i]))
    jobs = [j for j in jobs if 0 <= j[1] <= last]  # round 0: dense from another seed / dense trained N-k more
    for kind, r in tqdm(jobs, desc='controls', file=sys.stderr):
        if any(c['round'] == r for c in controls[kind]): continue
        if args.deadline and (time.perf_counter() - t_start) / 60 > args.deadline:
            controls['skipped'].append({'kind': kind, 'round': r, 'why': f'past the {args.deadline} min deadline'})
            write_json_atomic(controls_path, controls)
            continue
        target = records[r]['sparsity']
        if kind == 'reinit':
            mask = mask_from_record(round_meta(r)['meta']['deploy_mask'], cdense)
            params = arch.init(config, jax.random.PRNGKey(cfg.seed + 1))
            state, start = TrainState(jnp.zeros((), jnp.int32), params, tx.init(params)), 0
        else:
            mask = magnitude_mask(cdense, None, target, cfg.scope)
            state, start = TrainState(jnp.asarray(cfg.rewind, jnp.int32), dense, tx.init(dense)), cfg.rewind
        res = train_masked(state, mask, config, tx, data.sampler, cfg.steps, val_sets=data.val_sets,
                           val_every=max(1, (cfg.steps - start) // 8), progress=True,
                           desc=f'{kind} at {100 * target:.1f}%')
        model = masked_model(config, res['best_params'], mask, name=f'{kind} {100 * target:.1f}%')
        controls[kind].append({'round': r, 'sparsity': sparsity(mask)['overall'], 'best_val_psnr': res['best_val_psnr'],
                               'best_step': res['best_step'], 'steps': cfg.steps - start,
                               'seconds': round(res['seconds'], 1), 'test': test_scores(model, data.test_sets),
                               'curve': res['curve']})
        write_json_atomic(controls_path, controls)

    # compressed model-file sizes: the dense network and one-shot masks of it at 50 % and 80 %
    sizes = {}
    with tempfile.TemporaryDirectory() as tmp:
        for target in (0.0, 0.5, 0.8):
            mask = magnitude_mask(cdense, None, target, cfg.scope)
            path = save_model_file(Path(tmp) / f'm{target}.npz', masked_model(config, dense, mask))
            sizes[f'{int(100 * target)}%'] = path.stat().st_size
    machine = {'cpus': os.cpu_count(), 'jax': jax.__version__, 'backend': jax.default_backend()}
    steps_per_sec = [ (r['steps']) / r['seconds'] for r in records if r['seconds']]
    timing_path = workdir / 'timing.json'  # every (resumed) run of the study adds its wall time
    runs = json.loads(timing_path.read_text()) if args.resume and timing_path.exists() else []
    runs.append({'wall_minutes': round((time.perf_counter() - t_start) / 60, 1), 'imp_minutes': round(t_imp / 60, 1),
                 'controls_run': sum(len(controls[k]) for k in ('reinit', 'oneshot'))})
    write_json_atomic(timing_path, runs)
    result = {
        'title': (f"SESR-M3 x2, T91+BSD200 (minus {split['count']} held out), N={cfg.steps} steps, rewind k={cfg.rewind}, "
                  f"batch {cfg.batch_size} of {cfg.lr_patch}x{cfg.lr_patch}, {100 * cfg.rate:g}%/round, global magnitude"),
        'config': {**cfg.to_dict(), 'holdout': split['count'], 'val_crop': split['val_crop']}, 'holdout': split,
        'machine': machine,
        'timing': {'runs': runs, 'wall_minutes': round(sum(r['wall_minutes'] for r in runs), 1),
                   'imp_minutes': round(sum(r['imp_minutes'] for r in runs), 1),
                   'mean_steps_per_sec': round(float(np.mean(steps_per_sec)), 3) if steps_per_sec else None},
        'imp': records, 'controls': controls, 'model_file_bytes': sizes,
        'table': [{'round': r['round'], 'sparsity': round(r['sparsity'], 4),
                   'imp': r['test'], 'reinit': next((c['test'] for c in controls['reinit'] if c['round'] == r['round']), None),
                   'oneshot': next((c['test'] for c in controls['oneshot'] if c['round'] == r['round']), None),
                   'model_bytes': r['model_bytes']} for r in records],
    }
    write_json_atomic(out.with_suffix('.json'), result)
    plot(result, out.with_suffix('.png'))
    plot_masks(workdir / 'imp', Path(f'{out}_masks.png'), (min(3, cfg.rounds), cfg.rounds))
    print(json.dumps(result['table'], indent=1))
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.png')} in {result['timing']['wall_minutes']} min")
    return 0


if __name__ == '__main__':
    sys.exit(main())
