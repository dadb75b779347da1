# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet bench's arithmetic: the wait of the list pages and the targets drawn from rows (no emulator, no playbook)."""

from fleet_bench import FleetBench, page_wait


def counts(gets=0, posts=0):
    return {'GET': gets, 'POST': posts, 'PATCH': 0, 'DELETE': 0}


def fleet(rows, latency_ms=50):
    """A FleetBench holding these rows, as run() would have left them, without an emulator."""
    bench = FleetBench.__new__(FleetBench)
    bench.latency_ms = latency_ms
    bench.cases = [('E=1000 x 5 numbers', 1000, 5)]
    bench.rows = {('E=1000 x 5 numbers', key): value for key, value in rows.items()}
    bench.peaks = {('E=1000 x 5 numbers', key): [60.0] for key in rows}
    return bench


def targets_of(bench):
    return {name.partition(': ')[2]: (passed, detail) for name, passed, detail in bench.targets(100)}


def test_the_longer_list_sets_the_wait():
    # 1,000 agents are 10 pages, their 5,000 routes 50: read side by side, the routes' 50 pages wait one after another.
    assert page_wait(1000, 5, 100, 50) == 2.5
    assert page_wait(3, 5, 100, 50) == 0.05  # an empty or short list is still one page
    assert page_wait(1000, 5, 100, 0) == 0.0


def test_a_rerun_within_the_floor_plus_its_wait_fails_only_the_literal_target():
    bench = fleet({'floor': ([1.0], [counts()]), 'module': ([1.0], [counts()]),
                   'first': ([11.0], [counts(62, 6000)]), 'unchanged': ([4.8], [counts(60)])})
    found = targets_of(bench)
    literal, detail = found['unchanged re-run within 3x of the floor']
    assert literal is False
    assert detail == ('4.80 s, floor 1.00 s (4.80x); no run can take less than the floor plus the 2.50 s its list pages wait '
                      'one after another, 3.50 s (3.50x); one module task alone 1.00 s (1.00x)')
    assert found['unchanged re-run, less the wait of its list pages, within 3x of the floor'] == (
        True, '4.80 s - 2.50 s = 2.30 s, floor 1.00 s (2.30x)')
    assert found['first apply under 20 s'][0] is True
    assert found['unchanged re-run makes no write and no more reads than the list pages'][0] is True


def test_a_rerun_that_adds_more_than_3x_the_floor_fails_both():
    bench = fleet({'floor': ([1.0], [counts()]), 'module': ([1.0], [counts()]),
                   'first': ([21.0], [counts(62, 6000)]), 'unchanged': ([5.6], [counts(61, 1)])})
    found = targets_of(bench)
    assert found['unchanged re-run within 3x of the floor'][0] is False
    assert found['unchanged re-run, less the wait of its list pages, within 3x of the floor'][0] is False
    assert found['first apply under 20 s'][0] is False
    assert found['unchanged re-run makes no write and no more reads than the list pages'] == (
        False, '1 write(s), 61 GET for 60 list pages')


def test_a_slow_machine_meets_both():
    bench = fleet({'floor': ([3.3], [counts()]), 'module': ([2.8], [counts()]),
                   'first': ([18.7], [counts(62, 6000)]), 'unchanged': ([9.8], [counts(60)])})
    found = targets_of(bench)
    assert found['unchanged re-run within 3x of the floor'][0] is True
    assert found['unchanged re-run, less the wait of its list pages, within 3x of the floor'][0] is True
