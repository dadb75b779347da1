#!/usr/bin/env bash
# The `make demo` script: runs the collection's playbooks against the emulator that
# tests/utils/with_emulator.sh started (it exports PIOPIY_API_BASE).
set -euo pipefail
cd "$(dirname "$0")"

export PIOPIY_API_KEY=${PIOPIY_API_KEY:-pk_test_acme_0001}
: "${PIOPIY_API_BASE:?run through tests/utils/with_emulator.sh, which starts the emulator}"

heading() { printf '\n==== %s ====\n' "$*"; }

heading "Smoke test against the emulator at $PIOPIY_API_BASE"
ansible-playbook smoke.yml
heading "Again: nothing changes"
ansible-playbook smoke.yml
