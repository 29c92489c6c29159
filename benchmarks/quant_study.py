"""int8 quantisation of trained SESR runs: fp32, PTQ, QAT and the same-budget fp32 fine-tuning control.

For every `--run` (a training run folder, e.g. /work/runs/m5_x2 from benchmarks/train_model_set.sh), with the standard
protocol (Set5 and Set14 at the run's scale, Y PSNR/SSIM, border = scale, `sesr_nb.evaluate`):
  fp32        the run's best checkpoint, deployed in float32;
  PTQ         its post-training int8 quantisation (`sesr_nb.quant`: per-channel int8 weights, uint8 activations,
              MinMax over --calib training patches of T91@train + BSD200@train);
  QAT         N steps of quantisation-aware fine-tuning from the best checkpoint (fixed calibrated ranges), evaluated
              with those ranges and after recalibrating them;
  control     the same N steps, learning rate, schedule and batches in fp32 (`objective=None`), evaluated in fp32 and
              after PTQ — so a QAT gain is not just extra training.
The int8 models are also run in integer arithmetic (`sesr_nb.quant.integer_forward`) on Set5 as an independent check;
when `sesr_nb.onnx_export` can export int8 models they are evaluated through onnxruntime too (else listed as skipped).
  QAT io      QAT through the full-integer graph (`QuantConfig(io=True)`: the network input and the residual sum are
              quantised too, as in the ONNX QDQ and TFLite int8 files); its control is `control + PTQ io`.
The io arms are also exported to a full-integer .tflite file (`sesr_nb.tflite_export`) and evaluated by LiteRT.
Writes benchmarks/results/quant_study.json and quant_study.md and prints the table. `--resume` keeps finished arms;
`--kinds` runs some of the fine-tunes only (e.g. `--kinds qat`). Every fine-tune goes through the library's engine
(`sesr_nb.qat.finetune`, i.e. `train_segment`, with `qat_objective` or the fp32 pixel objective).

    nice -n 5 python benchmarks/quant_study.py --run /work/runs/m5_x2 --run /work/runs/m3_x2 --steps 600
"""
from __future__ import annotations
import argparse, importlib, importlib.util, json, os, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / 'shared' / 'data' if (ROOT.parent / 'shared' / 'data').is_dir() else Path('/work/shared/data')
RESULTS = ROOT / 'benchmarks' / 'results'
KINDS = ('qat', 'control', 'qat_iotrained')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--run', action='append', required=True, help='trained run folder (repeat for several)')
    p.add_argument('--steps', type=int, default=600, help='N: fine-tuning steps of QAT and of the fp32 control')
    p.add_argument('--lr', type=float, default=5e-5)
    p.add_argument('--schedule', default='cosine', choices=('constant', 'cosine'))
    p.add_argument('--batch-size', type=int, default=16)
    p.add_argument('--lr-patch', type=int, default=64)
    p.add_argument('--calib', type=int, default=256, help='calibration patches')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--data', nargs='+', default=[str(DATA / 'T91') + '@train', str(DATA / 'BSD200') + '@train'])
    p.add_argument('--test', nargs='+', default=[str(DATA / 'Set5'), str(DATA / 'Set14')])
    p.add_argument('--int-sets', nargs='*', default=['Set5'], help='test sets also run in integer arithmetic')
    p.add_argument('--out', default=str(RESULTS / 'quant_study'), help='output prefix (.json, .md)')
    p.add_argument('--resume', action='store_true', help='keep the arms already in the output JSON')
    p.add_argument('--kinds', nargs='+', default=list(KINDS), choices=KINDS,
                   help='fine-tunes to run: QAT, the fp32 control, QAT through the full-integer graph')
    p.add_argument('--no-onnx', action='store_true', help='skip the onnxruntime int8 evaluation')
    p.add_argument('--no-tflite', action='store_true', help='skip the LiteRT int8 evaluation')
    p.add_argument('--workdir', default=os.path.join(tempfile.gettempdir(), 'sesr_quant_study'), help='ONNX files')
    return p.parse_args(argv)


