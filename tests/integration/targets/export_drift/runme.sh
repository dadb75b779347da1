#!/usr/bin/env bash
# Export a workspace made by hand, round trip it with zero writes, and gate drift in --check with the
# piopiy.voice.plan callback; then the guard rails and the unmanaged report. workspace.py seeds the emulator
# over its API and checks what the runs left. ansible-test runs this from the target's directory, with the
# integration config two levels up.
set -euo pipefail

config="$(cd ../.. && pwd)/integration_config.yml"
python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

api_base=$("$python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["piopiy_api_base"])' "$config")
export PIOPIY_API_KEY=pk_test_acme_0001 PIOPIY_API_BASE=$api_base
# ansible-test enables its junit callback through this variable; keep it and add ours.
export ANSIBLE_CALLBACKS_ENABLED="${ANSIBLE_CALLBACKS_ENABLED:+$ANSIBLE_CALLBACKS_ENABLED,}piopiy.voice.audit,piopiy.voice.plan"
export PIOPIY_AUDIT_LOG="$scratch/audit.jsonl" PIOPIY_PLAN_DIR="$scratch/plan"

workspace() { "$python" workspace.py "$config" "$@"; }
inventory="$scratch/inventory"

source ../setup_piopiy/files/expect.sh

# The PLAY RECAP of the last command counts these hosts changed (host=count; every other host 0).
expect_recap_changed() {
    "$python" ../setup_piopiy/files/recap.py "$scratch/out" "$1"
}

echo "== export a workspace made by hand"
workspace seed
expect_status 0 ansible-playbook piopiy.voice.export -e "export_dir=$inventory"
workspace exported "$inventory"
workspace no-secrets "$inventory"

echo "== existing files are never replaced silently; with force, the same bytes again"
cp -r "$inventory" "$scratch/first"
echo "# edited" >>"$inventory/host_vars/dev.yml"
expect_status 2 ansible-playbook piopiy.voice.export -e "export_dir=$inventory"
expect_output "already holds $inventory/export-report.txt, $inventory/group_vars/piopiy_environments.yml, $inventory/host_vars/agent-6-7.yml"
expect_output "nothing was written"
grep -q '# edited' "$inventory/host_vars/dev.yml"
expect_status 0 ansible-playbook piopiy.voice.export -e "export_dir=$inventory" -e export_force=true
diff -r "$scratch/first" "$inventory"

echo "== the round trip: --check reports nothing to change, a real run writes nothing"
workspace clear-log
expect_status 0 ansible-playbook -i "$inventory" piopiy.voice.support_agent --check
expect_output "changed=0"
workspace plan "$PIOPIY_PLAN_DIR" clean
expect_status 0 ansible-playbook -i "$inventory" piopiy.voice.support_agent
workspace no-writes
test -s "$PIOPIY_AUDIT_LOG"  # the audit trail works beside the plan

echo "== drift made in the dashboard: a number re-routed, an agent renamed"
workspace behind-the-back
workspace clear-log
expect_status 16 ansible-playbook -i "$inventory" piopiy.voice.support_agent --check
expect_output "drift in cafe-deja-vu, dev, sales-bot"
expect_recap_changed 'cafe-deja-vu=1 dev=1 sales-bot=1'
workspace no-writes
workspace plan "$PIOPIY_PLAN_DIR" drift \
    'cafe-deja-vu,create,-,-,Café Déjà-Vu!' 'cafe-deja-vu,map,+19499800005,agent_id,Café Déjà-Vu!' \
    'dev,unmap,+19499800003,dev-support-agent,-' 'sales-bot,map,+19499800003,dev-support-agent,Sales Bot'
grep -q '| sales-bot | Sales Bot | +19499800003 | dev-support-agent | Sales Bot | map |' "$PIOPIY_PLAN_DIR/plan.md"
PIOPIY_DRIFT_EXIT=false expect_status 0 ansible-playbook -i "$inventory" piopiy.voice.support_agent --check --limit sales-bot
workspace no-secrets "$PIOPIY_PLAN_DIR"

echo "== a failed task and an unreachable host keep ansible-playbook's own status beside drift"
cp -r "$inventory" "$scratch/broken"
printf '    broken:\n    gone:\n      ansible_connection: ssh\n      ansible_host: 127.0.0.1\n      ansible_port: 1\n' >>"$scratch/broken/hosts.yml"
printf -- '---\nsupport_agent_phone_numbers: ["+1"]\n' >"$scratch/broken/host_vars/broken.yml"
printf -- '---\nsupport_agent_phone_numbers: ["+19499800009"]\n' >"$scratch/broken/host_vars/gone.yml"
expect_status 2 ansible-playbook -i "$scratch/broken" piopiy.voice.support_agent --check --limit broken,sales-bot
expect_status 4 ansible-playbook -i "$scratch/broken" piopiy.voice.support_agent --check --limit gone,sales-bot
workspace no-writes

echo "== changes by other collections are not drift"
expect_status 0 ansible-playbook -i inventory.yml -e "@$config" other_collections.yml --check
expect_output "changed=2"

echo "== guard rails stop a mistake before any write"
expect_status 2 ansible-playbook -i "$inventory" piopiy.voice.support_agent --limit dev -e '{"support_agent_phone_number": []}'
expect_output "unknown variable(s) for the support_agent role in dev: support_agent_phone_number (did you mean support_agent_phone_numbers?)"
sed -i '/support_agent_phone_numbers/,$d' "$scratch/first/host_vars/dev.yml"
expect_status 2 ansible-playbook -i "$scratch/first" piopiy.voice.support_agent --limit dev
expect_output "dev: support_agent_phone_numbers is not set"
expect_status 2 ansible-playbook -i "$inventory" piopiy.voice.support_agent --limit dev -e '{"support_agent_phone_numbers": []}'
expect_output "support_agent_phone_numbers is empty, which unmaps every number of dev-support-agent"
expect_status 2 ansible-playbook -i "$inventory" piopiy.voice.teardown --limit dev -e confirm=yes
expect_output "Confirm with -e confirm=dev (got yes)"
expect_status 2 ansible-playbook -i "$inventory" piopiy.voice.teardown --limit all -e confirm=dev,prod
expect_output "Tearing down 7 environments at once also needs -e teardown_many=true"
expect_status 2 ansible-playbook -i "$inventory" piopiy.voice.teardown --limit dev,prod -e confirm=dev,prod
expect_output "Tearing down 2 environments at once also needs -e teardown_many=true"
workspace no-writes
expect_status 16 ansible-playbook -i "$inventory" piopiy.voice.teardown --limit dev,prod -e confirm=prod,dev -e teardown_many=true --check
expect_output "drift in dev, prod"
workspace no-writes

echo "== the unmanaged report lists what no environment manages, and deletes nothing"
expect_status 0 ansible-playbook -i "$inventory" piopiy.voice.unmanaged --limit dev,sales-bot
expect_output "7 agent(s) and 3 route(s) that no environment of the inventory manages (nothing was deleted)"
expect_output "route +19499800004 -> Billing"
expect_output "agent {{ 6 * 7 }}"
workspace no-writes

echo "== the per-run cap: the drift above is 3 route changes in 3 environments; over the cap nothing is written"
audit_lines=$(wc -l <"$PIOPIY_AUDIT_LOG")
workspace clear-log
expect_status 2 ansible-playbook -i "$inventory" piopiy.voice.support_agent -e support_agent_max_route_changes_per_run=2
expect_output "the run would make 3 route change(s) in 3 environment(s), more than support_agent_max_route_changes_per_run=2:"
expect_output "cafe-deja-vu 1 (map +19499800005); dev 1 (unmap +19499800003); sales-bot 1 (map +19499800003). Nothing was changed in any environment"
expect_recap_changed ''  # the pre-flight's check-mode plans are a prediction, not a change
workspace no-writes
test "$(wc -l <"$PIOPIY_AUDIT_LOG")" -eq "$audit_lines"  # the pre-flight runs in check mode: nothing in the audit trail
# A dry run says the same: its last play checks what every environment planned against the cap.
expect_status 2 ansible-playbook -i "$inventory" piopiy.voice.support_agent -e support_agent_max_route_changes_per_run=2 --check
expect_output "cafe-deja-vu 1 (map +19499800005); dev 1 (unmap +19499800003); sales-bot 1 (map +19499800003). Nothing was changed in any environment"
expect_recap_changed 'cafe-deja-vu=1 dev=1 sales-bot=1'  # a dry run says what would change
workspace no-writes

echo "== at the cap the run applies, and its report holds what it did, not the pre-flight's prediction too"
expect_status 0 ansible-playbook -i "$inventory" piopiy.voice.support_agent -e support_agent_max_route_changes_per_run=3
expect_recap_changed 'cafe-deja-vu=1 dev=1 sales-bot=1'  # what the run changed, as uncapped: the pre-flight adds nothing
# One environment at a time: dev unmaps +19499800003 before sales-bot maps it, so the map finds no route.
workspace plan "$PIOPIY_PLAN_DIR" applied \
    'cafe-deja-vu,create,-,-,Café Déjà-Vu!' 'cafe-deja-vu,map,+19499800005,agent_id,Café Déjà-Vu!' \
    'dev,unmap,+19499800003,dev-support-agent,-' 'sales-bot,map,+19499800003,-,Sales Bot'
expect_status 0 ansible-playbook -i "$inventory" piopiy.voice.support_agent --check
expect_output "changed=0"

echo "== the cap unset costs no module run; set, one check-mode run per environment"
workspace clear-log
expect_status 0 ansible-playbook -i "$inventory" piopiy.voice.support_agent
expect_output "changed=0"
reads_unset=$(workspace requests GET)
workspace clear-log
expect_status 0 ansible-playbook -i "$inventory" piopiy.voice.support_agent -e support_agent_max_route_changes_per_run=0
reads_set=$(workspace requests GET)
workspace no-writes
if [ "$reads_unset" -eq 0 ] || [ "$reads_set" -ne $((2 * reads_unset)) ]; then
    echo "expected the pre-flight to double the reads of a converged run ($reads_unset without it), got $reads_set" >&2
    exit 1
fi
if grep -q '"check_mode": true' "$PIOPIY_AUDIT_LOG"; then
    echo "a task in check mode was recorded in the audit trail" >&2
    exit 1
fi
echo "all export and drift checks passed"
