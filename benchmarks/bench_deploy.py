"""Speed and accuracy of the exported models against sesr_nb's own inference: the shipped SESR-M5 x2 on a 1080p
Y frame (1920x1080 -> 3840x2160), run by sesr_nb (`model.forward`, jitted, native kernels where they build), by
onnxruntime on the float32 ONNX file and on the int8 QDQ file (`sesr_nb.onnx_export`), and by the LiteRT interpreter
on the float32 and the full-integer int8 .tflite files (`sesr_nb.tflite_export`).

    python benchmarks/bench_deploy.py             # 7 interleaved repeats, Set5/Set14 PSNR when ../shared/data exists
    python benchmarks/bench_deploy.py --quick     # 3 repeats
    python benchmarks/bench_deploy.py --calibration ../shared/data/T91@train   # int8 calibrated on T91 (default: skimage:train)

The five runners are timed round by round (one call of each per round, after a warm-up call each), so a change of
load on the machine hits all three alike; every call takes a host float32 array and returns a host array (for JAX:
`np.asarray(model.forward(x))`, which waits for the result). onnxruntime uses the CPU provider with one intra-op
thread per available core, LiteRT (XNNPACK) one thread per available core. The frame is scikit-image's astronaut resized to 1920x1080 (natural content: the int8
activation ranges are calibrated on photos). Accuracy: each int8 file's output against the float32 output on the frame, and Y-channel PSNR/SSIM on Set5 and Set14 x2 of all five (`sesr_nb.evaluate`), when the
benchmark images are found ($SESR_NB_DATA or ../shared/data). Writes benchmarks/results/deploy_bench.json and .txt.
"""
from __future__ import annotations
import argparse, json, os, platform, statistics, sys, tempfile, time
from pathlib import Path

