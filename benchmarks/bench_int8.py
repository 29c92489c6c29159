"""Native int8 inference against the float kernels and the other runtimes: SESR-M3 x2 on a 960x540 Y frame -> 1920x1080,
network only (host float32 in and out), in one interleaved run; and Set5/Set14 x2 PSNR of the int8 network.

    python benchmarks/bench_int8.py                  # 9 interleaved rounds, PSNR when the benchmark images are found
    python benchmarks/bench_int8.py --quick          # 3 rounds, no PSNR
    python benchmarks/bench_int8.py --paths          # also the avx2 and portable int8 kernel paths
    python benchmarks/bench_int8.py --video          # also the end-to-end video split (decode, network, colour, encode)

Runners, one call each per round after a warm-up call each (so a change of load on this shared machine hits all
alike): sesr_nb float32 (`model.forward`, the native float kernels of 00_conv), sesr_nb int8 (`Int8Model`, 23_int8:
the shipped M3 x2 quantised post-training on the bundled photos, as `sesr_nb export --int8` does), LiteRT on the
float32 and int8 .tflite files (22_tflite; the int8 one in one XNNPACK partition, and the same network written with
TFLite's PRELU operator as before, m + 1 partitions), onnxruntime on the float32 and int8 QDQ .onnx files (20_onnx).
Every runner gets all available cores (XLA's pool, LiteRT/onnxruntime threads = cores); onnxruntime's threads do not
spin after a run and every call starts 0.1 s after the previous one, so that no runtime's idle threads still hold the
cores when the next one starts (with spinning onnxruntime threads, the float network timed right after them took
3-4x its time). Medians, fps = 1000 / median.
Then an onnxruntime profile of one int8 and one float32 run: time per operator type after its graph optimisations
(where its int8 time goes). With --video, a 540p H.264 clip (a pan over the photo) is upscaled to 1080p with each
sesr_nb model as `sesr_nb upscale clip.mp4` does it (`upscale_video`: decode, network on the Y plane, chroma,
libx264 at crf 18, one stage after the other, in yuv420p throughout), end to end at x264's default preset and at
'veryfast', and stage by stage in a loop of its own; beside it, as the control, the RGB route every frame took
before (decode to RGB, `upscale`, encode from RGB), its stages summed. Writes benchmarks/results/bench_int8.json and .md.
"""
from __future__ import annotations
import argparse, collections, json, os, platform, statistics, sys, tempfile, time
from pathlib import Path

HEIGHT, WIDTH = 540, 960
RESULTS = Path(__file__).resolve().parent / 'results'


def onnx_profile(path: Path, x, threads: int) -> list[tuple[str, float]]:
    "(operator type, ms) of one onnxruntime run of `path` on `x` after a warm-up, from its profiler, largest first."
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.add_session_config_entry('session.intra_op.allow_spinning', '0')
    options.enable_profiling = True
    options.profile_file_prefix = str(path.with_suffix(''))
    session = ort.InferenceSession(str(path), options, providers=['CPUExecutionProvider'])
    feed = {session.get_inputs()[0].name: x.reshape(1, 1, HEIGHT, WIDTH)}
    session.run(None, feed)
    session.run(None, feed)
    events = json.loads(Path(session.end_profiling()).read_text())
    runs = [e for e in events if e.get('cat') == 'Session' and e.get('name') == 'model_run']
    last = runs[-1]
    per_op = collections.Counter()
    for e in events:
        if e.get('cat') == 'Node' and e['name'].endswith('_kernel_time') and last['ts'] <= e['ts'] <= last['ts'] + last['dur']:
            per_op[e['args'].get('op_name', '?')] += e['dur'] / 1000
    return [(op, round(ms, 2)) for op, ms in per_op.most_common()] + [('(whole run)', round(last['dur'] / 1000, 2))]


