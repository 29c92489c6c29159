#!/usr/bin/env python3
"""One GPU session's work for sesr_nb, in one command under a time budget (run it through `benchmarks/gpu_run.sh`).

Stages, each given what is left of the budget and stopped cleanly when its share is spent (what it has is written):

0. env         what the machine is: Python, JAX and its devices, missing packages, nvidia-smi.
1. tests       nbdev_test of the notebooks that matter on a GPU (02_models, 03a_sesr, 09_train, 10_infer), one process
               each, in parallel -> $OUT/tests.log. On a GPU the native CPU kernels do not apply: XLA convolutions run.
2. throughput  train-step patches/s for M3/M5/M11/XL x batch 32/128 x float32/bfloat16 x collapsed/expanded, compiled
               in parallel waves and timed alone -> $OUT/throughput.json and a printed table.
3. train       the rest of the time: the model set (M3/M5/M11 x2, and M5 x4 initialised from M5 x2) on T91+BSD200
               from the packed data (`benchmarks/gpu_pack.py`), with 10 BSD200 images held out (a fixed random draw)
               to choose the best checkpoint, never Set5/Set14; each chain of runs is one process, all in parallel on
               the GPU. Each run trains a short calibration segment, measures its speed, then resumes (constant
               learning rate) to the step count that ends inside its window; at the window's end it is interrupted
               and keeps its last validated checkpoint.
4. pack        every run folder (config, metrics, best + last checkpoint, the best model as .npz, Set5/Set14 scores,
               log) -> $OUT/runs/NAME.tar.gz, and $OUT/summary.json.

`--dry-run` runs the same logic on the CPU with tiny settings (preset tiny, a few steps, a budget under a minute, and a
few synthetic images packed like gpu_data/ unless --data is given), so CI can check it. What the device machine sends
back is $OUT alone, at most 8 files of at most 16 MiB each, hence the archives.
"""
from __future__ import annotations
import argparse, dataclasses, json, math, os, re, shutil, signal, statistics, subprocess, sys, tarfile, textwrap, threading
import time, traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
THIS = Path(__file__).resolve()
OUT_FILES_MAX, OUT_FILE_BYTES_MAX = 8, 16 * 2**20   # what the device machine sends back from $OUT
FIXED_OUT_FILES = ('gpu_run.log', 'summary.json', 'throughput.json', 'tests.log')
# keyword arguments: nbdev_test() parses sys.argv only when run as a script, and from `python -c` it would test every notebook
NBDEV_TEST = 'import sys; from nbdev.test import nbdev_test; nbdev_test(path=sys.argv[1], do_print=True)'
DIV2K_EPOCH_PATCHES = 800 * 64                      # the yardstick: 51 K patches per DIV2K epoch

# GPU defaults, and what --dry-run replaces them with
DEFAULTS = dict(
    budget=510.0, reserve=25.0, tests_budget=150.0, throughput_budget=120.0,
    notebooks='02_models 03a_sesr 09_train 10_infer',
    presets='M3 M5 M11 XL', batches='32 128', dtypes='float32 bfloat16', modes='collapsed expanded', patch=64,
    config_seconds=1.5, compile_threads=6, min_train_seconds=60.0,
    chains='M3x2 M5x2>M5x4 M11x2', chain_split=0.6, train_batch=32, train_patch=64, train_patch_x4=50,
    train_dtype='float32', train_scale_aug='0.9 0.8 0.7 0.6',
    calibrate_steps=300, log_every=50, validations=5, max_steps=1_000_000, min_more_steps=100,
    eval_reserve=25.0, eval_sets='Set5 Set14')
DRY_RUN = dict(
    budget=55.0, reserve=4.0, tests_budget=20.0, throughput_budget=10.0,
    notebooks=None,  # a generated smoke notebook: the real ones take minutes on a CPU
    presets='tiny', batches='4', dtypes='float32 bfloat16', modes='collapsed expanded', patch=16,
    config_seconds=0.2, compile_threads=2, min_train_seconds=8.0,
    chains='tinyx2>tinyx4 tinyx3', chain_split=0.6, train_batch=4, train_patch=16, train_patch_x4=12,
    train_dtype='float32', train_scale_aug='0.9 0.8 0.7 0.6',
    calibrate_steps=4, log_every=2, validations=2, max_steps=16, min_more_steps=2,
    eval_reserve=3.0, eval_sets='Set5 Set14')


ARCH_OF_PRESET = {'M11': 'M11(block_init=0)'}   # presets trained as the shipped set trains them (train_model_set.sh)

# ----------------------------------------------------------------------------------------------------------- helpers
def now() -> float: return time.time()

def write_json(path: Path, data) -> Path:
    "Write JSON atomically (a killed run leaves the previous version, never half a file)."
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.name}.tmp')
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)
    return path

def log(*parts) -> None:
    print(f'[{time.strftime("%H:%M:%S")}]', *parts, flush=True)

def tail(path: Path, lines: int = 20) -> str:
    try: return '\n'.join(path.read_text(errors='replace').splitlines()[-lines:])
    except OSError: return ''

def parse_chains(text: str) -> list[list[dict]]:
    "'M3x2 M5x2>M5x4' -> chains of runs {name, preset, scale, init}: '>' starts the next run from the previous one."
    chains, names = [], set()
    for chain_text in text.split():
        chain = []
        for i, item in enumerate(chain_text.split('>')):
            preset, sep, scale = item.rpartition('x')
            if not sep or not preset or scale not in ('2', '3', '4'):
                raise ValueError(f'run {item!r} in --chains is not PRESETxSCALE (e.g. M5x2, scale 2, 3 or 4)')
            if item in names: raise ValueError(f'run {item!r} appears twice in --chains; each run needs its own name')
            names.add(item)
            chain.append({'name': item, 'preset': preset, 'scale': int(scale), 'init': i > 0})
        chains.append(chain)
    return chains

def stop_all(procs: list[subprocess.Popen], grace: float = 2.0) -> None:
    "Stop children started with start_new_session (and what they started), all at once: SIGINT, SIGTERM, then SIGKILL."
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        running = [p for p in procs if p.poll() is None]
        if not running: return
        for p in running:
            try: os.killpg(p.pid, sig)   # the group of a child this script started, by its id
            except (ProcessLookupError, PermissionError): pass
        end = time.time() + grace
        while time.time() < end and any(p.poll() is None for p in running): time.sleep(0.05)


