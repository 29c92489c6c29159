"""Failures a user meets, each reproduced through the real command line, and the clear behaviour each now gets:
damaged model files, `--resume` on the wrong folder or with another configuration, a corrupt checkpoint, and folders
the operating system will not let us write. Most run `sesr_nb.cli.main` in-process; the ones whose noise can arrive
after the command returns (background threads, interpreter exit) or that need another user's permissions run the
installed console script."""
from __future__ import annotations
import asyncio, gc, json, os, shutil, subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sesr_nb.cli import main
from helpers import console_script, write_h264_clip

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


# --- the newcomer's path (issue: resume by folder, bad folders, help that matches, quiet output) ---------------------

def test_resume_by_folder_alone(capsys, run, tmp_path):
    "`--resume --workdir RUN` alone continues the recorded run; it used to compare with the defaults (-> M5) and refuse."
    workdir = tmp_path / 'run'
    shutil.copytree(run, workdir)
    status, out, err = cli(capsys, 'train', '--workdir', workdir, '--resume', '--json')
    assert status == 0, err
    assert json.loads(out)['steps'] == 4                         # finished as recorded: nothing more to do
    status, out, err = cli(capsys, 'train', '--workdir', workdir, '--resume', '--steps', '6', '--json')
    assert status == 0, err
    assert json.loads(out)['steps'] == 6                         # a longer constant-rate run extends it
    recorded = json.loads((workdir / 'config.json').read_text())
    assert (recorded['arch'], recorded['batch_size'], recorded['steps']) == ('tiny', 4, 6)
    status, _, err = cli(capsys, 'train', '--workdir', workdir, '--resume', '--lr', '0.01', '--steps', '8')
    assert status == 2 and '--lr 0.0005 -> 0.01' in one_error_line(err, 'train')   # typed flags are still compared


def test_distill_resumes_by_folder_with_its_teacher(capsys, model_file, tmp_path):
    "A distillation run resumed by folder keeps its recorded teacher and loss."
    workdir = tmp_path / 'kd'
    status, _, err = cli(capsys, 'distill', *TINY, '--steps', '2', '--teacher', model_file, '--variant', 'output',
                         '--workdir', workdir)
    assert status == 0, err
    status, out, err = cli(capsys, 'distill', '--workdir', workdir, '--resume', '--steps', '4', '--json')
    assert status == 0, err
    summary = json.loads(out)
    assert (summary['steps'], summary['variant'], summary['teacher']) == (4, 'output', str(model_file.resolve()))


