"""Failures a user meets, each reproduced through the real command line, and the clear behaviour each now gets:
damaged model files, `--resume` on the wrong folder or with another configuration, a corrupt checkpoint, and folders
the operating system will not let us write. Most run `sesr_nb.cli.main` in-process; the ones whose noise can arrive
after the command returns (background threads, interpreter exit) or that need another user's permissions run the
installed console script."""
from __future__ import annotations
import json, os, shutil, subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sesr_nb.cli import main
from helpers import console_script

TINY = ['--arch', 'tiny', '--data', 'skimage:train', '--val', 'skimage:eval', '--batch-size', '4', '--lr-patch', '16',
        '--patches-per-image', '2', '--val-every', '2', '--no-progress']


def cli(capsys, *argv) -> tuple[int, str, str]:
    "Exit status, stdout and stderr of `sesr_nb ARGV` run in-process."
    capsys.readouterr()
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def one_error_line(err: str, command: str) -> str:
    "The single line a failed command prints; fails if anything else (a traceback, a log) is on stderr."
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1, err[-3000:]
    assert lines[0].startswith(f'sesr_nb {command}: error: '), lines
    assert 'Traceback' not in err and 'Errno' not in err and 'absl' not in err, err
    return lines[0]


@pytest.fixture(scope='module')
def run(tmp_path_factory) -> Path:
    "A tiny finished run with checkpoints at steps 2 and 4 (trained through the CLI)."
    workdir = tmp_path_factory.mktemp('run') / 'run'
    assert main(['train', *TINY, '--steps', '4', '--workdir', str(workdir), '--json']) == 0
    assert sorted(p.name for p in (workdir / 'checkpoints').iterdir() if p.name.isdigit()) == ['2', '4']
    return workdir


@pytest.fixture(scope='module')
def model_file(run, tmp_path_factory) -> Path:
    "The run exported as an .npz model file."
    path = tmp_path_factory.mktemp('model') / 'good.npz'
    assert main(['export', '--model', str(run), '--out', str(path)]) == 0
    return path


@pytest.fixture
def photo(tmp_path) -> Path:
    "A small RGB image to upscale."
    from skimage import data
    path = tmp_path / 'photo.png'
    Image.fromarray(data.astronaut()[100:140, 180:230]).save(path)
    return path


def rewritten(model_file: Path, target: Path, change) -> Path:
    "A copy of the model file with `change(arrays)` applied to its arrays."
    arrays = dict(np.load(model_file))
    change(arrays)
    np.savez(target, **arrays)
    return target


def first_kernel(arrays: dict) -> str:
    "The name of the first convolution kernel in a model file's arrays."
    return next(k for k in sorted(arrays) if k.endswith('kernel'))


# --- model files ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('value', [np.nan, np.inf])
def test_model_file_with_nan_or_inf_weights(capsys, model_file, photo, tmp_path, value):
    "A model with a NaN/inf weight is refused at load, naming the file (it used to write an all-black image, exit 0)."
    def poison(arrays):
        key = first_kernel(arrays)
        arrays[key] = arrays[key].copy()
        arrays[key].flat[3] = value
    bad = rewritten(model_file, tmp_path / 'poisoned.npz', poison)
    status, _, err = cli(capsys, 'upscale', photo, '--model', bad, '--out', tmp_path / 'out')
    assert status == 2
    line = one_error_line(err, 'upscale')
    assert str(bad) in line and 'NaN or infinite' in line, line
    assert not (tmp_path / 'out').exists() or not any((tmp_path / 'out').iterdir())   # no black image written


@pytest.mark.parametrize('keep', [0.5, 0.98, 0.0])
def test_truncated_model_file(capsys, model_file, tmp_path, keep):
    "A truncated .npz is one line naming the file and saying it is truncated (it used to be a BadZipFile traceback)."
    data = model_file.read_bytes()
    bad = tmp_path / 'cut.npz'
    bad.write_bytes(data[:int(len(data) * keep)])
    status, _, err = cli(capsys, 'evaluate', '--model', bad, '--data', 'skimage:eval', '--scale', '2')
    assert status == 2
    line = one_error_line(err, 'evaluate')
    assert str(bad) in line and 'truncated' in line and 'BadZipFile' not in line, line


