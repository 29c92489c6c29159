#!/usr/bin/env python3
"""How far the float32 kernels are from this CPU's ceiling, and whether memory traffic is what holds them back.

In one interleaved run (every round times every item once, so a change of load hits all alike): numpy's float32
matmul of two 4096x4096 matrices (the gauge: BLAS at this machine's multiply-add peak), the whole collapsed SESR-M5 x2
network on a 1920x1080 Y frame (as `upscale_y_tiled` runs it, `benchmarks/bench_infer.py`), and one 3x3 16->16
convolution with its PReLU (`conv2d_act`, the layer that holds 85 % of M5's MACs) on three input sizes: 1080p (input
and output, 133 MB each, far beyond the caches), 512x256 (4 MB: in the L3 cache) and 128x128 (1 MB: in L2). If the
layer ran much faster from cache than from memory, fusing layers to keep activations in cache would pay; if not, the
time is in the multiply-adds themselves.

The 3x3 16->16 layers run by Winograd's F(4x4, 3x3) (`sesr_nb/csrc/conv_winograd.cc`, a quarter of the multiplies);
the network and the 1080p layer are also timed with it switched off (SESR_NB_WINOGRAD=0: the direct kernel), in the
same rounds. GMAC/s counts the direct convolution's multiply-adds for both, so it is a rate of work done, and above
the gauge is possible.

    python benchmarks/bench_fp32_ceiling.py [--rounds 7]

Writes benchmarks/results/fp32_ceiling.{md,json}. Medians over the rounds; GMAC/s and the ratio to the matmul's.
"""
from __future__ import annotations
import argparse, os, platform, statistics, sys, time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from sesr_nb.arch import TrainedModel, architecture_of
from sesr_nb.complexity import complexity
from sesr_nb.conv import conv2d_act, conv_backend, tune_process
from sesr_nb.infer import upscale_y_tiled
from sesr_nb.models import collapse, init_params, sesr_config

from timing import write_report

RESULTS = Path(__file__).resolve().parent / 'results'


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--rounds', type=int, default=7)
    parser.add_argument('--out', default=str(RESULTS / 'fp32_ceiling'))
    args = parser.parse_args()
    tune_process()
    rng = np.random.default_rng(0)
    load_start = os.getloadavg()[0]

    n = 4096
    a, b = rng.random((n, n), np.float32), rng.random((n, n), np.float32)
    items = {'numpy matmul 4096x4096 (float32)': (lambda: a @ b, n ** 3)}

    def winograd(on: bool, fn):
        "fn run with the Winograd 3x3 kernel on or off (the kernels read SESR_NB_WINOGRAD at every call)."
        def run():
            os.environ['SESR_NB_WINOGRAD'] = '1' if on else '0'
            return fn()
        return run

    config = sesr_config('M5', 2)
    model = TrainedModel(architecture_of(config), config, collapse(init_params(config)))
    frame = rng.random((1080, 1920), np.float32)
    net_macs = complexity(config, (1080, 1920))['macs']['inference']
    items['SESR-M5 x2 network, 1920x1080 -> 3840x2160'] = (winograd(True, lambda: upscale_y_tiled(model, frame)), net_macs)
    items['SESR-M5 x2 network, direct 3x3 kernel (SESR_NB_WINOGRAD=0)'] = (
        winograd(False, lambda: upscale_y_tiled(model, frame)), net_macs)

    w = jnp.asarray(rng.normal(0, 0.1, (3, 3, 16, 16)), jnp.float32)
    bias, slope = jnp.zeros(16, jnp.float32), jnp.full((16,), 0.1, jnp.float32)
    layer = jax.jit(lambda x: conv2d_act(x, w, bias, slope))
    for label, (h, wd), calls in (('1080p, 133 MB in', (1080, 1920), 1), ('512x256, 8 MB in (L3)', (256, 512), 16),
                                  ('128x128, 1 MB in (L2)', (128, 128), 128)):
        x = jnp.asarray(rng.random((1, 16, h, wd), np.float32))
        def run(x=x, calls=calls):
            for _ in range(calls): out = layer(x)
            return out.block_until_ready()
        items[f'3x3 16->16 + PReLU layer, {label}, x{calls} calls'] = (winograd(True, run), calls * h * wd * 16 * 16 * 9)
        if calls == 1:
            items[f'3x3 16->16 + PReLU layer, {label}, direct kernel'] = (winograd(False, run), h * wd * 16 * 16 * 9)

    for fn, _ in items.values(): jax.block_until_ready(fn())           # warm-up and compilation
    times = {name: [] for name in items}
    for _ in range(args.rounds):
        for name, (fn, _) in items.items():
            start = time.perf_counter()
            jax.block_until_ready(fn())
            times[name].append(time.perf_counter() - start)
            time.sleep(0.05)

    os.environ.pop('SESR_NB_WINOGRAD', None)
    gauge = next(iter(items))
    rate = {name: macs / statistics.median(times[name]) / 1e9 for name, (_, macs) in items.items()}
    lines = [f'{platform.machine()}, {len(os.sched_getaffinity(0))} usable CPUs ({platform.processor() or "?"}), jax '
             f'{jax.__version__}, conv backend {conv_backend()}, load average {load_start:.2f}', '',
             f'{args.rounds} interleaved rounds, medians:', '',
             '| item | median ms | GMAC/s | / matmul |', '|---|---|---|---|']
    for name in items:
        lines.append(f'| {name} | {1000 * statistics.median(times[name]):.1f} | {rate[name]:.1f} | '
                     f'{rate[name] / rate[gauge]:.2f} |')
    lines += ['', f'load average at the end: {os.getloadavg()[0]:.2f}']
    print('\n'.join(lines))
    result = {'rounds': args.rounds, 'ms': {k: [round(1000 * t, 2) for t in v] for k, v in times.items()},
              'gmac_per_s': {k: round(v, 2) for k, v in rate.items()},
              'load_average': [round(load_start, 2), round(os.getloadavg()[0], 2)],
              'machine': {'cpus': len(os.sched_getaffinity(0)), 'jax': jax.__version__}}
    write_report(Path(args.out), result, lines)
    return 0


if __name__ == '__main__':
    sys.exit(main())
