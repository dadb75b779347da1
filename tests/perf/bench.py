# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make bench`: the support_agent role against a uri baseline and Ansible's floor.

Starts its own emulator, then for every size N and emulator latency runs, as
whole `ansible-playbook` processes:

1. the support_agent role, first apply on an empty workspace;
2. the same role again, unchanged;
3. the same role in --check on the empty workspace;
4. baseline_uri.yml (ansible.builtin.uri from Piopiy's curl examples), first apply and unchanged re-run;
5. the floor: one no-op task (Ansible's fixed cost).

Wall time is the median of the runs; requests come from the emulator's request
log. The minimal request count of every run is computed from the emulator's
state before it (one walk of each list, the one agent read, the needed writes).
Prints one markdown table and the targets, saves both under tests/output/bench/,
and exits 1 when an unchanged re-run makes more or other requests than the
minimum (with --strict, also when any other target fails).
"""

import argparse
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from fleet_bench import FleetBench

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
EMULATOR = ROOT / 'tests' / 'emulator' / 'piopiy_emulator.py'
SEED = ROOT / 'tests' / 'emulator' / 'seeds' / 'default.yml'
OUTPUT = ROOT / 'tests' / 'output' / 'bench'
RESULTS = HERE / 'RESULTS.md'

API_KEY = 'pk_test_acme_0001'
WORKSPACE = 'ws_acme'
AGENT_NAME = 'bench-support-agent'  # support_agent.yml applies the environment "bench"
AGENT_LANGUAGE = 'en-US'  # the role's default language
PAGE_LIMIT = 100  # items per page the collection's client asks for
METHODS = ('GET', 'POST', 'PATCH', 'DELETE')

SIZES = (10, 100, 1000)
LATENCIES_MS = (0, 50)
RUNS = 3
# A uri loop runs one module per number and per pass, 0.3 to 0.4 s each on the 2-core machine: one baseline
# run takes 5-10 s at N=10, 40-80 s at N=100 and 350-700 s at N=1000. One run at N=10 and 100 fits in the
# 10 minutes; larger sizes are extrapolated from them unless --measure-baselines.
BASELINE_RUNS = {10: 1, 100: 1}
FLEET_SIZES = (3, 50, 1000)
FLEET_LATENCY_MS = 50
FLEET_RESULTS = HERE / 'fleet-results.md'

ROLE_PLAYBOOK = 'support_agent.yml'
BASELINE_PLAYBOOK = 'baseline_uri.yml'
FLOOR_PLAYBOOK = 'floor.yml'
ROUTE_MODULE_PLAYBOOK = 'number_route.yml'
MODULE_TASK = 'Ensure the agent and the numbers of'  # the role's one module task (the agent and its numbers), timed from the Ansible log
ROUTE_MODULE_TASK = 'Route the numbers to the agent'  # the route task of number_route.yml

TARGET_OVER_FLOOR_S = 1.5
TARGET_ROUTE_WRITES_S = 10.0
TARGET_BASELINE_RATIO = 0.1
TARGET_TOTAL_S = 600.0

# (key, label, the baseline row it is compared with)
ROWS = (
    ('first', '1 role, first apply', 'baseline_first'),
    ('unchanged', '2 role, unchanged re-run', 'baseline_unchanged'),
    ('check', '3 role, --check on empty workspace', 'baseline_unchanged'),
    ('baseline_first', '4 baseline uri, first apply', 'baseline_first'),
    ('baseline_unchanged', '4 baseline uri, unchanged re-run', 'baseline_unchanged'),
    ('floor', '5 floor: one no-op task', None),
    ('route_module', '6 piopiy_number_route alone, first apply', 'baseline_first'),
)
OURS = ('first', 'unchanged', 'check', 'route_module')
TIMED_TASKS = {'first': MODULE_TASK, 'route_module': ROUTE_MODULE_TASK}  # rows whose module task is timed
LOG_LINE = re.compile(r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*?\| (.*)$')


class BenchError(Exception):
    """A run failed or the bench cannot start; the message says what to look at."""


def pages(items):
    """Requests for one walk of a list of this many items; an empty list still takes one."""
    return max(1, math.ceil(items / PAGE_LIMIT))


def purchased_pages(purchased, numbers, routes, agent_id):
    """Pages of the purchased list a run must read to know the listed numbers are purchased.

    The API routes only purchased numbers, so a number already routed to the agent (agent_id, None when it is yet to be
    created) needs no page: no write is made for it. The others need the list up to the page that holds the last of
    them, or every page when one is not purchased; none when every number is routed to the agent.
    """
    unrouted = set(numbers).difference(route['phone_number'] for route in routes if agent_id and route['agent_id'] == agent_id)
    if not unrouted:
        return 0
    if not unrouted <= set(purchased):
        return pages(len(purchased))
    return max(purchased.index(number) for number in unrouted) // PAGE_LIMIT + 1


def minimal_requests(workspace, numbers, check, purchased):
    """The fewest requests a correct run of the job can make, by method, given the workspace before it.

    One walk of the agents and routes, of the purchased numbers (in list order) as far as purchased_pages says; one
    read of the agent when it exists (the agents list omits the language); then only the writes that are needed, none
    in check mode.
    """
    agent = next((agent for agent in workspace['agents'] if agent['name'] == AGENT_NAME), None)
    agent_id = agent['id'] if agent else None
    counts = dict.fromkeys(METHODS, 0)
    counts['GET'] = pages(len(workspace['agents'])) + pages(len(workspace['routes']))
    counts['GET'] += purchased_pages(purchased, numbers, workspace['routes'], agent_id) + (1 if agent else 0)
    if check:
        return counts
    routed = {route['phone_number']: route['agent_id'] for route in workspace['routes']}
    listed = set(numbers)
    counts['POST'] = (0 if agent else 1) + sum(1 for number in numbers if agent_id is None or routed.get(number) != agent_id)
    counts['PATCH'] = 1 if agent and agent['language'] != AGENT_LANGUAGE else 0
    counts['DELETE'] = sum(1 for number, owner in routed.items() if agent_id and owner == agent_id and number not in listed)
    return counts


def format_counts(counts):
    return '/'.join(str(counts[method]) for method in METHODS)


def extrapolate(points, size):
    """The value at size on the line through the two largest measured sizes."""
    (small, low), (large, high) = sorted(points.items())[-2:]
    return high + (high - low) * (size - large) / (large - small)


# 1,000 environments x 5 numbers need more purchased numbers than the test seed's scale range holds.
BENCH_PURCHASED = 6000


def bench_seed(directory):
    """The test seed, with its scale range of purchased numbers widened to BENCH_PURCHASED, written to directory."""
    text = SEED.read_text(encoding='utf-8')
    widened = re.sub(r'(\{start: "\+14155550000", count: )\d+(\})', r'\g<1>%d\g<2>' % BENCH_PURCHASED, text, count=1)
    if widened == text:
        raise BenchError('the seed %s has no scale range of purchased numbers to widen' % SEED)
    path = Path(directory) / 'bench-seed.yml'
    path.write_text(widened, encoding='utf-8')
    return path


class Emulator:
    """The emulator in a subprocess, reached through its loopback admin API."""

    def __init__(self, state_dir):
        command = [sys.executable, str(EMULATOR), '--host', '127.0.0.1', '--port', '0',
                   '--db', str(Path(state_dir) / 'state.sqlite'), '--seed', str(bench_seed(state_dir)), '--reset']
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)  # pylint: disable=consider-using-with
        line = self.process.stdout.readline().strip()
        if not line.startswith('PIOPIY_EMULATOR_URL='):
            self.stop()
            raise BenchError('the emulator did not start: %s' % ' '.join(command))
        self.url = line.partition('=')[2]
        self.api_base = self.url + '/v1'

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def call(self, method, path, body=None, headers=None):
        data = None if body is None else json.dumps(body).encode('utf-8')
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers=dict({'Content-Type': 'application/json'}, **(headers or {})))
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)

    def reset(self, latency_ms):
        """An empty workspace (no agents, no routes), a clear log, and this latency on every API request."""
        self.call('POST', '/__emulator__/reset')
        self.call('PUT', '/__emulator__/faults', {'latency_ms': latency_ms})

    def clear_log(self):
        self.call('DELETE', '/__emulator__/requests')

    def counts(self):
        counts = self.call('GET', '/__emulator__/requests')['counts']
        return {method: counts.get(method, 0) for method in METHODS}

    def workspace(self):
        return next(workspace for workspace in self.call('GET', '/__emulator__/state')['workspaces'] if workspace['id'] == WORKSPACE)

    def purchased_numbers(self):
        """Every purchased number of the workspace, through the public API."""
        numbers, cursor = [], None
        while True:
            query = 'limit=%d' % PAGE_LIMIT + ('&cursor=%s' % cursor if cursor else '')
            page = self.call('GET', '/v1/purchased-phone-numbers?' + query, headers={'Authorization': 'Bearer ' + API_KEY})
            numbers += [item['number'] for item in page['data']]
            cursor = page['next_cursor']
            if not cursor:
                return numbers


@dataclass
class Row:
    """One row of one cell: every run's wall time and requests, or an estimate."""

    walls: list = field(default_factory=list)
    counts: list = field(default_factory=list)
    minimal: dict = None
    module_task: list = field(default_factory=list)
    estimated: bool = False

    @property
    def wall(self):
        return statistics.median(self.walls)

    @property
    def requests(self):
        """The requests of the runs; None when runs differ (they should not: nothing here is random)."""
        return self.counts[0] if self.counts and all(counts == self.counts[0] for counts in self.counts) else None

    def as_json(self):
        return {'runs': 0 if self.estimated else len(self.walls), 'estimated': self.estimated, 'wall_s': round(self.wall, 3),
                'walls_s': [round(wall, 3) for wall in self.walls], 'requests': self.counts, 'minimal_requests': self.minimal,
                'module_task_s': [round(seconds, 3) for seconds in self.module_task]}


class Bench:
    """Runs every cell against one emulator and keeps the rows."""

    def __init__(self, emulator, options):
        self.emulator = emulator
        self.options = options
        self.cells = {}
        self.fleet = None
        self.ansible_playbook = str(Path(sys.executable).with_name('ansible-playbook'))
        collections = Path(options.collections_path).resolve()
        if not (collections / 'ansible_collections' / 'piopiy' / 'voice' / 'galaxy.yml').exists():
            raise BenchError('piopiy.voice is not under %s: run make collection-link' % collections)
        config = OUTPUT / 'ansible.cfg'
        config.write_text('# Ansible defaults for every run of the bench\n[defaults]\n', encoding='utf-8')
        # Only the bench's settings: no inherited ANSIBLE_* variable, nor ansible.cfg, changes what is measured.
        self.env = {name: value for name, value in os.environ.items() if not name.startswith('ANSIBLE_')}
        self.env.update(ANSIBLE_CONFIG=str(config), ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_NOCOLOR='1',
                        ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false',
                        PIOPIY_API_KEY=API_KEY, PIOPIY_API_BASE=emulator.api_base)
        purchased = emulator.purchased_numbers()
        if len(purchased) < max(options.sizes):
            raise BenchError('the seed has %d purchased numbers, N=%d needs more' % (len(purchased), max(options.sizes)))
        self.purchased, self.numbers = purchased, {}
        for size in options.sizes:
            self.numbers[size] = purchased[:size]
            (OUTPUT / ('numbers-%d.json' % size)).write_text(json.dumps({'bench_phone_numbers': purchased[:size]}), encoding='utf-8')

    def playbook(self, playbook, args, name):
        """Wall seconds of one whole ansible-playbook process, and the path of its log."""
        output, log = OUTPUT / 'runs' / (name + '.out'), OUTPUT / 'runs' / (name + '.log')
        log.unlink(missing_ok=True)
        with open(output, 'w', encoding='utf-8') as handle:
            started = time.perf_counter()
            process = subprocess.Popen([self.ansible_playbook, playbook] + args, cwd=HERE, env=dict(self.env, ANSIBLE_LOG_PATH=str(log)),
                                       stdout=handle, stderr=subprocess.STDOUT)
            # wait4's usage is the process's own and that of the children it reaped (Ansible's forks and module runs):
            # ru_maxrss is then the peak of the largest single one of them, in KiB on Linux.
            unused_pid, status, usage = os.wait4(process.pid, 0)
            process.returncode = code = os.waitstatus_to_exitcode(status)
            wall = time.perf_counter() - started
        self.peak_mib = usage.ru_maxrss / 1024.0
        if code:
            raise BenchError('%s %s failed with exit code %d: see %s' % (playbook, ' '.join(args), code, output))
        return wall, log

    def measure(self, size, latency_ms, key, runs):
        """One row: `runs` runs, each on an empty workspace except the unchanged re-runs."""
        playbook = {'floor': FLOOR_PLAYBOOK, 'baseline_first': BASELINE_PLAYBOOK, 'baseline_unchanged': BASELINE_PLAYBOOK,
                    'route_module': ROUTE_MODULE_PLAYBOOK}.get(key, ROLE_PLAYBOOK)
        args = [] if key == 'floor' else ['-e', '@' + str(OUTPUT / ('numbers-%d.json' % size))]
        args += ['--check'] if key == 'check' else []
        row = Row()
        for run in range(1, runs + 1):
            if key in ('first', 'check', 'baseline_first', 'route_module'):
                self.emulator.reset(latency_ms)
            if key != 'floor':
                row.minimal = minimal_requests(self.emulator.workspace(), self.numbers[size], key == 'check', self.purchased)
            self.emulator.clear_log()
            wall, log = self.playbook(playbook, args, 'n%d-%dms-%s-%d' % (size, latency_ms, key, run))
            row.walls.append(wall)
            row.counts.append(self.emulator.counts())
            if key in TIMED_TASKS:
                row.module_task.append(task_seconds(log, TIMED_TASKS[key]))
            progress('N=%-4d %2d ms  %-34s run %d/%d  %6.2f s  %s' % (size, latency_ms, label(key), run, runs, wall, format_counts(row.counts[-1])))
        return row

    def run(self):
        self.playbook(FLOOR_PLAYBOOK, [], 'warm-up')  # fills the OS caches; not measured
        for latency_ms in self.options.latencies:
            for size in self.options.sizes:
                self.emulator.reset(latency_ms)
                cell = self.cells[size, latency_ms] = {}
                for key in ('floor', 'first', 'unchanged', 'check', 'route_module'):
                    cell[key] = self.measure(size, latency_ms, key, self.options.runs)
                baseline_runs = BASELINE_RUNS.get(size, 1 if self.options.measure_baselines else 0)
                for key in ('baseline_first', 'baseline_unchanged'):
                    if baseline_runs:
                        cell[key] = self.measure(size, latency_ms, key, baseline_runs)
        self.estimate_baselines()

    def estimate_baselines(self):
        for (size, latency_ms), cell in self.cells.items():
            for key in ('baseline_first', 'baseline_unchanged'):
                if key not in cell:
                    cell[key] = self.estimate(size, latency_ms, key)

    def estimate(self, size, latency_ms, key):
        """A baseline row not measured: on the line through the two largest measured sizes at the same latency.

        A uri loop costs a fixed part plus the same work per number, so its time and requests grow linearly with N.
        """
        measured = {other: cell[key] for (other, other_latency), cell in self.cells.items()
                    if other_latency == latency_ms and key in cell and not cell[key].estimated}
        if len(measured) < 2:
            raise BenchError('cannot estimate the baseline at N=%d: measure two smaller sizes, or pass --measure-baselines' % size)
        wall = extrapolate({other: row.wall for other, row in measured.items()}, size)
        counts = {method: round(extrapolate({other: row.requests[method] for other, row in measured.items()}, size)) for method in METHODS}
        same_job = self.cells[size, latency_ms]['first' if key == 'baseline_first' else 'unchanged']
        return Row(walls=[wall], counts=[counts], minimal=same_job.minimal, estimated=True)


def task_seconds(log, task):
    """Seconds from the banner of the task to the next banner, in an Ansible log (ANSIBLE_LOG_PATH)."""
    stamps = []
    for line in log.read_text(encoding='utf-8').splitlines():
        match = LOG_LINE.match(line)
        if match and (match.group(2).startswith('TASK [') or match.group(2).startswith('PLAY RECAP')):
            stamps.append((datetime.strptime(match.group(1), '%Y-%m-%d %H:%M:%S,%f'), match.group(2)))
    for index, (started, banner) in enumerate(stamps[:-1]):
        if task in banner:
            return (stamps[index + 1][0] - started).total_seconds()
    raise BenchError('no task %r in %s' % (task, log))


def label(key):
    return next(text for row_key, text, unused in ROWS if row_key == key)


def progress(message):
    print(message, file=sys.stderr, flush=True)


def ratio(value, reference):
    return value / reference if reference else float('nan')


def table(cells):
    """The markdown table of every cell; ~ marks an estimate."""
    lines = ['| N | latency | row | runs | wall s (median) | requests GET/POST/PATCH/DELETE | floor: minimal requests '
             '| wall ÷ baseline | wall ÷ floor | requests ÷ minimal | module task s |',
             '|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|']
    for (size, latency_ms), cell in sorted(cells.items()):
        for key, text, compared in ROWS:
            columns = [str(size), '%d ms' % latency_ms, text] + row_columns(cell[key], cell.get(compared), cell['floor'])
            lines.append('| %s |' % ' | '.join(columns))
    return '\n'.join(lines)


def row_columns(row, baseline, floor):
    """The measured columns of one row, from runs to module task."""
    approx = '~' if row.estimated else ''
    if row.requests:
        requests = approx + format_counts(row.requests)
    else:
        requests = 'varies: ' + ', '.join(format_counts(counts) for counts in row.counts)
    if baseline is None:
        versus = ''
    elif baseline is row:
        versus = '1'
    else:
        versus = '%s%.3f' % ('~' if baseline.estimated else '', ratio(row.wall, baseline.wall))
    per_minimal = '%s%.2f' % (approx, ratio(sum(row.requests.values()), sum(row.minimal.values()))) if row.minimal and row.requests else ''
    return ['est.' if row.estimated else str(len(row.walls)),
            '~%.0f' % row.wall if row.estimated else '%.2f' % row.wall,
            requests,
            format_counts(row.minimal) if row.minimal else '',
            versus,
            '%s%.1f' % (approx, ratio(row.wall, floor.wall)),
            per_minimal,
            '%.2f' % statistics.median(row.module_task) if row.module_task else '']


def targets(cells, total_s):
    """(name, True for PASS, False for FAIL or None when not measured, detail, whether a FAIL fails the bench) per target."""
    return [
        target_minimal_requests(cells),
        target_over_floor(cells.get((1000, 0))),
        target_route_writes(cells.get((1000, 50))),
        target_baseline(cells),
        ('the whole bench under %.0f s' % TARGET_TOTAL_S, total_s < TARGET_TOTAL_S, '%.0f s' % total_s, False),
    ]


def target_minimal_requests(cells):
    name = 'unchanged re-run makes exactly the minimal requests, every N and latency'
    wrong = []
    for (size, latency_ms), cell in sorted(cells.items()):
        row = cell['unchanged']
        if any(counts != row.minimal for counts in row.counts):
            runs = ', '.join(format_counts(counts) for counts in row.counts)
            wrong.append('N=%d %d ms: %s instead of %s' % (size, latency_ms, runs, format_counts(row.minimal)))
    detail = '; '.join(wrong) or 'equal to the minimum, by method, in every cell (%d)' % len(cells)
    return name, not wrong, detail, True


def target_over_floor(cell):
    name = 'unchanged re-run within %.1f s of the floor at N=1000, 0 ms' % TARGET_OVER_FLOOR_S
    if not cell:
        return name, None, 'not measured', False
    over = cell['unchanged'].wall - cell['floor'].wall
    detail = '%.2f s - %.2f s floor = %.2f s' % (cell['unchanged'].wall, cell['floor'].wall, over)
    return name, over <= TARGET_OVER_FLOOR_S, detail, False


def target_route_writes(cell):
    name = 'first apply at N=1000, 50 ms: route writes under %.0f s' % TARGET_ROUTE_WRITES_S
    if not cell:
        return name, None, 'not measured', False
    role_s = statistics.median(cell['first'].module_task)
    module_s = statistics.median(cell['route_module'].module_task)
    writes = cell['first'].counts[0]['POST'] - 1  # the other POST creates the agent
    detail = ('the role\'s module task %.2f s (its reads and the agent\'s create included), and piopiy_number_route alone %.2f s '
              '(its reads included), for %d route writes; one at a time they would take at least %.0f s'
              % (role_s, module_s, writes, writes * 0.050))
    return name, max(role_s, module_s) < TARGET_ROUTE_WRITES_S, detail, False


def target_baseline(cells):
    name = 'every row of ours at least %.0fx faster than the baseline at N>=100' % (1 / TARGET_BASELINE_RATIO)
    ratios = [(ratio(cell[key].wall, cell[baseline].wall), size, latency_ms, text, cell[baseline].estimated)
              for (size, latency_ms), cell in sorted(cells.items()) if size >= 100
              for key, text, baseline in ROWS if key in OURS]
    if not ratios:
        return name, None, 'not measured', False
    slow = ['N=%d %d ms %s: %.3f' % (size, latency_ms, text, value) for value, size, latency_ms, text, unused in ratios
            if value > TARGET_BASELINE_RATIO]
    worst = max(ratios)
    detail = '; '.join(slow) or 'largest ratio %.3f (N=%d %d ms, %s)' % worst[:4]
    if any(estimated for *unused, estimated in ratios):
        detail += '; at N=1000 against the estimated baseline'
    return name, not slow, detail, False


def ansible_version(ansible_playbook):
    first = subprocess.run([ansible_playbook, '--version'], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    match = re.search(r'core ([0-9.]+)', first)
    return match.group(1) if match else first


REFERENCE_LOOP = 5000000


def reference_loop_s():
    """Seconds of a fixed pure-Python loop of REFERENCE_LOOP additions: how fast the machine runs Python right now.

    A shared VM's speed drifts by tens of percent within an hour; this figure, taken at the start and the end of a bench,
    tells whether two runs were made on an equally fast machine.
    """
    started, total = time.perf_counter(), 0
    for number in range(REFERENCE_LOOP):
        total += number
    return time.perf_counter() - started


@dataclass
class MachineMoment:
    """The machine's load average and reference-loop time at one moment of the bench."""

    load: float
    loop_s: float

    @classmethod
    def now(cls):
        return cls(os.getloadavg()[0], reference_loop_s())


def describe_machine(bench, start, end):
    """One line on the machine and how busy and fast it was at the start and the end of the bench."""
    return ('%d CPU cores, %s, Python %s, ansible-core %s, load average %.2f at start, %.2f at end; a pure-Python loop of %s '
            'additions took %.2f s at start, %.2f s at end (higher is a slower machine)' % (
                os.cpu_count(), platform.platform(terse=True), platform.python_version(), ansible_version(bench.ansible_playbook),
                start.load, end.load, format(REFERENCE_LOOP, ','), start.loop_s, end.loop_s))


def report(bench, total_s, start, end):
    """The markdown report, its JSON twin, and whether the bench passes."""
    machine = describe_machine(bench, start, end)
    results = targets(bench.cells, total_s)
    baseline_runs = ', '.join('%s at N=%d' % (BASELINE_RUNS.get(size, 1) if size in BASELINE_RUNS or bench.options.measure_baselines
                                              else 'estimated', size) for size in bench.options.sizes)
    notes = [
        'Emulator on loopback with the latency injected into every API request; every row is a whole ansible-playbook process.',
        'Runs per cell: %d for rows 1-3 and 5; baseline: %s. Wall time is the median of the runs.' % (bench.options.runs, baseline_runs),
        'Requests: by method, from the emulator\'s request log (a row whose runs differ says "varies").',
        'floor: minimal requests = one walk of agents and routes (%d per page), of the purchased numbers up to the page with the last '
        'listed number that has no route (none when all have one), one read of the agent when it exists (the list omits its '
        'language), and the writes needed; computed from the workspace before each run.' % PAGE_LIMIT,
        'The baseline reads one page of agents, then each number\'s route (no other list), and checks nothing, such as '
        'whether a number is purchased.',
        'wall ÷ baseline: row 1 against the baseline first apply; rows 2 and 3 against the baseline re-run '
        '(uri has no dry run; its re-run is its cheapest, read-only pass).',
        'module task s: in row 1 the role\'s one module task (piopiy_agent with phone_numbers: the agent, then its routes), '
        'in row 6 the piopiy_number_route task; reads included, from the timestamps of ANSIBLE_LOG_PATH.',
        'Row 6 runs number_route.yml on an empty workspace: piopiy_agent creates the agent, then piopiy_number_route routes '
        'the numbers to it by id (it reads the agent once, as no route points to it yet).',
    ]
    if any(row.estimated for cell in bench.cells.values() for row in cell.values()):
        notes.append('~ and est.: an ESTIMATE, not measured: the baseline at that N extrapolated linearly from the two largest measured '
                     'sizes at the same latency (a uri loop costs the same per number); `--measure-baselines` measures it (about 45 minutes in all).')
    lines = ['## piopiy.voice bench, %s' % datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC'), '', 'Machine: ' + machine + '.', '',
             table(bench.cells), '']
    lines += ['- ' + note for note in notes]
    lines += ['', '### Targets', '']
    lines += ['- %s %s: %s' % ({True: 'PASS', False: 'FAIL', None: 'N/A'}[passed], name, detail) for name, passed, detail, unused in results]
    lines += ['', 'Total runtime: %.0f s.' % total_s]
    markdown = '\n'.join(lines) + '\n'
    data = {'machine': machine, 'total_s': round(total_s, 1), 'notes': notes,
            'cells': [{'n': size, 'latency_ms': latency_ms, 'rows': {key: row.as_json() for key, row in cell.items()}}
                      for (size, latency_ms), cell in sorted(bench.cells.items())],
            'targets': [{'target': name, 'passed': passed, 'detail': detail} for name, passed, detail, unused in results]}
    failed = [name for name, passed, unused, fatal in results if passed is False and (fatal or bench.options.strict)]
    return markdown, data, failed


def parse_args(argv):
    parser = argparse.ArgumentParser(description='Benchmark the support_agent role against a uri baseline and Ansible\'s floor.')
    parser.add_argument('--sizes', type=int, nargs='+', default=list(SIZES), help='numbers per agent (default: %(default)s)')
    parser.add_argument('--latencies', type=int, nargs='+', default=list(LATENCIES_MS), help='emulator latency in ms (default: %(default)s)')
    parser.add_argument('--runs', type=int, default=RUNS, help='runs per row, the median is shown (default: %(default)s)')
    parser.add_argument('--measure-baselines', action='store_true', help='measure the baseline at every size, once, instead of estimating')
    parser.add_argument('--strict', action='store_true', help='exit 1 when any target fails, timing targets included')
    parser.add_argument('--fleet-only', action='store_true', help='run only the fleet rows (playbooks/support_agent.yml over E environments)')
    parser.add_argument('--fleet-sizes', type=int, nargs='+', default=list(FLEET_SIZES),
                        help='environments per fleet row, 5 numbers each (default: %(default)s); 0 skips the fleet rows')
    parser.add_argument('--fleet-latency', type=int, default=FLEET_LATENCY_MS, help='emulator latency of the fleet rows (default: %(default)s)')
    parser.add_argument('--collections-path', default=os.environ.get('ANSIBLE_COLLECTIONS_PATH', str(ROOT / 'build' / 'collections')),
                        help='where ansible_collections/piopiy/voice is (default: %(default)s)')
    return parser.parse_args(argv)


def run_bench(options):
    with tempfile.TemporaryDirectory(prefix='piopiy-bench-') as state_dir:
        emulator = Emulator(state_dir)
        try:
            bench = Bench(emulator, options)
            if options.fleet_only:
                bench.playbook(FLOOR_PLAYBOOK, [], 'warm-up')  # fills the OS caches; not measured
            else:
                bench.run()
            if [size for size in options.fleet_sizes if size]:
                bench.fleet = FleetBench(bench, OUTPUT, [size for size in options.fleet_sizes if size], options.fleet_latency,
                                         options.runs).run(progress)
            return bench
        finally:
            emulator.stop()


def fleet_report(bench, start, end):
    """Prints and saves the fleet rows; the names of the fleet targets that failed."""
    machine = describe_machine(bench, start, end)
    markdown, results = bench.fleet.report(PAGE_LIMIT, machine, datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC'))
    FLEET_RESULTS.write_text(markdown, encoding='utf-8')
    print(markdown)
    print('Saved %s' % FLEET_RESULTS)
    return [name for name, passed, unused in results if not passed]


def main(argv=None):
    options = parse_args(argv)
    (OUTPUT / 'runs').mkdir(parents=True, exist_ok=True)
    if options.fleet_only:
        started, start = time.perf_counter(), MachineMoment.now()
        try:
            bench = run_bench(options)
        except (BenchError, ValueError) as error:
            print('bench: %s' % error, file=sys.stderr)
            return 2
        failed = fleet_report(bench, start, MachineMoment.now())
        print('Total runtime: %.0f s.' % (time.perf_counter() - started))
        if failed and options.strict:
            print('bench: FAILED: %s' % '; '.join(failed), file=sys.stderr)
            return 1
        return 0
    measured = [size for size in options.sizes if size in BASELINE_RUNS or options.measure_baselines]
    if len(measured) < min(2, len(options.sizes)):
        print('bench: the baseline at N=%s is estimated from two measured sizes: add them, or pass --measure-baselines'
              % ','.join(str(size) for size in options.sizes if size not in measured), file=sys.stderr)
        return 2
    (OUTPUT / 'runs').mkdir(parents=True, exist_ok=True)
    started, start = time.perf_counter(), MachineMoment.now()
    try:
        bench = run_bench(options)
    except BenchError as error:
        print('bench: %s' % error, file=sys.stderr)
        return 2
    end = MachineMoment.now()
    markdown, data, failed = report(bench, time.perf_counter() - started, start, end)
    (OUTPUT / 'bench.md').write_text(markdown, encoding='utf-8')
    (OUTPUT / 'bench.json').write_text(json.dumps(data, indent=2) + '\n', encoding='utf-8')
    print(markdown)
    print('Saved %s and %s' % (OUTPUT / 'bench.md', OUTPUT / 'bench.json'))
    # The committed record is edited by hand, so that a noisy run never overwrites it unseen.
    print('The committed figures of a past run are in %s: copy this table there, with its date, to update them.' % RESULTS)
    if bench.fleet:
        failed += [name for name in fleet_report(bench, start, end) if options.strict]
    if failed:
        print('bench: FAILED: %s' % '; '.join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
