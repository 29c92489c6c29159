#!/usr/bin/env python3
"""The collapsed SESR-M5 x2 training step against the official code's TensorFlow step, interleaved in one run.

The official code (ARM-software/sesr) trains SESR with "collapsed" linear blocks: at every step each block's expanded
weights (a kxk conv to 256 channels, then a 1x1 back) are collapsed into one kxk kernel by running the expanded block
on a zero-padded identity, the short residual is added to that kernel, and the network runs on the collapsed kernels;
the gradient flows back through the collapse to the expanded weights. `tf_worker` below is that step written here in
TensorFlow 2 / Keras (our code, the official model's structure: 5x5 1->16 block, five 3x3 16->16 blocks with PReLU,
the long residual over the blocks, 5x5 16->4 block, + input, depth-to-space, clip; L1 loss, Adam, one
`tf.function`). TensorFlow lives in its own virtual environment (created by this script when missing: `pip install
tensorflow-cpu`), run as a worker process that takes "run N" on stdin and answers with the step times; sesr_nb's step
is `sesr_nb.train.make_train_step` on the same batch (32 LR patches of 64x64, x2). Each round times N steps of every
item, in alternating order, so a change of machine load hits all alike; medians over the rounds' steps.

Items: sesr_nb with its default kernels (the 3x3 16->16 convolutions, forward, input and weight gradients, by
Winograd's F(4x4, 3x3): sesr_nb/csrc/conv_winograd.cc), sesr_nb with Winograd off (SESR_NB_WINOGRAD=0: the direct
kernels for every convolution, what the step was before them), and the TF step.

    python benchmarks/bench_train_tf.py [--rounds 8] [--steps 5] [--tf-venv DIR]

Writes benchmarks/results/train_vs_tf.{md,json}.
"""
from __future__ import annotations
import argparse, json, os, platform, statistics, subprocess, sys, time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / 'results'
BATCH, PATCH, SCALE, FEATURES, BLOCKS, EXPANDED = 32, 64, 2, 16, 5, 256


