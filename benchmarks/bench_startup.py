"""Start-up time of the command line (issue: the newcomer's path, item 7): how long `sesr_nb ... --help` and a whole
`sesr_nb upscale photo.png` process take, the latter with JAX's persistent compilation cache empty ('cold': every
program compiled) and filled by a previous run ('warm': the cache the CLI keeps in the user's cache folder), in
interleaved rounds on the same 1080p photo. Medians; the ratio cold/warm is what the cache saves.
    python benchmarks/bench_startup.py [--rounds 5] [--out benchmarks/results/bench_startup]"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time
from pathlib import Path

import numpy as np
from PIL import Image


def timed(argv, env) -> float:
    "Wall seconds of one process (it must succeed)."
    t0 = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode != 0: raise RuntimeError(f'{argv} failed: {done.stderr[-2000:]}')
    return time.perf_counter() - t0


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--out', default='benchmarks/results/bench_startup')
    args = parser.parse_args(argv)
    script = str(Path(sys.executable).parent / 'sesr_nb')
    work = Path(tempfile.mkdtemp(prefix='sesr_nb_startup_'))
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:1080, 0:1920]
    photo = np.dstack([128 + 100 * np.sin(xx / (17 + 5 * c)) * np.cos(yy / 23) for c in range(3)]) + rng.normal(0, 8, (1080, 1920, 3))
    Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8)).save(work / 'photo.png')
    native = {**os.environ, 'SESR_NB_CACHE': str(work / 'cache')}
    timed([script, 'info', '--arch', 'M5'], native)   # builds the native kernels once, outside the timings
    upscale = [script, 'upscale', str(work / 'photo.png'), '--model', 'pretrained:M5x2', '--out', str(work / 'out'), '--overwrite']
    times = {k: [] for k in ('sesr_nb --help', 'sesr_nb upscale --help', 'sesr_nb train --help', 'upscale 1080p, cold cache',
                             'upscale 1080p, warm cache')}
    for _ in range(args.rounds):
        for label, argv in (('sesr_nb --help', [script, '--help']), ('sesr_nb upscale --help', [script, 'upscale', '--help']),
                            ('sesr_nb train --help', [script, 'train', '--help'])):
            times[label].append(timed(argv, native))
        shutil.rmtree(work / 'cache' / 'jax', ignore_errors=True)
        times['upscale 1080p, cold cache'].append(timed(upscale, native))
        times['upscale 1080p, warm cache'].append(timed(upscale, native))
    rows = {k: {'median_s': round(statistics.median(v), 3), 'min_s': round(min(v), 3), 'runs': [round(t, 3) for t in v]}
            for k, v in times.items()}
    cold, warm = rows['upscale 1080p, cold cache']['median_s'], rows['upscale 1080p, warm cache']['median_s']
    load = os.getloadavg()
    text = [f'sesr_nb start-up, {args.rounds} interleaved rounds, load average {load[0]:.1f} (medians, seconds)', '']
    text += [f'{k:28s} {v["median_s"]:7.3f}   (min {v["min_s"]:.3f})' for k, v in rows.items()]
    text += ['', f'the persistent compilation cache saves {cold - warm:.2f} s per process ({cold / warm:.2f}x)']
    print('\n'.join(text))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix('.json').write_text(json.dumps({'rows': rows, 'load_average': load, 'rounds': args.rounds}, indent=2))
    out.with_suffix('.txt').write_text('\n'.join(text) + '\n')
    shutil.rmtree(work)


if __name__ == '__main__':
    main()
