#!/usr/bin/env bash
# `make integration`: every integration target of the staged collection, against the emulator, in INTEGRATION_JOBS
# shards side by side (default: the number of CPUs). A target is one ansible-playbook process at a time, which keeps
# one core busy; two shards keep both cores of the build machine busy and take about half the time.
# Each shard is a copy of the stage with its own emulator, so that no two ansible-test runs share a file. The targets
# go to the shards by the seconds they took on 2026-12-04 (SECONDS_TAKEN; a target not listed counts as 60), the
# longest first, each to the shard with the fewest seconds. Every target runs, listed or not; its shard's output is
# printed once the shard ends, and the run fails when any shard failed.
# Arguments: the staged collection directory, then target names (given: one run of those, as ansible-test does).
set -euo pipefail

stage=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -gt 0 ]; then
    exec "$here/with_emulator.sh" "$here/run_integration.sh" "$stage" "$@"
fi

declare -A SECONDS_TAKEN=(
    [export_drift]=210 [piopiy_agent]=175 [callback_audit]=150 [piopiy_fleet]=115 [role_support_agent]=110
    [piopiy_rotation]=100 [piopiy_number_route]=85 [published_api]=60 [piopiy_agent_race]=50 [secrets_never_leak]=45
    [piopiy_phone_number]=45 [standard_modules]=25 [piopiy_agent_info]=18 [piopiy_available_number_info]=17
    [piopiy_number_route_info]=16
)
jobs=${INTEGRATION_JOBS:-$(nproc)}

# The targets ansible-test runs (setup_ targets run only as another target's dependency), longest first.
targets=$(for dir in "$stage"/tests/integration/targets/*/; do
    name=$(basename "$dir")
    case $name in setup_*) continue ;; esac
    echo "${SECONDS_TAKEN[$name]:-60} $name"
done | sort -k1,1nr -k2 | awk '{print $2}')

declare -a shard_targets shard_seconds
for ((i = 0; i < jobs; i++)); do shard_targets[i]=''; shard_seconds[i]=0; done
for name in $targets; do
    emptiest=0
    for ((i = 1; i < jobs; i++)); do
        if [ "${shard_seconds[i]}" -lt "${shard_seconds[emptiest]}" ]; then emptiest=$i; fi
    done
    shard_targets[emptiest]+=" $name"
    shard_seconds[emptiest]=$((shard_seconds[emptiest] + ${SECONDS_TAKEN[$name]:-60}))
done

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
root=${stage%/ansible_collections/piopiy/voice}
declare -a pids
for ((i = 0; i < jobs; i++)); do
    [ -n "${shard_targets[i]}" ] || continue
    copy=$stage
    if [ "$i" -gt 0 ]; then
        copy=$root-shard$i/ansible_collections/piopiy/voice
        rm -rf "$copy"
        mkdir -p "$copy"
        cp -a "$stage/." "$copy/"
    fi
    echo "integration shard $((i + 1)) of $jobs (about ${shard_seconds[i]} s):${shard_targets[i]}"
    # shellcheck disable=SC2086 # the target names are words
    "$here/with_emulator.sh" "$here/run_integration.sh" "$copy" ${shard_targets[i]} >"$logs/$i.log" 2>&1 &
    pids[i]=$!
done

failed=''
for i in "${!pids[@]}"; do
    status=0
    wait "${pids[i]}" || status=$?
    echo "==== integration shard $((i + 1)):${shard_targets[i]} (exit status $status)"
    cat "$logs/$i.log"
    [ "$status" -eq 0 ] || failed+=" $((i + 1))"
done
if [ -n "$failed" ]; then
    echo "integration shard(s)$failed failed: see their output above" >&2
    exit 1
fi
