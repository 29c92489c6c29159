"""What the integration tests share: where the benchmark images are, how to run the installed console script, the
scripts of benchmarks/ as modules, and small H.264 clips."""
from __future__ import annotations
import importlib.util, subprocess, sys
from pathlib import Path

import pytest

from sesr_nb.datasets import benchmark_data_dir

DATA = benchmark_data_dir()
needs_data = pytest.mark.skipif(DATA is None, reason='benchmark images not found: set SESR_NB_DATA or provide ../shared/data')


def console_script() -> list[str]:
    "The installed `sesr_nb` console script, next to this interpreter."
    script = Path(sys.executable).parent / 'sesr_nb'
    if not script.exists(): pytest.skip('the sesr_nb console script is not installed (pip install -e .)')
    return [str(script)]


def run_cli(command: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    "Run `sesr_nb COMMAND ARGS...` and capture its output."
    return subprocess.run(console_script() + [command, *args], capture_output=True, text=True, timeout=timeout)


def load_module(name: str):
    "The script benchmarks/NAME.py as a module (its own folder importable, as when it runs)."
    folder = Path(__file__).resolve().parent.parent / 'benchmarks'
    if str(folder) not in sys.path: sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location(name, folder / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_h264_clip(path: Path, frames, rate: int = 10) -> Path:
    "Write uint8 RGB `frames` (HxWx3, H and W even) as an H.264 yuv420p clip at `rate` frames/s (needs PyAV)."
    import av, numpy as np
    frames = [np.ascontiguousarray(f) for f in frames]
    with av.open(str(path), 'w') as out:
        stream = out.add_stream('libx264', rate=rate)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], 'yuv420p'
        for frame in frames: out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format='rgb24')))
        out.mux(stream.encode(None))
    return Path(path)
