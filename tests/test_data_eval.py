"""Integration tests of the data and evaluation layer: the installed `sesr_nb evaluate` console script on the
benchmark sets and on bad input, real benchmark images and mocked DIV2K through the Y cache into the patch sampler,
and a real read-only output folder.

The unit-level proofs live in the notebooks (04_color, 05_fileio, 05a_datasets, 05b_sampler, 06_metrics,
07_evaluate); nothing here repeats one of them. Tests that need the research-licensed benchmark images (never stored
in the repository) are skipped when `sesr_nb.datasets.benchmark_data_dir()` finds none (set SESR_NB_DATA, or keep
them in ../shared/data). Nothing here downloads.
"""
from __future__ import annotations
import json, os, subprocess
from pathlib import Path

import numpy as np
import pytest
from skimage.color import rgb2ycbcr

from sesr_nb.color import bicubic_downscale
from sesr_nb.datasets import div2k_pairs, load_folder_pairs
from sesr_nb.published import PUBLISHED_BICUBIC
from sesr_nb.fileio import write_bytes_atomic, write_image
from sesr_nb.sampler import PatchSampler, SamplerConfig, TrainingImages, training_images

from helpers import DATA, needs_data, run_cli


def run_evaluate(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return run_cli('evaluate', *args, timeout=timeout)


def assert_luma8(y8: np.ndarray, rgb: np.ndarray) -> None:
    "`y8` is the BT.601 luma of `rgb` rounded to 8 bits, by scikit-image; exact .5 ties may round either way."
    y = rgb2ycbcr(rgb)[..., 0]  # independent of sesr_nb.color; Y in [16, 235], so floor(y + .5) rounds
    assert y8.dtype == np.uint8 and y8.shape == y.shape
    assert (np.floor(y + 0.5 - 1e-9) <= y8).all() and (y8 <= np.floor(y + 0.5 + 1e-9)).all()


# ---------------------------------------------------------------- the console script

def summary_rows(stdout: str) -> dict[str, tuple[int, float, float]]:
    "The per-set summary of `sesr_nb evaluate`'s table output: set -> (images, PSNR, SSIM)."
    rows = {}
    for fields in (line.split() for line in stdout.splitlines()):
        if len(fields) == 4 and fields[0] in ('Set5', 'Set14'):
            rows[fields[0]] = (int(fields[1]), float(fields[2]), float(fields[3]))
    return rows


@needs_data
def test_cli_prints_tables():
    proc = run_evaluate('--model', 'bicubic', '--data', str(DATA / 'Set5'), str(DATA / 'Set14'), '--scale', '2')
    assert proc.returncode == 0, proc.stderr
    for word in ('baby', 'butterfly', 'zebra', 'bridge'):  # the per-image tables
        assert word in proc.stdout
    rows = summary_rows(proc.stdout)
    assert set(rows) == {'Set5', 'Set14'} and rows['Set5'][0] == 5 and rows['Set14'][0] == 14
    psnr, ssim = PUBLISHED_BICUBIC[('Set5', 2)]
    assert abs(rows['Set5'][1] - psnr) <= 0.02 and abs(rows['Set5'][2] - ssim) <= 0.001
    # Set14 of the EDSR package differs from the copy behind the published number (see 07_evaluate): 0.05-0.1 dB above
    assert 0.05 < rows['Set14'][1] - PUBLISHED_BICUBIC[('Set14', 2)][0] < 0.1


@needs_data
def test_cli_json_and_out(tmp_path):
    out_file = tmp_path / 'results' / 'x4.json'
    proc = run_evaluate('--data', str(DATA / 'Set5'), '--scale', '4', '--json', '--out', str(out_file))
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)  # exactly one JSON document on stdout
    assert document['model'] == 'bicubic' and document['scale'] == 4 and document['crop_border'] == 4
    (set5,) = document['sets']
    assert set5['num_images'] == 5 and [i['name'] for i in set5['images']] == ['baby', 'bird', 'butterfly', 'head', 'woman']
    psnr, ssim = PUBLISHED_BICUBIC[('Set5', 4)]
    assert abs(set5['psnr'] - psnr) <= 0.02 and abs(set5['ssim'] - ssim) <= 0.001
    assert abs(set5['psnr'] - np.mean([i['psnr'] for i in set5['images']])) < 1e-3  # the set mean is the mean of images
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
    assert proc.returncode == 2 and 'no_run' in proc.stderr and 'bicubic' in proc.stderr  # names it, says what to pass


