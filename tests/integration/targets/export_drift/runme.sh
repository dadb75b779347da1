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

# The lines of the audit trail; the trail holds changes only, so the file is missing until the first change.
audit_count() {
    if [ -f "$PIOPIY_AUDIT_LOG" ]; then wc -l <"$PIOPIY_AUDIT_LOG"; else echo 0; fi
}

# The PLAY RECAP of the last command counts these hosts changed (host=count; every other host 0).
expect_recap_changed() {
    "$python" ../setup_piopiy/files/recap.py "$scratch/out" "$1"
}

echo "== names YAML would read as booleans, null or a number, and an agent mid-rotation, round trip through Ansible"
workspace seed-special
expect_status 0 ansible-playbook piopiy.voice.export -e "export_dir=$scratch/special"
expect_output "1 credential rotation(s) in progress: exported as after the rotation, finish it before running the role (prod)"
ansible-inventory -i "$scratch/special" --list >"$scratch/special.json"
workspace special-exported "$scratch/special.json"
expect_status 0 ansible-playbook -i "$scratch/special" piopiy.voice.support_agent --check --limit 'piopiy_environments:!prod'
expect_output "changed=0"
expect_recap_changed ''
workspace finish-rotation prod-support-agent
workspace clear-log
expect_status 0 ansible-playbook -i "$scratch/special" piopiy.voice.support_agent --check --limit prod
expect_recap_changed ''
workspace no-writes

echo "== nothing the API returned is ever templated"
expect_status 0 ansible-playbook -i inventory.yml -e "hostile_dir=$scratch/hostile" hostile_write.yml
expect_status 0 ansible-playbook -i "$scratch/hostile" -e "hostile_marker=$scratch/templated" hostile_read.yml
grep -qF 'support_agent_language: !unsafe "{{' "$scratch/hostile/host_vars/sales-bot.yml"
expect_output "\"msg\": \"language: {{ lookup('ansible.builtin.pipe', 'touch ' ~ hostile_marker) }}\""
test ! -e "$scratch/templated"

echo "== export a workspace made by hand"
workspace seed
expect_status 0 ansible-playbook piopiy.voice.export -e "export_dir=$inventory"
workspace exported "$inventory"
workspace no-secrets "$inventory"

echo "== a relative export_dir is relative to the current directory, never to the collection's playbooks/"
# The playbooks/ of the collection ansible-playbook runs piopiy.voice.export from: where the old export wrote.
collection_playbooks=$(ansible-galaxy collection list piopiy.voice --format json |
    "$python" -c 'import json, sys; print(next(iter(json.load(sys.stdin))) + "/piopiy/voice/playbooks")')
test -f "$collection_playbooks/export.yml"
shipped=$(find "$collection_playbooks" -type f | sort | xargs md5sum)
mkdir "$scratch/cwd"
(cd "$scratch/cwd" && expect_status 0 ansible-playbook piopiy.voice.export -e export_dir=inventory)
expect_output "7 environment(s) written to $scratch/cwd/inventory:"
diff -r "$inventory" "$scratch/cwd/inventory"
test "$(find "$collection_playbooks" -type f | sort | xargs md5sum)" = "$shipped"
(cd "$scratch/cwd" && expect_status 2 ansible-playbook piopiy.voice.export -e export_dir=inventory/)
expect_output "$scratch/cwd/inventory already holds $scratch/cwd/inventory/export-report.txt"
test "$(find "$collection_playbooks" -type f | sort | xargs md5sum)" = "$shipped"

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
test ! -s "$PIOPIY_AUDIT_LOG"  # the trail holds changes: an unchanged run's reads give no line

echo "== drift made in the dashboard: a number re-routed, an agent renamed"
workspace behind-the-back
workspace clear-log
expect_status 16 ansible-playbook -i "$inventory" piopiy.voice.support_agent --check -e support_agent_report_per_host=true
expect_output "piopiy.voice.plan: drift in "
# The workspace's one task runs on the play's first host (agent-6-7); support_agent_report_per_host adds each environment's.
expect_recap_changed 'agent-6-7=1 cafe-deja-vu=1 sales-bot=1'
workspace no-writes
# One plan for the workspace: sales-bot's map takes +19499800003 from dev, and dev unmaps nothing. The rows are compared
# without their environment (*), and an agent the run knows may be named or shown by id (a|b): filing a workspace task's
# changes under each environment, and naming its agents, are the plan callback's (issue 23).
workspace plan "$PIOPIY_PLAN_DIR" drift \
    '*,create,-,-,Café Déjà-Vu!' '*,map,+19499800005,agent_id,Café Déjà-Vu!' \
    '*,map,+19499800003,agent_id|dev-support-agent,agent_id|Sales Bot'
