"""The timing loops the benchmark scripts share: jitted calls, and the training sampler's patch rate."""
import time

import jax


def timings(fn, repeats: int) -> list[float]:
    "Wall times in ms of `repeats` calls of `fn()`, each waited for (block_until_ready), after one warm-up call (which also compiles)."
    jax.block_until_ready(fn())
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        out.append(1000 * (time.perf_counter() - start))
    return out


def sampler_patch_rate(images, batch: int, patch: int, seconds: float) -> int:
    "Patches per second the training sampler (with its prefetch thread) delivers from `images`, measured for `seconds`."
    from sesr_nb.sampler import PatchSampler, SamplerConfig
    sampler = PatchSampler(images, SamplerConfig(lr_patch=patch, batch_size=batch))
    n, t0 = 0, time.perf_counter()
    with sampler.stream() as stream:
        for b in stream:
            n += b.lr.shape[0]
            if time.perf_counter() - t0 > seconds: break
    return round(n / (time.perf_counter() - t0))
