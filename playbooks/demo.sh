#!/usr/bin/env bash
# The `make demo` script: the whole life cycle of the support agents of three environments,
# against the emulator that tests/utils/with_emulator.sh started (it exports PIOPIY_API_BASE).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${PIOPIY_API_BASE:?run through tests/utils/with_emulator.sh, which starts the emulator}"

# The demo works on a copy of the inventory, so that moving a number edits no file of the tree.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$here/inventory" "$work/inventory"
cd "$here"

# ansible.cfg here enables the piopiy.voice.audit callback; the demo keeps its trail in the scratch directory,
# and Ansible its home (not ~/.ansible, which ansible-playbook creates at start): the demo writes nothing under the
# home directory. ANSIBLE_COLLECTIONS_PATH, set by `make demo`, keeps the collections found.
export PIOPIY_AUDIT_LOG="$work/piopiy-audit.jsonl" ANSIBLE_HOME="$work/ansible-home"

# Every environment of the demo lives in the emulator's one workspace.
export PIOPIY_DEV_API_KEY=pk_test_acme_0001 PIOPIY_STAGING_API_KEY=pk_test_acme_0001 PIOPIY_PROD_API_KEY=pk_test_acme_0001
export ANSIBLE_DISPLAY_SKIPPED_HOSTS=false ANSIBLE_DISPLAY_OK_HOSTS=${ANSIBLE_DISPLAY_OK_HOSTS:-true}

# Bold headings and Ansible's colours only on a terminal, and never with NO_COLOR set (https://no-color.org):
# piped into a file or a CI log, the output carries no escape sequences.
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
    bold=$'\033[1m' plain=$'\033[0m'
else
    bold='' plain=''
    export ANSIBLE_NOCOLOR=1
    unset ANSIBLE_FORCE_COLOR
fi
# The interpreter of the demo's small readers: the one `make demo` exports, else python3 (an EE has no `python`).
python=${PYTHON:-python3}
heading() { printf '\n%s==== %s ====%s\n' "$bold" "$*" "$plain"; }

# Ctrl-C stops the demo quietly, with status 130: the step that runs finishes or stops, then the demo exits.
trap 'exit 130' INT
# Runs a command that starts with Ctrl-C ignored. ansible-playbook sets its own handler once its plays start (a Ctrl-C
# then stops it with one line); a Ctrl-C during Python's imports, before that, would print a traceback.
calm() { (trap '' INT && exec "$@"); }
play() { calm ansible-playbook -i "$work/inventory" "$@"; }

heading "1. Dry run of dev and prod on an empty workspace (--check --diff): nothing is written"
play support_agent.yml --limit dev,prod --check --diff

heading "2. Apply every environment, keeping each new agent's token in an env file (mode 0600)"
play support_agent.yml -e "support_agent_token_file=$work/{{ inventory_hostname }}.env" -e support_agent_token_file_format=env

heading "3. Apply again: changed=0"
play support_agent.yml

heading "4. The agents and their numbers"
play list_agents.yml --limit dev

heading "5. Move +19499800002 from dev to staging: dry run, then apply"
sed -i '/+19499800002/d' "$work/inventory/host_vars/dev.yml"
printf '  - "+19499800002"\n' >>"$work/inventory/host_vars/staging.yml"
play support_agent.yml --limit dev,staging --check --diff
play support_agent.yml --limit dev,staging
play list_agents.yml --limit dev

heading "6. Tear down dev"
play teardown.yml --limit dev -e confirm=dev
play list_agents.yml --limit staging

heading "7. Rotate staging's credentials into an env file: dry run, then apply (every number keeps ringing an agent)"
rotate=(-e support_agent_rotate=now -e "support_agent_token_file=$work/staging.env" -e support_agent_token_file_format=env)
play support_agent.yml --limit staging --check "${rotate[@]}"
play support_agent.yml --limit staging "${rotate[@]}"
sed -E 's/=agt_[A-Za-z0-9_]+/=agt_... (hidden here, mode 0600 on disk)/' "$work/staging.env"
play list_agents.yml --limit staging

heading "8. The whole inventory again, dry run: dev would come back (one plan per workspace, every environment checked first)"
play support_agent.yml --check --diff

heading "9. The audit trail of this demo (piopiy.voice.audit, one JSON line per operation)"
calm "$python" - "$PIOPIY_AUDIT_LOG" <<'PY'
import collections, json, sys
lines = [json.loads(line) for line in open(sys.argv[1], encoding='utf-8')]
for line in lines:
    if line['operation'] != 'none':
        what = line['phone_number'] or line['agent_name'] or line['agent_id']
        mode = 'check' if line['check_mode'] else 'apply'
        rotation = line.get('rotation_id') or ''
        print('%s  %-8s %-7s %-6s %-24s %s %s' % (line['time'], line['host'], line['operation'], line['resource'], what, mode, rotation))
counts = collections.Counter((line['operation'], line['check_mode']) for line in lines)
print('%d lines, %d runs; %s' % (len(lines), len({line['run_id'] for line in lines}),
      ', '.join('%s%s: %d' % (op, ' (check)' if check else '', n) for (op, check), n in sorted(counts.items()))))
PY

# Adopting a workspace, the drift gate and the guard rails (issue 12). The export reads the workspace with PIOPIY_API_KEY.
export PIOPIY_API_KEY=pk_test_acme_0001

heading "10. Export the workspace to a new inventory, then check it: changed=0"
calm ansible-playbook export.yml -e "export_dir=$work/exported"
cat "$work/exported/hosts.yml" "$work/exported/host_vars/prod.yml"
head -n 12 "$work/exported/export-report.txt"
calm ansible-playbook -i "$work/exported" support_agent.yml --check

heading "11. Someone re-routes +19499800004 to staging in the dashboard: the drift gate exits 16 with a plan"
calm "$python" - "$PIOPIY_API_BASE" "$PIOPIY_API_KEY" <<'PY'
import json, sys, urllib.request
base, key = sys.argv[1], sys.argv[2]
def call(method, path, body=None):
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body else None,
                                     headers={'Authorization': 'Bearer ' + key, 'Content-Type': 'application/json'})
    return json.load(urllib.request.urlopen(request))
staging, = [agent for agent in call('GET', '/ai-agents')['data'] if agent['name'] == 'staging-support-agent']
call('POST', '/phone-number-routing', {'phone_number': '+19499800004', 'route_type': 'ai_agent', 'agent_id': staging['id']})
PY
status=0
ANSIBLE_CALLBACKS_ENABLED=piopiy.voice.audit,piopiy.voice.plan PIOPIY_PLAN_DIR="$work/plan" \
    calm ansible-playbook -i "$work/exported" support_agent.yml --check || status=$?
echo "exit status: $status (16: drift)"
[ "$status" -eq 16 ] || exit 1
cat "$work/plan/plan.md"

heading "12. Guard rails: a run over its cap on route changes, a misspelt variable and a teardown of two environments stop before any write"
status=0
play support_agent.yml -e support_agent_max_route_changes_per_run=1 || status=$?
echo "exit status: $status (the pre-flight refused the run before any environment was written)"
[ "$status" -ne 0 ] || exit 1
status=0
play support_agent.yml --limit staging -e '{"support_agent_phone_number": []}' || status=$?
echo "exit status: $status (the run was refused)"
[ "$status" -ne 0 ] || exit 1
status=0
play teardown.yml --limit staging,prod -e confirm=yes || status=$?
echo "exit status: $status (the teardown was refused)"
[ "$status" -ne 0 ] || exit 1
