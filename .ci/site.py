#!/usr/bin/env python3
"""Build the documentation site without Quarto: `python .ci/site.py` -> `_site/` (preview: `python -m http.server -d _site`).

Where Quarto exists, `nbdev_docs` builds the nbdev site from `nbs/_quarto.yml`; Quarto cannot be installed on these
machines, so this script renders the same processed notebooks with Sphinx + myst-nb + sphinx-book-theme (the `docs`
extra). Steps:

1. nbdev's own processing up to Quarto (`.ci/docs.py`: show_doc, directives, doc links) into `_proc/`;
2. a small adapter from what Quarto reads to what myst-nb reads (`adapt_notebook`): the front-matter raw cell becomes
   the title and description, `#|` options become cell tags (and are not shown as code), `output: asis` markdown
   becomes page markdown, `[text](url){attrs}` becomes an HTML link, every show_doc heading gets an anchor with the id
   Quarto would give it, links into the site are made relative, and each page is named by its `output-file`;
3. the sidebar from `nbs/sidebar.yml`, MathJax 3 from its npm package copied into the site (no CDN at view time);
4. `sphinx-build` into `_site/` (warnings are errors, so a broken page fails the build).

`.ci/browser_check.py` then crawls the site in Chromium.
"""
from __future__ import annotations
import argparse, copy, hashlib, json, re, shutil, subprocess, sys, tarfile, time
from configparser import ConfigParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent / 'site'   # conf.py, CSS and the Colab badge of the site
MATHJAX = 'mathjax@3.2.2'                          # v3 ships its fonts (v4 fetches them from a CDN)
# what the site's tex-chtml.js never loads: the other combined components, SVG output, node's entry, speech maps
UNUSED_MATHJAX = re.compile(r'^package/es5/(?:[\w-]*(?:full|svg|mml)[\w-]*\.js|node-main\.js|output/svg|sre/mathmaps)')


def settings() -> dict:
    "The [DEFAULT] section of settings.ini."
    config = ConfigParser(delimiters=['='])
    config.read(ROOT / 'settings.ini', encoding='utf-8')
    return dict(config['DEFAULT'])


def site_url(cfg: dict) -> str:
    "The published site's base URL (doc_host + doc_baseurl), as nbdev writes it into doc links, with a final '/'."
    return cfg['doc_host'].rstrip('/') + '/' + cfg.get('doc_baseurl', '').strip('/') + '/'


# ---- the adapter: pure functions over notebook JSON ----

def pandoc_id(text: str) -> str:
    "The identifier Pandoc (hence Quarto) gives a heading: what nbdev's doc links (`page.html#name`) point at."
    text = re.sub(r'`|\*|<[^>]+>', '', text)                      # formatting and inline HTML
    kept = ''.join(c for c in text if c.isalnum() or c in '_-. ')
    ident = re.sub(r'\s+', '-', kept.strip()).lower()
    ident = re.sub(r'^[^a-z]+', '', ident)                        # everything up to the first letter
    return ident or 'section'


def cell_options(source: str) -> tuple[dict, str]:
    "Split a code cell's leading `#| key: value` lines from its code."
    options, lines = {}, source.splitlines()
    while lines and lines[0].startswith('#|'):
        key, _, value = lines.pop(0)[2:].partition(':')
        options[key.strip()] = value.strip() if _ else 'true'
    return options, '\n'.join(lines)


TAGS = {('echo', 'false'): 'remove-input', ('output', 'false'): 'remove-output', ('include', 'false'): 'remove-cell'}
ATTR_LINK = re.compile(r'\[([^\]]+)\]\(([^)\s]+)\)\{([^}]*)\}')     # pandoc's [text](url){attributes}
HEADING = re.compile(r'^(#{1,6})\s+(.+?)\s*#*\s*$')
FENCE = re.compile(r'^\s*(```|~~~)')


def html_link(match: re.Match) -> str:
    "`[text](url){target=... .class}` -> `<a href=url target=... class=...>text</a>` (attributes kept as written)."
    text, url, attrs = match.groups()
    classes = [a[1:] for a in attrs.split() if a.startswith('.')]
    rest = ' '.join(a for a in re.findall(r'[\w-]+="[^"]*"|[\w-]+=\S+', attrs))
    cls = f' class="{" ".join(classes)}"' if classes else ''
    text = re.sub(r'`([^`]+)`', r'<code>\1</code>', text)
    return f'<a href="{url}"{cls} {rest}>{text}</a>'.replace(' >', '>')


# images that the notebooks load from the web, served from the site instead (the site works offline)
LOCAL_IMAGES = {'https://colab.research.google.com/assets/colab-badge.svg': '_static/colab-badge.svg'}


def relative_links(text: str, base: str, pages: dict[str, str]) -> str:
    "Links to the published site (`base`) and to source notebooks (`10_infer.ipynb`) -> the relative page name."
    text = text.replace(base, '')
    for remote, local in LOCAL_IMAGES.items(): text = text.replace(f']({remote})', f']({local})')
    return re.sub(r'(?<=\]\()([\w.-]+)\.ipynb(?=[)#])', lambda m: pages.get(m.group(1), m.group(0) + '.ipynb'), text)


