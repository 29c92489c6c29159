"""The repository's docs and notebook tools in .ci/: Colab badge and install cell (colab.py), the notebook-outputs
rule (nb_outputs.py), the Quarto -> myst-nb adapter of the docs site (site.py), one-line descriptions, and the DIV2K
extra named where DIV2K is missing. Pure functions on small notebooks made here; nothing is built or downloaded."""
from __future__ import annotations
import configparser, copy, importlib.util, json, re, shlex, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NBS = sorted((ROOT / 'nbs').glob('*.ipynb'))


def ci_module(name: str):
    "Import .ci/NAME.py as a module."
    spec = importlib.util.spec_from_file_location(f'ci_{name}', ROOT / '.ci' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


colab, nb_outputs, site = ci_module('colab'), ci_module('nb_outputs'), ci_module('site')


def code(source: str, outputs=(), cell_id='c') -> dict:
    return {'cell_type': 'code', 'id': cell_id, 'metadata': {}, 'execution_count': None, 'source': source,
            'outputs': list(outputs)}


def md(source: str, cell_id='m') -> dict:
    return {'cell_type': 'markdown', 'id': cell_id, 'metadata': {}, 'source': source}


PNG = {'output_type': 'display_data', 'data': {'image/png': 'iVBOR', 'text/plain': '<Figure>'}, 'metadata': {}}
TEXT = {'output_type': 'stream', 'name': 'stdout', 'text': '| a | b |\n'}


# ---- Colab: badge and install cell agree with settings.ini ----

def test_every_notebook_has_the_badge_and_install_cell_of_settings_git_url():
    cfg = colab.settings()
    owner_repo = cfg['git_url'].removeprefix('https://github.com/')
    for path in NBS:
        cells = json.loads(path.read_text())['cells']
        badge, install = ''.join(cells[1]['source']), ''.join(cells[2]['source'])
        url = f"https://colab.research.google.com/github/{owner_repo}/blob/{cfg['branch']}/nbs/{path.name}"
        assert badge.startswith(f'[![Open In Colab]({colab.BADGE_IMAGE})]({url})'), (path.name, badge[:200])
        assert install.startswith('#| hide\n'), path.name                      # hidden from the docs
        assert f"@ git+{cfg['git_url']}\"" in install and "'google.colab' in sys.modules" in install, install
    assert colab.main(['--check']) == 0


def test_colab_cells_follow_git_url_and_are_idempotent():
    nb = json.loads((ROOT / 'nbs' / '09_train.ipynb').read_text())
    cfg = {**colab.settings(), 'git_url': 'https://github.com/someone/fork', 'branch': 'dev'}
    moved = colab.with_colab(nb, '09_train', cfg)
    badge, install = ''.join(moved['cells'][1]['source']), ''.join(moved['cells'][2]['source'])
    assert 'colab.research.google.com/github/someone/fork/blob/dev/nbs/09_train.ipynb' in badge
    assert 'sesr_nb @ git+https://github.com/someone/fork"' in install
    assert 'sesr-nb/sesr_nb' not in badge + install
    assert colab.with_colab(moved, '09_train', cfg) == moved                   # a second run changes nothing
    assert len(moved['cells']) == len(nb['cells'])


def test_colab_moves_prose_out_of_the_title_cell_and_keeps_it():
    nb = {'cells': [md('# T\n\n> one\n> two\n\nProse that nbdev would drop.'), code('x = 1')], 'metadata': {}}
    out = colab.with_colab(nb, '05a_datasets', colab.settings())
    assert ''.join(out['cells'][0]['source']) == '# T\n\n> one\n> two'
    assert ''.join(out['cells'][1]['source']).endswith('\n\nProse that nbdev would drop.')
    assert 'sesr_nb[div2k] @ git+' in ''.join(out['cells'][2]['source'])      # the extra this notebook needs
    assert out['cells'][3]['source'] == 'x = 1'
    with pytest.raises(ValueError, match='title cell'): colab.with_colab({'cells': [code('1')]}, 'x', colab.settings())


def test_colab_extras_exist():
    extras = set(colab.EXTRAS.values())
    setup = configparser.ConfigParser(delimiters=['=']); setup.read(ROOT / 'settings.ini')
    assert all(setup['DEFAULT'].get(f'{e}_requirements') for e in extras), extras


# ---- every notebook's description is one line ----

def test_descriptions_are_one_line_and_title_cells_hold_nothing_else():
    for path in NBS:
        lines = ''.join(json.loads(path.read_text())['cells'][0]['source']).split('\n')
        assert lines[0].startswith('# ') and lines[1] == '', path.name
        assert len(lines) == 3 and lines[2].startswith('> ') and len(lines[2]) > 20, (path.name, lines)


# ---- the notebook-outputs rule ----

@pytest.mark.parametrize('source, kind', [
    ('fig = comparison_figure(hr, lr, models, 2)\nfig', 'figure'),
    ('plot_training_curves(log)', 'figure'),
    ('import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()', 'figure'),
    ('print(results_table(rows))', 'table'),
    ('rows = results(x)\nprint(markdown_table(["a"], rows))', 'table'),
    ('markdown_table(["a"], [[1]])', 'table'),
    ('display(widget)', 'output'),
    ('!pip install x\nprint(markdown_table(["a"], [[1]]))', 'table'),
])
def test_cells_that_show_a_result(source, kind):
    assert nb_outputs.shown_result(source) == kind


@pytest.mark.parametrize('source', [
    'def draw(x):\n    fig = comparison_figure(x)\n    return fig',          # a helper that draws is not a result
    'test_eq(markdown_table(["a"], [[1]]), "| a |")',                      # a proof
    'fig = comparison_figure(hr, lr, models, 2)\nfig.savefig("x.png")',    # writes a file, shows nothing
    'table = markdown_table(["a"], [[1]])\nassert "a" in table',
    'x = 1',
    'print("done")',
])
def test_cells_that_show_no_figure_or_table(source):
    assert nb_outputs.shown_result(source) is None


def test_missing_outputs_per_cell_and_per_notebook():
    nb = {'cells': [code('#| export\ndef f(): return plot_x()', cell_id='a'),
                    code('#| hide\nplot_training_curves(log)', cell_id='b'),
                    code('#| colab\nprint(results_table(rows))', cell_id='c'),
                    code('plot_training_curves(log)', cell_id='d'),
                    code('print(results_table(rows))', cell_id='e'),
                    code('print(1)', cell_id='f')]}
    problems = nb_outputs.missing_outputs(nb, 'x.ipynb', {})
    assert [re.search(r'id (\w)\)', p).group(1) for p in problems if '(id ' in p] == ['d', 'e']
    assert any('committed without running' in p for p in problems)
    ran = copy.deepcopy(nb)
    ran['cells'][3]['outputs'], ran['cells'][4]['outputs'], ran['cells'][5]['outputs'] = [PNG], [TEXT], [TEXT]
    assert nb_outputs.missing_outputs(ran, 'x.ipynb', {}) == []
    text_only = copy.deepcopy(ran); text_only['cells'][3]['outputs'] = [TEXT]   # a figure needs an image
    assert len(nb_outputs.missing_outputs(text_only, 'x.ipynb', {})) == 1
    assert nb_outputs.missing_outputs(nb, 'x.ipynb', {'x.ipynb': 'why'}) == []
    assert len(nb_outputs.missing_outputs(nb, 'x.ipynb', {('x.ipynb', 'd'): 'why'})) == 2


# ---- the site adapter (Quarto's input -> myst-nb's) ----

@pytest.mark.parametrize('heading, ident', [('load_trained', 'load_trained'), ('TrainedModel.sr_rgb', 'trainedmodel.sr_rgb'),
                                            ('`CompareWidget`', 'comparewidget'), ('1 Proofs here', 'proofs-here'),
                                            ('SESRConfig.__init__', 'sesrconfig.__init__')])
def test_pandoc_ids(heading, ident):
    assert site.pandoc_id(heading) == ident


def test_adapt_show_doc_output():
    pytest.importorskip('docutils', reason='the docs extra (part of dev) is not installed')
    base, pages = 'https://host/sesr_nb/', {'01a_arch': 'arch.html'}
    out = site.adapt_markdown('---\n\n[source](https://github.com/x#L1){target="_blank" style="float:right"}\n\n'
                              '### TrainedModel.sr_rgb\n\n```python\n# not a heading\n---\n```\n\n'
                              '*Uses [`SRModel`](https://host/sesr_nb/arch.html#srmodel), see [x](01a_arch.ipynb).*',
                              base, pages, anchors=True)
    assert out.startswith('<div id="trainedmodel.sr_rgb" class="doc-anchor"></div>')
    assert '<a href="https://github.com/x#L1" target="_blank" style="float:right">source</a>' in out
    assert '](arch.html#srmodel)' in out and '](arch.html)' in out and 'https://host' not in out
    assert '# not a heading\n---\n```' in out                            # fenced code is left alone
    assert '\n---\n\n' not in out.split('```')[0]                          # show_doc's rule went


def test_doc_anchor_ids_are_never_doubled():
    pytest.importorskip('docutils', reason='the docs extra (part of dev) is not installed')
    # Quarto's id where docutils gives the section another one; none where they agree (an id must be unique)
    assert site.doc_anchor('load_trained') == '<div id="load_trained" class="doc-anchor"></div>'   # section: load-trained
    assert site.doc_anchor('collapse') == '<div class="doc-anchor"></div>'                        # section: collapse


def test_adapt_notebook():
    pytest.importorskip('docutils', reason='the docs extra (part of dev) is not installed')
    nb = {'metadata': {'widgets': {}}, 'cells': [
        {'cell_type': 'raw', 'id': 'fm', 'metadata': {}, 'source': '---\ndescription: "A \\u2194 B, `x`"\n'
                                                                    'output-file: arch.html\ntitle: Arch\n\n---\n\n'},
        code('#| echo: false\n#| output: asis\nshow_doc(f)', [{'output_type': 'execute_result', 'metadata': {},
              'execution_count': None, 'data': {'text/markdown': '---\n\n### f\n\ndoc', 'text/plain': 'f'}}], 'sd'),
        code('#| eval: false\nx = 1', cell_id='ev'),
        code('#| include: false\ny = 2', cell_id='inc'),
        code('#| output: false\nz = 3', [TEXT], 'out'),
    ]}
    adapted, front = site.adapt_notebook(nb, 'https://host/', {})
    assert front['title'] == 'Arch' and site.page_name(front, '01a_arch') == 'arch'
    cells = adapted['cells']
    assert cells[0]['source'].startswith('# Arch\n') and 'A ↔ B, `x`' in cells[0]['source']
    assert cells[1]['cell_type'] == 'markdown' and cells[1]['source'].startswith('<div class="doc-anchor"></div>\n\n### f')
    assert cells[2]['source'] == 'x = 1' and cells[3]['source'] == 'z = 3'    # options are not shown as code
    assert cells[3]['metadata']['tags'] == ['remove-output'] and len(cells) == 4
    assert 'widgets' not in adapted['metadata']


def test_sidebar_toctree():
    sidebar = {'website': {'sidebar': {'contents': ['index.ipynb', {'section': 'Model', 'contents': ['00_conv.ipynb']}]}}}
    assert site.toctree(sidebar, {'index': 'index', '00_conv': 'conv'}) == '```{toctree}\n:hidden:\n:caption: Model\n\nconv\n```'


# ---- DIV2K: its own extra, named where it is missing ----

def test_div2k_extra_is_named_when_tensorflow_datasets_is_missing(monkeypatch):
    from sesr_nb import datasets
    monkeypatch.setitem(sys.modules, 'tensorflow_datasets', None)          # import fails as if not installed
    with pytest.raises(RuntimeError, match=re.escape('pip install "sesr_nb[div2k]"')): datasets.div2k_source(2)
    cfg = configparser.ConfigParser(delimiters=['=']); cfg.read(ROOT / 'settings.ini')
    div2k = shlex.split(cfg['DEFAULT']['div2k_requirements'])
    assert any(r.startswith('tensorflow-datasets') for r in div2k) and any(r.startswith('grain') for r in div2k)
    index = (ROOT / 'README.md').read_text()
    assert 'sesr_nb[div2k]' in index
