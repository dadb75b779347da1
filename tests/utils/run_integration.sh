#!/usr/bin/env bash
# Runs `ansible-test integration` in the staged collection against a running emulator.
# Called by `make integration` through with_emulator.sh, which exports PIOPIY_EMULATOR_URL.
# Arguments: the staged collection directory, then any extra ansible-test options.
set -euo pipefail

stage=$1
shift
cat >"$stage/tests/integration/integration_config.yml" <<YAML
---
piopiy_emulator_url: ${PIOPIY_EMULATOR_URL}
piopiy_api_base: ${PIOPIY_EMULATOR_URL}/v1
piopiy_api_key: pk_test_acme_0001
piopiy_other_api_key: pk_test_other_0001
piopiy_readonly_api_key: pk_test_acme_readonly
YAML
cd "$stage"
ansible-test integration --venv --python "${TEST_PYTHON:-3.11}" --color no "$@"
