#!/usr/bin/env python3
"""Every notebook opens on Colab: an "Open In Colab" badge under its title and description, and a first code cell,
hidden from the docs, that installs sesr_nb from its repository when the notebook runs on Colab.

Both are made from the one `git_url` (and `branch`, `nbs_path`) of settings.ini, so they cannot disagree with it or
with each other. `python .ci/colab.py` writes them into every notebook (idempotent); `--check` changes nothing and
exits 1, naming the notebooks, when one is missing or out of date (CI, tests/test_colab.py).
"""
from __future__ import annotations
import json, re, sys
from configparser import ConfigParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BADGE_IMAGE = 'https://colab.research.google.com/assets/colab-badge.svg'
BADGE = re.compile(r'\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)')
INSTALL_MARK = '# Colab: install sesr_nb'
INSTALL_ID = 'colab-install'
BADGE_ID = 'colab-badge'
# the optional dependencies a notebook needs beyond the core package (settings.ini's *_requirements extras)
EXTRAS = {'05a_datasets': 'div2k', '05b_sampler': 'div2k', '16_reproduce_colab': 'div2k', '10a_video': 'video',
          '15_export': 'export', '19_quant': 'export', '20_onnx': 'export', '22_tflite': 'export'}


def settings(path: Path = ROOT / 'settings.ini') -> dict:
    config = ConfigParser(delimiters=['='])
    config.read(path, encoding='utf-8')
    return dict(config['DEFAULT'])


def colab_url(name: str, cfg: dict) -> str:
    "Colab's URL of notebook `name` (e.g. '09_train') on the repository's default branch."
    match = re.fullmatch(r'https://github\.com/([^/]+)/([^/]+?)(?:\.git)?/?', cfg['git_url'])
    if not match: raise ValueError(f"settings.ini git_url {cfg['git_url']!r} is not https://github.com/OWNER/REPO")
    owner, repo = match.groups()
    return f"https://colab.research.google.com/github/{owner}/{repo}/blob/{cfg['branch']}/{cfg['nbs_path']}/{name}.ipynb"


def badge(name: str, cfg: dict) -> str:
    return f'[![Open In Colab]({BADGE_IMAGE})]({colab_url(name, cfg)})'


def pip_target(name: str, cfg: dict) -> str:
    "What pip installs for notebook `name`: the package from `git_url`, with the extra the notebook needs."
    extra = f'[{EXTRAS[name]}]' if name in EXTRAS else ''
    return f"{cfg['lib_name']}{extra} @ git+{cfg['git_url'].rstrip('/')}"


def install_source(name: str, cfg: dict) -> str:
    return ('#| hide\n'
            f'{INSTALL_MARK} from its repository (elsewhere: pip install from a clone, see the README)\n'
            'import sys\n'
            "if 'google.colab' in sys.modules:\n"
            f'    %pip install -q "{pip_target(name, cfg)}"')


def _lines(text: str) -> list[str]:
    lines = text.split('\n')
    return [l + '\n' for l in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def with_colab(nb: dict, name: str, cfg: dict) -> dict:
    """The notebook as [title cell, badge cell, install cell, ...the rest]. The title cell keeps only `# title` and the
    `> ` description: nbdev turns that cell into the page's front matter and drops anything else in it, so prose found
    there moves below the badge."""
    def is_install(c): return c['cell_type'] == 'code' and ''.join(c['source']).startswith(f'#| hide\n{INSTALL_MARK}')
    def is_badge(c): return c['cell_type'] == 'markdown' and (c.get('id') == BADGE_ID or bool(BADGE.match(''.join(c['source']))))
    title, *cells = [c for c in nb['cells'] if not is_install(c)]
    text = ''.join(title['source'])
    if title['cell_type'] != 'markdown' or not text.startswith('# '):
        raise ValueError(f'{name}: the first cell must be the markdown title cell (# Title, > description)')
    lines = BADGE.sub('', text).split('\n')
    desc = next((i for i, l in enumerate(lines) if l.startswith('> ')), None)
    if desc is None: raise ValueError(f'{name}: the title cell has no `> ` description line')
    while desc + 1 < len(lines) and lines[desc + 1].startswith('>'): desc += 1   # (a description should be one line)
    prose = ['\n'.join(lines[desc + 1:]).strip()]
    if cells and is_badge(cells[0]): prose.append(BADGE.sub('', ''.join(cells.pop(0)['source'])).strip())
    body = '\n\n'.join([badge(name, cfg)] + [p for p in prose if p])
    title = {**title, 'source': _lines('\n'.join(lines[:desc + 1]).rstrip())}
    badge_cell = {'cell_type': 'markdown', 'id': BADGE_ID, 'metadata': {}, 'source': _lines(body)}
    install = {'cell_type': 'code', 'execution_count': None, 'id': INSTALL_ID, 'metadata': {}, 'outputs': [],
               'source': _lines(install_source(name, cfg))}
    return {**nb, 'cells': [title, badge_cell, install] + cells}


def notebooks(root: Path = ROOT, cfg: dict | None = None) -> list[Path]:
    cfg = cfg or settings(root / 'settings.ini')
    return sorted((root / cfg['nbs_path']).glob('*.ipynb'))


def dump(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False) + '\n'   # nbdev's format: nbdev_clean leaves it as it is


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    check = '--check' in argv
    cfg = settings()
    stale = []
    for path in notebooks(ROOT, cfg):
        text = path.read_text()
        new = dump(with_colab(json.loads(text), path.stem, cfg))
        if new == text: continue
        stale.append(path.name)
        if not check: path.write_text(new)
    if check and stale:
        print(f'Colab badge or install cell missing or out of date in {stale}: run `python .ci/colab.py`', file=sys.stderr)
        return 1
    if not check: print(f'Colab badge and install cell: {len(stale)} notebooks updated')
    return 0


if __name__ == '__main__':
    sys.exit(main())
