"""How `benchmarks/pretrained_set.py` joins the log of a shipped model with the log of its continuation: the earlier
run up to the shipped checkpoint, a mark, then the continuation on the joined step axis; and the same when a resumed
continuation is shipped a second time (its first ship already inside the shipped log). The reference join is built
here record by record, not with the functions under test."""
from __future__ import annotations

import pytest

from helpers import load_module

LOG_EVERY = 100


def run_log(steps: int, rate: float, first_psnr: float, events: tuple = ()) -> list[dict]:
    "A metrics log: a training line every LOG_EVERY steps at `rate` steps/s, a validation every 1,000, step-0 events."
    log = [{'step': 0, 'event': e} for e in events]
    for step in range(LOG_EVERY, steps + 1, LOG_EVERY):
        log.append({'step': step, 'loss': 1.0 / step, 'steps_per_sec': rate})
        if step % 1000 == 0: log.append({'step': step, 'val': {'BSD200@holdout': {'psnr': first_psnr + step / 1e5}}})
    return log


@pytest.fixture(scope='module')
def ship():
    return load_module('pretrained_set')


def by_hand(original: list[dict], continuation: list[dict], offset: int) -> list[dict]:
    "The join written out: original records to `offset`, the mark, the continuation shifted by `offset`, its events kept."
    mark = {'step': offset, 'event': f'continued from the shipped checkpoint of step {offset:,} (its weights, a fresh '
                                     'optimiser state: benchmarks/continue_shipped.sh)'}
    out = [dict(r) for r in original if r['step'] <= offset] + [mark]
    for r in continuation:
        if r['step'] == 0 and 'initialised from' in r.get('event', ''): continue   # the origin event: the mark says it
        shifted = {**r, 'step': r['step'] + offset}
        if 'event' in r: shifted['event'] = r['event'].replace('since step -1500', f'since step {offset - 1500}')
        out.append(shifted)
    return out


def test_join_and_rejoin(ship):
    original = run_log(5000, 4.0, 30.0)     # a run whose best checkpoint was shipped at step 3000
    events = ('initialised from pretrained:M5x3 (its step 3000)', 'plateau rule carried from log: ref at its step 3000')
    first = run_log(2000, 2.0, 30.03, events)                 # session 1 of the continuation
    resumed = first + run_log(4000, 2.0, 30.03)[len(run_log(2000, 2.0, 30.03)):] + [
        {'step': 4000, 'event': 'plateau: no gain of 0.02 dB since step -1500'}]   # session 2 resumed it to 4,000

    shipped_once = ship.continued_log(original, first, 3000)
    assert shipped_once == by_hand(original, first, 3000)
    assert max(r['step'] for r in shipped_once) == 5000 and sum('continued from' in r.get('event', '') for r in shipped_once) == 1

    # shipping the resumed run again: the first ship's part is replaced, not repeated, and the plateau event is rewritten
    shipped_twice = ship.continued_log(shipped_once, resumed, 3000)
    assert shipped_twice == by_hand(original, resumed, 3000)
    assert shipped_twice[-1]['event'] == 'plateau: no gain of 0.02 dB since step 1500'

    # the seconds the first ship counted for the continuation (20 lines of 100 steps at 2 steps/s) are found again
    assert ship.seconds_after_mark(shipped_once, 3000, LOG_EVERY) == pytest.approx(20 * LOG_EVERY / 2.0)
    assert ship.seconds_after_mark(original, 3000, LOG_EVERY) == 0.0      # a log never continued counts nothing


def test_rejoin_after_an_earlier_continuation(ship):
    "A model continued twice (from step 2000, then from that continuation's best at 3000): the first stays in the log."
    original = run_log(2500, 4.0, 30.0)
    once = ship.continued_log(original, run_log(1500, 2.0, 30.02), 2000)       # its best at joined step 3000
    second = run_log(1000, 2.0, 30.05)
    twice = ship.continued_log(once, second, 3000)
    assert twice == by_hand(once, second, 3000)
    assert [r['step'] for r in twice if 'continued from' in r.get('event', '')] == [2000, 3000]
    assert ship.seconds_after_mark(twice, 2000, LOG_EVERY) == pytest.approx((10 + 10) * LOG_EVERY / 2.0)


def test_redone_steps_logged_once(ship):
    "A continuation interrupted at step 1,300 and resumed from its checkpoint of step 1,000 logs 1,100-1,300 twice."
    before = run_log(1300, 2.0, 30.0)
    after = [r for r in run_log(2000, 3.0, 30.0) if r['step'] > 1000]
    joined = ship.continued_log(run_log(3000, 4.0, 29.0), before + after, 3000)
    lines = [(r['step'], 'val' in r) for r in joined if 'event' not in r]
    assert len(lines) == len(set(lines))
    assert {r['steps_per_sec'] for r in joined if 3000 + 1000 < r['step'] <= 3000 + 1300 and 'loss' in r} == {3.0}