# ---------------------------------------------------------------- pairs -> Y cache -> patches

def assert_patches_are_aligned_crops(images: TrainingImages, batch, scale: int) -> None:
    "Every LR patch is a crop of some cached LR image, and the HR patch is the crop at s times its position."
    p = batch.lr.shape[1]
    for lr_patch, hr_patch in zip(np.rint(batch.lr[..., 0] * 255), np.rint(batch.hr[..., 0] * 255)):
        found = False
        for lr_y, hr_y in zip(images.lr_y, images.hr_y):
            hits = np.argwhere((np.lib.stride_tricks.sliding_window_view(lr_y, (p, p)) == lr_patch).all(axis=(-1, -2)))
            for y, x in hits:
                found |= np.array_equal(hr_y[scale * y:scale * (y + p), scale * x:scale * (x + p)], hr_patch)
        assert found, 'a patch is not an aligned LR/HR crop of any cached image'


def test_div2k_mock_through_cache_into_sampler():
    tfds = pytest.importorskip('tensorflow_datasets')
    rng = np.random.default_rng(2)
    yy, xx = np.mgrid[0:66, 0:80]  # smooth images: every 6x6 LR window is distinct, unlike random noise after blur
    hrs = [np.clip(np.dstack([128 + 90 * np.sin(xx / (5 + k) + c) * np.cos(yy / (7 + c)) for c in range(3)])
                   + rng.integers(0, 3, (66, 80, 3)), 0, 255).astype(np.uint8) for k in range(3)]
    examples = [{'lr': bicubic_downscale(hr, 2), 'hr': hr} for hr in hrs]
    with tfds.testing.mock_data(as_data_source_fn=lambda *args, **kwargs: examples):
        cache = training_images(div2k_pairs(2, 'train'), lr_patch=6)
    assert cache.names == ('div2k-train-0000', 'div2k-train-0001', 'div2k-train-0002')
    for i, hr in enumerate(hrs):
        assert_luma8(cache.hr_y[i], hr)
        assert_luma8(cache.lr_y[i], bicubic_downscale(hr, 2))
    sampler = PatchSampler(cache, SamplerConfig(lr_patch=6, patches_per_image=4, batch_size=4, augment=False))
    assert sampler.steps_per_epoch == 3
    for step in range(3):
        assert_patches_are_aligned_crops(cache, sampler.batch(0, step), 2)


@needs_data
def test_t91_bmp_folder_through_cache_into_sampler():
    ds = load_folder_pairs(DATA / 'T91' / 'HR', 2)
    assert (ds.name, ds.layout, len(ds)) == ('T91', 'hr_folder', 91)
    cache = training_images(ds, lr_patch=32)
    assert len(cache) == 91 and cache.skipped == ()
    for i in (0, 45, 90):
        assert_luma8(cache.lr_y[i], ds[i].lr)
        assert_luma8(cache.hr_y[i], ds[i].hr)
    sampler = PatchSampler(cache, SamplerConfig(lr_patch=32, patches_per_image=2, batch_size=8, augment=False))
    assert_patches_are_aligned_crops(cache, sampler.batch(0, 0), 2)


# ---------------------------------------------------------------- a real read-only output folder

@pytest.mark.skipif(not hasattr(os, 'geteuid') or os.geteuid() == 0,
                    reason='needs a non-root POSIX user: root may write into read-only folders')
def test_write_into_read_only_folder(tmp_path):
    folder = tmp_path / 'locked'
    folder.mkdir()
    write_bytes_atomic(folder / 'kept.bin', b'old')
    folder.chmod(0o555)
    try:
        with pytest.raises(PermissionError) as caught:
            write_bytes_atomic(folder / 'kept.bin', b'new')
        assert f'the folder {folder} is not writable' in str(caught.value) and '.tmp' not in str(caught.value)
        assert (folder / 'kept.bin').read_bytes() == b'old'
    finally:
        folder.chmod(0o755)
