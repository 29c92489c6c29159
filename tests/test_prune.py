"""`sesr_nb prune` end to end through the installed console script, and the pruned run behind every `--model`:
a tiny IMP schedule, then `evaluate` and `export` of its run folder (the exported file has the run's zeros)."""
import json

import numpy as np

from helpers import run_cli


def test_prune_cli_run_folder_is_a_sparse_model(tmp_path):
    run = tmp_path / 'imp'
    out = run_cli('prune', '--arch', 'tiny', '--data', 'skimage:train', '--val', 'skimage:eval', '--rounds', '2', '--steps', '6',
                  '--rewind', '2', '--batch-size', '4', '--lr-patch', '16', '--patches-per-image', '4',
                  '--workdir', str(run), '--json')
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    last = summary['rounds'][-1]
    assert [r['round'] for r in summary['rounds']] == [0, 1, 2]
    assert 0.3 < last['sparsity'] < 0.4                      # 1 - 0.8**2 = 0.36, up to rounding
    ev = run_cli('evaluate', '--model', str(run), '--data', 'skimage:eval', '--json')
    assert ev.returncode == 0, ev.stderr
    exported = tmp_path / 'pruned.npz'
    ex = run_cli('export', '--model', str(run), '--out', str(exported), '--json')
    assert ex.returncode == 0, ex.stderr
    with np.load(exported) as data:
        zeros = sum(int((data[k] == 0).sum()) for k in data.files if k.endswith('/kernel'))
    assert zeros == last['total'] - last['kept']
    again = run_cli('prune', '--arch', 'tiny', '--data', 'skimage:train', '--workdir', str(run), '--json')
    assert again.returncode == 2 and '--resume' in json.loads(again.stdout)['error']


def test_prune_cli_rejects_bad_flags(tmp_path):
    assert run_cli('prune', '--help').returncode == 0            # help texts are argparse-safe (no bare %)
    out = run_cli('prune', '--arch', 'tiny', '--rate', '1.5', '--workdir', str(tmp_path / 'bad'), '--json')
    assert out.returncode == 2 and 'rate must be in (0, 1)' in json.loads(out.stdout)['error']
    out = run_cli('prune', '--arch', 'tiny', '--steps', '10', '--rewind', '10', '--workdir', str(tmp_path / 'bad'), '--json')
    assert out.returncode == 2 and 'rewind step k' in json.loads(out.stdout)['error']