grep -q '| +19499800003 | .* | map |' "$PIOPIY_PLAN_DIR/plan.md"
PIOPIY_DRIFT_EXIT=false expect_status 0 ansible-playbook -i "$inventory" piopiy.voice.support_agent --check --limit sales-bot
workspace no-secrets "$PIOPIY_PLAN_DIR"

echo "== a failed task and an unreachable host keep ansible-playbook's own status beside drift"
cp -r "$inventory" "$scratch/broken"
# The workspace's task runs once, on the play's first host: gone comes first, so that it is the host that cannot connect.
sed -i 's/^  hosts:$/  hosts:\n    gone:\n      ansible_connection: ssh\n      ansible_host: 127.0.0.1\n      ansible_port: 1\n    broken:/' \
    "$scratch/broken/hosts.yml"
printf -- '---\nsupport_agent_phone_numbers: ["+1"]\n' >"$scratch/broken/host_vars/broken.yml"
printf -- '---\nsupport_agent_phone_numbers: ["+19499800009"]\n' >"$scratch/broken/host_vars/gone.yml"
expect_status 2 ansible-playbook -i "$scratch/broken" piopiy.voice.support_agent --check --limit broken,sales-bot
# ansible-playbook's own status for the unreachable host, without the gate: 4 from ansible-core 2.17 on; 2.16 exits 2 when
# the host was unreachable in a loop's item. The gate must keep whichever the core gives.
own=0
ANSIBLE_CALLBACKS_ENABLED=${ANSIBLE_CALLBACKS_ENABLED/,piopiy.voice.plan/} \
    ansible-playbook -i "$scratch/broken" piopiy.voice.support_agent --check --limit gone,sales-bot >/dev/null 2>&1 || own=$?
case $own in 2 | 4) ;; *) echo "ansible-playbook without the gate exited $own for an unreachable host, not 2 or 4"; exit 1 ;; esac
expect_status "$own" ansible-playbook -i "$scratch/broken" piopiy.voice.support_agent --check --limit gone,sales-bot
expect_output "the run failed for gone"
workspace no-writes

echo "== changes by other collections are not drift"
expect_status 0 ansible-playbook -i inventory.yml -e "@$config" other_collections.yml --check
expect_output "changed=2"

echo "== the gate never says no drift when it compared nothing or a check failed (docs/drift-gate.md)"
workspace clear-log
# ansible-test makes a pattern that matches nothing an error (status 1); users get Ansible's default, a warning and 0.
# gate.yml's plays that a case does not use match no host too.
export ANSIBLE_HOST_PATTERN_MISMATCH=warning
expect_status 19 ansible-playbook -i "$scratch/no-such-inventory" piopiy.voice.support_agent --check
expect_output "nothing was compared: no piopiy.voice task ran for any host"
workspace gate "$PIOPIY_PLAN_DIR" nothing_compared null
grep -qF '**Nothing was compared**' "$PIOPIY_PLAN_DIR/plan.md"
expect_status 18 ansible-playbook -i inventory.yml gate.yml --check -e gate_ignored=localhost
expect_output "the run failed for localhost"
workspace gate "$PIOPIY_PLAN_DIR" incomplete null localhost=failed
grep -qF '| localhost | | | | | not compared (failed) |' "$PIOPIY_PLAN_DIR/plan.md"
expect_status 18 ansible-playbook -i inventory.yml gate.yml --check -e gate_rescued=localhost
workspace gate "$PIOPIY_PLAN_DIR" incomplete null localhost=failed
expect_status 16 ansible-playbook -i inventory.yml gate.yml --check -e gate_hidden=localhost
workspace gate "$PIOPIY_PLAN_DIR" drift true localhost=ok
grep -qF '| localhost | (hidden by no_log) | | | | change (hidden) |' "$PIOPIY_PLAN_DIR/plan.md"
grep -qF '1 change(s) (1 hidden by no_log) in 1 environment(s): localhost.' "$PIOPIY_PLAN_DIR/plan.md"
expect_status 18 ansible-playbook -i inventory.yml gate.yml --check -e gate_ignored=node01 -e gate_hidden=node02
workspace gate "$PIOPIY_PLAN_DIR" incomplete true node01=failed node02=ok
PIOPIY_DRIFT_EXIT=false expect_status 0 ansible-playbook -i inventory.yml gate.yml --check -e gate_ignored=localhost
unset ANSIBLE_HOST_PATTERN_MISMATCH
workspace no-writes

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
expect_output "piopiy.voice.plan: drift in "
# Without the confirmation of support_agent.yml itself, a removal is refused before any write, naming what would go.
expect_status 2 ansible-playbook -i "$inventory" piopiy.voice.support_agent --limit dev -e support_agent_state=absent
expect_output "environment dev is to be removed (state absent): agent dev-support-agent would be deleted"
workspace no-writes

