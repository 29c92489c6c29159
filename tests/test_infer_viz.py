"""Integration tests of upscaling, figures and the comparison widget (issue 5): the installed `sesr_nb upscale`
script end to end on Set14 (grayscale `bridge` included), tiled == untiled on real images and under both
convolution backends, bounded memory on a 1080p frame, figures from real images, and the widget driven headlessly.

Tests that need the research-licensed benchmark images skip when `sesr_nb.datasets.benchmark_data_dir()` finds none
(set SESR_NB_DATA, or keep them in ../shared/data). Nothing here downloads.
"""
from __future__ import annotations
import io, json, os, subprocess, sys, textwrap, tracemalloc
from pathlib import Path

import jax
import numpy as np
import pytest
from PIL import Image

from sesr_nb.arch import TrainedModel, arch_config
from sesr_nb.checkpoint import load_model_file, save_model_file
from sesr_nb.color import rgb_to_y
from sesr_nb.datasets import PairedDataset, embedded_pairs, load_dataset
from sesr_nb.evaluate import evaluate_model
from sesr_nb.fileio import SkippedLineWarning, append_jsonl, read_image
from sesr_nb.infer import read_image_as_stored, upscale, upscale_y_tiled
from sesr_nb.viz import comparison_figure, error_map_figure, figure_png, plot_training_curves, read_metrics_log
from sesr_nb.widget import CompareWidget, ViewState, view_box

from helpers import DATA, needs_data, run_cli

ROOT = Path(__file__).resolve().parent.parent


def random_model(preset: str = 'tiny', scale: int = 2, seed: int = 0, name: str | None = None) -> TrainedModel:
    "An SESR model with random kernels and non-zero biases and PReLU slopes."
    arch, config = arch_config(preset, scale)
    params = arch.init(config, jax.random.PRNGKey(seed))
    rng = np.random.default_rng(seed)
    params = jax.tree_util.tree_map_with_path(
        lambda path, leaf: leaf + 0.1 * rng.standard_normal(leaf.shape).astype(np.float32)
        if path[-1].key in ('bias', 'slope') else leaf, params)
    return TrainedModel.from_train_params(arch, config, params, name=name)


def run_upscale(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return run_cli('upscale', *args, timeout=timeout)


@pytest.fixture(scope='module')
def model_file(tmp_path_factory) -> Path:
    return save_model_file(tmp_path_factory.mktemp('model') / 'tiny_x2.npz', random_model())


# ---------------------------------------------------------------- the console script on Set14

@needs_data
def test_upscale_set14_end_to_end(model_file, tmp_path):
    result = run_upscale(str(DATA / 'Set14' / 'HR'), '--model', str(model_file), '--scale', '2', '--out', str(tmp_path),
                         '--json', '--tile', '128', '--progress')
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)                      # stdout is exactly one JSON document
    assert summary['scale'] == 2 and summary['tile'] == [128, 128] and len(summary['images']) == 14
    assert 'upscale x2' in result.stderr                     # the progress bar went to stderr
    model = load_model_file(model_file)
    for record in summary['images']:
        out = Path(record['output'])
        assert out.exists() and out.suffix == '.png'
        w, h = record['input_size']
        assert record['output_size'] == [2 * w, 2 * h] and Image.open(out).size == (2 * w, 2 * h)
    modes = {Path(r['input']).stem: r['mode'] for r in summary['images']}
    assert modes['bridge'] == 'gray' and Image.open(tmp_path / 'bridge_x2.png').mode == 'L'   # gray stays gray
    assert modes['baboon'] == 'RGB' and Image.open(tmp_path / 'baboon_x2.png').mode == 'RGB'
    baboon = read_image(DATA / 'Set14' / 'HR' / 'baboon.png')
    assert np.array_equal(np.asarray(Image.open(tmp_path / 'baboon_x2.png')), model.sr_rgb(baboon))


@needs_data
def test_upscale_refuses_to_overwrite_and_wrong_scale(model_file, tmp_path):
    image = DATA / 'Set14' / 'HR' / 'comic.png'
    assert run_upscale(str(image), '--model', str(model_file), '--out', str(tmp_path)).returncode == 0
    written = (tmp_path / 'comic_x2.png').read_bytes()
    again = run_upscale(str(image), '--model', str(model_file), '--out', str(tmp_path), '--tile', '0')
    assert again.returncode == 2 and 'comic_x2.png already exists' in again.stderr and '--overwrite' in again.stderr
    assert (tmp_path / 'comic_x2.png').read_bytes() == written
    assert run_upscale(str(image), '--model', str(model_file), '--out', str(tmp_path), '--overwrite', '--tile', '0').returncode == 0
    assert (tmp_path / 'comic_x2.png').read_bytes() == written   # untiled run: the same bytes
    wrong = run_upscale(str(image), '--model', str(model_file), '--scale', '3', '--out', str(tmp_path / 'x3'))
    assert wrong.returncode == 2 and 'x2 model' in wrong.stderr and not (tmp_path / 'x3').exists()


