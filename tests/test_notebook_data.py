"""The notebook cells that need the classic benchmark images (nbdev test flag `data`).

Plain `nbdev_test` skips cells flagged `#| data`; this test runs them, notebook by notebook, when the images are found
(`$SESR_NB_DATA` or `../shared/data`), and is reported as skipped — with the reason — when they are not, so that a
missing dataset never passes silently.
"""
from __future__ import annotations
import json, os, shutil, subprocess, sys
from pathlib import Path

import pytest

from helpers import DATA

ROOT = Path(__file__).resolve().parent.parent


def notebooks_with_data_cells() -> list[str]:
    "Names of the notebooks that have at least one cell flagged `#| data`."
    names = []
    for path in sorted((ROOT / 'nbs').glob('*.ipynb')):
        cells = json.loads(path.read_text())['cells']
        if any(c['cell_type'] == 'code' and any(l.strip() == '#| data' for l in c['source']) for c in cells):
            names.append(path.name)
    return names


def test_some_notebooks_have_data_cells():
    assert len(notebooks_with_data_cells()) >= 3, notebooks_with_data_cells()


@pytest.mark.parametrize('notebook', notebooks_with_data_cells())
def test_data_cells(notebook):
    if DATA is None: pytest.skip('benchmark images not found: set SESR_NB_DATA or provide ../shared/data')
    nbdev_test = shutil.which('nbdev_test', path=str(Path(sys.executable).parent)) or shutil.which('nbdev_test')
    if nbdev_test is None: pytest.skip('nbdev is not installed (pip install -e ".[dev]")')
    env = {**os.environ, 'SESR_NB_DATA': str(DATA)}
    proc = subprocess.run([nbdev_test, '--flags', 'data', '--path', str(ROOT / 'nbs' / notebook)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, f'{notebook} failed with its data cells:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}'
