"""Speed of SESR inference on a 1080p frame: x2 upscaling of the Y channel (1920x1080 -> 3840x2160, the paper's
1080p -> 4K case) on the CPU, tiled and untiled, per layer, and against bicubic on the same frame.

    python benchmarks/bench_infer.py                  # M3, M5, XL: default tile (the whole 1080p frame) vs 2048x512
                                                      # bands, bicubic, M5 per layer
    python benchmarks/bench_infer.py --sweep          # also M5 over a range of tile shapes (how DEFAULT_TILE was chosen)
    python benchmarks/bench_infer.py --quick          # fewer repeats
    python benchmarks/bench_infer.py --presets M5 --tiles 256 128x1920 0

Prints medians (and the spread) of several runs after a warm-up; nothing is asserted. Weights are random (the time
does not depend on their values); the frame is random. MACs are those of the collapsed network on the whole frame
(`sesr_nb.complexity`); GMAC/s = those MACs / median time, so the extra work of the tile halos counts against
tiling. Other processes on the machine distort the figures: the load average is printed before and after.
"""
from __future__ import annotations
import argparse, os, platform, statistics, time

import jax
import jax.numpy as jnp
import numpy as np

from sesr_nb.color import imresize
from sesr_nb.complexity import block_shapes, complexity
from sesr_nb.conv import conv2d_act, conv_backend, tune_process
from sesr_nb.infer import DEFAULT_TILE, axis_windows, parse_tile, upscale_y_tiled
from sesr_nb.models import collapse, init_params, sesr_config, upsample_channels
from sesr_nb.arch import TrainedModel, architecture_of

from timing import timings

HEIGHT, WIDTH = 1080, 1920


def summary(times: list[float]) -> str:
    return f'{statistics.median(times):8.1f} ms  (min {min(times):7.1f}, max {max(times):7.1f}, n={len(times)})'


def tile_label(tile) -> str:
    rows, cols = parse_tile(tile)
    if rows is None and cols is None: return 'whole frame'
    label = f'{rows}x{cols} tiles' if rows == cols else f'{cols or WIDTH}x{rows or HEIGHT} (WxH) tiles'
    return label + (' (default)' if (rows, cols) == parse_tile(DEFAULT_TILE) else '')


def bench_models(presets: list[str], tiles: list, repeats: int) -> None:
    "Time each preset on each tile shape; the shapes are interleaved round by round, so load changes hit all alike."
    y = np.random.default_rng(0).random((HEIGHT, WIDTH), dtype=np.float32)
    print(f'SESR x2, Y channel {WIDTH}x{HEIGHT} -> {2 * WIDTH}x{2 * HEIGHT}, float32 in/out (host numpy arrays):')
    for preset in presets:
        config = sesr_config(preset, 2)
        model = TrainedModel(architecture_of(config), config, collapse(init_params(config)))
        macs = complexity(config, (HEIGHT, WIDTH))['macs']['inference']
        halo = architecture_of(config).receptive_radius(config)
        print(f'  SESR-{preset}: {macs / 1e9:.2f} G MACs, receptive radius {halo} LR pixels')
        for tile in tiles: upscale_y_tiled(model, y, tile)  # warm-up and compilation
        times = {tile: [] for tile in tiles}
        for _ in range(repeats):
            for tile in tiles:
                start = time.perf_counter()
                upscale_y_tiled(model, y, tile)
                times[tile].append(1000 * (time.perf_counter() - start))
        for tile in tiles:
            rows, cols = parse_tile(tile)
            computed = sum(w.stop - w.start for w in axis_windows(HEIGHT, rows, halo)) * \
                       sum(w.stop - w.start for w in axis_windows(WIDTH, cols, halo))
            print(f'    {tile_label(tile):28s} {summary(times[tile])}   {macs / statistics.median(times[tile]) / 1e6:6.1f} GMAC/s'
                  f'   (halo recomputation +{100 * (computed / (HEIGHT * WIDTH) - 1):4.1f}%)')


def bench_bicubic(repeats: int) -> None:
    y8 = np.random.default_rng(1).integers(0, 256, (HEIGHT, WIDTH), dtype=np.uint8)
    yf = jnp.asarray(y8, jnp.float32) / 255
    resize = jax.jit(lambda x: jax.image.resize(x, (2 * HEIGHT, 2 * WIDTH), method='bicubic'))
    print(f'Bicubic x2 on the same {WIDTH}x{HEIGHT} Y plane:')
    print(f'  sesr_nb.color.imresize (MATLAB, uint8)   {summary(timings(lambda: imresize(y8, 2.0), repeats))}')
    print(f'  sesr_nb.color.imresize (MATLAB, float32) {summary(timings(lambda: imresize(y8.astype(np.float32) / 255, 2.0), repeats))}')
    print(f'  jax.image.resize bicubic (float32, jit)  {summary(timings(lambda: resize(yf).block_until_ready(), repeats))}')


