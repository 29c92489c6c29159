"""Integration tests of training and the command line: data-parallel equality across devices, and the `sesr_nb`
subcommands `info`, `train`, `evaluate`, `export` and `demo` run end to end through the installed console script."""
import json, os, subprocess, sys, textwrap

import numpy as np

STEPS = textwrap.dedent('''
    import json, jax, jax.numpy as jnp, numpy as np
    from sesr_nb.train import TrainConfig, default_objective, initial_state, make_optimizer, make_train_step, data_mesh, shard_batch
    cfg = TrainConfig(arch='tiny', data=('skimage:train',), val=(), learning_rate=1e-2)
    tx = make_optimizer(cfg)
    state = initial_state(cfg, tx)
    mesh = data_mesh()
    objective = default_objective(cfg)
    step = make_train_step(objective, tx, mesh=mesh)
    rng = np.random.default_rng(0)
    losses = []
    for _ in range(4):
        lr = rng.random((8, 16, 16, 1), np.float32)
        hr = np.repeat(np.repeat(lr, 2, 1), 2, 2) * 0.9
        state, m = step(state, shard_batch(mesh, {'lr': lr, 'hr': hr}), objective.aux(len(losses)))
        losses.append(float(m['loss']))
    leaf = np.asarray(jax.tree.leaves(state.params)[0]).ravel()[:8].tolist()
    print(json.dumps({'devices': jax.device_count(), 'losses': losses, 'leaf': leaf}))
''')


def run_python(code: str, devices: int) -> dict:
    "Run `code` in a fresh interpreter with `devices` forced CPU devices; parse its last stdout line as JSON."
    env = {**os.environ, 'XLA_FLAGS': f'--xla_force_host_platform_device_count={devices}'}
    out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_two_devices_match_one():
    "Data-parallel training over 2 devices takes the same steps as 1 device (float32 tolerance)."
    one, two = run_python(STEPS, 1), run_python(STEPS, 2)
    assert (one['devices'], two['devices']) == (1, 2)
    np.testing.assert_allclose(two['losses'], one['losses'], rtol=1e-5)
    np.testing.assert_allclose(two['leaf'], one['leaf'], rtol=1e-4, atol=1e-6)


def sesr_nb(*args, cwd=None, check=True):
    "Run the installed `sesr_nb` console script."
    out = subprocess.run(['sesr_nb', *map(str, args)], capture_output=True, text=True, timeout=900, cwd=cwd)
    if check: assert out.returncode == 0, out.stderr[-3000:]
    return out


def test_info_json_is_the_architecture_cost_record():
    "`sesr_nb info --json` prints the registry's cost record of the preset, for any scale and input size."
    from sesr_nb.arch import arch_config
    record = json.loads(sesr_nb('info', '--arch', 'M5', '--scale', '3', '--lr-size', '40x24', '--batch', '32', '--json').stdout)
    arch, config = arch_config('M5', 3)
    assert record == json.loads(json.dumps(arch.complexity(config, (24, 40), 32)))
    assert 'ratio' in sesr_nb('info', '--arch', 'M5').stdout


def test_train_resume_evaluate_export(tmp_path):
    "A tiny run trains, resumes, evaluates through `evaluate --model WORKDIR`, and exports both formats."
    common = ['--arch', 'tiny', '--data', 'skimage:train', '--val', 'skimage:eval', '--batch-size', '4',
              '--lr-patch', '16', '--patches-per-image', '4', '--workdir', tmp_path / 'run', '--json']
    first = json.loads(sesr_nb('train', *common, '--steps', '6').stdout)
    assert first['steps'] == 6 and first['best_step'] == 6
    refused = sesr_nb('train', *common, '--steps', '12', check=False)
    assert refused.returncode == 2 and '--resume' in refused.stderr
    second = json.loads(sesr_nb('train', *common, '--steps', '12', '--resume').stdout)
    assert second['steps'] == 12
    lines = [json.loads(l) for l in (tmp_path / 'run' / 'metrics.jsonl').read_text().splitlines()]
    assert [l['step'] for l in lines if 'val_psnr' in l] == [6, 12]
    assert (tmp_path / 'run' / 'report' / 'curves.png').stat().st_size > 0

    result = json.loads(sesr_nb('evaluate', '--model', tmp_path / 'run', '--data', 'skimage:eval', '--scale', '2', '--json').stdout)
    # evaluating the run scores its best checkpoint: the same number its validation logged
    assert abs(result['sets'][0]['psnr'] - second['best_val_psnr']) < 1e-3, (result['sets'][0]['psnr'], second)
    wrong = sesr_nb('evaluate', '--model', tmp_path / 'run', '--data', 'skimage:eval', '--scale', '4', check=False)
    assert wrong.returncode == 2 and 'x2 model' in wrong.stderr

    for suffix in ('npz', 'stablehlo'):
        out = json.loads(sesr_nb('export', '--model', tmp_path / 'run', '--out', tmp_path / f'm.{suffix}', '--json').stdout)
        assert out['bytes'] == (tmp_path / f'm.{suffix}').stat().st_size
    from sesr_nb.resolve import load_model
    y = np.random.default_rng(0).random((9, 11), np.float32)
    np.testing.assert_array_equal(load_model(tmp_path / 'm.npz').upscale_y(y), load_model(tmp_path / 'run').upscale_y(y))
    again = sesr_nb('export', '--model', tmp_path / 'run', '--out', tmp_path / 'm.npz', check=False)
    assert again.returncode == 2 and '--overwrite' in again.stderr


def test_train_rejects_bad_input(tmp_path):
    bad = sesr_nb('train', '--arch', 'M9', '--workdir', tmp_path, check=False)
    assert bad.returncode == 2 and 'unknown architecture or preset' in bad.stderr
    missing = sesr_nb('train', '--arch', 'tiny', '--data', tmp_path / 'nope', '--val', '--steps', '2', '--workdir', tmp_path / 'r', check=False)
    assert missing.returncode == 2 and 'nope' in missing.stderr


def test_demo_miniature(tmp_path):
    "The main job's pipeline end to end, shortened (the full default run is what README command 1 runs)."
    out = json.loads(sesr_nb('demo', '--workdir', tmp_path, '--arch', 'tiny', '--steps', '20', '--batch-size', '8',
                             '--lr-patch', '24', '--no-benchmarks', '--json').stdout)
    assert out['steps'] == 20 and out['results'][0]['set'] == 'skimage-eval'
    for name in ('results.md', 'curves.png', 'comparison.png', 'error_maps.png', 'model.npz'):
        assert (tmp_path / 'report' / name).exists(), name