def doc_anchor(heading: str) -> str:
    """The empty `<div class="doc-anchor">` above a show_doc entry (its rule), with the id Quarto gives the heading,
    unless the section of that heading gets the same id from docutils anyway (two elements must not share an id:
    Sphinx's search summary reads the first one)."""
    from docutils.nodes import make_id
    ident = pandoc_id(heading)
    return f'<div id="{ident}" class="doc-anchor"></div>' if ident != make_id(heading) else '<div class="doc-anchor"></div>'


def adapt_markdown(text: str, base: str, pages: dict[str, str], anchors: bool = False) -> str:
    """Markdown as Quarto reads it -> as MyST reads it. With `anchors` (show_doc output), show_doc's horizontal rule
    becomes an empty `<div class="doc-anchor">` carrying the id Pandoc gives the entry's heading (the first one at the
    top, so that it sits above the `source` link), one more before each further heading."""
    text = ATTR_LINK.sub(html_link, relative_links(text, base, pages))
    if not anchors: return text
    out, heads, in_fence = [], [], False
    for line in text.splitlines():
        if FENCE.match(line): in_fence = not in_fence
        if in_fence: out.append(line); continue
        if line.strip() == '---': continue
        heading = HEADING.match(line)
        if heading:
            heads.append(heading.group(2))
            if len(heads) > 1: out += [doc_anchor(heads[-1]), '']
        out.append(line)
    while out and not out[0].strip(): out.pop(0)
    head = [doc_anchor(heads[0]), ''] if heads else []
    return '\n'.join(head + out).strip() + '\n'


def front_matter(cell: dict) -> dict:
    "The YAML front matter of nbdev's first raw cell (`---` YAML `---`)."
    import yaml
    match = re.match(r'\s*---\n(.*?)\n---', ''.join(cell['source']), re.S)
    return {k: str(v) for k, v in (yaml.safe_load(match.group(1)) or {}).items()} if match else {}


def markdown_cell(text: str, cell_id: str) -> dict:
    return {'cell_type': 'markdown', 'id': cell_id, 'metadata': {}, 'source': text}


