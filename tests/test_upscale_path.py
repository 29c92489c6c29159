"""The user's path of issue 14: colour upscaling through the native merge is bit-identical to the numpy reference
(`TrainedModel.sr_rgb`), the streamed PNG equals `upscale()`, folder jobs skip/resume/report bad files, and video
frames equal `upscale()` of the decoded input frames (skipped with a reason when PyAV is missing)."""
import json, os, subprocess, sys
from pathlib import Path

import jax
import numpy as np
import pytest
from PIL import Image

from sesr_nb.arch import TrainedModel, arch_config
from sesr_nb.checkpoint import save_model_file
from sesr_nb.color import quantize_uint8
from sesr_nb.fileio import write_image
from sesr_nb.infer import colour_backend, iter_upscaled_rows, upscale


def model_of(preset='tiny', scale=2, seed=0):
    arch, config = arch_config(preset, scale)
    return TrainedModel.from_train_params(arch, config, arch.init(config, jax.random.PRNGKey(seed)))


def photo(h, w, seed=0):
    yy, xx = np.mgrid[0:h, 0:w]
    noise = np.random.default_rng(seed).normal(0, 8, (h, w, 3))
    return quantize_uint8(np.dstack([128 + 100 * np.sin(xx / 9 + c) * np.cos(yy / 6 - c) for c in range(3)]) + noise)


def test_native_colour_is_bit_identical_to_the_reference():
    if colour_backend() != 'native': pytest.skip('the native colour kernels could not be built here (no C++ compiler?)')
    for scale in (2, 3, 4):
        model = model_of('tiny', scale, seed=scale)
        rgb = photo(47, 61, seed=scale)
        assert np.array_equal(upscale(rgb, model, tile=16), model.sr_rgb(rgb))       # numpy float64 reference


def test_native_and_numpy_merge_agree_on_every_layout(monkeypatch):
    model = model_of()
    rgb = np.random.default_rng(1).integers(0, 256, (40, 52, 3), dtype=np.uint8)
    images = [rgb, rgb[..., 0], rgb[..., :1], np.dstack([rgb, rgb[..., 1]]), rgb[..., :2]]
    native = [upscale(im, model, tile=24) for im in images]
    monkeypatch.setenv('SESR_NB_COLOUR', 'numpy')
    assert colour_backend() == 'numpy'
    for im, out in zip(images, native):
        assert np.array_equal(upscale(im, model, tile=24), out), im.shape


def test_streamed_rows_cover_the_image_in_order():
    model = model_of()
    rgb = photo(70, 33)
    rows = list(iter_upscaled_rows(rgb, model, tile=20))
    assert [r for r, _ in rows] == sorted(r for r, _ in rows) and rows[0][0] == 0
    assert np.array_equal(np.concatenate([p for _, p in rows]), upscale(rgb, model, tile=20))


def run_cli(*args):
    return subprocess.run([sys.executable, '-c', 'import sys; from sesr_nb.cli import main; sys.exit(main(sys.argv[1:]))',
                           'upscale', *args], capture_output=True, text=True, timeout=300)


def test_folder_jobs_png_jpeg_skip_bad_and_resume(tmp_path):
    model = model_of()
    model_file = save_model_file(tmp_path / 'm.npz', model)
    src = tmp_path / 'in'
    src.mkdir()
    write_image(src / 'a.png', photo(20, 30))
    write_image(src / 'b.png', photo(22, 18, seed=2))
    (src / 'x.png').write_bytes(b'junk')
    (src / 'y.jpg').write_bytes(b'')
    result = run_cli(str(src), '--model', str(model_file), '--out', str(tmp_path / 'out'))
    assert result.returncode == 2 and 'x.png' in result.stderr and 'y.jpg' in result.stderr
    assert not (tmp_path / 'out').exists()
    result = run_cli(str(src), '--model', str(model_file), '--out', str(tmp_path / 'out'), '--skip-bad', '--json')
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)['skipped_bad']) == 2
    assert np.array_equal(np.asarray(Image.open(tmp_path / 'out' / 'a_x2.png')), upscale(photo(20, 30), model))
    (tmp_path / 'out' / 'b_x2.png').unlink()                                  # a half-done folder
    result = run_cli(str(src), '--model', str(model_file), '--out', str(tmp_path / 'out'), '--skip-bad', '--skip-existing', '--json')
    summary = json.loads(result.stdout)
    assert [Path(r['output']).name for r in summary['images']] == ['b_x2.png'] and len(summary['skipped_existing']) == 1
    result = run_cli(str(src / 'a.png'), '--model', str(model_file), '--out', str(tmp_path / 'jpg'), '--format', 'jpeg', '--quality', '80')
    assert result.returncode == 0 and Image.open(tmp_path / 'jpg' / 'a_x2.jpg').format == 'JPEG'
    result = run_cli(str(src / 'a.png'), '--model', str(model_file), '--out', str(src / 'a.png'))
    assert result.returncode == 2 and 'is an existing file' in result.stderr


def test_video_frames_equal_upscale_of_decoded_frames(tmp_path):
    av = pytest.importorskip('av', reason='PyAV is not installed: pip install "sesr_nb[video]"')
    from fractions import Fraction
    from sesr_nb.video import upscale_video
    frames = [photo(24, 40, seed=k) for k in range(4)]
    with av.open(str(tmp_path / 'clip.mkv'), 'w', format='matroska') as out:
        stream = out.add_stream('ffv1', rate=Fraction(15))
        stream.width, stream.height, stream.pix_fmt = 40, 24, 'bgr0'
        for k, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format='rgb24')
            frame.pts = k
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    model = model_of()
    summary = upscale_video(tmp_path / 'clip.mkv', tmp_path / 'up.mkv', model, codec='ffv1', pixel_format='bgr0')
    with av.open(str(tmp_path / 'up.mkv')) as f:
        rate = f.streams.video[0].average_rate
        got = [fr.to_ndarray(format='rgb24') for fr in f.decode(video=0)]
    assert summary['frames'] == len(got) == 4 and rate == 15
    for k, image in enumerate(frames):   # the input is lossless, so the decoded input frame is `image`
        assert got[k].shape == (48, 80, 3) and np.array_equal(got[k], upscale(image, model))


def test_file_path_memory_is_bounded_by_the_tile_not_the_image(tmp_path):
    """tracemalloc peak of `upscale_file` (PNG) on a short and a 16x taller photo with the same 32-row tile: the peak may
    grow with the 8-bit input (read as stored), not with float64 planes of the image or the upscaled/compressed result."""
    import tracemalloc
    from sesr_nb.batch import UpscaleJob, upscale_file
    model = model_of()
    def peak(h, w=384):
        write_image(tmp_path / f'{h}.png', photo(h, w))
        job = UpscaleJob(tmp_path / f'{h}.png', tmp_path / f'{h}_x2.png')
        upscale_file(job, model, (32, None))[1]()           # compiles the window shape
        tracemalloc.start()
        try:
            upscale_file(job, model, (32, None))[1]()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    small, big = peak(96), peak(1536)
    input_growth, output_big = (1536 - 96) * 384 * 3, 2 * 1536 * 2 * 384 * 3
    assert big - small < 3 * input_growth and big - small < output_big / 2, (small, big, input_growth)
    assert np.array_equal(np.asarray(Image.open(tmp_path / '1536_x2.png')), model.sr_rgb(photo(1536, 384)))
