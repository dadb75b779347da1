#!/usr/bin/env bash
# The collection on the published Piopiy API alone (issue 22): the emulator answers every unpublished call 404 or 405.
# modules.yml: agents and routes with piopiy_agent, piopiy_number_route and the info modules; then the support_agent
# role, its drift gate in --check, and the export. api_profile stays auto: the collection learns what is missing.
# ansible-test runs this from the target's directory, with the integration config two levels up.
set -euo pipefail

config="$(cd ../.. && pwd)/integration_config.yml"
python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
scratch=$(mktemp -d)
admin() { "$python" ../setup_piopiy/files/emulator_admin.py "$config" "$@"; }
ANSIBLE_ROLES_PATH="$(cd .. && pwd)"  # setup_piopiy
export ANSIBLE_ROLES_PATH
emulator_url=$("$python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["piopiy_emulator_url"])' "$config")
profile() { curl -fsS -X PUT -H 'Content-Type: application/json' -d "{\"profile\": \"$1\"}" "$emulator_url/__emulator__/profile" >/dev/null; }
finish() {
    admin reset  # the emulator's start profile back, for the targets after this one
    rm -rf "$scratch"
}
trap finish EXIT

api_base=$("$python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["piopiy_api_base"])' "$config")
export PIOPIY_API_KEY=pk_test_acme_0001 PIOPIY_API_BASE=$api_base
# The run's capability cache and the locks live under TMPDIR: this run's own, so that what it learns about the published
# API never reaches another target's run against the full one.
export TMPDIR="$scratch/tmp"
mkdir -p "$TMPDIR"

source ../setup_piopiy/files/expect.sh

echo "== agents and routes with the modules"
admin reset
profile published
expect_status 0 ansible-playbook -i localhost, -c local -e "@$config" -e "ansible_python_interpreter=$python" modules.yml
rm -rf "$TMPDIR" && mkdir -p "$TMPDIR"  # a new run

echo "== the support_agent role: create and map, then the same again"
admin reset
profile published
inventory="$scratch/inventory"
mkdir -p "$inventory/host_vars"
cat >"$inventory/hosts.yml" <<YAML
---
piopiy_environments:
  hosts:
    pubdev:
      support_agent_phone_numbers: ["+19499800001", "+19499800002"]
      support_agent_language: en-IN
  vars:
    ansible_connection: local
    ansible_python_interpreter: "$python"
YAML
# The one playbook plans a workspace from its routes: here it stops before any write, naming the call it lacks.
expect_status 2 ansible-playbook -i "$inventory" piopiy.voice.support_agent
expect_output "GET /phone-number-routing is not available on this API"
expect_no_output "api_base"
admin no-writes
expect_status 0 ansible-playbook -i "$inventory" role.yml
expect_output "pubdev-support-agent"
admin clear-log
# The agent exists now: exclusive numbers (the role's default) need the route calls.
expect_status 2 ansible-playbook -i "$inventory" role.yml
expect_output "exclusive=true (unmap the numbers of the agent that the task does not list) needs GET /phone-number-routing"
expect_no_output "api_base"
admin no-writes
sed -i 's/^  vars:/      support_agent_exclusive: false\n  vars:/' "$inventory/hosts.yml"
expect_status 0 ansible-playbook -i "$inventory" role.yml
expect_output "changed=1"  # every listed number is sent again: its route cannot be read

echo "== the drift gate in --check: the routes are unknown, not drift, and nothing is written"
admin clear-log
export ANSIBLE_CALLBACKS_ENABLED="${ANSIBLE_CALLBACKS_ENABLED:+$ANSIBLE_CALLBACKS_ENABLED,}piopiy.voice.plan"
export PIOPIY_PLAN_DIR="$scratch/plan"
status=0
ansible-playbook -i "$inventory" role.yml --check --diff >"$scratch/out" 2>&1 || status=$?
if [ "$status" -eq 16 ] || [ "$status" -eq 2 ]; then
    cat "$scratch/out"
    echo "the drift gate reported drift or failed ($status) where the routes are only unknown" >&2
    exit 1
fi
expect_output "current route unknown (the API cannot read routes), so mapped again: +19499800001, +19499800002"
expect_output "changed=0"
admin no-writes

echo "== the export writes the agents and says the routes are unknown"
expect_status 0 ansible-playbook piopiy.voice.export -e "export_dir=$scratch/export"
expect_output "the routes are UNKNOWN"
grep -q 'Its numbers are unknown' "$scratch/export/host_vars/pubdev.yml"
if grep -q '^support_agent_phone_numbers' "$scratch/export/host_vars/pubdev.yml"; then
    echo "the export wrote numbers it could not read" >&2
    exit 1
fi
grep -q '^support_agent_language' "$scratch/export/host_vars/pubdev.yml" && { echo "the export guessed a language" >&2; exit 1; }
grep -q '# Routes: UNKNOWN' "$scratch/export/export-report.txt"
# The exported inventory is refused until its numbers are listed: it never unmaps them.
admin clear-log
expect_status 2 ansible-playbook -i "$scratch/export" role.yml
expect_output "support_agent_phone_numbers is not set"
admin no-writes

echo "== teardown: the role's absent on an agent with numbers says what to do; re-routed elsewhere, it deletes"
expect_status 2 ansible-playbook -i "$inventory" role.yml --limit pubdev -e support_agent_state=absent
expect_output "numbers still route to it"
expect_output "cannot remove a route"
expect_no_output "api_base"
curl -fsS -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $PIOPIY_API_KEY" \
    -d '{"name": "elsewhere", "language": "en-US"}' "$api_base/ai-agents" >"$scratch/elsewhere.json"
elsewhere=$("$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["id"])' "$scratch/elsewhere.json")
for number in +19499800001 +19499800002; do
    curl -fsS -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $PIOPIY_API_KEY" \
        -d "{\"phone_number\": \"$number\", \"route_type\": \"ai_agent\", \"agent_id\": \"$elsewhere\"}" "$api_base/phone-number-routing" >/dev/null
done
expect_status 0 ansible-playbook -i "$inventory" role.yml --limit pubdev -e support_agent_state=absent
expect_output "changed=1"
echo "all published API checks passed"
