"""Knowledge distillation SESR-M11 x2 -> SESR-M3 x2 (nbs/21_distill) against a plain control, on two shared CPU cores.

Three M3 x2 students with the same data, seed, batches, recipe and step budget (the shipped models' recipe of
benchmarks/train_model_set.sh: T91@train + BSD200@train, batch 32 of 64x64 LR patches, AMSGrad 5e-4, cosine):
  plain   the control: L1 to HR only (the loss of `sesr_nb train`);
  output  L1 + alpha * L1 to the frozen teacher's output;
  final   output KD + beta * L1 between the final residual streams (the input of the last convolution).
(`--arms` may add `blocks`: depth-proportional block features.) Each arm's best checkpoint is chosen on
BSD200@holdout only; Set5/Set14 x2 and the holdout are scored once, at the end, as is the teacher.
Writes benchmarks/results/distill_study.{json,md,png}. Finished arms are skipped on a rerun, an interrupted arm is
resumed from its latest checkpoint. A teacher run folder still training is waited for (its `done` file) after the
control arm, which needs no teacher. Every arm trains through the library's engine (`sesr_nb.distill.distill`, which
runs `sesr_nb.train.train` with `distill_objective`; the plain arm is `train`'s own objective). An arm's `terms` are
the loss terms (L1 to HR, KD, feature) that the engine logs: means over each logging window of training batches
(committed studies before the engine recorded them at each validation on the run's first batch).

    nice -n 5 python benchmarks/distill_study.py --teacher /work/runs/m11_x2 --time-steps 10   # step times only
    nice -n 5 python benchmarks/distill_study.py --teacher /work/runs/m11_x2 --steps 2000
    python benchmarks/distill_study.py --plot-only
"""
from __future__ import annotations
import argparse, json, os, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / 'shared' / 'data' if (ROOT.parent / 'shared' / 'data').is_dir() else Path('/work/shared/data')
RESULTS = ROOT / 'benchmarks' / 'results'
ARMS = ('plain', 'output', 'final')
COLORS = {'plain': 'C0', 'output': 'C1', 'final': 'C2', 'blocks': 'C3'}
LABELS = {'plain': 'plain M3 (control)', 'output': 'output KD', 'final': 'output + final-stream KD',
          'blocks': 'output + block KD'}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--teacher', default='/work/runs/m11_x2', help='teacher run folder or model file')
    p.add_argument('--student', default='M3')
    p.add_argument('--steps', type=int, default=1500, help='steps of every arm')
    p.add_argument('--alpha', type=float, default=1.0)
    p.add_argument('--beta', type=float, default=1.0)
    p.add_argument('--arms', nargs='+', default=list(ARMS), choices=('plain', 'output', 'final', 'blocks'))
    p.add_argument('--val-every', type=int, default=None, help='default: steps / 8')
    p.add_argument('--workdir', default=os.path.join(tempfile.gettempdir(), 'sesr_distill_study'))
    p.add_argument('--out', default=str(RESULTS / 'distill_study'), help='output prefix (.json, .md, .png)')
    p.add_argument('--control', default=None, help="another study's --workdir whose finished plain arm (same recipe "
                   'and steps) serves as this study\'s control, e.g. for a second teacher')
    p.add_argument('--time-steps', type=int, default=0, help='only time K steps of each arm (after 2 warm-up steps)')
    p.add_argument('--plot-only', action='store_true')
    return p.parse_args(argv)