def test_text_file_named_npz(capsys, tmp_path):
    "A text file named .npz is 'not a model file' — not a pickle problem, and no advice to unpickle it."
    bad = tmp_path / 'notes.npz'
    bad.write_text('these are my notes, not weights\n')
    status, _, err = cli(capsys, 'evaluate', '--model', bad, '--data', 'skimage:eval', '--scale', '2')
    assert status == 2
    line = one_error_line(err, 'evaluate')
    assert str(bad) in line and 'not a model file' in line, line
    assert 'pickle' not in line.lower(), line


def test_kernel_of_the_wrong_shape(capsys, model_file, photo, tmp_path):
    "A kernel of the wrong shape names the file, the array and both shapes."
    def narrow(arrays):
        key = first_kernel(arrays)
        arrays[key] = arrays[key][..., :1]
    bad = rewritten(model_file, tmp_path / 'narrow.npz', narrow)
    status, _, err = cli(capsys, 'upscale', photo, '--model', bad, '--out', tmp_path / 'out')
    assert status == 2
    line = one_error_line(err, 'upscale')
    assert str(bad) in line and 'shape' in line and first_kernel(dict(np.load(bad))) in line, line


# --- --resume --------------------------------------------------------------------------------------------------------

def test_resume_a_folder_that_does_not_exist(capsys, tmp_path):
    "--resume on a missing folder is an error and creates nothing (it used to train from scratch, silently)."
    status, _, err = cli(capsys, 'train', *TINY, '--steps', '4', '--workdir', tmp_path / 'typo', '--resume')
    assert status == 2
    line = one_error_line(err, 'train')
    assert str(tmp_path / 'typo') in line and 'no such folder' in line and 'without --resume' in line, line
    assert not (tmp_path / 'typo').exists()


def test_resume_a_folder_without_checkpoint(capsys, tmp_path):
    "--resume on a folder with no checkpoint (a run that stopped before its first one) is an error."
    (tmp_path / 'early').mkdir()
    (tmp_path / 'early' / 'config.json').write_text('{}')
    status, _, err = cli(capsys, 'train', *TINY, '--steps', '4', '--workdir', tmp_path / 'early', '--resume')
    assert status == 2 and 'holds no checkpoint' in one_error_line(err, 'train')


def test_resume_with_another_configuration(capsys, run, tmp_path):
    "A changed learning rate, batch and data are listed as flags; --resume-override accepts and records them."
    workdir = tmp_path / 'run'
    shutil.copytree(run, workdir)
    changed = [*TINY[:6], '--batch-size', '2', *TINY[8:], '--lr', '0.001', '--steps', '6', '--workdir', workdir]
    changed[changed.index('skimage:train')] = 'skimage:eval'
    status, _, err = cli(capsys, 'train', *changed, '--resume')
    assert status == 2
    line = one_error_line(err, 'train')
    for listed in ('--lr 0.0005 -> 0.001', '--batch-size 4 -> 2', '--data skimage:train -> skimage:eval', '--resume-override'):
        assert listed in line, (listed, line)
    assert '--steps' not in line   # a constant learning rate: a longer run is an ordinary resume
    assert sorted(p.name for p in (workdir / 'checkpoints').iterdir() if p.name.isdigit()) == ['2', '4']   # untouched

    status, out, err = cli(capsys, 'train', *changed, '--resume', '--resume-override', '--json')
    assert status == 0, err
    assert json.loads(out)['steps'] == 6
    recorded = json.loads((workdir / 'config.json').read_text())
    assert recorded['overrides'] == [{'step': 4, 'changed': {'data': [['skimage:train'], ['skimage:eval']],
                                                             'batch_size': [4, 2], 'learning_rate': [0.0005, 0.001]}}]

    other = [a if a != 'tiny' else 'M3' for a in changed]
    status, _, err = cli(capsys, 'train', *other, '--resume', '--resume-override')
    assert status == 2 and 'another network' in one_error_line(err, 'train')