HEIGHT, WIDTH = 1080, 1920
RESULTS = Path(__file__).resolve().parent / 'results'


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='3 repeats instead of 7')
    parser.add_argument('--repeats', type=int, default=None)
    parser.add_argument('--calibration', default='skimage:train', help='int8 calibration images (dataset spec or folder)')
    parser.add_argument('--no-eval', action='store_true', help='skip the Set5/Set14 evaluation')
    parser.add_argument('--out', default=str(RESULTS / 'deploy_bench'), help='results path without suffix')
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 7)

    from sesr_nb.conv import conv_backend, tune_process
    tune_process()
    import jax, jax.numpy as jnp, numpy as np, onnxruntime
    from tqdm.auto import tqdm
    from sesr_nb.checkpoint import load_pretrained
    from sesr_nb.datasets import benchmark_data_dir
    from sesr_nb.evaluate import evaluate_model
    from timing import write_report
    from sesr_nb.onnx_export import export_onnx
    from sesr_nb.runtime import load_onnx_model, load_tflite_model
    from sesr_nb.tflite_export import export_tflite
    import ai_edge_litert

    lines = []
    def say(text=''):
        print(text, flush=True)
        lines.append(text)

    load_start = os.getloadavg()[0]
    model = load_pretrained('M5', 2)
    say(f'{platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} usable CPUs, jax {jax.__version__} '
        f'({jax.default_backend()}, conv backend {conv_backend()}), onnxruntime {onnxruntime.__version__}, '
        f'ai-edge-litert {getattr(ai_edge_litert, "__version__", "?")}, '
        f'load average {load_start:.2f}')
    tmp = Path(tempfile.mkdtemp(prefix='bench_deploy_'))
    t0 = time.perf_counter()
    fp32 = load_onnx_model(export_onnx(model, tmp / 'm5_x2.onnx'))
    t1 = time.perf_counter()
    int8 = load_onnx_model(export_onnx(model, tmp / 'm5_x2_int8.onnx', int8=True, calibration=args.calibration))
    t2 = time.perf_counter()
    lite32 = load_tflite_model(export_tflite(model, tmp / 'm5_x2.tflite'))
    t3 = time.perf_counter()
    lite8 = load_tflite_model(export_tflite(model, tmp / 'm5_x2_int8.tflite', int8=True, calibration=args.calibration))
    t4 = time.perf_counter()
    sizes = {name: (tmp / name).stat().st_size for name in ('m5_x2.onnx', 'm5_x2_int8.onnx', 'm5_x2.tflite', 'm5_x2_int8.tflite')}
    say(f'{model.name}: ONNX export {t1 - t0:.2f} s, int8 incl. calibration on {args.calibration} {t2 - t1:.2f} s; '
        f'TFLite export {t3 - t2:.2f} s, int8 {t4 - t3:.2f} s; bytes: ' + ', '.join(f'{k} {v:,}' for k, v in sizes.items()))

    from PIL import Image
    from skimage import data as skdata
    from sesr_nb.color import rgb_to_model_y
    photo = np.asarray(Image.fromarray(skdata.astronaut()).resize((WIDTH, HEIGHT), Image.BICUBIC))   # natural content
    x = rgb_to_model_y(photo)[None]
    runners = {'sesr_nb (jax jit)': lambda: np.asarray(model.forward(x)),
               'onnxruntime fp32': lambda: fp32.forward(x),
               'onnxruntime int8 QDQ': lambda: int8.forward(x),
               'LiteRT fp32': lambda: lite32.forward(x),
               'LiteRT int8': lambda: lite8.forward(x)}
    outputs = {name: run() for name, run in runners.items()}       # warm-up (and compilation) of each
    times = {name: [] for name in runners}
    for _ in tqdm(range(repeats), desc='rounds', file=sys.stderr):
        for name, run in runners.items():
            start = time.perf_counter()
            run()
            times[name].append(1000 * (time.perf_counter() - start))
    base = statistics.median(times['sesr_nb (jax jit)'])
    say(f'\nSESR-M5 x2 on a {WIDTH}x{HEIGHT} Y frame -> {2 * WIDTH}x{2 * HEIGHT}, {repeats} interleaved rounds '
        '(host float32 in and out):')
    say('| runner | median ms | min | max | time / sesr_nb |')
    say('|---|---|---|---|---|')
    timing = {}
    for name, t in times.items():
        med = statistics.median(t)
        timing[name] = {'median_ms': round(med, 1), 'min_ms': round(min(t), 1), 'max_ms': round(max(t), 1),
                        'all_ms': [round(v, 1) for v in t], 'ratio_to_sesr_nb': round(med / base, 3)}
        say(f'| {name} | {med:.1f} | {min(t):.1f} | {max(t):.1f} | {med / base:.2f} |')
    reference = outputs['sesr_nb (jax jit)']
    diff32 = {name: float(np.abs(outputs[name] - reference).max()) for name in ('onnxruntime fp32', 'LiteRT fp32')}
    def agreement_db(name):
        mse = float(np.mean((outputs[name] - reference) ** 2))
        return round(float(10 * np.log10(1 / mse)), 3) if mse > 0 else float('inf')
    agreement = {name: agreement_db(name) for name in ('onnxruntime int8 QDQ', 'LiteRT int8')}
    say('\nmax |fp32 file - sesr_nb| on the frame: ' + ', '.join(f'{k} {v:.2e}' for k, v in diff32.items())
        + '; int8 vs the float network on the frame: ' + ', '.join(f'{k} {v:.2f} dB' for k, v in agreement.items()))

    evaluation = None
    data = benchmark_data_dir()
    if data is not None and not args.no_eval:
        evaluation = {}
        say(f'\nY-channel PSNR / SSIM x2 (crop 2) on {data}:')
        say('| set | sesr_nb | onnx fp32 | onnx int8 | tflite fp32 | tflite int8 |')
        say('|---|---|---|---|---|---|')
        for name in ('Set5', 'Set14'):
            scores = {}
            for label, m in (('sesr_nb', model), ('onnx_fp32', fp32), ('onnx_int8', int8), ('tflite_fp32', lite32),
                             ('tflite_int8', lite8)):
                score = evaluate_model(m, data / name).sets[0]
                scores[label] = {'psnr': round(float(score.psnr), 4), 'ssim': round(float(score.ssim), 5)}
            evaluation[name] = scores
            say(f'| {name} | ' + ' | '.join(f"{s['psnr']:.3f} / {s['ssim']:.4f}" for s in scores.values()) + ' |')
    elif not args.no_eval:
        say('\nSet5/Set14 not found (set SESR_NB_DATA or provide ../shared/data): no PSNR table')
    load_end = os.getloadavg()[0]
    say(f'\nload average at the end: {load_end:.2f}')

    result = {'model': model.name, 'frame': [WIDTH, HEIGHT], 'scale': 2, 'repeats': repeats,
              'calibration': args.calibration, 'bytes': sizes, 'timing': timing,
              'max_abs_fp32_vs_sesr_nb': diff32, 'int8_vs_float_network_psnr_db_frame': agreement,
              'evaluation': evaluation, 'load_average': [round(load_start, 2), round(load_end, 2)],
              'machine': {'cpus': len(os.sched_getaffinity(0)), 'processor': platform.processor() or platform.machine(),
                          'jax': jax.__version__, 'conv_backend': conv_backend(), 'onnxruntime': onnxruntime.__version__,
                          'ai_edge_litert': getattr(ai_edge_litert, '__version__', None)}}
    write_report(Path(args.out), result, lines, '.txt')
    import shutil
    shutil.rmtree(tmp)
    return 0


if __name__ == '__main__':
    sys.exit(main())
