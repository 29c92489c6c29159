"""A steady stream of forward passes for a profiler to sample: a shipped SESR model (float32 native kernels, or its
int8 network with --int8) on a random Y frame, `--calls` times after one warm-up call; prints the process CPU time
per call (both cores together, so the load of other processes matters less than for wall time) and the MACs per
CPU-second. Run it under `perf`:

    perf record -e cpu-clock -F 1000 -o fwd.data python benchmarks/profile_forward.py --model M5 --height 1080 --calls 40
    perf report -i fwd.data --no-children --sort dso,symbol

With few calls the kernel's page zeroing for the first calls' fresh buffers shows up (16 % of the samples with 12
calls of M5 at 1080p, 1.3 % with 40): profile enough calls. Results: benchmarks/results/profile_forward.md.
"""
from __future__ import annotations
import argparse, sys, time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--model', default='M5', help='shipped SESR preset (M3, M5, M11)')
    parser.add_argument('--scale', type=int, default=2)
    parser.add_argument('--height', type=int, default=1080, help='LR frame height (width = 16/9 of it)')
    parser.add_argument('--calls', type=int, default=40)
    parser.add_argument('--int8', action='store_true', help='the int8 network on the native int8 kernels (23_int8)')
    args = parser.parse_args()
    from sesr_nb.conv import tune_process
    tune_process()
    import jax.numpy as jnp, numpy as np
    from sesr_nb.checkpoint import load_pretrained
    model = load_pretrained(args.model, args.scale)
    if args.int8:
        from sesr_nb.int8 import quantize_int8
        model = quantize_int8(model)
    width = args.height * 16 // 9
    x = jnp.asarray(np.random.default_rng(0).random((1, args.height, width, 1), np.float32))
    model.forward(x).block_until_ready()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(args.calls): model.forward(x).block_until_ready()
    cpu, wall = (time.process_time() - cpu) / args.calls, (time.perf_counter() - wall) / args.calls
    macs = sum(int(np.prod(p['kernel'].shape)) for name, p in model.params.items() if 'kernel' in p) * args.height * width
    print(f'{model.name} on {width}x{args.height}: {1000 * cpu:.1f} ms CPU per call, {1000 * wall:.1f} ms wall; '
          f'{macs / 1e9:.2f} GMAC per call, {macs / cpu / 1e9:.1f} GMAC per CPU-second')
    return 0


if __name__ == '__main__':
    sys.exit(main())
