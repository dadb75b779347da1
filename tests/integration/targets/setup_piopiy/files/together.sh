# shellcheck shell=bash
# Sourced by runme.sh scripts (their target names needs/target/setup_piopiy in its aliases):
#     source ../setup_piopiy/files/together.sh

# together DIR COMMAND... [:: COMMAND...]...
# Starts the commands, separated by `::`, at once in the background (a command may be a shell function, such as
# runme.sh's playbook), and waits for every one. Each command's output goes to a file in a new directory under DIR.
# When every command succeeded, the outputs are removed; otherwise every command's output is shown with its exit
# status, and together returns 1 (which ends a runme.sh under `set -e`).
together() {
    local out command=() pids=() commands=() codes=() index code status=0
    out=$(mktemp -d "$1/together.XXXXXX")
    shift
    while [ "$#" -gt 0 ]; do
        if [ "$1" != "::" ]; then
            command+=("$1")
        fi
        if [ "$1" = "::" ] || [ "$#" -eq 1 ]; then
            if [ "${#command[@]}" -gt 0 ]; then
                "${command[@]}" >"$out/${#pids[@]}.out" 2>&1 &
                pids+=("$!")
                commands+=("${command[*]}")
                command=()
            fi
        fi
        shift
    done
    for index in "${!pids[@]}"; do
        code=0
        wait "${pids[$index]}" || code=$?
        codes+=("$code")
        if [ "$code" -ne 0 ]; then
            status=1
        fi
    done
    if [ "$status" -eq 0 ]; then
        rm -rf "$out"
        return 0
    fi
    for index in "${!pids[@]}"; do
        echo "== together: exit status ${codes[$index]} from: ${commands[$index]}"
        cat "$out/$index.out"
    done
    echo "together: a command started together with others failed" >&2
    return 1
}
