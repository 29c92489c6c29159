"""Fork a training run: copy run folder SRC to DEST as it stands at its latest checkpoint (the metrics log cut there, no
'done' marker), so `sesr_nb train --workdir DEST --resume --resume-override` with one changed flag continues from the
same parameters, optimiser state and patch stream while SRC goes on unchanged: an arm and its control from one point.
Pause SRC's process while forking (kill -STOP / -CONT) if it is still training.
    python benchmarks/fork_run.py SRC DEST
"""
from __future__ import annotations
import json, shutil, sys
from pathlib import Path


def fork(src: Path, dest: Path) -> int:
    "Copy run `src` to `dest` at its latest finished checkpoint; returns that step."
    steps = [int(p.name) for p in (src / 'checkpoints').iterdir() if p.name.isdigit()] if (src / 'checkpoints').is_dir() else []
    if not steps: sys.exit(f'{src} holds no checkpoint to fork from')
    if dest.exists(): sys.exit(f'{dest} exists already; choose another folder or delete it')
    step = max(steps)
    partial = dest.with_name(dest.name + '.partial')
    shutil.copytree(src, partial, ignore=shutil.ignore_patterns('done'))
    lines = (partial / 'metrics.jsonl').read_text().splitlines()
    kept = [line for line in lines if not line.strip() or json.loads(line).get('step', 0) <= step]
    (partial / 'metrics.jsonl').write_text('\n'.join(kept) + '\n')
    partial.rename(dest)
    return step


if __name__ == '__main__':
    if len(sys.argv) != 3: sys.exit(__doc__)
    print(f'forked {sys.argv[1]} at step {fork(Path(sys.argv[1]), Path(sys.argv[2]))} into {sys.argv[2]}')