def adapt_notebook(nb: dict, base: str, pages: dict[str, str]) -> tuple[dict, dict]:
    "One processed notebook -> (notebook for myst-nb, its front matter)."
    nb = copy.deepcopy(nb)
    meta, cells = {}, []
    for i, cell in enumerate(nb['cells']):
        source = ''.join(cell['source'])
        cell_id = cell.get('id') or f'c{i}'
        if cell['cell_type'] == 'raw':
            if i == 0 and source.lstrip().startswith('---'):
                meta = front_matter(cell)
                head = f"# {meta.get('title', 'Untitled')}\n"
                if meta.get('description'):
                    head += f"\n```{{container}} description\n{adapt_markdown(meta['description'], base, pages)}\n```\n"
                cells.append(markdown_cell(head, 'front-matter'))
            continue                                                  # other raw cells are for other formats
        if cell['cell_type'] == 'markdown':
            cells.append(markdown_cell(adapt_markdown(source, base, pages), cell_id))
            continue
        options, code = cell_options(source)
        tags = [tag for key, tag in TAGS.items() if options.get(key[0]) == key[1]]
        if 'remove-cell' in tags: continue
        outputs = [o for o in cell.get('outputs', [])
                   if 'application/vnd.jupyter.widget-view+json' not in o.get('data', {})]  # live widgets: no kernel here
        if options.get('output') == 'asis':
            # Quarto puts the markdown of such an output into the page: show_doc's API docs
            asis = [o for o in outputs if 'text/markdown' in o.get('data', {})]
            outputs = [o for o in outputs if o not in asis]
            if 'remove-input' not in tags and code.strip():
                cells.append({**cell, 'source': code, 'outputs': outputs, 'metadata': {'tags': tags}})
            cells += [markdown_cell(adapt_markdown(''.join(o['data']['text/markdown']), base, pages, anchors=True),
                                    f'{cell_id}-{j}') for j, o in enumerate(asis)]
            continue
        if not code.strip() and not outputs: continue
        for o in outputs:
            if 'text/markdown' in o.get('data', {}):
                o['data']['text/markdown'] = adapt_markdown(''.join(o['data']['text/markdown']), base, pages)
        cells.append({**cell, 'source': code, 'outputs': outputs, 'metadata': {'tags': tags} if tags else {}})
    nb['cells'] = cells
    nb['metadata'] = {k: v for k, v in nb.get('metadata', {}).items() if k in ('kernelspec', 'language_info')}
    nb['metadata'].setdefault('kernelspec', {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'})
    nb['metadata']['language_info'] = {'name': 'python', 'pygments_lexer': 'ipython3'}   # `!pip` and `%magic` lines
    return nb, meta


def page_name(front: dict, notebook: str) -> str:
    "The page a notebook becomes: its `output-file` without `.html`, else the notebook's name (index -> index)."
    return front.get('output-file', notebook).removesuffix('.html')


def toctree(sidebar: dict, pages: dict[str, str]) -> str:
    "MyST toctrees (one per sidebar section, the section name as caption) from sidebar.yml's contents."
    def entry(item): return pages[Path(item).stem]
    blocks, loose = [], []
    for item in sidebar['website']['sidebar']['contents']:
        if isinstance(item, str):
            if Path(item).stem != 'index': loose.append(entry(item))
            continue
        blocks.append((item['section'], [entry(i) for i in item['contents']]))
    if loose: blocks.insert(0, (None, loose))
    out = []
    for caption, entries in blocks:
        head = '```{toctree}\n:hidden:\n' + (f':caption: {caption}\n' if caption else '')
        out.append(head + '\n' + '\n'.join(entries) + '\n```')
    return '\n\n'.join(out)


# ---- the build ----

def mathjax(cache: Path) -> Path:
    "MathJax's es5 bundle from its npm package (`npm pack`, cached): its folder."
    target = cache / MATHJAX.replace('@', '-')
    if (target / 'tex-chtml.js').exists(): return target
    if not shutil.which('npm'): sys.exit('npm is needed once to fetch MathJax for the docs site: apt-get install npm')
    cache.mkdir(parents=True, exist_ok=True)
    tgz = subprocess.run(['npm', 'pack', MATHJAX, '--silent'], cwd=cache, check=True, capture_output=True,
                         text=True).stdout.strip().splitlines()[-1]
    tmp = cache / 'unpack'
    shutil.rmtree(tmp, ignore_errors=True)
    with tarfile.open(cache / tgz) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith('package/es5/') and not UNUSED_MATHJAX.search(m.name)]
        tar.extractall(tmp, members=members, filter='data')
    shutil.rmtree(target, ignore_errors=True)
    (tmp / 'package' / 'es5').rename(target)
    shutil.rmtree(tmp); (cache / tgz).unlink()
    return target


def write_sources(proc: Path, src: Path, cfg: dict) -> list[str]:
    "The Sphinx source folder: adapted notebooks named by page, images, conf.py, static files. Returns the pages."
    import yaml
    shutil.rmtree(src, ignore_errors=True)
    (src / '_static').mkdir(parents=True)
    notebooks = sorted(proc.glob('*.ipynb'))
    raw = {p.stem: json.loads(p.read_text()) for p in notebooks}
    fronts = {stem: front_matter(nb['cells'][0]) if nb['cells'] and nb['cells'][0]['cell_type'] == 'raw' else {}
              for stem, nb in raw.items()}
    pages = {stem: page_name(fronts[stem], stem) for stem in raw}
    html_pages = {stem: page + '.html' for stem, page in pages.items()}
    if len(set(pages.values())) != len(pages): sys.exit(f'two notebooks render to the same page: {pages}')
    base = site_url(cfg)
    for stem, nb in raw.items():
        adapted, _ = adapt_notebook(nb, base, html_pages)
        if stem == 'index':
            sidebar = yaml.safe_load((proc / 'sidebar.yml').read_text())
            adapted['cells'].append(markdown_cell(toctree(sidebar, pages), 'site-toctree'))
        (src / f'{pages[stem]}.ipynb').write_text(json.dumps(adapted, indent=1))
    if (proc / 'images').is_dir(): shutil.copytree(proc / 'images', src / 'images')
    for f in HERE.iterdir():
        if f.suffix in ('.css', '.svg'): shutil.copy(f, src / '_static' / f.name)
    shutil.copy(HERE / 'conf.py', src / 'conf.py')
    (src / 'site.json').write_text(json.dumps({'title': cfg['title'], 'description': cfg['description'],
                                               'git_url': cfg['git_url'], 'branch': cfg['branch'],
                                               'copyright': cfg['copyright']}))
    return sorted(pages.values())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', type=Path, default=ROOT / '_site', help='the site folder (default: _site)')
    parser.add_argument('--skip-proc', action='store_true', help='reuse _proc/ from an earlier nbdev processing')
    args = parser.parse_args(argv)
    start = time.time()
    cfg = settings()
    if args.skip_proc and (ROOT / '_proc').is_dir(): proc = ROOT / '_proc'
    else:
        sys.path.insert(0, str(ROOT / '.ci'))
        from docs import process
        proc = process()
    build = ROOT / '_build'
    src = build / 'site_src'
    pages = write_sources(proc, src, cfg)
    shutil.copytree(mathjax(build / 'npm'), src / '_static' / 'mathjax')
    from sphinx.cmd.build import build_main
    html = build / 'html'        # myst-nb writes its images beside the output folder: keep them in _build/
    shutil.rmtree(html, ignore_errors=True)
    code = build_main(['-b', 'html', '-q', '-W', '--keep-going', '-d', str(build / 'doctrees'), str(src), str(html)])
    if code: print(f'sphinx-build failed (exit {code})', file=sys.stderr); return code
    (html / '.nojekyll').touch()
    shutil.rmtree(args.out, ignore_errors=True)
    shutil.move(html, args.out)
    print(f'site OK: {len(pages)} pages in {args.out} ({time.time() - start:.0f} s); preview: python -m http.server -d {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
