#!/usr/bin/env bash
# Runs the role and every module at -vvvv with the audit callback on, then greps every byte
# of the output and of the audit log for the API keys and every token the emulator issued.
# ansible-test runs this from the target's directory, with the integration config two levels up.
set -euo pipefail

config="$(cd ../.. && pwd)/integration_config.yml"
python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

export ANSIBLE_CALLBACKS_ENABLED="${ANSIBLE_CALLBACKS_ENABLED:+$ANSIBLE_CALLBACKS_ENABLED,}piopiy.voice.audit"
export PIOPIY_AUDIT_LOG="$scratch/audit.jsonl"
# ansible-core 2.21 leaves the module arguments (`invocation`) out of results unless asked; ask, so that the
# arguments are displayed (masked) on every core and their masking is what this target checks.
export ANSIBLE_INJECT_INVOCATION=true

"$python" ../setup_piopiy/files/emulator_admin.py "$config" reset

status=0
ansible-playbook -i inventory.yml -e "@$config" -e @hostile_keys.yml secrets.yml -vvvv "$@" >"$scratch/output.txt" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
    tail -n 80 "$scratch/output.txt"
    echo "the playbook failed (exit $status)" >&2
    exit 1
fi
"$python" check_secrets.py "$config" "$scratch/output.txt" "$PIOPIY_AUDIT_LOG"
# And the run was the one intended: verbose output with masked arguments, and echoed credentials redacted.
grep -q 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER' "$scratch/output.txt" || { echo "expected -vvvv output with masked arguments" >&2; exit 1; }
grep -q 'Bearer \*\*\*\*\*\*\*\*' "$scratch/output.txt" || { echo "expected an echoed, redacted Authorization header" >&2; exit 1; }
