"""Importing sesr_nb changes nothing in the process; `sesr_nb.conv.tune_process()` is the one, opt-in, switch.

Every check runs in a fresh interpreter that imports every module of the package (sesr_nb/*.py), so nothing that
other tests imported can hide, or cause, a side effect. glibc's `mallopt` has no getter, so the malloc settings are
checked by behaviour: with glibc's defaults a 64 MiB `malloc` is served by `mmap` (`mallinfo2().hblkhd` grows by
it, the 32 MiB ceiling of glibc's adaptive threshold being below it); after `tune_process()` (M_MMAP_MAX = 0) it
comes from the heap instead.
"""
from __future__ import annotations
import json, os, subprocess, sys, textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / 'sesr_nb'
MODULES = sorted('sesr_nb' if p.stem == '__init__' else f'sesr_nb.{p.stem}' for p in PACKAGE.glob('*.py'))
YNN_FLAG = '--xla_cpu_experimental_ynn_fusion_type=individual_dot'

CHILD = textwrap.dedent('''
    import ctypes, importlib, json, os, sys

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in
                    'arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost'.split()]

    libc = ctypes.CDLL('libc.so.6')
    libc.mallinfo2.restype = MallInfo2
    libc.malloc.restype, libc.malloc.argtypes, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_size_t], [ctypes.c_void_p]

    def big_malloc_is_mmapped() -> bool:
        "Does a 64 MiB malloc come from mmap (glibc's default) rather than the heap?"
        before = libc.mallinfo2().hblkhd
        block = libc.malloc(64 << 20)
        assert block, 'malloc failed'
        grown = libc.mallinfo2().hblkhd - before
        libc.free(block)
        return grown >= 64 << 20

    out = {'mmap_before': big_malloc_is_mmapped()}
    import jax  # the baseline is a process with JAX imported: jax's own import sets TF_CPP_MIN_LOG_LEVEL and TPU_SKIP_MDS_QUERY
    out.update(env_before=dict(os.environ), jax=jax.__version__)
    for name in json.loads(sys.argv[1]): importlib.import_module(name)
    out.update(env_after_import=dict(os.environ), mmap_after_import=big_malloc_is_mmapped(),
               cache_after_import=os.path.exists(os.environ['SESR_NB_CACHE']))
    from sesr_nb.conv import tune_process
    out.update(first=tune_process(), env_after_first=dict(os.environ), second=tune_process(),
               env_after_second=dict(os.environ), mmap_after_tune=big_malloc_is_mmapped())
    print(json.dumps(out))
''')


def run_child(tmp_path: Path, **env: str | None) -> dict:
    "Run CHILD in a fresh interpreter with the environment changed by `env` (None removes a variable)."
    child_env = {k: v for k, v in os.environ.items() if k not in ('SESR_NB_MALLOC', 'SESR_NB_XLA_FLAGS', 'XLA_FLAGS')}
    child_env.update(SESR_NB_CACHE=str(tmp_path / 'cache'), JAX_PLATFORMS='cpu',  # this checkout's package:
                     PYTHONPATH=os.pathsep.join(p for p in (str(PACKAGE.parent), os.environ.get('PYTHONPATH')) if p))
    for key, value in env.items():
        if value is None: child_env.pop(key, None)
        else: child_env[key] = value
    proc = subprocess.run([sys.executable, '-c', CHILD, json.dumps(MODULES)], env=child_env, capture_output=True,
                          text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def glibc() -> bool:
    "Is this Linux with glibc (the C library the malloc checks and tune_host_allocator are about)?"
    try: return sys.platform.startswith('linux') and bool(os.confstr('CS_GNU_LIBC_VERSION'))
    except (ValueError, OSError, AttributeError): return False


needs_glibc = pytest.mark.skipif(not glibc(), reason='the malloc checks need Linux with glibc')


def jax_at_least(version: str, wanted: tuple[int, int]) -> bool:
    "Is the `major.minor` of `version` at least `wanted`?"
    return tuple(int(p) for p in version.split('.')[:2]) >= wanted


def test_every_module_is_found():
    assert {'sesr_nb', 'sesr_nb.conv', 'sesr_nb.train', 'sesr_nb.cli'} <= set(MODULES), MODULES


@needs_glibc
@pytest.mark.parametrize('xla_flags', [None, '--xla_force_host_platform_device_count=1'])
def test_imports_change_nothing_and_tune_process_changes_both(tmp_path, xla_flags):
    out = run_child(tmp_path, XLA_FLAGS=xla_flags)
    # importing everything: the environment (XLA_FLAGS included) and malloc behave as before, nothing is compiled
    assert out['env_after_import'] == out['env_before']
    assert out['env_before'].get('XLA_FLAGS') == xla_flags
    assert out['mmap_before'] and out['mmap_after_import'], 'with glibc defaults, a 64 MiB malloc is mmapped'
    assert not out['cache_after_import'], 'importing sesr_nb must not build the native kernels'
    # tune_process(): malloc keeps big blocks on the heap, and XLA_FLAGS gets the YNNPACK flag (jaxlib >= 0.10)
    assert out['first']['malloc'] and not out['mmap_after_tune']
    expected_flags = ' '.join(f for f in (xla_flags, YNN_FLAG) if f)
    if jax_at_least(out['jax'], (0, 10)):
        assert out['first']['xla_flags']
        assert out['env_after_first']['XLA_FLAGS'] == expected_flags
    # idempotent: a second call reports the same and changes nothing more
    assert out['second'] == out['first']
    assert out['env_after_second'] == out['env_after_first']
    assert {k: v for k, v in out['env_after_first'].items() if k != 'XLA_FLAGS'} == \
           {k: v for k, v in out['env_before'].items() if k != 'XLA_FLAGS'}


@needs_glibc
def test_tune_process_opt_outs(tmp_path):
    "SESR_NB_MALLOC=off and SESR_NB_XLA_FLAGS=off leave malloc and XLA_FLAGS alone, and an XLA_FLAGS that already sets the YNNPACK option is respected."
    out = run_child(tmp_path, SESR_NB_MALLOC='off', SESR_NB_XLA_FLAGS='off')
    assert out['first'] == {'malloc': False, 'xla_flags': False}
    assert out['mmap_after_tune'] and out['env_after_second'] == out['env_before']
    own = '--xla_cpu_experimental_ynn_fusion_type=default'
    out = run_child(tmp_path, XLA_FLAGS=own)
    assert not out['first']['xla_flags'] and out['env_after_second']['XLA_FLAGS'] == own
