#!/usr/bin/env bash
# Runs a command beside a local Piopiy API emulator.
# Starts the emulator on a free loopback port, exports PIOPIY_EMULATOR_URL and
# PIOPIY_API_BASE, runs "$@", and stops the emulator on any exit, Ctrl-C included.
# Environment: PYTHON (interpreter), PIOPIY_EMULATOR_SEED (seed file),
# PIOPIY_EMULATOR_STATE (directory for the SQLite state; temporary by default),
# PIOPIY_EMULATOR_PROFILE (extended, the default, or published: the emulator answers only Piopiy's published calls).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
python=${PYTHON:-python3}
seed=${PIOPIY_EMULATOR_SEED:-$root/tests/emulator/seeds/default.yml}
state_dir=${PIOPIY_EMULATOR_STATE:-}
scratch=$(mktemp -d)
: >"$scratch/address"  # exists before the emulator writes it, so that the wait below never reads a missing file
[ -n "$state_dir" ] || state_dir=$scratch
mkdir -p "$state_dir"

# The file exists before the emulator starts: the background job opens its redirection only once it is
# scheduled, and under load the loop below could otherwise read a file that is not there yet.
: >"$scratch/address"
"$python" "$root/tests/emulator/piopiy_emulator.py" --host 127.0.0.1 --port 0 \
    --db "$state_dir/state.sqlite" --seed "$seed" --api-profile "${PIOPIY_EMULATOR_PROFILE:-extended}" --reset >"$scratch/address" &
emulator_pid=$!

stop_emulator() {
    kill -TERM "$emulator_pid" 2>/dev/null || true
    wait "$emulator_pid" 2>/dev/null || true
    rm -rf "$scratch"
}
trap stop_emulator EXIT
trap 'exit 130' INT TERM

url=
for _ in $(seq 1 100); do
    url=$(sed -n 's/^PIOPIY_EMULATOR_URL=//p' "$scratch/address")
    [ -n "$url" ] && break
    kill -0 "$emulator_pid" 2>/dev/null || { echo "the emulator did not start" >&2; exit 1; }
    sleep 0.1
done
[ -n "$url" ] || { echo "the emulator did not print its address within 10 s" >&2; exit 1; }

export PIOPIY_EMULATOR_URL=$url
export PIOPIY_API_BASE=$url/v1
"$@"
