"""Integration tests of the data and evaluation layer (issue 3): bit-exact degradation, the bicubic baseline,
the `sesr_nb evaluate` console script, the DIV2K path under `tfds.testing.mock_data`, the patch sampler, and bad input.

Tests that need the research-licensed benchmark images (never stored in the repository) skip when
`sesr_nb.data.benchmark_data_dir()` finds none (set SESR_NB_DATA, or keep them in ../shared/data). Nothing here downloads.
"""
from __future__ import annotations
import json, subprocess, time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sesr_nb.color import bicubic_downscale
from sesr_nb.data import (BadImageError, ImagePair, PairedDataset, PatchSampler, SamplerConfig, SkippedImageWarning,
                          TrainingImages, div2k_pairs, div2k_source, load_folder_pairs, read_image,
                          training_images, write_image)
from sesr_nb.evaluate import PUBLISHED_BICUBIC, BicubicModel, evaluate_model

from helpers import DATA, needs_data, run_cli


def benchmark_lr_files() -> list[tuple[str, str, int]]:
    "(set, image stem, scale) of every pre-made LR file of Set5 and Set14."
    if DATA is None: return []
    return [(s, p.stem, k) for s in ('Set5', 'Set14') for p in sorted((DATA / s / 'HR').glob('*.png')) for k in (2, 3, 4)]


def run_evaluate(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return run_cli('evaluate', *args, timeout=timeout)


# ---------------------------------------------------------------- degradation: the 57 pre-made LR files

@needs_data
def test_benchmark_has_57_lr_files():
    assert len(benchmark_lr_files()) == 57


@needs_data
@pytest.mark.parametrize('set_name,stem,scale', benchmark_lr_files() or [('none', 'none', 0)])
def test_bicubic_downscale_is_bit_exact(set_name, stem, scale):
    hr = np.asarray(Image.open(DATA / set_name / 'HR' / f'{stem}.png'))
    lr = np.asarray(Image.open(DATA / set_name / 'LR_bicubic' / f'X{scale}' / f'{stem}x{scale}.png'))
    out = bicubic_downscale(hr, scale)
    assert out.shape == lr.shape and out.dtype == lr.dtype
    assert np.array_equal(out, lr), f'{stem} x{scale}: {np.count_nonzero(out != lr)} values differ'


# ---------------------------------------------------------------- the bicubic baseline

@needs_data
@pytest.mark.parametrize('scale', [2, 3, 4])
def test_bicubic_reproduces_published_set5(scale):
    result = evaluate_model(BicubicModel(scale), [DATA / 'Set5'])
    psnr, ssim = PUBLISHED_BICUBIC[('Set5', scale)]
    assert abs(result['Set5'].psnr - psnr) <= 0.02
    assert abs(result['Set5'].ssim - ssim) <= 0.001


@needs_data
def test_bicubic_set14_edsr_copy():
    result = evaluate_model(BicubicModel(2), [DATA / 'Set14'])
    assert result['Set14'].num_images == 14
    assert abs(result['Set14'].psnr - 30.32) <= 0.01


# ---------------------------------------------------------------- the console script

@needs_data
def test_cli_prints_tables():
    proc = run_evaluate('--model', 'bicubic', '--data', str(DATA / 'Set5'), str(DATA / 'Set14'), '--scale', '2')
    assert proc.returncode == 0, proc.stderr
    for word in ('Set5', 'Set14', 'baby', 'zebra', 'bridge', '33.67', '30.32'):
        assert word in proc.stdout


@needs_data
def test_cli_json_and_out(tmp_path):
    out_file = tmp_path / 'results' / 'x4.json'
    proc = run_evaluate('--data', str(DATA / 'Set5'), '--scale', '4', '--json', '--out', str(out_file))
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)  # exactly one JSON document on stdout
    assert document['model'] == 'bicubic' and document['scale'] == 4 and document['crop_border'] == 4
    (set5,) = document['sets']
    assert set5['num_images'] == 5 and [i['name'] for i in set5['images']] == ['baby', 'bird', 'butterfly', 'head', 'woman']
    assert abs(set5['psnr'] - 28.42) <= 0.02 and abs(set5['ssim'] - 0.8104) <= 0.001
    assert json.loads(out_file.read_text()) == document
    assert [p.name for p in out_file.parent.iterdir()] == ['x4.json']  # no temporary file left


def make_benchmark(root: Path, names=('a', 'b'), size=(48, 40)) -> Path:
    rng = np.random.default_rng(1)
    (root / 'HR').mkdir(parents=True)
    for name in names:
        write_image(root / 'HR' / f'{name}.png', rng.integers(0, 256, (*size, 3), dtype=np.uint8))
    return root