class IntegerModel:
    "An SRModel running the int8 network in numpy integer arithmetic (`integer_forward`)."
    def __init__(self, qmodel):
        from sesr_nb.quant import integer_model
        self.imodel, self.scale, self.qmax = integer_model(qmodel), qmodel.scale, qmodel.qconfig.act_qmax
        self.name = qmodel.name + ' (integer)'

    def sr_y(self, lr_rgb):
        from sesr_nb.color import model_y_to_y255, rgb_to_model_y
        from sesr_nb.quant import integer_forward
        y = rgb_to_model_y(lr_rgb)
        return model_y_to_y255(integer_forward(self.imodel, y[None], self.scale, self.qmax)[0][0, :, :, 0])


def onnx_int8_hook(model, patches, sets, workdir: Path) -> dict:
    """Scores of `model` (a float TrainedModel) exported to ONNX and quantised by onnxruntime (`sesr_nb.onnx_export`:
    QDQ, per-channel int8 weights, uint8 MinMax activations calibrated on the same `patches`), or {'skipped': why}."""
    if importlib.util.find_spec('sesr_nb.onnx_export') is None:
        return {'skipped': 'sesr_nb.onnx_export does not exist'}
    try:
        from sesr_nb.onnx_export import onnx_graph, onnx_metadata, quantize_int8, set_onnx_metadata
        from sesr_nb.runtime import load_onnx_model
        import onnxruntime  # noqa: F401
    except ImportError as err: return {'skipped': f'onnx export unavailable ({err})'}
    from sesr_nb.evaluate import evaluate_model
    proto = quantize_int8(onnx_graph(model), [p.reshape(1, 1, *p.shape[:2]) for p in patches])
    set_onnx_metadata(proto, onnx_metadata(model, int8=True))
    path = workdir / (model.name.replace(' ', '_').replace('/', '_') + '.int8.onnx')
    path.write_bytes(proto.SerializeToString())
    return {**scores(evaluate_model(load_onnx_model(path), sets, model.scale)), 'weights': same_weights(model, proto)}


def tflite_int8_hook(qmodel, sets, workdir: Path) -> dict:
    "Scores of the QuantizedModel `qmodel` (io=True) exported to a full-integer .tflite file and run by LiteRT."
    try:
        from sesr_nb.runtime import load_tflite_model
        from sesr_nb.tflite_export import export_tflite
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError as err: return {'skipped': f'tflite export unavailable ({err})'}
    from sesr_nb.evaluate import evaluate_model
    path = workdir / (qmodel.name.replace(' ', '_').replace('/', '_') + '.int8.tflite')
    return scores(evaluate_model(load_tflite_model(export_tflite(qmodel, path, int8=True)), sets, qmodel.scale))


def same_weights(model, proto) -> dict:
    "Compare the int8 weights and scales onnxruntime exported with sesr_nb.quant's (codes must be identical)."
    import numpy as np
    from onnx import numpy_helper
    from sesr_nb.quant import conv_layers, quantize_weight
    inits = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    codes_differ, scale_rel, layers = 0, 0.0, 0
    for name in conv_layers(model.params):
        q, s = (np.asarray(a) for a in quantize_weight(model.params[name]['kernel']))
        ort_q, ort_s = inits.get(f'{name}.weight_quantized'), inits.get(f'{name}.weight_scale')
        if ort_q is None or ort_s is None: return {'compared': False, 'why': f'no {name}.weight_quantized/_scale in the export'}
        codes_differ += int((ort_q.astype(np.int32) != np.transpose(q, (3, 2, 0, 1))).sum())
        scale_rel = max(scale_rel, float(np.max(np.abs(ort_s.astype(np.float64) / s - 1))))
        layers += 1
    return {'compared': True, 'layers': layers, 'codes_differ': codes_differ, 'max_scale_rel_diff': scale_rel}


def scores(result) -> dict:
    return {s.name: {'psnr': round(s.psnr, 4), 'ssim': round(s.ssim, 5)} for s in result.sets}