class Clock:
    "The run's time budget, counted from the wrapper's start."
    def __init__(self, start: float, budget: float, reserve: float):
        self.start, self.budget, self.reserve = start, budget, reserve
        self.deadline = start + budget
    def left(self) -> float: return self.deadline - now()
    def usable(self) -> float: return self.left() - self.reserve     # what stages may use (the reserve is for packing)
    def elapsed(self) -> float: return now() - self.start


# ------------------------------------------------------------------------------------------------------ orchestrator
class Orchestrator:
    def __init__(self, args: argparse.Namespace):
        self.args, self.dry = args, args.dry_run
        self.out = Path(args.out).resolve()
        self.work = Path(args.work).resolve()
        self.out.mkdir(parents=True, exist_ok=True)
        self.work.mkdir(parents=True, exist_ok=True)
        start = float(os.environ.get('SESR_GPU_RUN_T0') or now())
        self.clock = Clock(start, args.budget, args.reserve)
        self.python = sys.executable
        self.summary = {'dry_run': self.dry, 'started': time.strftime('%Y-%m-%dT%H:%M:%S', time.localtime(start)),
                        'budget_s': args.budget, 'reserve_s': args.reserve, 'out': str(self.out), 'work': str(self.work),
                        'settings': {k: v for k, v in vars(args).items() if k not in ('out', 'work')}, 'stages': {}}
        self.data_dirs: dict | None = None

    # environment of the children
    def child_env(self, cache: bool = False) -> dict:
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join([str(REPO)] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
        env['PYTHONUNBUFFERED'] = '1'
        env['XLA_PYTHON_CLIENT_PREALLOCATE'] = 'false'   # several processes share the GPU
        env.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')
        if self.dry:
            env['JAX_PLATFORMS'] = 'cpu'
            env['SESR_NB_CONV'] = 'xla'     # the convolutions a GPU runs (and no C++ build in CI)
        if cache:  # the throughput stage and the training runs compile the same steps: share them
            env['JAX_COMPILATION_CACHE_DIR'] = str(self.work / 'jax_cache')
        return env

    def save_summary(self) -> None:
        self.summary['elapsed_s'] = round(self.clock.elapsed(), 1)
        write_json(self.out / 'summary.json', self.summary)

    def stage(self, name: str, fn, budget: float, minimum: float) -> None:
        "Run stage `fn(deadline)` with at most `budget` seconds of what is left; record its status, result and wall time."
        allowed = min(budget, self.clock.usable())
        record = {'budget_s': round(allowed, 1)}
        self.summary['stages'][name] = record
        if allowed < minimum:
            record.update(status='skipped', reason=f'{max(allowed, 0):.0f} s left for it, it needs {minimum:.0f} s')
            log(f'== {name}: skipped ({record["reason"]})')
            self.save_summary()
            return
        log(f'== {name} (up to {allowed:.0f} s; {self.clock.left():.0f} s of the budget left)')
        t0 = now()
        try:
            status, result = fn(t0 + allowed)
            record.update(status=status, **(result or {}))
        except Exception as err:  # a broken stage must not cost the others their time
            record.update(status='error', error=f'{type(err).__name__}: {err}', traceback=traceback.format_exc())
            log(f'{name} failed: {type(err).__name__}: {err}')
        record['wall_s'] = round(now() - t0, 1)
        log(f'== {name}: {record["status"]} in {record["wall_s"]:.0f} s')
        self.save_summary()

    def spawn(self, kind: str, spec: dict, log_path: Path, cache: bool = True) -> subprocess.Popen:
        "Start `gpu_run.py --child KIND` in its own process group, its output in `log_path`."
        spec_path = self.work / 'specs' / f'{kind}-{spec.get("tag", kind)}.json'
        write_json(spec_path, spec)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, 'w') as handle:
            return subprocess.Popen([self.python, str(THIS), '--child', kind, '--spec', str(spec_path)], cwd=REPO,
                                    stdout=handle, stderr=subprocess.STDOUT, env=self.child_env(cache), start_new_session=True)

    def wait_all(self, procs: dict, deadline: float) -> dict:
        "Wait for every child until `deadline`, then stop the rest; {key: 'done' | 'killed'}."
        for proc in procs.values():
            try: proc.wait(max(0.0, deadline - now()))
            except subprocess.TimeoutExpired: break
        state = {key: 'done' if proc.poll() is not None else 'killed' for key, proc in procs.items()}
        stop_all(list(procs.values()))
        return state

    # stage 0
    def stage_env(self, deadline: float):
        result_path = self.work / 'env.json'
        proc = self.spawn('env', {'result': str(result_path)}, self.work / 'logs' / 'env.log', cache=False)
        killed = self.wait_all({'env': proc}, deadline)['env'] == 'killed'
        info = json.loads(result_path.read_text()) if result_path.is_file() else {}
        if not killed and (proc.returncode != 0 or not info):
            info['error'] = f'the environment probe failed (exit {proc.returncode}): ' + tail(self.work / 'logs' / 'env.log', 15)
        smi = shutil.which('nvidia-smi')
        if smi:
            try:
                info['nvidia_smi'] = subprocess.run([smi, '--query-gpu=name,memory.total,driver_version,clocks.max.sm',
                                                     '--format=csv,noheader'], capture_output=True, text=True,
                                                    timeout=15).stdout.strip()
            except (OSError, subprocess.TimeoutExpired) as err: info['nvidia_smi'] = f'failed: {err}'
        self.summary['env'] = info
        log('env:', json.dumps({k: info.get(k) for k in ('python', 'jax', 'backend', 'devices', 'missing', 'nvidia_smi')}))
        if 'error' in info: return 'error', {'error': info['error']}
        if killed: return 'truncated', {'reason': 'the environment probe did not finish in time'}
        warnings = []
        if not self.dry and info.get('backend') != 'gpu':
            warnings.append(f"JAX sees no GPU (backend {info.get('backend')!r}): everything below runs on the CPU")
        for w in warnings: log('WARNING:', w)
        return ('ok' if not warnings else 'warning'), ({'warnings': warnings} if warnings else {})

    # data: the packed sets, and the held-out split
    def synthetic_data(self) -> Path:
        "A dry run's stand-in for gpu_data/: a few small textured images as T91, BSD200 and Set5, packed by gpu_pack."
        import numpy as np
        from PIL import Image
        src, rng = self.work / 'synthetic_src', np.random.default_rng(0)
        for name, count in (('T91', 3), ('BSD200', 5), ('Set5', 2)):
            (src / name / 'HR').mkdir(parents=True, exist_ok=True)
            for i in range(count):
                y, x = np.mgrid[0:72 + 8 * i, 0:80]
                waves = np.stack([np.sin(x / 7 + c + i) * 60 + np.cos(y / 5 - c) * 50 + 128 for c in range(3)], -1)
                image = np.clip(waves + rng.normal(0, 12, waves.shape), 0, 255).astype(np.uint8)
                Image.fromarray(image).save(src / name / 'HR' / f'{name.lower()}{i}.png')
        sys.path.insert(0, str(THIS.parent))
        from gpu_pack import pack_data
        pack_data(src, self.work / 'synthetic_data', ('T91', 'BSD200', 'Set5'))
        return self.work / 'synthetic_data'

    def prepare_data(self) -> dict | None:
        "Dataset specs for training (T91@train, BSD200@train), validation (BSD200@holdout, T91@holdout) and evaluation (Set5, Set14)."
        if self.dry and not self.args.data: self.args.data = str(self.synthetic_data())
        root = Path(self.args.data).resolve() if self.args.data else None
        if root is None or not (root / 'T91').is_dir() or not (root / 'BSD200').is_dir():
            self.summary['data'] = {'status': 'missing', 'root': str(root),
                                    'hint': 'pack it with `python benchmarks/gpu_pack.py` and carry gpu_data'}
            return None
        # the project's one hold-out rule (sesr_nb.datasets.in_holdout, dataset specs SET@train / SET@holdout): the
        # same images are held out here as in every CPU run, chosen by name, whatever the order or the packing format
        from sesr_nb.datasets import in_holdout
        def hr_files(name):
            folder = root / name / 'HR' if (root / name / 'HR').is_dir() else root / name
            return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith('.'))
        sets = {name: hr_files(name) for name in ('T91', 'BSD200')}
        held = {name: [p.name for p in files if in_holdout(p.name)] for name, files in sets.items()}
        for name, files in sets.items():
            if len(held[name]) == len(files):
                raise ValueError(f'every image of {root / name} is held out by the name rule; pack the whole set')
        dirs = {'root': str(root), 'train': [f'{root / n}@train' if held[n] else str(root / n) for n in sets],
                'val': [f'{root / n}@holdout' for n in ('BSD200', 'T91') if held[n]],
                'eval': [str(root / s) for s in self.args.eval_sets.split() if (root / s).is_dir()],
                'holdout': held, 'counts': {f'{n}_{part}': len(held[n]) if part == 'holdout' else len(sets[n]) - len(held[n])
                                            for n in sets for part in ('train', 'holdout')}}
        self.summary['data'] = {'status': 'ok', **dirs}
        return dirs

    # stage 1
    def notebooks(self) -> list[Path]:
        if self.args.notebooks:
            found = []
            for item in self.args.notebooks.split():
                path = Path(item) if item.endswith('.ipynb') else REPO / 'nbs' / f'{item}.ipynb'
                if not path.is_file(): raise FileNotFoundError(f'notebook {item!r} not found ({path})')
                found.append(path.resolve())
            return found
        smoke = self.work / 'tests' / 'smoke_dry_run.ipynb'   # dry run: one quick notebook through the same nbdev_test
        smoke.parent.mkdir(parents=True, exist_ok=True)
        cells = ['import jax, jax.numpy as jnp\nfrom sesr_nb.arch import arch_config\n',
                 "arch, config = arch_config('tiny', 2)\nparams = arch.init(config, jax.random.PRNGKey(0))\n"
                 "y = arch.apply(params, jnp.ones((1, 8, 8, 1)), config, 'collapsed')\n"
                 "assert y.shape == (1, 16, 16, 1) and bool(jnp.isfinite(y).all())\nprint(jax.default_backend())\n"]
        nb = {'cells': [{'cell_type': 'code', 'execution_count': None, 'id': f'c{i}', 'metadata': {}, 'outputs': [],
                         'source': c.splitlines(keepends=True)} for i, c in enumerate(cells)],
              'metadata': {'kernelspec': {'display_name': 'python3', 'language': 'python', 'name': 'python3'}},
              'nbformat': 4, 'nbformat_minor': 5}
        smoke.write_text(json.dumps(nb))
        return [smoke]

    def stage_tests(self, deadline: float):
        import importlib.util
        if importlib.util.find_spec('nbdev') is None or importlib.util.find_spec('execnb') is None:
            reason = ('nbdev/execnb are not importable by ' + self.python + ': carry the wheels '
                      '(`python benchmarks/gpu_pack.py --wheels`, then carry .whl)')
            (self.out / 'tests.log').write_text(reason + '\n')
            return 'skipped', {'reason': reason}
        notebooks = self.notebooks()
        logs = self.work / 'tests'
        logs.mkdir(parents=True, exist_ok=True)
        procs, started = {}, {}
        for nb in notebooks:
            handle = open(logs / f'{nb.stem}.log', 'w')
            procs[nb.stem] = subprocess.Popen(
                [self.python, '-c', NBDEV_TEST, str(nb)],
                cwd=REPO, stdout=handle, stderr=subprocess.STDOUT, env=self.child_env(), start_new_session=True)
            handle.close()
            started[nb.stem] = now()
        ended = {}
        while any(p.poll() is None for p in procs.values()) and now() < deadline:
            for key, p in procs.items():
                if p.poll() is not None and key not in ended: ended[key] = now()
            time.sleep(0.2)
        state = self.wait_all(procs, now())
        results, text = {}, []
        for nb in notebooks:
            key, proc = nb.stem, procs[nb.stem]
            output = (logs / f'{key}.log').read_text(errors='replace')
            status = ('timeout' if state[key] == 'killed' else 'passed' if proc.returncode == 0 and 'Success.' in output
                      else 'failed')
            wall = ended.get(key, now()) - started[key]
            results[key] = {'status': status, 'returncode': proc.returncode, 'wall_s': round(wall, 1)}
            text.append(f'{"=" * 100}\n{nb.name}: {status} (exit {proc.returncode}, {wall:.0f} s)\n{"=" * 100}\n{output}\n')
            log(f'  {nb.name:24s} {status:8s} {wall:6.0f} s')
            if status != 'passed': print(textwrap.indent(tail(logs / f'{key}.log', 15), '    | '), flush=True)
        (self.out / 'tests.log').write_text(''.join(text))
        statuses = {r['status'] for r in results.values()}
        overall = 'ok' if statuses == {'passed'} else 'failed' if 'failed' in statuses else 'truncated'
        return overall, {'notebooks': results}

    # stage 2
    def stage_throughput(self, deadline: float):
        a = self.args
        result_path = self.out / 'throughput.json'
        spec = {'presets': a.presets.split(), 'batches': [int(b) for b in a.batches.split()], 'dtypes': a.dtypes.split(),
                'modes': a.modes.split(), 'patch': a.patch, 'scale': 2, 'config_seconds': a.config_seconds,
                'compile_threads': a.compile_threads, 'deadline': deadline - 3.0, 'result': str(result_path),
                'loader_data': self.data_dirs['train'] if self.data_dirs else None, 'loader_batch': a.train_batch,
                'loader_patch': a.train_patch, 'dry_run': self.dry}
        log_path = self.work / 'logs' / 'throughput.log'
        state = self.wait_all({'t': self.spawn('throughput', spec, log_path)}, deadline)
        print(textwrap.indent(tail(log_path, 120), '  '), flush=True)
        if not result_path.is_file(): return 'error', {'error': tail(log_path, 10)}
        data = json.loads(result_path.read_text())
        counts = {}
        for row in data.get('rows', []): counts[row['status']] = counts.get(row['status'], 0) + 1
        status = ('ok' if counts.get('ok', 0) == len(data.get('rows', [])) and state['t'] == 'done' else
                  'truncated' if counts.get('ok') or not counts.get('error') else 'error')
        return status, {'rows': counts, 'json': result_path.name}

    # stage 3
    def stage_train(self, deadline: float):
        if not self.data_dirs:
            return 'skipped', {'reason': 'no training data: ' + json.dumps(self.summary.get('data'))}
        a = self.args
        rates = self.measured_rates()
        runs_root = self.work / 'runs'
        procs, chains = {}, parse_chains(a.chains)
        child_deadline = deadline - (8.0 if not self.dry else 3.0)  # children stop themselves; then stragglers are killed
        for chain in chains:
            tag = '-'.join(r['name'] for r in chain)
            spec = {'tag': tag, 'runs': chain, 'deadline': child_deadline, 'split': a.chain_split, 'runs_root': str(runs_root),
                    'train': self.data_dirs['train'], 'val': self.data_dirs['val'], 'eval': self.data_dirs['eval'],
                    'batch': a.train_batch, 'patch': a.train_patch, 'patch_x4': a.train_patch_x4, 'dtype': a.train_dtype,
                    'scale_aug': [float(f) for f in a.train_scale_aug.split()],
                    'calibrate_steps': a.calibrate_steps,
                    'log_every': a.log_every, 'validations': a.validations, 'max_steps': a.max_steps,
                    'min_more_steps': a.min_more_steps, 'eval_reserve': a.eval_reserve, 'rates': rates,
                    'min_run_seconds': 20.0 if not self.dry else 3.0,
                    'result': str(self.work / 'results' / f'{tag}.json')}
            procs[tag] = self.spawn('chain', spec, self.work / 'logs' / f'chain-{tag}.log')
        state = self.wait_all(procs, deadline)
        runs = {}
        for tag in procs:
            result_path = self.work / 'results' / f'{tag}.json'
            chain_result = json.loads(result_path.read_text()) if result_path.is_file() else {}
            for run in next(c for c in chains if '-'.join(r['name'] for r in c) == tag):
                r = chain_result.get(run['name'], {'status': 'not started' if state[tag] == 'done' else 'killed'})
                if state[tag] == 'killed' and r.get('status') == 'running': r['status'] = 'killed'
                runs[run['name']] = r
            print(textwrap.indent(tail(self.work / 'logs' / f'chain-{tag}.log', 12), f'  {tag} | '), flush=True)
        self.summary['runs'] = runs
        ok = [n for n, r in runs.items() if r.get('steps')]
        errors = [n for n, r in runs.items() if r.get('status') == 'error']
        status = ('ok' if len(ok) == len(runs) and all(runs[n].get('status') == 'done' for n in ok) else
                  'error' if errors and not ok else 'truncated')
        return status, {'trained': ok}

    def measured_rates(self) -> dict:
        "Patches/s of the collapsed float32 step per preset at the training batch, from the throughput stage (if it ran)."
        path = self.out / 'throughput.json'
        if not path.is_file(): return {}
        rows = json.loads(path.read_text()).get('rows', [])
        return {r['preset']: r['patches_per_s'] for r in rows if r['status'] == 'ok' and r['mode'] == 'collapsed'
                and r['dtype'] == self.args.train_dtype and r['batch'] == self.args.train_batch}

    # stage 4
    def pack_runs(self) -> dict:
        "Each run folder (light files, best + last checkpoint) into $OUT/runs/*.tar.gz, within the 8-file limit."
        runs_root = self.work / 'runs'
        folders = sorted(p for p in runs_root.iterdir() if p.is_dir()) if runs_root.is_dir() else []
        if not folders: return {'tars': []}
        for f in folders:  # the chain's log goes with its runs
            for chain_log in (self.work / 'logs').glob('chain-*.log'):
                if f.name in chain_log.stem.split('-')[1:]: shutil.copy2(chain_log, f / 'chain.log')
        existing = [p for p in self.out.rglob('*') if p.is_file()]
        planned = set(FIXED_OUT_FILES) - {p.name for p in existing}
        slots = OUT_FILES_MAX - len(existing) - len(planned)
        if slots < 1: return {'error': f'no file slot left in $OUT for the runs ({len(existing)} files there)'}
        size = lambda f: sum(p.stat().st_size for p in f.rglob('*') if p.is_file())
        bins: list[list[Path]] = []
        cap = 15 * 2**20  # uncompressed: gzip barely shrinks float weights, so this keeps each tar under 16 MiB
        for f in sorted(folders, key=size, reverse=True):   # one per run if the slots allow, else first fit decreasing
            target = None if len(folders) <= slots else next((b for b in bins if sum(map(size, b)) + size(f) <= cap), None)
            if target is not None: target.append(f)
            elif len(bins) < slots: bins.append([f])
            else: min(bins, key=lambda b: sum(map(size, b))).append(f)  # over the cap: still sent if it fits 16 MiB
        tars = []
        (self.out / 'runs').mkdir(exist_ok=True)
        for b in bins:
            name = re.sub(r'[^A-Za-z0-9._-]', '_', '_'.join(f.name for f in sorted(b))) + '.tar.gz'  # names the device tool returns
            with tarfile.open(self.out / 'runs' / name, 'w:gz', compresslevel=6) as tar:
                for f in sorted(b): tar.add(f, arcname=f.name)
            nbytes = (self.out / 'runs' / name).stat().st_size
            tars.append({'file': f'runs/{name}', 'bytes': nbytes, 'runs': [f.name for f in sorted(b)]})
            if nbytes > OUT_FILE_BYTES_MAX: log(f'WARNING: runs/{name} is {nbytes / 2**20:.1f} MiB, over the 16 MiB a file may be')
        return {'tars': tars}

    def run(self) -> int:
        a = self.args
        log(f'sesr_nb GPU run{" (dry run)" if self.dry else ""}: budget {a.budget:.0f} s, {self.clock.left():.0f} s left, '
            f'out {self.out}, work {self.work}')
        self.stage('env', self.stage_env, 90.0 if not self.dry else 30.0, 1.0)
        try: self.data_dirs = self.prepare_data()
        except Exception as err:
            self.summary['data'] = {'status': 'error', 'error': f'{type(err).__name__}: {err}'}
        log('data:', json.dumps({k: v for k, v in self.summary.get('data', {}).items() if k != 'holdout'}))
        self.stage('tests', self.stage_tests, a.tests_budget, 5.0 if not self.dry else 2.0)
        if not (self.out / 'tests.log').exists():
            (self.out / 'tests.log').write_text(json.dumps(self.summary['stages']['tests'], indent=2) + '\n')
        self.stage('throughput', self.stage_throughput, a.throughput_budget, 10.0 if not self.dry else 2.0)
        self.stage('train', self.stage_train, math.inf, a.min_train_seconds)
        t0 = now()
        try: self.summary['pack'] = self.pack_runs()
        except Exception as err: self.summary['pack'] = {'error': f'{type(err).__name__}: {err}'}
        self.summary['pack']['wall_s'] = round(now() - t0, 1)
        self.summary['finished'] = time.strftime('%Y-%m-%dT%H:%M:%S')
        self.save_summary()
        self.report()
        return 0

    def report(self) -> None:
        s = self.summary
        print('\n' + '=' * 100)
        print(f"{'stage':12s} {'status':10s} {'wall s':>7s} {'budget s':>9s}")
        for name, r in s['stages'].items():
            print(f"{name:12s} {r.get('status', '?'):10s} {r.get('wall_s', 0):7.0f} {r.get('budget_s', 0):9.0f}")
        for name, r in s.get('runs', {}).items():
            ev = r.get('eval') or {}
            ev = ' '.join(f"{k} {v['psnr']:.2f}" for k, v in ev.items()) if isinstance(ev, dict) else ev
            print(f"run {name:8s} {r.get('status', '?'):16s} steps {r.get('steps') or 0:>7} "
                  f"best val {r.get('best_val_psnr') or float('nan'):6.2f} dB  {r.get('patches_per_s') or 0:>9.0f} patches/s  {ev}")
        files = sorted(str(p.relative_to(self.out)) for p in self.out.rglob('*') if p.is_file())
        print(f"total {self.clock.elapsed():.0f} s of {s['budget_s']:.0f}; $OUT: {', '.join(files)}", flush=True)


