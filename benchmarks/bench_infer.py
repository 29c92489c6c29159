"""Speed of SESR inference on a 1080p frame: x2 upscaling of the Y channel (1920x1080 -> 3840x2160, the paper's
1080p -> 4K case) on the CPU, tiled and untiled, per layer, and against bicubic on the same frame.

    python benchmarks/bench_infer.py                  # M3, M5, XL: default tile (the whole 1080p frame) vs 2048x512
                                                      # bands, bicubic, M5 per layer
    python benchmarks/bench_infer.py --sweep          # also M5 over a range of tile shapes (how DEFAULT_TILE was chosen)
    python benchmarks/bench_infer.py --quick          # fewer repeats
    python benchmarks/bench_infer.py --presets M5 --tiles 256 128x1920 0
    python benchmarks/bench_infer.py --e2e [--big]    # the user's path: colour photo -> PNG, new vs 31b009b (old), by stage;
                                                      # --big: a 4000x3000 photo and peak memory (1080p vs 4000x3000)

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


# ---------------------------------------------------------------- the user's path (issue 14): colour photos, files, video

BASELINE = '31b009b'   # the last commit before the user's path of issue 14 (native colour merge, streamed PNG): "old"


def _old_modules():
    "sesr_nb.color and sesr_nb.infer as of BASELINE: the path before the native colour merge, for comparison."
    import subprocess, types
    mods = {}
    for name in ('color', 'infer'):
        text = subprocess.run(['git', 'show', f'{BASELINE}:sesr_nb/{name}.py'], capture_output=True, text=True, check=True).stdout
        text = text.replace('from .color import', 'from sesr_nb_old_color import').replace('from .', 'from sesr_nb.')
        module = types.ModuleType(f'sesr_nb_old_{name}')
        import sys
        sys.modules[module.__name__] = module
        exec(compile(text, f'{BASELINE}:sesr_nb/{name}.py', 'exec'), module.__dict__)
        mods[name] = module
    return mods['infer']


def _photo(height: int, width: int) -> np.ndarray:
    "A smooth colour picture with sensor-like noise (compresses like a photograph, unlike pure noise)."
    yy, xx = np.mgrid[0:height, 0:width]
    noise = np.random.default_rng(0).normal(0, 5, (height, width, 3))
    return np.clip(np.dstack([128 + 90 * np.sin(xx / 61 + c) * np.cos(yy / 47 - c) for c in range(3)]) + noise + 0.5, 0, 255).astype(np.uint8)


def _vm_kib(key: str) -> int:
    "A line of /proc/self/status (VmRSS, VmHWM) in KiB."
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ':'))


def memory_probe(src: str, tile: str) -> None:
    """One PNG photo -> x2 PNG with `upscale_file` in this (fresh) process: prints the times of a first (compiling) and a
    second run, the tracemalloc peak of the second and the process's peak RSS (VmHWM; reset before the second run)."""
    import json, tempfile, tracemalloc
    from pathlib import Path
    from sesr_nb.batch import UpscaleJob, upscale_file
    config = sesr_config('M5', 2)
    model = TrainedModel(architecture_of(config), config, collapse(init_params(config)))
    work = Path(tempfile.mkdtemp(prefix='bench_mem_'))
    job = UpscaleJob(Path(src), work / 'out.png')
    rss_start = _vm_kib('VmRSS')
    start = time.perf_counter(); upscale_file(job, model, tile)[1](); cold = time.perf_counter() - start
    hwm_cold = _vm_kib('VmHWM')
    try:
        with open('/proc/self/clear_refs', 'w') as f: f.write('5')   # resets VmHWM to the current RSS
    except OSError: pass
    tracemalloc.start()
    start = time.perf_counter(); upscale_file(job, model, tile)[1](); warm = time.perf_counter() - start
    traced = tracemalloc.get_traced_memory()[1]; tracemalloc.stop()
    print(json.dumps({'cold_s': cold, 'warm_s': warm, 'traced_mb': traced / 1e6, 'rss_start_mb': rss_start / 1024,
                      'hwm_cold_mb': hwm_cold / 1024, 'hwm_warm_mb': _vm_kib('VmHWM') / 1024,
                      'png_mb': (work / 'out.png').stat().st_size / 1e6}))
    import shutil
    shutil.rmtree(work)


