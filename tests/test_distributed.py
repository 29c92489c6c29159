"""Multi-process training on one machine: a 2-process JAX cluster (coordinator on 127.0.0.1, one CPU device per process,
Gloo collectives) trains a tiny SESR to the same parameters as one process with two devices (bit for bit: the same
per-device programs and the same two-operand all-reduce) and as one device on the whole batch (to float32 rounding:
the pmean of the half-batch gradients is the full-batch gradient, summed in another order)."""
import argparse, os, subprocess, sys, textwrap, time

import numpy as np
import pytest

from sesr_nb.distributed import add_distributed_args, cpu_collectives_available, initialize_from_args, launch_local

STEPS, BATCH = 3, 8

# Built only from the library's public pieces; every process draws the same global batches and keeps its slice.
WORKER = textwrap.dedent(f'''
    import argparse
    import numpy as np
    from sesr_nb.distributed import add_distributed_args, initialize_from_args, is_primary
    parser = argparse.ArgumentParser()
    parser.add_argument('out')
    add_distributed_args(parser)
    args = parser.parse_args()
    initialize_from_args(args)
    import jax, jax.numpy as jnp
    from jax.sharding import NamedSharding, PartitionSpec as P
    from sesr_nb.models import init_params, sesr_config
    from sesr_nb.train import TrainConfig, TrainState, data_mesh, make_optimizer, make_train_step, pixel_objective, shard_batch
    config, tx, mesh = sesr_config('tiny', 2), make_optimizer(TrainConfig(learning_rate=1e-2)), data_mesh()
    params = init_params(config, 0)
    flat = lambda tree: np.concatenate([np.ravel(np.asarray(a)) for a in jax.tree.leaves(jax.device_get(tree))])
    init = flat(params)  # before the step donates (consumes) these buffers
    state = jax.device_put(TrainState(jnp.zeros((), jnp.int32), params, tx.init(params)), NamedSharding(mesh, P()))
    objective = pixel_objective(config)
    step = make_train_step(objective, tx, mesh=mesh)
    rng = np.random.default_rng(0)
    losses = []
    for _ in range({STEPS}):
        lr, hr = rng.random(({BATCH}, 12, 12, 1), np.float32), rng.random(({BATCH}, 24, 24, 1), np.float32)
        state, metrics = step(state, shard_batch(mesh, {{'lr': lr, 'hr': hr}}), objective.aux(len(losses)))
        losses.append(float(metrics['loss']))
    np.savez(f'{{args.out}}.{{jax.process_index()}}.npz', init=init, final=flat(state.params), losses=losses,
             devices=jax.device_count(), local_devices=jax.local_device_count(), processes=jax.process_count(),
             primary=is_primary())
''')


def run_single(script, out, devices: int) -> dict:
    "The worker in one process with `devices` CPU devices."
    env = {**os.environ, 'JAX_PLATFORMS': 'cpu', 'JAX_NUM_CPU_DEVICES': str(devices)}
    done = subprocess.run([sys.executable, str(script), str(out)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f'the {devices}-device run failed:\n{done.stderr[-3000:]}'
    return dict(np.load(f'{out}.0.npz'))


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    "The worker's results: a 2-process cluster (one per process), one process x 2 devices, one process x 1 device."
    if not cpu_collectives_available('gloo'):
        pytest.skip('the installed jaxlib has no Gloo CPU collectives: CPU processes cannot all-reduce')
    tmp = tmp_path_factory.mktemp('distributed')
    script = tmp / 'worker.py'
    script.write_text(WORKER)
    t0 = time.perf_counter()
    launch_local([sys.executable, script, tmp / 'cluster'], num_processes=2, timeout=180)  # raises with both stderrs
    print(f'2-process run: {time.perf_counter() - t0:.1f} s')
    cluster = [dict(np.load(tmp / f'cluster.{i}.npz')) for i in range(2)]
    return cluster, run_single(script, tmp / 'two', 2), run_single(script, tmp / 'one', 1)


def test_cluster_layout(runs):
    "Two processes, one CPU device each, two devices in the mesh; only process 0 is the primary."
    cluster, two, one = runs
    layout = [(int(r['processes']), int(r['devices']), int(r['local_devices']), bool(r['primary'])) for r in cluster]
    assert layout == [(2, 2, 1, True), (2, 2, 1, False)]
    assert (int(two['processes']), int(two['devices']), int(one['devices'])) == (1, 2, 1)


def test_two_processes_train_like_one(runs):
    cluster, two, one = runs
    np.testing.assert_array_equal(cluster[1]['final'], cluster[0]['final'])  # replicas stay identical
    # the same per-device programs and the same 2-operand all-reduce as one process with two devices: equal bits
    np.testing.assert_allclose(cluster[0]['final'], two['final'], rtol=1e-7, atol=0)
    np.testing.assert_allclose(cluster[0]['losses'], two['losses'], rtol=1e-7, atol=0)
    # the plain full-batch step on one device (no all-reduce): equal to float32 rounding
    np.testing.assert_allclose(cluster[0]['final'], one['final'], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(cluster[0]['losses'], one['losses'], rtol=1e-5)
    # ... while training moved the parameters far more than those tolerances
    assert np.abs(one['final'] - one['init']).max() > 1e-3
    assert len(set(np.round(one['losses'], 6))) == STEPS


def test_flags_are_checked_before_joining():
    "Incomplete or inconsistent multi-host flags fail with the flag to fix, before any process waits for its peers."
    parser = argparse.ArgumentParser()
    add_distributed_args(parser)
    refused = {('--num-processes', '2'): 'add --distributed',
               ('--distributed', '--num-processes', '2', '--process-id', '0'): 'needs --coordinator-address',
               ('--distributed', '--coordinator-address', 'h:1', '--num-processes', '2', '--process-id', '-1'): '0..1',
               ('--distributed', '--coordinator-address', 'h:port', '--num-processes', '2', '--process-id', '0'): 'HOST:PORT'}
    for argv, message in refused.items():
        with pytest.raises(ValueError, match=message): initialize_from_args(parser.parse_args(argv))
    assert initialize_from_args(parser.parse_args([])) is False
