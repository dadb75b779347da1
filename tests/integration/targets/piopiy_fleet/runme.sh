#!/usr/bin/env bash
# The fleet module and playbooks/support_agent.yml (one piopiy_fleet plan per workspace) against the emulator, run as
# real ansible-playbook processes so that two runs can start together; check_fleet.py checks the emulator's state and request log after each step.
# ansible-test runs this from the target's directory, with the integration config two levels up.
set -euo pipefail

config="$(cd ../.. && pwd)/integration_config.yml"
python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
source ../setup_piopiy/files/together.sh
source ../setup_piopiy/files/expect.sh

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

echo "== playbooks/support_agent.yml: two workspaces in one inventory, --limit, then all"
check reset
playbook piopiy.voice.support_agent --limit fleet-dev >"$scratch/limited.out" 2>&1 || { cat "$scratch/limited.out"; exit 1; }
expect_recap_changed "$scratch/limited.out" fleet-dev=1
check fleet-playbook limited
# playbooks/fleet.yml is its deprecated alias for one release, and says so.
expect_status 0 playbook piopiy.voice.fleet --check --diff
expect_output "DEPRECATED: playbooks/fleet.yml (piopiy.voice.fleet) is an alias of playbooks/support_agent.yml"
expect_recap_changed "$scratch/out" fleet-dev=1
echo "== a cap on the run's route changes over two workspaces stops the run before any write"
check clear-log
if playbook piopiy.voice.support_agent -e support_agent_max_route_changes_per_run=2 >"$scratch/capped.out" 2>&1; then
    cat "$scratch/capped.out"
    echo "a run over its cap on route changes passed" >&2
    exit 1
fi
grep -q "the run would make 3 route change(s) in 3 environment(s), more than support_agent_max_route_changes_per_run=2" "$scratch/capped.out" ||
    { cat "$scratch/capped.out"; exit 1; }
expect_recap_changed "$scratch/capped.out" ''  # the plan of every workspace first is a prediction, not a change
check no-writes
if playbook piopiy.voice.support_agent -e support_agent_max_route_changes_per_run=2 --check >"$scratch/capped.out" 2>&1; then
    cat "$scratch/capped.out"
    echo "a dry run over its cap on route changes passed" >&2
    exit 1
fi
grep -q "the run would make 3 route change(s) in 3 environment(s), more than support_agent_max_route_changes_per_run=2" "$scratch/capped.out" ||
    { cat "$scratch/capped.out"; exit 1; }
# A dry run says what would change: the fleet task runs once, on the play's first host.
expect_recap_changed "$scratch/capped.out" fleet-dev=1
check no-writes
playbook piopiy.voice.support_agent -e support_agent_max_route_changes_per_run=3 >"$scratch/capped.out" 2>&1 || { cat "$scratch/capped.out"; exit 1; }
expect_recap_changed "$scratch/capped.out" fleet-dev=1  # as uncapped: the pre-pass over both workspaces adds nothing
check fleet-playbook all
echo "== the fleet's guard rails refuse before any write"
check clear-log
playbook guards.yml
check no-writes

echo "== playbooks/support_agent.yml: every check of the inventory holds before any environment is written"
check reset
# The inventory of three environments of ws_acme, one-a, one-b and one-c; an argument that is not empty replaces
# the variables of that host (a YAML flow mapping).
environments() {
    local a=${1:-} b=${2:-} c=${3:-}
    [ -n "$a" ] || a='{support_agent_phone_numbers: ["+19499800005"]}'
    [ -n "$b" ] || b='{support_agent_phone_numbers: ["+19499800006"]}'
    [ -n "$c" ] || c='{support_agent_phone_numbers: ["+19499800009"]}'
    cat >"$scratch/one.yml" <<EOF
piopiy_environments:
  vars:
    ansible_connection: local
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
    support_agent_api_key: "{{ piopiy_api_key }}"
    support_agent_api_base: "{{ piopiy_api_base }}"
  hosts:
    one-a: $a
    one-b: $b
    one-c: $c
EOF
}
one() { ansible-playbook -i "$scratch/one.yml" -e "@$config" piopiy.voice.support_agent "$@"; }
applied=('+19499800005=one-a-support-agent' '+19499800006=one-b-support-agent' '+19499800009=one-c-support-agent')
# one-a adds +19499800010 in the refused runs below: one environment at a time, it would have been written first.
one_a_adds='{support_agent_phone_numbers: ["+19499800005", "+19499800010"]}'
environments
expect_status 0 one
check routed "${applied[@]}"
check clear-log

