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
