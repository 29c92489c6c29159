"""The int8 variants of the shipped SESR models (`sesr_nb/weights/*_int8.npz`, run by the native int8 kernels of
23_int8): for each shipped SESR network, post-training quantisation on 256 LR patches of T91@train + BSD200@train
(no input/residual quantisers: `QuantConfig()`) with three calibrations — MinMax, and the 99.999th and 99.99th
percentiles (`calibrate(percentile=...)`) — the one that scores best on the hold-out set (BSD200@holdout, the
project's one hold-out rule) kept; then quantisation-aware fine-tuning of the *deployed* weights through the
fake-quantised graph with those ranges fixed (`quant_apply`, straight-through gradients; the collapsed network is the
same function class as the expanded one it was trained as, and its weights are what the device quantises), cosine
from --learning-rate, batch 16 of 64x64, on T91@train + BSD200@train. Whichever of PTQ and QAT scores better on the
hold-out set is shipped; Set5 / Set14 are reported and play no part in any choice.

    python benchmarks/int8_pretrained.py                       # every shipped SESR model, 300 QAT steps
    python benchmarks/int8_pretrained.py --models M3x2 --steps 50 --no-write

Needs the benchmark images ($SESR_NB_DATA or ../shared/data: T91, BSD200, Set5, Set14). Writes the weights (unless
--no-write) and benchmarks/results/int8_pretrained.json and .md.
"""
from __future__ import annotations
import argparse, json, os, sys, time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / 'results'
SESR_PRETRAINED = ('M3x2', 'M5x2', 'M11x2', 'M3x3', 'M5x3', 'M11x3', 'M3x4', 'M5x4', 'M11x4')