# ----------------------------------------------------------------------------------------------------------- children
def child_env(spec: dict) -> None:
    import platform
    info = {'python': platform.python_version(), 'executable': sys.executable, 'machine': platform.machine(),
            'cpus': os.cpu_count()}
    from importlib import metadata, util
    versions, missing = {}, []
    for module, dist in (('jax', 'jax'), ('jaxlib', 'jaxlib'), ('flax', 'flax'), ('optax', 'optax'),
                         ('orbax.checkpoint', 'orbax-checkpoint'), ('numpy', 'numpy'), ('PIL', 'pillow'),
                         ('skimage', 'scikit-image'), ('matplotlib', 'matplotlib'), ('tqdm', 'tqdm'),
                         ('flatbuffers', 'flatbuffers'), ('nbdev', 'nbdev'), ('execnb', 'execnb'), ('fastcore', 'fastcore'),
                         ('IPython', 'ipython')):
        try: found = util.find_spec(module) is not None
        except (ImportError, ValueError): found = False
        if not found:
            versions[dist] = None
            missing.append(dist)
            continue
        try: versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError: versions[dist] = 'present'
    info.update(versions=versions, missing=missing)
    write_json(Path(spec['result']), info)
    import jax, jax.numpy as jnp
    info.update(jax=jax.__version__, backend=jax.default_backend(),
                devices=[f'{d.platform}:{d.device_kind}' for d in jax.devices()])
    try:
        stats = jax.devices()[0].memory_stats() or {}
        info['device_memory_gib'] = round(stats.get('bytes_limit', 0) / 2**30, 1) or None
    except Exception: pass
    from sesr_nb.arch import arch_config
    arch, config = arch_config('tiny', 2)
    y = arch.apply(arch.init(config, jax.random.PRNGKey(0)), jnp.ones((1, 8, 8, 1)), config, 'collapsed')
    info['smoke_forward'] = bool(jnp.isfinite(y).all()) and y.shape == (1, 16, 16, 1)
    if info['backend'] == 'gpu':
        try:
            x = jnp.ones((4096, 4096), jnp.bfloat16)
            jax.block_until_ready(x @ x)
            t = time.perf_counter()
            for _ in range(10): r = x @ x
            jax.block_until_ready(r)
            info['bf16_matmul_tflops'] = round(10 * 2 * 4096**3 / (time.perf_counter() - t) / 1e12, 1)
        except Exception as err: info['bf16_matmul_tflops'] = f'failed: {err}'
    write_json(Path(spec['result']), info)


