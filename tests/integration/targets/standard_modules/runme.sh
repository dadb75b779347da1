#!/usr/bin/env bash
# Every module is an ordinary Ansible module (issue 21): an inline-vaulted api_key, a deprecated alias,
# ansible_python_interpreter and the module_defaults group behave as with any module, on every core of the matrix.
# ansible-test runs this from the target's directory, with the integration config two levels up.
set -euo pipefail

config="$(cd ../.. && pwd)/integration_config.yml"
python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

"$python" ../setup_piopiy/files/emulator_admin.py "$config" reset

# The API key, vaulted inline as users keep it in group_vars.
printf 'a-vault-password\n' >"$scratch/vault-password"
key=$("$python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["piopiy_api_key"])' "$config")
{
    echo '---'
    ansible-vault encrypt_string --vault-password-file "$scratch/vault-password" --name vaulted_api_key "$key"
} >"$scratch/vaulted.yml"

# An interpreter that notes every module it runs, then runs it with the test's Python.
cat >"$scratch/python" <<SCRIPT
#!/bin/sh
echo "\$@" >>"$scratch/interpreter-runs"
exec "$python" "\$@"
SCRIPT
chmod +x "$scratch/python"

ansible-playbook -i inventory.yml -e "@$config" -e "@$scratch/vaulted.yml" -e "noting_python=$scratch/python" \
    --vault-password-file "$scratch/vault-password" standard.yml "$@"

# Each of the play's piopiy.voice modules was run by the inventory's interpreter, as an AnsiballZ module.
for module in piopiy_agent_info piopiy_agent piopiy_number_route_info; do
    grep -q "AnsiballZ_${module}.py" "$scratch/interpreter-runs" || {
        echo "$module was not run by ansible_python_interpreter:" >&2
        cat "$scratch/interpreter-runs" >&2
        exit 1
    }
done
