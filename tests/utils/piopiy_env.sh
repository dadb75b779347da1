#!/usr/bin/env bash
# The environment the docs' commands run in (`make shell`), for trying things by hand and for the
# test that runs every command block of the docs (tests/docs):
#   - the tools of .venv on the PATH,
#   - this tree as the collection piopiy.voice (build/collections, on ANSIBLE_COLLECTIONS_PATH),
#   - Ansible without colours when the output is not a terminal,
#   - playbooks/ansible.cfg as the Ansible configuration (the audit callback; the trail goes to
#     build/piopiy-audit.jsonl, emptied at every start),
#   - a local emulator on a free loopback port, PIOPIY_API_BASE pointing at it, and the emulator's
#     test key of workspace ws_acme in PIOPIY_API_KEY and PIOPIY_{DEV,STAGING,PROD}_API_KEY.
# The emulator starts from its seed, with no agent and no route, and stops when the shell or the command ends.
#
# Usage: tests/utils/piopiy_env.sh                  an interactive shell in the top directory of the tree
#        tests/utils/piopiy_env.sh CMD [ARG...]      runs CMD there and exits with its status
# Environment: PIOPIY_VENV (default: .venv of this tree).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
venv=${PIOPIY_VENV:-$root/.venv}
if [ ! -x "$venv/bin/ansible-playbook" ]; then
    echo "no ansible-playbook in $venv: run \`make venv\` (or \`make demo\`) first" >&2
    exit 1
fi

collections=$root/build/collections
mkdir -p "$collections/ansible_collections/piopiy"
# Replaced only when it points elsewhere: tests run side by side, and ln -sfn removes the link before it makes it again.
[ "$(readlink "$collections/ansible_collections/piopiy/voice")" = "$root" ] || ln -sfn "$root" "$collections/ansible_collections/piopiy/voice"
rm -f "$root/build/piopiy-audit.jsonl"

export PATH=$venv/bin:$PATH
export PYTHON=$venv/bin/python
export ANSIBLE_COLLECTIONS_PATH=$collections
export ANSIBLE_CONFIG=$root/playbooks/ansible.cfg
export PIOPIY_AUDIT_LOG=$root/build/piopiy-audit.jsonl
# ansible-doc writes bold escape codes even into a pipe: when the output is not a terminal, or NO_COLOR is
# set, Ansible's colours are off, so that a log or a file gets plain text.
if [ ! -t 1 ] || [ -n "${NO_COLOR:-}" ]; then
    export ANSIBLE_NOCOLOR=1
fi
# The emulator's full-access test key; every environment shares its one workspace.
test_key=pk_test_acme_0001
export PIOPIY_API_KEY=$test_key PIOPIY_DEV_API_KEY=$test_key PIOPIY_STAGING_API_KEY=$test_key PIOPIY_PROD_API_KEY=$test_key

cd "$root"
if [ $# -eq 0 ]; then
    set -- bash --rcfile "$root/tests/utils/piopiy_env.bashrc" -i
fi
exec "$root/tests/utils/with_emulator.sh" "$@"
