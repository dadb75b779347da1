#!/usr/bin/env bash
# Real ansible-playbook runs against the emulator with the piopiy.voice.audit callback enabled;
# check_audit.py then checks what they appended, line by line.
# ansible-test runs this from the target's directory in a temporary copy of tests/integration,
# with the integration config two levels up.
set -euo pipefail

config="$(cd ../.. && pwd)/integration_config.yml"
python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
source ../setup_piopiy/files/together.sh

# ansible-test enables its junit callback through this variable; keep it and add ours.
export ANSIBLE_CALLBACKS_ENABLED="${ANSIBLE_CALLBACKS_ENABLED:+$ANSIBLE_CALLBACKS_ENABLED,}piopiy.voice.audit"
# A common umask, so that mode 0600 is the plugin's doing, not the umask's.
umask 022

playbook() {
    ansible-playbook -i inventory.yml -e "@$config" "$@"
}

check() {
    "$python" check_audit.py "$config" "$@"
}

check reset

echo "== create, update, delete, map and unmap: a --check run records nothing, a real run what it did"
export PIOPIY_AUDIT_LOG="$scratch/lifecycle.jsonl"
playbook lifecycle.yml --check "$@"
if [ -e "$PIOPIY_AUDIT_LOG" ]; then
    cat "$PIOPIY_AUDIT_LOG"
    echo "a --check run wrote to the audit trail" >&2
    exit 1
fi
playbook lifecycle.yml "$@"
check lifecycle "$PIOPIY_AUDIT_LOG"

echo "== record_check_mode (environment, then ansible.cfg): the planned operations too, marked check_mode"
export PIOPIY_AUDIT_LOG="$scratch/planned.jsonl"
PIOPIY_AUDIT_RECORD_CHECK_MODE=true playbook lifecycle.yml --check "$@"
mkdir "$scratch/planned"
printf '[callback_piopiy_audit]\nrecord_check_mode = true\n' >"$scratch/planned/ansible.cfg"
ANSIBLE_CONFIG="$scratch/planned/ansible.cfg" playbook lifecycle.yml "$@"
check planned "$PIOPIY_AUDIT_LOG"

echo "== failures, loop items, no_log and short module names"
export PIOPIY_AUDIT_LOG="$scratch/failures.jsonl"
playbook failures.yml "$@"
check failures "$PIOPIY_AUDIT_LOG"

echo "== ten hosts, ten forks; the callback enabled and configured by ansible.cfg, the log path relative to it"
mkdir "$scratch/cfg"
cat >"$scratch/cfg/ansible.cfg" <<'CFG'
[defaults]
callbacks_enabled = piopiy.voice.audit

[callback_piopiy_audit]
audit_log = ./fleet.jsonl
CFG
env -u ANSIBLE_CALLBACKS_ENABLED -u PIOPIY_AUDIT_LOG ANSIBLE_CONFIG="$scratch/cfg/ansible.cfg" \
    ansible-playbook -i inventory.yml -e "@$config" fleet.yml --forks 10 -e fleet_tag=solo -e fleet_routes=true "$@"
check fleet "$scratch/cfg/fleet.jsonl"

echo "== two runs at once, ten forks each, into one file"
export PIOPIY_AUDIT_LOG="$scratch/concurrent.jsonl"
together "$scratch" playbook fleet.yml --forks 10 -e fleet_tag=a -e fleet_routes=false "$@" :: \
    playbook fleet.yml --forks 10 -e fleet_tag=b -e fleet_routes=false "$@"
check concurrent "$PIOPIY_AUDIT_LOG"

echo "== run ids: one per run, shared by its lines"
check distinct-runs 7 "$scratch/lifecycle.jsonl" "$scratch/planned.jsonl" "$scratch/failures.jsonl" "$scratch/cfg/fleet.jsonl" \
    "$scratch/concurrent.jsonl"

echo "== no API key and no agent token in any audit file"
# Tokens issued: 2 lifecycle (default and planned), 3 failures (one hidden by no_log), 10 fleet, 20 concurrent.
check secrets 35 "$scratch/lifecycle.jsonl" "$scratch/planned.jsonl" "$scratch/failures.jsonl" "$scratch/cfg/fleet.jsonl" \
    "$scratch/concurrent.jsonl"

echo "== syslog over UDP and the run's own output (as AWX keeps it) get every line the file gets"
# Not through check(): $! must be the listener itself for the trap to stop it.
"$python" check_audit.py "$config" syslog-server "$scratch/syslog.port" "$scratch/syslog.txt" &
syslog_pid=$!
trap 'kill "$syslog_pid" 2>/dev/null; rm -rf "$scratch"' EXIT
for _ in $(seq 1 100); do [ -s "$scratch/syslog.port" ] && break; sleep 0.1; done
PIOPIY_AUDIT_LOG="$scratch/sinks.jsonl" PIOPIY_AUDIT_SYSLOG=true PIOPIY_AUDIT_SYSLOG_FACILITY=local3 \
    PIOPIY_AUDIT_SYSLOG_ADDRESS="127.0.0.1:$(cat "$scratch/syslog.port")" PIOPIY_AUDIT_DISPLAY=true \
    playbook lifecycle.yml "$@" >"$scratch/sinks.out" 2>&1 || { cat "$scratch/sinks.out"; exit 1; }
sleep 0.5  # the last datagrams are on loopback; give the listener a moment to write them
check sinks "$scratch/sinks.jsonl" "$scratch/syslog.txt" "$scratch/sinks.out"

echo "== an audit log that cannot be written: one warning, and the play succeeds"
touch "$scratch/not-a-directory"
export PIOPIY_AUDIT_LOG="$scratch/not-a-directory/audit.jsonl"
output=$(playbook lifecycle.yml "$@" 2>&1) || { echo "$output"; echo "the play failed" >&2; exit 1; }
# Display wraps long warnings: join the lines before counting.
warnings=$(tr -s ' \n' '  ' <<<"$output" | grep -o 'piopiy.voice.audit cannot write the audit log' | wc -l)
if [ "$warnings" -ne 1 ]; then
    echo "$output"
    echo "expected one warning about the audit log, got $warnings" >&2
    exit 1
fi
echo "all audit checks passed"
