#!/usr/bin/env python3
"""Convolution kernel benchmark: sesr_nb's native CPU kernels vs XLA's convolution on the layer shapes of SESR.

For every layer of a collapsed SESR-M5 x2 training step (batch 32 of 64x64) and of 1080p inference, times the
forward convolution, the input gradient and the weight gradient, and prints GMAC/s for both backends.

    python benchmarks/bench_conv.py [--reps 20] [--json out.json]

Timings are the median and the minimum over --reps calls after a warm-up call; on a shared machine the minimum is
the more stable figure.
"""
import argparse, json, os, statistics, sys

import jax
import jax.numpy as jnp
import numpy as np

from sesr_nb.conv import conv2d, conv_backend, tune_process

from timing import timings

SHAPES = [  # name, N, Cin, Cout, k, H, W
    ('train first 5x5 1->16', 32, 1, 16, 5, 64, 64),
    ('train 3x3 16->16', 32, 16, 16, 3, 64, 64),
    ('train last 5x5 16->4', 32, 16, 4, 5, 64, 64),
    ('1080p first 5x5 1->16', 1, 1, 16, 5, 1080, 1920),
    ('1080p 3x3 16->16', 1, 16, 16, 3, 1080, 1920),
    ('1080p last 5x5 16->4', 1, 16, 4, 5, 1080, 1920),
    ('1080p band 3x3 16->16 (128 rows)', 1, 16, 16, 3, 128, 1920),
]


def timeit(fn, args, reps):
    "Median and minimum seconds of `fn(*args)` over `reps` calls after one warm-up."
    times = timings(lambda: fn(*args), reps)
    return statistics.median(times) / 1000, min(times) / 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--reps', type=int, default=20)
    ap.add_argument('--json', default=None)
    args = ap.parse_args()
    print(f'# native kernels available: {conv_backend() == "native"} | jax {jax.__version__} | {os.cpu_count()} CPUs')
    print(f"{'layer':34s} {'op':6s} {'native GMAC/s (med/best)':>26s} {'xla GMAC/s (med/best)':>24s} {'speed-up':>9s}")
    rows = []
    for name, n, cin, cout, k, h, w in SHAPES:
        rng = np.random.default_rng(0)
        x = jnp.asarray(rng.standard_normal((n, cin, h, w), np.float32))
        wt = jnp.asarray(rng.standard_normal((k, k, cin, cout), np.float32) / (k * np.sqrt(cin)))
        b = jnp.zeros((cout,), jnp.float32)
        g = jnp.asarray(rng.standard_normal((n, cout, h, w), np.float32))
        macs = n * h * w * cin * cout * k * k
        ops = {'fwd': lambda be: jax.jit(lambda x, wt, b: conv2d(x, wt, b, backend=be)),
               'dx': lambda be: jax.jit(lambda x, wt, b, g: jax.vjp(lambda x: conv2d(x, wt, b, backend=be), x)[1](g)),
               'dw': lambda be: jax.jit(lambda x, wt, b, g: jax.vjp(lambda wt, b: conv2d(x, wt, b, backend=be), wt, b)[1](g))}
        for op, make in ops.items():
            if op == 'dx' and cin == 1: continue  # the first layer's input is data: no input gradient
            if h >= 1080 and op != 'fwd': continue  # inference only at 1080p
            a = (x, wt, b) if op == 'fwd' else (x, wt, b, g)
            res = {}
            for be in ('native', 'xla'):
                if be == 'native' and conv_backend() != 'native': continue
                med, best = timeit(make(be), a, args.reps if h < 1080 else max(3, args.reps // 4))
                res[be] = (macs / med / 1e9, macs / best / 1e9)
            nat = res.get('native', (float('nan'),) * 2)
            speed = nat[0] / res['xla'][0]
            print(f"{name:34s} {op:6s} {nat[0]:12.1f} / {nat[1]:6.1f}      {res['xla'][0]:10.1f} / {res['xla'][1]:6.1f}   {speed:8.2f}x", flush=True)
            rows.append({'layer': name, 'op': op, 'gmacs': macs / 1e9, 'native': nat, 'xla': res['xla']})
    if args.json:
        with open(args.json, 'w') as f: json.dump(rows, f, indent=2)
    return 0


if __name__ == '__main__':
    tune_process()  # glibc malloc and XLA_FLAGS, before JAX starts (sesr_nb.conv, 'Process tuning')
    sys.exit(main())