# A misspelt variable, missing numbers, in the last environment.
environments "$one_a_adds" '' '{support_agent_phone_number: ["+19499800009"], support_agent_phone_numbers: ["+19499800009"]}'
expect_status 2 one
expect_output "unknown variable(s) for the support_agent role in one-c: support_agent_phone_number (did you mean support_agent_phone_numbers?)"
expect_output "nothing was changed in any environment"
environments "$one_a_adds" '' '{support_agent_language: en-US}'
expect_status 2 one
expect_output "one-c: support_agent_phone_numbers is not set"
expect_status 2 one --check
expect_output "one-c: support_agent_phone_numbers is not set"
environments "$one_a_adds" '' '{support_agent_phone_numbers: []}'
expect_status 2 one
expect_output "one-c: support_agent_phone_numbers is empty, which unmaps every number of one-c-support-agent"
# A number listed by two environments; two environments naming one agent.
environments "$one_a_adds" '' '{support_agent_phone_numbers: ["+19499800009", "+1 (949) 980-0010"]}'
expect_status 2 one
expect_output "number +19499800010 is listed by 2 environments (one-a, one-c): a number routes to one agent"
environments "$one_a_adds" '' '{support_agent_name: one-a-support-agent, support_agent_phone_numbers: ["+19499800009"]}'
expect_status 2 one
expect_output "agent name 'one-a-support-agent' is used by 2 environments (one-a, one-c) of one workspace"
# A protected number moved, an environment over its own cap, the run over its cap.
environments "$one_a_adds" '{support_agent_phone_numbers: ["+19499800006", "+19499800009"]}' \
    '{support_agent_phone_numbers: [], support_agent_allow_empty: true, support_agent_protected_numbers: ["+19499800009"]}'