def child_throughput(spec: dict) -> None:
    import jax, jax.numpy as jnp, numpy as np
    from concurrent.futures import ThreadPoolExecutor, wait
    from sesr_nb.complexity import train_step_macs
    from sesr_nb.train import TrainConfig, default_objective, initial_state, make_optimizer, make_train_step
    deadline, result_path = spec['deadline'], Path(spec['result'])
    levels = lambda r: (r['batch_i'] + r['dtype_i'] + r['mode_i'], r['batch_i'], r['mode_i'], r['dtype_i'], r['preset_i'])
    rows = [{'preset': p, 'scale': spec['scale'], 'mode': m, 'dtype': d, 'batch': b, 'patch': spec['patch'],
             'status': 'pending', 'preset_i': pi, 'batch_i': bi, 'dtype_i': di, 'mode_i': mi}
            for pi, p in enumerate(spec['presets']) for bi, b in enumerate(spec['batches'])
            for di, d in enumerate(spec['dtypes']) for mi, m in enumerate(spec['modes'])]
    rows.sort(key=levels)   # the baseline first, then one change from it, then two ...
    for r in rows:
        for k in ('preset_i', 'batch_i', 'dtype_i', 'mode_i'): del r[k]
    head = {'backend': jax.default_backend(), 'devices': [d.device_kind for d in jax.devices()], 'jax': jax.__version__,
            'dry_run': spec['dry_run'], 'patch': spec['patch'], 'scale': spec['scale'],
            'method': 'jitted train step (donated state, device-resident random batch) compiled ahead in parallel waves, '
                      'then timed alone: rounds of n back-to-back steps waited for once; median round / n',
            'div2k_epoch_patches': DIV2K_EPOCH_PATCHES}
    save = lambda extra={}: write_json(result_path, {**head, 'rows': rows, **extra})
    save()

    def build(row):
        t = time.perf_counter()
        cfg = TrainConfig(arch=row['preset'], scale=row['scale'], data=('skimage:train',), val=(), batch_size=row['batch'],
                          lr_patch=row['patch'], mode=row['mode'], compute_dtype=row['dtype'])
        tx = make_optimizer(cfg)
        state = initial_state(cfg, tx)
        objective = default_objective(cfg)
        step = make_train_step(objective, tx)
        rng = np.random.default_rng(0)
        b, p, s = row['batch'], row['patch'], row['scale']
        batch = {'lr': jnp.asarray(rng.random((b, p, p, 1), np.float32)),
                 'hr': jnp.asarray(rng.random((b, p * s, p * s, 1), np.float32))}
        aux = {k: jnp.asarray(v) for k, v in objective.aux(0).items()}
        compiled = step.lower(state, batch, aux).compile()
        row['gmacs_per_step'] = round(train_step_macs(cfg.network()[1], (p, p), b, row['mode']) / 1e9, 3)
        return compiled, state, batch, aux, time.perf_counter() - t

    def measure(row, compiled, state, batch, aux):
        state, m = compiled(state, batch, aux)
        jax.block_until_ready(m)
        t = time.perf_counter()
        state, m = compiled(state, batch, aux)
        jax.block_until_ready(m)
        one = time.perf_counter() - t
        n = max(1, min(2000, int(0.1 / max(one, 1e-6))))   # rounds of ~0.1 s: launch gaps included, sync cost amortised
        per, stop = [], time.perf_counter() + spec['config_seconds']
        while len(per) < 9 and (len(per) < 3 or time.perf_counter() < stop) and time.time() < deadline:
            t = time.perf_counter()
            for _ in range(n): state, m = compiled(state, batch, aux)
            jax.block_until_ready(m)
            per.append((time.perf_counter() - t) / n)
        if not per: return False
        step_s = statistics.median(per)
        row.update(status='ok', step_ms=round(step_s * 1e3, 4), step_ms_min=round(min(per) * 1e3, 4), rounds=len(per),
                   steps_per_round=n, patches_per_s=round(row['batch'] / step_s, 1),
                   gmacs_per_s=round(row['gmacs_per_step'] / step_s, 1),
                   div2k_epoch_s=round(DIV2K_EPOCH_PATCHES * step_s / row['batch'], 2),
                   finite=bool(jax.device_get(m['finite'])), loss=float(jax.device_get(m['loss'])))
        return True

    pool = ThreadPoolExecutor(max_workers=spec['compile_threads'])
    wave_size = spec['compile_threads']
    try:
        for start in range(0, len(rows), wave_size):
            wave = rows[start:start + wave_size]
            if time.time() >= deadline: break
            futures = {id(r): pool.submit(build, r) for r in wave}
            wait(futures.values(), timeout=max(0.0, deadline - time.time()))
            for r in wave:
                f = futures[id(r)]
                if not f.done():
                    r.update(status='skipped', reason='compile unfinished at the deadline')
                    continue
                if f.exception() is not None:
                    r.update(status='error', error=f'{type(f.exception()).__name__}: {str(f.exception())[:300]}')
                    continue
                compiled, state, batch, aux, compile_s = f.result()
                r['compile_s'] = round(compile_s, 2)
                try:
                    if not measure(r, compiled, state, batch, aux): r.update(status='skipped', reason='deadline')
                except Exception as err:
                    r.update(status='error', error=f'{type(err).__name__}: {str(err)[:300]}')
                del compiled, state, batch, aux
                save()
        for r in rows:
            if r['status'] == 'pending': r.update(status='skipped', reason='time budget spent')
        loader = None
        if spec.get('loader_data') and deadline - time.time() > (3.0 if spec['dry_run'] else 8.0):
            loader = loader_rate(spec['loader_data'], spec['loader_batch'], spec['loader_patch'],
                                 min(3.0, deadline - time.time() - 2.0))
        save({'loader': loader})
        print_throughput(rows, head, loader)
    finally:
        sys.stdout.flush()
        pool.shutdown(wait=False, cancel_futures=True)
        os._exit(0)  # compiles still running in the pool are abandoned, not waited for


