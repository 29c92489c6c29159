"""The GPU session script, proven on the CPU: `benchmarks/gpu_pack.py` packs images losslessly into the benchmark layout,
and `benchmarks/gpu_run.sh --dry-run` runs every stage (environment, nbdev tests, throughput, training chains with a
x4 run initialised from x2, packing) on tiny settings, keeps to its time budget, and leaves in $OUT only what the device
machine sends back (at most 8 files, 16 MiB each, two folders deep, plain names)."""
import json, os, re, subprocess, sys, tarfile, time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import load_module

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / 'benchmarks' / 'gpu_run.sh'


def smooth_image(rng, h: int, w: int, gray: bool = False) -> np.ndarray:
    "A textured uint8 test image (smooth waves plus noise), RGB or gray."
    y, x = np.mgrid[0:h, 0:w]
    planes = [np.sin(x / 7 + c) * 60 + np.cos(y / 5 - c) * 50 + 128 for c in range(1 if gray else 3)]
    image = np.clip(np.stack(planes, -1) + rng.normal(0, 12, (h, w, len(planes))), 0, 255).astype(np.uint8)
    return image[..., 0] if gray else image


@pytest.fixture(scope='module')
def source(tmp_path_factory) -> Path:
    "A miniature ../shared/data: T91 as BMP, BSD200 as PNG, Set5 in the EDSR layout with pre-made LR (one gray image)."
    root = tmp_path_factory.mktemp('src')
    rng = np.random.default_rng(0)
    for name, count, suffix in (('T91', 3, '.bmp'), ('BSD200', 5, '.png'), ('Set5', 2, '.png')):
        (root / name / 'HR').mkdir(parents=True)
        for i in range(count):
            hr = smooth_image(rng, 72 + 8 * i, 80, gray=(name == 'Set5' and i == 1))
            Image.fromarray(hr).save(root / name / 'HR' / f'{name.lower()}{i}{suffix}')
            if name == 'Set5':
                for s in (2, 3, 4):
                    (root / name / 'LR_bicubic' / f'X{s}').mkdir(parents=True, exist_ok=True)
                    lr = Image.fromarray(hr).resize((hr.shape[1] // s, hr.shape[0] // s), Image.BICUBIC)
                    lr.save(root / name / 'LR_bicubic' / f'X{s}' / f'{name.lower()}{i}x{s}.png')
    return root


@pytest.fixture(scope='module')
def packed(source, tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp('gpu_data')
    load_module('gpu_pack').pack_data(source, dest, ('T91', 'BSD200', 'Set5'))
    return dest


def test_pack_is_lossless_and_keeps_the_layout(source, packed):
    "Every image decodes (by Pillow directly) to its source's RGB pixels; the layout and the manifest match the sources."
    sources = sorted(p for p in source.rglob('*') if p.suffix in ('.png', '.bmp'))
    assert len(sources) == 3 + 5 + 2 + 6
    for src in sources:
        out = packed / src.relative_to(source).with_suffix('.webp')
        assert out.is_file(), out
        with Image.open(src) as a, Image.open(out) as b:
            np.testing.assert_array_equal(np.asarray(b.convert('RGB')), np.asarray(a.convert('RGB')), err_msg=str(src))
    manifest = json.loads((packed / 'MANIFEST.json').read_text())
    assert manifest['sets'] == {'T91': 3, 'BSD200': 5, 'Set5': 8}
    assert manifest['bytes'] == sum(p.stat().st_size for p in packed.rglob('*.webp'))
    # the library reads the packed set as the original: the same pre-made LR/HR pairs
    from sesr_nb.datasets import load_dataset
    for a, b in zip(load_dataset(source / 'Set5', 3), load_dataset(packed / 'Set5', 3)):
        np.testing.assert_array_equal(a.lr, b.lr)
        np.testing.assert_array_equal(a.hr, b.hr)
    with pytest.raises(FileNotFoundError, match='pass --src'):
        load_module('gpu_pack').pack_data(source, packed, ('DIV2K',))


def test_parse_chains():
    gpu_run = load_module('gpu_run')
    chains = gpu_run.parse_chains('M3x2 M5x2>M5x4')
    assert [[r['name'] for r in c] for c in chains] == [['M3x2'], ['M5x2', 'M5x4']]
    assert [r['init'] for r in chains[1]] == [False, True] and chains[1][1]['scale'] == 4
    for bad in ('M5', 'M5x5', 'M5x2>M5x2'):
        with pytest.raises(ValueError, match='--chains'): gpu_run.parse_chains(bad)


def test_pack_runs_stays_within_the_file_limit(tmp_path):
    "More runs than free file slots are grouped into fewer archives, none lost, $OUT at most 8 files."
    gpu_run = load_module('gpu_run')
    args = gpu_run.parse_args(['--dry-run', '--out', str(tmp_path / 'out'), '--work', str(tmp_path / 'work')])
    orchestrator = gpu_run.Orchestrator(args)
    for name in gpu_run.FIXED_OUT_FILES: (orchestrator.out / name).write_text('x')
    names = [f'run{i}' for i in range(7)]
    for name in names:
        (orchestrator.work / 'runs' / name / 'checkpoints' / '5').mkdir(parents=True)
        (orchestrator.work / 'runs' / name / 'checkpoints' / '5' / 'w').write_bytes(b'0' * 1000)
    tars = orchestrator.pack_runs()['tars']
    files = [p for p in orchestrator.out.rglob('*') if p.is_file()]
    assert len(files) <= gpu_run.OUT_FILES_MAX and 1 <= len(tars) <= gpu_run.OUT_FILES_MAX - len(gpu_run.FIXED_OUT_FILES)
    packed = []
    for t in tars:
        with tarfile.open(orchestrator.out / t['file']) as tar:
            packed += sorted({m.name.split('/')[0] for m in tar.getmembers()})
    assert sorted(packed) == names


def check_out_folder(out: Path) -> list[Path]:
    "What the device machine would send back: at most 8 plain files of <= 16 MiB, <= 2 folders down, plain names."
    files = [p for p in out.rglob('*') if p.is_file()]
    assert 0 < len(files) <= 8, files
    for p in files:
        rel = p.relative_to(out)
        assert len(rel.parts) <= 3 and all(re.fullmatch(r'[A-Za-z0-9._-]+', part) for part in rel.parts), rel
        assert p.stat().st_size <= 16 * 2**20, rel
    return files


def run_script(out: Path, *args: str, timeout: float) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ, 'OUT': str(out), 'PYTHON': sys.executable}
    t0 = time.time()
    proc = subprocess.run(['bash', str(SCRIPT), '--dry-run', *args], env=env, capture_output=True, text=True,
                          timeout=timeout)
    return proc, time.time() - t0


def test_dry_run_end_to_end(packed, tmp_path):
    "Every stage does its work: nbdev_test verdicts, throughput rows, trained and packed runs, x4 from x2."
    ok_nb, bad_nb = tmp_path / 'nb_ok.ipynb', tmp_path / 'nb_bad.ipynb'
    for path, code in ((ok_nb, 'import sesr_nb.arch\nassert 1 + 1 == 2\n'), (bad_nb, 'assert 1 + 1 == 3\n')):
        path.write_text(json.dumps({'cells': [{'cell_type': 'code', 'execution_count': None, 'id': 'c0', 'metadata': {},
                                               'outputs': [], 'source': [code]}], 'metadata': {},
                                    'nbformat': 4, 'nbformat_minor': 5}))
    out = tmp_path / 'out'
    # generous stage budgets: this proves the work is done right; the next test proves the budget is kept
    proc, wall = run_script(out, '--data', str(packed), '--work', str(tmp_path / 'work'), '--budget', '400',
                            '--tests-budget', '120', '--throughput-budget', '120',
                            '--notebooks', f'{ok_nb} {bad_nb}', timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    files = {str(p.relative_to(out)) for p in check_out_folder(out)}
    assert {'gpu_run.log', 'summary.json', 'throughput.json', 'tests.log'} <= files
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['dry_run'] and summary['env']['backend'] == 'cpu' and summary['env']['smoke_forward']
    stages = summary['stages']

    # tests: the passing notebook passes, the failing one is reported failed, and nothing else ran
    assert stages['tests']['status'] == 'failed'
    assert {k: v['status'] for k, v in stages['tests']['notebooks'].items()} == {'nb_ok': 'passed', 'nb_bad': 'failed'}
    started = re.findall(r'Starting (\S+)', (out / 'tests.log').read_text())
    assert sorted(Path(s).name for s in started) == ['nb_bad.ipynb', 'nb_ok.ipynb']

    # throughput: every planned configuration measured, patches/s consistent with the step time
    rows = json.loads((out / 'throughput.json').read_text())['rows']
    assert {(r['dtype'], r['mode']) for r in rows} == {(d, m) for d in ('float32', 'bfloat16') for m in ('collapsed', 'expanded')}
    for r in rows:
        assert r['status'] == 'ok', r
        assert r['patches_per_s'] == pytest.approx(r['batch'] / (r['step_ms'] / 1e3), rel=1e-3)
        assert r['finite'] and r['step_ms_min'] <= r['step_ms']

    # the held-out images are not trained on
    data = summary['data']
    # (the project's one rule, sesr_nb.datasets.in_holdout, through the dataset specs BSD200@train / BSD200@holdout)
    from sesr_nb.datasets import in_holdout, load_dataset
    assert data['train'][1].endswith('BSD200@train') and data['val'][0].endswith('BSD200@holdout')
    train_bsd = {Path(pair.name).stem for pair in load_dataset(data['train'][1], 2)}
    held = {Path(name).stem for name in data['holdout']['BSD200']}
    assert len(held) == 1 and all(in_holdout(n) for n in held) and not held & train_bsd and len(train_bsd) == 4

    # training: three runs, each packed with config, metrics, best + last checkpoint and a loadable model
    from sesr_nb.checkpoint import load_model_file
    assert stages['train']['status'] == 'ok', stages['train']
    runs = summary['runs']
    assert set(runs) == {'tinyx2', 'tinyx4', 'tinyx3'}
    extract = tmp_path / 'extracted'
    for t in summary['pack']['tars']:
        with tarfile.open(out / t['file']) as tar: tar.extractall(extract, filter='data')
    for name, record in runs.items():
        assert record['status'] == 'done' and record['steps'] == 16, record
        folder = extract / name
        for f in ('config.json', 'metrics.jsonl', 'model.npz', 'run_summary.json', 'chain.log'):
            assert (folder / f).is_file(), (name, f)
        steps = sorted(int(p.name) for p in (folder / 'checkpoints').iterdir() if p.name.isdigit())
        assert 1 <= len(steps) <= 2 and steps[-1] == 16, steps
        model = load_model_file(folder / 'model.npz')
        assert model.scale == record['scale'] and set(record['eval']) == {'Set5'}
    assert json.loads((extract / 'tinyx4' / 'config.json').read_text())['init_from'] == runs['tinyx2']['workdir']
    assert runs['tinyx3']['init_from'] is None
    assert summary['elapsed_s'] <= 400


def test_dry_run_keeps_a_tiny_budget(tmp_path):
    "With 12 s for everything, stages are cut or skipped, yet the script ends in time, exit 0, with its summary."
    out = tmp_path / 'out'
    proc, wall = run_script(out, '--work', str(tmp_path / 'work'), '--budget', '12', timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    check_out_folder(out)
    summary = json.loads((out / 'summary.json').read_text())
    assert set(summary['stages']) == {'env', 'tests', 'throughput', 'train'}
    for name, stage in summary['stages'].items():
        assert stage['status'] in ('ok', 'warning', 'truncated', 'skipped'), (name, stage)
        if stage['status'] != 'skipped': assert stage['wall_s'] <= stage['budget_s'] + 8, (name, stage)
    assert summary['stages']['train']['status'] == 'skipped'
    assert summary['data']['status'] == 'ok' and summary['data']['counts'] == {'T91_train': 3, 'T91_holdout': 0, 'BSD200_train': 4, 'BSD200_holdout': 1}
    assert wall < 12 + 15, wall   # the budget, plus the stragglers' kill grace and interpreter start-up


def test_a_gpu_run_needs_out():
    "Without --dry-run the script refuses to start when $OUT (where everything goes) is not set."
    env = {k: v for k, v in os.environ.items() if k != 'OUT'}
    proc = subprocess.run(['bash', str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and 'set OUT' in proc.stderr