def bench_memory(tile: str = '2048x512') -> None:
    "Peak memory of the file path, one fresh process per photo, all with the same tile (so the same window shapes)."
    import json, subprocess, sys, tempfile
    from pathlib import Path
    from sesr_nb.fileio import write_image
    work = Path(tempfile.mkdtemp(prefix='bench_mem_'))
    print(f'  memory of PNG -> x2 PNG (upscale_file, tile {tile}, a fresh process per photo; tracemalloc: numpy/Python '
          f'arrays of the second run; VmHWM: peak RSS of the process, JAX buffers included, first run (compiles) / second):')
    for h, w in ((1080, 1920), (1500, 4000), (3000, 4000)):
        write_image(work / f'{w}x{h}.png', _photo(h, w))
        out = subprocess.run([sys.executable, __file__, '--memory-probe', str(work / f'{w}x{h}.png'), tile],
                             capture_output=True, text=True)
        if out.returncode: print(f'    {w}x{h}: probe failed: {out.stderr.strip().splitlines()[-1:]}'); continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f'    {w}x{h} -> {2 * w}x{2 * h}: {r["cold_s"]:5.1f} s / {r["warm_s"]:5.1f} s; tracemalloc peak {r["traced_mb"]:4.0f} MB '
              f'(8-bit input {h * w * 3 / 1e6:3.0f} MB, output {4 * h * w * 3 / 1e6:3.0f} MB); VmHWM {r["hwm_cold_mb"]:5.0f} / '
              f'{r["hwm_warm_mb"]:5.0f} MB (RSS {r["rss_start_mb"]:.0f} MB with the model loaded, before the first run)')
    import shutil
    shutil.rmtree(work)


def bench_end_to_end(repeats: int, big: bool) -> None:
    "1080p RGB photo -> 4K PNG: network alone vs upscale() vs file to file, new and old (31b009b) path interleaved."
    import tempfile, tracemalloc
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path
    from sesr_nb.batch import PngStreamWriter, UpscaleJob, read_upscale_input, upscale_file
    from sesr_nb.color import rgb_to_model_y
    from sesr_nb.fileio import write_image
    from sesr_nb.infer import colour_backend, upscale
    old = _old_modules()
    config = sesr_config('M5', 2)
    model = TrainedModel(architecture_of(config), config, collapse(init_params(config)))
    work = Path(tempfile.mkdtemp(prefix='bench_e2e_'))
    rgb = _photo(HEIGHT, WIDTH)
    gray = rgb[..., 1].copy()
    write_image(work / 'photo.png', rgb)
    y = rgb_to_model_y(rgb)
    def new_file(src, name, tile=DEFAULT_TILE):
        record, finish = upscale_file(UpscaleJob(src, work / name), model, tile)
        finish()
    cases = {
        'Y network alone (upscale_y_tiled, float32)': lambda: upscale_y_tiled(model, y),
        'upscale(gray uint8), new': lambda: upscale(gray, model),
        'upscale(gray uint8), old (31b009b)': lambda: old.upscale(gray, model),
        'upscale(RGB uint8), new': lambda: upscale(rgb, model),
        'upscale(RGB uint8), old (31b009b)': lambda: old.upscale(rgb, model),
        'PNG file -> 4K PNG file, new (level 1, streamed)': lambda: new_file(work / 'photo.png', 'new.png'),
        'PNG file -> 4K PNG file, old (31b009b, Pillow level 6)': lambda: old.upscale_file(old.UpscaleJob(work / 'photo.png', work / 'old.png'), model),
    }
    for fn in cases.values(): fn()   # warm-up and compilation
    times = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            start = time.perf_counter(); fn(); times[name].append(1000 * (time.perf_counter() - start))
    net = statistics.median(times['Y network alone (upscale_y_tiled, float32)'])
    import importlib.util
    deflate = 'zlib-ng' if importlib.util.find_spec('zlib_ng') else 'zlib'
    print(f'End to end, SESR-M5 x2, {WIDTH}x{HEIGHT} -> {2 * WIDTH}x{2 * HEIGHT} (interleaved, medians of {repeats}; '
          f'colour merge {colour_backend()}, PNG deflate by {deflate}):')
    for name in cases:
        print(f'  {name:52s} {summary(times[name])}   {statistics.median(times[name]) / net:5.2f}x network'
              f'  (min/min {min(times[name]) / min(times["Y network alone (upscale_y_tiled, float32)"]):4.2f}x)')
    print(f'  PNG sizes: new {(work / "new.png").stat().st_size / 1e6:.1f} MB, old {(work / "old.png").stat().st_size / 1e6:.1f} MB')
    # breakdown of the new file path by stage, each stage alone
    from sesr_nb.infer import iter_upscaled_rows
    out = upscale(rgb, model)
    def encode():
        with ThreadPoolExecutor(os.cpu_count()) as pool:
            w = PngStreamWriter(work / 'enc.png', out.shape[1], out.shape[0], 3, pool=pool)
            for a in range(0, out.shape[0], 64): w.write(out[a:a + 64])
            w.close()
    def merge():
        for _ in iter_upscaled_rows(rgb, model): pass
    stages = {'read PNG (Pillow)': lambda: read_upscale_input(work / 'photo.png'),
              'network input: rgb_to_model_y': lambda: rgb_to_model_y(rgb),
              'network (upscale_y_tiled)': lambda: upscale_y_tiled(model, y),
              'network + colour merge (iter_upscaled_rows)': merge,
              'PNG filter + deflate + write of the 4K result (2 threads)': encode}
    print('  new path by stage (each alone; the file path overlaps the PNG compression with the merge):')
    for name, fn in stages.items(): print(f'    {name:58s} {summary(timings(fn, repeats))}')
    if big:
        photo = _photo(3000, 4000)
        write_image(work / 'big.png', photo)
        runs = [('new, 1st run', lambda: new_file(work / 'big.png', 'big_new.png')),
                ('new, 2nd run', lambda: new_file(work / 'big.png', 'big_new.png')),
                ('old (31b009b)', lambda: old.upscale_file(old.UpscaleJob(work / 'big.png', work / 'big_old.png'), model))]
        for label, fn in runs:
            tracemalloc.start()
            start = time.perf_counter(); fn(); seconds = time.perf_counter() - start
            peak = tracemalloc.get_traced_memory()[1]; tracemalloc.stop()
            print(f'  4000x3000 PNG -> 8000x6000 PNG, {label:12s} {seconds:7.1f} s (default tile; the 1st run compiles), '
                  f'peak host arrays {peak / 1e6:6.0f} MB (tracemalloc; the 8-bit 8000x6000 result alone is 144 MB)')
        bench_memory()
    import shutil
    shutil.rmtree(work)


