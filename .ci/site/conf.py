"""Sphinx configuration of the documentation site; `.ci/site.py` copies it next to the adapted notebooks."""
import json
from pathlib import Path

site = json.loads((Path(__file__).parent / 'site.json').read_text())   # from settings.ini, written by .ci/site.py

project = site['title']
copyright = site['copyright']
html_title = site['title']
extensions = ['myst_nb']
exclude_patterns = ['_build', '**.ipynb_checkpoints']

# the notebooks were executed by nbdev's processing (show_doc) or carry their committed outputs: never run them here
nb_execution_mode = 'off'
nb_render_markdown_format = 'myst'   # markdown outputs get the same math and links as the page
nb_merge_streams = True
nb_ipywidgets_js = {}                # live widgets need a kernel; the widget notebook shows a static figure
myst_enable_extensions = ['dollarmath', 'amsmath', 'colon_fence', 'html_image']
myst_dmath_double_inline = True      # `$$...$$` inside a paragraph is display math, as in Pandoc (Quarto)
myst_all_links_external = True       # links are already relative HTML pages (page.html#anchor), as Quarto writes them
suppress_warnings = ['myst.header']  # show_doc headings are H3 whatever the level above them

# MathJax 3 from its npm package, copied into _static/mathjax by .ci/site.py: no CDN when the page is viewed
mathjax_path = 'mathjax/tex-chtml.js'
mathjax3_config = {'tex': {'inlineMath': [['\\(', '\\)']], 'displayMath': [['\\[', '\\]']]}}

html_theme = 'sphinx_book_theme'
html_static_path = ['_static']
html_css_files = ['site.css']
html_copy_source = False
html_show_sourcelink = False
html_theme_options = {
    'repository_url': site['git_url'],
    'repository_branch': site['branch'],
    'path_to_docs': 'nbs',
    'use_repository_button': True,
    'home_page_in_toc': True,
    'show_toc_level': 2,
    'use_download_button': False,    # it offers the adapted notebook, not the source: the repository button does
}
html_context = {'default_mode': 'light'}