def row(name: str, entry: dict) -> str:
    "One table row of a model's entry (scores on the hold-out set and Set5/Set14, the ranges and what shipped)."
    scores, shipped = entry['scores'], entry['shipped']
    f = lambda s: ' / '.join(f'{s[k]:.3f}' if k in s else '–' for k in ('fp32', 'minmax', 'ptq', 'qat'))
    d = lambda s: f"{s[shipped] - s['fp32']:+.3f}"
    return (f"| {name} | {entry.get('ranges', 'MinMax')} | {f(scores['holdout'])} | {f(scores['Set5'])} | "
            f"{f(scores['Set14'])} | {shipped.upper()} | {d(scores['Set5'])} / {d(scores['Set14'])} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--models', nargs='+', default=list(SESR_PRETRAINED))
    parser.add_argument('--steps', type=int, default=300)
    parser.add_argument('--learning-rate', type=float, default=5e-5)
    parser.add_argument('--percentiles', type=float, nargs='*', default=[99.999, 99.99])
    parser.add_argument('--no-write', action='store_true', help='do not write the weights')
    parser.add_argument('--out', default=str(RESULTS / 'int8_pretrained'), help='results path without suffix')
    args = parser.parse_args()

    from sesr_nb.conv import tune_process
    tune_process()
    import jax, jax.numpy as jnp, numpy as np
    from sesr_nb.checkpoint import load_pretrained
    from sesr_nb.datasets import benchmark_data_dir, load_dataset
    from sesr_nb.evaluate import evaluate_model
    from sesr_nb.fileio import write_bytes_atomic, write_json_atomic
    from sesr_nb.int8 import Int8Model, pretrained_int8_path, save_int8_model
    from sesr_nb.qat import finetune, training_sampler
    from sesr_nb.quant import QuantConfig, calibrate, calibration_patches, quant_apply
    from sesr_nb.train import Objective

    data = benchmark_data_dir()
    if data is None: raise SystemExit('the benchmark images are needed: set SESR_NB_DATA (T91, BSD200, Set5, Set14)')
    train = [f'{data}/T91@train', f'{data}/BSD200@train']
    lines, results = [], {}
    def say(text=''):
        print(text, flush=True)
        lines.append(text)

    say(f'int8 variants of the shipped SESR models: PTQ (MinMax or percentile ranges, the best on BSD200@holdout), then '
        f'{args.steps} QAT steps (lr {args.learning_rate}, cosine, batch 16 of 64x64); PTQ or QAT shipped by BSD200@holdout '
        f'PSNR; load average {os.getloadavg()[0]:.2f}\n')
    say('| model | ranges | hold-out fp32 / PTQ MinMax / PTQ / QAT | Set5 fp32 / PTQ MinMax / PTQ / QAT | '
        'Set14 fp32 / PTQ MinMax / PTQ / QAT | shipped | shipped - fp32, Set5 / Set14 |')
    say('|---|---|---|---|---|---|---|')
    for name in args.models:
        preset, scale = name[:-2], int(name[-1])
        model = load_pretrained(preset, scale)
        sets = [load_dataset(spec, scale, min_lr_size=64) for spec in train]
        patches = calibration_patches(sets, 256, 64)
        holdout = f'{data}/BSD200@holdout'
        candidates = {}
        for percentile in [None] + list(args.percentiles):
            label = 'MinMax' if percentile is None else f'p{percentile:g}'
            q = Int8Model(model.arch, model.config, model.params, calibrate(model, patches, percentile=percentile),
                          QuantConfig(), f'{model.name} int8 PTQ {label}')
            candidates[label] = (q, float(evaluate_model(q, holdout, scale).sets[0].psnr))
        best = max(candidates, key=lambda k: candidates[k][1])
        ptq, minmax = candidates[best][0], candidates['MinMax'][0]
        qparams, qconfig = ptq.qparams, ptq.qconfig
        def qat_loss(params, batch, aux):   # an objective of the engine over the deployed weights
            return jnp.mean(jnp.abs(quant_apply(params, qparams, batch['lr'], qconfig) - batch['hr'])), {}
        start = time.perf_counter()
        run = finetune(model.config, jax.tree.map(jnp.asarray, model.params), training_sampler(train, scale, 16, 64),
                       args.steps, args.learning_rate, 'cosine', Objective(qat_loss, 'qat-deployed'), desc=f'QAT {name}')
        qat = Int8Model(model.arch, model.config, run['params'], ptq.spec, qconfig, f'{model.name} int8 QAT {args.steps} steps')
        seconds = time.perf_counter() - start
        scores = {}
        for label, spec in (('holdout', holdout), ('Set5', data / 'Set5'), ('Set14', data / 'Set14')):
            scores[label] = {k: round(float(evaluate_model(m, spec, scale).sets[0].psnr), 4)
                             for k, m in (('fp32', model), ('minmax', minmax), ('ptq', ptq), ('qat', qat))}
        shipped = 'qat' if scores['holdout']['qat'] > scores['holdout']['ptq'] else 'ptq'
        chosen = qat if shipped == 'qat' else ptq
        path = pretrained_int8_path(preset, scale)
        if not args.no_write:
            chosen.name = f'{model.name} int8 ({shipped.upper()})'
            save_int8_model(path, chosen)
        results[name] = {'scores': scores, 'ranges': best, 'holdout_by_ranges': {k: round(v, 4) for k, (_, v) in candidates.items()},
                         'shipped': shipped, 'file': path.name, 'qat_seconds': round(seconds, 1),
                         'qat_loss_first_last': [round(float(np.mean(run['losses'][:10])), 5), round(float(np.mean(run['losses'][-10:])), 5)]}
        say(row(name, results[name]))
    out = Path(args.out)
    earlier = json.loads(out.with_suffix('.json').read_text())['models'] if out.with_suffix('.json').exists() else {}
    kept = {k: v for k, v in earlier.items() if k not in results and k in SESR_PRETRAINED}
    if kept:   # models not re-made this time keep their rows (and the files they describe)
        say('\nmade in an earlier run (same script; rows without PTQ MinMax come from its version before percentile ranges):\n')
        for name, entry in kept.items(): say(row(name, entry))
    say(f'\nload average at the end: {os.getloadavg()[0]:.2f}')
    write_json_atomic(out.with_suffix('.json'), {'steps': args.steps, 'learning_rate': args.learning_rate,
                                                 'models': {**kept, **results}})
    write_bytes_atomic(out.with_suffix('.md'), ('\n'.join(lines) + '\n').encode())
    return 0


if __name__ == '__main__':
    sys.exit(main())
