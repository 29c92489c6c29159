"""SMSR (sesr_nb.smsr) on T91 + BSD200: does it learn, do its masks sparsify, and does skipping the masked work pay on a CPU?

(a) Trains SMSR with its own recipe -- Gumbel-softmax masks, temperature tau = max(1 - (e-1)/500, 0.4), loss
    L1 + lam * density with lam = 0.1/255 * min((e-1)/50, 1) (0.1 on 0-255 values), Adam halved every 200 epochs -- on RGB patches of
    T91@train + BSD200@train (random crops, flips and 90-degree rotations), logging the training loss and the soft
    mask density, and scoring the deployed (hard-mask) network on BSD200@holdout (Y PSNR, border = scale) against
    bicubic, with the hard sparsity reached.
(b) Times, on a 720p-output frame (and 1080p) built from BSD200@holdout LR images, interleaved, several repeats:
    the numpy sparse inference (`sparse_apply`: gather, GEMM, scatter), the same numpy code with every channel dense
    (the dense network, same GEMM library) and the jitted XLA masked dense network (`deploy_apply`), with the MACs
    each executes.

The paper's schedules are per epoch; `--schedule-epochs` maps its 1000 epochs onto `--steps` (one epoch =
steps / schedule-epochs steps), so a short run walks the whole tau / lam / learning-rate schedule compressed.

Training runs in the library's engine: `sesr_nb.train.fit` (the one loop) with `make_train_step` of
`sesr_nb.smsr_train.smsr_objective` (tau, lam and the Gumbel key per step), Adam (`optimizer(..., kind='adam')`, optax's
epsilon 1e-8) and the halving as the loop's per-step rate factor. The batches stay the study's own (`StudySampler`:
random crops of random images from one numpy generator, as the committed runs drew them) and so does the evaluation
(hard masks on BSD200@holdout, with density and mask statistics), run by the loop's validation hook, which also saves
the resumable state. A run to fewer steps with the same steps per epoch (`--steps 150 --schedule-epochs 250`) walks
the first stretch of the 600-step schedule.

The paper's full recipe (DIV2K there; here the same data as every sesr_nb model), for a GPU:

    python benchmarks/smsr_study.py --channels 64 --steps 1000000 --schedule-epochs 1000 --batch-size 16 \\
        --lr-patch 48 --lr 2e-4 --halve-epochs 200 --eval-every 10000 --log-every 100 --frames 720p 1080p \\
        --workdir /work/runs/smsr_full          # Adam 2e-4 halved every 200 epochs, batch 16, HR patch 96

(an epoch of the reference code, built on EDSR-PyTorch, is its `test_every` = 1000 iterations: 1000 epochs = 1M
steps). The default is a short CPU run of a narrower network (32 channels, the published 5 SMMs), sized for two busy
cores (~25 min niced; LR patch 24, Adam 1e-3 constant, 600 steps, 720p timing only):

    nice -n 5 python benchmarks/smsr_study.py                  # writes benchmarks/results/smsr_study.{json,md,png}
    nice -n 5 python benchmarks/smsr_study.py --resume         # continue an interrupted run
    python benchmarks/smsr_study.py --plot-only                # redraw from the JSON
"""
from __future__ import annotations
import argparse, contextlib, json, math, os, pickle, sys, time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding, PartitionSpec
from sesr_nb.arch import BicubicModel
from sesr_nb.color import quantize_uint8, rgb_to_y
from sesr_nb.datasets import load_dataset
from sesr_nb.metrics import sr_metrics
from sesr_nb.sampler import Batch
from sesr_nb.smsr import (SMSRConfig, deploy_params, hard_choice, init_params, smsr_complexity, smsr_forward,
                          smsr_param_counts)