def test_cli_bad_input(tmp_path):
    bench = make_benchmark(tmp_path / 'Bench')
    (bench / 'HR' / 'corrupt.png').write_bytes(b'\x89PNG\r\n\x1a\nbroken')
    out_file = tmp_path / 'out.json'
    proc = run_evaluate('--data', str(bench), '--json', '--out', str(out_file))
    assert proc.returncode == 2 and 'corrupt.png' in proc.stderr and '--skip-bad' in proc.stderr
    assert json.loads(proc.stdout)['type'] == 'BadImageError'
    assert not out_file.exists() and list(tmp_path.glob('*.tmp')) == [] and list(tmp_path.glob('.out.json*')) == []
    proc = run_evaluate('--data', str(bench), '--json', '--skip-bad', '--out', str(out_file))
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert document['sets'][0]['num_images'] == 2 and 'corrupt.png' in document['sets'][0]['skipped'][0]
    assert 'warning' in proc.stderr and json.loads(out_file.read_text()) == document
    (tmp_path / 'empty').mkdir()
    proc = run_evaluate('--data', str(tmp_path / 'empty'))
    assert proc.returncode == 2 and 'no images' in proc.stderr
    proc = run_evaluate('--data', str(tmp_path / 'missing'))
    assert proc.returncode == 2 and 'not found' in proc.stderr
    proc = run_evaluate('--model', str(tmp_path / 'no_run'), '--data', str(bench))
    assert proc.returncode == 2 and 'neither' in proc.stderr


# ---------------------------------------------------------------- image IO and folders

def test_read_image_modes(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    Image.fromarray(rgb[..., 0]).save(tmp_path / 'gray.png')
    Image.fromarray(np.dstack([rgb, rgb[..., :1]])).save(tmp_path / 'rgba.png')
    Image.fromarray((rgb[..., 0].astype(np.uint16) * 257)).save(tmp_path / 'gray16.png')
    Image.fromarray(rgb).save(tmp_path / 'rgb.bmp')
    assert np.array_equal(read_image(tmp_path / 'gray.png'), np.dstack([rgb[..., 0]] * 3))
    assert np.array_equal(read_image(tmp_path / 'rgba.png'), rgb)
    assert Image.open(tmp_path / 'gray16.png').mode.startswith('I')
    assert np.array_equal(read_image(tmp_path / 'gray16.png'), np.dstack([rgb[..., 0]] * 3))
    assert np.array_equal(read_image(tmp_path / 'rgb.bmp'), rgb)
    (tmp_path / 'bad.jpg').write_bytes(b'\xff\xd8\xff\xe0 not really a jpeg')
    with pytest.raises(BadImageError, match='bad.jpg'): read_image(tmp_path / 'bad.jpg')
    with pytest.raises(FileNotFoundError, match='nope.png'): read_image(tmp_path / 'nope.png')


def test_folder_layouts_and_bad_folders(tmp_path):
    bench = make_benchmark(tmp_path / 'Set', names=('a', 'b', 'tiny'))
    write_image(bench / 'HR' / 'tiny.png', np.zeros((10, 10), np.uint8))
    (bench / 'LR_bicubic' / 'X2').mkdir(parents=True)
    premade = np.full((24, 20, 3), 7, np.uint8)
    write_image(bench / 'LR_bicubic' / 'X2' / 'ax2.png', premade)
    with pytest.warns(SkippedImageWarning, match='tiny'):
        ds = load_folder_pairs(bench, 2, min_lr_size=8)
    assert ds.layout == 'benchmark' and [p.name for p in ds] == ['a', 'b'] and ds.skipped[0].endswith('tiny.png')
    assert np.array_equal(ds[0].lr, premade) and ds[1].hr.shape == (48, 40, 3)
    assert load_folder_pairs(bench / 'HR', 3).layout == 'benchmark'
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='no images'): load_folder_pairs(tmp_path / 'empty', 2)
    with pytest.raises(FileNotFoundError, match='missing'): load_folder_pairs(tmp_path / 'missing', 2)


@needs_data
def test_set14_bridge_and_odd_sizes():
    for scale in (3, 4):
        ds = load_folder_pairs(DATA / 'Set14', scale)
        by_name = {p.name: p for p in ds}
        assert len(ds) == 14 and by_name['bridge'].hr.ndim == 3
        for name in ('comic', 'ppt3', 'zebra'):
            assert by_name[name].hr.shape[:2] == tuple(scale * n for n in by_name[name].lr.shape[:2])


@needs_data
def test_t91_bmp_folder():
    ds = load_folder_pairs(DATA / 'T91' / 'HR', 2)
    assert (ds.name, ds.layout, len(ds)) == ('T91', 'hr_folder', 91)
    cache = training_images(ds, lr_patch=32)
    assert len(cache) == 91 and cache.lr_y[0].dtype == np.uint8


# ---------------------------------------------------------------- DIV2K through tfds.data_source, mocked