def loader_rate(train_dirs: list[str], batch: int, patch: int, seconds: float) -> dict:
    "Patches/s of the training sampler (one background thread) on the training images."
    import warnings
    from sesr_nb.datasets import load_dataset
    from sesr_nb.sampler import training_images
    from timing import sampler_patch_rate
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        images = training_images([load_dataset(d, 2, min_lr_size=patch) for d in train_dirs], patch)
    decode_s = time.perf_counter() - t
    return {'images': len(images), 'decode_s': round(decode_s, 2), 'batch': batch, 'patch': patch,
            'patches_per_s': sampler_patch_rate(images, batch, patch, seconds)}


def print_throughput(rows: list[dict], head: dict, loader: dict | None) -> None:
    print(f"train-step throughput on {head['backend']} ({', '.join(sorted(set(head['devices'])))}), jax {head['jax']}, "
          f"LR patch {head['patch']}, x{head['scale']}")
    print(f"{'preset':6s} {'mode':9s} {'dtype':8s} {'batch':>5s} {'step ms':>9s} {'patches/s':>10s} {'GMAC/s':>8s} "
          f"{'DIV2K ep s':>10s} {'compile s':>9s}  status")
    for r in sorted(rows, key=lambda r: (r['preset'], r['batch'], r['dtype'], r['mode'])):
        if r['status'] == 'ok':
            print(f"{r['preset']:6s} {r['mode']:9s} {r['dtype']:8s} {r['batch']:5d} {r['step_ms']:9.3f} "
                  f"{r['patches_per_s']:10.0f} {r['gmacs_per_s']:8.1f} {r['div2k_epoch_s']:10.1f} {r['compile_s']:9.1f}  ok")
        else:
            print(f"{r['preset']:6s} {r['mode']:9s} {r['dtype']:8s} {r['batch']:5d} {'':9s} {'':10s} {'':8s} {'':10s} "
                  f"{r.get('compile_s', float('nan')):9.1f}  {r['status']}: {r.get('reason') or r.get('error', '')}")
    ok = {(r['preset'], r['batch'], r['dtype'], r['mode']): r['patches_per_s'] for r in rows if r['status'] == 'ok'}
    for (p, b, d, m), v in sorted(ok.items()):
        if m == 'collapsed' and (p, b, d, 'expanded') in ok:
            print(f'  {p} b{b} {d}: collapsed training {v / ok[(p, b, d, "expanded")]:.2f}x the patches/s of expanded')
        if d == 'bfloat16' and (p, b, 'float32', m) in ok:
            print(f'  {p} b{b} {m}: bfloat16 {v / ok[(p, b, "float32", m)]:.2f}x float32')
    if loader: print(f"  data loader: {loader['patches_per_s']:,} patches/s ({loader['images']} images, batch {loader['batch']})")