from sesr_nb.smsr_sparse import sparse_apply
from sesr_nb.smsr_train import smsr_objective, smsr_schedule
from sesr_nb.train import TrainState, data_mesh, fit, make_train_step, optimizer

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / 'shared' / 'data' if (ROOT.parent / 'shared' / 'data').is_dir() else Path('/work/shared/data')
RESULTS = ROOT / 'benchmarks' / 'results'


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--channels', type=int, default=32, help='feature width (published: 64)')
    p.add_argument('--n-smm', type=int, default=5, help='sparse mask modules (published: 5)')
    p.add_argument('--scale', type=int, default=2)
    p.add_argument('--steps', type=int, default=600, help='training steps (paper: 1000 epochs x 1000 = 1M)')
    p.add_argument('--schedule-epochs', type=float, default=1000, help='the paper epochs mapped onto --steps')
    p.add_argument('--batch-size', type=int, default=16, help='paper: 16')
    p.add_argument('--lr-patch', type=int, default=24, help='LR patch side (paper: 48, i.e. HR 96)')
    p.add_argument('--lr', type=float, default=1e-3, help='initial Adam learning rate (paper: 2e-4)')
    p.add_argument('--halve-epochs', type=float, default=1000, help='halve the learning rate every this many epochs '
                   '(paper: 200; the short run keeps it constant so that 600 steps can move the masks)')
    p.add_argument('--lam0', type=float, default=0.1 / 255, help='final weight of the density loss (the reference: 0.1 '
                   'with L1 on 0-255 values, i.e. 0.1/255 on [0, 1])')
    p.add_argument('--data', nargs='+', default=[str(DATA / 'T91') + '@train', str(DATA / 'BSD200') + '@train'])
    p.add_argument('--val', default=str(DATA / 'BSD200') + '@holdout')
    p.add_argument('--eval-every', type=int, default=150, help='steps between hold-out evaluations (0: none, e.g. '
                   'to compare the training losses of a short run with a committed one)')
    p.add_argument('--log-every', type=int, default=10)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--frames', nargs='*', default=['720p'], help="output frames to time ('720p', '1080p')")
    p.add_argument('--repeats', type=int, default=3, help='interleaved timing repeats')
    p.add_argument('--synthetic-active', type=float, default=None, help='also time the trained weights with forced '
                   'masks: this fraction of positions active (the largest LR gradients) and half of every layer\'s '
                   'channels sparse, so the gather/GEMM/scatter path itself is measured')
    p.add_argument('--timing-only', action='store_true', help='load the trained state from --workdir, time, and add the '
                   'timings to the existing JSON')
    p.add_argument('--workdir', default='/work/runs/smsr_study')
    p.add_argument('--out', default=str(RESULTS / 'smsr_study'), help='output prefix (.json, .md, .png)')
    p.add_argument('--resume', action='store_true')
    p.add_argument('--plot-only', action='store_true')
    return p.parse_args(argv)


def augment(lr, hr, rng):
    "A random one of the 8 flips/rotations, the same for both."
    k, flip = int(rng.integers(4)), bool(rng.integers(2))
    lr, hr = np.rot90(lr, k), np.rot90(hr, k)
    return (lr[:, ::-1], hr[:, ::-1]) if flip else (lr, hr)


def sample_batch(images, args, rng):
    "A batch of random LR/HR patch pairs (float32 RGB in [0, 1])."
    s, P = args.scale, args.lr_patch
    lrs, hrs = [], []
    for _ in range(args.batch_size):
        pair = images[int(rng.integers(len(images)))]
        y, x = int(rng.integers(pair.lr.shape[0] - P + 1)), int(rng.integers(pair.lr.shape[1] - P + 1))
        lr, hr = augment(pair.lr[y:y + P, x:x + P], pair.hr[s * y:s * (y + P), s * x:s * (x + P)], rng)
        lrs.append(lr); hrs.append(hr)
    return np.stack(lrs).astype(np.float32) / 255, np.stack(hrs).astype(np.float32) / 255


class StudySampler:
    """The study's batches (`sample_batch`: one numpy generator seeded `args.seed`, drawn in sequence) behind the
    engine's sampler interface: `stream(epoch, step)`, `steps_per_epoch` (the whole run counts as one epoch) and
    `config.batch_size`. A stream that starts at step k replays the generator through the k batches before it."""

    def __init__(self, images, args):
        self.images, self.args = images, args
        self.steps_per_epoch = args.steps
        self.config = SimpleNamespace(batch_size=args.batch_size)

    @contextlib.contextmanager
    def stream(self, epoch: int = 0, step: int = 0):
        start = epoch * self.steps_per_epoch + step
        rng = np.random.default_rng(self.args.seed)
        for _ in range(start): sample_batch(self.images, self.args, rng)
        def batches():
            for i in range(start, 1 << 62):
                lr, hr = sample_batch(self.images, self.args, rng)
                yield Batch(*divmod(i, self.steps_per_epoch), lr, hr)
        yield batches()


