"""What the integration tests share: where the benchmark images are, and how to run the installed console script."""
from __future__ import annotations
import subprocess, sys
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