def child_chain(spec: dict) -> None:
    "Train the runs of one chain in turn, each inside its share of the window, the next initialised from the last."
    import _thread
    results, result_path = {}, Path(spec['result'])
    end, split = spec['deadline'], spec['split']
    runs = spec['runs']
    weights = [1.0] if len(runs) == 1 else [split] + [(1 - split) / (len(runs) - 1)] * (len(runs) - 1)
    previous = None
    for i, run in enumerate(runs):
        left = end - time.time()
        run_end = time.time() + left * weights[i] / sum(weights[i:])
        record = results[run['name']] = {'status': 'running', 'window_s': round(run_end - time.time(), 1)}
        if run_end - time.time() < spec['min_run_seconds']:
            record['status'] = 'not started: no time left'
            write_json(result_path, results)
            continue
        write_json(result_path, results)
        timer = threading.Timer(max(0.0, run_end - time.time()), _thread.interrupt_main)
        timer.daemon = True
        try:
            timer.start()
            train_run(run, spec, run_end, previous if run['init'] else None, record)
        except KeyboardInterrupt:
            record['status'] = 'stopped at its deadline'
        except Exception as err:
            record.update(status='error', error=f'{type(err).__name__}: {err}', traceback=traceback.format_exc())
            print(record['traceback'], flush=True)
        finally:
            timer.cancel()
        try: finish_run(run, spec, record, run_end)
        except KeyboardInterrupt: record.setdefault('finish_error', 'interrupted')
        except Exception as err: record['finish_error'] = f'{type(err).__name__}: {err}'
        write_json(result_path, results)
        write_json(Path(spec['runs_root']) / run['name'] / 'run_summary.json', record)
        if record.get('checkpoints'): previous = str(Path(spec['runs_root']) / run['name'])
        print(f"{run['name']}: {json.dumps({k: v for k, v in record.items() if k != 'traceback'})}", flush=True)


