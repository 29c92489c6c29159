"""Speed of the data layer: MATLAB-bicubic `imresize` on a DIV2K-sized frame, and the training patch sampler.

    python benchmarks/bench_data.py            # about 30 s on 2 CPU cores
    python benchmarks/bench_data.py --quick    # fewer repeats

Prints the figures; nothing is asserted. Inputs are synthetic (random pixels), so no data set is needed.
"""
from __future__ import annotations
import argparse, os, platform, statistics, time

import numpy as np

from sesr_nb.color import bicubic_downscale, bicubic_upscale, imresize
from sesr_nb.sampler import PatchSampler, SamplerConfig, TrainingImages

from timing import timings


def median_ms(fn, repeats: int) -> float:
    "Median wall time of `fn()` in milliseconds, after one warm-up call."
    return statistics.median(timings(fn, repeats))


def bench_imresize(repeats: int) -> None:
    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (1404, 2040, 3), dtype=np.uint8)  # H x W x 3: a 2040x1404 DIV2K-sized frame
    print(f'imresize, 2040x1404 RGB (median of {repeats}):')
    for s in (2, 3, 4):
        print(f'  uint8 down x{s} (2040x1404 -> {2040 // s}x{1404 // s})   {median_ms(lambda: bicubic_downscale(hr, s), repeats):7.1f} ms')
    for s in (2, 3, 4):
        lr = hr[:1404 // s, :2040 // s]
        print(f'  uint8 up   x{s} ({2040 // s}x{1404 // s} -> {2040 // s * s}x{1404 // s * s})   '
              f'{median_ms(lambda: bicubic_upscale(lr, s), repeats):7.1f} ms')
    hr_float = hr.astype(np.float32) / 255
    print(f'  float32 down x2                        {median_ms(lambda: imresize(hr_float, 0.5), repeats):7.1f} ms')
    gray = hr[..., 0]
    print(f'  uint8 gray (Y) down x2                 {median_ms(lambda: bicubic_downscale(gray, 2), repeats):7.1f} ms')


def synthetic_cache(num_images: int, scale: int, lr_shape=(702, 1020)) -> TrainingImages:
    "DIV2K-sized luma planes (LR 1020x702 at x2) filled with random values."
    rng = np.random.default_rng(1)
    lr_shape = (lr_shape[0] * 2 // scale, lr_shape[1] * 2 // scale)
    lrs = tuple(rng.integers(0, 256, lr_shape, dtype=np.uint8) for _ in range(num_images))
    hrs = tuple(rng.integers(0, 256, (lr_shape[0] * scale, lr_shape[1] * scale), dtype=np.uint8) for _ in range(num_images))
    return TrainingImages(scale, tuple(str(i) for i in range(num_images)), lrs, hrs)


def bench_sampler(num_batches: int, num_images: int) -> None:
    print(f'patch sampler, {num_images} DIV2K-sized images, LR patch 64, 64 patches per image, batch 32, augmentation on:')
    for scale in (2, 4):
        cache = synthetic_cache(num_images, scale)
        sampler = PatchSampler(cache, SamplerConfig(lr_patch=64, patches_per_image=64, batch_size=32, seed=0))
        positions = [(e, t) for e in range(-(-num_batches // sampler.steps_per_epoch)) for t in range(sampler.steps_per_epoch)]
        positions = positions[:num_batches]
        sampler.batch(0, 0)  # warm-up
        start = time.perf_counter()
        for epoch, step in positions: sampler.batch(epoch, step)
        direct = len(positions) * 32 / (time.perf_counter() - start)
        start = time.perf_counter()
        with sampler.stream() as stream:
            for count, _ in enumerate(stream, 1):
                if count == len(positions): break
        streamed = len(positions) * 32 / (time.perf_counter() - start)
        print(f'  x{scale} (HR patch {64 * scale}): {cache.nbytes / 2**20:4.0f} MiB cache, {len(positions)} batches: '
              f'{direct:7.0f} patches/s direct (batch(e, t)), {streamed:7.0f} patches/s streamed (prefetch thread)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='fewer repeats and batches')
    args = parser.parse_args()
    print(f'{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, numpy {np.__version__}')
    bench_imresize(repeats=3 if args.quick else 7)
    bench_sampler(num_batches=50 if args.quick else 200, num_images=16)


if __name__ == '__main__':
    main()
