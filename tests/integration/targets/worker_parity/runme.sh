#!/usr/bin/env bash
# Every module in the controller's worker (local connection) against the same module run as a module (AnsiballZ, a new
# Python: with async, or on the not_local connection): worker.yml checks they plan, apply, read and fail alike; -vvv
# output tells which tasks ran the module. ansible-test runs this from the target's directory, with the integration
# config two levels up.
set -euo pipefail

config="$(cd ../.. && pwd)/integration_config.yml"
python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

playbook() {
    ansible-playbook -i inventory.yml -e "@$config" -e "worker_scratch=$scratch" "$@"
}

admin() {
    "$python" ../setup_piopiy/files/emulator_admin.py "$config" "$@"
}

admin reset

echo "== each module in the worker and as a module: alike"
playbook worker.yml -vvv >"$scratch/worker.out" 2>&1 || { cat "$scratch/worker.out"; exit 1; }
for module in piopiy_fleet piopiy_agent piopiy_number_route piopiy_agent_info piopiy_number_route_info; do
    grep -q "AnsiballZ_$module.py" "$scratch/worker.out" || { echo "no task ran the $module module itself" >&2; exit 1; }
done

echo "== on a local connection no module is packed nor started: every task runs in the worker"
admin clear-log
playbook local_only.yml -vvv >"$scratch/local.out" 2>&1 || { cat "$scratch/local.out"; exit 1; }
if grep -q "AnsiballZ_piopiy_" "$scratch/local.out"; then
    grep "AnsiballZ_piopiy_" "$scratch/local.out" >&2
    echo "a piopiy.voice task on a local connection ran its module instead of the worker" >&2
    exit 1
fi
admin no-writes
echo "all worker checks passed"
