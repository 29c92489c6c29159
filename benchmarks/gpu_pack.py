#!/usr/bin/env python3
"""Pack what `benchmarks/gpu_run.sh` needs on the GPU machine into ignored folders that travel with the working tree.

    python benchmarks/gpu_pack.py                # images of ../shared/data -> gpu_data/ (lossless WebP, 45 MiB)
    python benchmarks/gpu_pack.py --wheels       # also nbdev and its test dependencies -> .whl/ (22 wheels, 7 MiB)

The GPU machine can reach nothing outside it, and a run carries at most 64 MiB (working tree included). T91, BSD200,
Set5 and Set14 are 73 MiB as PNG/BMP, so every image is re-encoded as *lossless* WebP (about 0.39 of the raw RGB size,
0.7 of PNG): the pixels are unchanged, and checked to be so, image by image, through `sesr_nb.fileio.read_image` (what the
library sees). The folders keep the benchmark layout (`SET/HR`, `SET/LR_bicubic/Xs/NAMExs.webp`), so `load_dataset` reads
them as they are. `gpu_data/MANIFEST.json` records every file's source, sizes and pixel hash.

The images are research-licensed (see ../shared/data/MANIFEST.md): `gpu_data/` is git-ignored and must never be committed.
"""
from __future__ import annotations
import argparse, hashlib, io, json, os, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

import numpy as np
from PIL import Image

from sesr_nb.datasets import find_repo_root
from sesr_nb.fileio import list_images, read_image, write_bytes_atomic, write_json_atomic

DEFAULT_SETS = ('T91', 'BSD200', 'Set5', 'Set14')
# nbdev_test and what it imports that the GPU machine's image lacks (its package list: .library/device/KINDS.md);
# pinned to the versions installed here, so the tests there run with the tools they run with here
TEST_WHEELS = ('nbdev', 'execnb', 'fastcore', 'fastgit', 'fastspec', 'ghapi', 'astunparse', 'asttokens', 'watchdog',
               'ipython', 'ipython_pygments_lexers', 'jedi', 'parso', 'matplotlib-inline', 'pexpect', 'ptyprocess',
               'prompt_toolkit', 'wcwidth', 'stack_data', 'executing', 'pure_eval', 'traitlets')
WHEEL_PLATFORMS = ('manylinux_2_28_x86_64', 'manylinux_2_27_x86_64', 'manylinux_2_17_x86_64', 'manylinux2014_x86_64',
                   'manylinux1_x86_64')


def _sha256(data: bytes) -> str: return hashlib.sha256(data).hexdigest()


def encode_lossless_webp(rgb: np.ndarray, method: int = 4, quality: int = 70) -> bytes:
    "Lossless WebP bytes of a uint8 HxWx3 image (`method`/`quality` trade encoding time for size, never pixels)."
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f'expected a uint8 HxWx3 image, got {rgb.dtype} {rgb.shape}')
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, 'WEBP', lossless=True, quality=quality, method=method, exact=True)
    return buffer.getvalue()


def set_images(src: Path, name: str) -> list[Path]:
    "Image files of benchmark set `name` under `src`: SET/HR plus SET/LR_bicubic/X* when present (or a plain folder)."
    root = src / name
    if not root.is_dir():
        raise FileNotFoundError(f'{root} is not a folder; pass --src the folder that holds {name}/ (e.g. ../shared/data)')
    if not (root / 'HR').is_dir(): return list_images(root)
    files = list_images(root / 'HR')
    lr_root = root / 'LR_bicubic'
    if lr_root.is_dir():
        for folder in sorted(p for p in lr_root.iterdir() if p.is_dir()): files += list_images(folder)
    return files


def pack_image(path: Path, src: Path, dest: Path, method: int, quality: int, old: dict | None) -> dict:
    "Re-encode one image losslessly under `dest` (same relative path, .webp) and check its pixels; its manifest entry."
    raw = path.read_bytes()
    rel = path.relative_to(src).with_suffix('.webp')
    out = dest / rel
    if old and old.get('src_sha256') == _sha256(raw) and out.is_file() and out.stat().st_size == old.get('bytes'):
        return {**old, 'reused': True}
    pixels = read_image(path)
    data = encode_lossless_webp(pixels, method, quality)
    write_bytes_atomic(out, data)
    back = read_image(out)
    if back.shape != pixels.shape or not np.array_equal(back, pixels):
        out.unlink()
        raise RuntimeError(f'{out}: the WebP encoding of {path} does not decode to the same pixels; '
                           'this Pillow/libwebp is broken for lossless WebP: pack with another Pillow')
    return {'path': str(rel), 'src': str(path.relative_to(src)), 'src_bytes': len(raw), 'src_sha256': _sha256(raw),
            'bytes': len(data), 'shape': list(pixels.shape), 'pixels_sha256': _sha256(pixels.tobytes())}


