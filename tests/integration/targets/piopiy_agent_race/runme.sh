#!/usr/bin/env bash
# piopiy_agent and the support_agent role raced against themselves, as real ansible-playbook processes started together:
# runs on one machine take turns on the agent name's lock and create the agent once; runs that cannot share the lock
# (other machines, here another temporary directory) and a concurrent create converge on the lowest id.
# The emulator's state and request log are checked with the piopiy_fleet target's check_fleet.py.
# ansible-test runs this from the target's directory, with the integration config two levels up.
set -euo pipefail

config="$(cd ../.. && pwd)/integration_config.yml"
python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
source ../setup_piopiy/files/together.sh
mkdir -p "$scratch/machine-a" "$scratch/machine-b" "$scratch/tokens"
# This machine's temporary directory, where the locks are: machine-b stands for another machine.
export TMPDIR="$scratch/machine-a"

playbook() {
    ansible-playbook -i inventory.yml -e "@$config" "$@"
}

check() {
    "$python" ../piopiy_fleet/check_fleet.py "$config" "$@"
}

on_machine() {
    # A run on the machine whose temporary directory (where its locks are) is $1; the rest: the playbook's arguments.
    local tmp=$1
    shift
    TMPDIR=$tmp playbook "$@"
}

check reset

echo "== [${SECONDS}s] on this machine, all at once: two runs of one piopiy_agent playbook (three pairs, one agent name"
echo "   per pair), two runs of playbooks/support_agent.yml (three pairs), five hosts naming one agent without run_once"
check clear-log
runs=()
for tag in a b c; do
    runs+=(playbook agent_race.yml -e "race_tag=$tag" :: playbook agent_race.yml -e "race_tag=$tag" ::)
    runs+=(playbook piopiy.voice.support_agent --limit "racerole-$tag" :: playbook piopiy.voice.support_agent --limit "racerole-$tag" ::)
done
together "$scratch" "${runs[@]}" playbook same_agent.yml --forks 5
for digit in 1 2 3; do
    tag=$(printf %s "$digit" | tr 123 abc)
    check one-agent "race-agent-$tag" "+1415555130$digit" "+1415555132$digit" "+1415555134$digit"
done
check one-agent racerole-a-support-agent +14155551310 +14155551311
check one-agent racerole-b-support-agent +14155551312 +14155551313
check one-agent racerole-c-support-agent +14155551314 +14155551315
check one-agent race-shared-agent +14155551350 +14155551351
# Seven agent names, each created once: the runs took turns, and none had anything to merge.
check agent-writes 7 0
ls "$TMPDIR"/piopiy-voice-locks-*/agent-*.lock >/dev/null

echo "== [${SECONDS}s] the convergence rule over HTTP: a concurrent create lands just before this task's, its twin's id lower, then higher"
playbook converge.yml -e token_dir="$scratch/tokens"
check faults '{}'

echo "== [${SECONDS}s] two runs that cannot share the lock (two machines), slowed down so that they overlap: one agent in the end"
check clear-log
check faults '{"latency_ms": 150}'
together "$scratch" on_machine "$scratch/machine-a" agent_race.yml -e race_tag=m :: on_machine "$scratch/machine-b" agent_race.yml -e race_tag=m
check faults '{}'
check one-agent race-agent-m +14155551304 +14155551324 +14155551344
# Either both created and one agent was merged away, or the second read after the first created.
if check agent-writes 2 1 2>/dev/null; then
    echo "both runs created the agent; one was merged into the other"
else
    check agent-writes 1 0
    echo "the runs did not overlap: the second found the agent"
fi
echo "all agent race checks passed in ${SECONDS}s"
