# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet rows of `make bench`: playbooks/support_agent.yml (one piopiy_fleet task per workspace) over E environments of one workspace.

For E environments x 5 numbers (and one environment with 1000 numbers), at one
emulator latency: the floor (a no-op play over the same inventory), the first
apply on an empty workspace, and the unchanged re-run, each a whole
ansible-playbook process, with the requests by method from the emulator's log.
bench.py runs them after its own rows, or alone with --fleet-only; the table
and the targets are printed and saved as tests/perf/fleet-results.md.
"""

import json
import statistics

FLEET_PLAYBOOK = '../../playbooks/support_agent.yml'
FLEET_FLOOR_PLAYBOOK = 'fleet_floor.yml'
FLEET_MODULE_PLAYBOOK = 'fleet_module_floor.yml'
NUMBERS_PER_ENVIRONMENT = 5
SINGLE_ENVIRONMENT_NUMBERS = 1000
TARGET_FIRST_S = 20.0  # 1,000 environments x 5 numbers, first apply (issue 21)
TARGET_OVER_FLOOR = 3.0  # an unchanged re-run at most 3x a no-op play over the same hosts
TARGET_SINGLE_S = 5.0  # one environment with 1,000 numbers, first apply
TARGET_PEAK_MIB = 300.0  # the largest single process of the run
KEYS = (('floor', 'floor: no-op play, same inventory'), ('module', 'one module task (ping, run once), same inventory'),
        ('first', 'support_agent.yml, first apply'), ('unchanged', 'support_agent.yml, unchanged re-run'))
PLAYBOOKS = {'floor': FLEET_FLOOR_PLAYBOOK, 'module': FLEET_MODULE_PLAYBOOK}


def inventory(environments, numbers_per_environment, purchased):
    """An inventory of environments named env000.. in one workspace (the key and base come from PIOPIY_API_KEY / PIOPIY_API_BASE)."""
    hosts = {}
    for index in range(environments):
        numbers = purchased[index * numbers_per_environment:(index + 1) * numbers_per_environment]
        hosts['env%03d' % index] = {'support_agent_phone_numbers': numbers}
    local = {'ansible_connection': 'local', 'ansible_python_interpreter': '{{ ansible_playbook_python }}'}
    return {'piopiy_environments': {'hosts': hosts, 'vars': local}}


def list_pages(items, page_limit):
    return max(1, -(-items // page_limit))


def page_wait(environments, numbers_per_environment, page_limit, latency_ms):
    """Seconds an unchanged run's reads wait at the latency, at the least: a cursor page names the next one, so each list is
    read page after page, and the agents and the routes are read side by side (the longer list sets the wait)."""
    depth = max(list_pages(environments, page_limit), list_pages(environments * numbers_per_environment, page_limit))
    return depth * latency_ms / 1000.0


class FleetBench:
    """Runs the fleet rows with a Bench's emulator and playbook runner."""

    def __init__(self, bench, output, sizes, latency_ms, runs):
        self.bench = bench
        self.output = output
        self.latency_ms = latency_ms
        self.runs = runs
        purchased = bench.emulator.purchased_numbers()
        self.cases = [('E=%d x %d numbers' % (size, NUMBERS_PER_ENVIRONMENT), size, NUMBERS_PER_ENVIRONMENT) for size in sizes]
        self.cases.append(('E=1 x %d numbers' % SINGLE_ENVIRONMENT_NUMBERS, 1, SINGLE_ENVIRONMENT_NUMBERS))
        self.inventories = {}
        for name, size, per in self.cases:
            if size * per > len(purchased):
                raise ValueError('the seed has %d purchased numbers, %s needs more' % (len(purchased), name))
            path = output / ('fleet-%d-%d.json' % (size, per))
            path.write_text(json.dumps(inventory(size, per, purchased)), encoding='utf-8')
            self.inventories[name] = path
        self.rows = {}
        self.peaks = {}  # (case, row) -> the peak MiB of the largest process of each run

    def run(self, progress):
        for name, size, per in self.cases:
            self.bench.emulator.reset(self.latency_ms)
            for key, unused_label in KEYS:
                walls, counts = [], []
                for run in range(1, self.runs + 1):
                    if key == 'first':
                        self.bench.emulator.reset(self.latency_ms)
                    self.bench.emulator.clear_log()
                    playbook = PLAYBOOKS.get(key, FLEET_PLAYBOOK)
                    wall, unused_log = self.bench.playbook(playbook, ['-i', str(self.inventories[name])],
                                                           'fleet-%d-%d-%s-%d' % (size, per, key, run))
                    walls.append(wall)
                    counts.append(self.bench.emulator.counts())
                    self.peaks.setdefault((name, key), []).append(self.bench.peak_mib)
                    progress('%-22s %-34s run %d/%d  %6.2f s  %s' % (name, key, run, self.runs, wall, counts[-1]))
                self.rows[name, key] = (walls, counts)
        return self

    def table(self, page_limit):
        lines = ['| case | latency | row | runs | wall s (median) | walls s | peak MiB | requests GET/POST/PATCH/DELETE | list pages (agents + routes) |',
                 '|---|---:|---|---:|---:|---|---:|---|---:|']
        for name, size, per in self.cases:
            pages = list_pages(size, page_limit) + list_pages(size * per, page_limit)
            for key, label in KEYS:
                walls, counts = self.rows[name, key]
                requests = ', '.join('/'.join(str(count[method]) for method in ('GET', 'POST', 'PATCH', 'DELETE')) for count in counts)
                lines.append('| %s | %d ms | %s | %d | %.2f | %s | %.0f | %s | %s |' % (
                    name, self.latency_ms, label, len(walls), statistics.median(walls), ', '.join('%.2f' % wall for wall in walls),
                    max(self.peaks[name, key]), requests, pages if key == 'unchanged' else ''))
        return '\n'.join(lines)

    def targets(self, page_limit):
        """(name, passed, detail) for every fleet target the rows measure (issue 21's, for the one playbook)."""
        results = []
        for name, size, per in self.cases:
            first = statistics.median(self.rows[name, 'first'][0])
            peak = max(max(self.peaks[name, key]) for key, unused in KEYS)
            results.append(('%s: peak memory of the largest process under %.0f MiB' % (name, TARGET_PEAK_MIB), peak < TARGET_PEAK_MIB,
                            '%.0f MiB' % peak))
            if size == 1:
                results.append(('%s: first apply under %.0f s' % (name, TARGET_SINGLE_S), first < TARGET_SINGLE_S, '%.2f s' % first))
                continue
            unchanged = statistics.median(self.rows[name, 'unchanged'][0])
            floor = statistics.median(self.rows[name, 'floor'][0])
            counts = self.rows[name, 'unchanged'][1]
            writes = max(sum(count[method] for method in ('POST', 'PATCH', 'DELETE')) for count in counts)
            pages = list_pages(size, page_limit) + list_pages(size * per, page_limit)
            gets = max(count['GET'] for count in counts)
            if size >= 1000:
                results.append(('%s: first apply under %.0f s' % (name, TARGET_FIRST_S), first < TARGET_FIRST_S, '%.2f s' % first))
            module = statistics.median(self.rows[name, 'module'][0])
            wait = page_wait(size, per, page_limit, self.latency_ms)
            results.append(('%s: unchanged re-run within %.0fx of the floor' % (name, TARGET_OVER_FLOOR), unchanged <= TARGET_OVER_FLOOR * floor,
                            '%.2f s, floor %.2f s (%.2fx); no run can take less than the floor plus the %.2f s its list pages wait '
                            'one after another, %.2f s (%.2fx); one module task alone %.2f s (%.2fx)'
                            % (unchanged, floor, unchanged / floor, wait, floor + wait, (floor + wait) / floor, module, module / floor)))
            results.append(('%s: unchanged re-run, less the wait of its list pages, within %.0fx of the floor' % (name, TARGET_OVER_FLOOR),
                            unchanged - wait <= TARGET_OVER_FLOOR * floor,
                            '%.2f s - %.2f s = %.2f s, floor %.2f s (%.2fx)' % (unchanged, wait, unchanged - wait, floor, (unchanged - wait) / floor)))
            results.append(('%s: unchanged re-run makes no write and no more reads than the list pages' % name,
                            writes == 0 and gets <= pages, '%d write(s), %d GET for %d list pages' % (writes, gets, pages)))
        return results

    def report(self, page_limit, machine, when):
        targets = self.targets(page_limit)
        lines = ['## piopiy.voice fleet bench, %s' % when, '', 'Machine: %s.' % machine, '', self.table(page_limit), '',
                 '- Every row is a whole ansible-playbook process over an inventory of E environments in one workspace '
                 '(playbooks/support_agent.yml: its checks of every environment, then one piopiy_fleet task per workspace); '
                 'the floor is a no-op play over the same inventory, '
                 'and "one module task" the floor plus one ansible.builtin.ping run once (building, starting and reading back one module).',
                 '- first apply: on an empty workspace, so it also walks the purchased numbers, until it has found every listed one; '
                 'an unchanged re-run walks the agents and the routes only, side by side (every listed number has a route, so all are purchased).',
                 '', '### Fleet targets', '']
        lines += ['- %s %s: %s' % ('PASS' if passed else 'FAIL', name, detail) for name, passed, detail in targets]
        return '\n'.join(lines) + '\n', targets