def plot(result: dict, path: Path) -> Path:
    "Held-out PSNR vs step for every arm, and the final Set5/Set14 differences to the control."
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.3))
    for arm, rec in result['arms'].items():
        steps, psnr = zip(*rec['curve'])
        axes[0].plot(steps, psnr, 'o-', ms=3, color=COLORS.get(arm), label=LABELS.get(arm, arm))
        axes[0].plot([rec['best_step']], [rec['best_val_psnr']], 'k*', ms=8)
    held = result['teacher']['test'].get('BSD200@holdout')
    if held: axes[0].axhline(held['psnr'], color='gray', ls='--', lw=1, label=f"teacher ({held['psnr']:.2f} dB)")
    axes[0].set(xlabel='training step', ylabel='BSD200@holdout x2 PSNR (dB)',
                title='validation curves (star: chosen checkpoint)')
    axes[0].legend(fontsize=8)
    sets = ['Set5', 'Set14', 'BSD200@holdout']
    arms = [a for a in result['arms'] if a != 'plain'] if 'plain' in result['arms'] else []  # no control: no gains
    width = 0.8 / max(1, len(arms))
    for k, arm in enumerate(arms):
        d = [result['arms'][arm]['test'][s]['psnr'] - result['arms']['plain']['test'][s]['psnr'] for s in sets]
        axes[1].bar([i + k * width for i in range(len(sets))], d, width, color=COLORS.get(arm), label=LABELS.get(arm, arm))
    axes[1].axhline(0, color='k', lw=0.8)
    axes[1].set_xticks([i + width * (len(arms) - 1) / 2 for i in range(len(sets))], sets)
    axes[1].set(ylabel='PSNR - control (dB)', title='gain over the plain M3 control (chosen checkpoints)')
    axes[1].legend(fontsize=8)
    fig.suptitle(result['title'], fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def markdown(result: dict) -> str:
    "The study's table: PSNR/SSIM per arm and set, differences to the control, step times."
    sets = ['Set5', 'Set14', 'BSD200@holdout']
    head = '| model | ' + ' | '.join(f'{s} x2 PSNR / SSIM' for s in sets) + ' | Δ Set5 / Set14 / holdout (dB) | best step | s/step |'
    lines = [f"# {result['title']}", '', head, '|' + '---|' * (len(sets) + 4)]
    t = result['teacher']
    lines.append(f"| teacher {t['name']} | " + ' | '.join(f"{t['test'][s]['psnr']:.2f} / {t['test'][s]['ssim']:.4f}" for s in sets)
                 + ' | — | — | — |')
    ctl = result['arms'].get('plain')
    for arm, rec in result['arms'].items():
        delta = ('—' if arm == 'plain' or ctl is None else
                 ' / '.join(f"{rec['test'][s]['psnr'] - ctl['test'][s]['psnr']:+.3f}" for s in sets))
        lines.append(f"| {LABELS.get(arm, arm)} | " + ' | '.join(f"{rec['test'][s]['psnr']:.2f} / {rec['test'][s]['ssim']:.4f}"
                                                          for s in sets)
                     + f" | {delta} | {rec['best_step']} | {rec['seconds_per_step']:.3f} |")
    lines += ['', f"alpha = {result['config']['alpha']}, beta = {result['config']['beta']}; checkpoints chosen on "
              'BSD200@holdout only; Set5/Set14 never select anything. ' + result.get('note', '')]
    return '\n'.join(lines) + '\n'


def arm_objective(arm: str, cfg, teacher, alpha: float, beta: float):
    "The objective an arm trains (as `sesr_nb.distill.distill` builds it): the plain control is `train`'s own."
    from sesr_nb.distill import distill_objective
    from sesr_nb.train import default_objective
    if arm == 'plain': return default_objective(cfg)
    return distill_objective(cfg.network()[1], teacher.params, teacher.config, arm, alpha, beta)


def loss_terms(records) -> list[dict]:
    "The distillation loss terms the engine logged (`term_*`, means over each logging window), one row per log record."
    return [{'step': r['step'], **{k[len('term_'):]: round(float(v), 6) for k, v in r.items() if k.startswith('term_')}}
            for r in records if 'term_hr' in r]


def time_arms(args, cfg, teacher) -> dict:
    "Median seconds per step of every arm on fixed random batches of the recipe's shape."
    import jax, jax.numpy as jnp, numpy as np
    from sesr_nb.train import initial_state, make_optimizer, make_train_step
    arch, config = cfg.network()
    s = cfg.scale
    rng = np.random.default_rng(0)
    lr = jnp.asarray(rng.random((cfg.batch_size, cfg.lr_patch, cfg.lr_patch, 1), np.float32))
    hr = jnp.asarray(rng.random((cfg.batch_size, s * cfg.lr_patch, s * cfg.lr_patch, 1), np.float32))
    out = {}
    batch = {'lr': lr, 'hr': hr}
    for arm in args.arms:
        tx = make_optimizer(cfg, args.steps)
        objective = arm_objective(arm, cfg, teacher, args.alpha, args.beta)
        step = make_train_step(objective, tx)
        state = initial_state(cfg, tx)
        for i in range(2): state, m = step(state, batch, objective.aux(i))
        jax.block_until_ready(m)
        times = []
        for i in range(args.time_steps):
            t0 = time.perf_counter()
            state, m = step(state, batch, objective.aux(2 + i))
            jax.block_until_ready(m)
            times.append(time.perf_counter() - t0)
        out[arm] = float(np.median(times))
        print(f'{arm}: {1000 * out[arm]:.0f} ms/step (median of {len(times)})', file=sys.stderr)
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    if args.plot_only:
        result = json.loads(out.with_suffix('.json').read_text())
        print(plot(result, out.with_suffix('.png')))
        out.with_suffix('.md').write_text(markdown(result))
        return 0
    from sesr_nb.conv import tune_process
    tune_process()
    import jax, numpy as np
    from sesr_nb.checkpoint import load_model_file, load_trained
    from sesr_nb.distill import distill
    from sesr_nb.evaluate import evaluate_model
    from sesr_nb.fileio import read_jsonl, write_json_atomic
    from sesr_nb.train import TrainConfig

    holdout = f'{DATA}/BSD200@holdout'
    tests = [f'{DATA}/Set5', f'{DATA}/Set14', holdout]
    cfg = TrainConfig(arch=args.student, scale=2, data=(f'{DATA}/T91@train', f'{DATA}/BSD200@train'), val=(holdout,),
                      steps=args.steps, batch_size=32, lr_patch=64, learning_rate=5e-4, schedule='cosine', seed=0,
                      val_every=args.val_every or max(1, args.steps // 8), log_every=50)
    if args.time_steps:
        times = time_arms(args, cfg, load_trained(args.teacher))
        print(json.dumps({k: round(v, 4) for k, v in times.items()}))
        return 0

    def scores(model):
        res = evaluate_model(model, tests, 2)
        return {s.name: {'psnr': round(s.psnr, 4), 'ssim': round(s.ssim, 5)} for s in res.sets}

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    state_path = workdir / 'study.json'
    study = json.loads(state_path.read_text()) if state_path.exists() else {'arms': {}}
    key = {'teacher': str(Path(args.teacher).resolve()), 'steps': args.steps, 'alpha': args.alpha, 'beta': args.beta,
           'student': args.student}
    if study.get('key', key) != key:
        raise SystemExit(f'{workdir} holds a study with other settings ({study["key"]}); use another --workdir')
    study['key'] = key
    if args.control and 'plain' not in study['arms']:
        other = json.loads((Path(args.control) / 'study.json').read_text())
        if 'plain' not in other['arms'] or other['key']['steps'] != args.steps or other['key']['student'] != args.student:
            raise SystemExit(f'{args.control} has no finished plain {args.student} arm of {args.steps} steps to share')
        study['arms']['plain'] = {**other['arms']['plain'], 'shared_from': str(Path(args.control).resolve())}
        write_json_atomic(state_path, study)
    def wait_for_teacher():  # a teacher still training (benchmarks/train_model_set.sh writes RUN/done at its end)
        done = Path(args.teacher) / 'done'
        if Path(args.teacher).is_dir() and not done.exists():
            print(f'waiting for {done} ...', file=sys.stderr)
            while not done.exists(): time.sleep(20)
    for arm in args.arms:  # the control first: it needs no teacher and can run while the teacher finishes
        if arm in study['arms']:
            print(f'{arm}: finished, skipped', file=sys.stderr)
            continue
        if arm != 'plain': wait_for_teacher()
        run = workdir / arm
        t0 = time.perf_counter()
        summary = distill(args.teacher if arm != 'plain' else None, cfg, run, arm, args.alpha, args.beta,
                          resume=(run / 'checkpoints').is_dir(), progress=True)
        seconds = time.perf_counter() - t0
        records = read_jsonl(run / 'metrics.jsonl')
        rates = [r['steps_per_sec'] for r in records if 'steps_per_sec' in r]
        model = load_model_file(run / 'model.npz')
        study['arms'][arm] = {'best_step': summary['best_step'], 'best_val_psnr': summary['best_val_psnr'],
                              'curve': summary['curve'], 'test': scores(model), 'wall_seconds': round(seconds, 1),
                              'seconds_per_step': 1 / float(np.median(rates[1:] or rates)) if rates else None,  # 1st window: compile
                              'terms': loss_terms(records), 'workdir': str(run)}
        write_json_atomic(state_path, study)
        print(f"{arm}: best step {summary['best_step']}, " +
              ', '.join(f"{k} {v['psnr']:.2f}" for k, v in study['arms'][arm]['test'].items()), file=sys.stderr)

    wait_for_teacher()
    if 'teacher' not in study:
        teacher = load_trained(args.teacher)
        study['teacher'] = {'name': teacher.name, 'test': scores(teacher)}
        write_json_atomic(state_path, study)
    print(f"teacher {study['teacher']['name']}: " +
          ', '.join(f"{k} {v['psnr']:.2f}" for k, v in study['teacher']['test'].items()), file=sys.stderr)
    result = {'title': (f"KD {study['teacher']['name']} -> SESR-{args.student} x2, T91+BSD200 @train, {args.steps} steps, "
                        f"batch 32 of 64x64, AMSGrad 5e-4 cosine, seed 0, alpha={args.alpha}, beta={args.beta}"),
              'config': {**key, 'train': cfg.to_dict()}, 'teacher': study['teacher'],
              'arms': {a: study['arms'][a] for a in args.arms if a in study['arms']},
              'machine': {'cpus': os.cpu_count(), 'jax': jax.__version__, 'backend': jax.default_backend(),
                          'load': 'shared with a training queue and other jobs (load average 6-10 on 2 cores)'}}
    write_json_atomic(out.with_suffix('.json'), result)
    out.with_suffix('.md').write_text(markdown(result))
    plot(result, out.with_suffix('.png'))
    print(markdown(result))
    return 0


if __name__ == '__main__':
    sys.exit(main())