def test_upscale_bad_inputs(model_file, tmp_path):
    (tmp_path / 'broken.png').write_bytes(b'\x89PNG but not really')
    result = run_upscale(str(tmp_path / 'broken.png'), '--model', str(model_file), '--out', str(tmp_path / 'out'), '--json')
    assert result.returncode == 2 and 'broken.png' in result.stderr
    assert json.loads(result.stdout)['type'] == 'BadImageError' and not (tmp_path / 'out').exists()
    missing = run_upscale(str(tmp_path / 'nowhere.png'), '--model', str(model_file))
    assert missing.returncode == 2 and 'nowhere.png' in missing.stderr


def test_rgba_keeps_alpha(model_file, tmp_path):
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (30, 41, 4), dtype=np.uint8)
    Image.fromarray(rgba).save(tmp_path / 'sprite.png')
    result = run_upscale(str(tmp_path / 'sprite.png'), '--model', str(model_file), '--out', str(tmp_path / 'out'))
    assert result.returncode == 0, result.stderr
    out = Image.open(tmp_path / 'out' / 'sprite_x2.png')
    assert out.mode == 'RGBA' and out.size == (82, 60)


# ---------------------------------------------------------------- tiled == untiled

@needs_data
@pytest.mark.parametrize('tile', [48, (40, None), (None, 33), 1000])
def test_tiled_equals_untiled_on_set14(tile):
    model = random_model('M5', 2, seed=3)
    y = read_image(DATA / 'Set14' / 'HR' / 'zebra.png')  # 586x391: odd sizes, not multiples of any tile
    from sesr_nb.color import rgb_to_model_y
    y01 = rgb_to_model_y(y)
    assert np.array_equal(upscale_y_tiled(model, y01, tile), model.upscale_y(y01))


def test_tiled_equals_untiled_with_xla_convolutions():
    "The same exactness with XLA's convolution instead of the native kernels (fresh process: the backend is fixed at trace time)."
    code = textwrap.dedent('''
        import numpy as np, jax
        from sesr_nb.conv import conv_backend
        from sesr_nb.arch import TrainedModel, arch_config
        from sesr_nb.infer import upscale_y_tiled
        assert conv_backend() == 'xla'
        arch, config = arch_config('M5', 2)
        rng = np.random.default_rng(0)
        params = jax.tree_util.tree_map_with_path(lambda p, l: l + 0.1 * rng.standard_normal(l.shape).astype(np.float32)
                                                  if p[-1].key in ('bias', 'slope') else l, arch.init(config, jax.random.PRNGKey(1)))
        model = TrainedModel.from_train_params(arch, config, params)
        y = rng.random((101, 157), dtype=np.float32)
        ref = model.upscale_y(y)
        for tile in (32, (20, None), (None, 45)):
            out = upscale_y_tiled(model, y, tile)
            print(f'{tile}|{np.array_equal(out, ref)}|{np.abs(out - ref).max():.3g}')
    ''')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300,
                            env={**os.environ, 'SESR_NB_CONV': 'xla'})
    assert result.returncode == 0, result.stderr
    lines = [line.split('|') for line in result.stdout.strip().splitlines()]
    assert len(lines) == 3 and all(exact == 'True' for _, exact, _ in lines), result.stdout   # bit-identical float32


def test_bounded_memory_on_a_1080p_frame():
    "Colour upscaling of a 1080p frame in tiles allocates far less host memory than the untiled reference path."
    model = random_model('tiny')
    frame = np.random.default_rng(0).integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    tracemalloc.start()
    tiled = upscale(frame, model, tile=256)
    tiled_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    reference = model.sr_rgb(frame)
    reference_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert np.array_equal(tiled, reference)
    # measured: about 141 MB tiled (the 25 MB result plus LR-sized float64 planes) vs 996 MB for the whole-image path
    hr_bytes = tiled.nbytes                                   # the 8-bit 4K result itself: 24.9 MB
    assert tiled_peak < 0.25 * reference_peak, (tiled_peak / 1e6, reference_peak / 1e6)
    assert tiled_peak < 8 * hr_bytes, tiled_peak / 1e6


@needs_data
def test_grayscale_bridge_through_python_api():
    model = random_model()
    bridge = read_image_as_stored(DATA / 'Set14' / 'HR' / 'bridge.png')
    assert bridge.ndim == 2
    out = upscale(bridge, model, tile=64)
    assert out.shape == (1024, 1024) and out.dtype == np.uint8
    via_rgb = model.sr_rgb(np.dstack([bridge] * 3))[..., 0]
    assert np.abs(out.astype(int) - via_rgb).max() <= 1
    pil = upscale(Image.open(DATA / 'Set14' / 'HR' / 'bridge.png'), model)
    assert pil.mode == 'L' and np.array_equal(np.asarray(pil), out)


