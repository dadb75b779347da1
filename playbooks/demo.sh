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

# ansible.cfg here enables the piopiy.voice.audit callback; the demo keeps its trail in the scratch directory.
export PIOPIY_AUDIT_LOG="$work/piopiy-audit.jsonl"

# Every environment of the demo lives in the emulator's one workspace.
export PIOPIY_DEV_API_KEY=pk_test_acme_0001 PIOPIY_STAGING_API_KEY=pk_test_acme_0001 PIOPIY_PROD_API_KEY=pk_test_acme_0001
export ANSIBLE_DISPLAY_SKIPPED_HOSTS=false ANSIBLE_DISPLAY_OK_HOSTS=${ANSIBLE_DISPLAY_OK_HOSTS:-true}

heading() { printf '\n\033[1m==== %s ====\033[0m\n' "$*"; }
play() { ansible-playbook -i "$work/inventory" "$@"; }

heading "1. Dry run of dev and prod on an empty workspace (--check --diff): nothing is written"
play support_agent.yml --limit dev,prod --check --diff

heading "2. Apply every environment"
play support_agent.yml

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
play teardown.yml --limit dev -e confirm=yes
play list_agents.yml --limit staging

heading "7. Rotate staging's credentials into an env file: dry run, then apply (every number keeps ringing an agent)"
rotate=(-e support_agent_rotate=now -e "support_agent_token_file=$work/staging.env" -e support_agent_token_file_format=env)
play support_agent.yml --limit staging --check "${rotate[@]}"
play support_agent.yml --limit staging "${rotate[@]}"
sed -E 's/=agt_[A-Za-z0-9_]+/=agt_... (hidden here, mode 0600 on disk)/' "$work/staging.env"
play list_agents.yml --limit staging

heading "8. The audit trail of this demo (piopiy.voice.audit, one JSON line per operation)"
python - "$PIOPIY_AUDIT_LOG" <<'PY'
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
