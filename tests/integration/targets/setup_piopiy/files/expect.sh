# shellcheck shell=bash
# Sourced by runme.sh scripts (their target names needs/target/setup_piopiy in its aliases), which set scratch first:
#     source ../setup_piopiy/files/expect.sh
# expect_status runs a command expecting an exit status, keeping its output in $scratch/out; expect_output then checks
# that output holds a text.

# Runs a command, expecting exit status $1; the output is kept in $scratch/out.
expect_status() {
    local wanted=$1 status=0
    shift
    "$@" >"${scratch:?}/out" 2>&1 || status=$?
    if [ "$status" -ne "$wanted" ]; then
        cat "${scratch:?}/out"
        echo "expected exit status $wanted, got $status: $*" >&2
        exit 1
    fi
}

# The output of the last command holds this text (Display wraps long lines: join them first).
expect_output() {
    if ! tr -s ' \n' '  ' <"${scratch:?}/out" | grep -qF -- "$1"; then
        cat "${scratch:?}/out"
        echo "the output does not say: $1" >&2
        exit 1
    fi
}
