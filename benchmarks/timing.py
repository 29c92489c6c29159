"""What the benchmark scripts share: the timing loops (jitted calls, the training sampler's patch rate) and the
writing of their results (a JSON record and the printed report)."""
import sys, time
from pathlib import Path

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


def write_report(out: Path, result: dict, lines: list[str], text_suffix: str = '.md') -> None:
    "Write `result` to OUT.json and the report `lines` to OUT + `text_suffix`, each atomically, and say so on stderr."
    from sesr_nb.fileio import write_bytes_atomic, write_json_atomic
    out = Path(out)
    write_json_atomic(out.with_suffix('.json'), result)
    write_bytes_atomic(out.with_suffix(text_suffix), ('\n'.join(lines) + '\n').encode())
    print(f'wrote {out.with_suffix(".json")} and {out.with_suffix(text_suffix)}', file=sys.stderr)
