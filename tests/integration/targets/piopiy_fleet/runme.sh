#!/usr/bin/env bash
# The fleet module and playbooks/fleet.yml against the emulator, run as real ansible-playbook processes so that
# two runs can start together; check_fleet.py checks the emulator's state and request log after each step.
# ansible-test runs this from the target's directory, with the integration config two levels up.
set -euo pipefail

config="$(cd ../.. && pwd)/integration_config.yml"
python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
source ../setup_piopiy/files/together.sh

playbook() {
    ansible-playbook -i inventory.yml -e "@$config" "$@"
}

check() {
    "$python" check_fleet.py "$config" "$@"
}

# The PLAY RECAP in the output file $1 counts these hosts changed (host=count; every other host 0).
expect_recap_changed() {
    "$python" ../setup_piopiy/files/recap.py "$@"
}

check reset

echo "== twenty environments: check mode writes nothing; then apply; unchanged re-run"
playbook moves.yml -e moves_shift=0 --check
check no-writes
playbook moves.yml -e moves_shift=0
check moves 0
check clear-log
playbook moves.yml -e moves_shift=0 -e moves_expect_changed=false
check no-writes

echo "== every number moves to the next environment, listed in one order, then back in the other"
playbook moves.yml -e moves_shift=1
check moves 1
playbook moves.yml -e moves_shift=0 -e moves_reverse=true
check moves 0
check clear-log
playbook moves.yml -e moves_shift=7 -e moves_reverse=true
check moves 7

echo "== conflicts are refused before any write"
check clear-log
playbook conflicts.yml
check no-writes

echo "== a 429 storm slows the fleet down but it completes"
check clear-log
check faults '{"rate_429": 0.5, "retry_after": 0, "rng_seed": 15}'
playbook moves.yml -e moves_shift=3
check saw-429 20
check faults '{"rate_429": 0.05, "retry_after": 1, "rng_seed": 16}'
playbook moves.yml -e moves_shift=4 -e moves_reverse=true
check faults '{}'
check moves 4

echo "== one agent named by five hosts at once, without run_once: they take turns on the workspace's lock"
check clear-log
playbook same_agent.yml --forks 5
check one-agent fleet-shared-agent +19499800007 +19499800008
check agent-writes 1 0

echo "== two runs of one playbook started together, three times: five agents created once each"
check clear-log
for tag in a b c; do
    together "$scratch" playbook race.yml -e race_tag=$tag :: playbook race.yml -e race_tag=$tag
    for index in 0 1 2 3 4; do
        check one-agent "race$tag-$index-support-agent" "+14155551$(printf %03d $index)"
    done
done
check agent-writes 15 0

echo "== playbooks/fleet.yml: two workspaces in one inventory, --limit, then all"
check reset
playbook piopiy.voice.fleet --limit fleet-dev >"$scratch/limited.out" 2>&1 || { cat "$scratch/limited.out"; exit 1; }
expect_recap_changed "$scratch/limited.out" fleet-dev=1
check fleet-playbook limited
playbook piopiy.voice.fleet --check --diff
echo "== a cap on the run's route changes over two workspaces stops the run before any write"
check clear-log
if playbook piopiy.voice.fleet -e support_agent_max_route_changes_per_run=2 >"$scratch/capped.out" 2>&1; then
    cat "$scratch/capped.out"
    echo "a run over its cap on route changes passed" >&2
    exit 1
fi
grep -q "the run would make 3 route change(s) in 3 environment(s), more than support_agent_max_route_changes_per_run=2" "$scratch/capped.out" ||
    { cat "$scratch/capped.out"; exit 1; }
expect_recap_changed "$scratch/capped.out" ''  # the plan of every workspace first is a prediction, not a change
check no-writes
if playbook piopiy.voice.fleet -e support_agent_max_route_changes_per_run=2 --check >"$scratch/capped.out" 2>&1; then
    cat "$scratch/capped.out"
    echo "a dry run over its cap on route changes passed" >&2
    exit 1
fi
grep -q "the run would make 3 route change(s) in 3 environment(s), more than support_agent_max_route_changes_per_run=2" "$scratch/capped.out" ||
    { cat "$scratch/capped.out"; exit 1; }
# A dry run says what would change: the fleet task runs once, on the play's first host.
expect_recap_changed "$scratch/capped.out" fleet-dev=1
check no-writes
playbook piopiy.voice.fleet -e support_agent_max_route_changes_per_run=3 >"$scratch/capped.out" 2>&1 || { cat "$scratch/capped.out"; exit 1; }
expect_recap_changed "$scratch/capped.out" fleet-dev=1  # as uncapped: the pre-pass over both workspaces adds nothing
check fleet-playbook all
echo "== the fleet's guard rails refuse before any write"
check clear-log
playbook guards.yml
check no-writes
echo "all fleet checks passed"