def make_clip(path: Path, frames: int) -> Path:
    "A 960x540 H.264 clip of `frames` frames: a slow pan over scikit-image's astronaut (natural content)."
    import av, numpy as np
    from PIL import Image
    from skimage import data as skdata
    wide = np.asarray(Image.fromarray(skdata.astronaut()).resize((WIDTH + 4 * frames, HEIGHT), Image.BICUBIC))
    with av.open(str(path), 'w') as out:
        stream = out.add_stream('libx264', rate=25)
        stream.width, stream.height, stream.pix_fmt, stream.options = WIDTH, HEIGHT, 'yuv420p', {'crf': '18'}
        for i in range(frames):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(wide[:, 4 * i:4 * i + WIDTH]), format='rgb24')))
        out.mux(stream.encode(None))
    return path


def video_split(clip: Path, model, tmp: Path) -> dict:
    """ms per frame of `upscale_video` end to end (x264 at its default preset 'medium', and at 'veryfast'), and of its
    stages one by one (decode to yuv420p planes, the network on the Y plane, the rest of `upscale_yuv420` -- the
    luma rounding and the bicubic chroma -- and the encoder at both presets), for `model` on `clip`."""
    import av, numpy as np
    from sesr_nb.infer import DEFAULT_TILE, iter_sr_bands
    from sesr_nb.video import upscale_video, upscale_yuv420
    end_to_end = {}
    for preset in ('medium', 'veryfast'):
        summary = upscale_video(clip, tmp / 'up.mp4', model, preset=preset, overwrite=True)
        end_to_end[preset] = 1000 * summary['seconds'] / summary['frames']
    stages = collections.defaultdict(float)
    frames = []
    with av.open(str(clip)) as inp:
        start = time.perf_counter()
        for frame in inp.decode(video=0): frames.append(frame.to_ndarray(format='yuv420p'))
        stages['decode'] = time.perf_counter() - start
    outputs, levels = [], np.arange(256, dtype=np.float32) / 255
    for planes in frames:
        start = time.perf_counter()
        for _ in iter_sr_bands(model, levels[planes[:HEIGHT]], DEFAULT_TILE): pass
        middle = time.perf_counter()
        outputs.append(upscale_yuv420(planes, model))
        stages['network'] += middle - start
        stages['network + colour'] += time.perf_counter() - middle
    for preset in ('medium', 'veryfast'):
        with av.open(str(tmp / f'{preset}.mp4'), 'w') as out:
            stream = out.add_stream('libx264', rate=25)
            stream.width, stream.height, stream.pix_fmt = 2 * WIDTH, 2 * HEIGHT, 'yuv420p'
            stream.options = {'crf': '18', 'preset': preset}
            start = time.perf_counter()
            for up in outputs: out.mux(stream.encode(av.VideoFrame.from_ndarray(up, format='yuv420p')))
            out.mux(stream.encode(None))
            stages[f'encode ({preset})'] = time.perf_counter() - start
    # the route every frame took before (the control): decode to RGB, `upscale` (RGB -> Y, network, bicubic chroma,
    # merge to RGB), the encoder converting RGB back to yuv420p; stage by stage, summed
    from sesr_nb.infer import upscale
    rgb_route = collections.defaultdict(float)
    with av.open(str(clip)) as inp:
        start = time.perf_counter()
        rgb_frames = [frame.to_ndarray(format='rgb24') for frame in inp.decode(video=0)]
        rgb_route['decode'] = time.perf_counter() - start
    start = time.perf_counter()
    rgb_outputs = [upscale(rgb, model) for rgb in rgb_frames]
    rgb_route['network + colour'] = time.perf_counter() - start
    with av.open(str(tmp / 'rgb.mp4'), 'w') as out:
        stream = out.add_stream('libx264', rate=25)
        stream.width, stream.height, stream.pix_fmt, stream.options = 2 * WIDTH, 2 * HEIGHT, 'yuv420p', {'crf': '18'}
        start = time.perf_counter()
        for up in rgb_outputs: out.mux(stream.encode(av.VideoFrame.from_ndarray(up, format='rgb24')))
        out.mux(stream.encode(None))
        rgb_route['encode (medium)'] = time.perf_counter() - start
    per_frame = {k: round(1000 * v / len(frames), 1) for k, v in stages.items()}
    per_frame['colour'] = round(per_frame['network + colour'] - per_frame['network'], 1)
    per_frame['rgb route (decode + upscale + encode medium, summed)'] = round(1000 * sum(rgb_route.values()) / len(frames), 1)
    return {'frames': len(frames), 'path': summary['path'],
            'end_to_end_ms_per_frame': {k: round(v, 1) for k, v in end_to_end.items()},
            'end_to_end_fps': {k: round(1000 / v, 2) for k, v in end_to_end.items()}, 'stages_ms_per_frame': per_frame}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='3 rounds, no PSNR')
    parser.add_argument('--repeats', type=int, default=None)
    parser.add_argument('--paths', action='store_true', help='also time the avx2 and portable int8 kernel paths')
    parser.add_argument('--no-eval', action='store_true', help='skip the Set5/Set14 evaluation')
    parser.add_argument('--video', action='store_true', help='also the end-to-end video split (540p -> 1080p clip)')
    parser.add_argument('--frames', type=int, default=25, help='frames of the --video clip')
    parser.add_argument('--out', default=str(RESULTS / 'bench_int8'), help='results path without suffix')
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 9)

    from sesr_nb.conv import conv_backend, tune_process
    tune_process()
    import jax, numpy as np, onnxruntime, ai_edge_litert
    from PIL import Image
    from skimage import data as skdata
    from tqdm.auto import tqdm
    from sesr_nb.checkpoint import load_pretrained
    from sesr_nb.color import rgb_to_model_y
    from sesr_nb.datasets import benchmark_data_dir
    from sesr_nb.evaluate import evaluate_model
    from timing import write_report
    from sesr_nb.int8 import Int8Model, int8_backend, kernel_paths, quantize_int8
    from sesr_nb.onnx_export import export_onnx, numpy_tree
    from sesr_nb.quant import integer_model
    from sesr_nb.runtime import TFLiteModel, available_cores, load_onnx_model, load_tflite_model
    from sesr_nb.tflite_export import (export_tflite, quantize_for_tflite, sesr_tflite_graph, tflite_metadata,
                                       xnnpack_partitions)

    lines = []
    def say(text=''):
        print(text, flush=True)
        lines.append(text)

    cores, load_start = available_cores(), os.getloadavg()[0]
    model = load_pretrained('M3', 2)
    int8 = quantize_int8(model)
    say(f'{platform.processor() or platform.machine()}, {cores} usable CPUs, jax {jax.__version__} (float conv backend '
        f'{conv_backend()}, int8 backend {int8_backend()}, int8 kernel paths {kernel_paths()}), onnxruntime '
        f'{onnxruntime.__version__}, ai-edge-litert {getattr(ai_edge_litert, "__version__", "?")}, load average {load_start:.2f}')
    tmp = Path(tempfile.mkdtemp(prefix='bench_int8_'))
    files = {'fp32.onnx': export_onnx(model, tmp / 'fp32.onnx'), 'int8.onnx': export_onnx(model, tmp / 'int8.onnx', int8=True),
             'fp32.tflite': export_tflite(model, tmp / 'fp32.tflite'), 'int8.tflite': export_tflite(model, tmp / 'int8.tflite', int8=True)}
    q_io = quantize_for_tflite(model)        # the int8 .tflite's network, written with the PRELU operator
    graph, y_in, sr_out = sesr_tflite_graph(numpy_tree(q_io.params), q_io.config, integer_model(q_io), int8_prelu='op')
    files['int8_prelu_op.tflite'] = tmp / 'int8_prelu_op.tflite'
    files['int8_prelu_op.tflite'].write_bytes(graph.flatbuffer([y_in], [sr_out], 'op', tflite_metadata(q_io, True)))
    lite = {name: load_tflite_model(files[name], threads=cores) for name in ('fp32.tflite', 'int8.tflite', 'int8_prelu_op.tflite')}
    onnx = {name: load_onnx_model(files[name], threads=cores) for name in ('fp32.onnx', 'int8.onnx')}
    for m in onnx.values():   # the same session, with threads that sleep as soon as a run ends
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = cores, 1
        options.add_session_config_entry('session.intra_op.allow_spinning', '0')
        m.session = onnxruntime.InferenceSession(str(m.path), options, providers=['CPUExecutionProvider'])
    partitions = {name: xnnpack_partitions(m.interpreter) for name, m in lite.items()}
    say(f'{model.name}; int8: {int8.name} (PTQ on the bundled photos, io={int8.qconfig.io}); XNNPACK partitions: '
        + ', '.join(f'{k} {v}' for k, v in partitions.items()))

    photo = np.asarray(Image.fromarray(skdata.astronaut()).resize((WIDTH, HEIGHT), Image.BICUBIC))   # natural content
    x = rgb_to_model_y(photo)[None]
    xj = jax.numpy.asarray(x)
    runners = {'sesr_nb fp32 (native kernels)': lambda: np.asarray(model.forward(xj)),
               'sesr_nb int8 (native kernels)': lambda: np.asarray(int8.forward(xj))}
    if args.paths:
        for path in [p for p in kernel_paths() if p != 'vnni']:
            other = Int8Model.from_quantized(int8, kernel_path=path)
            runners[f'sesr_nb int8 ({path} path)'] = lambda other=other: np.asarray(other.forward(xj))
    runners.update({'LiteRT fp32': lambda: lite['fp32.tflite'].forward(x),
                    'LiteRT int8 (1 partition)': lambda: lite['int8.tflite'].forward(x),
                    f'LiteRT int8 (PRELU op, {partitions["int8_prelu_op.tflite"]} partitions)': lambda: lite['int8_prelu_op.tflite'].forward(x),
                    'onnxruntime fp32': lambda: onnx['fp32.onnx'].forward(x),
                    'onnxruntime int8 QDQ': lambda: onnx['int8.onnx'].forward(x)})
    outputs = {name: run() for name, run in runners.items()}       # warm-up (and compilation) of each
    times = {name: [] for name in runners}
    for _ in tqdm(range(repeats), desc='rounds', file=sys.stderr):
        for name, run in runners.items():
            time.sleep(0.1)
            start = time.perf_counter()
            run()
            times[name].append(1000 * (time.perf_counter() - start))
    base_name, int8_name = 'sesr_nb fp32 (native kernels)', 'sesr_nb int8 (native kernels)'
    base = statistics.median(times[base_name])
    say(f'\nSESR-M3 x2, {WIDTH}x{HEIGHT} -> {2 * WIDTH}x{2 * HEIGHT}, network only, {repeats} interleaved rounds '
        f'(medians; host float32 in and out):\n')
    say('| runner | median ms | min | max | fps | time / sesr_nb fp32 |')
    say('|---|---|---|---|---|---|')
    timing = {}
    for name, t in times.items():
        med = statistics.median(t)
        timing[name] = {'median_ms': round(med, 1), 'min_ms': round(min(t), 1), 'max_ms': round(max(t), 1),
                        'fps': round(1000 / med, 1), 'all_ms': [round(v, 1) for v in t], 'ratio_to_fp32': round(med / base, 3)}
        say(f'| {name} | {med:.1f} | {min(t):.1f} | {max(t):.1f} | {1000 / med:.1f} | {med / base:.2f} |')
    per_round = [a / b for a, b in zip(times[base_name], times[int8_name])]
    speedup = base / statistics.median(times[int8_name])
    lite_ratio = statistics.median(times['LiteRT int8 (1 partition)']) / statistics.median(times['LiteRT fp32'])
    say(f'\nint8 native speed-up over fp32 native: {speedup:.2f}x (ratio of medians; per round median '
        f'{statistics.median(per_round):.2f}x, range {min(per_round):.2f}-{max(per_round):.2f}x); '
        f'LiteRT int8 time / LiteRT fp32 time: {lite_ratio:.2f}')
    psnr = lambda a, b: float(10 * np.log10(1 / np.mean((np.asarray(a, np.float64) - b) ** 2)))
    reference = outputs[base_name]
    agreement = {name: round(psnr(out, reference), 2) for name, out in outputs.items() if name != base_name}
    say('agreement with the float network on the frame (PSNR, dB): ' + ', '.join(f'{k} {v}' for k, v in agreement.items()))

    profiles = {name: onnx_profile(files[name], x, cores) for name in ('int8.onnx', 'fp32.onnx')}
    for name, prof in profiles.items():
        say(f'\nonnxruntime profile, {name} (ms per operator type, one run after its optimisations): '
            + ', '.join(f'{op} {ms}' for op, ms in prof))

    video = None
    if args.video:
        clip = make_clip(tmp / 'clip.mp4', args.frames)
        video = {name: video_split(clip, m, tmp) for name, m in (('int8', int8), ('fp32', model))}
        say(f'\nvideo {WIDTH}x{HEIGHT} -> {2 * WIDTH}x{2 * HEIGHT}, {args.frames} frames, ms per frame (`upscale_video` end to '
            'end on the yuv420p planes, libx264 crf 18 at the preset named; then each stage alone; the last column is '
            'the RGB route every frame took before, its stages summed):\n')
        say('| model | end to end (medium) | fps | end to end (veryfast) | fps | decode | network | colour | '
            'encode (medium) | encode (veryfast) | RGB route (medium), summed |')
        say('|---|---|---|---|---|---|---|---|---|---|---|')
        for name, v in video.items():
            st, e2e, fps = v['stages_ms_per_frame'], v['end_to_end_ms_per_frame'], v['end_to_end_fps']
            say(f"| sesr_nb {name} | {e2e['medium']} | {fps['medium']} | {e2e['veryfast']} | {fps['veryfast']} | "
                f"{st['decode']} | {st['network']} | {st['colour']} | {st['encode (medium)']} | {st['encode (veryfast)']} | "
                f"{st['rgb route (decode + upscale + encode medium, summed)']} |")

    evaluation = None
    data = benchmark_data_dir()
    if data is not None and not (args.no_eval or args.quick):
        evaluation = {}
        say(f'\nY-channel PSNR / SSIM x2 (crop 2) on {data}:\n')
        say('| set | fp32 | int8 (native) | int8 - fp32 | LiteRT int8 |')
        say('|---|---|---|---|---|')
        for name in ('Set5', 'Set14'):
            scores = {label: evaluate_model(m, data / name).sets[0]
                      for label, m in (('fp32', model), ('int8', int8), ('tflite_int8', lite['int8.tflite']))}
            evaluation[name] = {k: {'psnr': round(float(s.psnr), 4), 'ssim': round(float(s.ssim), 5)} for k, s in scores.items()}
            delta = scores['int8'].psnr - scores['fp32'].psnr
            evaluation[name]['int8_minus_fp32_db'] = round(float(delta), 4)
            say(f"| {name} | {scores['fp32'].psnr:.3f} / {scores['fp32'].ssim:.4f} | {scores['int8'].psnr:.3f} / "
                f"{scores['int8'].ssim:.4f} | {delta:+.3f} dB | {scores['tflite_int8'].psnr:.3f} / {scores['tflite_int8'].ssim:.4f} |")
    elif not (args.no_eval or args.quick):
        say('\nSet5/Set14 not found (set SESR_NB_DATA or provide ../shared/data): no PSNR table')
    load_end = os.getloadavg()[0]
    say(f'\nload average at the end: {load_end:.2f} (2 shared cores: absolute times move with the load; the ratios are '
        'measured in the same rounds)')

    result = {'model': model.name, 'int8_model': int8.name, 'frame': [WIDTH, HEIGHT], 'scale': 2, 'repeats': repeats,
              'timing': timing, 'int8_speedup_over_fp32': round(speedup, 3),
              'int8_speedup_per_round': [round(v, 3) for v in per_round], 'litert_int8_over_fp32_time': round(lite_ratio, 3),
              'xnnpack_partitions': partitions, 'agreement_with_fp32_db': agreement, 'onnxruntime_profile_ms': profiles,
              'evaluation': evaluation, 'video': video, 'load_average': [round(load_start, 2), round(load_end, 2)],
              'bytes': {name: p.stat().st_size for name, p in files.items()},
              'machine': {'cpus': cores, 'processor': platform.processor() or platform.machine(), 'jax': jax.__version__,
                          'int8_kernel_paths': kernel_paths(), 'onnxruntime': onnxruntime.__version__,
                          'ai_edge_litert': getattr(ai_edge_litert, '__version__', None)}}
    write_report(Path(args.out), result, lines)
    import shutil
    shutil.rmtree(tmp)
    return 0


if __name__ == '__main__':
    sys.exit(main())
