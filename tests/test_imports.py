"""The package's layering: no import cycle between its modules (module-level, function-level and
importlib.import_module('sesr_nb....') imports all count), no private names imported across modules, and the
light entry points stay light (naming an architecture does not load training, storage or the command line)."""
import ast, json, subprocess, sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / 'sesr_nb'


def package_imports() -> dict[str, set[str]]:
    "{module: the sesr_nb modules it imports anywhere in its source}, read with `ast` (nothing is imported)."
    modules = {p.stem for p in PACKAGE.glob('*.py')}
    graph = {}
    for path in sorted(PACKAGE.glob('*.py')):
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1 and node.module: deps.add(node.module.split('.')[0])
                elif node.level == 1 or node.module == 'sesr_nb': deps.update(a.name for a in node.names)
                elif node.module and node.module.startswith('sesr_nb.'): deps.add(node.module.split('.')[1])
            elif isinstance(node, ast.Import):
                deps.update(a.name.split('.')[1] for a in node.names if a.name.startswith('sesr_nb.'))
            elif (isinstance(node, ast.Call) and getattr(node.func, 'attr', getattr(node.func, 'id', None)) == 'import_module'
                  and node.args and isinstance(node.args[0], ast.Constant) and str(node.args[0].value).startswith('sesr_nb.')):
                deps.add(node.args[0].value.split('.')[1])
        graph[path.stem] = {d for d in deps if d in modules and d != path.stem}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    "The strongly connected components of more than one module (Tarjan), i.e. the import circles."
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = counter[0]; counter[0] += 1; stack.append(v); on.add(v)
        for w in sorted(graph[v]):
            if w not in index: visit(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop(); on.discard(w); part.append(w)
                if w == v: break
            if len(part) > 1: found.append(sorted(part))
    for v in sorted(graph):
        if v not in index: visit(v)
    return found


def test_cycle_finder_finds_a_planted_circle():
    "The check itself: a circle of three and a self-contained chain."
    assert cycles({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}) == [['a', 'b', 'c']]
    assert cycles({'a': {'b'}, 'b': set()}) == []


def test_no_import_cycles():
    graph = package_imports()
    assert {'train', 'resolve', 'checkpoint', 'runtime', 'options'} <= set(graph)
    assert cycles(graph) == [], cycles(graph)


def test_layers():
    "Storage knows no runtime, the runtimes know no exporter, the option helpers know nothing of the package."
    graph = package_imports()
    assert not graph['options']
    assert not graph['checkpoint'] & {'onnx_export', 'tflite_export', 'runtime', 'resolve', 'train', 'quant'}
    assert not graph['runtime'] & {'onnx_export', 'tflite_export', 'quant', 'train', 'checkpoint'}
    library = set(graph) - {'cli', '_modidx'}
    assert not any('cli' in graph[m] for m in library), [m for m in library if 'cli' in graph[m]]


def test_no_private_cross_module_imports():
    bad = []
    for path in PACKAGE.glob('*.py'):
        for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
            if isinstance(node, ast.ImportFrom) and (node.level == 1 or (node.module or '').startswith('sesr_nb')):
                bad += [f'{path.name}: {a.name}' for a in node.names if a.name.startswith('_') and a.name != '__version__']
    assert not bad, bad


def test_naming_an_architecture_stays_light():
    "resolve_arch loads the architectures, not training, storage, evaluation or the command line."
    code = ('import sys, json; from sesr_nb.arch import arch_config; arch_config("M5"); arch_config("SMSR"); '
            'print(json.dumps(sorted(m for m in sys.modules if m.startswith(("sesr_nb", "orbax")))))')
    loaded = json.loads(subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout)
    heavy = {'sesr_nb.train', 'sesr_nb.checkpoint', 'sesr_nb.evaluate', 'sesr_nb.cli', 'orbax'}
    assert not heavy & set(loaded), sorted(heavy & set(loaded))


def test_int8_runtime_does_not_load_training():
    "The int8 runtime sits on the quantisers, below the training loop (QAT is `sesr_nb.qat`, above it)."
    graph = package_imports()
    assert 'train' not in graph['quant'] and 'train' not in graph['int8'], (graph['quant'], graph['int8'])
    assert 'int8' not in graph['checkpoint']


def sesr_nb_names_imported(path: Path) -> list[tuple[str, str, int]]:
    "(module, name, line) of every `from sesr_nb.MODULE import NAME` in a script, read with `ast`."
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.ImportFrom) and (node.module or '').startswith('sesr_nb.') and node.level == 0:
            found += [(node.module, a.name, node.lineno) for a in node.names]
    return found


def test_scripts_import_names_that_exist():
    "Benchmarks and tests import from sesr_nb only names its modules define (a moved function breaks no script)."
    import importlib
    root = PACKAGE.parent
    missing = []
    for path in sorted([*root.glob('benchmarks/*.py'), *root.glob('tests/*.py')]):
        for module, name, line in sesr_nb_names_imported(path):
            try: ok = hasattr(importlib.import_module(module), name)
            except ImportError as err: ok, name = False, f'{name} ({err})'
            if not ok: missing.append(f'{path.relative_to(root)}:{line}: {module}.{name}')
    assert not missing, missing


def test_script_check_catches_a_missing_name(tmp_path):
    "The check itself: a script importing a name that sesr_nb.runtime lacks is reported."
    script = tmp_path / 'bench.py'
    script.write_text('def main():\n    from sesr_nb.runtime import load_onnx_model, no_such_function\n')
    names = sesr_nb_names_imported(script)
    assert names == [('sesr_nb.runtime', 'load_onnx_model', 2), ('sesr_nb.runtime', 'no_such_function', 2)]
    import importlib
    assert [n for m, n, _ in names if not hasattr(importlib.import_module(m), n)] == ['no_such_function']