def main(argv=None):
    args = parse_args(argv)
    import jax
    import numpy as np
    from sesr_nb.arch import TrainedModel
    from sesr_nb.checkpoint import load_train_params
    from sesr_nb.datasets import load_dataset
    from sesr_nb.evaluate import evaluate_model
    from sesr_nb.qat import finetune, qat_objective, training_sampler
    from sesr_nb.quant import QuantConfig, QuantizedModel, calibrate, calibration_patches, quantize_ptq

    out_json, out_md = Path(args.out + '.json'), Path(args.out + '.md')
    out_json.parent.mkdir(parents=True, exist_ok=True)
    recipe = {k: getattr(args, k) for k in ('steps', 'lr', 'schedule', 'batch_size', 'lr_patch', 'calib', 'seed', 'data', 'test')}
    result = {'title': 'int8 quantisation of SESR: fp32, PTQ, QAT, fp32 fine-tuning control', 'recipe': recipe, 'runs': {}}
    if args.resume and out_json.exists():
        before = json.loads(out_json.read_text())
        if before.get('recipe') != recipe:
            sys.exit(f'--resume: {out_json} was made with another recipe ({before.get("recipe")}); drop --resume or change --out')
        result = before
    save = lambda: out_json.write_text(json.dumps(result, indent=1))
    onnx_dir = Path(args.workdir)
    onnx_dir.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()

    for run in args.run:
        arch, config, params, ckpt_step = load_train_params(run)
        name = Path(run).name
        rec = result['runs'].setdefault(name, {'run': str(run), 'model': config.name, 'checkpoint_step': ckpt_step, 'arms': {}})
        arms = rec['arms']
        test_sets = [load_dataset(spec, config.scale) for spec in args.test]
        int_sets = [s for s in test_sets if s.name in set(args.int_sets)]
        train_sets = [load_dataset(spec, config.scale, min_lr_size=args.lr_patch) for spec in args.data]
        patches = calibration_patches(train_sets, args.calib, args.lr_patch, args.seed)
        cparams = jax.device_get(arch.deploy(params, config))
        spec = calibrate(cparams, patches)
        print(f'== {name}: {config.name}, checkpoint step {ckpt_step}', flush=True)

        def arm(key, make_model, integer=False, extra=None):
            if key in arms: print(f'  {key:22s} (kept)', flush=True); return
            t0 = time.perf_counter()
            model = make_model()
            entry = {'test': scores(evaluate_model(model, test_sets, config.scale))}
            if integer and int_sets:
                entry['integer'] = scores(evaluate_model(IntegerModel(model), int_sets, config.scale))
            entry.update(extra or {})
            entry['eval_seconds'] = round(time.perf_counter() - t0, 1)
            arms[key] = entry
            save()
            line = '  '.join(f"{s} {v['psnr']:.3f}" for s, v in entry['test'].items())
            print(f'  {key:22s} {line}' + (f"  (integer: {entry['integer']})" if 'integer' in entry else ''), flush=True)

        arm('fp32', lambda: TrainedModel(arch, config, cparams, f'{config.name} fp32'))
        arm('ptq', lambda: QuantizedModel(arch, config, cparams, spec, QuantConfig(), f'{config.name} PTQ'), integer=True)
        arm('ptq_io', lambda: QuantizedModel(arch, config, cparams, spec, QuantConfig(io=True), f'{config.name} PTQ io'))
        def onnx_arm(key, deployed):
            if args.no_onnx or key not in arms or 'onnx_int8' in arms[key]: return
            t0 = time.perf_counter()
            arms[key]['onnx_int8'] = onnx_int8_hook(TrainedModel(arch, config, deployed, f'{name} {key}'), patches,
                                                    test_sets, onnx_dir)
            arms[key]['onnx_seconds'] = round(time.perf_counter() - t0, 1)
            save()
            print(f"  {key:22s} onnxruntime int8: {arms[key]['onnx_int8']}", flush=True)
        onnx_arm('ptq', cparams)
        def tflite_arm(key, make_qmodel):
            if args.no_tflite or key not in arms or 'tflite_int8' in arms[key]: return
            t0 = time.perf_counter()
            arms[key]['tflite_int8'] = tflite_int8_hook(make_qmodel(), test_sets, onnx_dir)
            arms[key]['tflite_seconds'] = round(time.perf_counter() - t0, 1)
            save()
            print(f"  {key:22s} LiteRT int8: {arms[key]['tflite_int8']}", flush=True)
        tflite_arm('ptq_io', lambda: QuantizedModel(arch, config, cparams, spec, QuantConfig(io=True), f'{name} PTQ io'))

        sampler = training_sampler(args.data, config.scale, args.batch_size, args.lr_patch, args.seed)
        needs = {'qat': ('qat', 'qat_recalibrated', 'qat_io', 'qat_weights_fp32'),
                 'control': ('control_fp32', 'control_ptq', 'control_ptq_io'), 'qat_iotrained': ('qat_iotrained',)}
        for kind, needed in needs.items():
            if kind not in args.kinds: continue
            if all(k in arms for k in needed) and (kind != 'qat_iotrained' or args.no_tflite
                                                   or 'tflite_int8' in arms['qat_iotrained']):
                print(f'  {kind} arms kept', flush=True); continue
            objective = {'qat': lambda: qat_objective(config, spec), 'control': lambda: None,
                         'qat_iotrained': lambda: qat_objective(config, spec, QuantConfig(io=True))}[kind]()
            # a bar on a terminal; in a log the engine would print a line per step (finetune logs every step's loss)
            out = finetune(config, params, sampler, args.steps, args.lr, args.schedule, objective,
                           progress=sys.stderr.isatty(), desc=f'{name} {kind}')
            tuned = jax.device_get(arch.deploy(out['params'], config))
            info = {'finetune_seconds': round(out['seconds'], 1), 'seconds_per_step': round(out['seconds'] / args.steps, 4),
                    'loss_first50': float(np.mean(out['losses'][:50])), 'loss_last50': float(np.mean(out['losses'][-50:]))}
            if kind == 'qat':
                arm('qat', lambda: QuantizedModel(arch, config, tuned, spec, QuantConfig(), f'{config.name} QAT'),
                    integer=True, extra=info)
                arm('qat_recalibrated', lambda: quantize_ptq(tuned, patches, name=f'{config.name} QAT recal.'))
                arm('qat_io', lambda: QuantizedModel(arch, config, tuned, spec, QuantConfig(io=True), f'{config.name} QAT io'))
                arm('qat_weights_fp32', lambda: TrainedModel(arch, config, tuned, f'{config.name} QAT weights fp32'))
                onnx_arm('qat', tuned)
            elif kind == 'qat_iotrained':
                qio = lambda: QuantizedModel(arch, config, tuned, spec, QuantConfig(io=True), f'{config.name} QAT io-trained')
                arm('qat_iotrained', qio, integer=True, extra=info)
                tflite_arm('qat_iotrained', qio)
            else:
                arm('control_fp32', lambda: TrainedModel(arch, config, tuned, f'{config.name} fp32 +{args.steps}'), extra=info)
                arm('control_ptq', lambda: quantize_ptq(tuned, patches, name=f'{config.name} fp32 +{args.steps} PTQ'))
                arm('control_ptq_io', lambda: quantize_ptq(tuned, patches, QuantConfig(io=True), f'{config.name} +N PTQ io'))
                onnx_arm('control_ptq', tuned)
        result['seconds_total'] = round(result.get('seconds_total', 0) + time.perf_counter() - t_all, 1)
        t_all = time.perf_counter()
        save()

    table = markdown(result, [s.name for s in test_sets])
    out_md.write_text(table)
    print(table)
    print(f'wrote {out_json} and {out_md}')


