#!/usr/bin/env python3
"""Train-step benchmark: SESR collapsed vs expanded training, native vs XLA convolutions, every preset, and the
data loader beside it. Prints a table (and --json FILE writes the numbers).

    python benchmarks/bench_train.py                 # M5 x2, batch 32 of 64x64, on this machine
    python benchmarks/bench_train.py --presets all   # plus every preset's collapsed step

Timings are medians over `--reps` steps after two warm-up steps (compile + first run), measured with
block_until_ready; compare ratios taken in one run, since a shared machine is noisy.
"""
import argparse, json, os, platform, statistics, sys, time, warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from sesr_nb.complexity import train_step_macs
from sesr_nb.conv import conv_backend, tune_process
from sesr_nb.models import PRESETS
from sesr_nb.train import TrainConfig, initial_state, make_optimizer, make_train_step, pixel_objective

from timing import sampler_patch_rate


def time_step(preset: str, scale: int, mode: str, backend: str, batch: int, patch: int, reps: int) -> dict:
    "Median wall time of one jitted train step (donated state, device-resident batch)."
    os.environ['SESR_NB_CONV'] = backend
    cfg = TrainConfig(arch=preset, scale=scale, data=('skimage:train',), val=(), batch_size=batch, lr_patch=patch)
    tx = make_optimizer(cfg)
    state = initial_state(cfg, tx)
    objective = pixel_objective(cfg.network()[1], mode)
    step = make_train_step(objective, tx)
    rng = np.random.default_rng(0)
    lr = jnp.asarray(rng.random((batch, patch, patch, 1), np.float32))
    hr = jnp.asarray(rng.random((batch, patch * scale, patch * scale, 1), np.float32))
    times = []
    for i in range(reps + 2):
        t0 = time.perf_counter()
        state, metrics = step(state, {'lr': lr, 'hr': hr}, objective.aux(i))
        jax.block_until_ready(metrics)
        if i >= 2: times.append(time.perf_counter() - t0)
    macs = train_step_macs(cfg.network()[1], (patch, patch), batch, mode)
    median = statistics.median(times)
    return {'preset': preset, 'scale': scale, 'mode': mode, 'backend': conv_backend() if backend == 'auto' else backend,
            'median_ms': round(median * 1e3, 2), 'min_ms': round(min(times) * 1e3, 2), 'reps': reps,
            'gmacs_per_step': round(macs / 1e9, 3), 'gmacs_per_s': round(macs / median / 1e9, 1)}


def loader_rate(scale: int, batch: int, patch: int, seconds: float = 3.0) -> dict:
    "Patches per second of the training sampler (background prefetch thread) on the real 291 set if present."
    from sesr_nb.datasets import benchmark_data_dir, load_dataset
    from sesr_nb.sampler import training_images
    root = benchmark_data_dir()
    specs = [str(root / 'T91'), str(root / 'BSD200')] if root else ['skimage:train']
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # the few T91 images smaller than a patch are skipped
        images = training_images([load_dataset(s, scale, min_lr_size=patch) for s in specs], patch)
    return {'data': '+'.join(Path(s).name for s in specs), 'images': len(images),
            'patches_per_s': sampler_patch_rate(images, batch, patch, seconds)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--presets', default='M5', help="comma-separated presets for the collapsed-step table, or 'all'")
    ap.add_argument('--scale', type=int, default=2)
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--patch', type=int, default=64)
    ap.add_argument('--reps', type=int, default=15)
    ap.add_argument('--expanded-reps', type=int, default=5)
    ap.add_argument('--json', default=None, help='also write the results to this JSON file')
    args = ap.parse_args()

    print(f'# {platform.node()} | {platform.processor() or platform.machine()} | {os.cpu_count()} CPUs | '
          f'jax {jax.__version__} on {jax.default_backend()} | batch {args.batch} x {args.patch}x{args.patch}, x{args.scale}')
    rows = []
    for mode, backend, reps in [('collapsed', 'auto', args.reps), ('collapsed', 'xla', args.reps),
                                ('expanded', 'auto', args.expanded_reps), ('expanded', 'xla', args.expanded_reps)]:
        rows.append(time_step('M5', args.scale, mode, backend, args.batch, args.patch, reps))
        r = rows[-1]
        print(f"M5 {r['mode']:9s} {r['backend']:6s}  median {r['median_ms']:8.1f} ms  (min {r['min_ms']:8.1f})  "
              f"{r['gmacs_per_step']:8.2f} GMAC/step  {r['gmacs_per_s']:6.1f} GMAC/s", flush=True)
    by = {(r['mode'], r['backend']): r['median_ms'] for r in rows}
    os.environ['SESR_NB_CONV'] = 'auto'
    mac_ratio = rows[2]['gmacs_per_step'] / rows[0]['gmacs_per_step']
    for backend in ('native', 'xla'):
        if ('collapsed', backend) in by and ('expanded', backend) in by:
            print(f"collapsed vs expanded step, {backend} convolutions: {by[('expanded', backend)] / by[('collapsed', backend)]:.1f}x "
                  f"faster (MAC ratio {mac_ratio:.1f}x)")
    if ('collapsed', 'native') in by:
        print(f"native vs XLA convolutions, collapsed step: {by[('collapsed', 'xla')] / by[('collapsed', 'native')]:.2f}x")

    presets = [p for p in PRESETS if p != 'tiny'] if args.presets == 'all' else args.presets.split(',')
    table = []
    for preset in presets:
        table.append(time_step(preset, args.scale, 'collapsed', 'auto', args.batch, args.patch, args.reps))
        r = table[-1]
        print(f"{preset:4s} x{args.scale} collapsed  median {r['median_ms']:7.1f} ms  {r['gmacs_per_s']:6.1f} GMAC/s  "
              f"-> {args.batch * 1000 / r['median_ms']:7.0f} patches/s of compute", flush=True)
    loader = loader_rate(args.scale, args.batch, args.patch)
    print(f"data loader ({loader['data']}, {loader['images']} images): {loader['patches_per_s']:,} patches/s")
    if args.json:
        Path(args.json).write_text(json.dumps({'host': platform.node(), 'cpus': os.cpu_count(), 'jax': jax.__version__,
                                               'm5': rows, 'presets': table, 'loader': loader}, indent=2))
    return 0


if __name__ == '__main__':
    tune_process()  # glibc malloc and XLA_FLAGS, before JAX starts (sesr_nb.conv, 'Process tuning')
    sys.exit(main())
