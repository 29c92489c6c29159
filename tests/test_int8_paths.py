"""An int8 model file (`sesr_nb export --int8 --out m.npz`, 23_int8) through every entry point a float model file
goes through: `sesr_nb upscale` on an image and on a video, `sesr_nb evaluate`, and the comparison widget — each runs
the native int8 network (`Int8Model`) and gives what the model object itself gives."""
from __future__ import annotations
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sesr_nb.resolve import load_model
from sesr_nb.cli import main
from sesr_nb.infer import upscale
from helpers import write_h264_clip


@pytest.fixture(scope='module')
def int8_file(tmp_path_factory) -> Path:
    "The shipped M3 x2 exported as an int8 model file through the CLI."
    path = tmp_path_factory.mktemp('int8') / 'm3_int8.npz'
    assert main(['export', '--model', 'pretrained:M3x2', '--int8', '--out', str(path)]) == 0
    return path


@pytest.fixture
def photo() -> np.ndarray:
    from skimage import data
    return data.astronaut()[100:140, 180:230]


def test_loads_as_int8(int8_file):
    model = load_model(str(int8_file))
    assert type(model).__name__ == 'Int8Model' and model.scale == 2
    assert model.backend in ('native', 'fake-quant')


def test_upscale_image_cli(int8_file, photo, tmp_path):
    src = tmp_path / 'photo.png'
    Image.fromarray(photo).save(src)
    assert main(['upscale', str(src), '--model', str(int8_file), '--out', str(tmp_path / 'up')]) == 0
    written = [p for p in (tmp_path / 'up').iterdir() if p.suffix == '.png']
    assert len(written) == 1
    got = np.asarray(Image.open(written[0]))
    np.testing.assert_array_equal(got, upscale(photo, load_model(str(int8_file))))


def test_upscale_video_cli(int8_file, photo, tmp_path):
    av = pytest.importorskip('av')
    clip = write_h264_clip(tmp_path / 'clip.mp4', [photo[:40, i:i + 48] for i in range(5)])
    assert main(['upscale', str(clip), '--model', str(int8_file), '--out', str(tmp_path / 'up')]) == 0
    written = [p for p in (tmp_path / 'up').iterdir() if p.suffix == '.mp4']
    assert len(written) == 1
    with av.open(str(written[0])) as inp:
        frames = [f.to_ndarray(format='rgb24') for f in inp.decode(video=0)]
    assert len(frames) == 5 and frames[0].shape == (80, 96, 3)


def test_evaluate_cli(int8_file, tmp_path, capsys):
    assert main(['evaluate', '--model', str(int8_file), '--data', 'skimage:eval', '--json']) == 0
    result = json.loads(capsys.readouterr().out)
    from sesr_nb.evaluate import evaluate_model
    direct = evaluate_model(load_model(str(int8_file)), 'skimage:eval').sets[0].psnr
    assert abs(result['sets'][0]['psnr'] - direct) < 1e-9, (result['sets'][0]['psnr'], direct)


def test_widget(int8_file):
    pytest.importorskip('ipywidgets')
    from sesr_nb.datasets import embedded_pairs
    from sesr_nb.widget import CompareWidget
    widget = CompareWidget(embedded_pairs(2, 'eval')[:1], [str(int8_file)])
    model = next(iter(widget.models.values()))
    assert type(model).__name__ == 'Int8Model'
    image = next(iter(widget.pairs))
    np.testing.assert_array_equal(widget.result(image, model.name).rgb, model.sr_rgb(widget.pairs[image].lr))
