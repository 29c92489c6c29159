"""Every training objective goes through the one engine (`sesr_nb.train`) and keeps its guarantees: a run interrupted
after an epoch boundary and resumed ends with the same bits as an uninterrupted one; a diverging run stops with a
message that says where the last good checkpoint is; the data-parallel step over two devices takes the step of one
device on the whole batch (float32 rounding). Parametrised over the objectives: the plain pixel loss, IMP's masked
loss, distillation, QAT and SMSR's Gumbel/sparsity schedule."""
import json, os, shutil, subprocess, sys, textwrap

import jax
import numpy as np
import pytest

from sesr_nb.checkpoint import load_train_params
from sesr_nb.train import TrainConfig, default_objective, train

SMALL = dict(data=('skimage:train',), val=(), batch_size=4, lr_patch=16, patches_per_image=2, learning_rate=1e-3,
             log_every=2)
OBJECTIVES = ['plain', 'masked', 'distill', 'qat', 'smsr']

# Built from the library's public pieces only; run in-process (resume, divergence) and in subprocesses (devices).
MAKE = textwrap.dedent('''
    def make_objective(kind, cfg, workdir):
        "The objective `kind` for the tiny network of `cfg` (teacher/mask/ranges made from a fixed random network)."
        import jax
        from sesr_nb.arch import TrainedModel
        from sesr_nb.checkpoint import save_model_file, load_trained
        from sesr_nb.models import collapse, init_params
        from sesr_nb.train import default_objective, train_sampler
        arch, config = cfg.network()
        if kind in ('plain', 'smsr'): return default_objective(cfg)
        if kind == 'masked':
            from sesr_nb.prune import magnitude_mask, masked_objective
            return masked_objective(config, magnitude_mask(jax.device_get(collapse(init_params(config, 3))), None, 0.5))
        if kind == 'distill':
            from sesr_nb.distill import distill_objective
            teacher = TrainedModel.from_train_params(arch, config, init_params(config, 7))
            return distill_objective(config, teacher.params, config, 'final', 1.0, 0.5)
        if kind == 'qat':
            from sesr_nb.quant import calibrate
            from sesr_nb.qat import qat_objective
            patches = train_sampler(cfg, cfg.scale).batch(0, 0).lr
            return qat_objective(config, calibrate(collapse(init_params(config, cfg.seed)), patches))
        raise ValueError(kind)
''')
exec(MAKE)


def config_for(kind: str, **changes) -> TrainConfig:
    "The tiny run of objective `kind` (SMSR's tiny preset for SMSR, SESR's otherwise)."
    return TrainConfig(**{**SMALL, 'arch': 'smsr-tiny' if kind == 'smsr' else 'tiny', **changes})


def params_of(run) -> list[np.ndarray]:
    return [np.asarray(a) for a in jax.tree.leaves(load_train_params(run)[2])]


@pytest.mark.parametrize('kind', OBJECTIVES)
def test_exact_resume_across_an_epoch(kind, tmp_path):
    "Stopped at step 8 (epoch 1 of 6-step epochs) and resumed to 10 = 10 in one go, bit for bit."
    objective = make_objective(kind, config_for(kind), tmp_path)
    whole = train(config_for(kind, steps=10), tmp_path / 'whole', progress=False, objective=objective)
    part = train(config_for(kind, steps=8), tmp_path / 'part', progress=False, objective=objective)
    assert part['steps'] == 8 and json.loads((tmp_path / 'part' / 'config.json').read_text())['steps'] == 8
    resumed = train(config_for(kind, steps=10), tmp_path / 'part', resume=True, progress=False, objective=objective)
    assert (whole['steps'], resumed['steps']) == (10, 10)
    for a, b in zip(params_of(tmp_path / 'whole'), params_of(tmp_path / 'part')): np.testing.assert_array_equal(a, b)
    # and the resume point really is past an epoch boundary, with a different shuffle than epoch 0's
    from sesr_nb.train import train_sampler
    sampler = train_sampler(config_for(kind), 2, config_for(kind).network()[0].color)
    assert sampler.steps_per_epoch == 6 and divmod(8, 6) == (1, 2)
    assert not np.array_equal(sampler.batch(1, 2).lr, sampler.batch(0, 2).lr)
    if kind != 'plain':   # the run records its objective, and a resume with another objective is refused
        assert 'objective' in json.loads((tmp_path / 'whole' / 'config.json').read_text())


@pytest.mark.parametrize('kind', OBJECTIVES)
def test_divergence_stops_with_a_message(kind, tmp_path):
    objective = make_objective(kind, config_for(kind), tmp_path)
    with pytest.raises(RuntimeError, match='training diverged at step'):
        train(config_for(kind, steps=6, learning_rate=1e35), tmp_path / 'nan', progress=False, objective=objective)
    assert 'error' in (tmp_path / 'nan' / 'metrics.jsonl').read_text()


WORKER = MAKE + textwrap.dedent('''
    import json, sys
    import jax, numpy as np
    from sesr_nb.train import TrainConfig, data_mesh, initial_state, make_optimizer, make_train_step, shard_batch, train_sampler
    kind = sys.argv[1]
    cfg = TrainConfig(data=('skimage:train',), val=(), batch_size=8, lr_patch=16, patches_per_image=2, learning_rate=1e-3,
                      arch='smsr-tiny' if kind == 'smsr' else 'tiny')
    objective, tx, mesh = make_objective(kind, cfg, None), make_optimizer(cfg), data_mesh()
    state = initial_state(cfg, tx)
    step = make_train_step(objective, tx, mesh)
    sampler = train_sampler(cfg, 2, cfg.network()[0].color)
    losses = []
    for i in range(3):
        b = sampler.batch(0, i)
        state, m = step(state, shard_batch(mesh, {'lr': b.lr, 'hr': b.hr, 'index': np.arange(len(b.lr), dtype=np.int32)}), objective.aux(i))
        losses.append(float(m['loss']))
    leaves = [np.asarray(a).ravel()[:16].tolist() for a in jax.tree.leaves(jax.device_get(state.params))]
    print(json.dumps({'devices': jax.device_count(), 'losses': losses, 'leaves': leaves}))
''')


def run_devices(kind: str, devices: int, tmp_path) -> dict:
    script = tmp_path / 'worker.py'
    script.write_text(WORKER)
    env = {**os.environ, 'XLA_FLAGS': f'--xla_force_host_platform_device_count={devices}'}
    out = subprocess.run([sys.executable, str(script), kind], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize('kind', OBJECTIVES)
def test_two_devices_take_the_one_device_step(kind, tmp_path):
    one, two = run_devices(kind, 1, tmp_path), run_devices(kind, 2, tmp_path)
    assert (one['devices'], two['devices']) == (1, 2)
    np.testing.assert_allclose(two['losses'], one['losses'], rtol=2e-5)
    for a, b in zip(two['leaves'], one['leaves']): np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
