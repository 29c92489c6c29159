#!/usr/bin/env python3
"""Check the built documentation site in a real browser: `python .ci/browser_check.py [_site]`.

Serves the site with `http.server` on 127.0.0.1, opens every page in Chromium (Playwright driving Debian's
`/usr/bin/chromium`, never a browser that Playwright downloads) and fails (exit 1, one line per problem) on
- an HTTP error or a failed request, and any request that leaves 127.0.0.1 (the site must work offline);
- a JavaScript error (an uncaught exception or a console error);
- an image that did not load;
- a link to a page that does not exist, or to an anchor (`page.html#id`) that no element of that page has, or an id
  that two elements of a page share;
- TeX that MathJax did not render: a MathJax error, or `$...$`, `\\(...\\)`, `\\frac`-like text outside code;
- a search (for 'collapse') that finds no page.

Pages are every .html file of the site plus whatever a page links to inside it. `--screenshot DIR` saves a PNG of
each page for a person to look at.
"""
from __future__ import annotations
import argparse, functools, http.server, os, re, sys, threading, time
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlparse

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get('SESR_NB_CHROMIUM', '/usr/bin/chromium')
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync', '--no-first-run']
SEARCH_WORD = 'collapse'          # a word every build of this site has: its search must find it
SKIP_PAGES = {'genindex.html'}   # Sphinx's empty general index (the API lives in the pages)