def bench_video(presets: list[str], frames: int) -> None:
    "Frames/s of sesr_nb.video.upscale_video (decode, upscale, H.264 encode) on synthetic clips."
    import tempfile
    from fractions import Fraction
    from pathlib import Path
    try:
        import av
    except ImportError:
        print('video: SKIPPED, PyAV is not installed (pip install "sesr_nb[video]")'); return
    from sesr_nb.video import upscale_video
    work = Path(tempfile.mkdtemp(prefix='bench_video_'))
    rows = []
    for (w, h) in ((960, 540), (1920, 1080)):
        clip = work / f'clip_{h}.mp4'
        picture = _photo(h, w)
        with av.open(str(clip), 'w') as out:
            stream = out.add_stream('libx264', rate=Fraction(25)); stream.width, stream.height, stream.pix_fmt = w, h, 'yuv420p'
            for k in range(frames):
                frame = av.VideoFrame.from_ndarray(np.roll(picture, 4 * k, axis=1), format='rgb24'); frame.pts = k
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
        for preset in presets:
            config = sesr_config(preset, 2)
            model = TrainedModel(architecture_of(config), config, collapse(init_params(config)))
            upscale_video(clip, work / 'warm.mp4', model, overwrite=True)      # compilation
            result = upscale_video(clip, work / 'up.mp4', model, overwrite=True)
            rows.append((f'{h}p -> {2 * h}p', f'SESR-{preset}', result['frames'], result['frames_per_second']))
    print(f'Video x2 (decode + upscale + H.264 CRF 18 encode, {frames} frames, {jax.default_backend()}):')
    print('| clip | model | frames/s |'); print('|---|---|---|')
    for clip, model, n, fps in rows: print(f'| {clip} | {model} | {fps:.2f} |')
    import shutil
    shutil.rmtree(work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='3 repeats instead of 7')
    parser.add_argument('--sweep', action='store_true', help='M5 over a range of tile shapes')
    parser.add_argument('--presets', nargs='+', default=['M3', 'M5', 'XL'])
    parser.add_argument('--tiles', nargs='+', default=None, help="tiles to time: N, WIDTHxHEIGHT, or 0 for the whole frame")
    parser.add_argument('--e2e', action='store_true', help='only the end-to-end RGB path (new vs 31b009b, the commit before it) and the video table')
    parser.add_argument('--big', action='store_true', help='with --e2e: also a 4000x3000 photo, new and old (slow)')
    parser.add_argument('--video-frames', type=int, default=8, help='frames per synthetic clip in the video table')
    parser.add_argument('--memory-probe', nargs=2, metavar=('PNG', 'TILE'), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_probe:
        memory_probe(*args.memory_probe); return
    repeats = 3 if args.quick else 7
    print(f'{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, jax {jax.__version__} '
          f'({jax.default_backend()}), conv backend {conv_backend()}, load average {os.getloadavg()[0]:.2f}')
    if args.e2e:
        bench_end_to_end(repeats, args.big)
        bench_video(['M3', 'M5'], args.video_frames)
        print(f'load average at the end: {os.getloadavg()[0]:.2f}')
        return
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