expect_status 2 one
expect_output "environment one-b: the task would re-route or unroute protected number(s): +19499800009 (map)"
expect_output "(playbooks/support_agent.yml: support_agent_allow_protected_changes: true)"
environments "$one_a_adds" '' '{support_agent_phone_numbers: ["+19499800001"], support_agent_max_route_changes: 1}'
expect_status 2 one
expect_output "environment one-c: the task would make 2 route change(s), more than max_route_changes=1"
expect_output "raise the environment's max_route_changes (playbooks/support_agent.yml: support_agent_max_route_changes)"
environments "$one_a_adds" '' '{support_agent_phone_numbers: ["+19499800001"], support_agent_max_route_changes: abc}'
expect_status 2 one
expect_output "one-c: support_agent_max_route_changes must be a whole number of route changes, 0 or more, got 'abc'"
# A boolean that is neither true nor false would read as false: one-c would keep the numbers it no longer lists.
environments "$one_a_adds" '' '{support_agent_phone_numbers: ["+19499800009"], support_agent_exclusive: ture, support_agent_language: english}'
expect_status 2 one
expect_output "one-c: support_agent_exclusive must be true or false, got 'ture'"
expect_output "one-c: support_agent_language 'english' is not a BCP 47 tag"
environments "$one_a_adds" '' '{support_agent_phone_numbers: ["+19499800001"], support_agent_max_route_changes_per_run: 1}'
expect_status 2 one
expect_output "support_agent_max_route_changes_per_run differs between environments (one-c: 1; one-a, one-b: unset)"
environments "$one_a_adds" '' '{support_agent_phone_numbers: ["+19499800001"]}'
expect_status 2 one -e support_agent_max_route_changes_per_run=2
expect_output "the run would make 3 route change(s) in 2 environment(s), more than support_agent_max_route_changes_per_run=2"
expect_status 2 one -e support_agent_max_route_changes_per_run=2 --check
expect_output "the run would make 3 route change(s) in 2 environment(s), more than support_agent_max_route_changes_per_run=2"
# An environment removed without its confirmation.
environments "$one_a_adds" '{support_agent_state: absent}'
expect_status 2 one
expect_output "environment one-b is to be removed"
expect_output "-e confirm=one-b"
# The rotation and buying plays write before the workspace's apply: every plan is checked before them. An environment
# removed without its confirmation, while another rotates its credentials; an environment over its cap, while another
# buys a number; an environment over its purchase budget, while another buys within its own.
rotates='{support_agent_phone_numbers: ["+19499800009"], support_agent_rotate: now, support_agent_token_file: "'$scratch'/one-c.env"}'
environments "$one_a_adds" '{support_agent_state: absent}' "$rotates"
expect_status 2 one
expect_output "environment one-b is to be removed"
buys='{support_agent_phone_numbers: ["+19499800005", "+19499810060"], support_agent_buy_missing_numbers: true, support_agent_max_purchases: 1}'
environments "$buys" '' '{support_agent_phone_numbers: ["+19499800001"], support_agent_max_route_changes: 1}'
expect_status 2 one
expect_output "environment one-c: the task would make 2 route change(s), more than max_route_changes=1"
environments "$buys" \
    '{support_agent_phone_numbers: ["+19499800006", "+19499810061", "+19499810062"], support_agent_buy_missing_numbers: "1", support_agent_max_purchases: 1}'
expect_status 2 one
expect_output "one-b: the task would buy 2 number(s), more than support_agent_max_purchases=1"
# Limited to one environment, a number that another environment lists is still refused.
environments '{support_agent_phone_numbers: ["+19499800005", "+19499800006"]}'
expect_status 2 one --limit one-a
expect_output "number +19499800006 is listed by 2 environments (one-a, one-b)"
# Limited to one environment, it never unmaps a number that an environment left out lists or protects.
environments '' '{support_agent_phone_numbers: ["+19499800007"]}' '{support_agent_phone_numbers: ["+19499800009", "+19499800006"]}'
expect_status 2 one --limit one-b
expect_output "environment one-b: the task would unmap +19499800006 (listed by one-c), a number of an environment this task does not apply"
expect_output "without --limit, or with one-c too"
environments '' '{support_agent_phone_numbers: ["+19499800007"]}' '{support_agent_phone_numbers: ["+19499800009"], support_agent_protected_numbers: ["+19499800006"]}'
expect_status 2 one --limit one-b
expect_output "environment one-b: the task would re-route or unroute protected number(s): +19499800006 (unmap)"
# Applied by the role to several hosts of one play, a number two of them list is refused before any write.
environments '' '' '{support_agent_phone_numbers: ["+19499800009", "+19499800005"]}'
expect_status 2 ansible-playbook -i "$scratch/one.yml" -e "@$config" role_hosts.yml
expect_output "number +19499800005 is listed by 2 environments (one-a, one-c)"
# Two API keys of one workspace (here its read-only one): grouped by key, each key's environments would be planned
# without the others; the plans read the same agents, and the run stops before any write, a dry run too.
environments "$one_a_adds" '' '{support_agent_api_key: "{{ piopiy_readonly_api_key }}", support_agent_phone_numbers: ["+19499800009"]}'
expect_status 2 one
expect_output "the API keys of environments [one-a, one-b] and [one-c] reach one workspace (each lists its agents)"
expect_output "Nothing was changed in any environment: give every environment of a workspace the same support_agent_api_key"
expect_status 2 one --check
expect_output "the API keys of environments [one-a, one-b] and [one-c] reach one workspace (each lists its agents)"
check no-writes
check routed "${applied[@]}"

