#!/usr/bin/env python3
"""The part of `nbdev_docs` that runs before Quarto: refresh _quarto.yml and nbdev.yml, build the module index and
the sidebar, and process every notebook for rendering (show_doc, directives, exports) into _proc/.

Quarto itself cannot be installed on the CI machines; wherever it exists, `nbdev_docs` runs these same steps and
then `quarto render`. `.ci/site.py` builds the site from _proc/ without Quarto. Fails (exit 1) if any notebook
cannot be processed.
"""
import sys
from pathlib import Path

from nbdev.config import get_config
from nbdev.doclinks import _build_modidx
from nbdev.quarto import nbdev_sidebar, refresh_quarto_yml
from nbdev.serve import proc_nbs


def process() -> Path:
    "Run nbdev's docs processing into _proc/ and return that folder; SystemExit if a notebook was not processed."
    cfg = get_config()
    refresh_quarto_yml()
    _build_modidx()
    nbdev_sidebar.__wrapped__(path=cfg.nbs_path)
    cache = Path(proc_nbs(cfg.nbs_path, n_workers=0))
    processed = sorted(p.name for p in cache.glob('*.ipynb'))
    sources = sorted(p.name for p in Path(cfg.nbs_path).glob('*.ipynb'))
    missing = set(sources) - set(processed)
    if missing: sys.exit(f'docs processing did not produce: {sorted(missing)}')
    print(f'docs processing OK: {len(processed)} notebooks in {cache}')
    return cache


if __name__ == '__main__':
    process()