def bench_layers(preset: str, tile, repeats: int) -> None:
    """Time each layer of the collapsed graph (as `sesr_nb.models.collapsed_apply` calls it: convolutions with the
    PReLU of the previous layer and the long residual fused in), jitted alone on one window shape; x window count."""
    config = sesr_config(preset, 2)
    cp = collapse(init_params(config))
    halo = architecture_of(config).receptive_radius(config)
    rows, cols = parse_tile(tile)
    row_windows, col_windows = axis_windows(HEIGHT, rows, halo), axis_windows(WIDTH, cols, halo)
    h, w = row_windows[0].stop - row_windows[0].start, col_windows[0].stop - col_windows[0].start
    count = len(row_windows) * len(col_windows)
    rng = np.random.default_rng(2)
    x = jnp.asarray(rng.random((1, 1, h, w), dtype=np.float32))
    feats = jnp.asarray(rng.random((1, config.f, h, w), dtype=np.float32))
    skip = jnp.asarray(rng.random((1, config.f, h, w), dtype=np.float32))
    out = jnp.asarray(rng.random((1, config.scale ** 2, h, w), dtype=np.float32))
    layer = jax.jit(lambda z, k, b, slope, residual: conv2d_act(z, k, b, slope=slope, skip=residual))
    first = jax.jit(lambda z, k, b: conv2d_act(z - 0.5, k, b))
    tail = jax.jit(lambda a, b: jnp.clip(upsample_channels(a + b, config.scale), 0, 1))
    print(f'SESR-{preset} per layer, {count} window(s) of {w}x{h} LR pixels ({tile_label(tile)}); '
          f'ms per frame = ms per window x {count}:')
    parts = []
    for i, b in enumerate(block_shapes(config)):
        p = cp[b.name]
        slope = None if i < 2 else cp[f'prelu{i - 2}']['slope']       # block0 reads h0; block i reads PReLU_{i-1}
        residual = skip if b.name == 'last' else None
        if b.name == 'first': fn = lambda: first(x, p['kernel'], p['bias']).block_until_ready()
        else: fn = lambda: layer(feats, p['kernel'], p['bias'], slope, residual).block_until_ready()
        extra = ' + PReLU' * (slope is not None) + ' + skip' * (residual is not None)
        parts.append((f'{b.name} {b.k}x{b.k} {b.c_in}->{b.c_out}{extra}', statistics.median(timings(fn, repeats)),
                      b.k * b.k * b.c_in * b.c_out * h * w))
    parts.append(('global residual + depth-to-space + clip', statistics.median(timings(lambda: tail(out, x).block_until_ready(), repeats)), 0))
    total = 0.0
    for name, t, macs in parts:
        total += t * count
        rate = f'{macs / t / 1e6:6.1f} GMAC/s' if macs else ''
        print(f'  {name:42s} {t:7.2f} ms/window  {t * count:8.1f} ms/frame  {rate}')
    print(f'  {"sum of the parts":42s} {"":17s} {total:8.1f} ms/frame')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='3 repeats instead of 7')
    parser.add_argument('--sweep', action='store_true', help='M5 over a range of tile shapes')
    parser.add_argument('--presets', nargs='+', default=['M3', 'M5', 'XL'])
    parser.add_argument('--tiles', nargs='+', default=None, help="tiles to time: N, WIDTHxHEIGHT, or 0 for the whole frame")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    print(f'{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, jax {jax.__version__} '
          f'({jax.default_backend()}), conv backend {conv_backend()}, load average {os.getloadavg()[0]:.2f}')
    # DEFAULT_TILE holds a whole 1080p frame, so the default comparison adds half-height bands beside it
    tiles = [parse_tile(t) for t in args.tiles] if args.tiles else [parse_tile(DEFAULT_TILE), (512, 2048)]
    bench_models(args.presets, tiles, repeats)
    if args.sweep:
        sweep = [256, 512, '1920x256', '1920x512', '1920x768', '512x256', '1024x256', '768x384', 0]
        bench_models(['M5'], [parse_tile(t) for t in sweep], repeats)
    bench_bicubic(repeats)
    bench_layers('M5', DEFAULT_TILE, repeats)
    print(f'load average at the end: {os.getloadavg()[0]:.2f}')


if __name__ == '__main__':
    tune_process()  # glibc malloc and XLA_FLAGS, before JAX starts (sesr_nb.conv, 'Process tuning')
    main()