LABELS = {'fp32': 'fp32 (best checkpoint)', 'ptq': 'PTQ int8', 'ptq_io': 'PTQ int8, + input/residual quantisers (ORT graph)',
          'qat': 'QAT int8 (N steps, calibrated ranges)', 'qat_recalibrated': 'QAT int8, ranges recalibrated',
          'qat_io': 'QAT int8, + input/residual quantisers (ORT graph)', 'qat_weights_fp32': 'QAT weights run in fp32',
          'control_fp32': 'control: fp32 fine-tuned N steps', 'control_ptq': 'control + PTQ int8',
          'control_ptq_io': 'control + PTQ int8, + input/residual quantisers (ORT graph)',
          'qat_iotrained': 'QAT int8 trained with the input/residual quantisers (the deployed graph)'}


def markdown(result: dict, set_names) -> str:
    r = result['recipe']
    lines = [f"# {result['title']}", '',
             f"N = {r['steps']} fine-tuning steps (batch {r['batch_size']}, LR patch {r['lr_patch']}, lr {r['lr']} "
             f"{r['schedule']}, AMSGrad), calibration: {r['calib']} patches of the training sets; Y PSNR (dB) / SSIM, "
             'standard protocol. Δ: PSNR difference to the fp32 best checkpoint.', '']
    for name, rec in result['runs'].items():
        lines += [f"## {rec['model']} ({name}, checkpoint step {rec['checkpoint_step']})", '',
                  '| arm | ' + ' | '.join(f'{s} PSNR / SSIM | Δ {s}' for s in set_names) + ' | Set5, integer arithmetic | '
                  + ' | '.join(f'{s}, onnxruntime int8 export' for s in set_names) + ' | '
                  + ' | '.join(f'{s}, LiteRT int8 export' for s in set_names) + ' |',
                  '|---|' + '---|---|' * len(set_names) + '---|' + '---|' * (2 * len(set_names))]
        base, weight_checks = rec['arms'].get('fp32', {}).get('test', {}), []
        for key, label in LABELS.items():
            entry = rec['arms'].get(key)
            if entry is None: continue
            cells = []
            for s in set_names:
                v = entry['test'].get(s)
                cells += [f"{v['psnr']:.3f} / {v['ssim']:.4f}" if v else '—',
                          f"{v['psnr'] - base[s]['psnr']:+.3f}" if v and s in base else '—']
            integ = entry.get('integer', {}).get('Set5')
            onnx = entry.get('onnx_int8', {})
            ort = [f"{onnx[s]['psnr']:.3f}" if s in onnx else '—' for s in set_names]
            lite = entry.get('tflite_int8', {})
            lite = [f"{lite[s]['psnr']:.3f}" if s in lite else '—' for s in set_names]
            if 'weights' in onnx: weight_checks.append((label, onnx['weights']))
            lines.append(f'| {label} | ' + ' | '.join(cells) + (f" | {integ['psnr']:.3f} | " if integ else ' | — | ')
                         + ' | '.join(ort) + ' | ' + ' | '.join(lite) + ' |')
        for label, check in weight_checks:
            lines.append(f'\nonnxruntime export of "{label}": int8 weight codes differing from sesr_nb.quant: '
                         f"{check.get('codes_differ')} (over {check.get('layers')} layers), largest relative scale "
                         f"difference {check.get('max_scale_rel_diff', float('nan')):.1e}" if check.get('compared') else
                         f'\nonnxruntime export of "{label}": weights not compared ({check.get("why")})')
        skipped = rec['arms'].get('ptq', {}).get('onnx_int8', {}).get('skipped')
        if skipped: lines += ['', f'onnxruntime int8 export: skipped ({skipped})']
        info = {k: rec['arms'][k] for k in ('qat', 'control_fp32', 'qat_iotrained') if k in rec['arms']}
        for k, e in info.items():
            lines.append(f"\n{k}: {e.get('seconds_per_step')} s/step, L1 loss {e.get('loss_first50'):.5f} (first 50 steps) → "
                         f"{e.get('loss_last50'):.5f} (last 50)")
        lines.append('')
    if 'seconds_total' in result: lines.append(f"Total study time: {result['seconds_total'] / 60:.1f} min.")
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    main()