def segment_rate(metrics_path: Path, first_step: int) -> float | None:
    "Median steps/s of the log records after `first_step`, leaving out the first (which holds the compile)."
    from sesr_nb.fileio import read_jsonl
    records = [r for r in read_jsonl(metrics_path) if 'steps_per_sec' in r and r['step'] > first_step]
    rates = [r['steps_per_sec'] for r in records[1:]]
    return statistics.median(rates) if rates else None


def train_run(run: dict, spec: dict, run_end: float, init_from: str | None, record: dict) -> None:
    from sesr_nb.train import TrainConfig, train
    workdir = Path(spec['runs_root']) / run['name']
    if workdir.exists(): shutil.rmtree(workdir)
    record.update(preset=run['preset'], scale=run['scale'], init_from=init_from, workdir=str(workdir), segments=[])
    calib = min(spec['calibrate_steps'], spec['max_steps'])
    known = spec['rates'].get(run['preset'])   # patches/s the throughput stage measured, if it did
    if known:  # a calibration of at most ~15% of the window: it is the only checkpoint if the rest fails
        calib = max(2, min(calib, int(known / spec['batch'] * (run_end - time.time()) * 0.15)))
    # the recipe of benchmarks/recipe.sh (constant 5e-4, the TrainConfig default, with scale augmentation); M11 starts
    # every block as the identity, as train_model_set.sh trains it
    arch = ARCH_OF_PRESET.get(run['preset'], run['preset'])
    cfg = TrainConfig(arch=arch, scale=run['scale'], data=tuple(spec['train']), val=tuple(spec['val']),
                      steps=calib, batch_size=spec['batch'], compute_dtype=spec['dtype'],
                      scale_aug=tuple(spec.get('scale_aug', ())), schedule='constant', learning_rate=5e-4,
                      lr_patch=spec['patch_x4'] if run['scale'] == 4 else spec['patch'],  # x4: the official LR 50 (HR 200)
                      log_every=max(1, min(spec['log_every'], calib // 3 or 1)), val_every=calib, keep=1,
                      init_from=init_from)
    record['config'] = cfg.to_dict()
    t = time.time()
    summary = train(cfg, workdir, progress=False)
    seg = {'steps': summary['steps'], 'wall_s': round(time.time() - t, 2)}
    record['segments'].append(seg)
    record.update(steps=summary['steps'], status='calibrated')
    rate = segment_rate(workdir / 'metrics.jsonl', 0) or summary['steps'] / seg['wall_s']
    overhead = max(0.0, seg['wall_s'] - calib / rate)      # loading, compiling, validating, saving
    left = run_end - time.time() - spec['eval_reserve']
    # the next segment starts up again (data, restore, compile) and validates several times: 1.5x this one's overhead
    more = int(rate * (left - 1.5 * overhead) * 0.85)
    more = min(more, spec['max_steps'] - calib)
    record.update(calibrated_steps_per_s=round(rate, 2), segment_overhead_s=round(overhead, 1))
    if more >= spec['min_more_steps']:
        total = calib + more
        every = max(spec['log_every'], more // max(1, spec['validations']) // spec['log_every'] * spec['log_every'])
        # init_from stays: config.json records where the run started (resuming restores over it)
        cfg = dataclasses.replace(cfg, steps=total, val_every=every, log_every=spec['log_every'])
        t = time.time()
        summary = train(cfg, workdir, resume=True, progress=False)
        record['segments'].append({'steps': summary['steps'] - calib, 'wall_s': round(time.time() - t, 2)})
        record['steps'] = summary['steps']
    record['status'] = 'done'


def finish_run(run: dict, spec: dict, record: dict, run_end: float) -> None:
    "What a run leaves, whatever stopped it: steps, best checkpoint, the best model as .npz, Set5/Set14 scores."
    from sesr_nb.fileio import read_jsonl
    workdir = Path(spec['runs_root']) / run['name']
    metrics = read_jsonl(workdir / 'metrics.jsonl') if (workdir / 'metrics.jsonl').is_file() else []
    losses = [r for r in metrics if 'loss' in r]
    vals = [r for r in metrics if 'val_psnr' in r]
    ckpts = sorted(int(p.name) for p in (workdir / 'checkpoints').iterdir() if p.name.isdigit()) \
        if (workdir / 'checkpoints').is_dir() else []
    best = max(vals, key=lambda r: r['val_psnr']) if vals else None
    rates = [r['patches_per_sec'] for r in losses[1:]] or [r['patches_per_sec'] for r in losses]
    record.update(steps=losses[-1]['step'] if losses else 0, checkpoints=ckpts,
                  final_loss=losses[-1]['loss_mean'] if losses else None,
                  best_val_psnr=best['val_psnr'] if best else None, best_step=best['step'] if best else None,
                  patches_per_s=round(statistics.median(rates), 1) if rates else None,
                  train_wall_s=round(sum(s['wall_s'] for s in record.get('segments', [])), 1))
    if not ckpts: return
    from sesr_nb.checkpoint import load_trained, save_model_file
    model = load_trained(workdir)   # the best checkpoint by held-out PSNR, else the latest
    save_model_file(workdir / 'model.npz', model, extra={'step': record['best_step'] or ckpts[-1],
                                                          'val_psnr': record['best_val_psnr'], 'source': 'gpu_run'})
    record['model'] = 'model.npz'
    if spec['eval'] and time.time() < run_end - 1:
        import _thread
        from sesr_nb.evaluate import evaluate_model
        t = time.time()
        timer = threading.Timer(max(0.0, min(run_end + 2, spec['deadline']) - t), _thread.interrupt_main)
        timer.daemon = True
        timer.start()
        try: result = evaluate_model(model, spec['eval'], run['scale'])
        except KeyboardInterrupt:
            record['eval'] = f'not finished in the run\'s window ({time.time() - t:.0f} s)'
            return
        finally: timer.cancel()
        record['eval'] = {s.name: {'psnr': round(s.psnr, 3), 'ssim': round(s.ssim, 4)} for s in result.sets}
        record['eval_s'] = round(time.time() - t, 1)
        write_json(workdir / 'eval.json', result.to_dict())


# -------------------------------------------------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog='\n'.join(__doc__.splitlines()[2:]))
    ap.add_argument('--dry-run', action='store_true', help='the same logic on the CPU with tiny settings (CI)')
    ap.add_argument('--out', default=os.environ.get('OUT'), help='folder of everything that comes back (default $OUT)')
    ap.add_argument('--work', default=None, help='scratch folder (default: a new folder under $TMPDIR)')
    ap.add_argument('--data', default=None, help='packed data (default: gpu_data/ in the repository; dry run: a few '
                    'synthetic images, packed the same way)')
    for key, value in DEFAULTS.items():
        flag = '--' + key.replace('_', '-')
        kind = type(value) if value is not None else str
        ap.add_argument(flag, type=kind, default=None, help=f'(GPU default {value!r}; dry run {DRY_RUN[key]!r})')
    ap.add_argument('--child', default=None, help=argparse.SUPPRESS)
    ap.add_argument('--spec', default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child: return args
    base = DRY_RUN if args.dry_run else DEFAULTS
    for key, value in base.items():
        if getattr(args, key) is None: setattr(args, key, value)
    if not args.out: ap.error('--out (or $OUT) is required: the folder everything is written to')
    if args.work is None:
        import tempfile
        args.work = tempfile.mkdtemp(prefix='sesr_gpu_run_')
    if args.data is None and not args.dry_run and (REPO / 'gpu_data').is_dir(): args.data = str(REPO / 'gpu_data')
    parse_chains(args.chains)  # bad --chains fail now, not after the tests
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        spec = json.loads(Path(args.spec).read_text())
        {'env': child_env, 'throughput': child_throughput, 'chain': child_chain}[args.child](spec)
        return 0
    return Orchestrator(args).run()


if __name__ == '__main__':
    sys.exit(main())