def test_truncated_image_stops_before_writing(capsys, tmp_path):
    "A folder of good PNGs and one truncated PNG: nothing is written, and the message names the file and the way on."
    from skimage import data
    folder = tmp_path / 'photos'
    folder.mkdir()
    for i in range(3): Image.fromarray(data.astronaut()[40 * i:40 * i + 32, :40]).save(folder / f'good{i}.png')
    Image.fromarray(data.astronaut()[:64, :64]).save(folder / 'zcut.png')
    whole = (folder / 'zcut.png').read_bytes()
    (folder / 'zcut.png').write_bytes(whole[:len(whole) * 2 // 3])
    status, _, err = cli(capsys, 'upscale', folder, '--model', 'bicubic', '--out', tmp_path / 'out')
    assert status == 2
    line = one_error_line(err, 'upscale')
    assert 'zcut.png' in line and '--skip-bad' in line, line
    assert not (tmp_path / 'out').exists() or not any((tmp_path / 'out').iterdir())
    status, out, err = cli(capsys, 'upscale', folder, '--model', 'bicubic', '--out', tmp_path / 'out', '--skip-bad', '--json')
    assert status == 0 and len(json.loads(out)['images']) == 3
    assert [l for l in err.splitlines() if l.strip()] == [l for l in err.splitlines() if l.startswith('sesr_nb: warning: ')]


def test_no_default_depends_on_the_working_directory():
    "No flag of any command defaults to a path relative to where the command runs (slim's --data used to)."
    from sesr_nb.cli import SUBCOMMANDS, subcommand_parser
    for name in SUBCOMMANDS:
        parser, _ = subcommand_parser(name)
        for action in parser._actions:
            values = action.default if isinstance(action.default, (list, tuple)) else [action.default]
            for value in values:
                assert not (isinstance(value, (str, Path)) and ('..' in str(value) or 'shared' in str(value))), \
                    (name, action.dest, value)


def test_help_matches_what_the_commands_do():
    "--help names every form --model takes, every export format and every registered architecture."
    from sesr_nb.arch import architectures
    out = lambda *argv: subprocess.run(console_script() + list(argv), capture_output=True, text=True, timeout=300).stdout
    top = out('--help')
    assert all(word in top for word in ('distill', 'quantize', 'TFLite', 'StableHLO'))
    for command in ('upscale', 'evaluate'):
        assert all(kind in out(command, '--help') for kind in ('.onnx', '.tflite', '.stablehlo')), command
    arch_help = out('train', '--help').replace('\n', ' ')
    assert all(preset in arch_help for arch in architectures().values() for preset in arch.presets), arch_help


def test_stablehlo_file_runs_as_a_model(capsys, photo, tmp_path):
    "An exported .stablehlo program is a model like the others (it used to be refused as 'not an .npz archive')."
    program = tmp_path / 'm.stablehlo'
    assert cli(capsys, 'export', '--model', 'pretrained:M3x2', '--out', program)[0] == 0
    status, out, err = cli(capsys, 'upscale', photo, '--model', program, '--out', tmp_path / 'out', '--json')
    assert status == 0, err
    reference = tmp_path / 'ref'
    assert cli(capsys, 'upscale', photo, '--model', 'pretrained:M3x2', '--out', reference)[0] == 0
    a, b = (np.asarray(Image.open(next(folder.iterdir()))) for folder in (tmp_path / 'out', reference))
    assert np.abs(a.astype(int) - b).max() <= 1      # XLA's and the native kernels' float rounding


def test_warnings_are_one_line(tmp_path):
    "Skip warnings are `sesr_nb: warning: ...`, one line, without Python's source line or the API's skip_bad=True."
    from skimage import data
    folder = tmp_path / 'set'
    folder.mkdir()
    Image.fromarray(data.astronaut()[:64, :64]).save(folder / 'a.png')
    (folder / 'b.png').write_bytes(b'not a png')
    done = subprocess.run(console_script() + ['evaluate', '--model', 'bicubic', '--data', str(folder), '--skip-bad'],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = [l for l in done.stderr.splitlines() if l.strip()]
    assert lines and all(l.startswith('sesr_nb: warning: ') for l in lines), done.stderr
    assert 'skip_bad=True' not in done.stderr and 'warnings.warn' not in done.stderr


def test_litert_is_quiet(tmp_path):
    "Running a .tflite model prints nothing of LiteRT's ('INFO: Created TensorFlow Lite XNNPACK delegate')."
    pytest.importorskip('ai_edge_litert')
    path = tmp_path / 'm.tflite'
    assert subprocess.run(console_script() + ['export', '--model', 'pretrained:M3x2', '--out', str(path)],
                          capture_output=True, timeout=300).returncode == 0
    done = subprocess.run(console_script() + ['evaluate', '--model', str(path), '--data', 'skimage:eval'],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and 'INFO' not in done.stderr and not done.stderr.strip(), done.stderr


def test_progress_in_a_log_is_plain_lines(tmp_path):
    """train with stderr redirected to a file writes plain progress lines, no carriage-return bars, at most one per 100
    steps however often it logs metrics (a log file is read by people), and one at the end."""
    done = subprocess.run(console_script() + ['train', *[a for a in TINY if a != '--no-progress'], '--steps', '250',
                                              '--log-every', '2', '--val-every', '250', '--workdir', str(tmp_path / 'run')],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if 'step ' in line]
    assert '\r' not in done.stderr, repr(done.stderr)
    assert [line.split('step ')[1].split()[0] for line in lines] == ['100/250', '200/250', '250/250'], done.stderr


def test_video_progress_has_no_empty_image_bar(tmp_path):
    "`upscale clip.mp4 --progress` shows the video's bar only (it used to print an empty '0image' bar twice)."
    av = pytest.importorskip('av')
    clip = write_h264_clip(tmp_path / 'clip.mp4', [np.full((32, 32, 3), 40 * i, np.uint8) for i in range(3)], rate=5)
    done = subprocess.run(console_script() + ['upscale', str(clip), '--model', 'bicubic', '--out', str(tmp_path / 'o'),
                                              '--progress'], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert 'image' not in done.stderr and 'frame' in done.stderr, done.stderr


def test_compiled_programs_are_reused(photo, tmp_path):
    "Upscaling writes JAX's compiled programs into the user's cache folder, where the next run finds them."
    env = {**os.environ, 'SESR_NB_CACHE': str(tmp_path / 'cache'), 'JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS': '0'}
    env.pop('JAX_COMPILATION_CACHE_DIR', None)   # every program is kept, so the second run compiles nothing new
    argv = console_script() + ['upscale', str(photo), '--model', 'pretrained:M3x2', '--out', str(tmp_path / 'o'), '--overwrite']
    assert subprocess.run(argv, env=env, capture_output=True, timeout=600).returncode == 0
    cached = list((tmp_path / 'cache' / 'jax').iterdir())
    assert cached, 'no compiled program was cached'
    assert subprocess.run(argv, env=env, capture_output=True, timeout=600).returncode == 0
    assert sorted(p.name for p in (tmp_path / 'cache' / 'jax').iterdir()) == sorted(p.name for p in cached)  # reused


@pytest.mark.parametrize('argv', [['export', '--model', 'pretrained', '--out', 'x.npz', '--scale', '5'],
                                  ['upscale', 'x.png', '--scale', '5'], ['evaluate', '--data', 'skimage:eval', '--scale', '5'],
                                  ['train', '--workdir', 'w', '--scale', '5'], ['info', '--scale', '5']])
def test_scale_is_2_3_or_4_everywhere(argv):
    "--scale 5 gets one message from every command (export used to suggest a pretrained x5 model)."
    done = subprocess.run(console_script() + argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and 'invalid choice: 5 (choose from 2, 3, 4)' in done.stderr, done.stderr


@pytest.mark.parametrize('verbose', [False, True])
def test_abandoned_future_report(caplog, verbose):
    """tensorstore abandons futures holding the read error of a damaged checkpoint; asyncio reports each ('Future
    exception was never retrieved') when it is garbage-collected, at a moment that can follow the command's one-line
    error. After a command the report is dropped, unless --verbose (the control: the same future is reported)."""
    assert main(['evaluate', '--model', 'no-such-model', '--data', 'skimage:eval'] + (['--verbose'] if verbose else [])) == 2
    loop = asyncio.new_event_loop()
    future = loop.create_future()
    future.set_exception(RuntimeError('a read that failed'))
    del future
    gc.collect()
    loop.close()
    reported = any('never retrieved' in r.getMessage() for r in caplog.records)
    assert reported == verbose
