#!/usr/bin/env python3
"""Fail when a notebook that shows a figure or a results table was committed without that output.

`python .ci/nb_outputs.py [NOTEBOOK ...]` (default: every notebook in nbs/) prints one line per cell that should show
a result and has none, and exits 1 if there is any. The rule, per code cell:

- the cell is shown in the docs and runs where the notebooks are executed: no `#| hide`, no `#| export`/`exports`/
  `exporti` (definitions), no `#| eval: false`, `#| output: false` or `#| include: false`, no `colab` test flag
  (those cells run only on Colab's GPU);
- at the cell's top level (not inside a `def`, `class` or `lambda`: a helper that draws is not a result), it
  * ends with an expression that calls a figure or table function (its value is what the cell shows), or
  * calls `print`/`display` on the result of one, or calls `display(...)`, `plt.show()`, `IPython.display.*`;
  figure functions: names with `figure`, `fig`, `plot`, `imshow`, `show` or `chart`; table functions: names with
  `table` and `Markdown`/`HTML`;
  (also through a name the cell assigned from such a call: `fig = comparison_figure(...)` then `fig`);
- then it needs an output: an image (`image/png`, `image/svg+xml`) for a figure, any output for a table.

And per notebook: when some shown cell calls `print`/`display` at its top level, at least one of them must carry an
output (a notebook committed without running fails even where no figure or table is recognised).

Assertions (`test_eq(markdown_table(...), ...)`, `assert ...`) are proofs, not results, and are not counted.
A notebook or a cell can opt out in OPT_OUT below, with the reason.
"""
from __future__ import annotations
import ast, json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# notebook name -> reason, or (notebook name, cell id) -> reason
OPT_OUT: dict = {
    '16_reproduce_colab.ipynb': 'its results come from a GPU run on Colab, not from the machine that executes the notebooks',
}
HIDDEN = {'hide', 'export', 'exports', 'exporti', 'eval: false', 'output: false', 'include: false'}
FIGURE = re.compile(r'figure|(^|_)fig($|_)|plot|imshow|(^|_)show($|_)|chart', re.I)
TABLE = re.compile(r'table|^Markdown$|^HTML$', re.I)
IMAGE_MIMES = ('image/png', 'image/svg+xml', 'image/jpeg')


def directives(source: str) -> tuple[set[str], set[str], str]:
    "(`#| ` options, test flags, code without them) of a cell: `#| slow` is a flag, `#| eval: false` an option."
    opts, flags, code = set(), set(), []
    for line in source.splitlines():
        if line.startswith('#|'):
            words = line[2:].strip()
            (opts if ':' in words or words.split()[0] in ('hide', 'export', 'exports', 'exporti') else flags).add(
                words.split()[0] if ':' not in words else re.sub(r'\s+', ' ', words))
        else: code.append(line)
    return opts, flags, '\n'.join(code)


def _python(code: str) -> str:
    "IPython cell -> parsable Python (shell escapes and magics become `pass`)."
    return '\n'.join(re.sub(r'^(\s*)[!%].*$', r'\1pass', l) for l in code.splitlines())


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name): return func.id
    if isinstance(func, ast.Attribute): return func.attr
    return ''


def _calls(node: ast.AST):
    "Calls in `node`, not descending into function, class or lambda bodies."
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)): continue
        if isinstance(n, ast.Call): yield n
        stack.extend(ast.iter_child_nodes(n))


def _kind(call: ast.Call) -> str | None:
    name = _name(call.func)
    if FIGURE.search(name): return 'figure'
    if TABLE.search(name): return 'table'
    return None


def shown_result(code: str) -> str | None:
    "'figure', 'table' or 'output' when the cell's code shows a result by the rule above, else None."
    try: tree = ast.parse(_python(code))
    except SyntaxError: return None
    body, assigned, kinds = tree.body, {}, []
    for i, stmt in enumerate(body):
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call) and _kind(stmt.value):
            for target in stmt.targets:                              # fig = comparison_figure(...)
                if isinstance(target, ast.Name): assigned[target.id] = _kind(stmt.value)
        if not isinstance(stmt, ast.Expr): continue
        value = stmt.value
        if isinstance(value, ast.Call) and _name(value.func) in ('print', 'display'):
            args = ast.Module(body=[ast.Expr(a) for a in value.args], type_ignores=[])
            inner = [k for c in _calls(args) if (k := _kind(c))]
            inner += [assigned[n.id] for n in ast.walk(args) if isinstance(n, ast.Name) and n.id in assigned]
            kinds += inner or (['output'] if _name(value.func) == 'display' else [])
        elif isinstance(value, ast.Call) and _name(value.func) == 'show' and isinstance(value.func, ast.Attribute):
            kinds.append('figure')                                   # plt.show(), fig.show()
        elif i == len(body) - 1 and isinstance(value, ast.Call) and _kind(value):
            kinds.append(_kind(value))
        elif i == len(body) - 1 and isinstance(value, ast.Name) and value.id in assigned:
            kinds.append(assigned[value.id])                         # ...; fig
    if 'figure' in kinds: return 'figure'
    if 'table' in kinds: return 'table'
    return 'output' if kinds else None


def prints(code: str) -> bool:
    "Whether the cell calls print or display at its top level (so running it always shows something)."
    try: tree = ast.parse(_python(code))
    except SyntaxError: return False
    return any(_name(c.func) in ('print', 'display') for c in _calls(tree))


def has_output(cell: dict, kind: str) -> bool:
    outputs = cell.get('outputs', [])
    if kind == 'figure': return any(m in o.get('data', {}) for o in outputs for m in IMAGE_MIMES)
    return any(o.get('output_type') in ('stream', 'execute_result', 'display_data') for o in outputs)


def missing_outputs(nb: dict, name: str, opt_out: dict = OPT_OUT) -> list[str]:
    """One line per cell of notebook `name` that shows a figure or table but was saved without it, and one for the
    notebook when none of its printing cells has an output (it was committed without running)."""
    if name in opt_out: return []
    problems, printing = [], []
    for index, cell in enumerate(nb['cells']):
        if cell['cell_type'] != 'code' or (name, cell.get('id')) in opt_out: continue
        opts, flags, code = directives(''.join(cell['source']))
        if opts & HIDDEN or 'colab' in flags: continue
        if prints(code): printing.append(cell)
        kind = shown_result(code)
        if kind and not has_output(cell, kind):
            first = next((l for l in code.splitlines() if l.strip()), '')[:70]
            what = {'figure': 'a figure', 'table': 'a table', 'output': 'a displayed result'}[kind]
            problems.append(f'{name}: cell {index} (id {cell.get("id")}) shows {what} but has no '
                            f'{"image " if kind == "figure" else ""}output: {first}')
    if printing and not any(cell.get('outputs') for cell in printing):
        problems.append(f'{name}: none of its {len(printing)} cells that print has an output: committed without running')
    return problems


def main(argv: list[str] | None = None) -> int:
    paths = [Path(a) for a in (sys.argv[1:] if argv is None else argv)] or sorted((ROOT / 'nbs').glob('*.ipynb'))
    problems = [p for path in paths for p in missing_outputs(json.loads(path.read_text()), path.name)]
    for p in problems: print(p)
    if problems:
        print(f'{len(problems)} results missing: run the notebook and commit it with its outputs (nbdev_clean keeps '
              'them), or add the notebook or cell to OPT_OUT in .ci/nb_outputs.py with the reason', file=sys.stderr)
        return 1
    print(f'notebook outputs OK: {len(paths)} notebooks')
    return 0


if __name__ == '__main__':
    sys.exit(main())