# --- a corrupt checkpoint --------------------------------------------------------------------------------------------

def zero_files(folder: Path) -> None:
    "Overwrite every file under `folder` with as many zero bytes (a disk or copy error)."
    for path in folder.rglob('*'):
        if path.is_file(): path.write_bytes(bytes(path.stat().st_size))


@pytest.mark.parametrize('damage', ['every file', 'array data'])
def test_corrupt_checkpoint(run, tmp_path, damage):
    """A damaged latest checkpoint: `evaluate --model RUN` and `train --resume` print one line naming the step folder
    and what to do — no orbax log, no 'Event loop is closed' tracebacks (run as the console script: some of those
    arrive after the command has returned); `--verbose` shows the traceback."""
    workdir = tmp_path / 'run'
    shutil.copytree(run, workdir)
    step = workdir / 'checkpoints' / '4'
    if damage == 'every file': zero_files(step)
    else:
        for item in ('params', 'opt_state'):
            for sub in ('d', 'ocdbt.process_0'): zero_files(step / item / sub)
    commands = {'evaluate': ['evaluate', '--model', str(workdir), '--data', 'skimage:eval', '--scale', '2'],
                'train': ['train', *TINY, '--steps', '6', '--workdir', str(workdir), '--resume']}
    for name, argv in commands.items():
        out = subprocess.run(console_script() + argv, capture_output=True, text=True, timeout=600)
        assert out.returncode == 2, out.stderr[-3000:]
        line = one_error_line(out.stderr.replace('\0', ''), name)
        assert str(step) in line and 'delete' in line.lower(), line
        assert 'Event loop is closed' not in out.stderr
    verbose = subprocess.run(console_script() + commands['evaluate'] + ['--verbose'], capture_output=True, text=True, timeout=600)
    assert verbose.returncode == 2 and 'Traceback (most recent call last)' in verbose.stderr


# --- the operating system says no ------------------------------------------------------------------------------------

def as_unprivileged(argv: list[str]) -> list[str]:
    "`argv` run so that file permissions apply: as is for a normal user; for root, without the capabilities that bypass them."
    if os.geteuid() != 0: return argv
    setpriv = shutil.which('setpriv')
    if setpriv is None: pytest.skip('running as root and setpriv (util-linux) is missing: permissions cannot be enforced')
    return [setpriv, '--bounding-set=-dac_override,-dac_read_search,-fowner', '--', *argv]


def test_folders_that_are_not_writable(run, photo, tmp_path):
    "A folder that is not writable is named in plain words; never '[Errno 13]' or a temporary file's name."
    locked = tmp_path / 'locked'
    locked.mkdir()
    resumed = tmp_path / 'run'
    shutil.copytree(run, resumed)
    for folder in (locked, resumed / 'checkpoints'): folder.chmod(0o555)
    try:
        cases = {'upscale': (['upscale', str(photo), '--model', 'pretrained', '--out', str(locked)], locked),
                 'train': (['train', *TINY, '--steps', '4', '--workdir', str(locked / 'run')], locked),
                 'demo': (['demo', '--workdir', str(locked / 'demo'), '--steps', '2'], locked),
                 'resume': (['train', *TINY, '--steps', '6', '--workdir', str(resumed), '--resume'], resumed / 'checkpoints')}
        for name, (argv, folder) in cases.items():
            out = subprocess.run(as_unprivileged(console_script() + argv), capture_output=True, text=True, timeout=600)
            assert out.returncode == 2, (name, out.stderr[-3000:])
            line = one_error_line(out.stderr, argv[0])
            assert f'{folder} is not writable' in line and 'tmp' not in line.replace(str(tmp_path), ''), (name, line)
    finally:
        for folder in (locked, resumed / 'checkpoints'): folder.chmod(0o755)
