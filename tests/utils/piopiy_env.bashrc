# shellcheck shell=bash
# Start-up file of the interactive shell of tests/utils/piopiy_env.sh (`make shell`).
# shellcheck disable=SC1090,SC1091
[ -f ~/.bashrc ] && . ~/.bashrc
PS1="(piopiy emulator) ${PS1:-\$ }"
cat <<BANNER
piopiy.voice: a shell for trying the collection against the local emulator.
  tools            $(dirname "$(command -v ansible-playbook)")
  collection       piopiy.voice from $(pwd), on ANSIBLE_COLLECTIONS_PATH=$ANSIBLE_COLLECTIONS_PATH
  ansible.cfg      $ANSIBLE_CONFIG (audit trail: $PIOPIY_AUDIT_LOG)
  PIOPIY_API_BASE  $PIOPIY_API_BASE
  PIOPIY_API_KEY and PIOPIY_{DEV,STAGING,PROD}_API_KEY hold the emulator's test key of workspace ws_acme.
Try: ansible-playbook -i playbooks/inventory playbooks/support_agent.yml --limit prod --check --diff
Exit the shell to stop the emulator; its agents and routes are gone with it.
BANNER