def tf_worker() -> None:
    "Runs in the TensorFlow venv: build the official-style collapsed SESR-M5 step, then answer 'run N' commands."
    import numpy as np
    import tensorflow as tf

    class CollapsedBlock(tf.keras.layers.Layer):
        "A linear block trained collapsed: expanded kxk->256 and 1x1 convs, collapsed at every call on an identity."
        def __init__(self, cin, cout, k):
            super().__init__()
            self.cin, self.cout, self.k = cin, cout, k
            self.expand = tf.keras.layers.Conv2D(EXPANDED, k, padding='valid')
            self.project = tf.keras.layers.Conv2D(cout, 1, padding='valid')
            eye = np.zeros((cin, 2 * k - 1, 2 * k - 1, cin), np.float32)   # identity images, padded by k-1
            for c in range(cin): eye[c, k - 1, k - 1, c] = 1.0
            self.identity = tf.constant(eye)
            residual = np.zeros((k, k, cin, cout), np.float32)
            if cin == cout:
                for c in range(cin): residual[k // 2, k // 2, c, c] = 1.0
            self.residual = tf.constant(residual)

        def call(self, x):
            response = self.project(self.expand(self.identity))             # (cin, k, k, cout), flipped
            kernel = tf.transpose(tf.reverse(response, [1, 2]), [1, 2, 0, 3])
            return tf.nn.conv2d(x, kernel + self.residual, 1, 'SAME')

    class SESR(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.first = CollapsedBlock(1, FEATURES, 5)
            self.blocks = [CollapsedBlock(FEATURES, FEATURES, 3) for _ in range(BLOCKS)]
            self.acts = [tf.keras.layers.PReLU(shared_axes=[1, 2]) for _ in range(BLOCKS)]
            self.last = CollapsedBlock(FEATURES, SCALE * SCALE, 5)

        def call(self, x):
            f0 = f = self.first(x - 0.5)
            for block, act in zip(self.blocks, self.acts): f = act(block(f))
            out = self.last(f + f0) + x
            return tf.clip_by_value(tf.nn.depth_to_space(out, SCALE), 0.0, 1.0)

    model, opt = SESR(), tf.keras.optimizers.Adam(5e-4)
    rng = np.random.default_rng(0)
    lr = tf.constant(rng.random((BATCH, PATCH, PATCH, 1), np.float32))
    hr = tf.constant(rng.random((BATCH, SCALE * PATCH, SCALE * PATCH, 1), np.float32))

    @tf.function
    def step(lr, hr):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.abs(model(lr) - hr))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    for _ in range(2): step(lr, hr).numpy()                                  # trace, compile, first run
    print(json.dumps({'ready': True, 'tensorflow': tf.__version__,
                      'parameters': int(sum(np.prod(v.shape) for v in model.trainable_variables))}), flush=True)
    for line in sys.stdin:
        times = []
        for _ in range(int(line.split()[1])):
            start = time.perf_counter()
            step(lr, hr).numpy()
            times.append(1000 * (time.perf_counter() - start))
        print(json.dumps(times), flush=True)


def tf_python(venv: Path) -> Path:
    "The TensorFlow venv's python, creating the venv (pip install tensorflow-cpu) when it is missing."
    python = venv / 'bin' / 'python'
    if not python.exists():
        print(f'creating {venv} with tensorflow-cpu (once)', file=sys.stderr)
        subprocess.run([sys.executable, '-m', 'venv', str(venv)], check=True)
        subprocess.run([str(python), '-m', 'pip', 'install', '-q', 'tensorflow-cpu', 'numpy'], check=True)
    return python


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--rounds', type=int, default=8)
    parser.add_argument('--steps', type=int, default=5, help='steps per item and round')
    parser.add_argument('--tf-venv', default=str(Path.home() / '.cache' / 'sesr_nb' / 'tf-venv'))
    parser.add_argument('--out', default=str(RESULTS / 'train_vs_tf'))
    parser.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        tf_worker()
        return 0

    from sesr_nb.conv import conv_backend, tune_process
    tune_process()
    import jax, jax.numpy as jnp, numpy as np
    from sesr_nb.train import TrainConfig, initial_state, make_optimizer, make_train_step, pixel_objective
    from timing import write_report

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', CUDA_VISIBLE_DEVICES='')
    worker = subprocess.Popen([str(tf_python(Path(args.tf_venv))), __file__, '--worker'], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env)
    info = json.loads(worker.stdout.readline())

    cfg = TrainConfig(arch='M5', scale=SCALE, data=('skimage:train',), val=(), batch_size=BATCH, lr_patch=PATCH)
    tx = make_optimizer(cfg)
    state = initial_state(cfg, tx)
    objective = pixel_objective(cfg.network()[1], 'collapsed')
    step = make_train_step(objective, tx)
    rng = np.random.default_rng(0)
    batch = {'lr': jnp.asarray(rng.random((BATCH, PATCH, PATCH, 1), np.float32)),
             'hr': jnp.asarray(rng.random((BATCH, SCALE * PATCH, SCALE * PATCH, 1), np.float32))}
    counter = [0]

    def ours(winograd: str):
        def run(n):
            os.environ['SESR_NB_WINOGRAD'] = winograd
            nonlocal state
            times = []
            for _ in range(n):
                start = time.perf_counter()
                state, metrics = step(state, batch, objective.aux(counter[0]))
                jax.block_until_ready(metrics)
                times.append(1000 * (time.perf_counter() - start))
                counter[0] += 1
            return times
        return run

    def tensorflow(n):
        worker.stdin.write(f'run {n}\n'); worker.stdin.flush()
        return json.loads(worker.stdout.readline())

    items = {'sesr_nb (native kernels, Winograd 3x3)': ours('1'),
             'sesr_nb (native kernels, direct 3x3: SESR_NB_WINOGRAD=0)': ours('0'),
             f'official-style TensorFlow {info["tensorflow"]} step': tensorflow}
    for run in items.values(): run(2)                                      # warm-up
    times = {name: [] for name in items}
    load_start = os.getloadavg()[0]
    for r in range(args.rounds):
        for name in (list(items) if r % 2 == 0 else list(items)[::-1]):
            times[name] += items[name](args.steps)
    worker.stdin.close(); worker.wait()
    os.environ.pop('SESR_NB_WINOGRAD', None)

    medians = {name: statistics.median(t) for name, t in times.items()}
    tf_name = list(items)[-1]
    lines = [f'{platform.machine()}, {len(os.sched_getaffinity(0))} usable CPUs, jax {jax.__version__} (conv backend '
             f'{conv_backend()}), TensorFlow {info["tensorflow"]} (TF model: {info["parameters"]:,} trainable '
             f'parameters), load average {load_start:.2f}', '',
             f'SESR-M5 x2 collapsed training step, batch {BATCH} of {PATCH}x{PATCH}: {args.rounds} interleaved rounds '
             f'of {args.steps} steps per item, medians:', '',
             '| step | median ms | quartiles ms | TF step / this |', '|---|---|---|---|']
    for name, t in times.items():
        q1, q3 = np.percentile(t, [25, 75])
        lines.append(f'| {name} | {medians[name]:.1f} | {q1:.1f}-{q3:.1f} | {medians[tf_name] / medians[name]:.2f}x |')
    lines += ['', f'load average at the end: {os.getloadavg()[0]:.2f}']
    print('\n'.join(lines))
    write_report(Path(args.out), {'rounds': args.rounds, 'steps_per_round': args.steps, 'ms': times,
                                  'median_ms': medians, 'tensorflow': info['tensorflow'],
                                  'load_average': [round(load_start, 2), round(os.getloadavg()[0], 2)],
                                  'machine': {'cpus': len(os.sched_getaffinity(0)), 'jax': jax.__version__}}, lines)
    return 0


if __name__ == '__main__':
    sys.exit(main())