def pack_data(src: Path, dest: Path, sets=DEFAULT_SETS, method: int = 4, quality: int = 70, threads: int = 2) -> dict:
    "Pack benchmark `sets` of `src` into `dest` as lossless WebP; returns (and writes) the manifest."
    manifest_path = dest / 'MANIFEST.json'
    old = {}
    if manifest_path.is_file():
        try: old = {e['src']: e for e in json.loads(manifest_path.read_text())['files']}
        except (ValueError, KeyError, TypeError): old = {}
    jobs = [(name, path) for name in sets for path in set_images(src, name)]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:  # Pillow releases the GIL while coding images
        entries = list(pool.map(lambda job: pack_image(job[1], src, dest, method, quality,
                                                       old.get(str(job[1].relative_to(src)))), jobs))
    wanted = {dest / e['path'] for e in entries}
    for name in sets:  # files of an earlier pack that the sources no longer have
        for stale in (dest / name).rglob('*.webp'):
            if stale not in wanted: stale.unlink()
    entries = [{k: v for k, v in e.items() if k != 'reused'} for e in entries]
    manifest = {'format': 'sesr_nb gpu_data', 'note': 'research-licensed images (see shared/data/MANIFEST.md): '
                'never commit this folder', 'encoding': f'lossless WebP (Pillow, method={method}, quality={quality}); '
                'pixels checked equal to the source through sesr_nb.fileio.read_image',
                'source': str(src.resolve()), 'sets': {n: sum(e['src'].startswith(n + '/') for e in entries) for n in sets},
                'src_bytes': sum(e['src_bytes'] for e in entries), 'bytes': sum(e['bytes'] for e in entries),
                'seconds': round(time.perf_counter() - t0, 1), 'files': entries}
    write_json_atomic(manifest_path, manifest)
    return manifest


def download_wheels(dest: Path, names=TEST_WHEELS, python_version: str = '3.12') -> list[Path]:
    "Download pure-Python wheels of `names` (pinned to the versions installed here) for the GPU machine's Python."
    dest.mkdir(parents=True, exist_ok=True)
    pins = []
    for name in names:
        try: pins.append(f'{name}=={metadata.version(name)}')
        except metadata.PackageNotFoundError:
            raise RuntimeError(f'{name} is not installed here, so its version is unknown; install the dev requirements '
                               '(pip install -e ".[dev]") first') from None
    cmd = [sys.executable, '-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--python-version', python_version,
           '--implementation', 'cp', *[a for p in WHEEL_PLATFORMS for a in ('--platform', p)], '-d', str(dest), *pins]
    subprocess.run(cmd, check=True)
    return sorted(dest.glob('*.whl'))


def main(argv=None) -> int:
    root = find_repo_root(Path(__file__).parent) or Path.cwd()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--src', type=Path, default=root.parent / 'shared' / 'data', help='folder holding T91/, BSD200/, ...')
    ap.add_argument('--dest', type=Path, default=root / 'gpu_data', help='output folder (git-ignored)')
    ap.add_argument('--sets', nargs='+', default=list(DEFAULT_SETS), help='sets to pack')
    ap.add_argument('--method', type=int, default=4, help='WebP effort 0-6 (size only; always lossless)')
    ap.add_argument('--quality', type=int, default=70, help='WebP lossless effort 0-100 (size only)')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--wheels', action='store_true', help='also download the test wheels into --wheel-dir')
    ap.add_argument('--wheels-only', action='store_true', help='only download the wheels')
    ap.add_argument('--wheel-dir', type=Path, default=root / '.whl')
    args = ap.parse_args(argv)
    if not args.wheels_only:
        manifest = pack_data(args.src, args.dest, args.sets, args.method, args.quality, args.threads)
        print(f"{args.dest}: {len(manifest['files'])} images of {', '.join(f'{n} ({k})' for n, k in manifest['sets'].items())}, "
              f"{manifest['bytes'] / 2**20:.1f} MiB (sources {manifest['src_bytes'] / 2**20:.1f} MiB), lossless")
    if args.wheels or args.wheels_only:
        wheels = download_wheels(args.wheel_dir)
        print(f'{args.wheel_dir}: {len(wheels)} wheels, {sum(w.stat().st_size for w in wheels) / 2**20:.1f} MiB')
    return 0


if __name__ == '__main__':
    sys.exit(main())