def test_div2k_mock_data_without_download():
    tfds = pytest.importorskip('tensorflow_datasets')
    rng = np.random.default_rng(2)
    hrs = [rng.integers(0, 256, (66, 80, 3), dtype=np.uint8) for _ in range(3)]
    examples = [{'lr': bicubic_downscale(hr, 2), 'hr': hr} for hr in hrs]
    with tfds.testing.mock_data(as_data_source_fn=lambda *args, **kwargs: examples):
        div2k = div2k_pairs(2, 'train')
        assert len(div2k) == 3 and np.array_equal(div2k[2].hr, hrs[2])
        cache = training_images(div2k, lr_patch=16)
    sampler = PatchSampler(cache, SamplerConfig(lr_patch=16, patches_per_image=4, batch_size=4))
    assert sampler.steps_per_epoch == 3 and sampler.batch(0, 2).hr.shape == (4, 32, 32, 1)
    with tfds.testing.mock_data(num_examples=2):  # TFDS' own mocked ArrayRecord source, random-size images
        assert len(div2k_source(4, 'validation')) == 2


def test_div2k_missing_fails_fast(tmp_path):
    pytest.importorskip('tensorflow_datasets')
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match='download_and_prepare'):
        div2k_source(2, 'train', data_dir=tmp_path)
    assert time.perf_counter() - start < 60  # fails at once: no download attempt


# ---------------------------------------------------------------- the patch sampler

def block_cache(count=4, scale=3, seed=0) -> TrainingImages:
    rng = np.random.default_rng(seed)
    lrs = tuple(rng.integers(0, 256, (20 + i, 18 + 2 * i), dtype=np.uint8) for i in range(count))
    return TrainingImages(scale, tuple(f'i{i}' for i in range(count)), lrs,
                          tuple(np.kron(y, np.ones((scale, scale), np.uint8)) for y in lrs))


CONFIG = SamplerConfig(lr_patch=6, patches_per_image=6, batch_size=5, seed=3, prefetch=2)


def test_sampler_determinism_and_resume():
    sampler = PatchSampler(block_cache(), CONFIG)
    assert sampler.steps_per_epoch == 4
    with sampler.stream(0, 0, num_epochs=3) as stream: full = list(stream)
    assert [(b.epoch, b.step) for b in full] == [(e, t) for e in range(3) for t in range(4)]
    with PatchSampler(block_cache(), CONFIG).stream(1, 2, num_epochs=2) as stream: resumed = list(stream)
    assert [(b.epoch, b.step) for b in resumed] == [(e, t) for e in (1, 2) for t in range(4)][2:]
    for a, b in zip(full[6:], resumed):
        assert np.array_equal(a.lr, b.lr) and np.array_equal(a.hr, b.hr)
    direct = PatchSampler(block_cache(), CONFIG).batch(2, 3)  # without generating anything earlier
    assert np.array_equal(direct.hr, full[-1].hr)
    assert not np.array_equal(full[0].lr, full[4].lr)
    other_seed = PatchSampler(block_cache(), replace(CONFIG, seed=4)).batch(0, 0)
    assert not np.array_equal(other_seed.lr, full[0].lr)


def test_sampler_augmentation_is_consistent():
    sampler = PatchSampler(block_cache(), CONFIG)
    for epoch in range(4):
        for step in range(sampler.steps_per_epoch):
            batch = sampler.batch(epoch, step)
            assert batch.lr.dtype == np.float32 and batch.lr.shape == (5, 6, 6, 1) and batch.hr.shape == (5, 18, 18, 1)
            lr8, hr8 = np.rint(batch.lr[..., 0] * 255), np.rint(batch.hr[..., 0] * 255)
            assert np.array_equal(hr8, np.kron(lr8, np.ones((1, 3, 3))))


def test_sampler_thread_errors_reach_the_consumer(monkeypatch):
    sampler = PatchSampler(block_cache(), CONFIG)
    original = PatchSampler._make_batch

    def failing(self, order, epoch, step):
        if step == 2: raise MemoryError('simulated failure in the producer')
        return original(self, order, epoch, step)

    monkeypatch.setattr(PatchSampler, '_make_batch', failing)
    stream = sampler.epoch(0)
    assert next(stream).step == 0 and next(stream).step == 1
    with pytest.raises(MemoryError, match='simulated'): next(stream)
    assert not stream.alive


def test_sampler_stops_cleanly_when_abandoned():
    sampler = PatchSampler(block_cache(), CONFIG)
    stream = sampler.stream()  # endless
    next(stream)
    stream.close()
    assert not stream.alive


def test_sampler_skips_small_images():
    cache = block_cache()
    pairs = PairedDataset('mix', 2, (ImagePair('small', np.zeros((5, 5, 3), np.uint8), np.zeros((10, 10, 3), np.uint8)),
                                     ImagePair('big', np.zeros((9, 9, 3), np.uint8), np.zeros((18, 18, 3), np.uint8))))
    with pytest.warns(SkippedImageWarning, match='small'):
        images = training_images(pairs, lr_patch=8)
    assert images.names == ('big',)
    with pytest.raises(ValueError, match='smaller than'):
        PatchSampler(cache, replace(CONFIG, lr_patch=40))