echo "== the one playbook removes an environment with its confirmation, and applies the others in the same run"
environments "$one_a_adds" '{support_agent_state: absent}'
expect_status 0 one --check --diff -e confirm=one-b
check no-writes
expect_status 0 one -e confirm=one-b
check routed +19499800005=one-a-support-agent +19499800010=one-a-support-agent +19499800006=- +19499800009=one-c-support-agent
check agents one- one-a-support-agent one-c-support-agent

echo "== a new environment keeps its agent's token in its token file; rotation through the one playbook"
token_b='{support_agent_phone_numbers: ["+19499800006"], support_agent_token_file: "'$scratch'/one-b.env", support_agent_token_file_format: env}'
environments "$one_a_adds" "$token_b"
expect_status 0 one
check token-file "$scratch/one-b.env" one-b-support-agent
first_id=$(grep '^AGENT_ID=' "$scratch/one-b.env")
expect_status 0 one --limit one-b -e support_agent_rotate=now
check token-file "$scratch/one-b.env" one-b-support-agent
[ "$(grep '^AGENT_ID=' "$scratch/one-b.env")" != "$first_id" ] || { echo "the rotation kept agent $first_id" >&2; exit 1; }
check routed +19499800006=one-b-support-agent
check agents one- one-a-support-agent one-b-support-agent one-c-support-agent

echo "== a rotation left in progress is finished, then every plan is checked again before any number is bought"
check faults '{"rate_5xx": 1.0, "only": "POST /v1/phone-number-routing"}'
expect_status 2 one --limit one-b -e support_agent_rotate=now
check faults '{}'
check clear-log
buys_new='{support_agent_phone_numbers: ["+19499800005", "+19499800010", "+19499810071"], support_agent_buy_missing_numbers: true, support_agent_max_purchases: 1}'
resumes_b='{support_agent_phone_numbers: ["+19499800006", "+19499800007"], support_agent_token_file: "'$scratch'/one-b.env", support_agent_token_file_format: env, support_agent_rotate: now, support_agent_max_route_changes: 0}'
environments "$buys_new" "$resumes_b"
expect_status 2 one
expect_output "environment one-b: the task would make 1 route change(s), more than max_route_changes=0"
check no-purchase
environments "$one_a_adds" "$token_b"
expect_status 0 one
check token-file "$scratch/one-b.env" one-b-support-agent
check routed +19499800006=one-b-support-agent
check agents one- one-a-support-agent one-b-support-agent one-c-support-agent

echo "== without a purchase too, every workspace is planned again after the rotations, before any is written"
# One-c moves to another workspace, applied in the same run: it must not be written while one-b's plan is refused.
check faults '{"rate_5xx": 1.0, "only": "POST /v1/phone-number-routing"}'
expect_status 2 one --limit one-b -e support_agent_rotate=now
check faults '{}'
other_c='{support_agent_api_key: "{{ piopiy_other_api_key }}", support_agent_phone_numbers: ["+442071230001"]}'
environments "$one_a_adds" "$resumes_b" "$other_c"
expect_status 2 one
expect_output "environment one-b: the task would make 1 route change(s), more than max_route_changes=0"
check other-untouched one-c-support-agent +442071230001
environments "$one_a_adds" "$token_b"
expect_status 0 one
check token-file "$scratch/one-b.env" one-b-support-agent
check agents one- one-a-support-agent one-b-support-agent one-c-support-agent

echo "== an unchanged re-run writes nothing"
check clear-log
expect_status 0 one
expect_recap_changed "$scratch/out" ''
check no-writes
echo "all fleet checks passed"