echo "== the unmanaged report lists what no environment manages, and deletes nothing"
expect_status 0 ansible-playbook -i "$inventory" piopiy.voice.unmanaged --limit dev,sales-bot
expect_output "7 agent(s) and 3 route(s) that no environment of the inventory manages (nothing was deleted)"
expect_output "route +19499800004 -> Billing"
expect_output "agent {{ 6 * 7 }}"
workspace no-writes

echo "== the per-run cap: the drift above is 2 route changes in 2 environments; over the cap nothing is written"
audit_lines=$(audit_count)
workspace clear-log
expect_status 2 ansible-playbook -i "$inventory" piopiy.voice.support_agent -e support_agent_max_route_changes_per_run=1
expect_output "the run would make 2 route change(s) in 2 environment(s), more than support_agent_max_route_changes_per_run=1:"
expect_output "cafe-deja-vu 1 (map +19499800005); sales-bot 1 (map +19499800003). Nothing was changed in any environment"
expect_recap_changed ''  # the plan of every workspace first is a prediction, not a change
workspace no-writes
test "$(audit_count)" -eq "$audit_lines"  # the plan first runs in check mode: nothing in the audit trail
# A dry run says the same: it checks what every workspace planned against the cap.
expect_status 2 ansible-playbook -i "$inventory" piopiy.voice.support_agent -e support_agent_max_route_changes_per_run=1 --check
expect_output "cafe-deja-vu 1 (map +19499800005); sales-bot 1 (map +19499800003). Nothing was changed in any environment"
expect_recap_changed 'agent-6-7=1'  # a dry run says what would change, under the host that ran the workspace's task
workspace no-writes

echo "== at the cap the run applies, and its report holds what it did, not the plan made first too"
expect_status 0 ansible-playbook -i "$inventory" piopiy.voice.support_agent -e support_agent_max_route_changes_per_run=2
expect_recap_changed 'agent-6-7=1'  # what the run changed, as uncapped: the plan made first adds nothing
workspace plan "$PIOPIY_PLAN_DIR" applied \
    '*,create,-,-,Café Déjà-Vu!' '*,map,+19499800005,agent_id,Café Déjà-Vu!' \
    '*,map,+19499800003,agent_id|dev-support-agent,agent_id|Sales Bot'
expect_status 0 ansible-playbook -i "$inventory" piopiy.voice.support_agent --check
expect_output "changed=0"

echo "== the cap unset costs no read; set, one more read of each workspace"
workspace clear-log
expect_status 0 ansible-playbook -i "$inventory" piopiy.voice.support_agent
expect_output "changed=0"
reads_unset=$(workspace requests GET)
workspace clear-log
expect_status 0 ansible-playbook -i "$inventory" piopiy.voice.support_agent -e support_agent_max_route_changes_per_run=0
reads_set=$(workspace requests GET)
workspace no-writes
if [ "$reads_unset" -eq 0 ] || [ "$reads_set" -ne $((2 * reads_unset)) ]; then
    echo "expected the plan made first to double the reads of a converged run ($reads_unset without it), got $reads_set" >&2
    exit 1
fi
if grep -q '"check_mode": true' "$PIOPIY_AUDIT_LOG"; then
    echo "a task in check mode was recorded in the audit trail" >&2
    exit 1
fi
echo "all export and drift checks passed"