def evaluate(forward, params, val, scale):
    "Mean Y PSNR (border = scale) of the hard-mask network on `val`, its mean hard density and spatial activity."
    psnrs, dens, spa = [], [], []
    for pair in val:
        y, aux = forward(params, jnp.asarray(pair.lr, jnp.float32)[None] / 255)
        sr = quantize_uint8(np.asarray(y[0]) * 255)
        psnrs.append(sr_metrics(rgb_to_y(sr), pair.hr, scale)[0])
        dens.append(float(np.mean(aux['density']))); spa.append([float(m.mean()) for m in aux['spatial']])
    return float(np.mean(psnrs)), float(np.mean(dens)), np.mean(spa, axis=0).tolist()


def channel_sparsity(params, cfg):
    "Fraction of (layer, channel) outputs whose hard channel mask says 'sparse', per SMM."
    return [float(np.mean(np.asarray(hard_choice(params[f'smm{i}']['ch_logits'])))) for i in range(cfg.n_smm)]


def train_part(args, cfg, workdir: Path, log):
    """The training run through the engine's loop (`fit`), resumable from workdir/state.pkl (written at every
    evaluation) -> (params, record)."""
    images = [pair for spec in args.data for pair in load_dataset(spec, args.scale)
              if min(pair.lr.shape[:2]) >= args.lr_patch]
    val = list(load_dataset(args.val, args.scale))
    epoch_steps = args.steps / args.schedule_epochs
    objective = smsr_objective(cfg, epoch_steps=epoch_steps, lam0=args.lam0, seed=args.seed)
    tx = optimizer(args.lr, 'constant', kind='adam', eps=1e-8)  # optax.adam's epsilon, as the committed runs used
    halve_steps = max(1, int(round(args.halve_epochs * epoch_steps)))  # the learning rate halves every halve_steps
    forward = jax.jit(lambda p, x: smsr_forward(p, x, cfg, 'hard'))
    state_file = workdir / 'state.pkl'

    def evaluation(step, params):
        psnr_v, dens_v, spa_v = evaluate(forward, params, val, args.scale)
        record['eval'].append({'step': step, 'psnr': psnr_v, 'density_hard': dens_v, 'spatial_active': spa_v,
                               'channel_sparse': channel_sparsity(params, cfg)})
        log(f'step {step}: holdout PSNR {psnr_v:.3f} dB (bicubic {record["bicubic_psnr"]:.3f}), hard density '
            f'{dens_v:.3f}, spatial active {np.round(spa_v, 3).tolist()}')

    if args.resume and state_file.exists():
        with open(state_file, 'rb') as f: saved = pickle.load(f)
        state = TrainState(jnp.asarray(saved['step'], jnp.int32), saved['params'], saved['opt_state'])
        record = saved['record']
        log(f'resumed at step {int(saved["step"])}')
    else:
        params = init_params(cfg, args.seed)
        state = TrainState(jnp.zeros((), jnp.int32), params, tx.init(params))
        bic = float(np.mean([sr_metrics(BicubicModel(args.scale).sr_y(p.lr), p.hr, args.scale)[0] for p in val]))
        record = {'train': [], 'eval': [], 'bicubic_psnr': bic, 'n_train_images': len(images), 'n_val_images': len(val),
                  'train_seconds': 0.0}
        if args.eval_every: evaluation(0, state.params)
    t0 = time.perf_counter()

    def log_row(rec):  # the loop's record: l1 and density are means over the logging window, loss the last step's
        if 'loss' not in rec: return
        tau, lam = smsr_schedule(rec['step'] - 1, epoch_steps, args.lam0)
        record['train'].append({'step': rec['step'], 'tau': tau, 'lam': lam, 'loss': rec['loss'],
                                'loss_mean': rec['loss_mean'], 'l1': rec['l1'], 'density': rec['density'],
                                'grad_norm': rec['grad_norm']})

    def on_validation(step, state):
        nonlocal t0
        record['train_seconds'] += time.perf_counter() - t0
        if args.eval_every and not any(e['step'] == step for e in record['eval']): evaluation(step, state.params)
        with open(state_file.with_suffix('.tmp'), 'wb') as f:
            pickle.dump({'step': step, 'params': jax.device_get(state.params),
                         'opt_state': jax.device_get(state.opt_state), 'record': record}, f)
        os.replace(state_file.with_suffix('.tmp'), state_file)
        t0 = time.perf_counter()
        return False

    mesh = data_mesh()
    state = jax.device_put(jax.device_get(state), NamedSharding(mesh, PartitionSpec()))
    done = fit(state, make_train_step(objective, tx, mesh), StudySampler(images, args), args.steps, objective=objective,
               mesh=mesh, rate=lambda step: 0.5 ** (step // halve_steps), log=log_row, log_every=args.log_every,
               val_every=args.eval_every, on_validation=on_validation, progress=True, desc='SMSR training')
    return done.state.params, record


def frame(args, out_hw):
    "An LR frame for an `out_hw` output: a mosaic of BSD200@holdout LR images (landscape 160x240 crops)."
    s = args.scale
    h, w = out_hw[0] // s, out_hw[1] // s
    tiles = []
    for pair in load_dataset(args.val, s):
        lr = pair.lr if pair.lr.shape[0] <= pair.lr.shape[1] else pair.lr.transpose(1, 0, 2)
        if lr.shape[0] >= 160 and lr.shape[1] >= 240: tiles.append(lr[:160, :240])
    rows, cols = math.ceil(h / 160), math.ceil(w / 240)
    grid = [np.concatenate([tiles[(r * cols + c) % len(tiles)] for c in range(cols)], axis=1) for r in range(rows)]
    return np.concatenate(grid, axis=0)[:h, :w].astype(np.float32) / 255


def timing_part(args, cfg, params, log):
    "Interleaved timings of numpy sparse, numpy dense and XLA masked-dense inference on 720p / 1080p output frames."
    deployed = jax.device_get(deploy_params(params, cfg))
    dense = {k: ({**v, 'ch_sparse': np.zeros_like(v['ch_sparse'])} if k.startswith('smm') else v)
             for k, v in deployed.items()}
    xla = jax.jit(lambda p, x: smsr_forward(p, x, cfg, 'hard')[0])
    sizes = {'720p': (720, 1280), '1080p': (1080, 1920)}
    out = {}
    for name in args.frames:
        x = frame(args, sizes[name])
        y_xla = xla(deployed, jnp.asarray(x)[None]).block_until_ready()  # compile outside the clock
        y_sp, st = sparse_apply(deployed, x, cfg)
        _, st_dense = sparse_apply(dense, x, cfg)
        agree = float(np.abs(y_sp - np.asarray(y_xla)).max())
        times = {'numpy_dense': [], 'numpy_sparse': [], 'xla_masked_dense': []}
        for r in range(args.repeats):
            for method in times:
                t = time.perf_counter()
                if method == 'numpy_dense': sparse_apply(dense, x, cfg)
                elif method == 'numpy_sparse': sparse_apply(deployed, x, cfg)
                else: xla(deployed, jnp.asarray(x)[None]).block_until_ready()
                times[method].append(time.perf_counter() - t)
        pixels = x.shape[0] * x.shape[1]
        active = [a / pixels for a in st['active']]
        ch = [float(np.mean(deployed[f'smm{i}']['ch_sparse'])) for i in range(cfg.n_smm)]
        out[name] = {'lr_size': [x.shape[1], x.shape[0]], 'times_s': times,
                     'median_s': {k: float(np.median(v)) for k, v in times.items()},
                     'macs_sparse': st['macs'], 'macs_dense': st_dense['macs'],
                     'macs_dense_formula': smsr_complexity(cfg, x.shape[:2])['macs'],
                     'spatial_active': active, 'channel_sparse': ch, 'max_abs_diff_sparse_vs_xla': agree,
                     'mask_smm0': st['spatial'][0][::4, ::4].astype(np.uint8).tolist() if name == args.frames[0] else None}
        med = out[name]['median_s']
        log(f'{name}: numpy dense {med["numpy_dense"]:.2f} s, numpy sparse {med["numpy_sparse"]:.2f} s '
            f'(x{med["numpy_dense"] / med["numpy_sparse"]:.2f}), XLA masked dense {med["xla_masked_dense"]:.2f} s; '
            f'MACs {st_dense["macs"] / 1e9:.1f} G dense -> {st["macs"] / 1e9:.1f} G sparse '
            f'({100 * (1 - st["macs"] / st_dense["macs"]):.1f} % skipped); sparse vs XLA max |diff| {agree:.2e}')
    return out


def timing_synthetic(args, cfg, params, log, frame_name='720p'):
    """Numpy sparse vs numpy dense on the trained weights with forced masks: `--synthetic-active` of the positions
    (those with the largest LR gradient magnitude, as edges and texture) active in every SMM, and the first half of
    every layer's channels sparse."""
    sizes = {'720p': (720, 1280), '1080p': (1080, 1920)}
    x = frame(args, sizes[frame_name])
    g = np.abs(np.diff(x.mean(-1), axis=0, append=0)) + np.abs(np.diff(x.mean(-1), axis=1, append=0))
    spatial = g >= np.quantile(g, 1 - args.synthetic_active)
    deployed = jax.device_get(deploy_params(params, cfg))
    half = np.zeros((cfg.n_layers, cfg.channels), np.float32)
    half[:, :cfg.channels // 2] = 1
    forced = {k: ({**v, 'ch_sparse': half} if k.startswith('smm') else v) for k, v in deployed.items()}
    dense = {k: ({**v, 'ch_sparse': np.zeros_like(half)} if k.startswith('smm') else v) for k, v in deployed.items()}
    masks = [spatial] * cfg.n_smm
    _, st = sparse_apply(forced, x, cfg, masks)
    _, st_dense = sparse_apply(dense, x, cfg, masks)
    times = {'numpy_dense': [], 'numpy_sparse': []}
    for r in range(args.repeats):
        for method, prm in (('numpy_dense', dense), ('numpy_sparse', forced)):
            t = time.perf_counter(); sparse_apply(prm, x, cfg, masks); times[method].append(time.perf_counter() - t)
    med = {k: float(np.median(v)) for k, v in times.items()}
    log(f'{frame_name}, forced masks ({100 * spatial.mean():.0f} % active, half the channels sparse): numpy dense '
        f'{med["numpy_dense"]:.2f} s, sparse {med["numpy_sparse"]:.2f} s; MACs {st_dense["macs"] / 1e9:.1f} G -> '
        f'{st["macs"] / 1e9:.1f} G')
    return {'frame': frame_name, 'active_fraction': float(spatial.mean()), 'channel_sparse': 0.5, 'times_s': times,
            'median_s': med, 'macs_dense': st_dense['macs'], 'macs_sparse': st['macs']}


def markdown(result: dict) -> str:
    "The short table of the study."
    tr, cfg = result['training'], result['config']
    last = tr['eval'][-1] if tr['eval'] else {'spatial_active': [], 'channel_sparse': []}
    lines = [f"# SMSR study ({result['title']})", '',
             '| step | holdout PSNR (dB) | bicubic (dB) | hard density | hard sparsity |', '|---|---|---|---|---|']
    for e in tr['eval']:
        lines.append(f"| {e['step']} | {e['psnr']:.3f} | {tr['bicubic_psnr']:.3f} | {e['density_hard']:.3f} | "
                     f"{1 - e['density_hard']:.3f} |")
    lines += ['', f"Final per-SMM spatial activity {np.round(last['spatial_active'], 3).tolist()}, sparse-channel "
              f"fraction {np.round(last['channel_sparse'], 3).tolist()}.", '',
              '| frame | LR | numpy dense (s) | numpy sparse (s) | XLA masked dense (s) | dense GMACs | sparse GMACs | skipped |',
              '|---|---|---|---|---|---|---|---|']
    for name, t in result.get('timing', {}).items():
        m = t['median_s']
        lines.append(f"| {name} | {t['lr_size'][0]}x{t['lr_size'][1]} | {m['numpy_dense']:.2f} | {m['numpy_sparse']:.2f} | "
                     f"{m['xla_masked_dense']:.2f} | {t['macs_dense'] / 1e9:.1f} | {t['macs_sparse'] / 1e9:.1f} | "
                     f"{100 * (1 - t['macs_sparse'] / t['macs_dense']):.1f} % |")
    syn = result.get('synthetic')
    if syn:
        m = syn['median_s']
        lines.append(f"| {syn['frame']}, forced masks: {100 * syn['active_fraction']:.0f} % active, half the channels "
                     f"sparse | | {m['numpy_dense']:.2f} | {m['numpy_sparse']:.2f} | | {syn['macs_dense'] / 1e9:.1f} | "
                     f"{syn['macs_sparse'] / 1e9:.1f} | {100 * (1 - syn['macs_sparse'] / syn['macs_dense']):.1f} % |")
    lines += ['', f"Medians of {result['args']['repeats']} interleaved repeats on this CPU (2 cores shared with other "
              'jobs). Network: ' + json.dumps(cfg), '']
    return '\n'.join(lines)


def plot(result: dict, path: Path) -> Path:
    "PSNR vs step, density vs step (with tau and lam), the timings and one spatial mask."
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    tr = result['training']
    fig, axes = plt.subplots(1, 4, figsize=(21, 4.3))
    ev = tr['eval']
    axes[0].plot([e['step'] for e in ev], [e['psnr'] for e in ev], 'o-', label='SMSR, hard masks')
    axes[0].axhline(tr['bicubic_psnr'], color='gray', ls='--', label='bicubic')
    axes[0].set(xlabel='step', ylabel='BSD200@holdout PSNR (dB, Y)', title='learning'); axes[0].legend()
    rows = tr['train']
    axes[1].plot([r['step'] for r in rows], [r['density'] for r in rows], lw=0.8, label='soft density (training batch)')
    axes[1].plot([e['step'] for e in ev], [e['density_hard'] for e in ev], 'o-', label='hard density (holdout)')
    axes[1].plot([r['step'] for r in rows], [r['tau'] for r in rows], ':', label='tau')
    lam_max = max([r['lam'] for r in rows] + [1e-12])
    axes[1].plot([r['step'] for r in rows], [r['lam'] / lam_max for r in rows], '--', label=f'lambda / {lam_max:.2g}')
    axes[1].set(xlabel='step', ylabel='fraction computed', title='mask density (1 - sparsity)'); axes[1].legend(fontsize=8)
    timing = result.get('timing', {})
    names = list(timing)
    methods = ['numpy_dense', 'numpy_sparse', 'xla_masked_dense']
    for j, m in enumerate(methods):
        axes[2].bar(np.arange(len(names)) + 0.27 * (j - 1), [timing[n]['median_s'][m] for n in names], 0.27, label=m)
    axes[2].set_xticks(range(len(names)), names)
    axes[2].set(ylabel='seconds per frame (median)', title='CPU inference time'); axes[2].legend(fontsize=8)
    mask = next((t['mask_smm0'] for t in timing.values() if t.get('mask_smm0')), None)
    if mask is not None:
        axes[3].imshow(np.asarray(mask), cmap='gray', interpolation='nearest')
        axes[3].set(title='SMM 1 spatial mask on the 720p frame (white = active)', xticks=[], yticks=[])
    fig.suptitle(result['title'], fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out)
    if args.plot_only:
        result = json.loads(out.with_suffix('.json').read_text())
        print(plot(result, out.with_suffix('.png')))
        return result
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    logfile = open(workdir / 'study.log', 'a')
    def log(msg):
        print(msg, flush=True); logfile.write(msg + '\n'); logfile.flush()
    cfg = SMSRConfig(channels=args.channels, n_smm=args.n_smm, scale=args.scale,
                     ca_reduction=min(16, args.channels // 2), preset='custom')
    log(f'{cfg.name}: {smsr_param_counts(cfg)}')
    if args.timing_only:
        result = json.loads(out.with_suffix('.json').read_text())
        with open(workdir / 'state.pkl', 'rb') as f: params = pickle.load(f)['params']
        if args.frames: result['timing'] = timing_part(args, cfg, params, log)
        if args.synthetic_active: result['synthetic'] = timing_synthetic(args, cfg, params, log)
        out.with_suffix('.json').write_text(json.dumps(result, indent=1))
        out.with_suffix('.md').write_text(markdown(result))
        plot(result, out.with_suffix('.png'))
        log(markdown(result))
        return result
    t0 = time.perf_counter()
    params, record = train_part(args, cfg, workdir, log)
    timing = timing_part(args, cfg, params, log) if args.frames else {}
    synthetic = timing_synthetic(args, cfg, params, log) if args.synthetic_active else None
    short = args.steps < 1_000_000 or args.channels != 64
    result = {'title': f'{cfg.name}, {args.steps} steps, batch {args.batch_size}, LR patch {args.lr_patch}, lr {args.lr}'
                       + (' (SHORT RUN, not the paper recipe)' if short else ''),
              'args': vars(args), 'config': cfg.to_dict(), 'params': smsr_param_counts(cfg), 'training': record,
              'timing': timing, 'synthetic': synthetic, 'wall_seconds': time.perf_counter() - t0, 'short_run': short}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix('.json').write_text(json.dumps(result, indent=1))
    out.with_suffix('.md').write_text(markdown(result))
    plot(result, out.with_suffix('.png'))
    log(markdown(result))
    return result


if __name__ == '__main__':
    main()