# ---------------------------------------------------------------- figures

def eval_pairs():
    if DATA is not None and (DATA / 'Set5' / 'HR').is_dir(): return load_dataset(DATA / 'Set5', 2)
    return embedded_pairs(2, 'eval')


@needs_data
def test_figures_on_set5_show_the_evaluation_numbers():
    "On benchmark images (woman is 228x344) a figure's PSNR/SSIM and error map are those of the evaluation harness."
    pairs = PairedDataset('Set5', 2, tuple(p for p in load_dataset(DATA / 'Set5', 2) if p.name in ('bird', 'woman')))
    model = random_model(name='net')
    assert len(pairs) == 2
    scores = evaluate_model(model, pairs).sets[0].images
    for pair, score in zip(pairs, scores):
        assert score.name == pair.name
        comparison = comparison_figure(pair.hr, pair.lr, [model], 2)
        assert comparison.axes[2].get_xlabel() == f'{score.psnr:.2f} dB / {score.ssim:.4f}', pair.name
        errors = error_map_figure(pair.hr, pair.lr, [model], 2)
        assert errors.axes[0].get_title() == f'net: {score.psnr:.2f} dB', pair.name
        np.testing.assert_allclose(errors.axes[0].images[0].get_array(), np.abs(model.sr_y(pair.lr) - rgb_to_y(pair.hr)))


def test_training_curves_plot_a_log_written_by_append_jsonl(tmp_path):
    "A log appended record by record, with a crash mid-line and a resumed run after it: the figure plots what was written."
    steps = np.arange(1, 121)
    losses = 0.05 / steps ** 0.3
    val = {s: {'Set5': 30 + s / 100, 'Set14': 28 + s / 100} for s in (30, 60, 90, 120)}
    records = [{'step': int(s), 'epoch': s / 10, 'loss': float(l), 'loss_mean': float(l), 'grad_norm': 0.1} for s, l in zip(steps, losses)]
    records += [{'step': s, 'val_psnr': v['Set5'], 'val': {k: {'psnr': p, 'ssim': 0.9} for k, p in v.items()}} for s, v in val.items()]
    records.sort(key=lambda r: r['step'])
    path = tmp_path / 'metrics.jsonl'
    for record in records[:70]: append_jsonl(path, record)
    with open(path, 'a') as f: f.write('{"step": 71, "loss": 0.0')      # the process died in the middle of a line
    for record in records[70:]: append_jsonl(path, record)             # the resumed run appends after it
    with pytest.warns(SkippedLineWarning):
        log = read_metrics_log(tmp_path)
    assert log.skipped_lines == 1
    figure = plot_training_curves(log)
    raw, smooth = figure.axes[0].lines
    np.testing.assert_array_equal(raw.get_xdata(), steps)
    np.testing.assert_array_equal(raw.get_ydata(), losses)
    window = max(5, len(steps) // 50)
    np.testing.assert_allclose(smooth.get_ydata(), [losses[max(0, i - window + 1):i + 1].mean() for i in range(len(steps))])
    plotted = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in figure.axes[1].lines}
    assert plotted == {'val_psnr': (list(val), [v['Set5'] for v in val.values()]),
                       'val_psnr/Set5': (list(val), [v['Set5'] for v in val.values()]),
                       'val_psnr/Set14': (list(val), [v['Set14'] for v in val.values()])}


# ---------------------------------------------------------------- the widget, headless

def test_widget_headless_on_real_images():
    pairs = eval_pairs()
    a, b = random_model(seed=1, name='net A'), random_model(seed=2, name='net B')
    widget = CompareWidget(list(pairs)[:2], [a, b], display_width=256)
    seen = [(widget.view.value, widget.readout.value)]
    for control, value in [(widget.split, 0.3), (widget.zoom, 8), (widget.center_y, 0.2), (widget.model_choice, 'net B'),
                           (widget.image_choice, list(pairs)[1].name), (widget.left_choice, 'LR (nearest)')]:
        control.value = value
        seen.append((widget.view.value, widget.readout.value))
        assert seen[-1][0] != seen[-2][0], control.description          # the picture changed
        if control is not widget.split: assert seen[-1][1] != seen[-2][1], control.description  # and the numbers
    shown = np.asarray(Image.open(io.BytesIO(widget.view.value)))
    assert shown.shape[1] >= 256 // 2 and shown.dtype == np.uint8
    pair = list(pairs)[1]
    assert widget.last_readout.box == view_box(pair.hr.shape, ViewState(0.3, 8, 0.5, 0.2))
    assert Image.open(io.BytesIO(figure_png(widget.snapshot_figure()))).format == 'PNG'
