#!/usr/bin/env python3
"""Render nbs/index.ipynb to README.md without Quarto (which cannot be installed on CI machines).

Markdown cells are copied, visible code cells become ```python blocks followed by their text outputs, cells marked
`#| hide` are skipped and nbdev directives are removed. `--check` exits 1 if README.md is out of date.
"""
import json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def render(nb_path: Path) -> str:
    cells = json.loads(nb_path.read_text())['cells']
    parts = []
    for cell in cells:
        src = ''.join(cell['source'])
        if cell['cell_type'] == 'markdown':
            parts.append(src.strip())
            continue
        lines = src.splitlines()
        directives = [l for l in lines if l.startswith('#|')]
        if any(d.replace(' ', '') in ('#|hide', '#|exporti') for d in directives): continue
        code = '\n'.join(l for l in lines if not l.startswith('#|')).strip()
        if code: parts.append(f'```python\n{code}\n```')
        for out in cell.get('outputs', []):
            text = out.get('text') or out.get('data', {}).get('text/markdown') or out.get('data', {}).get('text/plain')
            if text: parts.append('```\n' + ''.join(text).rstrip() + '\n```')
    body = '\n\n'.join(parts).replace('](images/', '](nbs/images/')  # paths relative to the repository root
    header = '<!-- Generated from nbs/index.ipynb by .ci/readme.py: edit the notebook, not this file. -->\n\n'
    return header + body + '\n'


def main() -> int:
    text = render(ROOT / 'nbs' / 'index.ipynb')
    readme = ROOT / 'README.md'
    if '--check' in sys.argv:
        if not readme.exists() or readme.read_text() != text:
            print('README.md is out of date: run `python .ci/readme.py` and commit the result', file=sys.stderr)
            return 1
        return 0
    readme.write_text(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
