# shellcheck shell=bash disable=SC2154
# (SC2154: $scratch is set by the runme.sh that sources this file.)
# Sourced by runme.sh scripts (their target names needs/target/setup_piopiy in its aliases), which set $scratch,
# a scratch directory:
#     source ../setup_piopiy/files/expect.sh

# expect_status STATUS COMMAND...: runs the command, expecting that exit status; its output is kept in $scratch/out.
expect_status() {
    local wanted=$1 status=0
    shift
    "$@" >"$scratch/out" 2>&1 || status=$?
    if [ "$status" -ne "$wanted" ]; then
        cat "$scratch/out"
        echo "expected exit status $wanted, got $status: $*" >&2
        exit 1
    fi
}

# expect_output TEXT: the output of the last command holds this text (Display wraps long lines: join them first).
expect_output() {
    if ! tr -s ' \n' '  ' <"$scratch/out" | grep -qF -- "$1"; then
        cat "$scratch/out"
        echo "the output does not say: $1" >&2
        exit 1
    fi
}

# expect_no_output TEXT: the output of the last command does not hold this text.
expect_no_output() {
    if tr -s ' \n' '  ' <"$scratch/out" | grep -qF -- "$1"; then
        cat "$scratch/out"
        echo "the output says: $1" >&2
        exit 1
    fi
}
