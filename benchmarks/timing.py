"""The timing loop the benchmark scripts share."""
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