# run in the page once MathJax is done: everything the check needs from the DOM
PAGE_REPORT = r"""async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  await document.fonts.ready;                     // MathJax's fonts load after typesetting: let them finish here
  const images = [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute('src'));
  const links = [...document.querySelectorAll('a[href]')].map(a => a.href);
  const ids = [...document.querySelectorAll('[id]')].map(e => e.id)
      .concat([...document.querySelectorAll('a[name]')].map(e => e.getAttribute('name')));
  const mathErrors = [...document.querySelectorAll('mjx-merror, .MathJax_Error')].map(e => e.textContent);
  const texts = [];
  const walker = document.createTreeWalker(document.querySelector('main') || document.body, NodeFilter.SHOW_TEXT, {
    acceptNode: n => n.parentElement.closest('pre, code, script, style, mjx-container, kbd, samp, .highlight, textarea')
      ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  for (let n = walker.nextNode(); n; n = walker.nextNode()) texts.push(n.textContent);
  const mathCount = document.querySelectorAll('mjx-container').length;
  return {images, links, ids, mathErrors, text: texts.join(' ').replace(/\s+/g, ' '), mathCount};
}"""
UNRENDERED_TEX = re.compile(r'\$[^$\s][^$]*\$|\\\(|\\\)|\\\[|\\\]|\\(?:frac|mathrm|mathbf|operatorname|sum|times|cdot|alpha|begin)\b')


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):   # the browser moved on: not an error
            super().handle_error(request, client_address)


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    "A local http.server over the site, on a free port of 127.0.0.1, in a daemon thread."
    server = QuietServer(('127.0.0.1', 0), functools.partial(QuietHandler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f'http://127.0.0.1:{server.server_address[1]}/'


def load(page, url: str, timeout_ms: int):
    """`page.goto(url)` until 'load'; a timeout is tried once more with twice the time (a busy machine is slow, not
    broken), then None."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    for attempt in (1, 2):
        try: return page.goto(url, wait_until='load', timeout=attempt * timeout_ms)
        except PlaywrightTimeout:
            if attempt == 2: return None
            page.goto('about:blank')   # end the slow navigation, or the retry races with it


def check_site(site: Path, screenshots: Path | None = None, timeout_ms: int = 30_000) -> tuple[list[str], int]:
    "Problems found on the site (empty when it is fine) and the number of pages visited."
    from playwright.sync_api import sync_playwright
    if not Path(CHROMIUM).exists():
        return [f'{CHROMIUM} not found: apt-get install -y chromium (or set SESR_NB_CHROMIUM)'], 0
    server, base = serve(site)
    problems, reports = [], {}
    queue = [p.relative_to(site).as_posix() for p in sorted(site.rglob('*.html'))
             if p.name not in SKIP_PAGES and not p.relative_to(site).parts[0].startswith('_')]
    seen = set(queue)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={'width': 1280, 'height': 900})
            current = {'path': ''}
            def problem(text): problems.append(f"{current['path']}: {text}")
            page.on('pageerror', lambda err: problem(f'JavaScript error: {err}'))
            page.on('console', lambda msg: msg.type == 'error' and problem(f'console error: {msg.text}'))
            page.on('requestfailed', lambda req: problem(f'request failed: {req.url} ({req.failure})'))
            page.on('response', lambda res: res.status >= 400 and problem(f'HTTP {res.status}: {res.url}'))
            def offline(route):
                if route.request.url.startswith(base) or route.request.url.startswith(('data:', 'blob:')):
                    return route.continue_()
                problem(f'request outside the site: {route.request.url}')
                route.abort()
            page.route('**/*', offline)
            while queue:
                path = queue.pop(0)
                current['path'] = path
                response = load(page, base + path, timeout_ms)
                if response is None:
                    problem(f'did not load (timed out after {timeout_ms / 1000:.0f} s, then after {2 * timeout_ms / 1000:.0f} s)')
                    continue
                if not response.ok: continue                               # reported by the 'response' handler
                report = page.evaluate(PAGE_REPORT)
                page.wait_for_load_state('networkidle', timeout=timeout_ms)  # nothing in flight when we move on
                reports[path] = report
                for src in report['images']: problem(f'image did not load: {src}')
                for err in report['mathErrors']: problem(f'MathJax error: {err}')
                for ident in sorted({i for i in report['ids'] if report['ids'].count(i) > 1}):
                    problem(f'id used twice: {ident}')
                for m in UNRENDERED_TEX.finditer(report['text']):
                    problem(f'unrendered TeX: ...{report["text"][max(0, m.start() - 40):m.end() + 40]}...')
                for href in report['links']:
                    url, _ = urldefrag(href)
                    if not url.startswith(base): continue
                    target = unquote(urlparse(url).path).lstrip('/')
                    if (target == '' or target.endswith('/')): target += 'index.html'
                    if target.endswith('.html') and target not in seen and Path(target).name not in SKIP_PAGES:
                        seen.add(target); queue.append(target)
                if screenshots:
                    screenshots.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(screenshots / (path.replace('/', '_') + '.png')))
            if (site / 'search.html').is_file():                          # the search index works offline too
                current['path'] = f'search.html?q={SEARCH_WORD}'
                page.goto(f'{base}search.html?q={SEARCH_WORD}', wait_until='load', timeout=timeout_ms)
                try: page.wait_for_selector('#search-results li', timeout=timeout_ms)
                except Exception: problem(f'searching for {SEARCH_WORD!r} finds no page')
            browser.close()
    finally:
        server.shutdown()
    # links: the page must exist and, for page.html#id, have an element with that id
    for path, report in reports.items():
        for href in report['links']:
            if not href.startswith(base): continue
            url, fragment = urldefrag(href)
            target = unquote(urlparse(url).path).lstrip('/') or 'index.html'
            if target.endswith('/'): target += 'index.html'
            if not (site / target).is_file():
                problems.append(f'{path}: link to a missing page: {href[len(base):]}'); continue
            if fragment and target in reports and unquote(fragment) not in reports[target]['ids']:
                problems.append(f'{path}: link to a missing anchor: {href[len(base):]}')
    return sorted(set(problems)), len(reports)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('site', nargs='?', type=Path, default=ROOT / '_site')
    parser.add_argument('--screenshot', type=Path, help='save a PNG of every page into this folder')
    args = parser.parse_args(argv)
    if not (args.site / 'index.html').is_file():
        print(f'{args.site}/index.html not found: build the site first (python .ci/site.py)', file=sys.stderr)
        return 1
    start = time.time()
    problems, pages = check_site(args.site, args.screenshot)
    for p in problems: print(p)
    print(f'browser check: {pages} pages, {len(problems)} problems ({time.time() - start:.0f} s)')
    return 1 if problems or not pages else 0


if __name__ == '__main__':
    sys.exit(main())
